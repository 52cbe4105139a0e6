// What the real-time cost variance costs on the ingest path, against
// a real Odoo 18 over JSON-RPC.
// - refresh latency: after each event of a realistic sequence on one MO, the
//   server refreshes that MO's variance and returns how long it took, measured
//   inside Odoo, so network and JSON-RPC overhead are not in the figure. The
//   timing hooks and their RPCs (shopfloor.cost.variance.bench_refresh_timings,
//   bench_refresh_timed) are the bench-only addon
//   test/odoo_addons/shopfloor_bridge_bench, installed into this database only.
// - ingest rate with and without the refresh on the apply path, switched by
//   the ir.config_parameter shopfloor_bridge.cost_realtime; runs alternate
//   off/on on fresh MOs so drift on this shared machine hits both alike.
import { backendPids, startOdoo } from "../devstack/odoo.ts";
import { listProcesses, PidSetCpuMeter, rootWithArg, TreeCpuMeter } from "../devstack/proc-cpu.ts";
import type { CloudEvent, EventType } from "../src/core/contract.ts";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";
import type { Benchmark, Figure } from "./harness.ts";
import { median, percentile } from "./harness.ts";

const CONNECTION = "bench-cost";
const SIDECAR_LOGIN = "bench-cost-sidecar";
const PRESS = "bench/line1/press";
const ASSEMBLY = "bench/line1/assembly";

interface Plant {
  productId: number;
  bomId: number;
}

/** [ms, MOs refreshed, SQL queries] of one refresh inside ingest. */
type Timing = [number, number, number];

class EventClock {
  #next = Date.parse("2026-11-23T08:00:00Z");
  #seq = 0;
  event(type: EventType, source: string, data: Record<string, unknown>): CloudEvent {
    this.#next += 1000;
    this.#seq += 1;
    return {
      specversion: "1.0",
      id: `cost-bench-${process.pid}-${this.#seq}`,
      source,
      type,
      time: new Date(this.#next).toISOString(),
      connection: CONNECTION,
      data,
    };
  }
}

async function xmlId(client: JsonRpcOdooClient, module: string, name: string): Promise<number> {
  const rows = (await client.execute(
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", module],
        ["name", "=", name],
      ],
    ],
    { fields: ["res_id"] },
  )) as { res_id: number }[];
  const row = rows[0];
  if (!row) throw new Error(`no xml id ${module}.${name}`);
  return row.res_id;
}

async function create(client: JsonRpcOdooClient, model: string, values: Record<string, unknown>): Promise<number> {
  return (await client.execute(model, "create", [values])) as number;
}

async function buildPlant(client: JsonRpcOdooClient): Promise<Plant> {
  const uid = await client.uid();
  const manager = await xmlId(client, "shopfloor_bridge", "shopfloor_bridge_group_manager");
  await client.execute("res.users", "write", [[uid], { groups_id: [[4, manager]] }]);
  const kg = await xmlId(client, "uom", "product_uom_kgm");
  const press = await create(client, "mrp.workcenter", {
    name: "Bench Press",
    code: "B-PRESS",
    costs_hour: 60,
    time_start: 10,
    time_stop: 5,
  });
  const assembly = await create(client, "mrp.workcenter", { name: "Bench Assembly", code: "B-ASSY", costs_hour: 40 });
  const productId = await create(client, "product.product", {
    name: "Bench Bracket",
    default_code: "B-FG",
    standard_price: 12,
  });
  const steel = await create(client, "product.product", {
    name: "Bench Steel",
    default_code: "B-STEEL",
    standard_price: 2.5,
    uom_id: kg,
    uom_po_id: kg,
  });
  const bolt = await create(client, "product.product", {
    name: "Bench Bolt",
    default_code: "B-BOLT",
    standard_price: 0.1,
  });
  const [template] = (await client.execute("product.product", "read", [[productId], ["product_tmpl_id"]])) as {
    product_tmpl_id: [number, string];
  }[];
  const bomId = await create(client, "mrp.bom", {
    product_tmpl_id: template?.product_tmpl_id[0],
    product_qty: 1,
    consumption: "flexible",
    bom_line_ids: [
      [0, 0, { product_id: steel, product_qty: 0.5, product_uom_id: kg }],
      [0, 0, { product_id: bolt, product_qty: 4 }],
    ],
    operation_ids: [
      [0, 0, { name: "Cutting", workcenter_id: press, sequence: 10, time_mode: "manual", time_cycle_manual: 1.5 }],
      [0, 0, { name: "Assembly", workcenter_id: assembly, sequence: 20, time_mode: "manual", time_cycle_manual: 2 }],
    ],
  });
  // The events arrive as the connection's sidecar sends them: through its integration user.
  const sidecarUser = await create(client, "res.users", {
    name: "Cost bench sidecar",
    login: SIDECAR_LOGIN,
    password: SIDECAR_LOGIN,
    groups_id: [[6, 0, [await xmlId(client, "shopfloor_bridge", "shopfloor_bridge_group_integration")]]],
  });
  const connection = await create(client, "shopfloor.connection", {
    code: CONNECTION,
    name: "Cost bench",
    kind: "mqtt",
    integration_user_ids: [[6, 0, [sidecarUser]]],
  });
  for (const [source, workcenter] of [
    [PRESS, press],
    [ASSEMBLY, assembly],
  ] as const) {
    await create(client, "shopfloor.source.map", { connection_id: connection, source, workcenter_id: workcenter });
  }
  return { productId, bomId };
}

