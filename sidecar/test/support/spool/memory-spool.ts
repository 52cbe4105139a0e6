// A spool in memory: same semantics as SqliteSpool minus durability. For
// tests of delivery and for `simulate` runs that need no disk.
import type { IngestStatus, SidecarConfig } from "../../../src/core/contract.ts";
import { type CachedConfig, openConfig, sealConfig } from "../../../src/spool/config-cache.ts";
import {
  ACTION_FROM,
  type AppendResult,
  actionNote,
  type DeliveryOutcome,
  itemBytes,
  type MarkAttemptOptions,
  parkedByDelivery,
  type ReplayRange,
  SpaceGate,
  type Spool,
  type SpoolAction,
  SpoolActionError,
  type SpoolEntry,
  type SpoolLimits,
  type SpoolLogEntry,
  type SpoolNote,
  type SpoolRecord,
  type SpoolStateName,
  type SpoolStats,
  spoolLimits,
} from "../../../src/spool/spool.ts";

export class MemorySpool implements Spool {
  readonly limits: SpoolLimits;
  readonly #entries = new Map<number, SpoolEntry>();
  readonly #keys = new Set<string>();
  readonly #kv = new Map<string, unknown>();
  readonly #gate = new SpaceGate();
  readonly #log: SpoolLogEntry[] = [];
  #seq = 0;
  /** Undelivered rows (queued and parked): what counts against the capacity. */
  #held = 0;
  #heldBytes = 0;
  /** Stored as SqliteSpool stores it, so both keep the same secrets (see config-cache.ts). */
  #config: string | undefined;
  readonly #secretKey: Buffer | undefined;

  constructor(limits: Partial<SpoolLimits> = {}, options: { secretKey?: Buffer } = {}) {
    this.limits = spoolLimits(limits);
    this.#secretKey = options.secretKey;
  }

  #reservedBytes = 0;
  #reservedEvents = 0;

