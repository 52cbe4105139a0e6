// A SourceSink in memory for protocol tests and benchmarks: commits events and
// rule state together, as the spool does, and can be restarted from the
// committed state to test that a source neither loses nor double-counts.
import type { CloudEvent } from "../../../src/core/contract.ts";
import type { Intake, SourceSink } from "../../../src/core/ports.ts";

export class MemorySink implements SourceSink {
  readonly events: CloudEvent[] = [];
  /** Input that is not an event: bytes to validate, or bytes the source rejected with a reason. */
  readonly raw: Extract<Intake, { kind: "raw" | "rejected" }>[] = [];
  readonly state: Record<string, unknown>;
  readonly #ids = new Set<string>();
  duplicates = 0;
  commits = 0;
  #waiters: { until: () => boolean; resolve: () => void }[] = [];

  constructor(state: Record<string, unknown> = {}) {
    this.state = { ...state };
  }

  async accept(items: Intake[], state: Record<string, unknown> = {}): Promise<undefined> {
    this.commits++;
    for (const item of items) {
      if (item.kind !== "event") {
        this.raw.push(item);
        continue;
      }
      // (source, id) is the idempotency key in the spool and in Odoo.
      const key = `${item.event.source}\u0000${item.event.id}`;
      if (this.#ids.has(key)) {
        this.duplicates++;
        continue;
      }
      this.#ids.add(key);
      this.events.push(item.event);
    }
    Object.assign(this.state, structuredClone(state));
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.until()) return true;
      w.resolve();
      return false;
    });
    return undefined;
  }

  async loadState(prefix: string): Promise<Record<string, unknown>> {
    return Object.fromEntries(Object.entries(this.state).filter(([key]) => key.startsWith(prefix)));
  }

  ofType(type: string): CloudEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  sum(type: string, field: string): number {
    return this.ofType(type).reduce((total, e) => total + Number(e.data[field] ?? 0), 0);
  }

  /** Resolves once `until` holds after a commit (or now), or rejects after `timeoutMs`. */
  waitFor(until: () => boolean, timeoutMs = 15_000, what = "condition"): Promise<void> {
    if (until()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`MemorySink: ${what} not reached in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        until,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}
