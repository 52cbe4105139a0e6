// The shipped payload mapping presets end to end: payloads of each shape go
// to a real Mosquitto, through the sidecar (mapping → tag rules with scale,
// offset and unit → spool), into a real Odoo 18, with the mappings made from
// the presets and the rules entered through the models as an admin does.
// And bad mappings: one that throws, returns garbage, loops (JSONata's time
// and depth limits) or makes events that fail the schema — each payload is
// stored rejected in Odoo with the reason and its exact bytes, and the
// sidecar goes on with the next good payload.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { Sidecar } from "../../sidecar/src/main.ts";
import { createLogger } from "../../sidecar/src/ops/log.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import {
  eventsOf,
  makeLine,
  mapFloor,
  mappingFromPreset,
  odooTime,
  payloadRule,
  production,
  publishOne,
  publishRecorded,
  scrapTotal,
  timeLogs,
  workorder,
} from "../kits/odoo-line.ts";
import { readRecorded } from "../kits/presets.ts";

type Row = Record<string, unknown>;

describe.runIf(moduleHasSidecarApi())("payload presets end to end into Odoo", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  const dir = mkdtempSync(join(tmpdir(), "sfb-presets-e2e-"));

  beforeAll(async () => {
    [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_presets_e2e_${process.pid}` }), startMosquitto()]);
  });
  afterAll(async () => {
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startSidecar(fixture: OdooFixture) {
    return Sidecar.start({
      boot: fixture.boot(mkdtempSync(join(dir, `${fixture.code}-spool-`))),
      log: createLogger("warn"),
      heartbeatMs: 5_000,
    });
  }

  async function untilApplied(fixture: OdooFixture, count: number) {
    await expect
      .poll(async () => (await eventsOf(fixture, [["state", "=", "applied"]])).length, {
        timeout: 120_000,
        interval: 1_000,
      })
      .toBe(count);
  }

  async function nothingElse(fixture: OdooFixture) {
    const others = await eventsOf(fixture, [["state", "!=", "applied"]]);
    expect(others.map((e) => [e.type, e.state, e.error_message])).toEqual([]);
  }

  it("UNS plain-text values drive counter (scale, unit), state with reason and trigger rules", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "uns-text", mqttUrl: broker.url, topics: ["plant1/#"] });
    const line = await makeLine(fixture, "Press03");
    const source = "plant1/line1/press-03";
    await mapFloor(fixture, {
      sources: { [source]: line.workcenterId },
      orders: { "4711-030": line.moId },
      reasons: { JAM: "Equipment Failure" },
      units: { PCS: "Units" },
    });
    await mappingFromPreset(fixture, "uns_value_text", "plant1/line1/press-03/+");
    const at = (tag: string) => `${source}/${tag}`;
    // A two-cavity die: every stroke makes two parts.
    await payloadRule(fixture, {
      kind: "counter",
      address: at("Strokes"),
      source,
      event_type: "production.reported",
      params: { order_address: at("Order"), operation: "Stamping", scale: 2, unit: "PCS" },
    });
    await payloadRule(fixture, {
      kind: "state",
      address: at("State"),
      source,
      params: {
        value_map: { RUNNING: "running", IDLE: "idle", DOWN: "down" },
        reason_address: at("DownReason"),
        order_address: at("Order"),
      },
    });
    await payloadRule(fixture, {
      kind: "trigger",
      address: at("Started"),
      source,
      event_type: "workorder.started",
      params: { fields: { order: at("Order") }, static: { operation: "Stamping" } },
    });
    const sidecar = await startSidecar(fixture);
    try {
      // Plain text carries no time: the receive time is the event time, so a second apart.
      await publishRecorded(broker.url, readRecorded("test/fixtures/kits/uns-text.jsonl"), "uns-text-pub", 1_100);
      // started, 2 reports (3 and 2 strokes), downtime started/ended, resumed after it.
      await untilApplied(fixture, 6);
      await nothingElse(fixture);
    } finally {
      await sidecar.stop();
    }
    const events = (await fixture.admin.execute(
      "shopfloor.event",
      "search_read",
      [
        [
          ["connection_id", "=", fixture.connectionId],
          ["type", "=", "production.reported"],
        ],
      ],
      { fields: ["data_json"], order: "time, id" },
    )) as Row[];
    expect(events.map((e) => JSON.parse(e.data_json as string))).toMatchObject([
      { qty_good: 6, uom: "PCS", order: "4711-030", operation: "Stamping" },
      { qty_good: 4, uom: "PCS" },
    ]);
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 10 });
    expect(await workorder(fixture, line.woId)).toMatchObject({ state: "progress" });
    const downtime = (await timeLogs(fixture, line.workcenterId)).filter(([loss]) => loss === "Equipment Failure");
    expect(downtime).toHaveLength(1);
    expect(downtime[0]?.[2] && downtime[0][2] >= downtime[0][1]).toBe(true);
  });

  it("UNS JSON values at their own timestamps: counter, state with offset and reason, completion trigger", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "uns-json", mqttUrl: broker.url, topics: ["plant1/#"] });
    const line = await makeLine(fixture, "Press04");
    const source = "plant1/line1/press-04";
    await mapFloor(fixture, {
      sources: { [source]: line.workcenterId },
      orders: { "4711-040": line.moId },
      reasons: { MAT: "Material Availability" },
    });
    await mappingFromPreset(fixture, "uns_value_json", "plant1/line1/press-04/+");
    const at = (tag: string) => `${source}/${tag}`;
    await payloadRule(fixture, {
      kind: "counter",
      address: at("GoodCount"),
      source,
      event_type: "production.reported",
      params: { order_address: at("Order"), operation: "Stamping", unit: "Units" },
    });
    // The PLC numbers its states from 0; the value map from 1.
    await payloadRule(fixture, {
      kind: "state",
      address: at("State"),
      source,
      params: {
        value_map: { "1": "idle", "2": "running", "3": "down" },
        offset: 1,
        reason_address: at("DownReason"),
        order_address: at("Order"),
      },
    });
    await payloadRule(fixture, {
      kind: "trigger",
      address: at("Completed"),
      source,
      event_type: "workorder.completed",
      params: { fields: { order: at("Order"), qty_good: at("GoodCount") }, static: { operation: "Stamping" } },
    });
    const sidecar = await startSidecar(fixture);
    try {
      await publishRecorded(broker.url, readRecorded("test/fixtures/kits/uns-json.jsonl"), "uns-json-pub");
      // 3 reports (4, 5, 3), downtime started/ended, resumed after it, completed.
      await untilApplied(fixture, 7);
      await nothingElse(fixture);
    } finally {
      await sidecar.stop();
    }
    expect((await eventsOf(fixture)).map((e) => [e.type, e.time])).toEqual([
      ["production.reported", odooTime("2026-12-01T06:02:00Z")],
      ["production.reported", odooTime("2026-12-01T06:03:00Z")],
      ["downtime.started", odooTime("2026-12-01T06:04:00Z")],
      ["downtime.ended", odooTime("2026-12-01T06:05:00Z")],
      ["workorder.resumed", odooTime("2026-12-01T06:05:00Z")],
      ["production.reported", odooTime("2026-12-01T06:06:00Z")],
      ["workorder.completed", odooTime("2026-12-01T06:07:00Z")],
    ]);
    expect(await workorder(fixture, line.woId)).toMatchObject({ state: "done", qty_produced: 12 });
    const logs = await timeLogs(fixture, line.workcenterId);
    expect(logs.filter(([loss]) => loss === "Material Availability").map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:04:00Z"), odooTime("2026-12-01T06:05:00Z")],
    ]);
  });

  it("HighByte-style flat JSON: counts, scrap and downtime with its reason", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "highbyte", mqttUrl: broker.url, topics: ["highbyte/#"] });
    const line = await makeLine(fixture, "Press05");
    const source = "plant1/line1/press-05";
    await mapFloor(fixture, {
      sources: { [source]: line.workcenterId },
      orders: { "4711-050": line.moId },
      reasons: { JAM: "Equipment Failure" },
    });
    await mappingFromPreset(fixture, "highbyte_flat_json");
    const at = (name: string) => `highbyte/plant1/press-05/${name}`;
    const params = { order_address: at("Order"), operation: "Stamping" };
    await payloadRule(fixture, {
      kind: "counter",
      address: at("GoodCount"),
      source,
      event_type: "production.reported",
      params,
    });
    await payloadRule(fixture, {
      kind: "counter",
      address: at("ScrapCount"),
      source,
      event_type: "scrap.reported",
      params,
    });
    await payloadRule(fixture, {
      kind: "state",
      address: at("State"),
      source,
      params: {
        value_map: { RUNNING: "running", DOWN: "down" },
        reason_address: at("Reason"),
        order_address: at("Order"),
      },
    });
    const sidecar = await startSidecar(fixture);
    try {
      await publishRecorded(broker.url, readRecorded("test/fixtures/kits/highbyte.jsonl"), "highbyte-pub");
      // 2 reports (10, 5), 1 scrap (2), downtime started/ended, resumed after it.
      await untilApplied(fixture, 6);
      await nothingElse(fixture);
    } finally {
      await sidecar.stop();
    }
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 15 });
    expect(await scrapTotal(fixture, line.moId)).toBe(2);
    const logs = await timeLogs(fixture, line.workcenterId);
    expect(logs.filter(([loss]) => loss === "Equipment Failure").map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:02:00Z"), odooTime("2026-12-01T06:04:00Z")],
    ]);
  });

  it("bad input: a mapping that throws, returns garbage, recurses, loops or fails the schema, and no mapping — each payload rejected with its bytes; the next applies", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "bad-maps", mqttUrl: broker.url, topics: ["mes/#"] });
    const line = await makeLine(fixture, "Press06");
    const source = "plant1/line1/press-06";
    await mapFloor(fixture, { sources: { [source]: line.workcenterId }, orders: { "4711-060": line.moId } });
    const a = fixture.admin;
    const map = async (name: string, match: string, expression: string, idFields = "") =>
      a.execute("shopfloor.payload.map", "create", [
        {
          connection_id: fixture.connectionId,
          name,
          kind: "events",
          transport: "mqtt",
          match,
          expression,
          id_fields: idFields || false,
          payload_format: "json",
        },
      ]);
    await map(
      "MES report",
      "mes/good",
      `{"source": src, "type": "production.reported", "time": $isoTime(at),
        "data": {"order": order, "qty_good": qty, "operation": "Stamping"}}`,
      "source\ntime\ndata.order",
    );
    await map("throws", "mes/throws", `$error("record format " & format & " is unknown")`);
    await map("garbage", "mes/garbage", `"not an event"`);
    // Not a tail call: JSONata runs tail recursion as a loop (then the time limit stops it).
    await map("recursion", "mes/recursion", `($down := function($n) { 1 + $down($n + 1) }; $down(0))`);
    await map("endless", "mes/endless", `$count($map([1..90000], function($v) { $sum([1..2000]) }))`);
    await map(
      "no order",
      "mes/schema",
      `{"source": src, "type": "production.reported", "time": $receivedAt, "data": {"qty_good": qty}}`,
    );
    const good = (qty: number, atIso: string) => JSON.stringify({ src: source, order: "4711-060", qty, at: atIso });
    const bad: [string, string, RegExp][] = [
      ["mes/throws", JSON.stringify({ format: "X7" }), /"throws".*record format X7 is unknown/],
      ["mes/garbage", JSON.stringify({ any: 1 }), /"garbage".*a string/],
      ["mes/recursion", JSON.stringify({ any: 2 }), /"recursion".*evaluation depth/],
      ["mes/endless", JSON.stringify({ any: 3 }), /"endless".*exceeded \d+ ms/],
      ["mes/schema", JSON.stringify({ src: source, qty: 3 }), /order/],
      ["mes/good", "{not json", /"MES report".*not JSON/],
      [
        "mes/unmapped",
        JSON.stringify({ any: 4 }),
        /no payload mapping of this connection matches mqtt "mes\/unmapped"/,
      ],
    ];
    const sidecar = await startSidecar(fixture);
    try {
      await publishOne(broker.url, "mes/good", good(7, "2026-12-01T06:01:00Z"), "bad-maps-1");
      for (const [topic, payload] of bad) await publishOne(broker.url, topic, payload, `bad-maps-${topic}`);
      await publishOne(broker.url, "mes/good", good(5, "2026-12-01T06:02:00Z"), "bad-maps-2");
      await untilApplied(fixture, 2);
      await expect
        .poll(async () => (await eventsOf(fixture, [["state", "=", "rejected"]])).length, { timeout: 60_000 })
        .toBe(bad.length);
    } finally {
      await sidecar.stop();
    }
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 12 });
    const rejected = (await a.execute(
      "shopfloor.event",
      "search_read",
      [
        [
          ["connection_id", "=", fixture.connectionId],
          ["state", "=", "rejected"],
        ],
      ],
      { fields: ["source", "raw_b64", "error_message"], context: { active_test: false } },
    )) as Row[];
    for (const [topic, payload, reason] of bad) {
      const row = rejected.find((r) => Buffer.from(String(r.raw_b64), "base64").toString("utf8") === payload);
      expect(row, `${topic} ${payload}`).toBeDefined();
      expect(row?.source).toBe(topic);
      expect(String(row?.error_message)).toMatch(reason);
    }
  });
});
