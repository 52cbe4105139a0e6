// The kits end to end: what the Ignition gateway script and a Kepware IoT
// Gateway agent publish (integrations/*/recorded, in the exact shape) goes to
// a real Mosquitto, through the sidecar, into a real Odoo 18, configured as
// each kit's README tells an admin. Odoo must then show the shift the
// recording describes: quantities, scrap, setup and downtime with reasons.
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
  publishRecorded,
  scrapTotal,
  timeLogs,
  workorder,
} from "../kits/odoo-line.ts";
import { readRecorded } from "../kits/presets.ts";

const DOWNTIME_LOSS = "Equipment Failure";
const SETUP_LOSS = "Setup and Adjustments";

describe.runIf(moduleHasSidecarApi())("kits: recorded Ignition and Kepware payloads end to end into Odoo", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  const dir = mkdtempSync(join(tmpdir(), "sfb-kits-e2e-"));

  beforeAll(async () => {
    [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_kits_e2e_${process.pid}` }), startMosquitto()]);
  });
  afterAll(async () => {
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the sidecar of the fixture's connection while `body` publishes, until Odoo has `applied` events. */
  async function withSidecar(fixture: OdooFixture, applied: number, body: () => Promise<void>) {
    const sidecar = await Sidecar.start({
      boot: fixture.boot(mkdtempSync(join(dir, `${fixture.code}-spool-`))),
      log: createLogger("warn"),
      heartbeatMs: 5_000,
    });
    try {
      await body();
      await expect
        .poll(async () => (await eventsOf(fixture, [["state", "=", "applied"]])).length, {
          timeout: 120_000,
          interval: 1_000,
        })
        .toBe(applied);
      // Nothing else waits, failed or was rejected.
      expect(
        (await eventsOf(fixture, [["state", "!=", "applied"]])).map((e) => [e.type, e.state, e.error_message]),
      ).toEqual([]);
    } finally {
      await sidecar.stop();
    }
  }

  it("Ignition, events mode: the gateway script's CloudEvents become the shift, a resend kept once", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "kit-ign-ev", mqttUrl: broker.url, topics: ["shopfloor/#"] });
    const line = await makeLine(fixture, "Press01");
    await mapFloor(fixture, {
      sources: { "plant1/line1/press-01": line.workcenterId },
      orders: { "4711-010": line.moId },
      reasons: { JAM: DOWNTIME_LOSS },
    });
    const recorded = readRecorded("integrations/ignition/recorded/events.jsonl");
    const unique = new Set(recorded.map((r) => (r.payload as { id: string }).id));
    expect(unique.size).toBe(recorded.length - 1); // the script's one resend
    await withSidecar(fixture, unique.size, () => publishRecorded(broker.url, recorded, "kit-ign-ev-pub"));

    const events = await eventsOf(fixture);
    expect(events.map((e) => e.event_uid).sort()).toEqual([...unique].sort());
    expect(await workorder(fixture, line.woId)).toMatchObject({
      state: "done",
      qty_produced: 15,
      shopfloor_qty_scrap: 2,
    });
    expect(await scrapTotal(fixture, line.moId)).toBe(2);
    const logs = await timeLogs(fixture, line.workcenterId);
    expect(logs.filter(([loss]) => loss === SETUP_LOSS).map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:01:30Z"), odooTime("2026-12-01T06:06:30Z")],
    ]);
    expect(logs.filter(([loss]) => loss === DOWNTIME_LOSS).map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:08:20Z"), odooTime("2026-12-01T06:10:20Z")],
    ]);
    expect(logs.filter(([, , end]) => !end)).toEqual([]);
  });

  it("Ignition, tags mode: tag-change JSON through the preset and tag rules in Odoo, bad quality not counted", async () => {
    const fixture = await makeOdooFixture(odoo, {
      code: "kit-ign-tag",
      mqttUrl: broker.url,
      topics: ["ignition/tags/#"],
    });
    const line = await makeLine(fixture, "Press01T");
    const source = "plant1/line1/press-01";
    await mapFloor(fixture, {
      sources: { [source]: line.workcenterId },
      orders: { "4711-010": line.moId },
      reasons: { JAM: DOWNTIME_LOSS },
    });
    await mappingFromPreset(fixture, "ignition_tag_change");
    const at = (member: string) => `[default]Plant1/Line1/Press01/${member}`;
    const counterParams = { order_address: at("Order"), operation_address: at("Operation") };
    await payloadRule(fixture, {
      kind: "counter",
      address: at("GoodCount"),
      source,
      event_type: "production.reported",
      params: counterParams,
    });
    await payloadRule(fixture, {
      kind: "counter",
      address: at("ScrapCount"),
      source,
      event_type: "scrap.reported",
      params: { ...counterParams, reason_address: at("ScrapReason") },
    });
    await payloadRule(fixture, {
      kind: "state",
      address: at("State"),
      source,
      params: {
        value_map: { "0": "idle", "1": "running", "2": "idle", "3": "down", "4": "setup" },
        reason_address: at("ReasonCode"),
        order_address: at("Order"),
      },
    });
    // setup started/ended, 5 reports (3+2+5+2+3), 2 scraps, downtime started/ended, and the work
    // resumed after the setup and after the downtime (the state rule, running again with an order).
    await withSidecar(fixture, 13, () =>
      publishRecorded(broker.url, readRecorded("integrations/ignition/recorded/tag-changes.jsonl"), "kit-ign-tag-pub"),
    );
    // Had the Bad_NotConnected 0 been read, the counter would have reset and counted 1010 more.
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 15 });
    expect(await scrapTotal(fixture, line.moId)).toBe(2);
    const logs = await timeLogs(fixture, line.workcenterId);
    expect(logs.filter(([loss]) => loss === SETUP_LOSS).map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:01:30Z"), odooTime("2026-12-01T06:06:30Z")],
    ]);
    expect(logs.filter(([loss]) => loss === DOWNTIME_LOSS).map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:08:20Z"), odooTime("2026-12-01T06:10:20Z")],
    ]);
  });

  /** The Kepware connection as integrations/kepware/README.md sets it up. */
  async function kepwareConnection(code: string, name: string) {
    const fixture = await makeOdooFixture(odoo, { code, mqttUrl: broker.url, topics: ["iotgateway"] });
    const line = await makeLine(fixture, name);
    const source = "plant1/line2/press-02";
    await mapFloor(fixture, {
      sources: { [source]: line.workcenterId },
      orders: { "4711-020": line.moId },
      reasons: { JAM: DOWNTIME_LOSS },
    });
    await mappingFromPreset(fixture, "kepware_iot_gateway");
    const order = "Line2.Press02.Order";
    await payloadRule(fixture, {
      kind: "counter",
      address: "Line2.Press02.GoodCount",
      source,
      event_type: "production.reported",
      params: { order_address: order, operation: "Stamping" },
    });
    await payloadRule(fixture, {
      kind: "counter",
      address: "Line2.Press02.ScrapCount",
      source,
      event_type: "scrap.reported",
      params: { order_address: order },
    });
    await payloadRule(fixture, {
      kind: "state",
      address: "Line2.Press02.State",
      source,
      params: {
        value_map: { "1": "running", "2": "idle", "3": "down" },
        reason_address: "Line2.Press02.ReasonCode",
        order_address: order,
      },
    });
    await payloadRule(fixture, {
      kind: "trigger",
      address: "Line2.Press02.Started",
      source,
      event_type: "workorder.started",
      params: { fields: { order }, static: { operation: "Stamping" } },
    });
    return { fixture, line };
  }

  it("Kepware: the IoT Gateway recording through the preset and tag rules in Odoo", async () => {
    const { fixture, line } = await kepwareConnection("kit-kep", "Press02");
    // started, 3 reports (4+6+6), 1 scrap, downtime started/ended, resumed after it.
    await withSidecar(fixture, 8, () =>
      publishRecorded(broker.url, readRecorded("integrations/kepware/recorded/iotgateway.jsonl"), "kit-kep-pub"),
    );
    const types = (await eventsOf(fixture)).map((e) => e.type);
    expect(types).toEqual([
      "workorder.started",
      "production.reported",
      "production.reported",
      "scrap.reported",
      "downtime.started",
      "downtime.ended",
      "workorder.resumed",
      "production.reported",
    ]);
    expect(await workorder(fixture, line.woId)).toMatchObject({ state: "progress" });
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 16 });
    expect(await scrapTotal(fixture, line.moId)).toBe(1);
    const logs = await timeLogs(fixture, line.workcenterId);
    expect(logs.filter(([loss]) => loss === DOWNTIME_LOSS).map(([, start, end]) => [start, end])).toEqual([
      [odooTime("2026-12-01T06:04:00Z"), odooTime("2026-12-01T06:06:00Z")],
    ]);
  });

  it("Kepware with the sidecar down while the agent publishes: the broker keeps the backlog, nothing lost", async () => {
    const { fixture, line } = await kepwareConnection("kit-kep-down", "Press02D");
    const boot = fixture.boot(mkdtempSync(join(dir, "kit-kep-down-spool-")));
    // A first start makes the persistent session and its subscriptions, mapped topics included.
    await (await Sidecar.start({ boot, log: createLogger("warn"), heartbeatMs: 5_000 })).stop();
    await publishRecorded(
      broker.url,
      readRecorded("integrations/kepware/recorded/iotgateway.jsonl"),
      "kit-kep-down-pub",
    );
    const sidecar = await Sidecar.start({ boot, log: createLogger("warn"), heartbeatMs: 5_000 });
    try {
      await expect
        .poll(async () => (await eventsOf(fixture, [["state", "=", "applied"]])).length, { timeout: 120_000 })
        .toBe(8);
      expect(await eventsOf(fixture, [["state", "!=", "applied"]])).toEqual([]);
    } finally {
      await sidecar.stop();
    }
    expect(await production(fixture, line.moId)).toMatchObject({ qty_producing: 16 });
    expect(await scrapTotal(fixture, line.moId)).toBe(1);
  });
});
