// Payload mappings made in Odoo, run by the sidecar as main.ts wires it:
// real Odoo 18 (sidecar_config delivers payload_maps and payload rules),
// real Mosquitto (the MQTT source subscribes to the mappings' topics), the
// mapping stage, the spool, delivery. What a mapping yields is in Odoo; what
// it cannot take is there as rejected, with the reason and the bytes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { KEPWARE_VALUES, kepwarePayload, T0 } from "../../test/support/mapping/mapping.fixtures.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../test/support/odoo/testing.ts";
import { Sidecar } from "../main.ts";
import { createLogger } from "../ops/log.ts";

const COUNT = "Line1.Press01.GoodCount";

/** A MES's inspection records: one quality.result per record, the id from the record's own number. */
const INSPECTIONS = `inspections.{
  'source': 'mapint/press-1',
  'type': 'quality.result',
  'time': $isoTime(at),
  'data': { 'characteristic': feature, 'pass': ok, 'value': measured, 'inspection': no }
}`;

describe.runIf(moduleHasSidecarApi())("payload mappings made in Odoo, run by the sidecar", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let fixture: OdooFixture;
  let sidecar: Sidecar;
  let publisher: MqttClient;
  const spoolDir = mkdtempSync(join(tmpdir(), "sfb-mapping-sidecar-"));

  beforeAll(async () => {
    broker = await startMosquitto();
    odoo = await startOdoo({ db: `sfb_mapping_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "mapint", mqttUrl: broker.url, topics: ["shopfloor/mapint/#"] });
    const create = (model: string, values: Record<string, unknown>) =>
      fixture.admin.execute(model, "create", [{ connection_id: fixture.connectionId, ...values }]);
    await create("shopfloor.payload.map", {
      name: "MES inspections",
      sequence: 1,
      kind: "events",
      transport: "mqtt",
      match: "mes/mapint/inspections",
      expression: INSPECTIONS,
      id_fields: "data.inspection",
      payload_format: "json",
    });
    await create("shopfloor.payload.map", {
      name: "Kepware line 1",
      sequence: 2,
      kind: "values",
      transport: "mqtt",
      match: "kepware/mapint/+",
      expression: KEPWARE_VALUES,
      payload_format: "json",
    });
    await create("shopfloor.mapping.rule", {
      kind: "counter",
      protocol: "payload",
      address: COUNT,
      source: "mapint/press-1",
      event_type: "production.reported",
      params_json: JSON.stringify({ order: "WH/MO/MAPINT", scale: 2, unit: "PCS" }),
    });
    sidecar = await Sidecar.start({ boot: fixture.boot(spoolDir), log: createLogger("warn"), heartbeatMs: 500 });
    publisher = await mqtt.connectAsync(broker.url, { clientId: "mapint-pub" });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  const rows = (domain: unknown[]) =>
    fixture.events(["event_uid", "type", "source", "state", "data_json", "error_message", "raw_b64"], domain);

  it("the sidecar got both mappings and the payload rule from Odoo, and subscribes to their topics", () => {
    expect(sidecar.config.payload_maps?.map((m) => [m.name, m.kind, m.match])).toEqual([
      ["MES inspections", "events", "mes/mapint/inspections"],
      ["Kepware line 1", "values", "kepware/mapint/+"],
    ]);
    expect(sidecar.config.rules.map((r) => [r.protocol, r.address, r.params])).toEqual([
      ["payload", COUNT, { order: "WH/MO/MAPINT", scale: 2, unit: "PCS" }],
    ]);
  });

  it("a MES's JSON becomes quality results that Odoo applies; a resend is a duplicate", async () => {
    const payload = JSON.stringify({
      inspections: [
        { no: "INS-1", feature: "diameter", ok: true, measured: 12.02, at: T0 },
        { no: "INS-2", feature: "diameter", ok: false, measured: 12.31, at: T0 + 60_000 },
      ],
    });
    await publisher.publishAsync("mes/mapint/inspections", payload, { qos: 1 });
    await publisher.publishAsync("mes/mapint/inspections", payload, { qos: 1 });
    await expect
      .poll(async () => (await rows([["type", "=", "quality.result"]])).map((r) => r.state), { timeout: 60_000 })
      .toEqual(["applied", "applied"]);
    const data = (await rows([["type", "=", "quality.result"]])).map((r) => JSON.parse(String(r.data_json)));
    expect(data.map((d) => [d.inspection, d.pass]).sort()).toEqual([
      ["INS-1", true],
      ["INS-2", false],
    ]);
    await expect.poll(() => sidecar.stats().duplicates_in, { timeout: 10_000 }).toBe(2);
  });

  it("Kepware values drive the payload counter rule with its scale and unit", async () => {
    await publisher.publishAsync("kepware/mapint/line1", kepwarePayload([{ id: COUNT, v: 100 }], T0), { qos: 1 });
    await publisher.publishAsync("kepware/mapint/line1", kepwarePayload([{ id: COUNT, v: 106 }], T0 + 5_000), {
      qos: 1,
    });
    await expect
      .poll(async () => (await rows([["type", "=", "production.reported"]])).length, { timeout: 60_000 })
      .toBe(1);
    const [row] = await rows([["type", "=", "production.reported"]]);
    expect(row?.source).toBe("mapint/press-1");
    // Stored (no such order here, so not applied): the counted parts, scaled, with the rule's unit.
    expect(row?.state).not.toBe("rejected");
    expect(JSON.parse(String(row?.data_json))).toMatchObject({ order: "WH/MO/MAPINT", qty_good: 12, uom: "PCS" });
  });

  it("a payload the mapping cannot take is in Odoo as rejected, with the mapping's reason and its bytes", async () => {
    await publisher.publishAsync("kepware/mapint/line1", "{not json", { qos: 1 });
    await publisher.publishAsync("plant1/mapint/GoodCount", "7", { qos: 1 }); // no mapping, no subscription
    await publisher.publishAsync("shopfloor/mapint/raw", "120", { qos: 1 }); // subscribed, no mapping, no CloudEvent
    await expect.poll(async () => (await rows([["state", "=", "rejected"]])).length, { timeout: 60_000 }).toBe(2);
    const rejected = await rows([["state", "=", "rejected"]]);
    const bySource = Object.fromEntries(rejected.map((r) => [r.source, r]));
    expect(bySource["kepware/mapint/line1"]?.error_message).toContain('mapping "Kepware line 1"');
    expect(bySource["kepware/mapint/line1"]?.error_message).toContain("not JSON");
    expect(Buffer.from(String(bySource["kepware/mapint/line1"]?.raw_b64), "base64").toString()).toBe("{not json");
    expect(bySource["shopfloor/mapint/raw"]?.error_message).toContain(
      'no payload mapping of this connection matches mqtt "shopfloor/mapint/raw"',
    );
    expect(sidecar.stats()).toMatchObject({ payload_failures: 1 });
  });
});
