import { Component } from "@odoo/owl";
import { formatCount } from "../../shared/format.ts";
import { _t } from "../../shared/web.ts";
import { nextOffset, pageLabel, previousOffset } from "../dlq_review/dlq_query.ts";

export interface DlqBulkBarProps {
  isManager: boolean;
  selectedCount: number;
  offset: number;
  limit: number;
  total: number;
  onBulkRetry: () => void;
  onBulkDiscard: () => void;
  onGoTo: (offset: number) => void;
}

/** Above the list: what is selected, the bulk actions on it, and the pager. */
export class DlqBulkBar extends Component<DlqBulkBarProps> {
  static override template = "shopfloor_bridge.DlqBulkBar";
  static override props = {
    isManager: Boolean,
    selectedCount: Number,
    offset: Number,
    limit: Number,
    total: Number,
    onBulkRetry: Function,
    onBulkDiscard: Function,
    onGoTo: Function,
  };

  get page() {
    return { offset: this.props.offset, limit: this.props.limit, total: this.props.total };
  }
  get pagerText(): string {
    return pageLabel(this.page, formatCount);
  }
  get hasNext(): boolean {
    return this.props.offset + this.props.limit < this.props.total;
  }
  get selectedText(): string {
    return _t("%s selected", formatCount(this.props.selectedCount));
  }
  next(): void {
    this.props.onGoTo(nextOffset(this.page));
  }
  previous(): void {
    this.props.onGoTo(previousOffset(this.page));
  }
}
