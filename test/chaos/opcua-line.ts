// The chaos suite's OPC UA line: one machine (Line3/Press03) served by the
// simulator's Ignition-style OPC UA server (`ns=2;s=[default]Line3/Press03/<Tag>`),
// read by a second sidecar for the `plant1-opcua` connection through the
// simulator's counter / state / trigger mapping rules, and compared with the
// simulator's ledger afterwards.
//
// OPC UA carries current values, not history: a tag that changes and changes
// back while no client is subscribed (server down, sidecar killed) is invisible
// to any client. The part counters are not (the counter rules take the delta
// from their persisted baseline), and that is what the `opcua-drop` fault
// tests. So the line keeps counting parts through an outage, while its state
// changes (order start, setup, downtime, completion) wait until the sidecar is
// subscribed again: `outage()` and the state actions share one lock.
import { join } from "node:path";
import type { OdooServer } from "../../sidecar/devstack/odoo.ts";
import { Ledger, type LedgerFile } from "../../sidecar/simulator/ledger.ts";
import { Line, machineSource } from "../../sidecar/simulator/line.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import { lineRules, ruleRecord } from "../../sidecar/simulator/rules.ts";
import { Simulation } from "../../sidecar/simulator/simulation.ts";
import type { ComparisonRow } from "./chaos.ts";
import { rpc } from "./odoo-checks.ts";

export const OPCUA_CONNECTION = "plant1-opcua";
export const OPCUA_LINE = "Line3";
export const OPCUA_MACHINE = "Press03";
export const OPCUA_OPERATION = "Stamping";
const DOWNTIME_REASONS = ["JAM", "MATERIAL", "BREAKDOWN"];

type Row = Record<string, unknown>;

const xmlId = async (server: OdooServer, name: string): Promise<number> => {
  const [ref] = await rpc<{ res_id: number }[]>(
    server,
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "=", name],
      ],
    ],
    { fields: ["res_id"] },
  );
  if (!ref) throw new Error(`demo data has no ${name}: is the module's demo data loaded?`);
  return ref.res_id;
};

/**
 * What an admin enters in Odoo for the line: its own workcenter (a copy of
 * L1 Press 01, costs included), its own product stamped from its own steel
 * (one BOM, one Stamping operation), two confirmed orders, an `opcua`
 * connection on the simulator's endpoint, source → workcenter, the demo
 * connection's reason codes and the line's tag rules.
 *
 * Its own materials on purpose: two sidecars apply at the same time, and two
 * transactions booking the same stock quant make Odoo fail one of them with a
 * serialization error, which the module records as a failed event for its
 * retry cron while later events of the same work order go ahead (see the
 * README here). The MQTT machines' orders share their components, one sidecar
 * applies them one batch after the other.
 */
export async function configureOpcuaLine(
  server: OdooServer,
  endpoint: string,
  /** Reproduces the concurrent-apply issue: run the demo orders hinge 2 and mount 2 (materials shared with the MQTT lines). */
  sharedMaterials = false,
): Promise<{ connectionId: number; workcenterId: number; orders: string[] }> {
  const copied = await rpc<number | number[]>(
    server,
    "mrp.workcenter",
    "copy",
    [[await xmlId(server, "demo_wc_l1_press")]],
    { default: { name: "L3 Press 03 (OPC UA)", code: "L3-PR03" } },
  );
  const workcenterId = Array.isArray(copied) ? (copied[0] as number) : copied;
  const orders = sharedMaterials
    ? await moveDemoStamping(server, workcenterId)
    : await ownProductAndOrders(server, workcenterId);

  const connectionId = await rpc<number>(server, "shopfloor.connection", "create", [
    {
      code: OPCUA_CONNECTION,
      name: "Plant 1 Line 3 OPC UA server",
      kind: "opcua",
      opcua_endpoint: endpoint,
      opcua_security_mode: "None",
      opcua_security_policy: "None",
      opcua_auth: "anonymous",
      // Exception-based items: every change is reported, published every 200 ms.
      opcua_publishing_interval_ms: 200,
      opcua_sampling_interval_ms: 0,
      batch_wait_ms: 100,
      // The demo's sidecar account serves this line too.
      integration_user_ids: [[6, 0, [await xmlId(server, "demo_user_sidecar")]]],
    },
  ]);
  await rpc(server, "shopfloor.source.map", "create", [
    { connection_id: connectionId, source: machineSource(OPCUA_LINE, OPCUA_MACHINE), workcenter_id: workcenterId },
  ]);
  const reasons = await rpc<{ code: string; loss_id: [number, string]; open_maintenance: boolean }[]>(
    server,
    "shopfloor.reason.map",
    "search_read",
    [[["connection_id.code", "=", "plant1-mqtt"]]],
    { fields: ["code", "loss_id", "open_maintenance"] },
  );
  await rpc(server, "shopfloor.reason.map", "create", [
    reasons.map((r) => ({
      connection_id: connectionId,
      code: r.code,
      loss_id: r.loss_id[0],
      open_maintenance: r.open_maintenance,
    })),
  ]);
  const rules = lineRules({ line: OPCUA_LINE, machines: [OPCUA_MACHINE], protocol: "opcua" });
  await rpc(server, "shopfloor.mapping.rule", "create", [rules.map((rule) => ruleRecord(rule, connectionId))]);
  return { connectionId, workcenterId, orders };
}

