// Delivery's own logic over a scripted OdooClient: retry of a whole batch on
// transport failure, per-item results, order. What Odoo itself answers is
// tested against real Odoo in the integration tier.
import { describe, expect, it } from "vitest";
import type { IngestItem, IngestResult } from "./core/contract.ts";
import type { OdooClient } from "./core/ports.ts";
import { Delivery } from "./delivery.ts";
import { MemorySpool } from "./spool/memory-spool.ts";
import { event } from "./spool/spool.contract.ts";

class ScriptedOdoo {
  calls: IngestItem[][] = [];
  failNext = 0;
  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    this.calls.push(items);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("ECONNREFUSED");
    }
    return items.map((i, n) => ({ id: i.id, source: i.source, status: "applied", event_id: n + 1, error: "" }));
  }
}

function make(odoo: ScriptedOdoo, spool = new MemorySpool()) {
  const errors: number[] = [];
  const delivery = new Delivery({
    spool,
    odoo: odoo as unknown as OdooClient,
    batchSize: 3,
    batchWaitMs: 0,
    backoff: { baseMs: 5, maxMs: 20 },
    random: () => 1,
    onError: (_e, attempt) => errors.push(attempt),
  });
  return { spool, delivery, errors };
}

describe("Delivery", () => {
  it("sends batches of the configured size, ordered per workcenter by time, and records each result", async () => {
    const odoo = new ScriptedOdoo();
    const { spool, delivery } = make(odoo);
    await spool.append([event(1, "a", 3_000), event(2, "b", 1_000), event(3, "a", 2_000), event(4, "a", 500)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued).toBe(0);
    await delivery.stop();
    expect(odoo.calls.map((c) => c.map((i) => i.id))).toEqual([["ev-3", "ev-1", "ev-2"], ["ev-4"]]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 4 });
  });

  it("keeps a batch queued through transport failures and retries it before anything newer", async () => {
    const odoo = new ScriptedOdoo();
    odoo.failNext = 4;
    const { spool, delivery, errors } = make(odoo);
    delivery.breaker.policy.openMs = 10;
    await spool.append([event(1), event(2), event(3)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([1, 2, 3, 4]);
    expect(odoo.calls.every((c) => c.map((i) => i.id).join() === "ev-1,ev-2,ev-3")).toBe(true);
    const [first] = await spool.list("delivered", 1);
    expect(first?.st.state).toBe("delivered");
  });

  it("treats an answer that does not match the batch as a failure, not as delivered", async () => {
    const odoo = new ScriptedOdoo();
    let wrong = 1;
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      const results = await original(items);
      if (wrong-- > 0) return results.reverse();
      return results;
    };
    const { spool, delivery, errors } = make(odoo);
    await spool.append([event(1), event(2)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([1]);
  });
});
