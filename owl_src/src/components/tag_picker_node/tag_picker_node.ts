import { Component } from "@odoo/owl";
import { _t } from "../../shared/web.ts";
import { type NodeInfo, valueText } from "../tag_picker/probe_client.ts";

/** A node of the picker's tree: what the server said of it, and what the browser has loaded under it. */
export interface PickerNode {
  info: NodeInfo;
  expanded: boolean;
  loading: boolean;
  /** Loaded children (undefined until first expanded). */
  children?: PickerNode[];
  truncated?: boolean;
  error?: string;
}

export interface TagPickerNodeProps {
  node: PickerNode;
  depth: number;
  selectedId: string;
  onToggle: (node: PickerNode) => void;
  onSelect: (node: PickerNode) => void;
}

/** One row of the tag picker's tree, and its children below it when expanded. */
export class TagPickerNode extends Component<TagPickerNodeProps> {
  static override template = "shopfloor_bridge.TagPickerNode";
  static override props = {
    node: Object,
    depth: Number,
    selectedId: String,
    onToggle: Function,
    onSelect: Function,
  };
  static components: Record<string, unknown> = {};

  get info(): NodeInfo {
    return this.props.node.info;
  }
  get isVariable(): boolean {
    return this.info.node_class === "Variable";
  }
  get selected(): boolean {
    return this.props.selectedId === this.info.node_id;
  }
  get valueShown(): string {
    return valueText(this.info.value);
  }
  get statusBad(): boolean {
    return Boolean(this.info.status) && this.info.status !== "Good";
  }
  get toggleLabel(): string {
    return this.props.node.expanded
      ? _t("Collapse %s", this.info.display_name)
      : _t("Expand %s", this.info.display_name);
  }
  get indent(): string {
    return `padding-left: ${this.props.depth * 1.25}rem`;
  }

  onRowClick(): void {
    if (this.isVariable) this.props.onSelect(this.props.node);
    else if (this.info.expandable) this.props.onToggle(this.props.node);
  }
}
TagPickerNode.components = { TagPickerNode };
