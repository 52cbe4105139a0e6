// Helpers of the scale benchmark (scale.bench.ts), kept pure where they can
// be so they are unit-tested: an OdooClient wrapper that sees what the
// delivery really had in flight and when Odoo answered `applied` for each
// event, paced publishing, and latency percentiles that do not hide the
// events that were never applied.
import type { IngestItem, IngestResult } from "../src/core/contract.ts";
import type { OdooClient } from "../src/core/ports.ts";
import { percentile } from "./harness.ts";

/** What an instrumented client saw of the delivery's ingest calls. */
export interface IngestProbeStats {
  calls: number;
  /** Most ingest calls in flight at the same time: the partitions that really ran in parallel. */
  maxInFlight: number;
  /** Mean calls in flight while at least one was (1 = never overlapping). */
  meanInFlight: number;
  items: number;
  statuses: Record<string, number>;
}

/**
 * Wraps an OdooClient: every `ingest` is counted, overlapping calls are
 * measured, and each result `applied` is recorded with the time Odoo's answer
 * arrived (`now()`, ms), by the event's id. Everything else passes through.
 */
export class IngestProbe {
  readonly client: OdooClient;
  readonly appliedAt = new Map<string, number>();
  readonly #now: () => number;
  #inFlight = 0;
  #max = 0;
  #calls = 0;
  #items = 0;
  #statuses: Record<string, number> = {};
  /** Integral of calls in flight over time, and the time with any in flight (ms). */
  #area = 0;
  #busy = 0;
  #lastChange = 0;

  constructor(inner: OdooClient, now: () => number = () => performance.now()) {
    this.#now = now;
    const probe = this;
    this.client = {
      sidecarConfig: (code) => inner.sidecarConfig(code),
      heartbeat: (code, stats) => inner.heartbeat(code, stats),
      dispatchPull: (code, limit) => inner.dispatchPull(code, limit),
      dispatchAck: (results) => inner.dispatchAck(results),
      probePull: (code, limit) => inner.probePull(code, limit),
      probeAnswer: (answers) => inner.probeAnswer(answers),
      async ingest(items: IngestItem[]): Promise<IngestResult[]> {
        probe.#change(+1);
        probe.#calls++;
        try {
          const results = await inner.ingest(items);
          const at = probe.#now();
          probe.#items += items.length;
          for (const r of results) {
            probe.#statuses[r.status] = (probe.#statuses[r.status] ?? 0) + 1;
            if (r.status === "applied") probe.appliedAt.set(r.id, at);
          }
          return results;
        } finally {
          probe.#change(-1);
        }
      },
    };
  }

  #change(by: 1 | -1): void {
    const now = this.#now();
    if (this.#inFlight > 0) {
      this.#area += this.#inFlight * (now - this.#lastChange);
      this.#busy += now - this.#lastChange;
    }
    this.#lastChange = now;
    this.#inFlight += by;
    this.#max = Math.max(this.#max, this.#inFlight);
  }

  stats(): IngestProbeStats {
    return {
      calls: this.#calls,
      maxInFlight: this.#max,
      meanInFlight: this.#busy > 0 ? this.#area / this.#busy : 0,
      items: this.#items,
      statuses: { ...this.#statuses },
    };
  }

  /** Forgets everything seen so far (between the runs of one bench). */
  reset(): void {
    this.appliedAt.clear();
    this.#max = this.#inFlight;
    this.#calls = 0;
    this.#items = 0;
    this.#statuses = {};
    this.#area = 0;
    this.#busy = 0;
    this.#lastChange = this.#now();
  }
}

/** When the i-th of a steady stream at `rate` per second is due, from `t0` (ms). */
export function dueAt(t0: number, i: number, rate: number): number {
  if (!(rate > 0)) throw new Error(`a publishing rate must be above 0 per second, got ${rate}`);
  return t0 + (i * 1000) / rate;
}

export interface PacedRun {
  sent: number;
  /** How late the most delayed send was against its due time (ms): a publisher that fell behind shows here. */
  maxLagMs: number;
  seconds: number;
}

/**
 * Calls `send(i)` for i = 0 … count-1, each at its due time at `rate` per
 * second. A send that comes due while an earlier one was late goes at once
 * (the schedule holds on average; no send is skipped).
 */
export async function runPaced(
  count: number,
  rate: number,
  send: (i: number) => void,
  clock: { now(): number; sleep(ms: number): Promise<void> } = {
    now: () => performance.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  },
): Promise<PacedRun> {
  const t0 = clock.now();
  let maxLagMs = 0;
  for (let i = 0; i < count; i++) {
    const due = dueAt(t0, i, rate);
    const wait = due - clock.now();
    if (wait > 1) await clock.sleep(wait);
    maxLagMs = Math.max(maxLagMs, clock.now() - due);
    send(i);
  }
  return { sent: count, maxLagMs, seconds: (clock.now() - t0) / 1000 };
}

export interface LatencySummary {
  p50: number;
  p99: number;
  /** Events published that were applied. */
  applied: number;
  published: number;
}

/**
 * Publish → applied latencies by event id. An event not applied by `endedAt`
 * counts with the latency it had reached then (`endedAt` − published): a lower
 * bound, so a percentile never looks better for events that never arrived.
 */
export function latencySummary(
  publishedAt: ReadonlyMap<string, number>,
  appliedAt: ReadonlyMap<string, number>,
  endedAt: number,
): LatencySummary {
  const values: number[] = [];
  let applied = 0;
  for (const [id, at] of publishedAt) {
    const done = appliedAt.get(id);
    if (done === undefined) values.push(endedAt - at);
    else {
      applied++;
      values.push(done - at);
    }
  }
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 50), p99: percentile(values, 99), applied, published: publishedAt.size };
}

/**
 * The worst publish → applied latency of the events published in each second of
 * the run (from the first publish), unapplied ones counted until `endedAt`: where
 * in the run a p99 comes from (the start, a stall, or all along).
 */
export function worstBySecond(
  publishedAt: ReadonlyMap<string, number>,
  appliedAt: ReadonlyMap<string, number>,
  endedAt: number,
): number[] {
  let first = Number.POSITIVE_INFINITY; // a loop, not Math.min(...values): a long run has too many for one call
  for (const at of publishedAt.values()) first = Math.min(first, at);
  const worst: number[] = [];
  for (const [id, at] of publishedAt) {
    const second = Math.floor((at - first) / 1000);
    const latency = (appliedAt.get(id) ?? endedAt) - at;
    worst[second] = Math.max(worst[second] ?? 0, latency);
  }
  return Array.from(worst, (value) => value ?? 0);
}

/** CPU seconds per 1,000 events (NaN when nothing was applied, never a division by zero that looks good). */
export function perThousand(cpuSeconds: number, events: number): number {
  return events > 0 ? (cpuSeconds * 1000) / events : Number.NaN;
}
