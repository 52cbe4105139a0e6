// Parallel apply with order kept, proven on real Odoo 18 with two workers.
// Two work centers make two products from the SAME component, each from its
// own confirmed order: their production reports, material bookings and scraps
// of the component book the one stock quant of that component. The same floor story runs twice on
// identical fresh orders — once with one batch in flight (serial), once with
// two partitions in flight (one per work center) — and Odoo's end state must
// be the same: the component's quant, the raw moves and their lines, the
// orders' and work orders' quantities, the time logs, the event states. The
// parallel run must also have hit real concurrency conflicts (PostgreSQL
// serialization failures Odoo retried, counted in its log, or calls the
// sidecar retried whole): without them this test would prove nothing.
// Odoo's own stock splits a quant two transactions book at once and merges
// it back later (see the test): the quants are compared as Odoo shows them.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { OffsetEstimator, SkewTracker } from "../../sidecar/src/core/clock.ts";
import type { SidecarConfig } from "../../sidecar/src/core/contract.ts";
import { Delivery } from "../../sidecar/src/delivery.ts";
import { Pipeline } from "../../sidecar/src/pipeline.ts";
import { SqliteSpool } from "../../sidecar/src/spool/sqlite-spool.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";

type Row = Record<string, unknown>;
const idOf = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : 0);

/**
 * Events per work center: a start, then production reports alternating with material
 * bookings and scraps of the component, then a pause. A scrap of a reserved component is
 * validated at once, in the middle of its call: the quant's row stays locked until the
 * call commits, so two partitions' calls conflict on it. (Bookings alone touch the quant
 * only as a call ends, where two calls may or may not overlap.)
 */
const STEPS = 96;
const BATCH = 3;
const ORDER_QTY = 200;

interface Line {
  press: string;
  workcenterId: number;
  moId: number;
  moName: string;
  woId: number;
}

interface Run {
  name: string;
  componentId: number;
  lines: Line[];
}

/** A floor story of one press: the same for every run, only names differ. */
function story(run: string, line: Line, component: string): Record<string, unknown>[] {
  const base = Date.UTC(2026, 10, 22, 6, 0, 0);
  const at = (s: number) => new Date(base + s * 1_000).toISOString();
  const event = (n: number, type: string, data: Record<string, unknown>) => ({
    specversion: "1.0",
    id: `${run}-${line.press}-${n}`,
    source: `par/${run}/${line.press}`,
    type,
    time: at(n * 7),
    data: { order: line.moName, ...data },
  });
  const events = [event(0, "workorder.started", {})];
  for (let n = 1; n <= STEPS; n++) {
    events.push(
      n % 2 === 1
        ? event(n, "production.reported", { qty_good: 2 })
        : n % 4 === 0
          ? event(n, "scrap.reported", { material: component, qty: 1 })
          : event(n, "material.consumed", { material: component, qty: 3 }),
    );
  }
  events.push(event(STEPS + 1, "workorder.paused", {}));
  return events;
}

async function stockLocation(fixture: OdooFixture): Promise<number> {
  const [warehouse] = (await fixture.admin.execute("stock.warehouse", "search_read", [[]], {
    fields: ["lot_stock_id"],
    limit: 1,
  })) as Row[];
  return idOf(warehouse?.lot_stock_id);
}

