// The SourceSink every source writes to: validate → stamp (clock, skew,
// connection, mapping revision) → spool. Invalid input becomes a
// RejectedInput and is spooled like an event: nothing is dropped here.

import { type OffsetEstimator, type SkewTracker, stampEvent } from "./core/clock.ts";
import type { CloudEvent, IngestItem, SidecarConfig } from "./core/contract.ts";
import { parseExact } from "./core/exact-json.ts";
import { workcenterResolver } from "./core/order.ts";
import type { AcceptReport, Intake, SourceSink } from "./core/ports.ts";
import { checkEvent, reject, validatePayload } from "./core/validate.ts";
import type { Spool, SpoolRecord } from "./spool/spool.ts";

export interface PipelineCounters {
  events: number;
  rejected: number;
  duplicates: number;
}

export interface PipelineOptions {
  spool: Spool;
  offset: OffsetEstimator;
  skew: SkewTracker;
  config: SidecarConfig;
  /** Called for every item spooled (metrics). */
  onItem?: (kind: "event" | "rejected", item: IngestItem) => void;
  /** Items the spool already held under the same (source, id): a resend or a redelivery. */
  onDuplicates?: (count: number) => void;
}

export class Pipeline implements SourceSink {
  readonly #spool: Spool;
  readonly #offset: OffsetEstimator;
  readonly #skew: SkewTracker;
  #config: SidecarConfig;
  #workcenterOf: (source: string) => string;
  readonly counters: PipelineCounters = { events: 0, rejected: 0, duplicates: 0 };
  readonly #onItem: PipelineOptions["onItem"];
  readonly #onDuplicates: PipelineOptions["onDuplicates"];

  constructor(opts: PipelineOptions) {
    this.#spool = opts.spool;
    this.#offset = opts.offset;
    this.#skew = opts.skew;
    this.#config = opts.config;
    this.#workcenterOf = workcenterResolver(opts.config.sources);
    this.#onItem = opts.onItem;
    this.#onDuplicates = opts.onDuplicates;
  }

  /** Hot reload: new mappings apply to what arrives from now on. */
  setConfig(config: SidecarConfig): void {
    this.#config = config;
    this.#workcenterOf = workcenterResolver(config.sources);
  }

  toRecord(intake: Intake): SpoolRecord {
    const cfg = this.#config;
    const receivedAt = intake.kind === "event" ? Date.now() : intake.receivedAt.getTime();
    const observed = this.#offset.canonical(receivedAt);
    const where = { connection: cfg.code, origin: "", receivedAt: new Date(observed) };
    let event: CloudEvent | undefined;
    let text: string | undefined;
    let sourceTimeMs = 0;
    let item: IngestItem;
    if (intake.kind === "raw") {
      where.origin = intake.origin;
      const v = validatePayload(intake.payload, where);
      if (v.ok) {
        event = v.event;
        text = v.text;
        sourceTimeMs = v.timeMs;
      }
      item = v.ok ? v.event : v.rejected;
    } else if (intake.kind === "rejected") {
      where.origin = intake.origin;
      item = reject(intake.payload, where, intake.reason);
    } else {
      // Derived events (rules) are checked against the same schema: a bad rule shows in Odoo.
      const checked = checkEvent(intake.event);
      if (checked.ok) {
        event = checked.event;
        sourceTimeMs = checked.timeMs;
      }
      where.origin = intake.event.source ?? "derived";
      item = checked.ok ? checked.event : reject(Buffer.from(JSON.stringify(intake.event)), where, checked.reason);
    }
    if (event) {
      const stamped = stampEvent(event, {
        observedCanonicalMs: observed,
        connection: cfg.code,
        mappingRevision: cfg.revision,
        skew: this.#skew,
        policy: cfg.skew,
        sourceTimeMs,
      });
      this.counters.events++;
      this.#onItem?.("event", stamped);
      return {
        item: stamped,
        workcenter: this.#workcenterOf(stamped.source),
        timeMs: stamped.time === event.time ? sourceTimeMs : Date.parse(stamped.time),
        receivedAt,
        body: text === undefined ? undefined : stampedText(text, event, stamped),
      };
    }
    this.counters.rejected++;
    this.#onItem?.("rejected", item);
    return { item, workcenter: this.#workcenterOf(item.source), timeMs: observed, receivedAt };
  }

  async accept(items: Intake[], state?: Record<string, unknown>): Promise<AcceptReport> {
    const records = items.map((i) => this.toRecord(i));
    const result = await this.#spool.append(records, state);
    this.counters.duplicates += result.duplicates;
    if (result.duplicates > 0) this.#onDuplicates?.(result.duplicates);
    return {
      items: records.map(({ item }) =>
        "rejected" in item && item.rejected === true
          ? { status: "rejected" as const, reason: String(item.reason) }
          : { status: "events" as const, count: 1 },
      ),
      duplicates: result.duplicates,
    };
  }

  loadState(prefix: string): Promise<Record<string, unknown>> {
    return this.#spool.loadState(prefix);
  }
}

/** The attributes `stampEvent` adds, in the order it adds them. */
const STAMPS = ["observedtime", "connection", "mappingrev", "skewms", "clockflag", "origtime"] as const;

/**
 * The stamped event as JSON text, made from the text it was received as:
 * the stamps are appended before the closing brace instead of serializing
 * the whole event again (a third of the pipeline's time per event). The
 * result parses to the same value as `JSON.stringify(stamped)` — same keys,
 * same order. When stamping replaced something the sender wrote (a
 * corrected `time`, or the sender's own `observedtime` etc.), the event is
 * serialized in full instead.
 */
export function stampedText(text: string, received: CloudEvent, stamped: CloudEvent): string {
  const fields = stamped as unknown as Record<string, unknown>;
  if (stamped.time !== received.time || STAMPS.some((key) => Object.hasOwn(received, key))) {
    // Written again whole, from the received text read with its numbers as they arrived.
    const exact = parseExact<Record<string, unknown>>(text);
    exact.time = stamped.time;
    for (const key of STAMPS) {
      if (fields[key] !== undefined) exact[key] = fields[key];
      else delete exact[key];
    }
    return JSON.stringify(exact);
  }
  let stamps = "";
  for (const key of STAMPS) {
    if (fields[key] !== undefined) stamps += `,"${key}":${JSON.stringify(fields[key])}`;
  }
  // `text` parsed to an object (the schema says so): its last `}` closes it.
  const end = text.lastIndexOf("}");
  return `${text.slice(0, end)}${stamps}${text.slice(end)}`;
}
