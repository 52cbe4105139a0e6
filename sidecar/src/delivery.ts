// Spool → Odoo: batches (size / wait) to `shopfloor.event.ingest`, one
// result per item; a transport failure keeps the whole batch queued and
// retries it after an exponential backoff with jitter, behind a circuit
// breaker. Only one batch is in flight, and a failed batch is retried
// before anything newer, so one workcenter's events never overtake each
// other; inside a batch they go sorted by (workcenter, time).
//
// A batch Odoo refuses as a whole (an exception for the whole call, e.g. one
// poisoned event making the server raise) is bisected: the halves go in
// order, each split again while it faults, until the event that faults alone
// is found. That event is set aside as a RejectedInput (its JSON as the raw
// bytes, Odoo's fault as the reason), so a person sees it in the dead-letter
// queue and the rest of the batch goes through. It is set aside only if Odoo
// stores that record: when Odoo faults on everything (a broken module, a
// revoked key) nothing is set aside and the batch is retried whole, as for
// a transport failure. A fault that says the database was busy (see
// isTransientFault) is never bisected: the batch is retried whole, later.
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./core/backoff.ts";
import { CircuitBreaker } from "./core/breaker.ts";
import { type IngestResult, MAX_INGEST_BATCH } from "./core/contract.ts";
import { orderForDelivery } from "./core/order.ts";
import type { OdooClient } from "./core/ports.ts";
import { reject } from "./core/validate.ts";
import { isTransientFault, OdooFault } from "./odoo/errors.ts";
import type { DeliveryOutcome, Spool, SpoolEntry } from "./spool/spool.ts";

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
  /** An event Odoo faulted on alone was stored in Odoo as rejected instead. */
  onSetAside?: (entry: SpoolEntry, fault: Error) => void;
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
  readonly counters = { batches: 0, delivered: 0, failures: 0, splits: 0, setAside: 0 };
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
    const statuses: Record<string, number> = {};
    const stored = new Set<number>();
    const record = async (outcomes: DeliveryOutcome[]) => {
      await this.#opts.spool.markDelivered(outcomes);
      for (const o of outcomes) {
        statuses[o.status] = (statuses[o.status] ?? 0) + 1;
        stored.add(o.seq);
      }
    };
    try {
      await this.#ingestBisecting(ordered, record);
      this.breaker.success();
      this.odooUp = true;
      this.#attempt = 0;
      this.counters.batches++;
      this.counters.delivered += stored.size;
      this.#opts.onBatch?.({ size: stored.size, ms: Date.now() - started, statuses });
    } catch (err) {
      const error = err as Error;
      this.breaker.failure(Date.now());
      this.odooUp = false;
      this.counters.failures++;
      this.counters.delivered += stored.size;
      const retryIn = backoffDelay(this.#attempt, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
      this.#attempt++;
      // Parts stored before the failure are out of the backlog; the rest stays queued.
      await this.#opts.spool.markAttempt(
        ordered.filter((e) => !stored.has(e.seq)).map((e) => e.seq),
        `${error.name}: ${error.message}`,
      );
      this.#opts.onError?.(error, this.#attempt, retryIn);
      if (this.#running) await this.#sleep(retryIn);
    }
  }

  /**
   * Ingests `entries` in one call; when Odoo faults on the call as a whole,
   * ingests the two halves in order instead (recursively), and sets a lone
   * faulting event aside. Each part Odoo stored is recorded at once, so a
   * later failure does not send it again. Throws what Odoo answered when a
   * part could be neither stored nor set aside.
   */
  async #ingestBisecting(entries: SpoolEntry[], record: (o: DeliveryOutcome[]) => Promise<void>): Promise<void> {
    let results: IngestResult[];
    try {
      results = await this.#opts.odoo.ingest(entries.map((e) => e.item));
    } catch (err) {
      if (!(err instanceof OdooFault) || isTransientFault(err)) throw err;
      if (entries.length === 1) return record([await this.#setAside(entries[0] as SpoolEntry, err)]);
      this.counters.splits++;
      const half = Math.ceil(entries.length / 2);
      await this.#ingestBisecting(entries.slice(0, half), record);
      await this.#ingestBisecting(entries.slice(half), record);
      return;
    }
    const outcomes = entries.map((entry, i) => {
      const r = results[i];
      if (!r || r.id !== entry.eventId || r.source !== entry.source) {
        throw new Error(`ingest result ${i} is for ${r?.source}/${r?.id}, expected ${entry.source}/${entry.eventId}`);
      }
      return { seq: entry.seq, status: r.status, odooEventId: r.event_id, error: r.error ?? "" };
    });
    await record(outcomes);
  }

  /**
   * Stores an event Odoo faults on as a RejectedInput (the event's JSON as
   * its raw bytes, the fault as its reason). If Odoo faults on that too, the
   * fault is not the event's: the original fault is thrown and nothing is set aside.
   */
  async #setAside(entry: SpoolEntry, fault: OdooFault): Promise<DeliveryOutcome> {
    const item = entry.item as { connection?: unknown };
    const rejected = reject(
      Buffer.from(JSON.stringify(entry.item)),
      {
        connection: typeof item.connection === "string" ? item.connection : "",
        origin: entry.source,
        receivedAt: new Date(entry.receivedAt),
      },
      `Odoo raised an exception for the whole ingest call while this event was in it, and only for this one ` +
        `once the batch was split (the rest was delivered). Odoo said: ${fault.message}`,
    );
    let result: IngestResult | undefined;
    try {
      [result] = await this.#opts.odoo.ingest([rejected]);
    } catch {
      throw fault;
    }
    if (!result || result.id !== rejected.id) throw fault;
    this.counters.setAside++;
    this.#opts.onSetAside?.(entry, fault);
    return {
      seq: entry.seq,
      status: result.status,
      odooEventId: result.event_id,
      error: `set aside as rejected input ${rejected.id}: ${fault.message}`.slice(0, 4096),
    };
  }
}

function clampBatch(size: number): number {
  return Math.max(1, Math.min(MAX_INGEST_BATCH, Math.floor(size) || 1));
}
