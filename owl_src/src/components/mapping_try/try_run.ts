// What the "try it" panel and the retry panel compute, without a browser:
// the mapping as the sidecar would get it (from the form's current values),
// one evaluation of a sample, the schema check's answer per event, and the
// split of rejected payloads into those the mapping now takes and those it
// does not. The evaluation itself is the sidecar's own (src/shared/mapping_engine.ts).
import type { PayloadMapping } from "../../../../sidecar/src/core/contract.ts";
import { _t } from "../../shared/web.ts";

export type { PayloadMapping };

export const PAYLOAD_MAP = "shopfloor.payload.map";
/** Every transport a payload mapping may name (the form's selection; anything else reads as MQTT). */
const TRANSPORTS: readonly PayloadMapping["transport"][] = ["mqtt", "http", "amqp", "kafka", "redis"];
export const EVENT = "shopfloor.event";
/** How many recent rejected payloads the picker and the retry panel look at. */
export const CANDIDATE_LIMIT = 50;
/** Quiet time after the last keystroke before a sample is evaluated again. */
export const EVALUATE_DELAY_MS = 300;

/** One observation of a `values` mapping (fed to the counter/state/trigger rules). */
export interface Observation {
  address: string;
  value: unknown;
  time?: string;
}

/** What a payload, its topic (or route) and headers are when a mapping sees them. */
export interface TrySample {
  /** The bytes as received (a rejected item's), or the text typed into the form. */
  payload: Uint8Array | string;
  topic: string;
  headers: Record<string, string>;
  /** The connection's code: the `$connection` binding and part of every derived id. */
  connection: string;
  /** ISO 8601: the `$receivedAt` binding. */
  receivedAt: string;
}

export type TryOutcome =
  | { status: "events"; events: Record<string, unknown>[] }
  | { status: "values"; observations: Observation[] }
  | { status: "error"; message: string };

/** Runs a mapping over a sample exactly as the sidecar does. */
export type Evaluator = (mapping: PayloadMapping, sample: TrySample) => Promise<TryOutcome>;

/** A recent rejected payload the mapping matches (`shopfloor.payload.map.rejected_candidates`). */
export interface Candidate {
  /** The rejected shopfloor.event. */
  event_id: number;
  /** MQTT topic, HTTP route, or RabbitMQ queue / Kafka topic / Redis stream it arrived on. */
  origin: string;
  transport: PayloadMapping["transport"];
  /** The bytes as UTF-8 text (invalid bytes replaced), for showing. */
  raw_text: string;
  /** The exact bytes, base64: derived event ids hash these. */
  raw_b64: string;
  /** ISO 8601, when the sidecar received it. */
  received: string;
  /** Why it was rejected. */
  reason: string;
}

