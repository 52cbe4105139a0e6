import { Component, useState } from "@odoo/owl";
import { checkEditedPayload } from "../../shared/json_highlight.ts";

export interface DlqEditorProps {
  /** The event data as stored; shown pretty-printed when it is JSON. */
  text: string;
  busy: boolean;
  /** Gets the edited payload, checked and compacted. */
  onSave: (compact: string) => void;
  onCancel: () => void;
}

/** Edits an event's data before it is retried; invalid JSON cannot be sent. */
export class DlqEditor extends Component<DlqEditorProps> {
  static override template = "shopfloor_bridge.DlqEditor";
  static override props = { text: String, busy: Boolean, onSave: Function, onCancel: Function };

  declare state: { text: string; error: string };

  override setup(): void {
    let text = this.props.text;
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // Not JSON (a rejected payload): edited as received.
    }
    this.state = useState({ text, error: "" });
    this.validate();
  }

  validate(): boolean {
    const check = checkEditedPayload(this.state.text);
    this.state.error = check.ok ? "" : (check.error ?? "");
    return check.ok;
  }

  save(): void {
    if (!this.validate()) return;
    this.props.onSave(JSON.stringify(JSON.parse(this.state.text)));
  }
}