  #fits(bytes: number, events: number): boolean {
    const held = this.#held + this.#reservedEvents;
    const heldBytes = this.#heldBytes + this.#reservedBytes;
    return (
      held === 0 || (heldBytes + bytes <= this.limits.capacityBytes && held + events <= this.limits.capacityEvents)
    );
  }

  #count(state: SpoolStateName): { n: number; bytes: number } {
    let n = 0;
    let bytes = 0;
    for (const e of this.#entries.values()) {
      if (e.st.state !== state) continue;
      n++;
      bytes += e.bytes;
    }
    return { n, bytes };
  }

  async append(records: SpoolRecord[], state?: Record<string, unknown>): Promise<AppendResult> {
    const sizes = records.map((r) => itemBytes(r.item));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    await this.#gate.wait(() => {
      if (!this.#fits(bytes, records.length)) return false;
      this.#reservedBytes += bytes;
      this.#reservedEvents += records.length;
      return true;
    });
    this.#reservedBytes -= bytes;
    this.#reservedEvents -= records.length;
    let added = 0;
    records.forEach((r, i) => {
      const key = `${r.item.source}\0${r.item.id}`;
      if (this.#keys.has(key)) return;
      this.#keys.add(key);
      const seq = ++this.#seq;
      // Stored as a copy, as a disk spool would.
      this.#entries.set(seq, {
        ...structuredClone(r),
        seq,
        source: r.item.source,
        eventId: r.item.id,
        bytes: sizes[i] as number,
        st: { state: "queued", attempts: 0, lastError: "" },
      });
      added++;
      this.#held++;
      this.#heldBytes += sizes[i] as number;
    });
    if (state) for (const [k, v] of Object.entries(state)) this.#kv.set(k, structuredClone(v));
    this.#gate.freed();
    return { added, duplicates: records.length - added };
  }

  async loadState(prefix: string): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of [...this.#kv].sort(([a], [b]) => (a < b ? -1 : 1)))
      if (k.startsWith(prefix)) out[k] = structuredClone(v);
    return out;
  }

  async queued(
    limit: number,
    exclude?: ReadonlySet<number>,
    skipWorkcenters?: ReadonlySet<string>,
  ): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    for (const e of this.#entries.values()) {
      if (e.st.state !== "queued" || exclude?.has(e.seq) || skipWorkcenters?.has(e.workcenter)) continue;
      out.push(structuredClone(e));
      if (out.length >= limit) break;
    }
    return out;
  }

  async markDelivered(outcomes: DeliveryOutcome[]): Promise<void> {
    const now = Date.now();
    for (const o of outcomes) {
      const e = this.#entries.get(o.seq);
      if (!e || e.st.state === "delivered") continue;
      // A row parked or skipped while in flight is delivered all the same: Odoo has it.
      if (e.st.state !== "skipped") {
        this.#held--;
        this.#heldBytes -= e.bytes;
      }
      e.st = { state: "delivered", status: o.status, odooEventId: o.odooEventId, error: o.error, deliveredAt: now };
    }
    this.#gate.freed();
  }

  async markAttempt(seqs: number[], error: string, opts: MarkAttemptOptions = {}): Promise<number[]> {
    const lastError = error.slice(0, 4096);
    const parked: number[] = [];
    for (const seq of seqs) {
      const e = this.#entries.get(seq);
      if (e?.st.state !== "queued") continue;
      const attempts = e.st.attempts + (opts.counts === false ? 0 : 1);
      e.st = { state: "queued", attempts, lastError };
      if (opts.counts === false || attempts < this.limits.maxAttempts) continue;
      this.#apply("park", e, parkedByDelivery(attempts, lastError));
      parked.push(seq);
    }
    return parked;
  }

  async park(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("park", seqs, reason, by);
  }

  async unpark(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("unpark", seqs, reason, by);
  }

  async skip(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("skip", seqs, reason, by);
  }

  #act(action: SpoolAction, seqs: number[], reason: string, by: string): number {
    const note = actionNote(action, reason, by);
    const unique = [...new Set(seqs)].sort((a, b) => a - b);
    const refused = unique
      .map((seq) => ({ seq, state: this.#entries.get(seq)?.st.state ?? ("missing" as const) }))
      .filter(({ state }) => state === "missing" || !ACTION_FROM[action].includes(state));
    if (refused.length > 0) throw new SpoolActionError(action, refused);
    for (const seq of unique) this.#apply(action, this.#entries.get(seq) as SpoolEntry, note);
    this.#gate.freed();
    return unique.length;
  }

  #apply(action: SpoolAction, e: SpoolEntry, note: SpoolNote): void {
    const from = e.st.state;
    const attempts = "attempts" in e.st ? e.st.attempts : 0;
    const lastError = "lastError" in e.st ? e.st.lastError : "";
    if (action === "unpark") e.st = { state: "queued", attempts: 0, lastError: "" };
    else e.st = { state: action === "park" ? "parked" : "skipped", attempts, lastError, ...note };
    const wasHeld = from === "queued" || from === "parked";
    const isHeld = e.st.state !== "skipped";
    if (wasHeld !== isHeld) {
      this.#held += isHeld ? 1 : -1;
      this.#heldBytes += isHeld ? e.bytes : -e.bytes;
    }
    this.#log.push({ seq: e.seq, source: e.source, eventId: e.eventId, action, from, ...note });
  }

  async actionLog(limit: number, seq?: number): Promise<SpoolLogEntry[]> {
    const lines = this.#log.filter((line) => seq === undefined || line.seq === seq);
    return structuredClone(lines.reverse().slice(0, limit));
  }

  async list(state: SpoolStateName, limit: number): Promise<SpoolEntry[]> {
    const all = [...this.#entries.values()].filter((e) => e.st.state === state);
    if (state === "delivered" || state === "skipped") all.reverse();
    return structuredClone(all.slice(0, limit));
  }

  #inRange(e: SpoolEntry, r: ReplayRange): boolean {
    return e.timeMs >= r.fromMs && e.timeMs < r.toMs && (r.source === undefined || e.source === r.source);
  }

  async range(range: ReplayRange, afterSeq: number, limit: number): Promise<SpoolEntry[]> {
    return structuredClone(
      [...this.#entries.values()].filter((e) => e.seq > afterSeq && this.#inRange(e, range)).slice(0, limit),
    );
  }

  async countRange(range: ReplayRange): Promise<number> {
    return [...this.#entries.values()].filter((e) => this.#inRange(e, range)).length;
  }

  async requeue(seqs: number[]): Promise<number> {
    let n = 0;
    for (const seq of seqs) {
      const e = this.#entries.get(seq);
      if (e?.st.state !== "delivered") continue;
      e.st = { state: "queued", attempts: 0, lastError: "" };
      this.#held++;
      this.#heldBytes += e.bytes;
      n++;
    }
    return n;
  }

  async purge(nowMs: number): Promise<number> {
    let n = 0;
    const cutoff = nowMs - this.limits.retentionMs;
    for (const [seq, e] of this.#entries) {
      const settledAt = e.st.state === "delivered" ? e.st.deliveredAt : e.st.state === "skipped" ? e.st.at : Infinity;
      if (settledAt < cutoff) {
        this.#entries.delete(seq);
        n++;
      }
    }
    const kept = this.#log.filter((line) => line.at >= cutoff || this.#entries.get(line.seq)?.eventId === line.eventId);
    this.#log.splice(0, this.#log.length, ...kept);
    return n;
  }

  async stats(): Promise<SpoolStats> {
    const byStatus: Partial<Record<IngestStatus, number>> = {};
    let delivered = 0;
    let oldestQueuedAt = 0;
    for (const e of this.#entries.values()) {
      if (e.st.state === "delivered") {
        byStatus[e.st.status] = (byStatus[e.st.status] ?? 0) + 1;
        delivered++;
      } else if (e.st.state === "queued" && oldestQueuedAt === 0) oldestQueuedAt = e.receivedAt;
    }
    const queued = this.#count("queued");
    const parked = this.#count("parked");
    return {
      queued: queued.n,
      queuedBytes: queued.bytes,
      parked: parked.n,
      parkedBytes: parked.bytes,
      skipped: this.#count("skipped").n,
      delivered,
      capacityBytes: this.limits.capacityBytes,
      capacityEvents: this.limits.capacityEvents,
      waitingAppends: this.#gate.waiting,
      oldestQueuedAt,
      byStatus,
    };
  }

  async loadConfig(): Promise<CachedConfig | undefined> {
    return this.#config === undefined ? undefined : openConfig(this.#config, this.#secretKey);
  }

  async saveConfig(config: SidecarConfig): Promise<void> {
    this.#config = sealConfig(config, this.#secretKey);
  }

  async close(): Promise<void> {}
}