async function makeOrders(
  client: JsonRpcOdooClient,
  plant: Plant,
  count: number,
): Promise<{ id: number; name: string }[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(
      await create(client, "mrp.production", { product_id: plant.productId, bom_id: plant.bomId, product_qty: 1000 }),
    );
  }
  await client.execute("mrp.production", "action_confirm", [ids]);
  return (await client.execute("mrp.production", "read", [ids, ["name"]])) as { id: number; name: string }[];
}

/** A realistic run of one MO: start, counts, consumption, a stop, scrap, pause/resume. */
function orderEvents(clock: EventClock, order: string, count: number): CloudEvent[] {
  const cut = { order, operation: "Cutting" };
  const events = [clock.event("workorder.started", PRESS, cut)];
  for (let i = 0; events.length < count; i++) {
    switch (i % 8) {
      case 3:
        events.push(clock.event("material.consumed", PRESS, { order, material: "B-STEEL", qty: 2.5, uom: "kg" }));
        break;
      case 5:
        events.push(clock.event("workorder.paused", PRESS, cut));
        events.push(clock.event("workorder.resumed", PRESS, cut));
        break;
      case 7:
        events.push(clock.event("scrap.reported", PRESS, { order, qty: 1 }));
        break;
      default:
        events.push(clock.event("production.reported", PRESS, { order, qty_good: 5, operation: "Cutting" }));
    }
  }
  return events.slice(0, count);
}

async function ingestAll(client: JsonRpcOdooClient, events: CloudEvent[], batch: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += batch) {
    const results = (await client.execute("shopfloor.event", "ingest", [events.slice(i, i + batch)])) as {
      status: string;
      error: string;
    }[];
    const bad = results.find((r) => r.status !== "applied");
    if (bad) throw new Error(`an event did not apply: ${bad.status} ${bad.error}`);
  }
  return events.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

