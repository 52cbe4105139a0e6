// A simulated shift through a PLC read over Modbus TCP, whole chain: the
// line simulator plays the PLC program writing pymodbus's registers (counts,
// machine state, order, triggers) → PlcSource with the Modbus driver (rules,
// deadband-free polling) → Pipeline → SqliteSpool → Delivery → real Odoo 18.
// The PLC is killed and started again mid-order while the machine keeps
// counting. Afterwards Odoo's work order, time logs, downtime and scrap must
// match the simulator's ledger: nothing lost, nothing doubled.
//
// The connection's source and reason maps live in Odoo; its kind, PLC block
// and Modbus rules are set on the configuration Odoo sends, to run the
// simulator's many rules. The path from Odoo's PLC connection form and typed
// tag rules to the sidecar process is plc_connection.e2e.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { SimModbusPlc } from "../../sidecar/devstack/sim-modbus-plc.ts";
import { Ledger } from "../../sidecar/simulator/ledger.ts";
import { Line } from "../../sidecar/simulator/line.ts";
import { lineRules } from "../../sidecar/simulator/rules.ts";
import { Simulation } from "../../sidecar/simulator/simulation.ts";
import { OffsetEstimator, SkewTracker } from "../../sidecar/src/core/clock.ts";
import type { PlcConfig, SidecarConfig } from "../../sidecar/src/core/contract.ts";
import type { SourceSink } from "../../sidecar/src/core/ports.ts";
import { Delivery } from "../../sidecar/src/delivery.ts";
import { Pipeline } from "../../sidecar/src/pipeline.ts";
import { createPlcDriver } from "../../sidecar/src/sources/plc/drivers.ts";
import { PlcSource, plcOptionsFromConfig } from "../../sidecar/src/sources/plc/source.ts";
import { SqliteSpool } from "../../sidecar/src/spool/sqlite-spool.ts";
import { makeOdooFixture, moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { firstWorkorder, mapMachine } from "./support/shift-rig.ts";

type Row = Record<string, unknown>;
/** Odoo keeps UTC datetimes to the second, without zone. */
const odooMs = (text: unknown) => Date.parse(`${String(text).replace(" ", "T")}Z`);
/** A polled PLC's events carry the poll's read time: within a poll and Odoo's truncation to the second of the line's. */
const POLL_MS = 100;
const TOLERANCE_MS = 1_000 + 3 * POLL_MS;

describe.runIf(moduleHasSidecarApi())(
  "a simulated shift via a Modbus TCP PLC (pymodbus) ends in Odoo as the ledger says",
  () => {
    let odoo: OdooServer;
    const dir = mkdtempSync(join(tmpdir(), "sfb-modbus-e2e-"));

    beforeAll(async () => {
      odoo = await startOdoo({ db: `sfb_modbus_e2e_${process.pid}` });
    });
    afterAll(async () => {
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it("counts, states and triggers polled from the PLC, restarted mid-order, land once", async () => {
      const machine = "Press04";
      const orderName = "WH/MO/00007";
      const fixture = await makeOdooFixture(odoo, { code: "e2e-modbus", batchWaitMs: 100 });
      const a = fixture.admin;
      const mo = await firstWorkorder(fixture, orderName);
      const workcenterId = mo.workcenterId;
      const failureLoss = await mapMachine(fixture, `plant1/line1/${machine.toLowerCase()}`, workcenterId);

      const line = new Line("Line1", [machine]);
      const ledger = new Ledger("modbus-shift", "Line1", [machine]);
      const sim = new Simulation(line, ledger, { stepMs: 150, pulseMs: 1_500 });
      const plcOutput = new SimModbusPlc({ line });
      sim.outputs.push(plcOutput);
      await sim.start();

      const plc: PlcConfig = {
        host: "127.0.0.1",
        port: plcOutput.port,
        unit_id: 1,
        rack: 0,
        slot: 0,
        poll_interval_ms: POLL_MS,
        timeout_ms: 500,
      };
      const fromOdoo = await fixture.client().sidecarConfig(fixture.code);
      const config: SidecarConfig = {
        ...fromOdoo,
        kind: "modbus",
        plc,
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "modbus" }),
      };

      const spool = new SqliteSpool({ path: join(dir, "spool.db") });
      const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
      const delivery = new Delivery({ spool, odoo: fixture.client(), batchSize: 100, batchWaitMs: 100 });
      const sink: SourceSink = {
        accept: async (items, state) => {
          const report = await pipeline.accept(items, state);
          delivery.notify();
          return report;
        },
        loadState: (prefix) => pipeline.loadState(prefix),
      };
      const driver = await createPlcDriver("modbus", plc);
      const logs: string[] = [];
      const source = new PlcSource({
        ...plcOptionsFromConfig(config, driver, (level, message) => logs.push(`${level} ${message}`)),
        reconnect: { baseMs: 200, maxMs: 1_000 },
      });
      delivery.start();
      await source.start(sink);
      try {
        await expect.poll(() => source.stats().polls, { timeout: 10_000 }).toBeGreaterThan(0);
        // One order: set up, produce with scrap, a jam, the PLC restarted while the machine counts on, complete.
        await sim.startOrder(machine, orderName, mo.operation);
        await sim.step();
        await sim.setState(machine, "setup");
        await sim.step(10);
        await sim.setState(machine, "running");
        await sim.produce(machine, 3, 1);
        await sim.setState(machine, "down", "JAM");
        await sim.step(10);
        await sim.setState(machine, "running");
        // A change is seen once a poll reads it: let one run before the PLC goes away.
        await sim.step(3);
        await Promise.all([sim.restartOutputs(1_500), sim.produce(machine, 3)]);
        await sim.produce(machine, 2, 1);
        await sim.step(3);
        await sim.complete(machine);
        await sim.step(3);
        await plcOutput.settled();

        const expected = ledger.toJSON().expected;
        const order = expected.orders[0];
        expect(order).toMatchObject({ started: true, completed: true, good: 8, scrap: 2 });
        expect(expected.server_restarts).toBe(1);

        await expect
          .poll(
            async () =>
              ((await a.execute("mrp.workorder", "read", [[mo.woId]], { fields: ["state"] })) as Row[])[0]?.state,
            { timeout: 120_000, interval: 1_000 },
          )
          .toBe("done");
        // Everything spooled is delivered, and every event applied: none failed, pending, rejected or dead.
        await expect.poll(async () => (await spool.stats()).queued, { timeout: 60_000, interval: 500 }).toBe(0);
        const notApplied = await fixture.events(["type", "state", "error_message"], [["state", "!=", "applied"]]);
        expect(notApplied).toEqual([]);

        const [done] = (await a.execute("mrp.workorder", "read", [[mo.woId]], {
          fields: ["qty_produced", "shopfloor_qty_scrap"],
        })) as Row[];
        expect(done?.qty_produced).toBe(order?.good);
        expect(done?.shopfloor_qty_scrap).toBe(order?.scrap);
        const scraps = (await a.execute("stock.scrap", "search_read", [[["production_id", "=", mo.moId]]], {
          fields: ["scrap_qty", "state"],
        })) as Row[];
        expect(scraps.reduce((t, s) => t + Number(s.scrap_qty), 0)).toBe(order?.scrap);

        const near = (odoo: unknown, iso: string | null) =>
          iso !== null && Math.abs(odooMs(odoo) - Date.parse(iso)) <= TOLERANCE_MS;
        const downtimes = (await a.execute(
          "mrp.workcenter.productivity",
          "search_read",
          [
            [
              ["workcenter_id", "=", workcenterId],
              ["loss_id", "=", failureLoss],
            ],
          ],
          { fields: ["date_start", "date_end"], order: "date_start" },
        )) as Row[];
        expect(downtimes).toHaveLength(expected.downtimes.length);
        downtimes.forEach((log, i) => {
          const want = expected.downtimes[i];
          expect(near(log.date_start, want?.start ?? null), `downtime ${i} start`).toBe(true);
          expect(near(log.date_end, want?.end ?? null), `downtime ${i} end`).toBe(true);
        });
        const setups = (await a.execute(
          "mrp.workcenter.productivity",
          "search_read",
          [
            [
              ["workcenter_id", "=", workcenterId],
              ["loss_id.name", "=", "Setup and Adjustments"],
            ],
          ],
          { fields: ["date_start", "date_end"] },
        )) as Row[];
        expect(setups).toHaveLength(expected.setups.length);
        const logsOfWo = (await a.execute(
          "mrp.workcenter.productivity",
          "search_read",
          [[["workorder_id", "=", mo.woId]]],
          {
            fields: ["date_end"],
          },
        )) as Row[];
        expect(logsOfWo.filter((l) => !l.date_end)).toEqual([]);

        // The machine counted while the PLC was away; the restart was seen, said once, and the source reads again.
        expect(plcOutput.stats().writes_while_down).toBeGreaterThan(0);
        expect(source.stats()).toMatchObject({ connected: 1, reconnects: 1 });
        expect(source.lastError).toBe("");
        expect(logs.filter((l) => l.startsWith("info modbus:e2e-modbus: reading again"))).toHaveLength(1);
      } finally {
        await source.stop();
        await delivery.stop();
        await spool.close();
        await sim.stop();
      }
    });
  },
);
