// The spool: every item a source hands over is committed here before the
// source acknowledges upstream, and stays until Odoo has stored it. Bounded:
// when the undelivered backlog reaches its capacity, `append` waits (the
// source stops acking, the broker keeps the backlog) — nothing is dropped.
//
// An item is queued (waiting for delivery), delivered (Odoo stored it, with
// the status Odoo answered), parked (taken out of delivery: it failed
// `maxAttempts` times, or a person parked it) or skipped (a person gave it up
// with a reason: never delivered). Parked items still count against the
// capacity — they are undelivered data and the bound on disk must hold —
// while skipped ones, like delivered ones, are kept for the retention window
// and then purged. Every park, unpark and skip is written to the spool's
// action log with its reason, who and when.
import type { IngestItem, IngestStatus, SidecarConfig } from "../core/contract.ts";
import type { CachedConfig } from "./config-cache.ts";

export type { CachedConfig } from "./config-cache.ts";

/** Why, by whom and when a row was parked or skipped. */
export interface SpoolNote {
  reason: string;
  by: string;
  /** ms since the epoch. */
  at: number;
}

/** The explicit state of a spooled item. */
export type SpoolState =
  | { state: "queued"; attempts: number; lastError: string }
  | { state: "delivered"; status: IngestStatus; odooEventId: number; error: string; deliveredAt: number }
  | ({ state: "parked"; attempts: number; lastError: string } & SpoolNote)
  | ({ state: "skipped"; attempts: number; lastError: string } & SpoolNote);

export type SpoolStateName = SpoolState["state"];
export const SPOOL_STATES: readonly SpoolStateName[] = ["queued", "delivered", "parked", "skipped"];

/** What a person (or delivery, after too many failed attempts) did to a row. */
export type SpoolAction = "park" | "unpark" | "skip";

/** The states each action moves a row out of; any other is refused. */
export const ACTION_FROM: Readonly<Record<SpoolAction, readonly SpoolStateName[]>> = {
  park: ["queued"],
  unpark: ["parked", "skipped"],
  skip: ["queued", "parked"],
};

/** One line of the spool's action log. */
export interface SpoolLogEntry {
  seq: number;
  source: string;
  eventId: string;
  action: SpoolAction;
  /** The row's state before the action. */
  from: SpoolStateName;
  reason: string;
  by: string;
  /** ms since the epoch. */
  at: number;
}

/** Who parks rows that reached `maxAttempts`. */
export const DELIVERY_ACTOR = "sidecar delivery";

/** An action refused for some rows (none was changed): each with the state it is in, or "missing". */
export class SpoolActionError extends Error {
  override readonly name = "SpoolActionError";
  readonly action: SpoolAction;
  readonly refused: readonly { seq: number; state: SpoolStateName | "missing" }[];

  constructor(action: SpoolAction, refused: readonly { seq: number; state: SpoolStateName | "missing" }[]) {
    const allowed = ACTION_FROM[action].join(" or ");
    const rows = refused
      .map(({ seq, state }) => (state === "missing" ? `${seq} is not in the spool` : `${seq} is ${state}`))
      .join("; ");
    super(`cannot ${action} (only ${allowed} rows can be): ${rows}; nothing was changed`);
    this.action = action;
    this.refused = refused;
  }
}

/** Checks an action's reason (required, kept to 1,000 characters) and returns it trimmed. */
export function actionReason(action: SpoolAction, reason: string): string {
  const trimmed = reason.trim();
  if (!trimmed) throw new Error(`a reason is required to ${action} spool rows`);
  return trimmed.slice(0, 1000);
}

/** The note of a person's action: the reason required, who (trimmed, "unknown" when blank), now. */
export function actionNote(action: SpoolAction, reason: string, by: string): SpoolNote {
  return { reason: actionReason(action, reason), by: by.trim().slice(0, 200) || "unknown", at: Date.now() };
}

