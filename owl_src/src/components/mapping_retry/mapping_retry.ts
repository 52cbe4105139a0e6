import { Component, useState } from "@odoo/owl";
import { errorText } from "../../shared/format.ts";
import { eventStateLabel } from "../../shared/states.ts";
import { _t, formatInteger, useService } from "../../shared/web.ts";
import {
  applyChecks,
  CANDIDATE_LIMIT,
  type Candidate,
  type CandidateVerdict,
  candidateBytes,
  checkEvents,
  chunkByEvents,
  EVENT,
  type Evaluator,
  judgeCandidates,
  mappingFromRecord,
  PAYLOAD_MAP,
  type TrySample,
} from "../mapping_try/try_run.ts";

export interface MappingRetryProps {
  record: OdooRecord;
  /** A rejected item's bytes, origin and receive time, as the sidecar saw them. */
  sampleOf: (payload: Uint8Array, topic: string, receivedAt: string) => TrySample;
  evaluate: Evaluator;
}

/** One item's answer from shopfloor.event.remap_rejected. */
export interface RemapResult {
  event_id: number;
  /** remapped, invalid (nothing changed) or skipped (not a rejected payload of the connection). */
  status: string;
  error: string;
  /** The events it became. */
  event_ids: number[];
}

/** One event a re-mapped item became, as stored now. */
export interface ProducedEvent {
  id: number;
  event_uid: string;
  state: string;
  error_message: string | false;
}

type Phase = "idle" | "scanning" | "review" | "applying" | "done";
type Accepted = Extract<CandidateVerdict, { accepted: true }>;
type Failing = Extract<CandidateVerdict, { accepted: false }>;

interface RetryState {
  phase: Phase;
  verdicts: CandidateVerdict[];
  results: RemapResult[];
  produced: Record<number, ProducedEvent>;
  error: string;
}

/**
 * "Retry the rejected items this mapping now accepts": the saved mapping is
 * run (in the browser, as the sidecar runs it) over the rejected payloads it
 * matches; the person sees how many it takes and why the others still fail,
 * and on confirmation the server ingests the produced events in place of the
 * rejected items, which are closed with a reason naming the mapping.
 */
export class MappingRetry extends Component<MappingRetryProps> {
  static override template = "shopfloor_bridge.MappingRetry";
  static override props = { record: Object, sampleOf: Function, evaluate: Function };

  declare state: RetryState;
  declare orm: OdooOrmService;
  declare notification: OdooNotificationService;

  override setup(): void {
    this.orm = useService("orm");
    this.notification = useService("notification");
    this.state = useState({ phase: "idle", verdicts: [], results: [], produced: {}, error: "" });
  }

  get accepted(): Accepted[] {
    return this.state.verdicts.filter((v): v is Accepted => v.accepted);
  }
  get failing(): Failing[] {
    return this.state.verdicts.filter((v): v is Failing => !v.accepted);
  }
  get reviewSummary(): string {
    if (!this.state.verdicts.length) return _t("No rejected payload matches this mapping's connection and pattern.");
    return _t("This mapping accepts %(accepted)s of the %(total)s recent rejected payloads it matches.", {
      accepted: formatInteger(this.accepted.length),
      total: formatInteger(this.state.verdicts.length),
    });
  }
  get confirmLabel(): string {
    return this.accepted.length === 1 ? _t("Retry 1 item") : _t("Retry %s items", formatInteger(this.accepted.length));
  }
  get doneSummary(): string {
    const remapped = this.state.results.filter((r) => r.status === "remapped");
    const produced = remapped.flatMap((r) => r.event_ids);
    const applied = produced.filter((id) => this.state.produced[id]?.state === "applied").length;
    return _t("%(remapped)s of %(total)s items re-mapped into %(events)s events, %(applied)s applied.", {
      remapped: formatInteger(remapped.length),
      total: formatInteger(this.state.results.length),
      events: formatInteger(produced.length),
      applied: formatInteger(applied),
    });
  }
  candidateLabel(candidate: Candidate): string {
    return candidate.origin;
  }
  originOf(eventId: number): string {
    return this.state.verdicts.find((v) => v.candidate.event_id === eventId)?.candidate.origin ?? String(eventId);
  }
  remapLabel(status: string): string {
    const labels: Record<string, string> = {
      remapped: _t("Re-mapped"),
      invalid: _t("Not re-mapped"),
      skipped: _t("Skipped"),
    };
    return labels[status] ?? status;
  }
  producedOf(result: RemapResult): ProducedEvent[] {
    return result.event_ids.map((id) => this.state.produced[id]).filter((ev): ev is ProducedEvent => Boolean(ev));
  }
  stateLabel(state: string): string {
    return eventStateLabel(state);
  }

