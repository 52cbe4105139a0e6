// The benchmark's timing hooks live in a bench-only addon
// (test/odoo_addons/shopfloor_bridge_bench), not in the product module. This
// starts Odoo the way sidecar/bench/cost.bench.ts does (startOdoo's
// benchAddons) and checks the two RPCs the bench reads: the refresh that ran
// inside ingest is timed once per batch and read once, and a refresh in a call
// of its own reports its duration. The product's own paths never carry it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchAddonDir, type OdooServer, odooTree, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";

describe("bench-only addon shopfloor_bridge_bench", () => {
  let odoo: OdooServer;
  let admin: JsonRpcOdooClient;
  let sidecar: JsonRpcOdooClient;
  let order: { id: number; name: string; operation: string };

  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_bench_addon_${process.pid}`, benchAddons: true });
    admin = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: odoo.login, apiKey: odoo.password });
    // The demo's sidecar account and connection (plant1-mqtt), as the bench's own are.
    sidecar = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: "sidecar@plant1", apiKey: "sidecar" });
    const [manager] = (await admin.execute(
      "ir.model.data",
      "search_read",
      [
        [
          ["module", "=", "shopfloor_bridge"],
          ["name", "=", "shopfloor_bridge_group_manager"],
        ],
      ],
      { fields: ["res_id"] },
    )) as { res_id: number }[];
    await admin.execute("res.users", "write", [[await admin.uid()], { groups_id: [[4, manager?.res_id]] }]);
    const [mo] = (await admin.execute(
      "ir.model.data",
      "search_read",
      [
        [
          ["module", "=", "shopfloor_bridge"],
          ["name", "=", "demo_mo_hinge_1"],
        ],
      ],
      { fields: ["res_id"] },
    )) as { res_id: number }[];
    const [production] = (await admin.execute("mrp.production", "read", [[mo?.res_id], ["name", "workorder_ids"]])) as {
      name: string;
      workorder_ids: number[];
    }[];
    if (!production || !mo) throw new Error("the demo order demo_mo_hinge_1 is missing");
    const [first] = (await admin.execute("mrp.workorder", "read", [
      production.workorder_ids.slice(0, 1),
      ["name"],
    ])) as {
      name: string;
    }[];
    order = { id: mo.res_id, name: production.name, operation: first?.name ?? "" };
  });

  afterAll(async () => {
    await odoo?.destroy();
  });

  it("is on the addons path of the bench's server only", () => {
    expect(odooTree().addonsPath).not.toContain(benchAddonDir);
  });

  it("times the refresh that ran inside ingest, one entry per batch, read once", async () => {
    await admin.execute("shopfloor.cost.variance", "bench_refresh_timings", []);
    const results = (await sidecar.execute("shopfloor.event", "ingest", [
      [
        {
          specversion: "1.0",
          id: `bench-addon-${process.pid}`,
          source: "plant1/line1/press-01",
          type: "workorder.started",
          time: "2026-11-23T08:00:00Z",
          connection: "plant1-mqtt",
          data: { order: order.name, operation: order.operation },
        },
      ],
    ])) as { status: string; error: string }[];
    expect(results.map((r) => [r.status, r.error || ""])).toEqual([["applied", ""]]);
    const timings = (await admin.execute("shopfloor.cost.variance", "bench_refresh_timings", [])) as number[][];
    expect(timings).toHaveLength(1);
    const [[ms, orders, queries] = []] = timings;
    expect(ms).toBeGreaterThan(0);
    expect(orders).toBe(1);
    expect(queries).toBeGreaterThan(0);
    expect(await admin.execute("shopfloor.cost.variance", "bench_refresh_timings", [])).toEqual([]);
  });

  it("times a refresh in a call of its own", async () => {
    const timed = (await admin.execute("shopfloor.cost.variance", "bench_refresh_timed", [[order.id]])) as {
      ms: number;
      count: number;
      queries: number;
    };
    expect(timed.ms).toBeGreaterThan(0);
    expect(timed.count).toBe(1);
    expect(timed.queries).toBeGreaterThan(0);
  });

  it("refuses the timings to a user without the manager group, naming it", async () => {
    await expect(sidecar.execute("shopfloor.cost.variance", "bench_refresh_timings", [])).rejects.toThrow(
      /may not read the cost refresh timings: it needs the group/,
    );
  });
});