const bench: Benchmark = {
  name: "cost",
  issue: 8,
  async run(ctx) {
    const odoo = await startOdoo({ db: `sfb_cost_bench_${process.pid}`, log: ctx.log, benchAddons: true });
    try {
      const client = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: odoo.login, apiKey: odoo.password });
      const plant = await buildPlant(client);
      const sidecar = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: SIDECAR_LOGIN, apiKey: SIDECAR_LOGIN });
      const clock = new EventClock();
      const setRealtime = (on: boolean) =>
        client.execute("ir.config_parameter", "set_param", ["shopfloor_bridge.cost_realtime", on ? "1" : "0"]);
      const figures: Figure[] = [];

      // 1. Refresh latency of one MO after each event: the refresh that ran
      // inside ingest (warm: the handler just loaded the MO), and the same
      // refresh from a cold cache in its own call.
      await setRealtime(true);
      const [single] = await makeOrders(client, plant, 1);
      if (!single) throw new Error("no MO");
      await client.execute("shopfloor.cost.variance", "bench_refresh_timings", []);
      const inIngest: number[] = [];
      const cold: number[] = [];
      const queries: number[] = [];
      const sequence = orderEvents(clock, single.name, Math.round(120 * ctx.scale));
      for (const [i, event] of sequence.entries()) {
        await ingestAll(sidecar, [event], 1);
        const timings = (await client.execute("shopfloor.cost.variance", "bench_refresh_timings", [])) as Timing[];
        const [timing] = timings;
        if (!timing || timings.length !== 1)
          throw new Error(`expected one refresh inside ingest, got ${timings.length}`);
        inIngest.push(timing[0]);
        queries.push(timing[2]);
        const timed = (await client.execute("shopfloor.cost.variance", "bench_refresh_timed", [[single.id]])) as {
          ms: number;
        };
        cold.push(timed.ms);
        ctx.progress("refresh after one event", i + 1, sequence.length);
      }
      const warmSorted = [...inIngest].sort((a, b) => a - b);
      const coldSorted = [...cold].sort((a, b) => a - b);
      const p50 = percentile(warmSorted, 50);
      const fixed = (n: number) => Number(n.toFixed(2));
      ctx.log(
        `refresh of one MO inside ingest: median ${p50.toFixed(2)} ms, p95 ${percentile(warmSorted, 95).toFixed(2)} ms; ` +
          `cold cache: median ${percentile(coldSorted, 50).toFixed(2)} ms`,
      );
      figures.push({
        figure: "cost variance refresh of one MO after one event, inside ingest (server-side, median)",
        value: fixed(p50),
        unit: "ms",
        target: { text: "< 20 ms", met: p50 < 20 },
      });
      figures.push({
        figure: "cost variance refresh of one MO after one event, inside ingest (server-side, p95)",
        value: fixed(percentile(warmSorted, 95)),
        unit: "ms",
      });
      figures.push({
        figure: "SQL queries per refresh of one MO inside ingest (median)",
        value: median(queries),
        unit: "queries",
      });
      figures.push({
        figure: "cost variance refresh of one MO, cold cache in its own call (server-side, median)",
        value: fixed(percentile(coldSorted, 50)),
        unit: "ms",
      });

      // 2. Ingest rate with and without the refresh on the apply path, in
      // alternating off/on runs on fresh MOs, in the order off on on off off on
      // on off, twice: each run adds orders and events, and later runs go a
      // little slower, so strict off/on pairs put every "on" run after its "off"
      // one; this order gives both modes the same mean position. Runs of one
      // mode differ widely, and a median of 4 per mode came out on either side
      // of the target in two bench runs a day apart: hence 8 per mode. Reported next to the
      // rates: the share of ingest time spent in the refresh (measured inside
      // Odoo), and the CPU time of Odoo and of its database per event (/proc,
      // over each run), which tells a run that did more work from one that waited.
      const odooCpu = new TreeCpuMeter(rootWithArg(`--http-port=${odoo.port}`, listProcesses()).pid);
      const pgCpu = new PidSetCpuMeter(() => backendPids(odoo.db));
      for (const batch of [50, 1]) {
        const perRun = Math.round((batch === 1 ? 60 : 200) * ctx.scale);
        const orders = 10;
        const rates: Record<"on" | "off", number[]> = { on: [], off: [] };
        // Odoo + PostgreSQL CPU ms per event of each run.
        const cpu: Record<"on" | "off", number[]> = { on: [], off: [] };
        let refreshMs = 0;
        let ingestMs = 0;
        const order = ["off", "on", "on", "off", "off", "on", "on", "off"] as const;
        for (const mode of [...order, ...order]) {
          const mos = await makeOrders(client, plant, orders);
          // Events of the orders interleaved, as a line of machines sends them.
          const streams = mos.map((mo) => orderEvents(clock, mo.name, Math.ceil(perRun / orders)));
          const events: CloudEvent[] = [];
          for (let i = 0; events.length < perRun; i++) {
            for (const stream of streams) {
              const event = stream[i];
              if (event && events.length < perRun) events.push(event);
            }
          }
          await setRealtime(mode === "on");
          await client.execute("shopfloor.cost.variance", "bench_refresh_timings", []);
          odooCpu.reset();
          pgCpu.reset();
          const rate = await ingestAll(sidecar, events, batch);
          const cpuMs = ((odooCpu.seconds() + pgCpu.read().seconds) * 1000) / events.length;
          rates[mode].push(rate);
          cpu[mode].push(cpuMs);
          if (mode === "on") {
            const timings = (await client.execute("shopfloor.cost.variance", "bench_refresh_timings", [])) as Timing[];
            refreshMs += timings.reduce((sum, [ms]) => sum + ms, 0);
            ingestMs += (events.length / rate) * 1000;
          }
          ctx.log(`batch ${batch}, cost ${mode}: ${rate.toFixed(1)} events/s, ${cpuMs.toFixed(2)} ms CPU/event`);
        }
        const on = median(rates.on);
        const off = median(rates.off);
        const slower = (1 - on / off) * 100;
        const share = (refreshMs / ingestMs) * 100;
        const cpuOn = median(cpu.on);
        const cpuOff = median(cpu.off);
        const more = (cpuOn / cpuOff - 1) * 100;
        figures.push({
          figure: `ingest events/s, batch ${batch}, with real-time cost (median of ${rates.on.length}, wall clock)`,
          value: Number(on.toFixed(1)),
          unit: "events/s",
          baseline: { name: "cost_realtime off", value: Number(off.toFixed(1)) },
          target: { text: "< 10% slower", met: slower < 10 },
        });
        figures.push({
          figure: `share of ingest time spent refreshing cost, batch ${batch} (server-side)`,
          value: Number(share.toFixed(1)),
          unit: "%",
          target: { text: "< 10%", met: share < 10 },
        });
        figures.push({
          figure:
            `Odoo + PostgreSQL CPU per event, batch ${batch}, with real-time cost ` +
            `(median of ${cpu.on.length} runs, /proc: Odoo's process tree and the database's backends)`,
          value: Number(cpuOn.toFixed(2)),
          unit: "ms",
          baseline: { name: "cost_realtime off", value: Number(cpuOff.toFixed(2)) },
          target: { text: "< 10% more (the wall-clock target, read in CPU time)", met: more < 10 },
        });
        ctx.log(
          `batch ${batch}: ${slower.toFixed(1)} % slower by wall clock, ${more.toFixed(1)} % more CPU per event; ` +
            `refresh = ${share.toFixed(1)} % of ingest time; rates off ${rates.off.map((r) => r.toFixed(1)).join(" ")}, ` +
            `on ${rates.on.map((r) => r.toFixed(1)).join(" ")}`,
        );
      }
      await setRealtime(true);
      return figures;
    } finally {
      await odoo.destroy();
    }
  },
};

export default bench;
