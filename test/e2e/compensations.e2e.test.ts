// Floor-side compensations over the whole chain: CloudEvents published to real
// Mosquitto, the sidecar process, real Odoo 18. A wrong production report, an
// over-booked consumption and a scrap are compensated by production.corrected,
// consumption.reversed and scrap.reversed; the order and the stock end as if
// the wrong bookings had never been made, and a correction Odoo cannot book
// lands in the dead-letter queue with its named reason.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

const CODE = "comp";

describe.runIf(moduleHasSidecarApi())("compensation events (Mosquitto + sidecar process + Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  let sidecar: SidecarProcess | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    odoo = await startOdoo({ db: `sfb_comp_e2e_${process.pid}` });
    publisher = await mqtt.connectAsync(broker.url, { clientId: `e2e-comp-pub-${process.pid}` });
  });
  afterAll(async () => {
    await sidecar?.kill("SIGKILL");
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("production.corrected, consumption.reversed and scrap.reversed undo what the floor booked", async () => {
    const fixture = await makeOdooFixture(odoo, { code: CODE, mqttUrl: broker.url, topics: [`shopfloor/${CODE}/#`] });
    const admin = fixture.admin;
    const ref = async (name: string) =>
      (
        (await admin.execute(
          "ir.model.data",
          "search_read",
          [
            [
              ["module", "=", "shopfloor_bridge"],
              ["name", "=", name],
            ],
          ],
          {
            fields: ["res_id"],
          },
        )) as { res_id: number }[]
      )[0]?.res_id as number;
    const hinge = await ref("demo_product_hinge");
    const moId = (await admin.execute("mrp.production", "create", [
      { product_id: hinge, bom_id: await ref("demo_bom_hinge"), product_qty: 50 },
    ])) as number;
    await admin.execute("mrp.production", "action_confirm", [[moId]]);
    const [mo] = (await admin.execute("mrp.production", "read", [[moId], ["name"]])) as { name: string }[];
    const order = mo?.name as string;
    const rivet = await ref("demo_product_rivet");
    const rivetsInStock = async () =>
      (
        (await admin.execute("product.product", "read", [[rivet], ["qty_available"]])) as {
          qty_available: number;
        }[]
      )[0]?.qty_available;
    const figures = async () => {
      const [production] = (await admin.execute("mrp.production", "read", [[moId], ["qty_producing"]])) as {
        qty_producing: number;
      }[];
      const moves = (await admin.execute(
        "stock.move",
        "search_read",
        [
          [
            ["raw_material_production_id", "=", moId],
            // A component's scrap move hangs on the order too; the order's own moves are compared.
            ["scrapped", "=", false],
          ],
        ],
        {
          fields: ["product_id", "quantity"],
        },
      )) as { product_id: [number, string]; quantity: number }[];
      return {
        producing: production?.qty_producing,
        moves: Object.fromEntries(moves.map((m) => [m.product_id[1], m.quantity])),
      };
    };
    const rivetsBefore = await rivetsInStock();

    const spoolDir = mkdtempSync(join(tmpdir(), "sfb-e2e-comp-"));
    dirs.push(spoolDir);
    sidecar = spawnSidecar({
      env: {
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: fixture.user,
        ODOO_API_KEY: fixture.password,
        SHOPFLOOR_CONNECTION: CODE,
        SHOPFLOOR_SPOOL_DIR: spoolDir,
        METRICS_PORT: String(await freePort()),
      },
      args: ["run", "--heartbeat-ms", "2000"],
    });
    await sidecar.waitForLog(/"msg":"source started"/);

    let minute = 0;
    // One at a time, each stored before the next: the floor compensates what Odoo already booked.
    const send = async (id: string, type: string, data: Record<string, unknown>) => {
      minute += 1;
      const event = {
        specversion: "1.0",
        id,
        source: "plant1/line1/press-01",
        type,
        time: new Date(Date.UTC(2026, 10, 23, 8, minute)).toISOString(),
        data: { order, operation: "Stamping", ...data },
      };
      await publisher.publishAsync(`shopfloor/${CODE}/press-01`, JSON.stringify(event), { qos: 1 });
      await expect
        .poll(async () => (await fixture.events(["state"], [["event_uid", "=", id]]))[0]?.state, { timeout: 60_000 })
        .toMatch(/applied|dead|rejected/);
      return (await fixture.events(["state", "error_message", "result_refs"], [["event_uid", "=", id]]))[0] as {
        state: string;
        error_message: string | false;
        result_refs: string | false;
      };
    };

    expect((await send("comp-1", "production.reported", { qty_good: 10 })).state).toBe("applied");
    const afterGoodReport = await figures();
    expect((await send("comp-2", "production.reported", { qty_good: 4 })).state).toBe("applied");
    const corrected = await send("comp-3", "production.corrected", { qty: -4 });
    expect(corrected).toMatchObject({ state: "applied" });
    expect(await figures()).toEqual(afterGoodReport);

    expect((await send("comp-4", "material.consumed", { material: "RM-ALU1", qty: 3, uom: "kg" })).state).toBe(
      "applied",
    );
    const afterConsumption = await figures();
    expect((await send("comp-5", "material.consumed", { material: "RM-ALU1", qty: 0.5, uom: "kg" })).state).toBe(
      "applied",
    );
    const reversed = await send("comp-6", "consumption.reversed", { material: "RM-ALU1", qty: 500, uom: "g" });
    expect(reversed.state).toBe("applied");
    expect(await figures()).toEqual(afterConsumption);

    expect((await send("comp-7", "scrap.reported", { material: "RM-RIV4", qty: 25 })).state).toBe("applied");
    expect(await rivetsInStock()).toBe((rivetsBefore as number) - 25);
    const unscrapped = await send("comp-8", "scrap.reversed", { scrap_event: "comp-7" });
    expect(unscrapped.state).toBe("applied");
    expect(String(unscrapped.result_refs)).toMatch(/^stock\.move,\d+$/m);
    expect(await rivetsInStock()).toBe(rivetsBefore);

    const refused = await send("comp-9", "production.corrected", { qty: -11 });
    expect(refused.state).toBe("dead");
    expect(refused.error_message).toMatch(/Refused \(below_zero\)/);
    const twice = await send("comp-10", "scrap.reversed", { scrap_event: "comp-7" });
    expect(twice.state).toBe("dead");
    expect(twice.error_message).toMatch(/Refused \(already_reversed\)/);
    expect(await figures()).toEqual(afterConsumption);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
    sidecar = undefined;
  });
});
