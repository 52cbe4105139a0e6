// Lots and serials end to end: CloudEvents published to a real Mosquitto, through
// the sidecar, into a real Odoo 18. A lot-tracked order closes done with the
// floor's finished lot and the component lot it consumed; a serial sent twice in
// one event is refused by the sidecar's schema check and shows in Odoo's
// dead-letter list with the reason and its bytes; a lot of another product is
// dead in Odoo with the product named.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { Sidecar } from "../../sidecar/src/main.ts";
import { createLogger } from "../../sidecar/src/ops/log.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { eventsOf, mapFloor, publishOne } from "../kits/odoo-line.ts";

type Row = Record<string, unknown>;
const id = (value: unknown) => (Array.isArray(value) ? (value[0] as number) : 0);
const SOURCE = "plant1/dairy/press-01";

/** Cheese (lot-tracked) made of milk (lot-tracked, lot MILK-7) on one work center; a confirmed order of 10. */
async function makeDairy(fixture: OdooFixture) {
  const admin = fixture.admin;
  const workcenterId = (await admin.execute("mrp.workcenter", "create", [
    { name: `Vat (${fixture.code})`, code: `${fixture.code}-VAT`.slice(0, 20) },
  ])) as number;
  const product = async (name: string, code: string) =>
    (await admin.execute("product.product", "create", [
      { name, default_code: code, type: "consu", is_storable: true, tracking: "lot" },
    ])) as number;
  const cheeseId = await product(`Cheese ${fixture.code}`, `FG-CHEESE-${fixture.code}`);
  const milkId = await product(`Milk ${fixture.code}`, `RM-MILK-${fixture.code}`);
  // Not received first: Odoo lets the floor consume a known lot into negative stock.
  await admin.execute("stock.lot", "create", [{ name: "MILK-7", product_id: milkId }]);
  const [cheese] = (await admin.execute("product.product", "read", [[cheeseId]], {
    fields: ["product_tmpl_id"],
  })) as Row[];
  const bomId = (await admin.execute("mrp.bom", "create", [
    {
      product_tmpl_id: id(cheese?.product_tmpl_id),
      product_qty: 1,
      consumption: "flexible",
      bom_line_ids: [[0, 0, { product_id: milkId, product_qty: 1 }]],
      operation_ids: [[0, 0, { name: "Curdle", workcenter_id: workcenterId, time_cycle_manual: 1 }]],
    },
  ])) as number;
  const moId = (await admin.execute("mrp.production", "create", [
    { product_id: cheeseId, bom_id: bomId, product_qty: 10 },
  ])) as number;
  await admin.execute("mrp.production", "action_confirm", [[moId]]);
  const [mo] = (await admin.execute("mrp.production", "read", [[moId]], { fields: ["name"] })) as Row[];
  await mapFloor(fixture, { sources: { [SOURCE]: workcenterId } });
  return { moId, moName: mo?.name as string, milkCode: `RM-MILK-${fixture.code}`, cheeseId };
}

describe.runIf(moduleHasSidecarApi())("lots and serials: MQTT CloudEvents into Odoo 18", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  const dir = mkdtempSync(join(tmpdir(), "sfb-lots-e2e-"));

  beforeAll(async () => {
    [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_lots_e2e_${process.pid}` }), startMosquitto()]);
  });
  afterAll(async () => {
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a lot-tracked order closes with the floor's lot; bad serials and lots are shown with their reason", async () => {
    const fixture = await makeOdooFixture(odoo, { code: "lots-e2e", mqttUrl: broker.url, topics: ["shopfloor/#"] });
    const dairy = await makeDairy(fixture);
    const event = (n: number, type: string, data: Row) =>
      JSON.stringify({
        specversion: "1.0",
        id: `lots-${n}`,
        source: SOURCE,
        type,
        time: new Date(Date.UTC(2026, 11, 1, 6, n)).toISOString(),
        data: { order: dairy.moName, ...data },
      });
    const sidecar = await Sidecar.start({
      boot: fixture.boot(mkdtempSync(join(dir, "spool-"))),
      log: createLogger("warn"),
      heartbeatMs: 5_000,
    });
    try {
      const publish = (payload: string, n: number) =>
        publishOne(broker.url, "shopfloor/dairy/press-01", payload, `lots-e2e-pub-${n}`);
      await publish(event(1, "material.consumed", { material: dairy.milkCode, qty: 10, lot: "MILK-7" }), 1);
      await publish(event(2, "production.reported", { qty_good: 4, serials: ["C-1", "C-1", "C-2", "C-3"] }), 2);
      await publish(event(3, "production.reported", { qty_good: 1, lot: "MILK-7" }), 3);
      await publish(event(4, "workorder.completed", { qty_good: 10, lot: "CHEESE-2026-12-01" }), 4);
      await expect
        .poll(async () => (await eventsOf(fixture)).map((row) => row.state).sort(), {
          timeout: 120_000,
          interval: 1_000,
        })
        .toEqual(["applied", "applied", "dead", "rejected"]);
    } finally {
      await sidecar.stop();
    }
    const rows = await fixture.events(["event_uid", "state", "error_message", "raw_b64"]);
    const rejected = rows.find((row) => row.state === "rejected");
    expect(rejected?.error_message).toMatch(/\/data\/serials must NOT have duplicate items/);
    expect(Buffer.from(String(rejected?.raw_b64), "base64").toString()).toContain('"C-1","C-1"');
    const dead = rows.find((row) => row.state === "dead");
    expect(dead?.error_message).toMatch(/'MILK-7' is a lot of .*Milk lots-e2e/);

    const [mo] = (await fixture.admin.execute("mrp.production", "read", [[dairy.moId]], {
      fields: ["state", "lot_producing_id", "qty_produced"],
    })) as Row[];
    expect(mo).toMatchObject({ state: "done", qty_produced: 10 });
    expect(mo?.lot_producing_id).toEqual([expect.any(Number), "CHEESE-2026-12-01"]);
    const lines = (await fixture.admin.execute(
      "stock.move.line",
      "search_read",
      [["|", ["move_id.production_id", "=", dairy.moId], ["move_id.raw_material_production_id", "=", dairy.moId]]],
      { fields: ["product_id", "lot_id", "quantity", "state"] },
    )) as Row[];
    expect(lines.map((line) => [(line.lot_id as [number, string])[1], line.quantity, line.state]).sort()).toEqual([
      ["CHEESE-2026-12-01", 10, "done"],
      ["MILK-7", 10, "done"],
    ]);
    // The genealogy from the finished lot: the milk lot, and the two floor events that booked the order.
    const lotId = id(mo?.lot_producing_id);
    const genealogy = (await fixture.admin.execute("stock.lot", "action_shopfloor_genealogy", [[lotId]])) as {
      domain: unknown[];
    };
    const components = (await fixture.admin.execute("stock.move.line", "search_read", [genealogy.domain], {
      fields: ["lot_id"],
    })) as Row[];
    expect(components.map((line) => (line.lot_id as [number, string])[1])).toEqual(["MILK-7"]);
    const [lot] = (await fixture.admin.execute("stock.lot", "read", [[lotId]], {
      fields: ["shopfloor_event_count"],
    })) as Row[];
    expect(lot?.shopfloor_event_count).toBe(2); // the consumption and the completion; the refused report booked nothing
  });
});
