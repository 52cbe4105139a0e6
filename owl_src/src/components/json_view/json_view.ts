import { Component } from "@odoo/owl";
import { formatJson, HIGHLIGHT_LIMIT, type JsonToken, tokenizeJson } from "../../shared/json_highlight.ts";
import { _t, formatInteger } from "../../shared/web.ts";

export interface JsonViewProps {
  text: string;
  label: string;
}

/** A payload as formatted, highlighted JSON; invalid text is shown as received. */
export class JsonView extends Component<JsonViewProps> {
  static override template = "shopfloor_bridge.JsonView";
  static override props = { text: String, label: String };

  get formatted(): { text: string; valid: boolean } {
    return formatJson(this.props.text);
  }
  get tooLarge(): boolean {
    return this.props.text.length > HIGHLIGHT_LIMIT;
  }
  get tokens(): JsonToken[] {
    return tokenizeJson(this.formatted.text);
  }
  get plainLabel(): string {
    return _t(
      "Large payload (%s KB): shown without highlighting.",
      formatInteger(Math.round(this.props.text.length / 1024)),
    );
  }
}
