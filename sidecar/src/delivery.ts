// Spool → Odoo: batches (size / wait) to `shopfloor.event.ingest`, one
// result per item; a transport failure keeps the whole batch queued and
// retries it after an exponential backoff with jitter, behind a circuit
// breaker. Only one batch is in flight, and a failed batch is retried
// before anything newer, so one workcenter's events never overtake each
// other; inside a batch they go sorted by (workcenter, time).
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./core/backoff.ts";
import { CircuitBreaker } from "./core/breaker.ts";
import { MAX_INGEST_BATCH } from "./core/contract.ts";
import { orderForDelivery } from "./core/order.ts";
import type { OdooClient } from "./core/ports.ts";
import type { Spool, SpoolEntry } from "./spool/spool.ts";

export interface DeliveryOptions {
  spool: Spool;
  odoo: OdooClient;
  batchSize: number;
  batchWaitMs: number;
  backoff?: BackoffPolicy;
  breaker?: CircuitBreaker;
  random?: () => number;
  onBatch?: (report: BatchReport) => void;
  onError?: (err: Error, attempt: number, retryInMs: number) => void;
}

export interface BatchReport {
  size: number;
  ms: number;
  statuses: Record<string, number>;
}

export class Delivery {
  readonly #opts: DeliveryOptions;
  readonly breaker: CircuitBreaker;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #attempt = 0;
  #batchSize: number;
  #batchWaitMs: number;
  readonly counters = { batches: 0, delivered: 0, failures: 0 };
  /** Odoo answered the last call (for /healthz and the odoo_up gauge). */
  odooUp = false;

  constructor(opts: DeliveryOptions) {
    this.#opts = opts;
    this.breaker = opts.breaker ?? new CircuitBreaker();
    this.#batchSize = clampBatch(opts.batchSize);
    this.#batchWaitMs = opts.batchWaitMs;
  }

  /** Hot reload of the batch settings. */
  configure(batchSize: number, batchWaitMs: number): void {
    this.#batchSize = clampBatch(batchSize);
    this.#batchWaitMs = batchWaitMs;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** New items were spooled. */
  notify(): void {
    this.#wake?.();
  }

  /** Lets the batch in flight finish (its results are recorded), then stops. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).then(() => {
      this.#wake = undefined;
    });
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const wait = this.breaker.waitMs(Date.now());
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      let batch = await this.#opts.spool.queued(this.#batchSize);
      if (batch.length === 0) {
        await this.#sleep(1_000);
        continue;
      }
      if (batch.length < this.#batchSize && this.#batchWaitMs > 0) {
        // Give a partial batch until its oldest item is batchWaitMs old to fill up.
        const age = Date.now() - Math.min(...batch.map((e) => e.receivedAt));
        if (age < this.#batchWaitMs) {
          await this.#sleepUnlessFull(this.#batchWaitMs - age);
          if (!this.#running) break;
          batch = await this.#opts.spool.queued(this.#batchSize);
        }
      }
      await this.#deliver(batch);
    }
  }

  async #sleepUnlessFull(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.#running && Date.now() < until) {
      await this.#sleep(Math.min(until - Date.now(), 50));
      if ((await this.#opts.spool.queued(this.#batchSize)).length >= this.#batchSize) return;
    }
  }

  async #deliver(batch: SpoolEntry[]): Promise<void> {
    const ordered = orderForDelivery(batch);
    const started = Date.now();
    this.breaker.allows(started);
    try {
      const results = await this.#opts.odoo.ingest(ordered.map((e) => e.item));
      this.breaker.success();
      this.odooUp = true;
      this.#attempt = 0;
      const statuses: Record<string, number> = {};
      const outcomes = ordered.map((entry, i) => {
        const r = results[i];
        if (!r || r.id !== entry.eventId || r.source !== entry.source) {
          throw new Error(`ingest result ${i} is for ${r?.source}/${r?.id}, expected ${entry.source}/${entry.eventId}`);
        }
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        return { seq: entry.seq, status: r.status, odooEventId: r.event_id, error: r.error ?? "" };
      });
      await this.#opts.spool.markDelivered(outcomes);
      this.counters.batches++;
      this.counters.delivered += outcomes.length;
      this.#opts.onBatch?.({ size: outcomes.length, ms: Date.now() - started, statuses });
    } catch (err) {
      const error = err as Error;
      this.breaker.failure(Date.now());
      this.odooUp = false;
      this.counters.failures++;
      const retryIn = backoffDelay(this.#attempt, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
      this.#attempt++;
      await this.#opts.spool.markAttempt(
        ordered.map((e) => e.seq),
        `${error.name}: ${error.message}`,
      );
      this.#opts.onError?.(error, this.#attempt, retryIn);
      if (this.#running) await this.#sleep(retryIn);
    }
  }
}

function clampBatch(size: number): number {
  return Math.max(1, Math.min(MAX_INGEST_BATCH, Math.floor(size) || 1));
}
