// The demo plant's realistic event mix and the per-event baseline flow,
// shared by the benches that drive real Odoo (ingest.bench.ts, scale.bench.ts):
// four work centers of two confirmed MOs, each emitting a line's day of
// events, and a Node-RED style flow that turns each event into plain ORM calls.
// Also the sidecar's API key as a site gets it (integrationKey, used by the
// live-view bench too).
import type { CloudEvent, EventType } from "../src/core/contract.ts";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";

export type Value = unknown;

export interface Rpc {
  uid: number;
  calls: number;
  kw<T = Value>(model: string, method: string, args: Value[], kwargs?: Record<string, Value>): Promise<T>;
}

/** The sidecar's own JSON-RPC client, counting the calls the per-event flow makes. */
export async function connect(url: string, db: string, login: string, password: string): Promise<Rpc> {
  const client = new JsonRpcOdooClient({ url, db, user: login, apiKey: password, timeoutMs: 3_600_000 });
  const rpc: Rpc = {
    uid: await client.uid(),
    calls: 0,
    kw: <T>(model: string, method: string, args: Value[], kwargs: Record<string, Value> = {}) => {
      rpc.calls++;
      return client.execute(model, method, args, kwargs) as Promise<T>;
    },
  };
  return rpc;
}

/**
 * Makes a sidecar's user and API key with the connection's "New integration user" wizard, as
 * the README tells a site to, and returns the key (the sidecar's ODOO_API_KEY). Not the demo's
 * `sidecar@plant1` with its password: Odoo checks a password with its slow hash for people
 * (600,000 PBKDF2 rounds in Odoo 18) at login and on each worker's first call from a client,
 * which would weigh on the first call of every measured run; an API key of a user without a
 * password is checked with the fast one keys get.
 */
export async function integrationKey(admin: Rpc, connectionCode: string, login: string): Promise<string> {
  const [connection] = await admin.kw<number[]>("shopfloor.connection", "search", [[["code", "=", connectionCode]]]);
  if (!connection) throw new Error(`connection ${connectionCode} missing`);
  const wizard = await admin.kw<number>("shopfloor.integration.user", "create", [
    { connection_id: connection, mode: "create", login, name: `Bench sidecar ${login}` },
  ]);
  const shown = await admin.kw<{ context?: { default_key?: string } }>("shopfloor.integration.user", "action_confirm", [
    [wizard],
  ]);
  const key = shown.context?.default_key;
  if (!key) throw new Error("the integration user wizard showed no API key");
  return key;
}

export interface Stream {
  source: string;
  order: string;
  operation: string;
  workcenterCode: string;
  material: string;
  materialCode: string;
  materialQty: number;
  materialUom: string;
}

export const EPOCH = Date.parse("2026-11-23T06:00:00Z");

/**
 * A line's day, per work center: start the work order, then cycles of 20
 * events: 12 counts, 2 quality checks, 1 material booking, 1 scrap, a short
 * material stop (downtime start/end, then resume) and a pause/resume.
 */
export function* eventsOf(stream: Stream, runTag: string, count: number, epoch = EPOCH): Generator<CloudEvent> {
  let n = 0;
  let second = 0;
  const make = (type: EventType, data: Record<string, Value>): CloudEvent => {
    second += 7;
    n++;
    return {
      specversion: "1.0",
      id: `${runTag}-${stream.source}-${n}`,
      source: stream.source,
      type,
      time: new Date(epoch + second * 1000).toISOString(),
      connection: "plant1-mqtt",
      data,
    };
  };
  const order = stream.order;
  const operation = stream.operation;
  yield make("workorder.started", { order, operation, operator: "op-17" });
  let cycle = 0;
  // The floor's id of the stop in progress: its end names the stop its start opened.
  let stopId = "";
  while (n < count) {
    cycle++;
    const step = cycle % 20;
    if (step === 3 || step === 13) {
      yield make("quality.result", {
        order,
        operation,
        characteristic: "thickness",
        pass: true,
        value: 1.01,
        low: 0.95,
        high: 1.05,
        unit: "mm",
      });
    } else if (step === 5) {
      yield make("material.consumed", {
        order,
        operation,
        material: stream.materialCode,
        qty: stream.materialQty,
        uom: stream.materialUom,
      });
    } else if (step === 8) {
      yield make("scrap.reported", { order, operation, qty: 1, reason_code: "DEFECT" });
    } else if (step === 10) {
      stopId = `${runTag}-${stream.source}-dt-${cycle}`;
      yield make("downtime.started", { reason_code: "MAT", downtime_id: stopId });
    } else if (step === 11) {
      yield make("downtime.ended", { reason_code: "MAT", downtime_id: stopId });
    } else if (step === 12 || step === 17) {
      // Work goes on after a stop: the floor says so.
      yield make("workorder.resumed", { order, operation });
    } else if (step === 16) {
      yield make("workorder.paused", { order, operation, reason_code: "MAT" });
    } else {
      yield make("production.reported", { order, operation, qty_good: 2, qty_scrap: 0 });
    }
  }
}

