// The payload-mapping stage between the sources and the pipeline: raw
// payloads that a mapping of the connection takes become CloudEvents (kind
// `events`) or observations for the `payload` rules (kind `values`); a
// payload whose mapping fails is stored as rejected with the mapping's reason
// and its bytes. Everything else passes through unchanged, and the pipeline
// validates it as a CloudEvent. Never drops: every input item ends up in the
// spool as events or as a rejected item, or is counted as consumed (a mapping
// that yields nothing, values no rule reads).
import { createHash } from "node:crypto";
import type { CloudEvent, MappingRule, PayloadMapping, SidecarConfig } from "../core/contract.ts";
import type { AcceptReport, Intake, SourceSink } from "../core/ports.ts";
import { checkEvent, validatePayload } from "../core/validate.ts";
import { RuleEngine } from "../rules/engine.ts";
import type { Observation } from "../rules/types.ts";
import {
  DEFAULT_MAPPING_LIMITS,
  findMapping,
  type MappingLimits,
  type MappingOutcome,
  mappingLabel,
  mqttFilterProblem,
  runMapping,
  topicFilterProblem,
} from "./evaluate.ts";

export interface MappingStageOptions {
  /** Where the result goes: the pipeline (validate → stamp → spool). */
  sink: SourceSink;
  config: SidecarConfig;
  limits?: Partial<MappingLimits>;
  /** How often counter windows of `payload` rules are closed when no payload comes. */
  flushIntervalMs?: number;
  log?: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
  /** The clock of the pause of a mapping that keeps running out of time (tests pass theirs). */
  now?: () => number;
}

/**
 * A mapping that ran out of time on this many payloads in a row is paused:
 * the payloads it would take are stored as rejected without running it, for
 * SLOW_PAUSE_MS, then it is tried again (a new revision of it at once).
 */
export const SLOW_STRIKES = 3;
export const SLOW_PAUSE_MS = 60_000;

type RawIntake = Extract<Intake, { kind: "raw" }>;

/** What one input item became before the commit. */
type Planned =
  /** Forwarded as it came: the pipeline's report for it is the report. */
  | { kind: "pass"; at: number }
  /** Stored as rejected with this reason. */
  | { kind: "rejected"; at: number; reason: string }
  /** Became events (maybe none) at these positions of the forwarded list. */
  | { kind: "mapped"; at: number[]; note?: string };

const SPECVERSION = Buffer.from('"specversion"');

export const sha256hex = async (text: string): Promise<string> => createHash("sha256").update(text).digest("hex");