/** The line's own product, steel, BOM (one Stamping operation on the line's workcenter) and two confirmed orders. */
async function ownProductAndOrders(server: OdooServer, workcenterId: number): Promise<string[]> {
  const [steel, corner] = await rpc<number[]>(server, "product.product", "create", [
    [
      { name: "Steel Sheet 2mm", default_code: "RM-STEEL2", is_storable: true, standard_price: 3.1 },
      { name: "Corner Bracket", default_code: "FG-CORNER", is_storable: true, standard_price: 6.0, list_price: 12.0 },
    ],
  ]);
  const [stock] = await rpc<{ lot_stock_id: [number, string] }[]>(server, "stock.warehouse", "search_read", [[]], {
    fields: ["lot_stock_id"],
    limit: 1,
  });
  const quant = await rpc<number>(server, "stock.quant", "create", [
    { product_id: steel, location_id: stock?.lot_stock_id[0], inventory_quantity: 100_000 },
  ]);
  // Odoo's "Apply" returns None once it has applied: JSON-RPC then answers no
  // result, which the client reports as a broken contract (the call is committed).
  await rpc(server, "stock.quant", "action_apply_inventory", [[quant]]).catch((err: Error) => {
    if (err.name !== "OdooContractError") throw err;
  });
  const [onHand] = await rpc<{ quantity: number }[]>(server, "stock.quant", "read", [[quant]], {
    fields: ["quantity"],
  });
  if (onHand?.quantity !== 100_000) throw new Error(`steel for the OPC UA line not in stock: ${onHand?.quantity}`);
  const [template] = await rpc<{ product_tmpl_id: [number, string] }[]>(server, "product.product", "read", [[corner]], {
    fields: ["product_tmpl_id"],
  });
  const bom = await rpc<number>(server, "mrp.bom", "create", [
    {
      product_tmpl_id: template?.product_tmpl_id[0],
      product_qty: 1,
      consumption: "flexible",
      bom_line_ids: [[0, 0, { product_id: steel, product_qty: 1 }]],
      operation_ids: [
        [
          0,
          0,
          {
            name: OPCUA_OPERATION,
            workcenter_id: workcenterId,
            time_mode: "manual",
            time_cycle_manual: 0.5,
          },
        ],
      ],
    },
  ]);
  const productions = await rpc<number[]>(server, "mrp.production", "create", [
    [
      { product_id: corner, bom_id: bom, product_qty: 400 },
      { product_id: corner, bom_id: bom, product_qty: 200 },
    ],
  ]);
  await rpc(server, "mrp.production", "action_confirm", [productions]);
  await rpc(server, "mrp.production", "action_assign", [productions]);
  const named = await rpc<{ id: number; name: string }[]>(server, "mrp.production", "read", [productions], {
    fields: ["name"],
  });
  return productions.map((id) => named.find((p) => p.id === id)?.name ?? "");
}

