// The one contract every Spool implementation runs (like MQTT.js's
// abstract_store): the same behaviour, whatever the storage.
import { describe, expect, it } from "vitest";
import type { CloudEvent, RejectedInput } from "../core/contract.ts";
import type { Spool, SpoolLimits, SpoolRecord } from "./spool.ts";

export type MakeSpool = (limits?: Partial<SpoolLimits>) => Promise<Spool>;

export function event(n: number, source = "press-1", timeMs = 1_700_000_000_000 + n): SpoolRecord {
  const item: CloudEvent = {
    specversion: "1.0",
    id: `ev-${n}`,
    source,
    type: "production.reported",
    time: new Date(timeMs).toISOString(),
    data: { order: "WH/MO/00001", qty_good: n },
  };
  return { item, workcenter: `wc:${source}`, timeMs, receivedAt: timeMs };
}

export function rejectedRecord(n: number): SpoolRecord {
  const item: RejectedInput = {
    rejected: true,
    id: `rej-${n}`,
    source: "shopfloor/x",
    connection: "c",
    raw_b64: Buffer.from(`garbage ${n}`).toString("base64"),
    raw_size: 9,
    truncated: false,
    reason: "not JSON",
    observedtime: new Date(1_700_000_000_000).toISOString(),
  };
  return { item, workcenter: "source:shopfloor/x", timeMs: 1_700_000_000_000, receivedAt: 1_700_000_000_000 };
}

