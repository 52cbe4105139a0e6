import { Component } from "@odoo/owl";
import { formatCount } from "../../shared/format.ts";
import type { DlqDraft, Option } from "../dlq_review/dlq_data.ts";

export interface DlqFilterBarProps {
  /** The parent's reactive draft: the fields write into it (t-model). */
  draft: DlqDraft;
  connections: Option[];
  workcenters: Option[];
  types: string[];
  errorClasses: { error_class: string; count: number }[];
  onApply: () => Promise<void>;
}

/** The dead-letter filters: search text, connection, type, error class, work center, time range. */
export class DlqFilterBar extends Component<DlqFilterBarProps> {
  static override template = "shopfloor_bridge.DlqFilterBar";
  static override props = {
    draft: Object,
    connections: Array,
    workcenters: Array,
    types: Array,
    errorClasses: Array,
    onApply: Function,
  };

  errorClassLabel(ec: { error_class: string; count: number }): string {
    return `${ec.error_class} (${formatCount(ec.count)})`;
  }

  /** t-model updates the draft in its own change listener: apply after all of them ran. */
  onChange(): Promise<void> {
    return Promise.resolve().then(() => this.props.onApply());
  }
}