/** A component with 10,000 in stock, and per press a work center, product, BOM (1 component each) and confirmed, reserved order. */
async function makeRun(fixture: OdooFixture, name: string, presses: string[]): Promise<Run> {
  const a = fixture.admin;
  const componentId = (await a.execute("product.product", "create", [
    { name: `Shared sheet ${name}`, default_code: `PAR-SHEET-${name}`, type: "consu", is_storable: true },
  ])) as number;
  const quant = (await a.execute("stock.quant", "create", [
    { product_id: componentId, location_id: await stockLocation(fixture), inventory_quantity: 10_000 },
  ])) as number;
  // Odoo's "Apply" returns None once applied: JSON-RPC then answers no result (the call is committed).
  await a.execute("stock.quant", "action_apply_inventory", [[quant]]).catch((err: Error) => {
    if (err.name !== "OdooContractError") throw err;
  });
  const lines: Line[] = [];
  for (const press of presses) {
    const workcenterId = (await a.execute("mrp.workcenter", "create", [
      { name: `Press ${press} ${name}`, code: `${name}-${press}`.slice(0, 20), time_efficiency: 100 },
    ])) as number;
    const productId = (await a.execute("product.product", "create", [
      { name: `Bracket ${press} ${name}`, type: "consu", is_storable: true },
    ])) as number;
    const [product] = (await a.execute("product.product", "read", [[productId]], {
      fields: ["product_tmpl_id"],
    })) as Row[];
    const bomId = (await a.execute("mrp.bom", "create", [
      {
        product_tmpl_id: idOf(product?.product_tmpl_id),
        product_qty: 1,
        bom_line_ids: [[0, 0, { product_id: componentId, product_qty: 1 }]],
        operation_ids: [[0, 0, { name: "Stamping", workcenter_id: workcenterId, time_cycle_manual: 0.5 }]],
      },
    ])) as number;
    const moId = (await a.execute("mrp.production", "create", [
      { product_id: productId, bom_id: bomId, product_qty: ORDER_QTY },
    ])) as number;
    await a.execute("mrp.production", "action_confirm", [[moId]]);
    await a.execute("mrp.production", "action_assign", [[moId]]);
    const [mo] = (await a.execute("mrp.production", "read", [[moId]], { fields: ["name", "workorder_ids"] })) as Row[];
    const woIds = mo?.workorder_ids as number[];
    await a.execute("shopfloor.source.map", "create", [
      { connection_id: fixture.connectionId, source: `par/${name}/${press}`, workcenter_id: workcenterId },
    ]);
    lines.push({ press, workcenterId, moId, moName: mo?.name as string, woId: woIds[0] as number });
  }
  return { name, componentId, lines };
}

/** Odoo's end state of a run, with nothing in it that names the run (ids, names, dates). */
async function endState(fixture: OdooFixture, run: Run): Promise<Row> {
  const a = fixture.admin;
  const quants = (await a.execute(
    "stock.quant",
    "search_read",
    [
      [
        ["product_id", "=", run.componentId],
        ["location_id.usage", "=", "internal"],
      ],
    ],
    {
      fields: ["quantity", "reserved_quantity", "location_id"],
      order: "location_id, id",
    },
  )) as Row[];
  const perLine: Row[] = [];
  for (const line of run.lines) {
    const [mo] = (await a.execute("mrp.production", "read", [[line.moId]], {
      fields: ["state", "qty_producing", "product_qty"],
    })) as Row[];
    const [wo] = (await a.execute("mrp.workorder", "read", [[line.woId]], {
      fields: ["state", "qty_producing", "qty_produced", "duration"],
    })) as Row[];
    const moves = (await a.execute("stock.move", "search_read", [[["raw_material_production_id", "=", line.moId]]], {
      fields: ["state", "product_uom_qty", "quantity", "picked", "manual_consumption", "move_line_ids"],
    })) as Row[];
    const moveLines = (await a.execute(
      "stock.move.line",
      "search_read",
      [[["move_id", "in", moves.map((m) => m.id as number)]]],
      { fields: ["quantity", "picked"], order: "id" },
    )) as Row[];
    const logs = (await a.execute(
      "mrp.workcenter.productivity",
      "search_read",
      [[["workcenter_id", "=", line.workcenterId]]],
      { fields: ["date_start", "date_end", "duration", "loss_id"], order: "date_start, id" },
    )) as Row[];
    const events = (await a.execute(
      "shopfloor.event",
      "search_read",
      [[["source", "=", `par/${run.name}/${line.press}`]]],
      { fields: ["event_uid", "type", "state", "error_message"], order: "time, id", context: { active_test: false } },
    )) as Row[];
    perLine.push({
      mo: { state: mo?.state, qty_producing: mo?.qty_producing, product_qty: mo?.product_qty },
      wo: {
        state: wo?.state,
        qty_producing: wo?.qty_producing,
        qty_produced: wo?.qty_produced,
        duration: wo?.duration,
      },
      moves: moves.map((m) => ({
        state: m.state,
        demand: m.product_uom_qty,
        quantity: m.quantity,
        picked: m.picked,
        manual: m.manual_consumption,
        lines: (m.move_line_ids as number[]).length,
      })),
      moveLines: moveLines.map((l) => ({ quantity: l.quantity, picked: l.picked })),
      logs: logs.map((l) => ({
        loss: (l.loss_id as [number, string])[1],
        seconds: (Date.parse(`${l.date_end}Z`) - Date.parse(`${l.date_start}Z`)) / 1000,
        duration: l.duration,
      })),
      events: events.map((e) => ({
        n: Number(String(e.event_uid).split("-").pop()),
        type: e.type,
        state: e.state,
        error: e.error_message || "",
      })),
    });
  }
  return { quants: quants.map((q) => ({ quantity: q.quantity, reserved: q.reserved_quantity })), lines: perLine };
}

