import { Component, onMounted, useRef, useState } from "@odoo/owl";

export interface DlqReasonFormProps {
  /** The question, saying what would be discarded. */
  label: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}

/** Asks why events are discarded, where the discard was asked (detail pane or bulk bar). */
export class DlqReasonForm extends Component<DlqReasonFormProps> {
  static override template = "shopfloor_bridge.DlqReasonForm";
  static override props = { label: String, onConfirm: Function, onCancel: Function };

  declare state: { reason: string };

  override setup(): void {
    this.state = useState({ reason: "" });
    // Asking for a reason puts the cursor where the reason is typed.
    const input = useRef<HTMLInputElement>("reason");
    onMounted(() => input.el?.focus());
  }

  confirm(): void {
    const reason = this.state.reason.trim();
    if (reason) this.props.onConfirm(reason);
  }
}
