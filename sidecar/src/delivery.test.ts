// Delivery's own logic over a scripted OdooClient: what each error code does
// (retry whole, shrink and grow back, bisect, count and park), per-item
// results, order. What Odoo itself answers is tested against real Odoo in the
// integration tier.
import { describe, expect, it } from "vitest";
import { MemorySpool } from "../test/support/spool/memory-spool.ts";
import { event } from "../test/support/spool/spool.contract.ts";
import type { IngestItem, IngestResult, RejectedInput } from "./core/contract.ts";
import type { OdooClient } from "./core/ports.ts";
import { Delivery, type DeliveryOptions } from "./delivery.ts";
import { OdooFault, OdooTransportError } from "./odoo/errors.ts";

class ScriptedOdoo {
  calls: IngestItem[][] = [];
  failNext = 0;
  /** Event ids that make "the server" raise for the whole call. */
  poisoned = new Set<string>();
  /** The next calls fault with what Odoo answers when PostgreSQL stayed busy through its own retries. */
  busyNext = 0;
  /** Every call faults (a broken module). */
  faultAll = false;
  /** Calls with more items time out (the load Odoo cannot take in one request). */
  maxItems = Number.POSITIVE_INFINITY;
  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    this.calls.push(items);
    if (this.failNext > 0) {
      this.failNext--;
      throw new OdooTransportError("POST /jsonrpc: fetch failed (ECONNREFUSED)", "unreachable");
    }
    if (this.busyNext > 0) {
      this.busyNext--;
      throw new OdooFault(
        "could not serialize access due to concurrent update",
        "retry",
        "psycopg2.errors.SerializationFailure",
      );
    }
    if (this.faultAll) throw new OdooFault("the module is broken", "item_rejected", "builtins.KeyError");
    if (items.length > this.maxItems) {
      throw new OdooTransportError(`POST /jsonrpc: This operation was aborted (${items.length} items)`, "busy");
    }
    const bad = items.find((i) => this.poisoned.has(i.id));
    if (bad)
      throw new OdooFault(
        `integer out of range in ${bad.id}`,
        "item_rejected",
        "psycopg2.errors.NumericValueOutOfRange",
      );
    return items.map((i, n) => ({
      id: i.id,
      source: i.source,
      status: "rejected" in i ? "rejected" : "applied",
      event_id: n + 1,
      error: "",
    }));
  }
}

