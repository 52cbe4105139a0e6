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
// Partitions. Up to `partitions` batches are in flight at once. A partition
// is not fixed: it is the set of whole workcenters (the spool's workcenter
// key, as `orderForDelivery` uses it; input with no workcenter goes by its
// source) one batch carries. What holds, per workcenter:
//
// - its events are in at most one batch in flight at a time (a workcenter of
//   a batch in flight is "busy": no other batch takes any of its events);
// - each batch takes the oldest queued events of each workcenter it carries
//   (a prefix of that workcenter's queue, in arrival order), and sorts them by
//   (workcenter, time) — so a workcenter's events reach Odoo in the order the
//   single-batch delivery sent them;
// - a failed batch is retried before anything newer of its workcenters: its
//   events stay queued, its workcenters stay out of every other batch until
//   its retry is due, and the retry takes their oldest events again.
//
// Who takes what: when slots are free, delivery reads the oldest queued
// events outside the busy (and waiting) workcenters, up to one batch per free
// slot, groups them by workcenter in the order of each one's oldest event, and
// hands each workcenter whole to the free slot with the fewest events so far
// (that still has room). So the workcenters whose oldest events are oldest go
// first, several workcenters spread over the slots, and one workcenter with a
// huge backlog fills one slot while the others keep the rest moving.
//
// Shared by the partitions, because Odoo down is global: the circuit breaker
// (half-open lets one probe out, not one per slot), the batch size (shrunk on
// `busy`/`batch_too_large` for every slot) and the pause after a failure that
// says nothing about the items (unreachable, busy, configuration). A failure
// of a batch's own items — a database conflict (`retry`: two partitions
// booking the same stock; Odoo has already retried the whole call itself) or
// a fault bisecting could not isolate — holds only that batch's workcenters
// for its backoff; the other slots go on. When a batch held after a conflict is due,
// it goes alone (the batches in flight finish first, nothing is sent beside
// it): next to the partition that beat it, it could lose again and again. With one partition every failure
// pauses all delivery, as a single batch in flight always did.
//
// Workcenters that shared an order or a material lately (`data.order`,
// `data.material`; core/affinity.ts) count as one here: dealt out together and
// busy together, so two partitions do not write one manufacturing order's rows
// or one material's stock in Odoo at once (the second transaction would wait
// for the first, then fail and run again).
//
// Catch-up mode: while the queued backlog is at least `catchupBacklog`, the
// batch size goes up to `catchupSize` (still halved on `busy` /
// `batch_too_large`, so Odoo's time limits bound it); it ends once the
// backlog is under half that (hysteresis, so it does not flap). The rate
// events leave the backlog is measured over the last minute (DrainMeter) for
// the drain-time estimate the metrics, the heartbeat and Odoo's dashboard show.

import { RowAffinity } from "./core/affinity.ts";
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
  /**
   * A partial batch goes as soon as this many events wait to go (in all the
   * batches the free partitions would take), without waiting out
   * `batchWaitMs` (0 or omitted: only once full or once the wait is out).
   * Every call has a cost of its own in Odoo, so small batches are kept
   * waiting; a busy floor's need not wait the whole time.
   */
  batchSendAt?: number;
  /** Batches in flight at once, each with whole workcenters (default 1). */
  partitions?: number;
  /**
   * false: each workcenter is its own partition, whatever orders and materials
   * it shares with others (as for two sidecars feeding one Odoo); default true
   * (see core/affinity.ts).
   */
  affinity?: boolean;
  /** Events of a work center the affinity sees before it lets it leave the one group of what is not known yet (default 50; see core/affinity.ts). */
  affinityWarmupEvents?: number;
  /** Queued events from which catch-up mode runs (0 or omitted: never). */
  catchupBacklog?: number;
  /** The batch size in catch-up mode (at most MAX_INGEST_BATCH). */
  catchupSize?: number;
  /** The queued backlog now; without it the spool's stats are read, at most once a second. */
  backlog?: () => number;
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
  /** Catch-up mode began (true) or ended (false) at this backlog. */
  onCatchup?: (on: boolean, backlog: number) => void;
}