export class MappingStage implements SourceSink {
  readonly #sink: SourceSink;
  readonly #limits: MappingLimits;
  readonly #log: NonNullable<MappingStageOptions["log"]>;
  readonly #flushIntervalMs: number;
  #config!: SidecarConfig;
  #maps: PayloadMapping[] = [];
  #rules: MappingRule[] = [];
  /** Transports some mapping serves: raw input by others skips the mapping lookup. */
  #transports = new Set<string>();
  #engine: RuleEngine | undefined;
  /** The engine must be loaded again from committed state before its next use. */
  #engineStale = true;
  /** Settles once the previous accept has handed its items to the sink: forwarding keeps input order. */
  #lastIssued: Promise<void> = Promise.resolve();
  /** Settles once the previous accept's commit has (the rule engine waits for it). */
  #lastCommit: Promise<void> = Promise.resolve();
  #flushTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #warned = new Set<string>();
  /** Mappings (id/revision) whose last payloads all ran out of time. */
  readonly #slow = new Map<string, { strikes: number; until: number; reason: string }>();
  readonly #now: () => number;
  readonly #counts = {
    payload_mapped: 0,
    payload_events: 0,
    payload_values: 0,
    payload_failures: 0,
    payload_time_retries: 0,
    payload_unmapped_values: 0,
    payload_invalid_values: 0,
    payload_commit_errors: 0,
    payload_skipped_slow: 0,
  };

  constructor(opts: MappingStageOptions) {
    this.#sink = opts.sink;
    this.#limits = { ...DEFAULT_MAPPING_LIMITS, ...opts.limits };
    this.#log = opts.log ?? (() => {});
    this.#flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.#now = opts.now ?? Date.now;
    this.setConfig(opts.config);
  }

  /**
   * Hot reload: the new mappings apply to what arrives from now on. The rule
   * engine is built again from the committed rule state before its next use:
   * counter parts pending in an open window are counted again from the
   * persisted baseline, neither lost nor doubled.
   */
  setConfig(config: SidecarConfig): void {
    const previous = this.#config;
    this.#config = config;
    this.#maps = config.payload_maps ?? [];
    this.#transports = new Set(this.#maps.map((map) => map.transport));
    const rules = config.rules.filter((rule) => rule.protocol === "payload");
    if (!previous || previous.revision !== config.revision || previous.code !== config.code) this.#engineStale = true;
    this.#rules = rules;
    for (const map of this.#maps) {
      const problem = map.transport === "mqtt" ? mqttFilterProblem(map.match) : topicFilterProblem(map.match);
      if (problem) this.#warnOnce(`match/${map.id}/${map.revision}`, `${mappingLabel(map)} takes nothing: ${problem}`);
    }
    this.#armFlush();
  }

  loadState(prefix: string): Promise<Record<string, unknown>> {
    return this.#sink.loadState(prefix);
  }

  /** The key prefix of the payload rules' state in the spool. */
  get statePrefix(): string {
    return `payload/${this.#config.code}/`;
  }

  async accept(items: Intake[], state?: Record<string, unknown>): Promise<AcceptReport | undefined> {
    const previousIssued = this.#lastIssued;
    let issued!: () => void;
    this.#lastIssued = new Promise<void>((resolve) => {
      issued = resolve;
    });
    let commit: Promise<AcceptReport | undefined>;
    let planned: Planned[] | undefined;
    try {
      await previousIssued;
      if (!items.some((item) => this.#mappable(item))) {
        commit = this.#sink.accept(items, state);
      } else {
        const plan = await this.#plan(items, state);
        planned = plan.planned;
        commit = this.#sink.accept(plan.forward, plan.state);
        if (plan.usesEngine) this.#watchEngineCommit(commit);
      }
      this.#lastCommit = commit.then(
        () => undefined,
        () => undefined,
      );
    } finally {
      issued();
    }
    const report = await commit;
    return planned && report ? reportFor(planned, report) : report;
  }

  /** Stops the window timer; accepts under way finish. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.#lastIssued;
    await this.#lastCommit;
  }

  /** Counters for the sidecar's stats (the heartbeat carries them to Odoo). */
  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  #mappable(item: Intake): item is RawIntake {
    return item.kind === "raw" && item.via !== undefined && this.#transports.has(item.via.transport);
  }

  async #plan(
    items: Intake[],
    state: Record<string, unknown> | undefined,
  ): Promise<{
    forward: Intake[];
    planned: Planned[];
    state: Record<string, unknown> | undefined;
    usesEngine: boolean;
  }> {
    const forward: Intake[] = [];
    const planned: Planned[] = [];
    const observed: { index: number; item: RawIntake; map: PayloadMapping; observations: Observation[] }[] = [];
    for (const item of items) {
      if (!this.#mappable(item)) {
        planned.push({ kind: "pass", at: forward.push(item) - 1 });
        continue;
      }
      const transport = item.via?.transport as PayloadMapping["transport"];
      const map = findMapping(this.#maps, transport, item.origin);
      if (!map) {
        planned.push(this.#unmatched(item, transport, forward));
        continue;
      }
      const outcome = await this.#evaluate(map, item);
      this.#counts.payload_mapped++;
      if (!outcome.ok) {
        planned.push(this.#rejected(item, outcome.reason, forward));
        continue;
      }
      if (map.kind === "values") {
        this.#counts.payload_values += outcome.observations.length;
        planned.push({ kind: "mapped", at: [] });
        observed.push({
          index: planned.length - 1,
          item,
          map,
          observations: outcome.observations.map((o) => ({
            address: o.address,
            value: o.value,
            sourceTime: o.time,
            receivedAt: item.receivedAt,
          })),
        });
        continue;
      }
      const problem = schemaProblem(outcome.events);
      if (problem) {
        planned.push(this.#rejected(item, `${mappingLabel(map)}: ${problem}`, forward));
        continue;
      }
      this.#counts.payload_events += outcome.events.length;
      const at = outcome.events.map((event) => forward.push({ kind: "event", event }) - 1);
      planned.push({ kind: "mapped", at });
    }
    if (observed.length === 0) return { forward, planned, state, usesEngine: false };
    // The engine moves on only from committed state: the previous commit first.
    await this.#lastCommit;
    const engine = await this.#currentEngine();
    const engineState: Record<string, unknown> = {};
    for (const { index, item, map, observations } of observed) {
      const result = engine.observe(observations);
      Object.assign(engineState, result.state);
      this.#counts.payload_unmapped_values += result.unmapped;
      this.#counts.payload_invalid_values += result.invalid.length;
      const at = result.events.map((event: CloudEvent) => forward.push({ kind: "event", event }) - 1);
      if (result.invalid.length > 0) {
        // What the rules could use is used; the payload is kept, rejected, with what they could not.
        const reason = `${mappingLabel(map)}: ${result.invalid.join("; ")}`;
        const rejectedAt = forward.push({ ...rejectedIntake(item, reason) }) - 1;
        planned[index] = { kind: "mapped", at: [...at, rejectedAt], note: reason };
      } else {
        planned[index] = { kind: "mapped", at };
      }
    }
    return { forward, planned, state: { ...state, ...engineState }, usesEngine: true };
  }

  /** A time limit hit once may be a busy machine (GC, other work): tried once more before it counts. */
  async #evaluate(map: PayloadMapping, item: RawIntake): Promise<MappingOutcome> {
    const key = `${map.id}/${map.revision}`;
    const slow = this.#slow.get(key);
    if (slow && slow.strikes >= SLOW_STRIKES && this.#now() < slow.until) {
      // Input behind it must not wait 2 × the time limit per payload of a mapping that loops.
      this.#counts.payload_failures++;
      this.#counts.payload_skipped_slow++;
      const reason =
        `${mappingLabel(map)} not run: it exceeded the time limit on its last ${slow.strikes} payloads ` +
        `(${slow.reason}); it is tried again from ${new Date(slow.until).toISOString()} or when a new revision comes`;
      return { ok: false, reason, limit: "time" };
    }
    const input = {
      payload: item.payload,
      topic: item.origin,
      headers: item.via?.headers,
      receivedAt: item.receivedAt,
      connection: this.#config.code,
      revision: this.#config.revision,
    };
    let outcome = await runMapping(map, input, sha256hex, this.#limits);
    if (!outcome.ok && outcome.limit === "time") {
      this.#counts.payload_time_retries++;
      outcome = await runMapping(map, input, sha256hex, this.#limits);
    }
    if (!outcome.ok && outcome.limit === "time") {
      const strikes = (slow?.strikes ?? 0) + 1;
      this.#slow.set(key, { strikes, until: this.#now() + SLOW_PAUSE_MS, reason: outcome.reason });
      if (strikes === SLOW_STRIKES) this.#log("warn", `${mappingLabel(map)} is paused: ${outcome.reason}`);
    } else if (slow) this.#slow.delete(key);
    if (!outcome.ok) {
      this.#counts.payload_failures++;
      this.#warnOnce(`fail/${map.id}/${map.revision}`, outcome.reason, { origin: item.origin });
    }
    return outcome;
  }

  /**
   * A payload on a transport that has mappings but that none of them takes:
   * the pipeline's CloudEvent path. When it is no CloudEvent either, the
   * reason also says that no mapping matched, which is the likelier fault.
   * Bytes that name `"specversion"` go on unchecked (the pipeline validates
   * them anyway); only the others are validated here, to word their reason.
   */
  #unmatched(item: RawIntake, transport: string, forward: Intake[]): Planned {
    const bytes = Buffer.from(item.payload.buffer, item.payload.byteOffset, item.payload.byteLength);
    if (bytes.includes(SPECVERSION)) return { kind: "pass", at: forward.push(item) - 1 };
    const checked = validatePayload(item.payload, {
      connection: this.#config.code,
      origin: item.origin,
      receivedAt: item.receivedAt,
    });
    if (checked.ok) return { kind: "pass", at: forward.push(item) - 1 };
    const reason = `${checked.rejected.reason} (not a CloudEvent, and no payload mapping of this connection matches ${transport} ${JSON.stringify(item.origin)})`;
    return this.#rejected(item, reason, forward);
  }

  #rejected(item: RawIntake, reason: string, forward: Intake[]): Planned {
    return { kind: "rejected", at: forward.push(rejectedIntake(item, reason)) - 1, reason };
  }

  async #currentEngine(): Promise<RuleEngine> {
    if (!this.#engine || this.#engineStale) {
      this.#engine = await RuleEngine.load(this.#sink, {
        connection: this.#config.code,
        revision: this.#config.revision,
        rules: this.#rules,
        statePrefix: this.statePrefix,
      });
      this.#engineStale = false;
    }
    return this.#engine;
  }

  /** A commit that failed leaves the engine ahead of what was stored: load it again before its next use. */
  #watchEngineCommit(commit: Promise<unknown>): void {
    commit.catch(() => {
      this.#counts.payload_commit_errors++;
      this.#engineStale = true;
    });
  }

  /** Counter windows of payload rules close on time even when no payload comes. */
  #armFlush(): void {
    const windowed = this.#rules.some((rule) => rule.kind === "counter" && Number(rule.params.window_ms) > 0);
    if (!windowed || this.#closed) {
      if (this.#flushTimer) clearInterval(this.#flushTimer);
      this.#flushTimer = undefined;
      return;
    }
    if (this.#flushTimer) return;
    this.#flushTimer = setInterval(() => {
      this.flush(new Date()).catch((err: Error) => {
        this.#log("error", `payload rules: closing counter windows failed: ${err.message}`);
      });
    }, this.#flushIntervalMs);
    this.#flushTimer.unref();
  }

  /** Closes counter windows older than their `window_ms` (called by the timer; tests call it with their clock). */
  async flush(now: Date): Promise<void> {
    const previousIssued = this.#lastIssued;
    let issued!: () => void;
    this.#lastIssued = new Promise<void>((resolve) => {
      issued = resolve;
    });
    let commit: Promise<unknown> = Promise.resolve();
    try {
      await previousIssued;
      if (!this.#engine || this.#closed) return;
      await this.#lastCommit;
      const engine = await this.#currentEngine();
      const result = engine.flush(now);
      if (result.events.length === 0 && Object.keys(result.state).length === 0) return;
      commit = this.#sink.accept(
        result.events.map((event) => ({ kind: "event", event })),
        result.state,
      );
      this.#watchEngineCommit(commit);
      this.#lastCommit = commit.then(
        () => undefined,
        () => undefined,
      );
    } finally {
      issued();
    }
    await commit;
  }

  #warnOnce(key: string, message: string, fields?: Record<string, unknown>): void {
    // Every rejected payload carries its reason to Odoo; the log says it once per mapping revision.
    if (this.#warned.has(key)) return;
    if (this.#warned.size > 10_000) this.#warned.clear();
    this.#warned.add(key);
    this.#log("warn", message, fields);
  }
}