function make(odoo: ScriptedOdoo, spool = new MemorySpool(), batchSize = 3, extra: Partial<DeliveryOptions> = {}) {
  const errors: number[] = [];
  const codes: string[] = [];
  const delivery = new Delivery({
    spool,
    odoo: odoo as unknown as OdooClient,
    batchSize,
    batchWaitMs: 0,
    backoff: { baseMs: 5, maxMs: 20 },
    random: () => 1,
    onError: (_e, attempt, _retryIn, code) => {
      errors.push(attempt);
      codes.push(code);
    },
    ...extra,
  });
  return { spool, delivery, errors, codes };
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

  it("treats an answer whose results are another item's as a failure of the whole call, not as delivered", async () => {
    const odoo = new ScriptedOdoo();
    let wrong = 1;
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      const results = await original(items);
      if (wrong-- > 0) return results.reverse();
      return results;
    };
    const { spool, delivery, errors, codes } = make(odoo);
    await spool.append([event(1), event(2)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([1]);
    expect(codes).toEqual(["busy"]);
    // Nothing of the scrambled answer was recorded: both went again (one by one, the size halved).
    expect(odoo.calls.map((c) => c.map((i) => i.id).join())).toEqual(["ev-1,ev-2", "ev-1", "ev-2"]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 2 });
  });

  it("keeps the result of an item whose echo Odoo altered (text it had to escape), noting the difference", async () => {
    const odoo = new ScriptedOdoo();
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) =>
      (await original(items)).map((r) => (r.id === "ev-2" ? { ...r, id: "ev-2\\x00" } : r));
    const { spool, delivery, errors } = make(odoo);
    await spool.append([event(1), event(2), event(3)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([]);
    const [altered] = (await spool.list("delivered", 10)).filter((e) => e.eventId === "ev-2");
    expect(altered?.st).toMatchObject({ state: "delivered", status: "applied", odooEventId: 2 });
    expect(altered?.st.state === "delivered" && altered.st.error).toMatch(/Odoo echoed/);
  });

  it("fails only the item whose result is unusable; the rest of the batch is recorded", async () => {
    const odoo = new ScriptedOdoo();
    let broken = 1;
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) =>
      (await original(items)).map((r) => (r.id === "ev-2" && broken-- > 0 ? { ...r, event_id: 0 } : r));
    const { spool, delivery, errors } = make(odoo);
    await spool.append([event(1), event(2), event(3)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors).toEqual([]);
    expect(odoo.calls.map((c) => c.map((i) => i.id).join())).toEqual(["ev-1,ev-2,ev-3", "ev-2"]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 3 });
  });

  it("halves the batch on a timeout until Odoo takes it, then grows back on success", async () => {
    const odoo = new ScriptedOdoo();
    odoo.maxItems = 2;
    const sizes: number[] = [];
    const {
      spool,
      delivery: resized,
      codes,
    } = make(odoo, new MemorySpool(), 8, {
      onResize: (size) => sizes.push(size),
    });
    await spool.append(Array.from({ length: 8 }, (_, i) => event(i + 1)));
    resized.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    odoo.maxItems = Number.POSITIVE_INFINITY;
    await spool.append(Array.from({ length: 16 }, (_, i) => event(i + 100)));
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await resized.stop();
    expect(codes).toEqual(["busy", "busy"]);
    // 8 → 4 → 2 on the two timeouts; then back up, doubling after every GROW_AFTER full batches.
    expect(sizes).toEqual([4, 2, 4, 8]);
    expect(resized.batchLimit).toBe(8);
    expect(odoo.calls.map((c) => c.length)).toEqual([8, 4, 2, 2, 2, 2, 4, 4, 4, 4]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 24 });
  });

  it("splits at once, without waiting, when Odoo says the batch is too large", async () => {
    const odoo = new ScriptedOdoo();
    let tooLarge = 1;
    const sent: number[] = [];
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      sent.push(items.length);
      if (tooLarge-- > 0)
        throw new OdooFault("at most 2 events per call", "batch_too_large", "odoo.exceptions.UserError");
      return original(items);
    };
    const { spool, delivery, codes } = make(odoo, new MemorySpool(), 4);
    await spool.append([1, 2, 3, 4].map((n) => event(n)));
    const started = Date.now();
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(codes).toEqual(["batch_too_large"]);
    expect(sent).toEqual([4, 2, 2]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("parks the items of a call that keeps failing after the spool's attempt limit; the rest flows on", async () => {
    const odoo = new ScriptedOdoo();
    odoo.maxItems = 0; // every call times out
    const spool = new MemorySpool({ maxAttempts: 3 });
    const parked: number[][] = [];
    const delivery = new Delivery({
      spool,
      odoo: odoo as unknown as OdooClient,
      batchSize: 2,
      batchWaitMs: 0,
      backoff: { baseMs: 1, maxMs: 2 },
      onParked: (seqs) => parked.push(seqs),
    });
    await spool.append([event(1), event(2)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).parked, { timeout: 5_000 }).toBe(2);
    expect((await spool.stats()).queued).toBe(0);
    odoo.maxItems = Number.POSITIVE_INFINITY;
    await spool.append([event(3)]);
    await expect.poll(async () => (await spool.stats()).byStatus.applied, { timeout: 5_000 }).toBe(1);
    await delivery.stop();
    expect(parked.flat().sort()).toEqual([1, 2]);
    expect(delivery.counters.parked).toBe(2);
    const [first] = await spool.list("parked", 1);
    expect(first?.st).toMatchObject({ state: "parked", attempts: 3 });
  });

  it("never counts a failure that says nothing about the items (Odoo unreachable, access refused)", async () => {
    const odoo = new ScriptedOdoo();
    odoo.failNext = 5;
    const spool = new MemorySpool({ maxAttempts: 2 });
    const { delivery, errors } = make(odoo, spool);
    delivery.breaker.policy.openMs = 5;
    await spool.append([event(1)]);
    delivery.start();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(errors.length).toBe(5);
    expect((await spool.stats()).parked).toBe(0);
    expect((await spool.stats()).byStatus).toEqual({ applied: 1 });
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
    expect(setAside.reason).toMatch(/psycopg2\.errors\.NumericValueOutOfRange: integer out of range in ev-3/);
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
    expect(first?.st).toMatchObject({
      state: "queued",
      lastError: "OdooFault [item_rejected]: the module is broken",
    });
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

describe("Delivery: when a partial batch goes", () => {
  /** `count` events received now (the batch wait counts from reception). */
  const fresh = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ ...event(from + i), receivedAt: Date.now() }));
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("holds a partial batch until its oldest event has waited the batch wait when no send-at size is set", async () => {
    const odoo = new ScriptedOdoo();
    const { spool, delivery } = make(odoo, new MemorySpool(), 10, { batchWaitMs: 600, batchSendAt: 0 });
    const started = Date.now();
    await spool.append(fresh(1, 3));
    delivery.start();
    await pause(250);
    expect(odoo.calls).toEqual([]);
    await expect.poll(() => odoo.calls.length, { timeout: 5_000 }).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    await delivery.stop();
    expect(odoo.calls.map((c) => c.length)).toEqual([3]);
  });

  it("sends a partial batch as soon as the send-at size is queued, long before the wait is out", async () => {
    const odoo = new ScriptedOdoo();
    const { spool, delivery } = make(odoo, new MemorySpool(), 10, { batchWaitMs: 20_000, batchSendAt: 4 });
    await spool.append(fresh(1, 3));
    delivery.start();
    await pause(250);
    expect(odoo.calls).toEqual([]);
    const fourth = Date.now();
    await spool.append(fresh(4, 1));
    await expect.poll(() => odoo.calls.length, { timeout: 2_000 }).toBe(1);
    expect(Date.now() - fourth).toBeLessThan(2_000);
    await delivery.stop();
    expect(odoo.calls.map((c) => c.map((item) => item.id))).toEqual([["ev-1", "ev-2", "ev-3", "ev-4"]]);
  });

  it("sends a full batch at once when the send-at size is above the batch size", async () => {
    const odoo = new ScriptedOdoo();
    const { spool, delivery } = make(odoo, new MemorySpool(), 3, { batchWaitMs: 20_000, batchSendAt: 100 });
    await spool.append(fresh(1, 5));
    delivery.start();
    await expect.poll(() => odoo.calls.length, { timeout: 2_000 }).toBe(1);
    await pause(250);
    await delivery.stop();
    // The first three go full; the two left wait for more (or the wait).
    expect(odoo.calls.map((c) => c.length)).toEqual([3]);
    expect((await spool.stats()).queued).toBe(2);
  });

  it("takes a new send-at size on reload, and 0 turns it off again", async () => {
    const odoo = new ScriptedOdoo();
    const { spool, delivery } = make(odoo, new MemorySpool(), 10, { batchWaitMs: 20_000 });
    expect(delivery.batchSendAt).toBe(0);
    await spool.append(fresh(1, 5));
    delivery.start();
    await pause(250);
    expect(odoo.calls).toEqual([]);
    delivery.configure(10, 20_000, { batchSendAt: 5 });
    expect(delivery.batchSendAt).toBe(5);
    await expect.poll(() => odoo.calls.length, { timeout: 2_000 }).toBe(1);
    delivery.configure(10, 20_000, { batchSendAt: 0 });
    await spool.append(fresh(6, 5));
    await pause(400);
    await delivery.stop();
    expect(odoo.calls.map((c) => c.length)).toEqual([5]);
  });
});
