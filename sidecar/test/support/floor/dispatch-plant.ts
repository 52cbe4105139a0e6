// A small plant made in a real Odoo over JSON-RPC, the way a planner sets it
// up: three work centers, one product whose routing visits all three, a few
// confirmed MOs, and floor targets per work center. Used by the dispatch
// integration tests and the dispatch benchmark.
import type { OdooServer } from "../../../devstack/odoo.ts";
import { makeOdooFixture, type OdooFixture } from "../odoo/testing.ts";

export interface DispatchPlant {
  fixture: OdooFixture;
  workcenters: { id: number; code: string }[];
  productions: { id: number; name: string }[];
  /** Creates a shopfloor.dispatch.target; returns its id. */
  addTarget(values: Record<string, unknown>): Promise<number>;
  setPriority(productionId: number, priority: "0" | "1"): Promise<void>;
  messages(domain?: unknown[]): Promise<DispatchRow[]>;
}

export interface DispatchRow {
  id: number;
  workcenter_id: [number, string];
  kind: string;
  version: number;
  state: string;
  error: string | false;
  retry_count: number;
  retryable: boolean;
  acked_at: string | false;
  payload_json: string;
}

export async function makeDispatchPlant(
  odoo: OdooServer,
  opts: { code: string; mqttUrl: string; productions?: number; connection?: Record<string, unknown> },
): Promise<DispatchPlant> {
  const fixture = await makeOdooFixture(odoo, { code: opts.code, mqttUrl: opts.mqttUrl });
  const admin = fixture.admin;
  if (opts.connection) await admin.execute("shopfloor.connection", "write", [[fixture.connectionId], opts.connection]);
  const suffix = opts.code.toUpperCase();
  const workcenters: { id: number; code: string }[] = [];
  for (const name of ["A", "B", "C"]) {
    const code = `${suffix}-${name}`;
    const id = (await admin.execute("mrp.workcenter", "create", [{ name: `Dispatch ${code}`, code }])) as number;
    workcenters.push({ id, code });
  }
  const productId = (await admin.execute("product.product", "create", [
    { name: `Widget ${suffix}`, default_code: `W-${suffix}`, is_storable: true },
  ])) as number;
  const [{ product_tmpl_id: template }] = (await admin.execute("product.product", "read", [[productId]], {
    fields: ["product_tmpl_id"],
  })) as [{ product_tmpl_id: [number, string] }];
  const bomId = (await admin.execute("mrp.bom", "create", [
    {
      product_tmpl_id: template[0],
      product_qty: 1,
      operation_ids: workcenters.map((wc, i) => [
        0,
        0,
        { name: `Step ${i + 1}`, workcenter_id: wc.id, sequence: 10 * (i + 1), time_cycle_manual: 1 },
      ]),
    },
  ])) as number;
  const productions: { id: number; name: string }[] = [];
  for (let n = 0; n < (opts.productions ?? 3); n++) {
    // Staggered planned starts give a deterministic queue order.
    const start = new Date(Date.UTC(2027, 0, 4, 8 + n)).toISOString().replace("T", " ").slice(0, 19);
    const id = (await admin.execute("mrp.production", "create", [
      { product_id: productId, bom_id: bomId, product_qty: 10 + n, date_start: start },
    ])) as number;
    await admin.execute("mrp.production", "action_confirm", [[id]]);
    const [{ name }] = (await admin.execute("mrp.production", "read", [[id]], { fields: ["name"] })) as [
      { name: string },
    ];
    productions.push({ id, name });
  }
  return {
    fixture,
    workcenters,
    productions,
    addTarget: async (values) =>
      (await admin.execute("shopfloor.dispatch.target", "create", [
        { connection_id: fixture.connectionId, ...values },
      ])) as number,
    setPriority: async (productionId, priority) => {
      await admin.execute("mrp.production", "write", [[productionId], { priority }]);
    },
    messages: async (domain = []) =>
      (await admin.execute(
        "shopfloor.dispatch",
        "search_read",
        [[["connection_id", "=", fixture.connectionId], ...domain]],
        {
          fields: [
            "workcenter_id",
            "kind",
            "version",
            "state",
            "error",
            "retry_count",
            "retryable",
            "acked_at",
            "payload_json",
          ],
          order: "id",
        },
      )) as DispatchRow[],
  };
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
