// What the preset and kit end-to-end tests set up in a real Odoo, as an admin
// would: a work center with its own product, routing and confirmed order (so
// no test shares time logs with another), the connection's maps, payload
// mappings made from the shipped presets, and tag rules of protocol payload.
// Plus publishing recorded payloads to a real broker and reading the outcome.
import mqtt from "mqtt";
import type { MappingRule } from "../../sidecar/src/core/contract.ts";
import type { OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { payloadBytes, type Recorded } from "./presets.ts";

type Row = Record<string, unknown>;
const id = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : 0);

export interface Line {
  workcenterId: number;
  productId: number;
  moId: number;
  moName: string;
  woId: number;
}

/** A work center "name" with a one-operation routing ("Stamping") and a confirmed MO of 100. */
export async function makeLine(fixture: OdooFixture, name: string, operation = "Stamping"): Promise<Line> {
  const a = fixture.admin;
  const workcenterId = (await a.execute("mrp.workcenter", "create", [
    { name: `${name} (${fixture.code})`, code: `${fixture.code}-${name}`.slice(0, 20), time_efficiency: 100 },
  ])) as number;
  const productId = (await a.execute("product.product", "create", [
    { name: `Part of ${name} (${fixture.code})`, type: "consu", is_storable: true },
  ])) as number;
  const [product] = (await a.execute("product.product", "read", [[productId]], {
    fields: ["product_tmpl_id"],
  })) as Row[];
  const bomId = (await a.execute("mrp.bom", "create", [
    {
      product_tmpl_id: id(product?.product_tmpl_id),
      product_qty: 1,
      operation_ids: [[0, 0, { name: operation, workcenter_id: workcenterId, time_cycle_manual: 0.5 }]],
    },
  ])) as number;
  const moId = (await a.execute("mrp.production", "create", [
    { product_id: productId, bom_id: bomId, product_qty: 100 },
  ])) as number;
  await a.execute("mrp.production", "action_confirm", [[moId]]);
  const [mo] = (await a.execute("mrp.production", "read", [[moId]], { fields: ["name", "workorder_ids"] })) as Row[];
  const woIds = mo?.workorder_ids as number[];
  if (!mo || woIds.length !== 1) throw new Error(`MO of ${name} has ${woIds?.length} work orders, expected 1`);
  return { workcenterId, productId, moId, moName: mo.name as string, woId: woIds[0] as number };
}

/** Source → work center, floor order refs → MO (order mapping table), reason codes → losses, floor units → Odoo units. */
export async function mapFloor(
  fixture: OdooFixture,
  opts: {
    sources: Record<string, number>;
    orders?: Record<string, number>;
    reasons?: Record<string, string>;
    units?: Record<string, string>;
  },
): Promise<void> {
  const a = fixture.admin;
  const connection_id = fixture.connectionId;
  if (opts.orders) await a.execute("shopfloor.connection", "write", [[connection_id], { order_lookup: "table" }]);
  for (const [source, workcenter_id] of Object.entries(opts.sources)) {
    await a.execute("shopfloor.source.map", "create", [{ connection_id, source, workcenter_id }]);
  }
  for (const [mes_ref, production_id] of Object.entries(opts.orders ?? {})) {
    await a.execute("shopfloor.order.map", "create", [{ connection_id, mes_ref, production_id }]);
  }
  for (const [code, lossName] of Object.entries(opts.reasons ?? {})) {
    const [loss_id] = (await a.execute("mrp.workcenter.productivity.loss", "search", [[["name", "=", lossName]]], {
      limit: 1,
    })) as number[];
    if (!loss_id) throw new Error(`no loss reason ${lossName} in Odoo`);
    await a.execute("shopfloor.reason.map", "create", [{ connection_id, code, loss_id }]);
  }
  for (const [code, unitName] of Object.entries(opts.units ?? {})) {
    const [uom_id] = (await a.execute("uom.uom", "search", [[["name", "=", unitName]]], { limit: 1 })) as number[];
    if (!uom_id) throw new Error(`no unit ${unitName} in Odoo`);
    await a.execute("shopfloor.uom.map", "create", [{ connection_id, code, uom_id }]);
  }
}

/**
 * A payload mapping of the connection made from a shipped preset the way the
 * form does it: choosing the preset runs the model's onchange, which fills the
 * mapping from it; then the admin may set the match, and saves.
 */
