// A simulated shift through an EtherNet/IP controller, whole chain: the line
// simulator drives the tags of cpppo's Logix simulator (a CIP implementation
// nobody here wrote) → PlcSource with the EtherNet/IP driver → Pipeline →
// SqliteSpool → Delivery → real Odoo 18. Between the shift's two orders the
// controller is killed and started again; Odoo must end as the ledger says.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { SimEnipPlc } from "../../sidecar/devstack/sim-enip-plc.ts";
import { Ledger } from "../../sidecar/simulator/ledger.ts";
import { Line } from "../../sidecar/simulator/line.ts";
import { lineRules } from "../../sidecar/simulator/rules.ts";
import { Simulation, sleep } from "../../sidecar/simulator/simulation.ts";
import { OffsetEstimator, SkewTracker } from "../../sidecar/src/core/clock.ts";
import type { PlcConfig } from "../../sidecar/src/core/contract.ts";
import type { SourceSink } from "../../sidecar/src/core/ports.ts";
import { Delivery } from "../../sidecar/src/delivery.ts";
import { Pipeline } from "../../sidecar/src/pipeline.ts";
import { createPlcDriver } from "../../sidecar/src/sources/plc/drivers.ts";
import { PlcSource } from "../../sidecar/src/sources/plc/source.ts";
import { SqliteSpool } from "../../sidecar/src/spool/sqlite-spool.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { mapMachine } from "./support/shift-rig.ts";

type Row = Record<string, unknown>;
const LINE = "Line1";
const MACHINE = "Press07";
const POLL_MS = 100;
/** Slower than a few polls, so each part is read as its own change (a poll sees one step, not two). */
const STEP_MS = 400;