  /** The retry works on the saved mapping: what the sidecar will run. */
  async savedMappingId(): Promise<number | false> {
    const record = this.props.record;
    if (record.isNew || (await record.isDirty())) {
      const saved = await record.save();
      if (!saved) return false;
    }
    return typeof record.resId === "number" ? record.resId : false;
  }

  async scan(): Promise<void> {
    this.state.error = "";
    this.state.results = [];
    this.state.phase = "scanning";
    try {
      const mappingId = await this.savedMappingId();
      if (!mappingId) {
        this.state.error = _t("Save the mapping first: the form has errors.");
        this.state.phase = "idle";
        return;
      }
      const mapping = mappingFromRecord(mappingId, this.props.record.data);
      const candidates = await this.orm.call<Candidate[]>(PAYLOAD_MAP, "rejected_candidates", [
        [mappingId],
        CANDIDATE_LIMIT,
      ]);
      const verdicts = await judgeCandidates(mapping, candidates, this.props.evaluate, (c) =>
        this.props.sampleOf(candidateBytes(c), c.origin, c.received),
      );
      const events = verdicts.flatMap((v) => (v.accepted ? v.events : []));
      this.state.verdicts = applyChecks(verdicts, events.length ? await checkEvents(this.orm, events) : []);
      this.state.phase = "review";
    } catch (err) {
      this.state.error = _t("The rejected payloads could not be checked: %s", errorText(err));
      this.state.phase = "idle";
    }
  }

  async confirm(): Promise<void> {
    const mappingId = this.props.record.resId;
    const items = this.accepted.map((v) => ({ event_id: v.candidate.event_id, events: v.events }));
    if (typeof mappingId !== "number" || !items.length) return;
    this.state.phase = "applying";
    const results: RemapResult[] = [];
    try {
      for (const batch of chunkByEvents(items, (item) => item.events.length)) {
        results.push(...(await this.orm.call<RemapResult[]>(EVENT, "remap_rejected", [mappingId, batch])));
      }
    } catch (err) {
      this.state.results = results;
      this.state.error = _t("The items were not all retried: %s", errorText(err));
      this.state.phase = results.length ? "done" : "review";
      return;
    }
    this.state.results = results;
    await this.loadProduced();
    this.state.phase = "done";
    this.notification.add(this.doneSummary, { type: "success" });
  }

  /** Where the produced events stand now (applied, pending, failed…). */
  async loadProduced(): Promise<void> {
    const ids = this.state.results.flatMap((r) => r.event_ids);
    if (!ids.length) return;
    try {
      const rows = await this.orm.searchRead<ProducedEvent>(
        EVENT,
        [["id", "in", ids]],
        ["event_uid", "state", "error_message"],
      );
      this.state.produced = Object.fromEntries(rows.map((row) => [row.id, row]));
    } catch {
      // The results stand without the states: the event ids are listed by the server's answer.
    }
  }

  cancel(): void {
    this.state.phase = "idle";
    this.state.verdicts = [];
    this.state.results = [];
    this.state.produced = {};
    this.state.error = "";
  }
}
