// A short simulated shift on one machine, whole chain: line simulator → its
// output (an OPC UA server, a Sparkplug B edge node, …) → sidecar (rules,
// spool, delivery) → real Odoo 18; afterwards Odoo's work order, time logs,
// downtime and scrap must match the simulator's ledger. Shared by the e2e
// tests that run such a shift through one protocol implementation or another.
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { MosquittoBroker } from "../../../sidecar/devstack/mosquitto.ts";
import type { OdooServer } from "../../../sidecar/devstack/odoo.ts";
import { Ledger, type LedgerFile } from "../../../sidecar/simulator/ledger.ts";
import { Line } from "../../../sidecar/simulator/line.ts";
import { type lineRules, ruleRecord } from "../../../sidecar/simulator/rules.ts";
import { SCENARIOS, type ScenarioParams } from "../../../sidecar/simulator/scenarios.ts";
import { type SimOutput, Simulation } from "../../../sidecar/simulator/simulation.ts";
import { Sidecar } from "../../../sidecar/src/main.ts";
import { createLogger } from "../../../sidecar/src/ops/log.ts";
import { makeOdooFixture, type OdooFixture } from "../../../sidecar/test/support/odoo/testing.ts";

type Row = Record<string, unknown>;
const ids = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : 0);
/** Odoo stores UTC datetimes to the second, without zone. */
const odooTime = (iso: string | null | undefined) => (iso ? iso.slice(0, 19).replace("T", " ") : false);

export interface ShiftOrder {
  moId: number;
  woId: number;
  operation: string;
  workcenterId: number;
}

export interface ShiftOptions {
  code: string;
  order: string;
  machine: string;
  connection: (mo: ShiftOrder) => Row;
  rules: ReturnType<typeof lineRules>;
  output: (line: Line) => SimOutput;
  /** A SCENARIOS name (default "normal-shift"), or a scenario of the test's own. */
  scenario?: string | ((sim: Simulation, params: ScenarioParams) => Promise<void>);
  downMs?: number;
  /** The output (server, edge node) crashes during the shift: quantities must match, not the event count. */
  crash?: boolean;
  /** Before the sidecar starts: its spool folder (the OPC UA PKI folder is `<spool>/pki`). */
  prepare?: (spoolDir: string) => Promise<void>;
}

export interface ShiftRun {
  fixture: OdooFixture;
  mo: ShiftOrder;
  ledger: LedgerFile;
  failureLoss: number;
}

