// Odoo read-backs for the chaos suite over JSON-RPC as the admin user.
import type { OdooServer } from "../../sidecar/devstack/odoo.ts";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";

export async function rpc<T>(
  server: OdooServer,
  model: string,
  method: string,
  args: unknown[],
  kwargs = {},
): Promise<T> {
  const client = new JsonRpcOdooClient({ url: server.url, db: server.db, user: server.login, apiKey: server.password });
  return (await client.execute(model, method, args, kwargs)) as T;
}

/** The demo plant's orders by XML id → the name Odoo's sequence gave them. */
export async function demoOrders(server: OdooServer): Promise<Record<string, string>> {
  const keys = ["demo_mo_hinge_1", "demo_mo_hinge_2", "demo_mo_mount_1", "demo_mo_mount_2"];
  const refs = await rpc<{ name: string; res_id: number }[]>(
    server,
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "in", keys],
      ],
    ],
    { fields: ["name", "res_id"] },
  );
  const mos = await rpc<{ id: number; name: string }[]>(server, "mrp.production", "read", [refs.map((r) => r.res_id)], {
    fields: ["name"],
  });
  const byId = new Map(mos.map((m) => [m.id, m.name]));
  const orders: Record<string, string> = {};
  for (const r of refs) orders[r.name] = byId.get(r.res_id) ?? "";
  for (const k of keys) if (!orders[k]) throw new Error(`demo data has no ${k}: is the module's demo data loaded?`);
  return orders;
}

/** The figures of shopfloor.cost.variance that must not depend on the order events arrived in. */
export const COST_FIELDS = [
  "qty_good",
  "qty_scrap",
  "duration_actual",
  "duration_expected",
  "labour_hours",
  "machine_hours",
  "setup_actual",
  "cost_operations_actual",
  "cost_material_actual",
  "scrap_cost",
  "cost_standard",
  "cost_actual",
  "variance_amount",
] as const;

export interface CostMismatch {
  row: string;
  field: string;
  stored: number | string;
  recomputed: number | string;
}

type VarianceRow = Record<string, unknown> & {
  id: number;
  production_id: [number, string];
  workorder_id: [number, string] | false;
};

/**
 * Reads the variance rows kept up to date while events were applied, rebuilds
 * them from the orders' time logs, moves and scraps (the module's refresh),
 * and lists every figure that differs (0.01 tolerance for rounding).
 */
export async function compareCosts(server: OdooServer, orderNames: string[]): Promise<CostMismatch[]> {
  const productionIds = await rpc<number[]>(server, "mrp.production", "search", [[["name", "in", orderNames]]]);
  const read = () =>
    rpc<VarianceRow[]>(server, "shopfloor.cost.variance", "search_read", [[["production_id", "in", productionIds]]], {
      fields: ["production_id", "workorder_id", ...COST_FIELDS],
    });
  const key = (r: VarianceRow) => `${r.production_id[1]}${r.workorder_id ? ` / ${r.workorder_id[1]}` : ""}`;
  const stored = new Map((await read()).map((r) => [key(r), r]));
  await rpc<boolean>(server, "mrp.production", "action_shopfloor_cost_refresh", [productionIds]);
  const mismatches: CostMismatch[] = [];
  const recomputed = await read();
  if (stored.size === 0) mismatches.push({ row: "(all)", field: "rows", stored: 0, recomputed: recomputed.length });
  for (const fresh of recomputed) {
    const before = stored.get(key(fresh));
    if (!before) {
      mismatches.push({ row: key(fresh), field: "row", stored: "missing", recomputed: "present" });
      continue;
    }
    stored.delete(key(fresh));
    for (const field of COST_FIELDS) {
      const a = Number(before[field] ?? 0);
      const b = Number(fresh[field] ?? 0);
      if (Math.abs(a - b) > 0.01) mismatches.push({ row: key(fresh), field, stored: a, recomputed: b });
    }
  }
  for (const k of stored.keys()) mismatches.push({ row: k, field: "row", stored: "present", recomputed: "gone" });
  return mismatches;
}