/** The delivery settings a configuration reload may change. */
export interface DeliverySettings {
  batchSize: number;
  batchWaitMs: number;
  batchSendAt?: number | undefined;
  partitions?: number | undefined;
  catchupBacklog?: number | undefined;
  catchupSize?: number | undefined;
}

export interface BatchReport {
  size: number;
  ms: number;
  statuses: Record<string, number>;
}

/** Full batches that must go through at a shrunk size before it doubles again (so a limit is not hit at every step). */
export const GROW_AFTER = 4;

/** How long an empty read past busy workcenters is trusted while new items arrive (ms). */
export const EMPTY_WINDOW_MS = 100;

/** Most batches in flight at once, whatever the configuration says. */
export const MAX_PARTITIONS = 64;

/** A failure that says nothing about the items: not counted against them. */
const NOT_COUNTED: ReadonlySet<ErrorCode> = new Set(["unreachable", "forbidden", "not_found", "auth"]);

/**
 * Catch-up mode with hysteresis: on once the backlog reaches `threshold`,
 * off only once it is under half of it, so a backlog hovering around the
 * threshold does not switch the batch size at every batch.
 */
export class CatchupMode {
  #on = false;
  threshold: number;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  get on(): boolean {
    return this.#on;
  }

  /** Takes the backlog now; returns whether the mode changed. */
  update(backlog: number): boolean {
    const was = this.#on;
    if (!(this.threshold > 0)) this.#on = false;
    else if (!this.#on && backlog >= this.threshold) this.#on = true;
    else if (this.#on && backlog < this.threshold / 2) this.#on = false;
    return was !== this.#on;
  }
}

/**
 * The rate events leave the backlog (stored by Odoo, whatever their status)
 * over the last `windowMs` (over the time since `startedAt` while that is
 * shorter), and the time the backlog takes to drain at it.
 */
export class DrainMeter {
  readonly windowMs: number;
  readonly #startedAt: number;
  /** (time, count) of each addition inside the window, oldest first. */
  readonly #samples: [number, number][] = [];
  #inWindow = 0;

  constructor(windowMs = 60_000, startedAt = Date.now()) {
    this.windowMs = windowMs;
    this.#startedAt = startedAt;
  }

  /** `n` events left the backlog at `now`. */
  add(n: number, now: number): void {
    this.#samples.push([now, n]);
    this.#inWindow += n;
    this.#trim(now);
  }

  #trim(now: number): void {
    while (this.#samples.length > 0 && (this.#samples[0] as [number, number])[0] <= now - this.windowMs) {
      this.#inWindow -= (this.#samples.shift() as [number, number])[1];
    }
  }

  /** Events per second over the window (0 when nothing left it). */
  rate(now: number): number {
    this.#trim(now);
    const seconds = Math.max(1, Math.min(this.windowMs, now - this.#startedAt) / 1000);
    return this.#inWindow / seconds;
  }

  /** Seconds to drain `backlog` at the current rate: 0 when empty, undefined when nothing drains. */
  etaSeconds(backlog: number, now: number): number | undefined {
    if (backlog <= 0) return 0;
    const rate = this.rate(now);
    return rate > 0 ? Math.ceil(backlog / rate) : undefined;
  }
}

interface Hold {
  /** When the workcenter's retry is due (ms). */
  until: number;
  /** Failed tries in a row of batches with this workcenter. */
  attempt: number;
  /** The batch lost a database conflict (`retry`): its retry goes alone (see #retryAlone). */
  conflict: boolean;
}

export class Delivery {
  readonly #opts: DeliveryOptions;
  readonly breaker: CircuitBreaker;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** Something happened (new items, a batch landed) since the loop last looked: do not sleep. */
  #kicked = false;
  #attempt = 0;
  #batchSize: number;
  /** The size the next call may carry: halved on `busy`/`batch_too_large`, doubled back on success. */
  #limit: number;
  #batchWaitMs: number;
  #batchSendAt = 0;
  #partitions = 1;
  #catchupSize = 0;
  readonly #catchup = new CatchupMode(0);
  readonly drain = new DrainMeter();
  /** Full batches through in a row at the current shrunk limit. */
  #fullInARow = 0;
  /** Batches in flight by id. */
  readonly #flights = new Map<number, Promise<void>>();
  #flightIds = 0;
  /** Spool seqs and workcenters of the batches in flight. */
  readonly #busySeqs = new Set<number>();
  readonly #busyWorkcenters = new Set<string>();
  /** Workcenters whose batch failed on its own items: out of delivery until their retry is due. */
  readonly #held = new Map<string, Hold>();
  /** Workcenters that shared an order or a material lately: one partition (see core/affinity.ts). */
  readonly affinity: RowAffinity;
  /** No new batch goes out before this (ms): after a failure that is not the items'. */
  #pausedUntil = 0;
  #backlogRead = { at: 0, value: 0 };
  /** Times new items were announced (notify). */
  #notified = 0;
  /** The last window read while skipping workcenters, when it came back empty. */
  #emptyWindow: { skip: ReadonlySet<string>; notified: number; at: number } | undefined;
  readonly counters = {
    batches: 0,
    delivered: 0,
    failures: 0,
    splits: 0,
    setAside: 0,
    parked: 0,
    shrinks: 0,
    /** Failed batches retried whole because the database was busy (`retry`: a conflict, Odoo's own retries spent). */
    conflicts: 0,
    /** Most batches that were in flight at once. */
    maxInFlight: 0,
  };
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
    this.affinity = new RowAffinity({ warmupEvents: opts.affinityWarmupEvents });
    this.#batchSize = clampBatch(opts.batchSize);
    this.#limit = this.#batchSize;
    this.#batchWaitMs = opts.batchWaitMs;
    this.#settle(opts);
  }

  /**
   * How long delivery has made no progress while items wait (0 when it
   * has): calls have failed since `failingSince` and nothing was stored since.
   */
  stalledMs(now: number): number {
    if (this.failingSince === undefined) return 0;
    return now - Math.max(this.failingSince, this.lastProgressAt);
  }

  /** The size the next batch may have (the configured size unless failures shrank it, or catch-up raised it). */
  get batchLimit(): number {
    return this.#limit;
  }

  /** Batches in flight now. */
  get inFlight(): number {
    return this.#flights.size;
  }

  get partitions(): number {
    return this.#partitions;
  }

  /** Queued events that send a partial batch before its wait is out (0: only a full one). */
  get batchSendAt(): number {
    return this.#batchSendAt;
  }

  /** Delivery runs in catch-up mode (large batches for a large backlog). */
  get catchingUp(): boolean {
    return this.#catchup.on;
  }

  /** What the heartbeat and the metrics report about the backlog and how fast it drains. */
  drainStats(backlog: number, now = Date.now()): { catchup: boolean; backlog: number; rate: number; etaS?: number } {
    const rate = Math.round(this.drain.rate(now) * 10) / 10;
    const etaS = this.drain.etaSeconds(backlog, now);
    return etaS === undefined
      ? { catchup: this.catchingUp, backlog, rate }
      : { catchup: this.catchingUp, backlog, rate, etaS };
  }

  /** Hot reload of the batch settings. A lower partition count lets the batches in flight finish. */
  configure(batchSize: number, batchWaitMs: number, more: Partial<DeliverySettings> = {}): void {
    this.#batchSize = clampBatch(batchSize);
    this.#limit = Math.min(this.#limit, this.#target());
    this.#batchWaitMs = batchWaitMs;
    this.#settle(more);
    this.#limit = Math.min(this.#limit, this.#target());
    this.#kick();
  }

  #settle(s: {
    batchSendAt?: number | undefined;
    partitions?: number | undefined;
    catchupBacklog?: number | undefined;
    catchupSize?: number | undefined;
  }) {
    if (s.batchSendAt !== undefined) this.#batchSendAt = Math.max(0, Math.floor(s.batchSendAt) || 0);
    if (s.partitions !== undefined) {
      this.#partitions = Math.max(1, Math.min(MAX_PARTITIONS, Math.floor(s.partitions) || 1));
    }
    if (s.catchupBacklog !== undefined) this.#catchup.threshold = Math.max(0, s.catchupBacklog || 0);
    if (s.catchupSize !== undefined) this.#catchupSize = s.catchupSize > 0 ? clampBatch(s.catchupSize) : 0;
  }