/**
 * Round-robin over the streams, as events of a plant arrive interleaved. Runs
 * that share one Odoo's work centers each need their own `epoch` (the time of
 * their first event), after the last event of the run before: a work center's
 * time logs cannot go back in time.
 */
export function interleave(streams: Stream[], runTag: string, total: number, epoch = EPOCH): CloudEvent[] {
  const per = Math.ceil(total / streams.length);
  const generators = streams.map((s) => eventsOf(s, runTag, per, epoch));
  const out: CloudEvent[] = [];
  while (out.length < total) {
    let any = false;
    for (const g of generators) {
      const next = g.next();
      if (!next.done) {
        out.push(next.value);
        any = true;
      }
    }
    if (!any) break;
  }
  return out.slice(0, total);
}

/** Line 2's own materials (giveLine2OwnMaterials), per demo material: product code, floor code, name. */
const LINE2_MATERIALS = {
  "RM-ALU1": { product: "RM-ALU1-L2", code: "ALU-1MM-L2", name: "Aluminium Coil 1mm (line 2 stock)" },
  "RM-RIV4": { product: "RM-RIV4-L2", code: "RIV4-L2", name: "Rivet 4 mm (line 2 stock)" },
} as const satisfies Record<string, { product: string; code: string; name: string }>;

/**
 * Gives line 2 materials of its own, in this Odoo only: a product for each
 * demo material (same unit and cost, its own stock), the floor codes of the
 * demo connection mapped to them, and a second bill of materials of
 * FG-MOUNT (the same operations, its components swapped) that makePlant
 * names explicitly. Odoo was seen to pick that BOM for FG-MOUNT MOs made
 * afterwards without one, so the bench calls this after the phases on the
 * demo plant. Then the two lines share no stock row: what the delivery's
 * affinity needs to deal them out to two partitions. Returns that BOM's id.
 */
export async function giveLine2OwnMaterials(admin: Rpc): Promise<number> {
  const [connection] = await admin.kw<number[]>("shopfloor.connection", "search", [[["code", "=", "plant1-mqtt"]]]);
  const [warehouse] = await admin.kw<{ lot_stock_id: [number, string] }[]>("stock.warehouse", "search_read", [[]], {
    fields: ["lot_stock_id"],
    limit: 1,
  });
  const [bom] = await admin.kw<number[]>("mrp.bom", "search", [[["product_tmpl_id.default_code", "=", "FG-MOUNT"]]], {
    order: "sequence, id",
    limit: 1,
  });
  if (!connection || !warehouse || !bom)
    throw new Error("demo plant incomplete (connection, warehouse or FG-MOUNT BOM)");
  const originals = await admin.kw<
    { id: number; default_code: string; uom_id: [number, string]; standard_price: number }[]
  >("product.product", "search_read", [[["default_code", "in", Object.keys(LINE2_MATERIALS)]]], {
    fields: ["default_code", "uom_id", "standard_price"],
  });
  const own = new Map<number, number>();
  for (const original of originals) {
    const spec = LINE2_MATERIALS[original.default_code as keyof typeof LINE2_MATERIALS];
    if (!spec) continue;
    const product = await admin.kw<number>("product.product", "create", [
      {
        name: spec.name,
        default_code: spec.product,
        is_storable: true,
        uom_id: original.uom_id[0],
        uom_po_id: original.uom_id[0],
        standard_price: original.standard_price,
      },
    ]);
    // In inventory mode, a quant made with inventory_quantity_auto_apply is applied at once.
    await admin.kw(
      "stock.quant",
      "create",
      [{ product_id: product, location_id: warehouse.lot_stock_id[0], inventory_quantity_auto_apply: 1_000_000 }],
      { context: { inventory_mode: true } },
    );
    await admin.kw("shopfloor.material.map", "create", [
      { connection_id: connection, code: spec.code, product_id: product },
    ]);
    own.set(original.id, product);
  }
  if (own.size !== Object.keys(LINE2_MATERIALS).length) throw new Error("demo materials RM-ALU1 / RM-RIV4 not found");
  // `copy` answers the new record's ids over RPC.
  const [copy] = await admin.kw<number[]>("mrp.bom", "copy", [[bom], { sequence: 1_000 }]);
  if (copy === undefined) throw new Error("copying the FG-MOUNT BOM returned nothing");
  const [copied] = await admin.kw<{ bom_line_ids: number[] }[]>("mrp.bom", "read", [[copy], ["bom_line_ids"]]);
  const lines = await admin.kw<{ id: number; product_id: [number, string] }[]>("mrp.bom.line", "read", [
    copied?.bom_line_ids ?? [],
    ["product_id"],
  ]);
  for (const line of lines) {
    const product = own.get(line.product_id[0]);
    if (product) await admin.kw("mrp.bom.line", "write", [[line.id], { product_id: product }]);
  }
  return copy;
}

