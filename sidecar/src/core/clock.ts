// Canonical time is Odoo's server clock. The sidecar estimates its own
// offset to it from request round trips (NTP's rule: the server stamped its
// time somewhere inside the round trip, so assume the middle and trust the
// sample with the shortest round trip most). Per source it tracks
// skew = observedtime − time; skew beyond the bound flags the event and,
// when configured, corrects `time` by the source's estimated offset.
import type { CloudEvent } from "./contract.ts";

export interface RoundTrip {
  /** Local clock when the request left, ms. */
  sentAt: number;
  /** Local clock when the reply arrived, ms. */
  receivedAt: number;
  /** Server clock in the reply, ms. */
  serverTime: number;
}

/** Offset of the server clock to the local one (server − local), from the best recent samples. */
export class OffsetEstimator {
  readonly #samples: { offset: number; rtt: number }[] = [];
  readonly #keep: number;

  constructor(keep = 8) {
    this.#keep = keep;
  }

  add(trip: RoundTrip): void {
    const rtt = Math.max(0, trip.receivedAt - trip.sentAt);
    const offset = trip.serverTime - (trip.sentAt + rtt / 2);
    this.#samples.push({ offset, rtt });
    if (this.#samples.length > this.#keep) this.#samples.shift();
  }

  /** 0 until a sample exists. Uses the shortest round trip: its midpoint assumption errs least. */
  get offsetMs(): number {
    let best: { offset: number; rtt: number } | undefined;
    for (const s of this.#samples) if (!best || s.rtt < best.rtt) best = s;
    return best ? Math.round(best.offset) : 0;
  }

  /** Half the best round trip: the bound on the offset's error. */
  get uncertaintyMs(): number {
    let rtt = Number.POSITIVE_INFINITY;
    for (const s of this.#samples) rtt = Math.min(rtt, s.rtt);
    return Number.isFinite(rtt) ? Math.round(rtt / 2) : Number.POSITIVE_INFINITY;
  }

  /** Local time → canonical (Odoo) time. */
  canonical(localMs: number): number {
    return localMs + this.offsetMs;
  }
}

export interface SkewPolicy {
  bound_ms: number;
  correct: boolean;
}

export interface SkewVerdict {
  skewMs: number;
  flagged: boolean;
  /** Corrected source time (ms) when the policy corrects, else undefined. */
  correctedTime?: number;
}

/** Per-source skew: the median of recent samples, so one late message does not move it. */
export class SkewTracker {
  readonly #bySource = new Map<string, number[]>();
  readonly #keep: number;
  readonly flaggedSources = new Set<string>();

  constructor(keep = 15) {
    this.#keep = keep;
  }

  observe(source: string, sourceTimeMs: number, observedMs: number, policy: SkewPolicy): SkewVerdict {
    const skewMs = Math.round(observedMs - sourceTimeMs);
    let samples = this.#bySource.get(source);
    if (!samples) {
      samples = [];
      this.#bySource.set(source, samples);
    }
    samples.push(skewMs);
    if (samples.length > this.#keep) samples.shift();
    const flagged = policy.bound_ms > 0 && Math.abs(skewMs) > policy.bound_ms;
    if (flagged) this.flaggedSources.add(source);
    // Only a flagged source needs its median (a sort) to see whether it is back in bound.
    else if (this.flaggedSources.has(source) && Math.abs(this.skewOf(source)) <= policy.bound_ms) {
      this.flaggedSources.delete(source);
    }
    if (flagged && policy.correct) return { skewMs, flagged, correctedTime: sourceTimeMs + this.skewOf(source) };
    return { skewMs, flagged };
  }

  /** Median skew of a source (0 when unknown). */
  skewOf(source: string): number {
    const samples = this.#bySource.get(source);
    if (!samples || samples.length === 0) return 0;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  }

  /** Largest absolute median skew over all sources (for the metric). */
  maxAbsSkew(): number {
    let max = 0;
    for (const source of this.#bySource.keys()) max = Math.max(max, Math.abs(this.skewOf(source)));
    return max;
  }

  entries(): [string, number][] {
    return [...this.#bySource.keys()].map((s) => [s, this.skewOf(s)]);
  }
}

let lastIsoMs = Number.NaN;
let lastIso = "";

/** `new Date(ms).toISOString()`, remembering the last one: a burst of messages shares its millisecond. */
export function isoTime(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}

/**
 * Stamps the sidecar's extension attributes on an event: observedtime in
 * canonical time, connection, mapping revision, and the skew verdict
 * (`skewms`; `clockflag` when beyond the bound; `origtime` when `time` was
 * corrected, so the source's own stamp is never lost).
 */
export function stampEvent(
  event: CloudEvent,
  opts: {
    observedCanonicalMs: number;
    connection: string;
    mappingRevision: number;
    skew: SkewTracker;
    policy: SkewPolicy;
    /** `Date.parse(event.time)` when the caller has it already. */
    sourceTimeMs?: number;
  },
): CloudEvent {
  const stamped: CloudEvent = {
    ...event,
    observedtime: isoTime(opts.observedCanonicalMs),
    connection: opts.connection,
    mappingrev: opts.mappingRevision,
  };
  const sourceTime = opts.sourceTimeMs ?? Date.parse(event.time);
  if (Number.isNaN(sourceTime)) return stamped;
  const verdict = opts.skew.observe(event.source, sourceTime, opts.observedCanonicalMs, opts.policy);
  stamped.skewms = verdict.skewMs;
  if (verdict.flagged) stamped.clockflag = true;
  if (verdict.correctedTime !== undefined) {
    stamped.origtime = event.time;
    stamped.time = new Date(verdict.correctedTime).toISOString();
  }
  return stamped;
}
