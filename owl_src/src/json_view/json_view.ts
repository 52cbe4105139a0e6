import { Component, xml } from "@odoo/owl";
import { formatJson, HIGHLIGHT_LIMIT, type JsonToken, tokenizeJson } from "../shared/json_highlight.ts";
import { useStyles } from "../shared/styles.ts";
import { _t } from "../shared/web.ts";

const CSS = `
.o_sfb_json { background: #f8f9fa; border: 1px solid #dee2e6; border-radius: .25rem; padding: .5rem .75rem;
  max-height: 45vh; overflow: auto; font-size: .8rem; white-space: pre-wrap; word-break: break-word; margin: 0; }
.o_sfb_json .j-key { color: #0b4f9c; }
.o_sfb_json .j-string { color: #0f5323; }
.o_sfb_json .j-number { color: #7a2e00; }
.o_sfb_json .j-boolean, .o_sfb_json .j-null { color: #6f1f8f; font-weight: 600; }
.o_sfb_json .j-invalid { background: #ffd9dc; color: #8a0f1c; }
`;

export interface JsonViewProps {
  text: string;
  label: string;
}

/** A payload as formatted, highlighted JSON; invalid text is shown as received. */
export class JsonView extends Component<JsonViewProps> {
  static override template = xml`
    <div class="o_sfb_json_view">
      <p t-if="!formatted.valid" class="small text-danger mb-1 o_sfb_json_invalid" t-esc="invalidLabel"/>
      <p t-if="tooLarge" class="small text-muted mb-1 o_sfb_json_plain" t-esc="plainLabel"/>
      <pre class="o_sfb_json" tabindex="0" t-att-aria-label="props.label"><t t-if="tooLarge" t-esc="formatted.text"/><t t-else="" t-foreach="tokens" t-as="tok" t-key="tok_index"><span t-if="tok.kind !== 'space' and tok.kind !== 'punct'" t-att-class="'j-' + tok.kind" t-esc="tok.text"/><t t-else="" t-esc="tok.text"/></t></pre>
    </div>`;
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
  get invalidLabel(): string {
    return _t("Not valid JSON: shown exactly as received.");
  }
  get plainLabel(): string {
    return _t("Large payload (%s KB): shown without highlighting.", Math.round(this.props.text.length / 1024));
  }

  override setup(): void {
    useStyles("json", CSS);
  }
}
