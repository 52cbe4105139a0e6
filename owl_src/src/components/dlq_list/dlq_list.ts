import { Component } from "@odoo/owl";
import { formatTime } from "../../shared/format.ts";
import { eventStateLabel, eventTypeLabel } from "../../shared/states.ts";
import { _t } from "../../shared/web.ts";
import type { DlqRow } from "../dlq_review/dlq_data.ts";

export interface DlqListProps {
  rows: DlqRow[];
  cursor: number;
  selected: number[];
  isManager: boolean;
  loading: boolean;
  onOpen: (index: number) => void;
  onToggle: (id: number) => void;
  onTogglePage: () => void;
}

/** One page of dead letters; the cursor row is the open one. */
export class DlqList extends Component<DlqListProps> {
  static override template = "shopfloor_bridge.DlqList";
  static override props = {
    rows: Array,
    cursor: Number,
    selected: Array,
    isManager: Boolean,
    loading: Boolean,
    onOpen: Function,
    onToggle: Function,
    onTogglePage: Function,
  };

  get allOnPageSelected(): boolean {
    const { rows, selected } = this.props;
    return rows.length > 0 && rows.every((r) => selected.includes(r.id));
  }
  selectLabel(row: DlqRow): string {
    return _t("Select event %s", row.event_uid);
  }
  time(v: string | false): string {
    return formatTime(v);
  }
  /** The stored type, else the one the kept payload claims, else "—". */
  typeLabel(row: DlqRow): string {
    return eventTypeLabel(row.type || row.claimed_type);
  }
  get claimedHint(): string {
    return _t("Not an event: the type its payload claims");
  }
  stateLabel(s: string): string {
    return eventStateLabel(s);
  }
}
