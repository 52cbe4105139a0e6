import { Component, useState } from "@odoo/owl";
import { errorText } from "../../shared/format.ts";
import { eventStateLabel } from "../../shared/states.ts";
import { _t, formatInteger, useService } from "../../shared/web.ts";
import {
  applyChecks,
  CANDIDATE_LIMIT,
  type Candidate,
  type CandidateVerdict,
  EVENT,
  type Evaluator,
  judgeCandidates,
  mappingFromRecord,
  normalizeChecks,
  PAYLOAD_MAP,
  type TrySample,
} from "../mapping_try/try_run.ts";

export interface MappingRetryProps {
  record: OdooRecord;
  /** The payload and topic of a rejected item, as the sidecar would have seen them. */
  sampleOf: (payload: string, topic: string) => TrySample;
  evaluate: Evaluator;
}

/** One item's answer from shopfloor.event.remap_rejected. */
export interface RemapResult {
  event_id: number;
  status: string;
  error: string | false;
  /** What the item became: the status of each new event. */
  results?: { status: string; error?: string | false }[];
}

type Phase = "idle" | "scanning" | "review" | "applying" | "done";

interface RetryState {
  phase: Phase;
  verdicts: CandidateVerdict[];
  results: RemapResult[];
  error: string;
}

/**
 * "Retry the rejected items this mapping now accepts": the saved mapping is
 * run (in the browser, as the sidecar runs it) over the connection's recent
 * rejected payloads; the person sees how many it takes and why the others
 * still fail, and on confirmation the server stores the produced events in
 * place of the rejected items and applies them.
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
    this.state = useState({ phase: "idle", verdicts: [], results: [], error: "" });
  }

  get accepted(): Extract<CandidateVerdict, { accepted: true }>[] {
    return this.state.verdicts.filter((v): v is Extract<CandidateVerdict, { accepted: true }> => v.accepted);
  }
  get failing(): Extract<CandidateVerdict, { accepted: false }>[] {
    return this.state.verdicts.filter((v): v is Extract<CandidateVerdict, { accepted: false }> => !v.accepted);
  }
  get reviewSummary(): string {
    return _t("This mapping accepts %(accepted)s of the %(total)s recent rejected payloads of its connection.", {
      accepted: formatInteger(this.accepted.length),
      total: formatInteger(this.state.verdicts.length),
    });
  }
  get confirmLabel(): string {
    return this.accepted.length === 1 ? _t("Retry 1 item") : _t("Retry %s items", formatInteger(this.accepted.length));
  }
  get doneSummary(): string {
    const applied = this.state.results.filter((r) => r.status === "applied").length;
    return _t("%(applied)s of %(total)s items applied.", {
      applied: formatInteger(applied),
      total: formatInteger(this.state.results.length),
    });
  }
  candidateLabel(candidate: Candidate): string {
    return candidate.topic || candidate.event_uid;
  }
  uidOf(eventId: number): string {
    return this.state.verdicts.find((v) => v.candidate.id === eventId)?.candidate.event_uid ?? String(eventId);
  }
  stateLabel(status: string): string {
    return eventStateLabel(status);
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
        this.props.sampleOf(c.raw_payload, c.topic),
      );
      const events = verdicts.flatMap((v) => (v.accepted ? v.events : []));
      const checks = events.length
        ? normalizeChecks(await this.orm.call(PAYLOAD_MAP, "check_events", [[], events]), events.length)
        : [];
      this.state.verdicts = applyChecks(verdicts, checks);
      this.state.phase = "review";
    } catch (err) {
      this.state.error = _t("The rejected payloads could not be checked: %s", errorText(err));
      this.state.phase = "idle";
    }
  }

  async confirm(): Promise<void> {
    const mappingId = this.props.record.resId;
    const items = this.accepted.map((v) => ({ event_id: v.candidate.id, events: v.events }));
    if (typeof mappingId !== "number" || !items.length) return;
    this.state.phase = "applying";
    try {
      this.state.results = await this.orm.call<RemapResult[]>(EVENT, "remap_rejected", [mappingId, items]);
      this.state.phase = "done";
      this.notification.add(this.doneSummary, { type: "success" });
    } catch (err) {
      this.state.error = _t("The items were not retried: %s", errorText(err));
      this.state.phase = "review";
    }
  }

  cancel(): void {
    this.state.phase = "idle";
    this.state.verdicts = [];
    this.state.results = [];
    this.state.error = "";
  }
}
