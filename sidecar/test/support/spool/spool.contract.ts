// The one contract every Spool implementation runs (like MQTT.js's
// abstract_store): the same behaviour, whatever the storage.

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { CloudEvent, RejectedInput, SidecarConfig } from "../../../src/core/contract.ts";
import {
  DELIVERY_ACTOR,
  type Spool,
  SpoolActionError,
  type SpoolLimits,
  type SpoolRecord,
} from "../../../src/spool/spool.ts";

export type MakeSpool = (limits?: Partial<SpoolLimits>, options?: { secretKey?: Buffer }) => Promise<Spool>;

export const TEST_BROKER_PASSWORD = "broker-pw-7f3a9c1e";
export const TEST_OPCUA_PASSWORD = "opcua-pw-5d2b8e40";
/** Not a real key: the spool only has to recognise and hide it. */
export const TEST_CLIENT_KEY = [
  "-----BEGIN PRIVATE KEY-----",
  "MC4CAQAwBQYDK2VwBCIEIFakeKeyForTheSpoolContractOnlyNotARealKey0000",
  "-----END PRIVATE KEY-----",
  "",
].join("\n");

/** A configuration carrying every kind of secret the spool must not keep in clear. */
export function configWithSecrets(): SidecarConfig {
  return {
    code: "line1",
    name: "Line 1",
    kind: "mqtt",
    revision: 7,
    server_time: "2026-11-22T08:00:00Z",
    mqtt: {
      url: `mqtts://sidecar:${TEST_BROKER_PASSWORD}@broker:8883`,
      topics: ["shopfloor/#"],
      client_id: "sfb-line1",
      protocol_version: 5,
      username: "sidecar",
      password: TEST_BROKER_PASSWORD,
      ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      reject_unauthorized: true,
      client_key: TEST_CLIENT_KEY,
    } as SidecarConfig["mqtt"],
    sparkplug: false,
    opcua: {
      endpoint: "opc.tcp://plc:4840",
      security_mode: "SignAndEncrypt",
      security_policy: "Basic256Sha256",
      auth: "username",
      username: "operator",
      password: TEST_OPCUA_PASSWORD,
      publishing_interval_ms: 500,
      sampling_interval_ms: 250,
    },
    batch: { size: 500, wait_ms: 200 },
    skew: { bound_ms: 0, correct: false },
    sources: [{ source: "plant1/press-1", workcenter: "WC1" }],
    rules: [],
    dispatch: { poll_interval_ms: 0, targets: [] },
  };
}

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

    it("skips the entries of the workcenters it is told to, without losing their place", async () => {
      const spool = await makeSpool();
      // a b a c b a c: the skipped workcenters' rows come back, in order, once they are no longer skipped.
      const sources = ["a", "b", "a", "c", "b", "a", "c"];
      await spool.append(sources.map((s, i) => event(i + 1, s)));
      const ids = (entries: { eventId: string }[]) => entries.map((e) => e.eventId);
      expect(ids(await spool.queued(10, undefined, new Set(["wc:a"])))).toEqual(["ev-2", "ev-4", "ev-5", "ev-7"]);
      expect(ids(await spool.queued(2, undefined, new Set(["wc:a", "wc:c"])))).toEqual(["ev-2", "ev-5"]);
      expect(ids(await spool.queued(10, new Set([2]), new Set(["wc:a", "wc:c"])))).toEqual(["ev-5"]);
      // A workcenter key with JSON-special characters is matched as is.
      await spool.append([event(8, 'q"u\\ote')]);
      expect(ids(await spool.queued(10, undefined, new Set(["wc:a", "wc:b", "wc:c"])))).toEqual(["ev-8"]);
      expect(ids(await spool.queued(10, undefined, new Set(['wc:q"u\\ote'])))).toHaveLength(7);
      expect(ids(await spool.queued(3, undefined, new Set()))).toEqual(["ev-1", "ev-2", "ev-3"]);
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

    it("parks a row once its failed attempts reach maxAttempts; attempts that are not the items' do not count", async () => {
      const spool = await makeSpool({ maxAttempts: 3 });
      await spool.append([event(1), event(2), event(3)]);
      const [a, b] = (await spool.queued(3)).map((e) => e.seq) as [number, number];
      expect(await spool.markAttempt([a, b], "Odoo faulted")).toEqual([]);
      // An outage: the error is kept, the attempt not counted.
      expect(await spool.markAttempt([a, b], "connection refused", { counts: false })).toEqual([]);
      expect((await spool.queued(1))[0]?.st).toEqual({ state: "queued", attempts: 1, lastError: "connection refused" });
      expect(await spool.markAttempt([a], "Odoo faulted")).toEqual([]);
      expect(await spool.markAttempt([a, b], "Odoo faulted again")).toEqual([a]);
      expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-2", "ev-3"]);
      const [parked] = await spool.list("parked", 10);
      expect(parked?.st).toMatchObject({
        state: "parked",
        attempts: 3,
        lastError: "Odoo faulted again",
        reason: "failed 3 delivery attempts; the last one: Odoo faulted again",
        by: DELIVERY_ACTOR,
      });
      expect(parked?.st.state === "parked" && Math.abs(parked.st.at - Date.now())).toBeLessThan(5_000);
      // A parked row is not counted any more.
      expect(await spool.markAttempt([a], "again")).toEqual([]);
      expect(await spool.actionLog(10)).toMatchObject([{ seq: a, action: "park", from: "queued", by: DELIVERY_ACTOR }]);
      expect(await spool.stats()).toMatchObject({ queued: 2, parked: 1, parkedBytes: parked?.bytes, skipped: 0 });
      await spool.close();
    });

    it("parks, unparks and skips rows with a logged reason, refusing (and changing nothing) where it makes no sense", async () => {
      const spool = await makeSpool();
      await spool.append([event(1), event(2), event(3), event(4)]);
      const [s1, s2, s3, s4] = (await spool.queued(4)).map((e) => e.seq) as [number, number, number, number];
      await spool.markDelivered([{ seq: s4, status: "applied", odooEventId: 4, error: "" }]);
      await expect(spool.park([s1], "  ", "ana")).rejects.toThrow(/a reason is required to park/);
      expect(await spool.park([s3, s1, s1], "order WH/MO/9 is being fixed", "ana")).toBe(2);
      expect((await spool.queued(10)).map((e) => e.seq)).toEqual([s2]);
      const parked = await spool.list("parked", 10);
      expect(parked.map((e) => e.seq)).toEqual([s1, s3]);
      expect(parked[0]?.st).toMatchObject({ state: "parked", reason: "order WH/MO/9 is being fixed", by: "ana" });

      // Skip a delivered row, park a parked one, unpark a queued one, touch a row that is not there: refused whole.
      await expect(spool.skip([s2, s4], "bad", "ana")).rejects.toThrow(
        new RegExp(`cannot skip \\(only queued or parked rows can be\\): ${s4} is delivered; nothing was changed`),
      );
      await expect(spool.park([s1], "again", "ana")).rejects.toThrow(`${s1} is parked`);
      await expect(spool.unpark([s2, 999], "x", "ana")).rejects.toBeInstanceOf(SpoolActionError);
      await expect(spool.unpark([s2, 999], "x", "ana")).rejects.toThrow(`${s2} is queued; 999 is not in the spool`);
      expect((await spool.queued(10)).map((e) => e.seq)).toEqual([s2]);

      expect(await spool.skip([s3], "a test event sent to production by mistake", "bo")).toBe(1);
      expect((await spool.list("skipped", 10))[0]?.st).toMatchObject({ state: "skipped", by: "bo" });
      expect(await spool.stats()).toMatchObject({ queued: 1, parked: 1, skipped: 1, delivered: 1 });

      // Unparked rows go back in their own place (seq order), attempts reset.
      await spool.markAttempt([s2], "timeout");
      expect(await spool.unpark([s3, s1], "fixed in Odoo", "ana")).toBe(2);
      const queued = await spool.queued(10);
      expect(queued.map((e) => e.seq)).toEqual([s1, s2, s3]);
      expect(queued[0]?.st).toEqual({ state: "queued", attempts: 0, lastError: "" });
      expect(await spool.stats()).toMatchObject({ queued: 3, parked: 0, skipped: 0 });

      const log = await spool.actionLog(10);
      expect(log.map((l) => [l.seq, l.action, l.from, l.reason, l.by])).toEqual([
        [s3, "unpark", "skipped", "fixed in Odoo", "ana"],
        [s1, "unpark", "parked", "fixed in Odoo", "ana"],
        [s3, "skip", "parked", "a test event sent to production by mistake", "bo"],
        [s3, "park", "queued", "order WH/MO/9 is being fixed", "ana"],
        [s1, "park", "queued", "order WH/MO/9 is being fixed", "ana"],
      ]);
      expect(log[0]).toMatchObject({ source: "press-1", eventId: "ev-3" });
      expect((await spool.actionLog(10, s1)).map((l) => l.action)).toEqual(["unpark", "park"]);
      expect(await spool.actionLog(1)).toHaveLength(1);
      await spool.close();
    });

    it("counts parked rows against the capacity; a skip frees space for a waiting append", async () => {
      const spool = await makeSpool({ capacityEvents: 2 });
      await spool.append([event(1), event(2)]);
      const [s1, s2] = (await spool.queued(2)).map((e) => e.seq) as [number, number];
      await spool.park([s1, s2], "poison", "ana");
      let done = false;
      const blocked = spool.append([event(3)]).then((r) => {
        done = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(done).toBe(false);
      await spool.skip([s1], "given up", "ana");
      expect(await blocked).toEqual({ added: 1, duplicates: 0 });
      // Unparking may take the backlog above capacity (nothing is lost); new appends wait.
      await spool.unpark([s1], "back", "ana");
      expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-1", "ev-3"]);
      expect((await spool.stats()).parked).toBe(1);
      await spool.close();
    });

    it("delivers a row parked or skipped while in flight; purges skipped rows past retention, never parked ones", async () => {
      const spool = await makeSpool({ retentionMs: 1_000 });
      await spool.append([event(1), event(2), event(3)]);
      const [s1, s2, s3] = (await spool.queued(3)).map((e) => e.seq) as [number, number, number];
      await spool.park([s1], "look at it", "ana");
      await spool.skip([s2], "duplicate of an older test", "ana");
      await spool.markDelivered([{ seq: s1, status: "applied", odooEventId: 1, error: "" }]);
      expect(await spool.stats()).toMatchObject({ queued: 1, parked: 0, skipped: 1, delivered: 1 });
      await spool.park([s3], "hold", "ana");
      expect(await spool.purge(Date.now())).toBe(0);
      expect(await spool.purge(Date.now() + 5_000)).toBe(2);
      expect(await spool.stats()).toMatchObject({ queued: 0, parked: 1, skipped: 0, delivered: 0 });
      expect((await spool.list("parked", 10)).map((e) => e.seq)).toEqual([s3]);
      // The parked row's log lines stay; those of purged rows go after the retention window.
      expect((await spool.actionLog(10)).map((l) => l.seq)).toEqual([s3]);
      await spool.close();
    });

    it("refuses a maxAttempts below 1", async () => {
      await expect(makeSpool({ maxAttempts: 0 })).rejects.toThrow(
        /maxAttempts must be an integer of at least 1, got 0/,
      );
    });

    it("caches the sidecar configuration", async () => {
      const spool = await makeSpool();
      expect(await spool.loadConfig()).toBeUndefined();
      const config = { code: "line1", revision: 3 } as never;
      await spool.saveConfig(config);
      expect(await spool.loadConfig()).toEqual({ config, missingSecrets: [], why: "" });
      await spool.close();
    });

    it("caches the configuration with its secrets when it has a key, and gives them back", async () => {
      const spool = await makeSpool({}, { secretKey: randomBytes(32) });
      await spool.saveConfig(configWithSecrets());
      expect(await spool.loadConfig()).toEqual({ config: configWithSecrets(), missingSecrets: [], why: "" });
      await spool.close();
    });

    it("caches the configuration without its secrets when it has no key, and names what is missing", async () => {
      const spool = await makeSpool();
      await spool.saveConfig(configWithSecrets());
      const cached = await spool.loadConfig();
      expect(cached?.missingSecrets.sort()).toEqual(["mqtt.client_key", "mqtt.password", "mqtt.url", "opcua.password"]);
      expect(cached?.why).toMatch(/without its secrets \(no SHOPFLOOR_SECRET_KEY is set\)/);
      const expected = configWithSecrets();
      expect(cached?.config).toEqual({
        ...expected,
        mqtt: { ...expected.mqtt, url: "mqtts://sidecar@broker:8883", password: "", client_key: "" },
        opcua: { ...expected.opcua, password: "" },
      });
      expect(JSON.stringify(cached)).not.toContain("pw-");
      await spool.close();
    });
  });
}
