import { Component, onWillStart, onWillUnmount, useEffect, useEnv, useRef, useState } from "@odoo/owl";
import { errorText } from "../../shared/format.ts";
import { evaluateSample } from "../../shared/mapping_engine.ts";
import { _t, registry, standardFieldProps, useBus, useService } from "../../shared/web.ts";
import { MappingResult } from "../mapping_result/mapping_result.ts";
import { MappingRetry } from "../mapping_retry/mapping_retry.ts";
import {
  CANDIDATE_LIMIT,
  type Candidate,
  candidateBytes,
  checkEvents,
  defaultTopic,
  EVALUATE_DELAY_MS,
  type Evaluator,
  type EventCheck,
  LatestOnly,
  mappingFromRecord,
  PAYLOAD_MAP,
  type PayloadMapping,
  type TryOutcome,
  type TrySample,
} from "./try_run.ts";

export interface MappingTryProps {
  id?: string;
  name: string;
  readonly?: boolean;
  record: OdooRecord;
}

interface TryState {
  text: string;
  topic: string;
  outcome: TryOutcome | null;
  evaluating: boolean;
  checks: EventCheck[] | null;
  checkError: string;
  pickerOpen: boolean;
  candidates: Candidate[] | null;
  candidatesError: string;
  connectionCode: string;
}

/** A picked rejected payload: its exact bytes are tried while the text is left as picked. */
interface Picked {
  text: string;
  bytes: Uint8Array;
  received: string;
}

/**
 * The "try it" panel of a payload mapping, the widget of its sample_payload
 * field: edit (or pick) a sample, see the CloudEvents the form's current
 * mapping makes of it — evaluated in the browser by the sidecar's own
 * evaluator — and the module's schema check of each.
 */
export class MappingTry extends Component<MappingTryProps> {
  static override template = "shopfloor_bridge.MappingTry";
  static components = { MappingResult, MappingRetry };
  static override props = { ...standardFieldProps };

  declare state: TryState;
  declare orm: OdooOrmService;
  declare evaluate: Evaluator;
  runner = new LatestOnly(EVALUATE_DELAY_MS);
  /** The connection whose code is loaded (its code is part of every derived id). */
  connectionLoaded: number | false = false;
  picked: Picked | null = null;
  /** `$receivedAt` of a typed sample: fixed while the form is open, so ids that use it hold still. */
  openedAt = new Date().toISOString();

  pickButton = useRef("pickButton");

  override setup(): void {
    this.orm = useService("orm");
    const env = useEnv() as { shopfloorEvaluator?: Evaluator };
    this.evaluate = env.shopfloorEvaluator ?? evaluateSample;
    const data = this.props.record.data;
    this.state = useState({
      text: this.storedText,
      topic: defaultTopic(typeof data.match === "string" ? data.match : ""),
      outcome: null,
      evaluating: false,
      checks: null,
      checkError: "",
      pickerOpen: false,
      candidates: null,
      candidatesError: "",
      connectionCode: "",
    });
    // Odoo asks every field for its pending edit before it saves the record.
    useBus(this.props.record.model.bus, "NEED_LOCAL_CHANGES", (ev) => {
      (ev.detail as { proms: Promise<unknown>[] }).proms.push(this.commit());
    });
    // Leaving the page (or closing the tab) saves at once: the edit goes with it.
    useBus(this.props.record.model.bus, "WILL_SAVE_URGENTLY", () => void this.commit());
    onWillStart(() => this.loadConnection());
    // Any change of the mapping on the form (expression, kind, id fields…) or of the sample re-evaluates it.
    useEffect(
      () => {
        void this.loadConnection().then(() => this.schedule());
      },
      () => [this.signature, this.state.text, this.state.topic],
    );
    onWillUnmount(() => this.runner.cancel());
  }

  get storedText(): string {
    const value = this.props.record.data[this.props.name];
    return typeof value === "string" ? value : "";
  }
  get mapping(): PayloadMapping {
    return mappingFromRecord(this.props.record.resId, this.props.record.data);
  }
  /** Everything of the form that changes what the sample becomes. */
  get signature(): string {
    const data = this.props.record.data;
    const connection = Array.isArray(data.connection_id) ? data.connection_id[0] : data.connection_id;
    return JSON.stringify([this.mapping, connection]);
  }
  get connectionId(): number | false {
    const value = this.props.record.data.connection_id;
    if (Array.isArray(value)) return typeof value[0] === "number" ? value[0] : false;
    if (value && typeof value === "object" && "id" in value) return (value as { id: number }).id;
    return typeof value === "number" ? value : false;
  }
  get textareaId(): string {
    return this.props.id ?? "sfb-try-sample";
  }