/** The demo orders hinge 2 and mount 2, their Stamping moved to the line's workcenter. */
async function moveDemoStamping(server: OdooServer, workcenterId: number): Promise<string[]> {
  const ids = [await xmlId(server, "demo_mo_hinge_2"), await xmlId(server, "demo_mo_mount_2")];
  const named = await rpc<{ id: number; name: string }[]>(server, "mrp.production", "read", [ids], {
    fields: ["name"],
  });
  const workorders = await rpc<number[]>(server, "mrp.workorder", "search", [
    [
      ["production_id", "in", ids],
      ["name", "=", OPCUA_OPERATION],
    ],
  ]);
  await rpc(server, "mrp.workorder", "write", [workorders, { workcenter_id: workcenterId }]);
  return ids.map((id) => named.find((p) => p.id === id)?.name ?? "");
}

/** Runs `work` after every earlier holder is done. */
class Lock {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => {});
    return result;
  }
}

export interface OpcuaLineOptions {
  port: number;
  pkiDir: string;
  stepMs: number;
  holdSteps: number;
  /** Parts (good + scrap) per order; one in ten is scrap, a downtime after each ten. */
  partsPerOrder: number;
}

export class OpcuaLine {
  readonly line = new Line(OPCUA_LINE, [OPCUA_MACHINE]);
  readonly ledger = new Ledger("chaos-opcua", OPCUA_LINE, [OPCUA_MACHINE]);
  readonly server: SimOpcuaServer;
  readonly sim: Simulation;
  /** [from, to] ms of each outage (server down or sidecar away). */
  readonly outages: { kind: string; from: number; to: number }[] = [];
  readonly #opts: OpcuaLineOptions;
  readonly #lock = new Lock();

  constructor(opts: OpcuaLineOptions) {
    this.#opts = opts;
    this.server = new SimOpcuaServer({
      line: this.line,
      port: opts.port,
      pkiDir: opts.pkiDir,
      securityModes: ["None"],
    });
    this.sim = new Simulation(this.line, this.ledger, { stepMs: opts.stepMs, pulseMs: 1_000 });
    this.sim.outputs.push(this.server);
  }

  get endpoint(): string {
    return this.server.endpoint;
  }

  start(): Promise<void> {
    return this.sim.start();
  }

