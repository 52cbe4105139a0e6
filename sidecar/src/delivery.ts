// Spool → Odoo: batches (size / wait) to `shopfloor.event.ingest`, one
// result per item. What happens on a failure is decided by the error's code
// (the shared table `schemas/rpc_errors.json`, see odoo/errors.ts), never by
// its text:
//
// - retry_whole (`retry`: the database was busy; `unreachable`: nothing
//   reached Odoo): the batch stays queued and is retried whole after an
//   exponential backoff with jitter, behind a circuit breaker.
// - retry_smaller (`busy`: a timeout, a 502/503/504, a worker Odoo killed for
//   its time limit, an answer that breaks the contract) and split
//   (`batch_too_large`): the batch size is halved for the next try and grows
//   back (doubling after GROW_AFTER full batches in a row), so load Odoo
//   cannot take in one request is never resent whole forever.
// - bisect (`item_rejected`, `bad_request`, and any exception the table does
//   not name): Odoo raised for the whole call because of an item in it. The
//   halves go in order, each split again while it faults, until the item
//   that faults alone is found; it is set aside as a RejectedInput (its JSON
//   as the raw bytes, Odoo's fault as the reason), so a person sees it in
//   the dead-letter queue and the rest of the batch goes through. It is set
//   aside only if Odoo stores that record: when Odoo faults on everything
//   nothing is set aside and the batch is retried.
// - config (`forbidden`, `not_found`, `auth`): a fault of the whole sidecar's
//   setup, not of the items; retried with backoff, never counted against them.
//
// Every other failed try counts against each item in it (the spool's attempt
// count); an item that reaches the spool's limit is parked: out of delivery,
// counted, and shown until a person unparks or skips it. So no error makes
// the sidecar resend the same batch forever. An answer whose result for one
// item is unusable fails that item alone; the rest of the batch is recorded.
//
// Only one batch is in flight, and a failed batch is retried before anything
// newer, so one workcenter's events never overtake each other; inside a
// batch they go sorted by (workcenter, time).
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./core/backoff.ts";
import { CircuitBreaker } from "./core/breaker.ts";
import { type IngestResult, MAX_INGEST_BATCH } from "./core/contract.ts";
import { orderForDelivery } from "./core/order.ts";
import type { OdooClient } from "./core/ports.ts";
import { reject } from "./core/validate.ts";
import { actionOf, codeOf, type ErrorAction, type ErrorCode, OdooContractError } from "./odoo/errors.ts";
import type { DeliveryOutcome, Spool, SpoolEntry } from "./spool/spool.ts";

/** Most serialized bytes in one call: well under Odoo's request body limit, whatever the item sizes. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

export interface DeliveryOptions {
  spool: Spool;
  odoo: OdooClient;
  batchSize: number;
  batchWaitMs: number;
  backoff?: BackoffPolicy;
  breaker?: CircuitBreaker;
  random?: () => number;
  onBatch?: (report: BatchReport) => void;
  onError?: (err: Error, attempt: number, retryInMs: number, code: ErrorCode) => void;
  /** An event Odoo faulted on alone was stored in Odoo as rejected instead. */
  onSetAside?: (entry: SpoolEntry, fault: Error) => void;
  /** Items that reached the spool's attempt limit and were parked. */
  onParked?: (seqs: number[], error: string) => void;
  /** The batch size went down after a failure, or back up after a success. */
  onResize?: (size: number, reason: string) => void;
}

export interface BatchReport {
  size: number;
  ms: number;
  statuses: Record<string, number>;
}

/** Full batches that must go through at a shrunk size before it doubles again (so a limit is not hit at every step). */
export const GROW_AFTER = 4;

/** A failure that says nothing about the items: not counted against them. */
const NOT_COUNTED: ReadonlySet<ErrorCode> = new Set(["unreachable", "forbidden", "not_found", "auth"]);

export class Delivery {
  readonly #opts: DeliveryOptions;
  readonly breaker: CircuitBreaker;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #attempt = 0;
  #batchSize: number;
  /** The size the next call may carry: halved on `busy`/`batch_too_large`, doubled back on success. */
  #limit: number;
  #batchWaitMs: number;
  /** Full batches through in a row at the current shrunk limit. */
  #fullInARow = 0;
  readonly counters = { batches: 0, delivered: 0, failures: 0, splits: 0, setAside: 0, parked: 0, shrinks: 0 };
  /** Odoo answered the last call (for /healthz and the odoo_up gauge). */
  odooUp = false;
  /** When Odoo last stored something of ours (ms; 0 = never), for the no-progress check. */
  lastProgressAt = 0;
  /** The code of the last failure while it is unresolved (undefined after a success). */
  lastErrorCode: ErrorCode | undefined;
  /** When the current streak of failed calls began (undefined while calls succeed). */
  failingSince: number | undefined;