export function spoolContract(name: string, makeSpool: MakeSpool): void {
  describe(`Spool contract: ${name}`, () => {
    it("keeps appended items queued in arrival order, deduplicating on (source, id)", async () => {
      const spool = await makeSpool();
      expect(await spool.append([event(1), event(2), rejectedRecord(1)])).toEqual({ added: 3, duplicates: 0 });
      expect(await spool.append([event(2), event(3)])).toEqual({ added: 1, duplicates: 1 });
      expect(await spool.append([event(2, "press-2")])).toEqual({ added: 1, duplicates: 0 });
      const queued = await spool.queued(10);
      expect(queued.map((e) => e.eventId)).toEqual(["ev-1", "ev-2", "rej-1", "ev-3", "ev-2"]);
      expect(queued[2]?.item).toEqual(rejectedRecord(1).item);
      expect(queued[0]?.st).toEqual({ state: "queued", attempts: 0, lastError: "" });
      expect((await spool.stats()).queued).toBe(5);
      await spool.close();
    });

    it("commits concurrent appends (group commit) and resolves each with its own result", async () => {
      const spool = await makeSpool();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => spool.append([event(i % 150)])));
      expect(results.filter((r) => r.added === 1)).toHaveLength(150);
      expect(results.filter((r) => r.duplicates === 1)).toHaveLength(50);
      expect((await spool.stats()).queued).toBe(150);
      await spool.close();
    });

    it("counts duplicates exactly in large appends: repeats inside one append, and across appends", async () => {
      const spool = await makeSpool();
      await spool.append([event(5), event(150)]);
      // 300 records (several multi-row statements in SQLite): 0..199, then 100..199 again, with 5 and 150
      // already spooled; the repeats sit both in the same statement and in later ones.
      const records = [
        ...Array.from({ length: 200 }, (_, i) => event(i)),
        ...Array.from({ length: 100 }, (_, i) => event(100 + i)),
      ];
      const groups = await Promise.all([spool.append(records), spool.append([event(7), event(7), event(300)])]);
      expect(groups).toEqual([
        { added: 198, duplicates: 102 },
        { added: 1, duplicates: 2 },
      ]);
      const stats = await spool.stats();
      expect(stats.queued).toBe(201);
      const queued = await spool.queued(1_000);
      expect(new Set(queued.map((e) => e.eventId)).size).toBe(201);
      // Only what was added counts against the capacity.
      expect(stats.queuedBytes).toBe(queued.reduce((sum, e) => sum + e.bytes, 0));
      await spool.close();
    });

    it("stores a record's ready-made JSON text as its item", async () => {
      const spool = await makeSpool();
      const record = event(1);
      await spool.append([{ ...record, body: `${JSON.stringify(record.item).slice(0, -1)} }` }]);
      expect((await spool.queued(1))[0]?.item).toEqual(record.item);
      await spool.close();
    });

    it("skips in-flight entries and moves delivered ones out of the backlog with their Odoo status", async () => {
      const spool = await makeSpool();
      await spool.append([event(1), event(2), event(3)]);
      const [a, b, c] = await spool.queued(3);
      expect((await spool.queued(10, new Set([a?.seq as number]))).map((e) => e.eventId)).toEqual(["ev-2", "ev-3"]);
      await spool.markAttempt([b?.seq as number], "connection refused");
      await spool.markDelivered([
        { seq: a?.seq as number, status: "applied", odooEventId: 41, error: "" },
        { seq: c?.seq as number, status: "rejected", odooEventId: 42, error: "unknown order" },
      ]);
      const queued = await spool.queued(10);
      expect(queued.map((e) => e.eventId)).toEqual(["ev-2"]);
      expect(queued[0]?.st).toEqual({ state: "queued", attempts: 1, lastError: "connection refused" });
      const delivered = await spool.list("delivered", 10);
      expect(delivered.map((e) => [e.eventId, e.st.state === "delivered" && e.st.status])).toEqual([
        ["ev-3", "rejected"],
        ["ev-1", "applied"],
      ]);
      const stats = await spool.stats();
      expect(stats).toMatchObject({ queued: 1, delivered: 2, byStatus: { applied: 1, rejected: 1 } });
      // Delivering twice changes nothing.
      await spool.markDelivered([{ seq: a?.seq as number, status: "duplicate", odooEventId: 41, error: "" }]);
      expect((await spool.stats()).byStatus).toEqual({ applied: 1, rejected: 1 });
      await spool.close();
    });

    it("applies backpressure when full: append waits until delivery frees space, nothing is dropped", async () => {
      const spool = await makeSpool({ capacityEvents: 3 });
      await spool.append([event(1), event(2), event(3)]);
      let done = false;
      const blocked = spool.append([event(4)]).then((r) => {
        done = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(done).toBe(false);
      expect((await spool.stats()).waitingAppends).toBe(1);
      const [first] = await spool.queued(1);
      await spool.markDelivered([{ seq: first?.seq as number, status: "applied", odooEventId: 1, error: "" }]);
      expect(await blocked).toEqual({ added: 1, duplicates: 0 });
      expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-2", "ev-3", "ev-4"]);
      await spool.close();
    });

    it("never admits more than the capacity, even for appends issued in the same turn", async () => {
      const spool = await makeSpool({ capacityEvents: 3 });
      const appends = Array.from({ length: 10 }, (_, i) => spool.append([event(i)]));
      await new Promise((r) => setTimeout(r, 50));
      expect((await spool.stats()).queued).toBe(3);
      expect((await spool.stats()).waitingAppends).toBe(7);
      for (let delivered = 0; delivered < 7; delivered++) {
        const [oldest] = await spool.queued(1);
        await spool.markDelivered([{ seq: oldest?.seq as number, status: "applied", odooEventId: 1, error: "" }]);
        await new Promise((r) => setTimeout(r, 5));
        expect((await spool.stats()).queued).toBeLessThanOrEqual(3);
      }
      await Promise.all(appends);
      expect((await spool.stats()).queued + (await spool.stats()).delivered).toBe(10);
      await spool.close();
    });

    it("admits one item larger than the whole capacity when the backlog is empty", async () => {
      const spool = await makeSpool({ capacityBytes: 10 });
      expect(await spool.append([event(1)])).toEqual({ added: 1, duplicates: 0 });
      await spool.close();
    });

    it("commits rule state with the items and loads it by prefix", async () => {
      const spool = await makeSpool();
      await spool.append([event(1)], { "opcua:line1/good": { last: 10 }, "opcua:line1/scrap": { last: 2 } });
      await spool.append([], { "opcua:line1/good": { last: 12 }, "sparkplug:x": 1 });
      expect(await spool.loadState("opcua:")).toEqual({
        "opcua:line1/good": { last: 12 },
        "opcua:line1/scrap": { last: 2 },
      });
      expect(await spool.loadState("nothing:")).toEqual({});
      await spool.close();
    });

    it("finds entries by time range and source for replay, requeues them, purges past retention", async () => {
      const spool = await makeSpool({ retentionMs: 1_000 });
      await spool.append([event(1, "a", 1_000), event(2, "b", 2_000), event(3, "a", 3_000)]);
      const all = await spool.queued(10);
      await spool.markDelivered(all.map((e) => ({ seq: e.seq, status: "applied", odooEventId: e.seq, error: "" })));
      expect((await spool.range({ fromMs: 1_000, toMs: 3_000 }, 0, 10)).map((e) => e.eventId)).toEqual([
        "ev-1",
        "ev-2",
      ]);
      expect(await spool.countRange({ fromMs: 0, toMs: 10_000, source: "a" })).toBe(2);
      const page = await spool.range({ fromMs: 0, toMs: 10_000 }, all[0]?.seq as number, 1);
      expect(page.map((e) => e.eventId)).toEqual(["ev-2"]);
      expect(await spool.requeue([all[0]?.seq as number])).toBe(1);
      expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-1"]);
      expect(await spool.purge(Date.now())).toBe(0);
      expect(await spool.purge(Date.now() + 5_000)).toBe(2);
      expect((await spool.stats()).delivered).toBe(0);
      expect((await spool.stats()).queued).toBe(1);
      await spool.close();
    });

    it("caches the sidecar configuration", async () => {
      const spool = await makeSpool();
      expect(await spool.loadConfig()).toBeUndefined();
      const config = { code: "line1", revision: 3 } as never;
      await spool.saveConfig(config);
      expect(await spool.loadConfig()).toEqual(config);
      await spool.close();
    });
  });
}