/** A candidate's exact bytes. */
export function candidateBytes(candidate: Candidate): Uint8Array {
  const binary = atob(candidate.raw_b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The schema check of one produced event: its errors, none when it would be accepted. */
export interface EventCheck {
  errors: string[];
}

/** The form's current values as the mapping the sidecar would receive. */
export function mappingFromRecord(resId: number | false | undefined, data: Record<string, unknown>): PayloadMapping {
  return {
    id: typeof resId === "number" ? resId : 0,
    name: stringOf(data.name),
    kind: data.kind === "values" ? "values" : "events",
    transport: TRANSPORTS.find((transport) => transport === data.transport) ?? "mqtt",
    match: stringOf(data.match),
    expression: stringOf(data.expression),
    id_fields: idFieldsOf(data.id_fields),
    payload_format: data.payload_format === "text" ? "text" : "json",
    revision: typeof data.last_revision === "number" ? data.last_revision : 0,
  };
}

/** Declared id fields as the form keeps them: one per line or comma-separated. */
export function idFieldsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String).filter(Boolean);
  return stringOf(value)
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

function stringOf(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A topic to try with: the match itself when it has no wildcard, else nothing yet. */
export function defaultTopic(match: string): string {
  return /(^|\/)[+#](\/|$)/.test(match) ? "" : match;
}

/** The server's answer to check_events, one entry per event in the same order. */
export function normalizeChecks(answer: unknown, count: number): EventCheck[] {
  const list = Array.isArray(answer) ? answer : [];
  return Array.from({ length: count }, (_, index) => {
    const item = list[index] as unknown;
    if (item === undefined) return { errors: [_t("The server did not check this event.")] };
    if (item === true || item === false || item === null || item === "") return { errors: [] };
    if (typeof item === "string") return { errors: [item] };
    const record = item as { errors?: unknown; error?: unknown; ok?: unknown };
    if (Array.isArray(record.errors)) return { errors: record.errors.map(String) };
    if (typeof record.error === "string" && record.error) return { errors: [record.error] };
    return { errors: [] };
  });
}

/** How a rejected payload fares under the mapping: what it would become, or why not. */
export type CandidateVerdict =
  | { candidate: Candidate; accepted: true; events: Record<string, unknown>[] }
  | { candidate: Candidate; accepted: false; reason: string };

/** The event ids the mapping yields; a `values` mapping yields observations, not events to remap. */
export async function judgeCandidates(
  mapping: PayloadMapping,
  candidates: Candidate[],
  evaluate: Evaluator,
  sampleOf: (candidate: Candidate) => TrySample,
): Promise<CandidateVerdict[]> {
  const verdicts: CandidateVerdict[] = [];
  for (const candidate of candidates) {
    let outcome: TryOutcome;
    try {
      outcome = await evaluate(mapping, sampleOf(candidate));
    } catch (err) {
      outcome = { status: "error", message: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.status === "error") verdicts.push({ candidate, accepted: false, reason: outcome.message });
    else if (outcome.status === "values")
      verdicts.push({
        candidate,
        accepted: false,
        reason: _t("A values mapping feeds the sidecar's rules; its payloads are not retried from Odoo."),
      });
    else if (outcome.events.length === 0)
      verdicts.push({ candidate, accepted: false, reason: _t("The mapping yields no event for this payload.") });
    else verdicts.push({ candidate, accepted: true, events: outcome.events });
  }
  return verdicts;
}

/**
 * Applies the schema check to the accepted verdicts: `checks` holds one
 * entry per event of every accepted verdict, in order. An item with an event
 * the schema refuses is not accepted after all, and says which and why.
 */
export function applyChecks(verdicts: CandidateVerdict[], checks: EventCheck[]): CandidateVerdict[] {
  let at = 0;
  return verdicts.map((verdict) => {
    if (!verdict.accepted) return verdict;
    const own = checks.slice(at, at + verdict.events.length);
    at += verdict.events.length;
    const failing = own
      .map((check, index) => ({ index, errors: check.errors }))
      .filter((entry) => entry.errors.length > 0);
    if (!failing.length) return verdict;
    const reason = failing
      .map((entry) => _t("event %(n)s: %(errors)s", { n: entry.index + 1, errors: entry.errors.join("; ") }))
      .join(" · ");
    return { candidate: verdict.candidate, accepted: false, reason };
  });
}

/**
 * Runs the newest of a burst of requests after a quiet time; an answer that
 * arrives after a newer request started is dropped, so a slow evaluation
 * never overwrites the result of a later keystroke.
 */
export class LatestOnly {
  readonly delayMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  constructor(delayMs: number) {
    this.delayMs = delayMs;
  }
  /** `work` runs after the delay; `land` gets its result only if nothing newer was scheduled. */
  schedule<T>(work: () => Promise<T>, land: (result: T) => void, delayMs = this.delayMs): void {
    const generation = ++this.#generation;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      const result = await work();
      if (generation === this.#generation) land(result);
    }, delayMs);
  }
  cancel(): void {
    this.#generation++;
    clearTimeout(this.#timer);
  }
}

/** Most events one check_events or remap_rejected call takes (MAX_INGEST_BATCH of the module). */
export const MAX_EVENTS_PER_CALL = 1000;

/**
 * Consecutive groups of items, each with at most `maxEvents` events in all
 * (an item larger than that alone in its group), in order: the server takes
 * a bounded batch per call.
 */
export function chunkByEvents<T>(items: T[], eventsOf: (item: T) => number, maxEvents = MAX_EVENTS_PER_CALL): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let count = 0;
  for (const item of items) {
    const size = eventsOf(item);
    if (current.length && count + size > maxEvents) {
      chunks.push(current);
      current = [];
      count = 0;
    }
    current.push(item);
    count += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** check_events over any number of events, a bounded batch per call, one check per event in order. */
export async function checkEvents(orm: OdooOrmService, events: Record<string, unknown>[]): Promise<EventCheck[]> {
  const checks: EventCheck[] = [];
  for (const batch of chunkByEvents(events, () => 1)) {
    checks.push(...normalizeChecks(await orm.call(PAYLOAD_MAP, "check_events", [batch]), batch.length));
  }
  return checks;
}