/** The note of a row delivery parked after `attempts` failed tries. */
export function parkedByDelivery(attempts: number, lastError: string): SpoolNote {
  return {
    reason: `failed ${attempts} delivery attempts; the last one: ${lastError}`.slice(0, 1000),
    by: DELIVERY_ACTOR,
    at: Date.now(),
  };
}

/** What goes into the spool. */
export interface SpoolRecord {
  item: IngestItem;
  /** Delivery-order key (workcenter of the event's source). */
  workcenter: string;
  /** Event time in ms (receive time for rejected input). */
  timeMs: number;
  /** Local receive time in ms. */
  receivedAt: number;
  /**
   * `item` as JSON text when the producer already has it (the pipeline keeps
   * the received text of a valid event and appends its stamps), so the spool
   * does not serialize it again. Must parse to a value equal to `item`.
   */
  body?: string;
}

export interface SpoolEntry extends SpoolRecord {
  seq: number;
  source: string;
  eventId: string;
  bytes: number;
  st: SpoolState;
}

export interface DeliveryOutcome {
  seq: number;
  status: IngestStatus;
  odooEventId: number;
  error: string;
}

export interface AppendResult {
  added: number;
  /** Items already in the spool under the same (source, id): a redelivery. */
  duplicates: number;
}

export interface SpoolStats {
  queued: number;
  queuedBytes: number;
  /** Taken out of delivery; still count against the capacity. */
  parked: number;
  parkedBytes: number;
  /** Given up by a person; kept for the retention window, never delivered. */
  skipped: number;
  delivered: number;
  capacityBytes: number;
  capacityEvents: number;
  /** Appends waiting for space right now (backpressure). */
  waitingAppends: number;
  /** Receive time of the oldest queued item, ms (0 when none). */
  oldestQueuedAt: number;
  /** Delivered items by Odoo status. */
  byStatus: Partial<Record<IngestStatus, number>>;
}

/** The spool's counters, kept in memory (see SqliteSpool#depth). */
export interface SpoolDepth {
  queued: number;
  queuedBytes: number;
  parked: number;
  parkedBytes: number;
  skipped: number;
  /** Appends waiting for space right now (backpressure). */
  waitingAppends: number;
}

export interface SpoolLimits {
  /** Most undelivered bytes (serialized items, queued and parked). */
  capacityBytes: number;
  /** Most undelivered items (queued and parked). */
  capacityEvents: number;
  /** How long delivered and skipped items stay for replay, ms. */
  retentionMs: number;
  /** Failed delivery attempts after which `markAttempt` parks a row. */
  maxAttempts: number;
}

export const DEFAULT_LIMITS: SpoolLimits = {
  capacityBytes: 2 * 1024 ** 3,
  capacityEvents: 5_000_000,
  retentionMs: 7 * 24 * 3600_000,
  maxAttempts: 10,
};

/** The limits with defaults filled in; a bad value is an error naming it. */
export function spoolLimits(limits: { [K in keyof SpoolLimits]?: SpoolLimits[K] | undefined }): SpoolLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits) as [keyof SpoolLimits, number | undefined][]) {
    if (value !== undefined) out[key] = value;
  }
  if (!(Number.isInteger(out.maxAttempts) && out.maxAttempts >= 1)) {
    throw new RangeError(`spool maxAttempts must be an integer of at least 1, got ${out.maxAttempts}`);
  }
  return out;
}

export interface MarkAttemptOptions {
  /**
   * false: the failure was not the items' (Odoo unreachable, busy, the
   * circuit open): the error is recorded but the attempt does not count
   * towards parking, so an outage never parks the backlog.
   */
  counts?: boolean;
}

export interface ReplayRange {
  fromMs: number;
  toMs: number;
  source?: string;
}