/**
 * Confirmed MOs of the demo products with their work orders: one stream per
 * work center. With `line2Bom` (giveLine2OwnMaterials), line 2's MO is made
 * with that BOM and its streams book line 2's own materials.
 */
export async function makePlant(admin: Rpc, tag: string, line2Bom?: number): Promise<Stream[]> {
  const products = await admin.kw<{ id: number; default_code: string }[]>(
    "product.product",
    "search_read",
    [[["default_code", "in", ["FG-HINGE", "FG-MOUNT"]]]],
    { fields: ["id", "default_code"] },
  );
  const streams: Stream[] = [];
  const line: Record<string, { press: string; assembly: string; pressCode: string; assemblyCode: string }> = {
    "FG-HINGE": {
      press: "plant1/line1/press-01",
      assembly: "plant1/line1/assembly-01",
      pressCode: "L1-PR01",
      assemblyCode: "L1-AS01",
    },
    "FG-MOUNT": {
      press: "plant1/line2/press-02",
      assembly: "plant1/line2/assembly-02",
      pressCode: "L2-PR02",
      assemblyCode: "L2-AS02",
    },
  };
  for (const product of products) {
    const own = line2Bom !== undefined && product.default_code === "FG-MOUNT";
    const moId = await admin.kw<number>("mrp.production", "create", [
      // A long run, but one the work centers' calendars can still plan.
      { product_id: product.id, product_qty: 20_000, origin: `bench ${tag}`, ...(own ? { bom_id: line2Bom } : {}) },
    ]);
    await admin.kw("mrp.production", "action_confirm", [[moId]]);
    await admin.kw("mrp.production", "action_assign", [[moId]]);
    const [mo] = await admin.kw<{ name: string }[]>("mrp.production", "read", [[moId], ["name"]]);
    const where = line[product.default_code];
    if (!mo || !where) throw new Error(`demo plant incomplete (${product.default_code})`);
    streams.push(
      {
        source: where.press,
        order: mo.name,
        operation: "Stamping",
        workcenterCode: where.pressCode,
        material: own ? LINE2_MATERIALS["RM-ALU1"].product : "RM-ALU1",
        materialCode: own ? LINE2_MATERIALS["RM-ALU1"].code : "ALU-1MM",
        materialQty: 0.4,
        materialUom: "KG",
      },
      {
        source: where.assembly,
        order: mo.name,
        operation: "Assembly",
        workcenterCode: where.assemblyCode,
        material: own ? LINE2_MATERIALS["RM-RIV4"].product : "RM-RIV4",
        materialCode: own ? LINE2_MATERIALS["RM-RIV4"].code : "RIV4",
        materialQty: 4,
        materialUom: "PCS",
      },
    );
  }
  if (streams.length !== 4) throw new Error(`expected the demo plant's 2 products, found ${products.length}`);
  return streams;
}

/** The Node-RED way: one flow run per event, plain ORM calls per step, nothing stored. */
export class NodeRedFlow {
  private readonly admin: Rpc;
  private readonly lossCache = new Map<string, number>();
  /**
   * Book the components of each production report, as the batched apply does:
   * the producing quantity written on the work order, whose inverse runs Odoo's
   * stock cascade (the MO's `_set_qty_producing`) in the same plain `write`.
   * Without it the flow only stores the figure on the MO and its component
   * moves stay untouched: less Odoo work than the batched apply does per report.
   */
  private readonly bookComponents: boolean;
  constructor(admin: Rpc, bookComponents: boolean) {
    this.admin = admin;
    this.bookComponents = bookComponents;
  }

