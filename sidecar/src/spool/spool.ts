// The spool: every item a source hands over is committed here before the
// source acknowledges upstream, and stays until Odoo has stored it. Bounded:
// when the undelivered backlog reaches its capacity, `append` waits (the
// source stops acking, the broker keeps the backlog) — nothing is dropped.
import type { IngestItem, IngestStatus, SidecarConfig } from "../core/contract.ts";

/** The explicit state of a spooled item. */
export type SpoolState =
  | { state: "queued"; attempts: number; lastError: string }
  | { state: "delivered"; status: IngestStatus; odooEventId: number; error: string; deliveredAt: number };

export type SpoolStateName = SpoolState["state"];
export const SPOOL_STATES: readonly SpoolStateName[] = ["queued", "delivered"];

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

export interface SpoolLimits {
  /** Most undelivered bytes (serialized items). */
  capacityBytes: number;
  /** Most undelivered items. */
  capacityEvents: number;
  /** How long delivered items stay for replay, ms. */
  retentionMs: number;
}

export const DEFAULT_LIMITS: SpoolLimits = {
  capacityBytes: 2 * 1024 ** 3,
  capacityEvents: 5_000_000,
  retentionMs: 7 * 24 * 3600_000,
};

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
  /** Oldest queued entries, in arrival order, skipping `exclude` (in flight). */
  queued(limit: number, exclude?: ReadonlySet<number>): Promise<SpoolEntry[]>;
  /** Odoo stored these (whatever the status): they leave the backlog and free space. */
  markDelivered(outcomes: DeliveryOutcome[]): Promise<void>;
  /** A delivery attempt failed in transport; the entries stay queued. */
  markAttempt(seqs: number[], error: string): Promise<void>;
  list(state: SpoolStateName, limit: number): Promise<SpoolEntry[]>;
  /** Entries (any state) whose event time is in [from, to), for replay. */
  range(range: ReplayRange, afterSeq: number, limit: number): Promise<SpoolEntry[]>;
  countRange(range: ReplayRange): Promise<number>;
  /** Requeues entries for redelivery (replay). Returns how many. */
  requeue(seqs: number[]): Promise<number>;
  /** Drops delivered entries older than the retention window. Returns how many. */
  purge(nowMs: number): Promise<number>;
  stats(): Promise<SpoolStats>;
  /** The last `sidecar_config` seen, so the sidecar can start while Odoo is down. */
  loadConfig(): Promise<SidecarConfig | undefined>;
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