  /** How many queued events send a partial batch before its wait is out: the send-at size, or a full batch. */
  #sendAt(): number {
    return this.#batchSendAt > 0 ? Math.min(this.#batchSendAt, this.#limit) : this.#limit;
  }

  /** The size batches grow back to: the configured one, or the catch-up one while catching up. */
  #target(): number {
    return this.#catchup.on ? Math.max(this.#batchSize, this.#catchupSize) : this.#batchSize;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** New items were spooled. */
  notify(): void {
    this.#notified++;
    this.#kick();
  }

  #kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Lets the batches in flight finish (their results are recorded), then stops. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  /** Sleeps `ms`, or less when kicked (unless `firm`: a pause that must be kept). */
  #sleep(ms: number, firm = false): Promise<void> {
    if (!firm && this.#kicked) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = firm ? () => (this.#running ? undefined : done()) : done;
    }).then(() => {
      this.#wake = undefined;
    });
  }

  async #backlog(): Promise<number> {
    if (this.#opts.backlog) return this.#opts.backlog();
    const now = Date.now();
    if (now - this.#backlogRead.at >= 1_000) {
      this.#backlogRead = { at: now, value: (await this.#opts.spool.stats()).queued };
    }
    return this.#backlogRead.value;
  }

  /** Switches catch-up mode by the backlog now. */
  async #updateCatchup(): Promise<void> {
    const backlog = await this.#backlog();
    if (!this.#catchup.update(backlog)) return;
    if (this.#catchup.on) {
      // Straight to the catch-up size unless failures have shrunk the batches (then they grow back to it).
      if (this.#limit >= this.#batchSize) this.#limit = this.#target();
    } else {
      this.#limit = Math.min(this.#limit, this.#batchSize);
    }
    this.#fullInARow = 0;
    this.#opts.onCatchup?.(this.#catchup.on, backlog);
    this.#opts.onResize?.(
      this.#limit,
      this.#catchup.on ? `catch-up mode: ${backlog} events queued` : `catch-up over: ${backlog} events queued`,
    );
  }

  /** Workcenters no new batch may take now: in flight, or waiting for their retry. */
  #unavailable(now: number): Set<string> {
    // A busy workcenter's whole group: its partners' events wait for its batch, not go beside it.
    const out = new Set<string>();
    for (const wc of this.#busyWorkcenters) for (const member of this.affinity.membersOf(wc)) out.add(member);
    for (const [wc, hold] of this.#held) if (hold.until > now) out.add(wc);
    return out;
  }

  /** The oldest queued events the free slots may take. */
  async #window(free: number): Promise<SpoolEntry[]> {
    const now = Date.now();
    const skip = this.#unavailable(now);
    if (skip.size === 0) return this.#opts.spool.queued(this.#limit * free, this.#busySeqs);
    // Skipping busy workcenters scans past all their queued rows: with one workcenter's large
    // backlog that is the whole backlog, for nothing. An empty answer stays empty while no skipped
    // workcenter came free and nothing new was spooled (new items are looked for within
    // EMPTY_WINDOW_MS, not at every one of a steady stream; everything again after a second, for
    // rows another process put back in the queue).
    const empty = this.#emptyWindow;
    if (
      empty &&
      now - empty.at < (empty.notified === this.#notified ? 1_000 : EMPTY_WINDOW_MS) &&
      [...empty.skip].every((wc) => skip.has(wc))
    ) {
      return [];
    }
    const window = await this.#opts.spool.queued(this.#limit * free, this.#busySeqs, skip);
    this.#emptyWindow = window.length === 0 ? { skip, notified: this.#notified, at: now } : undefined;
    return window;
  }

  /** When the next held workcenter's retry is due (ms from now), if any is held. */
  #nextHoldMs(now: number): number | undefined {
    let next: number | undefined;
    for (const hold of this.#held.values()) {
      if (hold.until > now) next = Math.min(next ?? Number.POSITIVE_INFINITY, hold.until - now);
    }
    return next;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#kicked = false;
      const now = Date.now();
      const wait = Math.max(this.breaker.waitMs(now), this.#pausedUntil - now);
      if (wait > 0) {
        await this.#sleep(wait, true);
        continue;
      }
      if (this.#partitions > 1 && (await this.#retryAlone(now))) continue;
      // While the breaker is not closed only one probe goes out.
      const slots = this.breaker.state.state === "closed" ? this.#partitions : 1;
      const free = slots - this.#flights.size;
      if (free <= 0) {
        await this.#sleep(1_000);
        continue;
      }
      await this.#updateCatchup();
      let window = await this.#window(free);
      if (window.length === 0) {
        await this.#sleep(Math.min(1_000, this.#nextHoldMs(Date.now()) ?? 1_000));
        continue;
      }
      if (window.length < this.#sendAt() && this.#batchWaitMs > 0) {
        // Give a partial batch until its oldest item is batchWaitMs old to fill up (or to reach the send-at size).
        const age = Date.now() - Math.min(...window.map((e) => e.receivedAt));
        if (age < this.#batchWaitMs) {
          await this.#sleepUnlessFull(this.#batchWaitMs - age);
          if (!this.#running) break;
          window = await this.#window(free);
        }
      }
      if (this.#opts.affinity !== false) this.affinity.learn(window);
      const groupOf = (wc: string) => this.affinity.groupOf(wc);
      for (const batch of assignSlots(window, free, this.#limit, groupOf)) this.#launch(capBytes(batch));
    }
    await Promise.all(this.#flights.values());
  }

  /**
   * A batch that lost a database conflict to another partition is tried again
   * alone: once the batches in flight are done, its workcenters' oldest events
   * go with nothing beside them. Retried next to the partition that beat it,
   * it could lose again, and again, while that one keeps committing (seen on
   * the scale bench as one line never applied). True when it waited or sent.
   */
  async #retryAlone(now: number): Promise<boolean> {
    const due = new Set<string>();
    for (const [wc, hold] of this.#held) if (hold.conflict && hold.until <= now) due.add(wc);
    if (due.size === 0) return false;
    if (this.#flights.size > 0) {
      await this.#sleep(1_000); // a batch ending kicks the loop
      return true;
    }
    await this.#updateCatchup();
    const mine = (await this.#window(1)).filter((e) => due.has(e.workcenter));
    if (mine.length > 0) {
      this.#launch(capBytes(mine.slice(0, this.#limit)));
      return true;
    }
    // None of their events is among the oldest queued: they go with the others again.
    for (const wc of due) {
      const hold = this.#held.get(wc);
      if (hold) hold.conflict = false;
    }
    return false;
  }

  async #sleepUnlessFull(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.#running && Date.now() < until) {
      await this.#sleep(Math.min(until - Date.now(), 50), true);
      if ((await this.#window(1)).length >= this.#sendAt()) return;
    }
  }

  #launch(batch: SpoolEntry[]): void {
    if (batch.length === 0) return;
    const id = ++this.#flightIds;
    const workcenters = new Set(batch.map((e) => e.workcenter));
    for (const e of batch) this.#busySeqs.add(e.seq);
    for (const wc of workcenters) this.#busyWorkcenters.add(wc);
    const flight = this.#deliver(batch, workcenters)
      .catch((err: Error) => {
        // Recording the outcome failed (the spool): pause and try again, nothing recorded is lost.
        const retryIn = backoffDelay(this.#attempt++, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
        this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + retryIn);
        this.#opts.onError?.(err, this.#attempt, retryIn, codeOf(err));
      })
      .finally(() => {
        for (const e of batch) this.#busySeqs.delete(e.seq);
        for (const wc of workcenters) this.#busyWorkcenters.delete(wc);
        this.#flights.delete(id);
        this.#kick();
      });
    this.#flights.set(id, flight);
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.#flights.size);
  }

  async #deliver(batch: SpoolEntry[], workcenters: ReadonlySet<string>): Promise<void> {
    const ordered = orderForDelivery(batch);
    const started = Date.now();
    this.breaker.allows(started);
    const statuses: Record<string, number> = {};
    const stored = new Set<number>();
    const record = async (outcomes: DeliveryOutcome[]) => {
      if (outcomes.length === 0) return;
      await this.#opts.spool.markDelivered(outcomes);
      this.lastProgressAt = Date.now();
      this.drain.add(outcomes.length, this.lastProgressAt);
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
      for (const wc of workcenters) this.#held.delete(wc);
      this.counters.batches++;
      this.counters.delivered += stored.size;
      const target = this.#target();
      if (this.#limit < target && batch.length >= this.#limit && ++this.#fullInARow >= GROW_AFTER) {
        this.#fullInARow = 0;
        this.#limit = Math.min(target, this.#limit * 2);
        this.#opts.onResize?.(this.#limit, `${GROW_AFTER} full batches went through`);
      }
      this.#opts.onBatch?.({ size: stored.size, ms: Date.now() - started, statuses });
    } catch (err) {
      const error = err as Error;
      const code = codeOf(error);
      const action = actionOf(code);
      // With several partitions, a failure of this batch's own items holds its workcenters only.
      const local = this.#partitions > 1 && (code === "retry" || action === "bisect");
      this.odooUp = code !== "unreachable";
      this.lastErrorCode = code;
      this.failingSince ??= started;
      this.counters.failures++;
      if (code === "retry") this.counters.conflicts++;
      this.counters.delivered += stored.size;
      if ((action === "retry_smaller" || action === "split") && this.#limit > 1) {
        this.#limit = Math.max(1, Math.floor(Math.min(this.#limit, ordered.length) / 2));
        this.#fullInARow = 0;
        this.counters.shrinks++;
        this.#opts.onResize?.(this.#limit, `${code}: ${error.message}`);
      }
      let attempt: number;
      let retryIn: number;
      if (local) {
        attempt = 0;
        for (const wc of workcenters) attempt = Math.max(attempt, this.#held.get(wc)?.attempt ?? 0);
        retryIn = backoffDelay(attempt, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
        attempt++;
        const until = Date.now() + retryIn;
        for (const wc of workcenters) this.#held.set(wc, { until, attempt, conflict: code === "retry" });
      } else {
        this.breaker.failure(Date.now());
        retryIn =
          action === "split"
            ? 0
            : backoffDelay(this.#attempt, this.#opts.backoff ?? DEFAULT_BACKOFF, this.#opts.random);
        if (action !== "split") this.#attempt++;
        attempt = this.#attempt;
        if (retryIn > 0) this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + retryIn);
        // Workcenters held by an earlier local failure wait at least as long.
        for (const wc of workcenters) this.#held.delete(wc);
      }
      // Parts stored before the failure are out of the backlog; the rest stays queued.
      const left = ordered.filter((e) => !stored.has(e.seq)).map((e) => e.seq);
      await this.#countAttempt(left, `${error.name} [${code}]: ${error.message}`, NOT_COUNTED.has(code));
      this.#opts.onError?.(error, attempt, retryIn, code);
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

/**
 * Deals `window` (queued entries, oldest first) out to `slots` batches of at
 * most `limit`: groups of workcenters (`groupOf`; by default each workcenter
 * alone) in the order of their oldest entry, each whole to the batch with the
 * fewest entries that still has room (the first on a tie), taking as many of
 * its oldest entries as fit (so of each of its workcenters, the oldest). A
 * workcenter is in one batch only; each batch keeps arrival order. Empty
 * batches are left out.
 */
export function assignSlots(
  window: readonly SpoolEntry[],
  slots: number,
  limit: number,
  groupOf: (workcenter: string) => string = (wc) => wc,
): SpoolEntry[][] {
  const groups = new Map<string, SpoolEntry[]>();
  for (const e of window) {
    const key = groupOf(e.workcenter);
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  const batches: SpoolEntry[][] = Array.from({ length: Math.max(1, slots) }, () => []);
  for (const group of groups.values()) {
    let best: SpoolEntry[] | undefined;
    for (const b of batches) if (b.length < limit && (!best || b.length < best.length)) best = b;
    if (!best) break;
    best.push(...group.slice(0, limit - best.length));
  }
  return batches.filter((b) => b.length > 0).map((b) => b.sort((x, y) => x.seq - y.seq));
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
