// Delivery's own logic over a scripted OdooClient: retry of a whole batch on
// transport failure, per-item results, order. What Odoo itself answers is
// tested against real Odoo in the integration tier.
import { describe, expect, it } from "vitest";
import type { IngestItem, IngestResult, RejectedInput } from "./core/contract.ts";
import type { OdooClient } from "./core/ports.ts";
import { Delivery } from "./delivery.ts";
import { OdooFault } from "./odoo/errors.ts";
import { MemorySpool } from "./spool/memory-spool.ts";
import { event } from "./spool/spool.contract.ts";

class ScriptedOdoo {
  calls: IngestItem[][] = [];
  failNext = 0;
  /** Event ids that make "the server" raise for the whole call. */
  poisoned = new Set<string>();
  /** The next calls fault with what Odoo answers when PostgreSQL stayed busy through its own retries. */
  busyNext = 0;
  /** Every call faults (a broken module, a revoked key). */
  faultAll = false;
  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    this.calls.push(items);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("ECONNREFUSED");
    }
    if (this.busyNext > 0) {
      this.busyNext--;
      throw new OdooFault(
        "Traceback …\npsycopg2.errors.SerializationFailure: could not serialize access due to concurrent update",
        1,
      );
    }
    if (this.faultAll) throw new OdooFault("AccessDenied", 3);
    const bad = items.find((i) => this.poisoned.has(i.id));
    if (bad) throw new OdooFault(`psycopg2.errors.NumericValueOutOfRange in ${bad.id}`, 1);
    return items.map((i, n) => ({
      id: i.id,
      source: i.source,
      status: "rejected" in i ? "rejected" : "applied",
      event_id: n + 1,
      error: "",
    }));
  }
}

function make(odoo: ScriptedOdoo, spool = new MemorySpool(), batchSize = 3) {
  const errors: number[] = [];
  const delivery = new Delivery({
    spool,
    odoo: odoo as unknown as OdooClient,
    batchSize,
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

  it("bisects a batch Odoo faults on as a whole, sets the poisoned event aside as rejected, delivers the rest", async () => {
    const odoo = new ScriptedOdoo();
    odoo.poisoned.add("ev-3");
    const { spool, delivery, errors } = make(odoo, new MemorySpool(), 5);
    await spool.append([1, 2, 3, 4, 5].map((n) => event(n)));
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([]);
    const ids = (c: IngestItem[]) => c.map((i) => ("rejected" in i ? "set-aside" : i.id)).join();
    expect(odoo.calls.map(ids)).toEqual([
      "ev-1,ev-2,ev-3,ev-4,ev-5",
      "ev-1,ev-2,ev-3",
      "ev-1,ev-2",
      "ev-3",
      "set-aside",
      "ev-4,ev-5",
    ]);
    const setAside = odoo.calls[4]?.[0] as RejectedInput;
    expect(JSON.parse(Buffer.from(setAside.raw_b64, "base64").toString())).toEqual(event(3).item);
    expect(setAside.reason).toMatch(/NumericValueOutOfRange in ev-3/);
    expect(setAside.source).toBe("press-1");
    expect((await spool.stats()).byStatus).toEqual({ applied: 4, rejected: 1 });
    const [poisoned] = (await spool.list("delivered", 10)).filter((e) => e.eventId === "ev-3");
    expect(poisoned?.st).toMatchObject({ state: "delivered", status: "rejected" });
    expect(poisoned?.st.state === "delivered" && poisoned.st.error).toMatch(/set aside as rejected input rej-/);
    expect(delivery.counters).toMatchObject({ setAside: 1, delivered: 5, failures: 0 });
  });

  it("isolates several poisoned events of one batch", async () => {
    const odoo = new ScriptedOdoo();
    for (const id of ["ev-1", "ev-6", "ev-7"]) odoo.poisoned.add(id);
    const { spool, delivery, errors } = make(odoo, new MemorySpool(), 8);
    await spool.append([1, 2, 3, 4, 5, 6, 7, 8].map((n) => event(n)));
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 5, rejected: 3 });
  });

  it("sets nothing aside when Odoo faults on everything: the batch stays queued and is retried whole", async () => {
    const odoo = new ScriptedOdoo();
    odoo.faultAll = true;
    const { spool, delivery, errors } = make(odoo, new MemorySpool(), 4);
    delivery.breaker.policy.openMs = 10;
    await spool.append([1, 2, 3, 4].map((n) => event(n)));
    delivery.start();
    await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect((await spool.stats()).queued).toBe(4);
    expect(delivery.counters.setAside).toBe(0);
    const [first] = await spool.queued(1);
    expect(first?.st).toMatchObject({ state: "queued", lastError: "OdooFault: AccessDenied" });
    odoo.faultAll = false;
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect((await spool.stats()).byStatus).toEqual({ applied: 4 });
  });

  it("retries a batch whole, without bisecting or setting anything aside, when Odoo says the database was busy", async () => {
    const odoo = new ScriptedOdoo();
    odoo.busyNext = 2;
    const { spool, delivery, errors } = make(odoo, new MemorySpool(), 4);
    await spool.append([1, 2, 3, 4].map((n) => event(n)));
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([1, 2]);
    expect(odoo.calls.map((c) => c.length)).toEqual([4, 4, 4]);
    expect(delivery.counters).toMatchObject({ setAside: 0, splits: 0, delivered: 4 });
    expect((await spool.stats()).byStatus).toEqual({ applied: 4 });
  });
});
