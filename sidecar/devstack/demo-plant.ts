// The demo plant's three lines, as an administrator would finish setting it
// up on top of the module's demo data: line 1 reports over MQTT CloudEvents
// (the demo connection), line 2 is a Sparkplug B edge node, line 3 an OPC UA
// server; each has its connection, source and reason maps and tag rules.
// Ideal cycle times follow the routing (90 % of the standard), and the
// backfill's orders are created and confirmed here. Everything goes through
// the same JSON-RPC an admin's client uses.
import { lineRules, ruleRecord } from "../simulator/rules.ts";
import type { MappingRule } from "../src/core/contract.ts";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";
import type { RoutingOperation } from "./demo-backfill.ts";
import type { OdooLogin } from "./demo-shift.ts";

type Row = Record<string, unknown>;
const idOf = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : (v as number));

export interface DemoLine {
  /** `line1`…: the edge node / OPC UA folder name and the CloudEvent source's middle part. */
  line: string;
  transport: "mqtt" | "sparkplug" | "opcua";
  connection: string;
  productId: number;
  bomId: number;
  routing: RoutingOperation[];
}

export const SPARKPLUG_GROUP = "Plant1";
/** Ideal cycle time as a share of the routing's standard cycle: a line at standard runs at 90 % performance. */
const IDEAL_SHARE = 0.9;
/** Setup minutes where the work center sets none: a short changeover still happens. */
const DEFAULT_SETUP_MIN = 5;

/**
 * The scrap counter books each scrapped part as a `stock.scrap`; a completion
 * that also carried the count as `qty_scrap` would make the cost report count
 * it twice (finished scraps + floor counts), so the demo's completion carries
 * the good parts only.
 */
function withoutCompletionScrap(rule: MappingRule): MappingRule {
  if (rule.kind !== "trigger" || rule.event_type !== "workorder.completed") return rule;
  const { qty_scrap: _counted, ...fields } = rule.params.fields as Record<string, unknown>;
  return { ...rule, params: { ...rule.params, fields } };
}

export class DemoPlant {
  readonly #rpc: JsonRpcOdooClient;
  constructor(odoo: OdooLogin) {
    this.#rpc = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: odoo.login, apiKey: odoo.password });
  }

  execute<T>(model: string, method: string, args: unknown[], kwargs: Row = {}): Promise<T> {
    return this.#rpc.execute(model, method, args, kwargs) as Promise<T>;
  }

  async ref(xmlid: string): Promise<number> {
    const [row] = await this.execute<Row[]>(
      "ir.model.data",
      "search_read",
      [
        [
          ["module", "=", "shopfloor_bridge"],
          ["name", "=", xmlid],
        ],
      ],
      { fields: ["res_id"] },
    );
    if (!row) throw new Error(`the database has no shopfloor_bridge.${xmlid}: is the module's demo data loaded?`);
    return row.res_id as number;
  }