  /** The shift: per order (MO names, in turn) start, setup, tens of parts (one scrap) each followed by a downtime, complete. */
  async run(orders: string[]): Promise<void> {
    const { sim } = this;
    const m = OPCUA_MACHINE;
    const state = (work: () => Promise<void>) => this.#lock.run(work);
    let downtimes = 0;
    for (const order of orders) {
      await state(() => sim.startOrder(m, order, OPCUA_OPERATION));
      await sim.step();
      await state(() => sim.setState(m, "setup"));
      await sim.step(this.#opts.holdSteps);
      await state(() => sim.setState(m, "running"));
      for (let made = 0; made < this.#opts.partsPerOrder; ) {
        const batch = Math.min(10, this.#opts.partsPerOrder - made);
        await sim.produce(m, batch - 1, 1);
        made += batch;
        if (made >= this.#opts.partsPerOrder) break;
        const reason = DOWNTIME_REASONS[downtimes++ % DOWNTIME_REASONS.length] as string;
        await state(() => sim.setState(m, "down", reason));
        await sim.step(this.#opts.holdSteps);
        await state(() => sim.setState(m, "running"));
      }
      await sim.step();
      await state(() => sim.complete(m));
      await sim.step();
    }
  }

  /**
   * An outage of the OPC UA path (`work` stops the server or the sidecar and
   * resolves once the sidecar is subscribed again). Parts keep being counted
   * meanwhile; state changes wait for it to end.
   */
  outage(kind: string, work: () => Promise<void>): Promise<void> {
    return this.#lock.run(async () => {
      const from = Date.now();
      try {
        await work();
      } finally {
        this.outages.push({ kind, from, to: Date.now() });
      }
    });
  }

  /** Closes the endpoint for `downMs`, then serves the same node ids with the line's current values. */
  async dropServer(downMs: number): Promise<void> {
    if (await this.server.restart(downMs)) this.ledger.serverRestarts++;
  }

  async stop(): Promise<void> {
    await this.sim.stop();
  }

  /** Parts (good, scrap) the line counted while the OPC UA path was out. */
  partsDuringOutages(): number {
    return this.ledger.entries.filter(
      (e) =>
        (e.action === "part" || e.action === "scrap") &&
        this.outages.some((o) => Date.parse(e.time) >= o.from && Date.parse(e.time) <= o.to),
    ).length;
  }

  write(dir: string): LedgerFile {
    this.ledger.write(join(dir, `ledger-opcua-${OPCUA_MACHINE}.json`));
    return this.ledger.toJSON();
  }
}

/** Odoo stores UTC datetimes to the second, without zone. */
const odooTime = (iso: string | null | undefined) => (iso ? iso.slice(0, 19).replace("T", " ") : false);

/**
 * The OPC UA line against its ledger: per order the good and scrap quantities
 * the applied events carry (deltas: an outage's parts arrive once, in one
 * event) and the work order's final state; the state changes by event type;
 * the downtime and setup time logs to the second, with their loss.
 */
export async function compareOpcuaLine(
  server: OdooServer,
  ledger: LedgerFile,
  connectionId: number,
  workcenterId: number,
  extra: { partsDuringOutages: number; sessions: number; outages: number },
): Promise<ComparisonRow[]> {
  const rows: ComparisonRow[] = [];
  const events = await rpc<{ type: string; state: string; data_json: string; error_message: string | false }[]>(
    server,
    "shopfloor.event",
    "search_read",
    [[["connection_id", "=", connectionId]]],
    { fields: ["type", "state", "data_json", "error_message"] },
  );
  const applied = events.filter((e) => e.state === "applied");
  const notApplied = events.filter((e) => e.state !== "applied");
  rows.push({
    category: "OPC UA: events not applied",
    expected: 0,
    found: notApplied.length
      ? `${notApplied.length} (${notApplied
          .slice(0, 3)
          .map((e) => `${e.type} ${e.state}: ${e.error_message || ""}`)
          .join("; ")})`
      : 0,
    ok: notApplied.length === 0,
  });
  const data = (e: { data_json: string }) => JSON.parse(e.data_json || "{}") as Row;
  const orderNames = ledger.expected.orders.map((o) => o.order);
  const workorders = await rpc<
    {
      id: number;
      production_id: [number, string];
      state: string;
      qty_produced: number;
      workcenter_id: [number, string];
    }[]
  >(
    server,
    "mrp.workorder",
    "search_read",
    [
      [
        ["production_id.name", "in", orderNames],
        ["name", "=", OPCUA_OPERATION],
      ],
    ],
    { fields: ["production_id", "state", "qty_produced", "workcenter_id"] },
  );
  let deltaEvents = 0;
  for (const expected of ledger.expected.orders) {
    const forOrder = applied.filter((e) => data(e).order === expected.order);
    const produced = forOrder.filter((e) => e.type === "production.reported");
    const scrapped = forOrder.filter((e) => e.type === "scrap.reported");
    const good = produced.reduce((n, e) => n + Number(data(e).qty_good ?? 0), 0);
    const scrap = scrapped.reduce((n, e) => n + Number(data(e).qty ?? 0), 0);
    deltaEvents += [...produced, ...scrapped].filter((e) => Number(data(e).qty_good ?? data(e).qty ?? 0) > 1).length;
    rows.push({
      category: `OPC UA ${expected.order} ${OPCUA_OPERATION}: good parts applied`,
      expected: expected.good,
      found: `${good} in ${produced.length} events`,
      ok: good === expected.good,
    });
    rows.push({
      category: `OPC UA ${expected.order} ${OPCUA_OPERATION}: scrap applied`,
      expected: expected.scrap,
      found: `${scrap} in ${scrapped.length} events`,
      ok: scrap === expected.scrap,
    });
    const wo = workorders.find((w) => w.production_id[1] === expected.order);
    rows.push({
      category: `OPC UA ${expected.order} ${OPCUA_OPERATION}: qty produced, state`,
      expected: `${expected.good}, ${expected.completed ? "done" : "progress"}`,
      found: wo ? `${wo.qty_produced}, ${wo.state}` : "no work order",
      ok:
        !!wo &&
        wo.qty_produced === expected.good &&
        wo.state === (expected.completed ? "done" : "progress") &&
        wo.workcenter_id[0] === workcenterId,
    });
  }
  rows.push({
    category: "OPC UA: counter events carrying > 1 part (info)",
    expected: "-",
    found: deltaEvents,
    ok: true,
  });
  // State changes: each one the ledger holds, applied once (none lost, none twice).
  const stateTypes = new Map<string, number>();
  for (const e of ledger.entries)
    if (e.expect && e.expect.type !== "production.reported" && e.expect.type !== "scrap.reported")
      stateTypes.set(e.expect.type, (stateTypes.get(e.expect.type) ?? 0) + 1);
  for (const e of applied)
    if (e.type !== "production.reported" && e.type !== "scrap.reported" && !stateTypes.has(e.type))
      stateTypes.set(e.type, 0);
  for (const [type, expected] of [...stateTypes].sort()) {
    const found = applied.filter((e) => e.type === type).length;
    rows.push({ category: `OPC UA:   ${type} applied`, expected, found, ok: found === expected });
  }
  // The time logs those state changes made, to the second, with the loss the reason maps to.
  const reasons = await rpc<{ code: string; loss_id: [number, string] }[]>(
    server,
    "shopfloor.reason.map",
    "search_read",
    [[["connection_id", "=", connectionId]]],
    { fields: ["code", "loss_id"] },
  );
  const lossOf = new Map(reasons.map((r) => [r.code, r.loss_id[1]]));
  const logs = await rpc<
    { date_start: string; date_end: string | false; loss_id: [number, string]; loss_type: string }[]
  >(server, "mrp.workcenter.productivity", "search_read", [[["workcenter_id", "=", workcenterId]]], {
    fields: ["date_start", "date_end", "loss_id", "loss_type"],
    order: "date_start, id",
  });
  const downtimeLosses = new Set(ledger.expected.downtimes.map((d) => lossOf.get(d.reason_code ?? "") ?? "?"));
  const foundDowntimes = logs
    .filter((l) => downtimeLosses.has(l.loss_id[1]))
    .map((l) => `${l.date_start}|${l.date_end || "open"}|${l.loss_id[1]}`);
  const expectedDowntimes = ledger.expected.downtimes.map(
    (d) => `${odooTime(d.start)}|${odooTime(d.end) || "open"}|${lossOf.get(d.reason_code ?? "") ?? "?"}`,
  );
  rows.push(listRow("OPC UA: downtime logs (start, end, loss)", expectedDowntimes, foundDowntimes));
  const foundSetups = logs
    .filter((l) => l.loss_id[1] === "Setup and Adjustments")
    .map((l) => `${l.date_start}|${l.date_end || "open"}`);
  const expectedSetups = ledger.expected.setups.map((s) => `${odooTime(s.start)}|${odooTime(s.end) || "open"}`);
  rows.push(listRow("OPC UA: setup logs (start, end)", expectedSetups, foundSetups));
  rows.push({
    category: "OPC UA: parts counted during outages (info)",
    expected: "-",
    found: `${extra.partsDuringOutages} in ${extra.outages} outages`,
    ok: true,
  });
  rows.push({
    category: "OPC UA: sidecar subscriptions (info)",
    expected: "-",
    found: extra.sessions,
    ok: true,
  });
  return rows;
}

/** A comparison row for two lists: ok when they hold the same items, else the first few differences. */
function listRow(category: string, expected: string[], found: string[]): ComparisonRow {
  const missing = expected.filter((x) => !found.includes(x));
  const extra = found.filter((x) => !expected.includes(x));
  const parts = [...missing.slice(0, 2).map((x) => `missing ${x}`), ...extra.slice(0, 2).map((x) => `extra ${x}`)];
  if (!parts.length && expected.length !== found.length) parts.push(`${found.length} vs ${expected.length} (twice?)`);
  const diff = parts.join("; ");
  return { category, expected: expected.length, found: diff ? `${found.length} (${diff})` : found.length, ok: !diff };
}