describe.runIf(moduleHasSidecarApi())(
  "a simulated shift via EtherNet/IP (cpppo's Logix simulator) ends in Odoo as the ledger says",
  () => {
    let odoo: OdooServer;
    const dir = mkdtempSync(join(tmpdir(), "sfb-enip-e2e-"));

    beforeAll(async () => {
      odoo = await startOdoo({ db: `sfb_enip_e2e_${process.pid}` });
    });
    afterAll(async () => {
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Two confirmed orders of untracked products whose first work orders are at one work center: the machine runs both. */
    async function twoOrders(fixture: OdooFixture) {
      const workorders = (await fixture.admin.execute(
        "mrp.workorder",
        "search_read",
        [
          [
            ["production_id.state", "=", "confirmed"],
            // no lot or serial to ask for when scrapping, consuming or closing
            ["production_id.product_id.tracking", "=", "none"],
            ["production_id.move_raw_ids", "not any", [["product_id.tracking", "!=", "none"]]],
          ],
        ],
        { fields: ["id", "name", "production_id", "workcenter_id"], order: "id" },
      )) as Row[];
      const first = new Map<number, Row>();
      for (const wo of workorders) {
        const mo = (wo.production_id as [number, string])[0];
        if (!first.has(mo)) first.set(mo, wo);
      }
      const byWorkcenter = new Map<number, Row[]>();
      for (const wo of first.values()) {
        const wc = (wo.workcenter_id as [number, string])[0];
        byWorkcenter.set(wc, [...(byWorkcenter.get(wc) ?? []), wo]);
      }
      const pair = [...byWorkcenter.values()].find((wos) => wos.length >= 2);
      if (!pair) throw new Error("the demo data has no two confirmed orders starting at one work center");
      return pair.slice(0, 2).map((wo) => ({
        moId: (wo.production_id as [number, string])[0],
        name: (wo.production_id as [number, string])[1],
        woId: wo.id as number,
        operation: wo.name as string,
        workcenterId: (wo.workcenter_id as [number, string])[0],
      }));
    }

    async function runOrder(sim: Simulation, order: { name: string; operation: string }) {
      await sim.startOrder(MACHINE, order.name, order.operation);
      await sim.step();
      await sim.setState(MACHINE, "setup");
      await sim.step(3);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3, 1);
      await sim.setState(MACHINE, "down", "JAM");
      await sim.step(3);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3, 1);
      await sim.step();
      await sim.complete(MACHINE);
      await sim.step();
    }

    it("two orders, the controller killed and restarted between them: every part once, every time log as recorded", async () => {
      const fixture = await makeOdooFixture(odoo, { code: "e2e-enip", batchWaitMs: 100 });
      const a = fixture.admin;
      const orders = await twoOrders(fixture);
      const workcenterId = orders[0]?.workcenterId;
      const failureLoss = await mapMachine(fixture, `plant1/line1/${MACHINE.toLowerCase()}`, workcenterId as number);

      const line = new Line(LINE, [MACHINE]);
      const ledger = new Ledger("enip-shift", LINE, [MACHINE]);
      const sim = new Simulation(line, ledger, { stepMs: STEP_MS, pulseMs: 1_500 });
      const controller = new SimEnipPlc({ line });
      sim.outputs.push(controller);
      await sim.start();

      const client = fixture.client();
      const config = {
        ...(await client.sidecarConfig(fixture.code)),
        rules: lineRules({ line: LINE, machines: [MACHINE], protocol: "enip" }),
      };
      const spool = new SqliteSpool({ path: join(dir, "spool.db") });
      const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
      const delivery = new Delivery({ spool, odoo: client, batchSize: 50, batchWaitMs: 50 });
      const sink: SourceSink = {
        accept: async (items, state) => {
          const report = await pipeline.accept(items, state);
          delivery.notify();
          return report;
        },
        loadState: (prefix) => pipeline.loadState(prefix),
      };
      const plc: PlcConfig = {
        host: "127.0.0.1",
        port: controller.port,
        unit_id: 0,
        rack: 0,
        slot: 0,
        poll_interval_ms: POLL_MS,
        timeout_ms: 1_000,
      };
      const logs: string[] = [];
      const source = new PlcSource({
        connection: fixture.code,
        revision: config.revision,
        driver: await createPlcDriver("enip", plc),
        rules: config.rules,
        pollIntervalMs: POLL_MS,
        reconnect: { baseMs: 100, maxMs: 400 },
        log: (level, message) => logs.push(`${level}: ${message}`),
      });
      delivery.start();
      await source.start(sink);
      try {
        await expect.poll(() => source.connected, { timeout: 20_000 }).toBe(true);
        const [first, second] = orders;
        if (!first || !second) throw new Error("two orders expected");
        await runOrder(sim, first);

        // Order 1 is read to its end (idle, counters 6 and 2). The controller dies and comes back with
        // every tag at 0, "" or false: the counter rules see GoodCount 6 → 0 and ScrapCount 2 → 0, a
        // reset that counts nothing, and the State 0 that no value_map entry names. The ledger expects
        // no event from any of it: what it records next is order 2, counted from 0 as a new order is.
        await controller.settled();
        await sleep(5 * POLL_MS);
        const count = (stat: string) => source.stats()[stat] ?? 0;
        const [reconnects, readErrors] = [count("reconnects"), count("read_errors")];
        await sim.restartOutputs(1_500);
        await expect.poll(() => count("reconnects"), { timeout: 20_000 }).toBeGreaterThan(reconnects);
        await expect.poll(() => source.connected, { timeout: 20_000 }).toBe(true);
        expect(count("read_errors")).toBeGreaterThan(readErrors);

        await runOrder(sim, second);
        await controller.settled();
        await sleep(5 * POLL_MS);
        const expected = ledger.entries.filter((entry) => entry.expect);
        // Everything spooled reaches Odoo; then Odoo holds what the ledger expects (compared below, event by event).
        await expect.poll(async () => (await spool.stats()).queued, { timeout: 120_000, interval: 500 }).toBe(0);
        expect(await fixture.events(["type", "state", "error_message"], [["state", "!=", "applied"]])).toEqual([]);
        expect(controller.stats()).toMatchObject({ restarts: 1, writes_while_down: 0 });
        expect(ledger.serverRestarts).toBe(1);

        // Every event the ledger expects, once: same types in the same order, per order the same quantities.
        const applied = await fixture.events(["raw_payload"], [["connection_id", "=", fixture.connectionId]]);
        const shape = (type: string, data: Record<string, unknown>) =>
          `${type} ${String(data.order ?? "")} ${String(data.qty_good ?? data.qty ?? "")}`;
        // In time order. Odoo keeps no order between events of one poll: the work resumed there
        // comes after the setup's or downtime's end and before the parts made, as the ledger has it.
        const rank = (type: string) => (type.endsWith(".ended") ? 0 : type === "workorder.resumed" ? 1 : 2);
        const seen = applied
          .map((row) => JSON.parse(String(row.raw_payload)) as { type: string; time: string; data?: Row })
          .sort((x, y) => Date.parse(x.time) - Date.parse(y.time) || rank(x.type) - rank(y.type))
          .map((event) => shape(event.type, event.data ?? {}));
        expect(seen).toEqual(
          expected.map((entry) =>
            shape(entry.expect?.type ?? "", (entry.expect?.data ?? {}) as Record<string, unknown>),
          ),
        );

        for (const [order, expectedOrder] of orders.map((o, i) => [o, ledger.toJSON().expected.orders[i]] as const)) {
          expect(expectedOrder).toMatchObject({ started: true, completed: true, good: 6, scrap: 2 });
          const [wo] = (await a.execute("mrp.workorder", "read", [[order.woId]], {
            fields: ["state", "qty_produced", "shopfloor_qty_scrap"],
          })) as Row[];
          expect(wo).toMatchObject({ state: "done", qty_produced: 6, shopfloor_qty_scrap: 2 });
          const scraps = (await a.execute("stock.scrap", "search_read", [[["production_id", "=", order.moId]]], {
            fields: ["scrap_qty", "state"],
          })) as Row[];
          expect(scraps.reduce((total, scrap) => total + Number(scrap.scrap_qty), 0)).toBe(2);
        }
        // One downtime per order, opened and closed when the controller showed it (read at a poll, so within a poll and Odoo's second).
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
        const odooMs = (value: unknown) => Date.parse(`${String(value).replace(" ", "T")}Z`);
        expect(downtimes).toHaveLength(ledger.downtimes.length);
        ledger.downtimes.forEach((interval, i) => {
          for (const [odooValue, ledgerValue] of [
            [downtimes[i]?.date_start, interval.start],
            [downtimes[i]?.date_end, interval.end],
          ] as const) {
            const lag = odooMs(odooValue) - Date.parse(String(ledgerValue));
            expect(lag).toBeGreaterThan(-1_000);
            expect(lag).toBeLessThan(1_000 + 3 * POLL_MS);
          }
        });
        const open = (await a.execute("mrp.workcenter.productivity", "search_count", [
          [
            ["workcenter_id", "=", workcenterId],
            ["date_end", "=", false],
          ],
        ])) as number;
        expect(open).toBe(0);
      } catch (error) {
        console.info(`PlcSource log:\n${logs.join("\n")}`);
        throw error;
      } finally {
        await source.stop();
        await delivery.stop();
        await spool.close();
        await sim.stop();
      }
    });
  },
);