export async function mappingFromPreset(fixture: OdooFixture, code: string, match?: string): Promise<number> {
  const a = fixture.admin;
  const [presetId] = (await a.execute("shopfloor.payload.preset", "search", [[["code", "=", code]]])) as number[];
  if (!presetId) throw new Error(`the module ships no preset ${code}`);
  const form: Row = {
    connection_id: fixture.connectionId,
    preset_id: presetId,
    name: false,
    kind: "events",
    transport: "mqtt",
    match: false,
    expression: false,
    id_fields: false,
    payload_format: "json",
    sample_payload: false,
  };
  const spec = Object.fromEntries(Object.keys(form).map((field) => [field, {}]));
  const changed = (await a.execute("shopfloor.payload.map", "onchange", [[], form, ["preset_id"], spec])) as {
    value?: Row;
  };
  const values: Row = { ...form, ...changed.value, connection_id: fixture.connectionId, preset_id: presetId };
  if (!values.expression) throw new Error(`choosing preset ${code} filled no expression: ${JSON.stringify(changed)}`);
  if (match) values.match = match;
  return (await a.execute("shopfloor.payload.map", "create", [values])) as number;
}

/** A tag rule of protocol payload (a reading a values mapping yields). */
export async function payloadRule(
  fixture: OdooFixture,
  rule: Pick<MappingRule, "kind" | "address" | "source" | "params"> & { event_type?: string },
): Promise<number> {
  return (await fixture.admin.execute("shopfloor.mapping.rule", "create", [
    {
      connection_id: fixture.connectionId,
      kind: rule.kind,
      protocol: "payload",
      address: rule.address,
      source: rule.source,
      event_type: rule.event_type || false,
      params_json: JSON.stringify(rule.params),
    },
  ])) as number;
}

/**
 * Publishes recorded payloads in order, QoS 1, each acknowledged by the broker
 * before the next; `gapMs` apart when their time is the receive time.
 */
export async function publishRecorded(url: string, recorded: Recorded[], clientId: string, gapMs = 0): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, clean: true });
  try {
    for (const { topic, payload } of recorded) {
      await client.publishAsync(topic, payloadBytes(payload), { qos: 1 });
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  } finally {
    await client.endAsync();
  }
}

/** Publishes raw bytes or text once, QoS 1. */
export async function publishOne(
  url: string,
  topic: string,
  payload: string | Buffer,
  clientId: string,
): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, clean: true });
  try {
    await client.publishAsync(topic, payload, { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

export interface EventRow {
  id: number;
  type: string | false;
  state: string;
  time: string | false;
  event_uid: string;
  source: string;
  error_message: string | false;
  data_json?: string | false;
  raw_b64?: string | false;
}

/** The connection's events, oldest `time` first. */
export async function eventsOf(fixture: OdooFixture, domain: unknown[] = []): Promise<EventRow[]> {
  return (await fixture.admin.execute(
    "shopfloor.event",
    "search_read",
    [[["connection_id", "=", fixture.connectionId], ...domain]],
    {
      fields: ["id", "type", "state", "time", "event_uid", "source", "error_message"],
      order: "time, id",
      context: { active_test: false },
    },
  )) as EventRow[];
}

export async function workorder(fixture: OdooFixture, woId: number): Promise<Row> {
  const [wo] = (await fixture.admin.execute("mrp.workorder", "read", [[woId]], {
    fields: ["state", "qty_produced", "qty_producing", "shopfloor_qty_scrap"],
  })) as Row[];
  return wo ?? {};
}

export async function production(fixture: OdooFixture, moId: number): Promise<Row> {
  const [mo] = (await fixture.admin.execute("mrp.production", "read", [[moId]], {
    fields: ["state", "qty_producing"],
  })) as Row[];
  return mo ?? {};
}

/** Time logs of a work center: [loss name, start, end], oldest first (Odoo's UTC, to the second). */
export async function timeLogs(
  fixture: OdooFixture,
  workcenterId: number,
): Promise<[string, string, string | false][]> {
  const logs = (await fixture.admin.execute(
    "mrp.workcenter.productivity",
    "search_read",
    [[["workcenter_id", "=", workcenterId]]],
    { fields: ["loss_id", "date_start", "date_end"], order: "date_start, id" },
  )) as Row[];
  return logs.map((l) => [(l.loss_id as [number, string])[1], l.date_start as string, l.date_end as string | false]);
}

export async function scrapTotal(fixture: OdooFixture, moId: number): Promise<number> {
  const scraps = (await fixture.admin.execute("stock.scrap", "search_read", [[["production_id", "=", moId]]], {
    fields: ["scrap_qty", "state"],
  })) as Row[];
  if (scraps.some((s) => s.state !== "done")) throw new Error("a scrap of the MO is not done");
  return scraps.reduce((total, s) => total + Number(s.scrap_qty), 0);
}

/** Odoo stores UTC datetimes to the second, without zone. */
export const odooTime = (iso: string) => iso.slice(0, 19).replace("T", " ");