/** The demo order `name` and its first work order (what a one-machine shift runs). */
export async function firstWorkorder(fixture: OdooFixture, name: string): Promise<ShiftOrder> {
  const [mo] = (await fixture.admin.execute("mrp.production", "search_read", [[["name", "=", name]]], {
    fields: ["id"],
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

/** The machine's source mapped to the work center and the floor's JAM to Equipment Failure, as an admin
 * enters them on the connection; returns that loss's id. */
export async function mapMachine(fixture: OdooFixture, source: string, workcenterId: number): Promise<number> {
  const a = fixture.admin;
  await a.execute("shopfloor.source.map", "create", [
    { connection_id: fixture.connectionId, source, workcenter_id: workcenterId },
  ]);
  const [failure] = (await a.execute(
    "mrp.workcenter.productivity.loss",
    "search",
    [[["name", "=", "Equipment Failure"]]],
    { limit: 1 },
  )) as number[];
  if (!failure) throw new Error("the database has no Equipment Failure loss");
  await a.execute("shopfloor.reason.map", "create", [
    { connection_id: fixture.connectionId, code: "JAM", loss_id: failure },
  ]);
  return failure;
}

/** The rig over the servers of a describe block (read when a shift runs) and its scratch folder. */
export function shiftRig(servers: () => { odoo: OdooServer; broker: MosquittoBroker }, dir: string) {
  /** Connection, source → workcenter, reason → loss and the line's tag rules, as an admin enters them. */
  async function configure(fixture: OdooFixture, values: Row, opts: ShiftOptions, workcenterId: number) {
    await fixture.admin.execute("shopfloor.connection", "write", [[fixture.connectionId], values]);
    const failure = await mapMachine(fixture, `plant1/line1/${opts.machine.toLowerCase()}`, workcenterId);
    for (const rule of opts.rules) {
      await fixture.admin.execute("shopfloor.mapping.rule", "create", [ruleRecord(rule, fixture.connectionId)]);
    }
    return failure;
  }

  /** Runs the shift; returns once every event it made is applied in Odoo and the work order is done. */
  async function runShift(opts: ShiftOptions): Promise<ShiftRun> {
    const { odoo, broker } = servers();
    const fixture = await makeOdooFixture(odoo, { code: opts.code, mqttUrl: broker.url, batchWaitMs: 100 });
    const mo = await firstWorkorder(fixture, opts.order);
    const failureLoss = await configure(fixture, opts.connection(mo), opts, mo.workcenterId);
    const line = new Line("Line1", [opts.machine]);
    const scenarioOpt = opts.scenario ?? "normal-shift";
    const name = typeof scenarioOpt === "string" ? scenarioOpt : `${opts.code}-scenario`;
    const ledger = new Ledger(name, "Line1", [opts.machine]);
    const sim = new Simulation(line, ledger, { stepMs: 60, pulseMs: 1_500 });
    sim.outputs.push(opts.output(line));
    await sim.start();
    const spoolDir = mkdtempSync(join(dir, `${opts.code}-spool-`));
    await opts.prepare?.(spoolDir);
    const sidecar = await Sidecar.start({
      boot: fixture.boot(spoolDir),
      log: createLogger(process.env.SFB_DEBUG ? "info" : "warn"),
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
        downMs: opts.downMs ?? 0,
      };
      const scenario = typeof scenarioOpt === "string" ? SCENARIOS[scenarioOpt] : scenarioOpt;
      if (!scenario) throw new Error(`no scenario ${String(scenarioOpt)}`);
      await scenario(sim, params);
      // One event per ledger entry while connected; parts counted while the output was away arrive
      // as one delta on reconnect, so after a crash the quantities must match, not the event count.
      const expectedEvents = opts.crash ? undefined : ledger.entries.filter((e) => e.expect).length;
      const progress = async () => {
        const [wo] = (await fixture.admin.execute("mrp.workorder", "read", [[mo.woId]], {
          fields: ["state"],
        })) as Row[];
        const states = (await fixture.events(["state"], [["connection_id", "=", fixture.connectionId]])) as Row[];
        const applied = states.filter((e) => e.state === "applied").length;
        return { workorder: wo?.state, applied, other: states.length - applied };
      };
      await expect
        .poll(progress, { timeout: 120_000, interval: 1_000 })
        .toEqual({ workorder: "done", applied: expectedEvents ?? expect.any(Number), other: 0 });
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

  /** Odoo's work order, time logs, downtime, setup and scrap against the ledger's expectations. */
  async function expectOdooMatchesLedger(r: ShiftRun) {
    const { fixture, mo, ledger, failureLoss } = r;
    const a = fixture.admin;
    const expected = ledger.expected;
    const order = expected.orders[0];
    expect(order).toMatchObject({ started: true, completed: true });

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
    const logsOf = async (lossDomain: unknown[]) =>
      (await a.execute(
        "mrp.workcenter.productivity",
        "search_read",
        [[["workcenter_id", "=", mo.workcenterId], lossDomain]],
        { fields: ["date_start", "date_end"], order: "date_start" },
      )) as Row[];
    const downtimeLogs = await logsOf(["loss_id", "=", failureLoss]);
    expect(downtimeLogs.map((l) => [l.date_start, l.date_end])).toEqual(
      expected.downtimes.map((d) => [odooTime(d.start), odooTime(d.end)]),
    );
    const setupLogs = await logsOf(["loss_id.name", "=", "Setup and Adjustments"]);
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

  return { runShift, expectOdooMatchesLedger };
}