  /** The three lines, with line 3 (product, BOM, work centers) and the two protocol connections made on first use. */
  async setUp(opts: { mqttUrl: string; opcuaEndpoint: string }): Promise<DemoLine[]> {
    const mqttConnection = await this.ref("demo_connection_plant1");
    const [plant] = await this.execute<Row[]>("shopfloor.connection", "read", [[mqttConnection]], {
      fields: ["integration_user_ids"],
    });
    const users = plant?.integration_user_ids as number[];
    const line3 = await this.#lineThree();
    const lines: DemoLine[] = [
      await this.#line("line1", "mqtt", "plant1-mqtt", await this.ref("demo_bom_hinge"), ["press-01", "assembly-01"]),
      await this.#line("line2", "sparkplug", "plant1-spb", await this.ref("demo_bom_mount"), [
        "press-02",
        "assembly-02",
      ]),
      await this.#line("line3", "opcua", "plant1-opcua", line3, ["press-03", "assembly-03"]),
    ];
    await this.#aroundTheClock(lines);
    const reasons = await this.execute<Row[]>(
      "shopfloor.reason.map",
      "search_read",
      [[["connection_id", "=", mqttConnection]]],
      { fields: ["code", "loss_id", "open_maintenance"] },
    );
    const connections: Record<string, Row> = {
      "plant1-spb": {
        name: "Plant 1 line 2 (Sparkplug B)",
        kind: "sparkplug",
        mqtt_url: opts.mqttUrl,
        // 3.1.1: the demo's embedded broker (aedes) does not speak MQTT 5.
        mqtt_protocol_version: "4",
        sparkplug_group_id: SPARKPLUG_GROUP,
        sparkplug_host_id: "sfb-demo-host",
        client_id: "sfb-demo-spb",
      },
      "plant1-opcua": {
        name: "Plant 1 line 3 (OPC UA)",
        kind: "opcua",
        opcua_endpoint: opts.opcuaEndpoint,
        opcua_security_mode: "None",
        opcua_security_policy: "None",
        opcua_auth: "anonymous",
        opcua_publishing_interval_ms: 250,
        opcua_sampling_interval_ms: 0,
      },
    };
    for (const demoLine of lines) {
      const values = connections[demoLine.connection];
      if (!values) continue;
      const existing = await this.execute<number[]>("shopfloor.connection", "search", [
        [["code", "=", demoLine.connection]],
      ]);
      if (existing.length) continue;
      const connectionId = await this.execute<number>("shopfloor.connection", "create", [
        { ...values, code: demoLine.connection, site: "Plant 1", integration_user_ids: [[6, 0, users]] },
      ]);
      for (const op of demoLine.routing) {
        const [workcenter] = await this.execute<Row[]>(
          "mrp.routing.workcenter",
          "search_read",
          [
            [
              ["bom_id", "=", demoLine.bomId],
              ["name", "=", op.operation],
            ],
          ],
          { fields: ["workcenter_id"] },
        );
        await this.execute("shopfloor.source.map", "create", [
          {
            connection_id: connectionId,
            source: `plant1/${demoLine.line}/${op.machine}`,
            workcenter_id: idOf(workcenter?.workcenter_id),
          },
        ]);
      }
      await this.execute("shopfloor.reason.map", "create", [
        reasons.map((r) => ({
          connection_id: connectionId,
          code: r.code,
          loss_id: idOf(r.loss_id),
          open_maintenance: r.open_maintenance,
        })),
      ]);
      const machines = demoLine.routing.map((op) => op.machine);
      const rules =
        demoLine.transport === "sparkplug"
          ? lineRules({ line: demoLine.line, machines, protocol: "sparkplug", group: SPARKPLUG_GROUP })
          : lineRules({ line: demoLine.line, machines, protocol: "opcua" });
      await this.execute("shopfloor.mapping.rule", "create", [
        rules.map((rule) => ruleRecord(withoutCompletionScrap(rule), connectionId)),
      ]);
    }
    return lines;
  }

  /** Confirmed orders of the line's product, named as Odoo names them. */
  async createOrders(demoLine: DemoLine, quantities: number[]): Promise<string[]> {
    if (quantities.length === 0) return [];
    const ids = await this.execute<number[]>("mrp.production", "create", [
      quantities.map((qty) => ({ product_id: demoLine.productId, bom_id: demoLine.bomId, product_qty: qty })),
    ]);
    await this.execute("mrp.production", "action_confirm", [ids]);
    const rows = await this.execute<Row[]>("mrp.production", "read", [ids], { fields: ["name"] });
    return rows.map((r) => r.name as string);
  }

  async #line(
    line: string,
    transport: DemoLine["transport"],
    connection: string,
    bomId: number,
    machines: string[],
  ): Promise<DemoLine> {
    const [bom] = await this.execute<Row[]>("mrp.bom", "read", [[bomId]], { fields: ["product_tmpl_id"] });
    const [productId] = await this.execute<number[]>("product.product", "search", [
      [["product_tmpl_id", "=", idOf(bom?.product_tmpl_id)]],
    ]);
    const operations = await this.execute<Row[]>("mrp.routing.workcenter", "search_read", [[["bom_id", "=", bomId]]], {
      fields: ["name", "time_cycle_manual", "workcenter_id"],
      order: "sequence, id",
    });
    const workcenters = await this.execute<Row[]>(
      "mrp.workcenter",
      "read",
      [operations.map((op) => idOf(op.workcenter_id))],
      { fields: ["time_start"] },
    );
    const setupOf = new Map(workcenters.map((w) => [w.id as number, Number(w.time_start) || DEFAULT_SETUP_MIN]));
    const routing = operations.map((op, i) => ({
      machine: machines[i] as string,
      operation: op.name as string,
      cycleMin: Number(op.time_cycle_manual),
      setupMin: setupOf.get(idOf(op.workcenter_id)) ?? DEFAULT_SETUP_MIN,
    }));
    // Standard OEE's ideal cycle time from the routing, for this line's product.
    for (const op of operations) {
      const workcenterId = idOf(op.workcenter_id);
      const ideal = (Number(op.time_cycle_manual) * IDEAL_SHARE).toFixed(4);
      const existing = await this.execute<number[]>("shopfloor.ideal.cycle", "search", [
        [
          ["workcenter_id", "=", workcenterId],
          ["product_id", "=", productId],
        ],
      ]);
      if (existing.length) {
        await this.execute("shopfloor.ideal.cycle", "write", [existing, { ideal_cycle_time: Number(ideal) }]);
      } else {
        await this.execute("shopfloor.ideal.cycle", "create", [
          { workcenter_id: workcenterId, product_id: productId, ideal_cycle_time: Number(ideal) },
        ]);
      }
    }
    return { line, transport, connection, productId: productId as number, bomId, routing };
  }

  /**
   * The demo plant works three shifts, every day: its work centers get a calendar of 24 hours a
   * day, 7 days a week (UTC), so the backfilled shift is planned production time whatever the
   * hour or the day the demo starts (standard OEE's planned time comes from the calendar).
   */
  async #aroundTheClock(lines: DemoLine[]): Promise<void> {
    const name = "Demo plant: around the clock";
    let [calendar] = await this.execute<number[]>("resource.calendar", "search", [[["name", "=", name]]], {
      limit: 1,
    });
    if (!calendar) {
      const days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
      calendar = await this.execute<number>("resource.calendar", "create", [
        {
          name,
          tz: "UTC",
          hours_per_day: 24,
          attendance_ids: [
            [5, 0, 0],
            ...days.map((day, i) => [
              0,
              0,
              { name: day, dayofweek: String(i), hour_from: 0, hour_to: 24, day_period: "morning" },
            ]),
          ],
        },
      ]);
    }
    const operations = await this.execute<Row[]>(
      "mrp.routing.workcenter",
      "search_read",
      [[["bom_id", "in", lines.map((l) => l.bomId)]]],
      { fields: ["workcenter_id"] },
    );
    const workcenters = [...new Set(operations.map((op) => idOf(op.workcenter_id)))];
    await this.execute("mrp.workcenter", "write", [workcenters, { resource_calendar_id: calendar }]);
  }

  /** Line 3 (press and assembly, making a cover plate from the same materials), made once. */
  async #lineThree(): Promise<number> {
    const [existing] = await this.execute<Row[]>("mrp.bom", "search_read", [[["code", "=", "DEMO-LINE3"]]], {
      fields: ["id"],
    });
    if (existing) return existing.id as number;
    const aluminium = await this.ref("demo_product_aluminium");
    const rivet = await this.ref("demo_product_rivet");
    const [kg] = await this.execute<Row[]>("product.product", "read", [[aluminium]], { fields: ["uom_id"] });
    const tag = await this.execute<number>("mrp.workcenter.tag", "create", [{ name: "Line 3" }]);
    const press = await this.execute<number>("mrp.workcenter", "create", [
      { name: "L3 Press 03", code: "L3-PR03", costs_hour: 58, time_start: 12, time_stop: 5, tag_ids: [[6, 0, [tag]]] },
    ]);
    const assembly = await this.execute<number>("mrp.workcenter", "create", [
      { name: "L3 Assembly 03", code: "L3-AS03", costs_hour: 40, time_start: 6, tag_ids: [[6, 0, [tag]]] },
    ]);
    const product = await this.execute<number>("product.product", "create", [
      { name: "Cover Plate", default_code: "FG-COVER", is_storable: true, standard_price: 11.0, list_price: 23.0 },
    ]);
    const [template] = await this.execute<Row[]>("product.product", "read", [[product]], {
      fields: ["product_tmpl_id"],
    });
    return this.execute<number>("mrp.bom", "create", [
      {
        code: "DEMO-LINE3",
        product_tmpl_id: idOf(template?.product_tmpl_id),
        product_qty: 1,
        consumption: "flexible",
        bom_line_ids: [
          [0, 0, { product_id: aluminium, product_qty: 0.25, product_uom_id: idOf(kg?.uom_id) }],
          [0, 0, { product_id: rivet, product_qty: 3 }],
        ],
        operation_ids: [
          [0, 0, { name: "Stamping", workcenter_id: press, sequence: 10, time_mode: "manual", time_cycle_manual: 0.6 }],
          [
            0,
            0,
            { name: "Assembly", workcenter_id: assembly, sequence: 20, time_mode: "manual", time_cycle_manual: 1.2 },
          ],
        ],
      },
    ]);
  }
}
