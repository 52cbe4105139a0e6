// A short simulated shift through each industrial protocol, whole chain:
// line simulator (Ignition-like OPC UA server / Sparkplug B edge node) →
// sidecar (rules, spool, delivery) → real Odoo 18. Afterwards Odoo's work
// order, time logs, downtime and scrap must match the simulator's ledger.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { Ledger, type LedgerFile } from "../../sidecar/simulator/ledger.ts";
import { Line } from "../../sidecar/simulator/line.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import { lineRules, ruleRecord } from "../../sidecar/simulator/rules.ts";
import { SCENARIOS, type ScenarioParams } from "../../sidecar/simulator/scenarios.ts";
import { type SimOutput, Simulation } from "../../sidecar/simulator/simulation.ts";
import { SimSparkplugEdge } from "../../sidecar/simulator/sparkplug-edge.ts";
import { Sidecar } from "../../sidecar/src/main.ts";
import { createLogger } from "../../sidecar/src/ops/log.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";

type Row = Record<string, unknown>;
const ids = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : 0);
/** Odoo stores UTC datetimes to the second, without zone. */
const odooTime = (iso: string | null | undefined) => (iso ? iso.slice(0, 19).replace("T", " ") : false);

describe.runIf(moduleHasSidecarApi())(
  "a simulated shift via OPC UA and via Sparkplug ends in Odoo as the ledger says",
  () => {
    let odoo: OdooServer;
    let broker: MosquittoBroker;
    const dir = mkdtempSync(join(tmpdir(), "sfb-protocols-e2e-"));

    beforeAll(async () => {
      [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_protocols_e2e_${process.pid}` }), startMosquitto()]);
    });
    afterAll(async () => {
      await broker?.destroy();
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    async function production(fixture: OdooFixture, name: string) {
      const [mo] = (await fixture.admin.execute("mrp.production", "search_read", [[["name", "=", name]]], {
        fields: ["id", "product_id", "workorder_ids"],
      })) as Row[];
      const [wo] = (await fixture.admin.execute("mrp.workorder", "search_read", [[["production_id", "=", mo?.id]]], {
        fields: ["id", "name", "workcenter_id"],
        order: "id",
        limit: 1,
      })) as Row[];
      if (!mo || !wo) throw new Error(`demo data has no ${name} with a work order`);
      return {
        moId: mo.id as number,
        woId: wo.id as number,
        operation: wo.name as string,
        workcenterId: ids(wo.workcenter_id),
      };
    }

    /** Connection, source → workcenter, reason → loss and the line's tag rules, as an admin enters them. */
    async function configure(
      fixture: OdooFixture,
      values: Row,
      machine: string,
      workcenterId: number,
      rules: ReturnType<typeof lineRules>,
    ) {
      const a = fixture.admin;
      await a.execute("shopfloor.connection", "write", [[fixture.connectionId], values]);
      await a.execute("shopfloor.source.map", "create", [
        {
          connection_id: fixture.connectionId,
          source: `plant1/line1/${machine.toLowerCase()}`,
          workcenter_id: workcenterId,
        },
      ]);
      const [failure] = (await a.execute(
        "mrp.workcenter.productivity.loss",
        "search",
        [[["name", "=", "Equipment Failure"]]],
        {
          limit: 1,
        },
      )) as number[];
      await a.execute("shopfloor.reason.map", "create", [
        { connection_id: fixture.connectionId, code: "JAM", loss_id: failure },
      ]);
      for (const rule of rules) {
        await a.execute("shopfloor.mapping.rule", "create", [ruleRecord(rule, fixture.connectionId)]);
      }
      return failure as number;
    }

    async function runShift(opts: {
      code: string;
      order: string;
      machine: string;
      connection: (mo: Awaited<ReturnType<typeof production>>) => Row;
      rules: ReturnType<typeof lineRules>;
      output: (line: Line) => SimOutput;
    }) {
      const fixture = await makeOdooFixture(odoo, { code: opts.code, mqttUrl: broker.url, batchWaitMs: 100 });
      const mo = await production(fixture, opts.order);
      const failureLoss = await configure(fixture, opts.connection(mo), opts.machine, mo.workcenterId, opts.rules);
      const line = new Line("Line1", [opts.machine]);
      const ledger = new Ledger("normal-shift", "Line1", [opts.machine]);
      const sim = new Simulation(line, ledger, { stepMs: 60, pulseMs: 1_500 });
      sim.outputs.push(opts.output(line));
      await sim.start();
      const spoolDir = mkdtempSync(join(dir, `${opts.code}-spool-`));
      const sidecar = await Sidecar.start({
        boot: fixture.boot(spoolDir),
        log: createLogger("warn"),
        heartbeatMs: 5_000,
      });
      try {
        const params: ScenarioParams = {
          orders: [opts.order],
          operation: mo.operation,
          parts: 6,
          scrap: 2,
          holdSteps: 20,
          driftMs: 0,
          downMs: 0,
        };
        await SCENARIOS["normal-shift"]?.(sim, params);
        const expectedEvents = ledger.entries.filter((e) => e.expect).length;
        // Every derived event applied in Odoo, none failed or left pending.
        await expect
          .poll(
            async () =>
              fixture.countEvents([
                ["connection_id", "=", fixture.connectionId],
                ["state", "=", "applied"],
              ]),
            {
              timeout: 120_000,
              interval: 1_000,
            },
          )
          .toBe(expectedEvents);
        const notApplied = await fixture.events(["type", "state", "error_message"], [["state", "!=", "applied"]]);
        expect(notApplied).toEqual([]);
        // Compared from the ledger file, as any external check would read it.
        const ledgerPath = join(dir, `${opts.code}-ledger.json`);
        ledger.write(ledgerPath);
        const written = JSON.parse(readFileSync(ledgerPath, "utf8")) as LedgerFile;
        return { fixture, mo, ledger: written, failureLoss };
      } finally {
        await sidecar.stop();
        await sim.stop();
      }
    }

    async function expectOdooMatchesLedger(r: Awaited<ReturnType<typeof runShift>>) {
      const { fixture, mo, ledger, failureLoss } = r;
      const a = fixture.admin;
      const expected = ledger.expected;
      const order = expected.orders[0];
      expect(order).toMatchObject({ started: true, completed: true, good: 6, scrap: 2 });

      const [wo] = (await a.execute("mrp.workorder", "read", [[mo.woId]], {
        fields: ["state", "qty_produced", "shopfloor_qty_scrap"],
      })) as Row[];
      expect(wo?.state).toBe("done");
      expect(wo?.qty_produced).toBe(order?.good);
      expect(wo?.shopfloor_qty_scrap).toBe(order?.scrap);

      const logs = (await a.execute("mrp.workcenter.productivity", "search_read", [[["workorder_id", "=", mo.woId]]], {
        fields: ["loss_id", "loss_type", "date_start", "date_end"],
        order: "date_start",
      })) as Row[];
      const downtimeLogs = (await a.execute(
        "mrp.workcenter.productivity",
        "search_read",
        [
          [
            ["workcenter_id", "=", mo.workcenterId],
            ["loss_id", "=", failureLoss],
          ],
        ],
        { fields: ["date_start", "date_end"], order: "date_start" },
      )) as Row[];
      expect(downtimeLogs.map((l) => [l.date_start, l.date_end])).toEqual(
        expected.downtimes.map((d) => [odooTime(d.start), odooTime(d.end)]),
      );
      const setupLogs = (await a.execute(
        "mrp.workcenter.productivity",
        "search_read",
        [
          [
            ["workcenter_id", "=", mo.workcenterId],
            ["loss_id.name", "=", "Setup and Adjustments"],
          ],
        ],
        { fields: ["date_start", "date_end"] },
      )) as Row[];
      expect(setupLogs.map((l) => [l.date_start, l.date_end])).toEqual(
        expected.setups.map((s) => [odooTime(s.start), odooTime(s.end)]),
      );
      expect(logs.some((l) => l.loss_type === "productive")).toBe(true);
      // No log is left open once the order completed.
      expect(logs.filter((l) => !l.date_end)).toEqual([]);

      const scraps = (await a.execute("stock.scrap", "search_read", [[["production_id", "=", mo.moId]]], {
        fields: ["scrap_qty", "state"],
      })) as Row[];
      expect(scraps.reduce((t, s) => t + Number(s.scrap_qty), 0)).toBe(order?.scrap);
      expect(scraps.every((s) => s.state === "done")).toBe(true);
    }

    it("via OPC UA (simulator server, None security)", async () => {
      const machine = "Press03";
      const port = await freePort();
      let server: SimOpcuaServer | undefined;
      const r = await runShift({
        code: "e2e-opcua",
        order: "WH/MO/00007",
        machine,
        connection: () => ({
          kind: "opcua",
          opcua_endpoint: `opc.tcp://127.0.0.1:${port}/UA/SimLine`,
          opcua_security_mode: "None",
          opcua_security_policy: "None",
          opcua_auth: "anonymous",
          opcua_publishing_interval_ms: 200,
          opcua_sampling_interval_ms: 0,
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "opcua" }),
        output: (line) => {
          server = new SimOpcuaServer({ line, port, pkiDir: join(dir, "opcua-server-pki") });
          return server;
        },
      });
      await expectOdooMatchesLedger(r);
    });

    it("via Sparkplug B (simulator edge node on Mosquitto)", async () => {
      const machine = "Press05";
      const group = "PlantE2E";
      const r = await runShift({
        code: "e2e-spb",
        order: "WH/MO/00009",
        machine,
        connection: () => ({
          kind: "sparkplug",
          mqtt_url: broker.url,
          sparkplug_group_id: group,
          sparkplug_host_id: "sfb-e2e-host",
          client_id: "sfb-e2e-spb",
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "sparkplug", group, edge: "Line1" }),
        output: (line) => new SimSparkplugEdge({ url: broker.url, line, group, edge: "Line1" }),
      });
      await expectOdooMatchesLedger(r);
    });
  },
);