/** Lines Odoo logged from `offset` on that say it retried a call after a concurrency error. */
function concurrencyRetries(logFile: string, offset: number): number {
  const size = statSync(logFile).size;
  const buffer = Buffer.alloc(Math.max(0, size - offset));
  const fd = openSync(logFile, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return (
    buffer.toString("utf8").match(/(serialization_failure|lock_not_available|deadlock_detected), \d+ tries left/gi)
      ?.length ?? 0
  );
}

describe.runIf(moduleHasSidecarApi())(
  "parallel apply: two partitions booking the same stock equal the serial run",
  () => {
    let odoo: OdooServer;
    let fixture: OdooFixture;
    let dir: string;
    const runs: Record<string, Run> = {};

    beforeAll(async () => {
      const db = `sfb_parallel_apply_${process.pid}`;
      const setup = await startOdoo({ db });
      fixture = await makeOdooFixture(setup, { code: "par" });
      await fixture.admin.execute("ir.config_parameter", "set_param", [
        "shopfloor_bridge.ingest_apply_budget_ms",
        "600000",
      ]);
      runs.serial = await makeRun(fixture, "serial", ["a", "b"]);
      runs.parallel = await makeRun(fixture, "parallel", ["a", "b"]);
      await setup.stop();
      odoo = await startOdoo({
        db,
        fromTemplate: false,
        port: setup.port,
        workers: 2,
        extraArgs: [`--gevent-port=${await freePort()}`],
      });
      dir = mkdtempSync(join(tmpdir(), "sfb-parallel-"));
    }, 600_000);
    afterAll(async () => {
      await odoo?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Spools the run's story as the sidecar does, delivers it with `partitions`, returns the retries counted. */
    async function deliver(run: Run, partitions: number) {
      const [component] = (await fixture.admin.execute("product.product", "read", [[run.componentId]], {
        fields: ["default_code"],
      })) as Row[];
      const events = run.lines.flatMap((line) => story(run.name, line, component?.default_code as string));
      // Arrival interleaves the presses, as two machines publishing at once.
      events.sort((x, y) => String(x.time).localeCompare(String(y.time)) || String(x.id).localeCompare(String(y.id)));
      const spool = new SqliteSpool({ path: join(dir, `${run.name}.db`) });
      const config = {
        code: fixture.code,
        revision: 1,
        skew: { bound_ms: 0, correct: false },
        sources: run.lines.map((l) => ({ source: `par/${run.name}/${l.press}`, workcenter: `wc:${l.workcenterId}` })),
      };
      const pipeline = new Pipeline({
        spool,
        offset: new OffsetEstimator(),
        skew: new SkewTracker(),
        config: config as unknown as SidecarConfig,
      });
      await pipeline.accept(
        events.map((e) => ({
          kind: "raw" as const,
          payload: Buffer.from(JSON.stringify(e)),
          origin: "shopfloor/par",
          receivedAt: new Date(),
        })),
      );
      const logOffset = statSync(odoo.logFile).size;
      const codes: string[] = [];
      const delivery = new Delivery({
        spool,
        odoo: fixture.client(),
        batchSize: BATCH,
        batchWaitMs: 0,
        partitions,
        // One sidecar keeps two presses booking one component in one partition (they
        // share data.material); two sidecars, or stock booked by a BOM the events do
        // not name, do not: Odoo must then get it right on its own, which is what this proves.
        affinity: false,
        backoff: { baseMs: 50, maxMs: 1_000 },
        onError: (_err, _attempt, _retryIn, code) => codes.push(code),
      });
      delivery.start();
      try {
        await expect.poll(async () => (await spool.stats()).queued, { timeout: 400_000, interval: 500 }).toBe(0);
      } finally {
        await delivery.stop();
      }
      const stats = await spool.stats();
      await spool.close();
      return {
        odooRetries: concurrencyRetries(odoo.logFile, logOffset),
        sidecarRetries: delivery.counters.conflicts,
        codes,
        maxInFlight: delivery.counters.maxInFlight,
        byStatus: stats.byStatus,
        parked: stats.parked,
      };
    }

    it("books the shared component concurrently, retries the conflicts, and ends exactly as the serial run", async () => {
      const serial = await deliver(runs.serial as Run, 1);
      const parallel = await deliver(runs.parallel as Run, 2);
      const events = 2 * (STEPS + 2);
      expect(serial.byStatus).toEqual({ applied: events });
      expect(parallel.byStatus).toEqual({ applied: events });
      expect(serial.parked + parallel.parked).toBe(0);
      expect(serial.maxInFlight).toBe(1);
      expect(parallel.maxInFlight).toBe(2);
      // Only `retry` (the database kept a concurrent update through Odoo's own retries) may have failed a call.
      expect(
        parallel.codes.every((c) => c === "retry"),
        parallel.codes.join(),
      ).toBe(true);
      // One call at a time cannot conflict; two at once on one quant must, or nothing was proven.
      expect(serial.odooRetries + serial.sidecarRetries).toBe(0);
      expect(parallel.odooRetries + parallel.sidecarRetries).toBeGreaterThan(0);
      console.info(
        `parallel apply: ${parallel.odooRetries} calls Odoo retried after a concurrency error, ` +
          `${parallel.sidecarRetries} the sidecar retried whole`,
      );

      // Odoo's stock does not wait for a quant another transaction holds: it books on a new quant
      // (`_update_available_quantity`, FOR NO KEY UPDATE SKIP LOCKED), then merges the quants and
      // recomputes their reservations from the move lines in `_quant_tasks`, which its scheduler runs
      // and opening Inventory → Physical Inventory runs. So the quants are compared as Odoo shows them
      // after that; what they were before is reported, not asserted (it depends on timing).
      const rawSerial = (await endState(fixture, runs.serial as Run)).quants;
      const rawParallel = (await endState(fixture, runs.parallel as Run)).quants;
      console.info(
        `quants before Odoo's reconciliation: serial ${JSON.stringify(rawSerial)}, ` +
          `parallel ${JSON.stringify(rawParallel)}`,
      );
      await fixture.admin.execute("stock.quant", "action_view_inventory", []);
      const serialState = await endState(fixture, runs.serial as Run);
      const parallelState = await endState(fixture, runs.parallel as Run);
      expect(serialState.quants).toEqual(rawSerial);
      expect(parallelState).toEqual(serialState);
      // And the serial state is what the story says: 48 reports of 2, 24 bookings of 3 and
      // 24 scraps of 1 per order.
      const [lineA] = serialState.lines as Row[];
      expect(lineA?.mo).toMatchObject({ qty_producing: (STEPS / 2) * 2 });
      expect((lineA?.moves as Row[] | undefined)?.[0]).toMatchObject({
        quantity: (STEPS / 4) * 3,
        picked: true,
        manual: true,
      });
      expect((lineA?.logs as Row[] | undefined)?.map((l) => l.seconds)).toEqual([(STEPS + 1) * 7]);
      expect(serialState.quants).toEqual([{ quantity: 10_000 - 2 * (STEPS / 4), reserved: 2 * (STEPS / 4) * 3 }]);
    }, 900_000);
  },
);