  constructor(opts: DeliveryOptions) {
    this.#opts = opts;
    this.breaker = opts.breaker ?? new CircuitBreaker();
    this.#batchSize = clampBatch(opts.batchSize);
    this.#limit = this.#batchSize;
    this.#batchWaitMs = opts.batchWaitMs;
  }

  /**
   * How long delivery has made no progress while items wait (0 when it
   * has): calls have failed since `failingSince` and nothing was stored since.
   */
  stalledMs(now: number): number {
    if (this.failingSince === undefined) return 0;
    return now - Math.max(this.failingSince, this.lastProgressAt);
  }

  /** The size the next batch may have (the configured size unless failures shrank it). */
  get batchLimit(): number {
    return this.#limit;
  }

  /** Hot reload of the batch settings. */
  configure(batchSize: number, batchWaitMs: number): void {
    this.#batchSize = clampBatch(batchSize);
    this.#limit = Math.min(this.#limit, this.#batchSize);
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

  async #next(): Promise<SpoolEntry[]> {
    return capBytes(await this.#opts.spool.queued(this.#limit));
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const wait = this.breaker.waitMs(Date.now());
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      let batch = await this.#next();
      if (batch.length === 0) {
        await this.#sleep(1_000);
        continue;
      }
      if (batch.length < this.#limit && this.#batchWaitMs > 0) {
        // Give a partial batch until its oldest item is batchWaitMs old to fill up.
        const age = Date.now() - Math.min(...batch.map((e) => e.receivedAt));
        if (age < this.#batchWaitMs) {
          await this.#sleepUnlessFull(this.#batchWaitMs - age);
          if (!this.#running) break;
          batch = await this.#next();
        }
      }
      await this.#deliver(batch);
    }
  }

  async #sleepUnlessFull(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.#running && Date.now() < until) {
      await this.#sleep(Math.min(until - Date.now(), 50));
      if ((await this.#opts.spool.queued(this.#limit)).length >= this.#limit) return;
    }
  }

  async #deliver(batch: SpoolEntry[]): Promise<void> {
    const ordered = orderForDelivery(batch);
    const started = Date.now();
    this.breaker.allows(started);
    const statuses: Record<string, number> = {};
    const stored = new Set<number>();
    const record = async (outcomes: DeliveryOutcome[]) => {
      if (outcomes.length === 0) return;
      await this.#opts.spool.markDelivered(outcomes);
      this.lastProgressAt = Date.now();
      for (const o of outcomes) {
        statuses[o.status] = (statuses[o.status] ?? 0) + 1;
        stored.add(o.seq);
      }
    };
    try {
      await this.#ingestBisecting(ordered, record);
      this.breaker.success();
      this.odooUp = true;
      this.lastErrorCode = undefined;
      this.failingSince = undefined;
      this.#attempt = 0;
      this.counters.batches++;
      this.counters.delivered += stored.size;
      if (this.#limit < this.#batchSize && batch.length >= this.#limit && ++this.#fullInARow >= GROW_AFTER) {
        this.#fullInARow = 0;
        this.#limit = Math.min(this.#batchSize, this.#limit * 2);
        this.#opts.onResize?.(this.#limit, `${GROW_AFTER} full batches went through`);
      }
      this.#opts.onBatch?.({ size: stored.size, ms: Date.now() - started, statuses });
    } catch (err) {
      const error = err as Error;
      const code = codeOf(error);
      const action = actionOf(code);
      this.breaker.failure(Date.now());
      this.odooUp = code !== "unreachable";
      this.lastErrorCode = code;
      this.failingSince ??= started;
      this.counters.failures++;
      this.counters.delivered += stored.size;
      if ((action === "retry_smaller" || action === "split") && this.#limit > 1) {
        this.#limit = Math.max(1, Math.floor(Math.min(this.#limit, ordered.length) / 2));
        this.#fullInARow = 0;
        this.counters.shrinks++;
        this.#opts.onResize?.(this.#limit, `${code}: ${error.message}`);
      }
      const retryIn =
        action === "split" ? 0 : backoffDelay(this.#attempt, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
      if (action !== "split") this.#attempt++;
      // Parts stored before the failure are out of the backlog; the rest stays queued.
      const left = ordered.filter((e) => !stored.has(e.seq)).map((e) => e.seq);
      await this.#countAttempt(left, `${error.name} [${code}]: ${error.message}`, NOT_COUNTED.has(code));
      this.#opts.onError?.(error, this.#attempt, retryIn, code);
      if (this.#running && retryIn > 0) await this.#sleep(retryIn);
    }
  }

  /** Records a failed try for these items; those at the spool's limit are parked. */
  async #countAttempt(seqs: number[], error: string, notCounted: boolean): Promise<void> {
    if (seqs.length === 0) return;
    const parked = await this.#opts.spool.markAttempt(seqs, error, { counts: !notCounted });
    if (parked.length > 0) {
      this.counters.parked += parked.length;
      this.#opts.onParked?.(parked, error);
    }
  }

  /**
   * Ingests `entries` in one call; when Odoo faults on the call as a whole
   * for an item in it, ingests the two halves in order instead (recursively),
   * and sets a lone faulting event aside. Each part Odoo stored is recorded
   * at once, so a later failure does not send it again. Throws what Odoo
   * answered when a part could be neither stored nor set aside.
   */
  async #ingestBisecting(entries: SpoolEntry[], record: (o: DeliveryOutcome[]) => Promise<void>): Promise<void> {
    let results: IngestResult[];
    try {
      results = await this.#opts.odoo.ingest(entries.map((e) => e.item));
    } catch (err) {
      if (bisects(err)) {
        if (entries.length === 1) return record([await this.#setAside(entries[0] as SpoolEntry, err as Error)]);
        this.counters.splits++;
        const half = Math.ceil(entries.length / 2);
        await this.#ingestBisecting(entries.slice(0, half), record);
        await this.#ingestBisecting(entries.slice(half), record);
        return;
      }
      throw err;
    }
    const keys = new Set(entries.map((e) => echoKey(e.source, e.eventId)));
    const outcomes: DeliveryOutcome[] = [];
    const unusable: SpoolEntry[] = [];
    entries.forEach((entry, i) => {
      const result = results[i];
      const echo = result && echoKey(result.source, result.id);
      if (echo && echo !== echoKey(entry.source, entry.eventId) && keys.has(echo)) {
        // Another item's result in this item's place: the answer's order cannot be trusted at all.
        throw new OdooContractError(
          `ingest result ${i} is for ${result.source}/${result.id}, expected ${entry.source}/${entry.eventId}`,
        );
      }
      const outcome = outcomeOf(entry, result);
      if (outcome) outcomes.push(outcome);
      else unusable.push(entry);
    });
    await record(outcomes);
    if (unusable.length > 0) {
      // Odoo gave no usable result for these alone: each tries again, counted, until parked.
      await this.#countAttempt(
        unusable.map((e) => e.seq),
        "Odoo's answer for this item had no usable result (no stored event id)",
        false,
      );
    }
  }

  /**
   * Stores an event Odoo faults on as a RejectedInput (the event's JSON as
   * its raw bytes, the fault as its reason). If Odoo faults on that too, the
   * fault is not the event's: the original fault is thrown and nothing is set aside.
   */
  async #setAside(entry: SpoolEntry, fault: Error): Promise<DeliveryOutcome> {
    const item = entry.item as { connection?: unknown };
    const rejected = reject(
      Buffer.from(JSON.stringify(entry.item)),
      {
        connection: typeof item.connection === "string" ? item.connection : "",
        origin: entry.source,
        receivedAt: new Date(entry.receivedAt),
      },
      `Odoo raised an exception for the whole ingest call while this event was in it, and only for this one ` +
        `once the batch was split (the rest was delivered). Odoo said: ${describeFault(fault)}`,
    );
    let result: IngestResult | undefined;
    try {
      [result] = await this.#opts.odoo.ingest([rejected]);
    } catch {
      throw fault;
    }
    if (!result || result.id !== rejected.id || !(result.event_id > 0)) throw fault;
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

function describeFault(fault: Error): string {
  const exception = (fault as { exception?: unknown }).exception;
  return typeof exception === "string" && exception ? `${exception}: ${fault.message}` : fault.message;
}

function echoKey(source: unknown, id: unknown): string {
  return JSON.stringify([source, id]);
}

function bisects(err: unknown): boolean {
  const action: ErrorAction = actionOf(codeOf(err));
  return action === "bisect" && (err as { name?: string }).name === "OdooFault";
}

/**
 * The outcome Odoo gave one item, or undefined when its result is unusable.
 * Odoo answers in order, so a result is the item's by position; a result
 * whose (source, id) echo differs (text Odoo had to escape) is still the
 * item's when Odoo stored a row for it, and the difference is noted.
 */
function outcomeOf(entry: SpoolEntry, result: IngestResult | undefined): DeliveryOutcome | undefined {
  if (!result || typeof result !== "object" || typeof result.status !== "string") return undefined;
  if (!(Number.isInteger(result.event_id) && result.event_id > 0)) return undefined;
  const echoed = result.id === entry.eventId && result.source === entry.source;
  const error = typeof result.error === "string" ? result.error : "";
  return {
    seq: entry.seq,
    status: result.status,
    odooEventId: result.event_id,
    error: echoed
      ? error
      : `${error ? `${error} ` : ""}(Odoo echoed ${JSON.stringify(result.source)}/${JSON.stringify(result.id)})`.slice(
          0,
          4096,
        ),
  };
}

/** The oldest entries that fit MAX_BATCH_BYTES (always at least one). */
function capBytes(entries: SpoolEntry[]): SpoolEntry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += (entries[i] as SpoolEntry).bytes;
    if (bytes > MAX_BATCH_BYTES && i > 0) return entries.slice(0, i);
  }
  return entries;
}

function clampBatch(size: number): number {
  return Math.max(1, Math.min(MAX_INGEST_BATCH, Math.floor(size) || 1));
}