  async loadConnection(): Promise<void> {
    const id = this.connectionId;
    if (id === this.connectionLoaded) return;
    this.connectionLoaded = id;
    if (!id) {
      this.state.connectionCode = "";
      return;
    }
    try {
      const [row] = await this.orm.call<{ code: string | false }[]>("shopfloor.connection", "read", [[id], ["code"]]);
      this.state.connectionCode = row?.code || "";
    } catch {
      this.state.connectionCode = "";
    }
  }

  sample(payload: Uint8Array | string, topic: string, receivedAt: string = this.openedAt): TrySample {
    return { payload, topic, headers: {}, connection: this.state.connectionCode, receivedAt };
  }

  /** The sample as typed, or the exact bytes of the rejected payload it was picked from. */
  currentSample(): TrySample {
    const picked = this.picked;
    if (picked && picked.text === this.state.text) return this.sample(picked.bytes, this.state.topic, picked.received);
    return this.sample(this.state.text, this.state.topic);
  }

  /** Evaluates the current sample after a quiet time; a newer keystroke supersedes it. */
  schedule(delayMs?: number): void {
    const mapping = this.mapping;
    const text = this.state.text;
    if (!text.trim() || !mapping.expression.trim()) {
      this.runner.cancel();
      this.state.evaluating = false;
      this.state.outcome = null;
      this.state.checks = null;
      this.state.checkError = "";
      return;
    }
    this.state.evaluating = true;
    const sample = this.currentSample();
    this.runner.schedule(
      () => this.evaluateAndCheck(mapping, sample),
      (result) => {
        Object.assign(this.state, result, { evaluating: false });
      },
      delayMs,
    );
  }

  async evaluateAndCheck(
    mapping: PayloadMapping,
    sample: TrySample,
  ): Promise<Pick<TryState, "outcome" | "checks" | "checkError">> {
    let outcome: TryOutcome;
    try {
      outcome = await this.evaluate(mapping, sample);
    } catch (err) {
      outcome = { status: "error", message: errorText(err) };
    }
    if (outcome.status !== "events" || outcome.events.length === 0) {
      return { outcome, checks: null, checkError: "" };
    }
    try {
      return { outcome, checks: await checkEvents(this.orm, outcome.events), checkError: "" };
    } catch (err) {
      return {
        outcome,
        checks: null,
        checkError: _t("The events could not be checked against the schema: %s", errorText(err)),
      };
    }
  }

  onInput(ev: InputEvent): void {
    this.state.text = (ev.target as HTMLTextAreaElement).value;
    this.props.record.model.bus.trigger("FIELD_IS_DIRTY", true);
  }
  onTopic(ev: InputEvent): void {
    this.state.topic = (ev.target as HTMLInputElement).value;
  }

  /** Writes the edited sample into the record (on leaving the field, and before a save). */
  async commit(): Promise<void> {
    if (this.props.readonly || this.state.text === this.storedText) return;
    await this.props.record.update({ [this.props.name]: this.state.text });
  }

  /** Rejected payloads are looked up by the saved mapping's connection and pattern. */
  get canPick(): boolean {
    return !this.props.readonly && typeof this.props.record.resId === "number";
  }

  async togglePicker(): Promise<void> {
    this.state.pickerOpen = !this.state.pickerOpen;
    if (!this.state.pickerOpen || !this.canPick) return;
    this.state.candidates = null;
    this.state.candidatesError = "";
    try {
      this.state.candidates = await this.loadCandidates();
    } catch (err) {
      this.state.candidates = [];
      this.state.candidatesError = _t("The rejected payloads could not be loaded: %s", errorText(err));
    }
  }

  /** Recent rejected payloads of the saved mapping's connection that its transport and pattern match. */
  loadCandidates(): Promise<Candidate[]> {
    return this.orm.call<Candidate[]>(PAYLOAD_MAP, "rejected_candidates", [[this.props.record.resId], CANDIDATE_LIMIT]);
  }

  /** Escape closes the list and gives the focus back to its button. */
  onPickerKeydown(ev: KeyboardEvent): void {
    if (ev.key !== "Escape") return;
    ev.stopPropagation();
    this.state.pickerOpen = false;
    (this.pickButton.el as HTMLButtonElement | null)?.focus();
  }

  async pick(candidate: Candidate): Promise<void> {
    this.picked = { text: candidate.raw_text, bytes: candidateBytes(candidate), received: candidate.received };
    this.state.text = candidate.raw_text;
    this.state.topic = candidate.origin;
    this.state.pickerOpen = false;
    (this.pickButton.el as HTMLButtonElement | null)?.focus();
    await this.commit();
    this.schedule(0);
  }

  candidateLabel(candidate: Candidate): string {
    return _t("%(origin)s · %(reason)s", {
      origin: candidate.origin,
      reason: candidate.reason || _t("rejected"),
    });
  }
}

registry.category("fields").add("shopfloor_mapping_try", {
  component: MappingTry,
  displayName: _t("Payload mapping: try it"),
  supportedTypes: ["text"],
});