  private async one<T>(model: string, domain: Value[], fields: string[]): Promise<T> {
    const [row] = await this.admin.kw<T[]>(model, "search_read", [domain], { fields, limit: 1 });
    if (!row) throw new Error(`${model} not found: ${JSON.stringify(domain)}`);
    return row;
  }

  // Flows keep no state between messages except what a flow variable holds:
  // the loss ids, looked up once per run as a careful flow author would.
  private async loss(name: string): Promise<number> {
    const cached = this.lossCache.get(name);
    if (cached) return cached;
    const row = await this.one<{ id: number }>("mrp.workcenter.productivity.loss", [["name", "=", name]], ["id"]);
    this.lossCache.set(name, row.id);
    return row.id;
  }

  /**
   * Odoo's `_set_quantity_done` adds a move line for every increase, and each
   * later report rewrites them all; the module merges lines that differ only
   * in quantity after each booking, so the flow does the same with plain calls.
   */
  private async compactLines(moId: number): Promise<void> {
    const kw = this.admin.kw;
    const lines = await kw<
      { id: number; move_id: [number, string]; quantity: number; location_id: [number, string]; picked: boolean }[]
    >(
      "stock.move.line",
      "search_read",
      [
        [
          ["move_id.raw_material_production_id", "=", moId],
          ["state", "not in", ["done", "cancel"]],
          ["lot_id", "=", false],
          ["package_id", "=", false],
          ["result_package_id", "=", false],
        ],
      ],
      { fields: ["move_id", "quantity", "location_id", "picked"], order: "id" },
    );
    const groups = new Map<string, typeof lines>();
    for (const line of lines) {
      const key = `${line.move_id[0]}/${line.location_id[0]}/${line.picked}`;
      groups.set(key, [...(groups.get(key) ?? []), line]);
    }
    // As the module does: the extra lines go first, then the kept one takes their quantity.
    const extra: number[] = [];
    const totals: [number, number][] = [];
    for (const [first, ...rest] of groups.values()) {
      if (!first || rest.length === 0) continue;
      extra.push(...rest.map((line) => line.id));
      totals.push([first.id, rest.reduce((sum, line) => sum + line.quantity, first.quantity)]);
    }
    if (extra.length > 0) await kw("stock.move.line", "unlink", [extra]);
    for (const [id, quantity] of totals) await kw("stock.move.line", "write", [[id], { quantity }]);
  }

