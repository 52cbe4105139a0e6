// A spool in memory: same semantics as SqliteSpool minus durability. For
// tests of delivery and for `simulate` runs that need no disk.
import type { IngestStatus, SidecarConfig } from "../core/contract.ts";
import {
  type AppendResult,
  DEFAULT_LIMITS,
  type DeliveryOutcome,
  itemBytes,
  type ReplayRange,
  SpaceGate,
  type Spool,
  type SpoolEntry,
  type SpoolLimits,
  type SpoolRecord,
  type SpoolStateName,
  type SpoolStats,
} from "./spool.ts";

export class MemorySpool implements Spool {
  readonly limits: SpoolLimits;
  readonly #entries = new Map<number, SpoolEntry>();
  readonly #keys = new Set<string>();
  readonly #kv = new Map<string, unknown>();
  readonly #gate = new SpaceGate();
  #seq = 0;
  #queued = 0;
  #queuedBytes = 0;
  #config: SidecarConfig | undefined;

  constructor(limits: Partial<SpoolLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  #reservedBytes = 0;
  #reservedEvents = 0;

  #fits(bytes: number, events: number): boolean {
    const queued = this.#queued + this.#reservedEvents;
    const queuedBytes = this.#queuedBytes + this.#reservedBytes;
    return (
      queued === 0 ||
      (queuedBytes + bytes <= this.limits.capacityBytes && queued + events <= this.limits.capacityEvents)
    );
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
      this.#queued++;
      this.#queuedBytes += sizes[i] as number;
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

  async queued(limit: number, exclude?: ReadonlySet<number>): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    for (const e of this.#entries.values()) {
      if (e.st.state !== "queued" || exclude?.has(e.seq)) continue;
      out.push(structuredClone(e));
      if (out.length >= limit) break;
    }
    return out;
  }

  async markDelivered(outcomes: DeliveryOutcome[]): Promise<void> {
    const now = Date.now();
    for (const o of outcomes) {
      const e = this.#entries.get(o.seq);
      if (!e) continue;
      if (e.st.state !== "queued") continue;
      e.st = { state: "delivered", status: o.status, odooEventId: o.odooEventId, error: o.error, deliveredAt: now };
      this.#queued--;
      this.#queuedBytes -= e.bytes;
    }
    this.#gate.freed();
  }

  async markAttempt(seqs: number[], error: string): Promise<void> {
    for (const seq of seqs) {
      const e = this.#entries.get(seq);
      if (e?.st.state === "queued") e.st = { state: "queued", attempts: e.st.attempts + 1, lastError: error };
    }
  }

  async list(state: SpoolStateName, limit: number): Promise<SpoolEntry[]> {
    const all = [...this.#entries.values()].filter((e) => e.st.state === state);
    if (state !== "queued") all.reverse();
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
      this.#queued++;
      this.#queuedBytes += e.bytes;
      n++;
    }
    return n;
  }

  async purge(nowMs: number): Promise<number> {
    let n = 0;
    for (const [seq, e] of this.#entries) {
      if (e.st.state === "delivered" && e.st.deliveredAt < nowMs - this.limits.retentionMs) {
        this.#entries.delete(seq);
        n++;
      }
    }
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
      } else if (oldestQueuedAt === 0) oldestQueuedAt = e.receivedAt;
    }
    return {
      queued: this.#queued,
      queuedBytes: this.#queuedBytes,
      delivered,
      capacityBytes: this.limits.capacityBytes,
      capacityEvents: this.limits.capacityEvents,
      waitingAppends: this.#gate.waiting,
      oldestQueuedAt,
      byStatus,
    };
  }

  async loadConfig(): Promise<SidecarConfig | undefined> {
    return this.#config && structuredClone(this.#config);
  }

  async saveConfig(config: SidecarConfig): Promise<void> {
    this.#config = structuredClone(config);
  }

  async close(): Promise<void> {}
}