function rejectedIntake(item: RawIntake, reason: string): Intake {
  // A CSV row or a polled row says where it was (file and line) first: the person reading the reason looks there.
  const where = item.via?.at ? `${item.via.at}: ` : "";
  return {
    kind: "rejected",
    payload: item.payload,
    origin: item.origin,
    receivedAt: item.receivedAt,
    reason: where + reason,
  };
}

/** The schema check of mapped events, the same the pipeline applies: one bad event rejects the payload. */
function schemaProblem(events: CloudEvent[]): string | undefined {
  for (const [index, event] of events.entries()) {
    const checked = checkEvent(event);
    if (!checked.ok) return `event ${index} (${event.type} from ${event.source}): ${checked.reason}`;
  }
  return undefined;
}

/** The report for the items as they came in, from the pipeline's report for what was forwarded. */
function reportFor(planned: Planned[], inner: AcceptReport): AcceptReport {
  const items = planned.map((plan): AcceptReport["items"][number] => {
    if (plan.kind === "rejected") return { status: "rejected", reason: plan.reason };
    if (plan.kind === "pass") return inner.items[plan.at] ?? { status: "rejected", reason: "no report for this item" };
    let count = 0;
    for (const at of plan.at) {
      const item = inner.items[at];
      if (item?.status === "rejected") return { status: "rejected", reason: plan.note ?? item.reason };
      count += item?.status === "events" ? item.count : 0;
    }
    return { status: "events", count };
  });
  return { items, duplicates: inner.duplicates };
}