  async handle(event: CloudEvent, stream: Stream): Promise<void> {
    const time = event.time.replace("T", " ").slice(0, 19);
    const kw = this.admin.kw;
    switch (event.type) {
      case "workorder.started":
      case "workorder.resumed": {
        const wo = await this.one<{ id: number; workcenter_id: [number, string] }>(
          "mrp.workorder",
          [
            ["production_id.name", "=", stream.order],
            ["name", "=", stream.operation],
          ],
          ["id", "workcenter_id"],
        );
        // A flow that checks first: Odoo refuses a second open log on the same WO and user.
        const running = await kw<number[]>("mrp.workcenter.productivity", "search", [
          [
            ["workorder_id", "=", wo.id],
            ["date_end", "=", false],
          ],
        ]);
        if (running.length > 0) return;
        await kw("mrp.workcenter.productivity", "create", [
          {
            workorder_id: wo.id,
            workcenter_id: wo.workcenter_id[0],
            loss_id: await this.loss("Fully Productive Time"),
            date_start: time,
          },
        ]);
        if (event.type === "workorder.started") await kw("mrp.workorder", "write", [[wo.id], { state: "progress" }]);
        return;
      }
      case "workorder.paused": {
        const wo = await this.one<{ id: number }>(
          "mrp.workorder",
          [
            ["production_id.name", "=", stream.order],
            ["name", "=", stream.operation],
          ],
          ["id"],
        );
        const open = await kw<number[]>("mrp.workcenter.productivity", "search", [
          [
            ["workorder_id", "=", wo.id],
            ["date_end", "=", false],
          ],
        ]);
        await kw("mrp.workcenter.productivity", "write", [open, { date_end: time }]);
        return;
      }
      case "production.reported": {
        const mo = await this.one<{ id: number; qty_producing: number }>(
          "mrp.production",
          [["name", "=", stream.order]],
          ["id", "qty_producing"],
        );
        const wo = await this.one<{ id: number; qty_produced: number }>(
          "mrp.workorder",
          [
            ["production_id", "=", mo.id],
            ["name", "=", stream.operation],
          ],
          ["id", "qty_produced"],
        );
        const qty = Number(event.data.qty_good);
        if (this.bookComponents) {
          await kw("mrp.workorder", "write", [
            [wo.id],
            { qty_produced: wo.qty_produced + qty, qty_producing: mo.qty_producing + qty },
          ]);
          await this.compactLines(mo.id);
          return;
        }
        await kw("mrp.workorder", "write", [[wo.id], { qty_produced: wo.qty_produced + qty }]);
        await kw("mrp.production", "write", [[mo.id], { qty_producing: mo.qty_producing + qty }]);
        return;
      }
      case "material.consumed": {
        const mo = await this.one<{ id: number }>("mrp.production", [["name", "=", stream.order]], ["id"]);
        const move = await this.one<{ id: number; quantity: number }>(
          "stock.move",
          [
            ["raw_material_production_id", "=", mo.id],
            ["product_id.default_code", "=", stream.material],
          ],
          ["id", "quantity"],
        );
        // Manual: Odoo's cascade of later reports keeps the floor's figure (as the module does).
        await kw("stock.move", "write", [
          [move.id],
          { quantity: move.quantity + Number(event.data.qty), picked: true, manual_consumption: true },
        ]);
        return;
      }
      case "scrap.reported": {
        const mo = await this.one<{ id: number; product_id: [number, string] }>(
          "mrp.production",
          [["name", "=", stream.order]],
          ["id", "product_id"],
        );
        const scrap = await kw<number>("stock.scrap", "create", [
          { production_id: mo.id, product_id: mo.product_id[0], scrap_qty: Number(event.data.qty) },
        ]);
        await kw("stock.scrap", "do_scrap", [[scrap]]);
        return;
      }
      case "quality.result": {
        const mo = await this.one<{ id: number }>("mrp.production", [["name", "=", stream.order]], ["id"]);
        await kw("mrp.production", "message_post", [[mo.id]], {
          body: `${event.data.characteristic} = ${event.data.value} (${event.data.pass ? "pass" : "FAIL"})`,
        });
        return;
      }
      case "downtime.started": {
        const wc = await this.one<{ id: number }>("mrp.workcenter", [["code", "=", stream.workcenterCode]], ["id"]);
        await kw("mrp.workcenter.productivity", "create", [
          {
            workcenter_id: wc.id,
            loss_id: await this.loss("Material Availability"),
            date_start: time,
            description: String(event.data.downtime_id),
          },
        ]);
        return;
      }
      case "downtime.ended": {
        const open = await kw<number[]>("mrp.workcenter.productivity", "search", [
          [
            ["description", "=", String(event.data.downtime_id)],
            ["date_end", "=", false],
          ],
        ]);
        await kw("mrp.workcenter.productivity", "write", [open, { date_end: time }]);
        return;
      }
      default:
        throw new Error(`flow has no branch for ${event.type}`);
    }
  }
}

/**
 * The baseline: `count` events of a fresh plant (tagged `tag`), one flow run
 * per event, one after another. Returns the rate and the JSON-RPC calls per event.
 */
export async function runPerEventFlow(
  admin: Rpc,
  tag: string,
  count: number,
  bookComponents: boolean,
  progress: (done: number) => void = () => {},
  epoch = EPOCH,
): Promise<{ rate: number; calls: number; seconds: number }> {
  const flowStreams = await makePlant(admin, tag);
  const bySource = new Map(flowStreams.map((s) => [s.source, s]));
  const flowEvents = interleave(flowStreams, tag, count, epoch);
  const flow = new NodeRedFlow(admin, bookComponents);
  const callsBefore = admin.calls;
  const started = process.hrtime.bigint();
  let done = 0;
  for (const event of flowEvents) {
    const stream = bySource.get(event.source);
    if (!stream) throw new Error(`no stream for ${event.source}`);
    await flow.handle(event, stream);
    progress(++done);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: count / seconds, calls: (admin.calls - callsBefore) / count, seconds };
}
