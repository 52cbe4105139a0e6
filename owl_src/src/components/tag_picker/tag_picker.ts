import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { displayValue } from "../../shared/format.ts";
import { _t, Dialog, useService } from "../../shared/web.ts";
import { type PickerNode, TagPickerNode } from "../tag_picker_node/tag_picker_node.ts";
import { askProbe, type BrowseAnswer, type NodeInfo, valueText } from "./probe_client.ts";

export interface TagPickerProps {
  connectionId: number;
  connectionName: string;
  /** The rule's address now: shown as the starting selection. */
  current: string;
  /** Fills the rule's address; `save` also saves the rule. */
  onPick: (info: NodeInfo, save: boolean) => Promise<void>;
  close: () => void;
}

interface PickerState {
  root: PickerNode | null;
  rootError: string;
  loading: boolean;
  selected: PickerNode | null;
  picking: boolean;
  pickError: string;
}

/**
 * The OPC UA tag picker: the server's address space through the connection's
 * sidecar, one level per click (nothing is loaded before it is opened), each
 * variable with its live value and data type. Picking fills the rule's
 * address; "Use and save" also saves the rule (creating it when it is new).
 */
export class TagPicker extends Component<TagPickerProps> {
  static override template = "shopfloor_bridge.TagPicker";
  static components = { Dialog, TagPickerNode };
  static override props = {
    connectionId: Number,
    connectionName: String,
    current: String,
    onPick: Function,
    close: Function,
  };

  declare state: PickerState;
  declare orm: OdooOrmService;
  gone = false;

  override setup(): void {
    this.orm = useService("orm");
    this.state = useState({ root: null, rootError: "", loading: true, selected: null, picking: false, pickError: "" });
    onWillStart(() => {
      void this.loadRoot();
    });
    onWillUnmount(() => {
      this.gone = true;
    });
  }

  get title(): string {
    return _t("Browse %s", this.props.connectionName);
  }
  get selectedInfo(): NodeInfo | null {
    return this.state.selected?.info ?? null;
  }
  /** A data type or status the server did not name: "—". */
  value(v: unknown): string {
    return displayValue(v);
  }
  get selectedValue(): string {
    return valueText(this.selectedInfo?.value);
  }
  get toggle(): (node: PickerNode) => void {
    return (node) => void this.toggleNode(node);
  }
  get select(): (node: PickerNode) => void {
    return (node) => this.selectNode(node);
  }

  async browse(target: string): Promise<{ ok: true; answer: BrowseAnswer } | { ok: false; error: string }> {
    const outcome = await askProbe<BrowseAnswer>(this.orm, this.props.connectionId, "browse", target, {
      isCancelled: () => this.gone,
    });
    return outcome.ok ? { ok: true, answer: outcome.result } : { ok: false, error: outcome.error };
  }

  async loadRoot(): Promise<void> {
    this.state.loading = true;
    this.state.rootError = "";
    const outcome = await this.browse("");
    if (this.gone) return;
    this.state.loading = false;
    if (!outcome.ok) {
      this.state.rootError = outcome.error;
      return;
    }
    this.state.root = {
      info: outcome.answer.node,
      expanded: true,
      loading: false,
      children: outcome.answer.children.map(asNode),
      truncated: outcome.answer.truncated,
    };
  }

  /** Opens a node (loading its children the first time, again after an error) or closes it. */
  async toggleNode(node: PickerNode): Promise<void> {
    // Rows are nested components over one tree: a deep render shows every change of it.
    const show = () => this.render(true);
    if (node.expanded) {
      node.expanded = false;
      show();
      return;
    }
    node.expanded = true;
    if (node.children && !node.error) {
      show();
      return;
    }
    node.loading = true;
    node.error = "";
    show();
    const outcome = await this.browse(node.info.node_id);
    if (this.gone) return;
    node.loading = false;
    if (outcome.ok) {
      node.children = outcome.answer.children.map(asNode);
      node.truncated = outcome.answer.truncated;
    } else {
      node.error = outcome.error;
      node.expanded = false;
    }
    show();
  }

  selectNode(node: PickerNode): void {
    this.state.selected = node;
    this.state.pickError = "";
  }

  async pick(save: boolean): Promise<void> {
    const info = this.selectedInfo;
    if (!info || this.state.picking) return;
    this.state.picking = true;
    this.state.pickError = "";
    try {
      await this.props.onPick(info, save);
      this.props.close();
    } catch (err) {
      const e = err as { data?: { message?: string }; message?: string };
      this.state.pickError = e?.data?.message || e?.message || String(err);
    } finally {
      this.state.picking = false;
    }
  }
}

function asNode(info: NodeInfo): PickerNode {
  return { info, expanded: false, loading: false };
}