export interface Spool {
  /**
   * Commits records and the rule state that produced them in one
   * transaction. Resolves after the commit; waits while the spool is full.
   * A record whose (source, id) is already spooled is a duplicate, not an error.
   */
  append(records: SpoolRecord[], state?: Record<string, unknown>): Promise<AppendResult>;
  /** Rule state whose keys start with `prefix`. */
  loadState(prefix: string): Promise<Record<string, unknown>>;
  /**
   * Oldest queued entries, in arrival order, skipping `exclude` (in flight)
   * and every entry whose workcenter key is in `skipWorkcenters` (a batch of
   * that workcenter is in flight or waits for its retry). Never parked or skipped ones.
   */
  queued(limit: number, exclude?: ReadonlySet<number>, skipWorkcenters?: ReadonlySet<string>): Promise<SpoolEntry[]>;
  /**
   * Odoo stored these (whatever the status): they leave the backlog and free
   * space. Also a row parked or skipped while it was in flight: Odoo has it.
   */
  markDelivered(outcomes: DeliveryOutcome[]): Promise<void>;
  /**
   * A delivery attempt of these queued entries failed: each one's attempt
   * count goes up and its last error is kept. Rows that reach `maxAttempts`
   * are parked (logged, by DELIVERY_ACTOR); returns their seqs.
   */
  markAttempt(seqs: number[], error: string, opts?: MarkAttemptOptions): Promise<number[]>;
  /** Takes queued rows out of delivery. Returns how many; throws SpoolActionError (changing nothing) for others. */
  park(seqs: number[], reason: string, by: string): Promise<number>;
  /** Puts parked or skipped rows back in the queue, attempts reset, in seq order. */
  unpark(seqs: number[], reason: string, by: string): Promise<number>;
  /** Gives queued or parked rows up: never delivered, kept for the retention window. */
  skip(seqs: number[], reason: string, by: string): Promise<number>;
  /** The newest lines of the action log (park, unpark, skip), newest first; of one row when `seq` is given. */
  actionLog(limit: number, seq?: number): Promise<SpoolLogEntry[]>;
  /** Entries in a state: queued and parked oldest first, delivered and skipped newest first. */
  list(state: SpoolStateName, limit: number): Promise<SpoolEntry[]>;
  /** Entries (any state) whose event time is in [from, to), for replay. */
  range(range: ReplayRange, afterSeq: number, limit: number): Promise<SpoolEntry[]>;
  countRange(range: ReplayRange): Promise<number>;
  /** Requeues entries for redelivery (replay). Returns how many. */
  requeue(seqs: number[]): Promise<number>;
  /** Drops delivered and skipped entries older than the retention window. Returns how many. */
  purge(nowMs: number): Promise<number>;
  stats(): Promise<SpoolStats>;
  /**
   * The last `sidecar_config` seen, so the sidecar can start while Odoo is
   * down. Its secrets come back only when the spool was given the key they
   * were encrypted with; otherwise they are named in `missingSecrets`.
   */
  loadConfig(): Promise<CachedConfig | undefined>;
  /** Keeps the secrets encrypted under the spool's key, or leaves them out when it has none (config-cache.ts). */
  saveConfig(config: SidecarConfig): Promise<void>;
  close(): Promise<void>;
}

/** Identity of an item for deduplication: (source, id), as Odoo's unique key. */
export function itemKey(item: IngestItem): { source: string; eventId: string } {
  return { source: item.source, eventId: item.id };
}

export function itemBytes(item: IngestItem): number {
  return Buffer.byteLength(JSON.stringify(item), "utf8");
}

/** Serializes appends that must wait for space, in arrival order. */
export class SpaceGate {
  readonly #waiters: (() => void)[] = [];

  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves once `tryReserve()` succeeded, asking again each time space is
   * freed. `tryReserve` checks and reserves in one step: appends issued in the
   * same turn must not all see the same free space.
   */
  async wait(tryReserve: () => boolean): Promise<void> {
    // Earlier waiters go first, so a big append cannot be starved by small ones.
    if (this.#waiters.length === 0 && tryReserve()) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (tryReserve()) {
          this.#waiters.shift();
          resolve();
          this.freed();
        }
      };
      this.#waiters.push(check);
      if (this.#waiters.length === 1) check();
    });
  }

  /** Space was freed: let the first waiter try again. */
  freed(): void {
    this.#waiters[0]?.();
  }
}
