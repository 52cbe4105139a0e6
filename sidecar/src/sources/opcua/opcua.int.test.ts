// The OPC UA source against the simulator's real node-opcua server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../devstack/odoo.ts";
import { Ledger } from "../../../simulator/ledger.ts";
import { Line, MACHINE_STATE, tagNodeId } from "../../../simulator/line.ts";
import { SimOpcuaServer } from "../../../simulator/opcua-server.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { Simulation, sleep } from "../../../simulator/simulation.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import { sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { MappingRule } from "../../core/contract.ts";
import { trustServerCertificate } from "./pki.ts";
import { OpcUaSource, type OpcUaSourceOptions } from "./source.ts";

const MACHINE = "Press03";
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-opcua-int-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rig(name: string, serverOpts: Partial<ConstructorParameters<typeof SimOpcuaServer>[0]> = {}) {
  const line = new Line("Line1", [MACHINE]);
  const ledger = new Ledger(name, "Line1", [MACHINE]);
  const server = new SimOpcuaServer({
    line,
    port: await freePort(),
    pkiDir: join(dir, `${name}-server-pki`),
    users: [{ username: "sidecar", password: "s3cret" }],
    ...serverOpts,
  });
  await server.start();
  const sim = new Simulation(line, ledger, { stepMs: 20, pulseMs: 400 });
  sim.outputs.push(server);
  return { line, ledger, server, sim };
}

function sourceOptions(endpoint: string, pkiDir: string, rules: MappingRule[]): OpcUaSourceOptions {
  return {
    connection: "line1-opcua",
    revision: 3,
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
    flushIntervalMs: 200,
    log: process.env.SFB_DEBUG ? (level, message) => console.log(new Date().toISOString(), level, message) : undefined,
  };
}

const rules = () => lineRules({ line: "Line1", machines: [MACHINE], protocol: "opcua" });

/**
 * Starts the source and waits for the first value of every item: a counter's
 * first value ever is its baseline, so parts made before it are not counted.
 */
async function startAndSettle(source: OpcUaSource, sink: MemorySink): Promise<void> {
  await source.start(sink);
  const items = new Set(
    rules().flatMap((r) => [r.address, ...Object.values(r.params).filter((v) => typeof v === "string")]),
  ).size;
  await expect.poll(() => source.stats().changes, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(items);
}

describe("OPC UA source against the simulator's server", () => {
  it("a short shift: counter deltas (incl. a reset), downtime with reason and times, trigger fields", async () => {
    const { server, sim, ledger } = await rig("shift");
    const sink = new MemorySink();
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "shift-client-pki"), rules()));
    try {
      await startAndSettle(source, sink);
      await sim.startOrder(MACHINE, "WH/MO/00001", "Pressing");
      await sim.setState(MACHINE, "setup");
      await sim.step(3);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 6, 1);
      await sim.setState(MACHINE, "down", "JAM");
      await sim.step(5);
      await sim.setState(MACHINE, "running");
      await sim.resetCounter(MACHINE);
      await sim.produce(MACHINE, 4, 1);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 15_000, "workorder.completed");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 10, 5_000, "10 good parts");

      const expected = ledger.orders.get("WH/MO/00001");
      expect(expected).toMatchObject({ good: 10, scrap: 2, started: true, completed: true });
      expect(sink.sum("production.reported", "qty_good")).toBe(10);
      expect(sink.sum("scrap.reported", "qty")).toBe(2);
      for (const e of sink.ofType("production.reported")) expect(e.data.order).toBe("WH/MO/00001");

      const [started] = sink.ofType("workorder.started");
      expect(started?.data).toEqual({ order: "WH/MO/00001", operation: "Pressing" });
      const [downStart] = sink.ofType("downtime.started");
      const [downEnd] = sink.ofType("downtime.ended");
      const [interval] = ledger.downtimes;
      expect(downStart?.data).toMatchObject({ reason_code: "JAM", order: "WH/MO/00001" });
      expect(downStart?.time).toBe(interval?.start);
      expect(downEnd?.time).toBe(interval?.end);
      expect(downEnd?.data.downtime_id).toBe(downStart?.data.downtime_id);
      expect(sink.ofType("setup.started")[0]?.time).toBe(ledger.setups[0]?.start);
      expect(sink.ofType("setup.ended")[0]?.time).toBe(ledger.setups[0]?.end);
      // The PLC's counter was reset mid-order: the completion reports the tag as the PLC has it.
      const [completed] = sink.ofType("workorder.completed");
      expect(completed?.data).toEqual({ order: "WH/MO/00001", operation: "Pressing", qty_good: 4, qty_scrap: 2 });
      expect(completed?.connection).toBe("line1-opcua");
      expect(completed?.mappingrev).toBe(3);
      expect(sink.duplicates).toBe(0);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("wraps at wrap_at", async () => {
    const { server, line } = await rig("wrap");
    const sink = new MemorySink();
    const wrapRules = lineRules({ line: "Line1", machines: [MACHINE], protocol: "opcua", wrapAt: 1000 });
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "wrap-client-pki"), wrapRules));
    try {
      line.set(MACHINE, "CurrentOrder", "MO-W");
      line.set(MACHINE, "GoodCount", 990);
      await source.start(sink);
      await sleep(300);
      line.set(MACHINE, "GoodCount", 998);
      await sleep(150);
      line.set(MACHINE, "GoodCount", 3);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 13, 10_000, "13 parts across the wrap");
      expect(sink.ofType("production.reported").map((e) => e.data.qty_good)).toEqual([8, 5]);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("a rule whose address is no node id is left out, said and counted; the other rules still read", async () => {
    const { server, line } = await rig("malformed");
    const sink = new MemorySink();
    const rules = lineRules({ line: "Line1", machines: [MACHINE], protocol: "opcua" });
    // An admin's typo: the tag path without its ns=2;s= prefix.
    const typo = { ...(rules[0] as MappingRule), address: "Line1/Press03/Scrap" };
    // And a node id the server does not have: it refuses that item alone.
    const unknown = { ...(rules[0] as MappingRule), address: "ns=2;s=Line1/Press03/Nowhere" };
    const logged: string[] = [];
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, join(dir, "malformed-client-pki"), [...rules, typo, unknown]),
      log: (_level, message) => logged.push(message),
    });
    try {
      line.set(MACHINE, "CurrentOrder", "MO-X");
      line.set(MACHINE, "GoodCount", 10);
      await source.start(sink);
      await sleep(300);
      line.set(MACHINE, "GoodCount", 14);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 4, 10_000, "4 parts");
      expect(source.stats().bad_items).toBe(2);
      // What Odoo's dashboard shows on the connection's tile.
      expect(source.warning).toBe(
        '2 addresses are not monitored (check the mapping rules): "Line1/Press03/Scrap" is not an OPC UA node id: ' +
          "write ns=<index>;s=<name> (e.g. ns=2;s=Line1/Press03/Good), ns=<index>;i=<number>, ns=<index>;g=<GUID>, " +
          "ns=<index>;b=<base64> or nsu=<namespace URI>;s=<name>; ns=2;s=Line1/Press03/Nowhere: BadNodeIdUnknown",
      );
      expect(logged.join("\n")).toContain(
        'cannot monitor: "Line1/Press03/Scrap" is not an OPC UA node id: write ns=<index>;s=<name>',
      );
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("server restart mid-shift: subscription re-created, parts made while it was down arrive once", async () => {
    const { server, sim, ledger } = await rig("restart");
    const sink = new MemorySink();
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "restart-client-pki"), rules()));
    try {
      await startAndSettle(source, sink);
      await sim.startOrder(MACHINE, "WH/MO/00002", "Pressing");
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 5);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 5, 10_000, "5 parts before restart");
      // Down for 1.5 s while the machine makes 7 more parts and goes down.
      await Promise.all([
        sim.restartOutputs(1_500),
        (async () => {
          await sim.produce(MACHINE, 7);
          await sim.setState(MACHINE, "down", "BREAKDOWN");
        })(),
      ]);
      await expect.poll(() => source.stats().sessions, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(2);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 20_000, "completion after restart");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 15, 5_000, "15 parts");
      expect(ledger.orders.get("WH/MO/00002")?.good).toBe(15);
      expect(sink.sum("production.reported", "qty_good")).toBe(15);
      expect(sink.ofType("downtime.started").map((e) => e.data.reason_code)).toEqual(["BREAKDOWN"]);
      expect(sink.ofType("downtime.ended")).toHaveLength(1);
      expect(sink.ofType("workorder.started")).toHaveLength(1);
      expect(source.stats().reconnects).toBeGreaterThanOrEqual(1);
      expect(ledger.serverRestarts).toBe(1);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("sidecar restart: state from the sink restores counters and open downtime: no loss, no double count", async () => {
    const { server, sim } = await rig("sidecar-restart");
    const pki = join(dir, "sidecar-restart-client-pki");
    const sink = new MemorySink();
    const first = new OpcUaSource(sourceOptions(server.endpoint, pki, rules()));
    await startAndSettle(first, sink);
    let second: OpcUaSource | undefined;
    try {
      await sim.startOrder(MACHINE, "WH/MO/00003", "Pressing");
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 4);
      await sim.setState(MACHINE, "down", "MATERIAL");
      await sink.waitFor(() => sink.ofType("downtime.started").length === 1, 10_000, "downtime start");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 4, 5_000, "4 parts");
      await first.stop();
      // While the sidecar is away: back up, 6 more parts.
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 6);
      // A new process: a sink that only has what was committed.
      const restarted = new MemorySink(sink.state);
      second = new OpcUaSource(sourceOptions(server.endpoint, pki, rules()));
      await second.start(restarted);
      await restarted.waitFor(() => restarted.sum("production.reported", "qty_good") === 6, 10_000, "6 parts");
      await restarted.waitFor(() => restarted.ofType("downtime.ended").length === 1, 5_000, "downtime end");
      await sleep(300);
      expect(restarted.sum("production.reported", "qty_good")).toBe(6);
      expect(restarted.ofType("downtime.started")).toHaveLength(0);
      expect(restarted.ofType("downtime.ended")[0]?.data).toMatchObject({
        reason_code: "MATERIAL",
        downtime_id: sink.ofType("downtime.started")[0]?.data.downtime_id,
      });
      expect(restarted.ofType("workorder.started")).toHaveLength(0);
    } finally {
      await second?.stop();
      await server.stop();
    }
  });

  it("SignAndEncrypt (Basic256Sha256) with a trusted server certificate and a user login works", async () => {
    const { server, line } = await rig("secure", { allowAnonymous: false });
    const pki = join(dir, "secure-client-pki");
    await trustServerCertificate(pki, server.certificateFile);
    const sink = new MemorySink();
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, pki, rules()),
      securityMode: "SignAndEncrypt",
      securityPolicy: "Basic256Sha256",
      auth: { type: "username", username: "sidecar", password: "s3cret" },
    });
    try {
      line.set(MACHINE, "CurrentOrder", "MO-S");
      await source.start(sink);
      line.set(MACHINE, "State", MACHINE_STATE.down);
      await sink.waitFor(
        () => sink.ofType("downtime.started").length === 1,
        10_000,
        "downtime over an encrypted channel",
      );
      expect(source.stats().sessions).toBe(1);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("an untrusted server certificate is refused with an error naming the PKI folder to trust it into", async () => {
    const { server } = await rig("untrusted");
    const pki = join(dir, "untrusted-client-pki");
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, pki, rules()),
      securityMode: "SignAndEncrypt",
      securityPolicy: "Basic256Sha256",
    });
    try {
      const err = await source.start(new MemorySink()).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.name).toBe("OpcUaTrustError");
      expect(err?.message).toContain(`${pki}/rejected/`);
      expect(err?.message).toContain(`move it to ${pki}/trusted/certs/`);
      expect(source.stats().sessions).toBe(0);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("X.509 user authentication with the sidecar's own certificate (created on first run) works", async () => {
    const { server, line } = await rig("x509", { allowAnonymous: false });
    const pki = join(dir, "x509-client-pki");
    await trustServerCertificate(pki, server.certificateFile);
    const sink = new MemorySink();
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, pki, rules()),
      securityMode: "Sign",
      securityPolicy: "Basic256Sha256",
      auth: {
        type: "certificate",
        certificateFile: join(pki, "own/certs/client_certificate.pem"),
        privateKeyFile: join(pki, "own/private/private_key.pem"),
      },
    });
    try {
      line.set(MACHINE, "CurrentOrder", "MO-X");
      await source.start(sink);
      line.set(MACHINE, "State", MACHINE_STATE.setup);
      await sink.waitFor(() => sink.ofType("setup.started").length === 1, 10_000, "setup over a signed channel");
      expect(sink.ofType("setup.started")[0]?.data).toEqual({ order: "MO-X" });
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("a server that is down at start does not block the sidecar: the source connects when it appears", async () => {
    const line = new Line("Line1", [MACHINE]);
    const server = new SimOpcuaServer({ line, port: await freePort(), pkiDir: join(dir, "late-server-pki") });
    const sink = new MemorySink();
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, join(dir, "late-client-pki"), rules()),
      startTimeoutMs: 500,
    });
    try {
      await source.start(sink);
      expect(source.stats().sessions).toBe(0);
      line.set(MACHINE, "CurrentOrder", "MO-L");
      await server.start();
      await expect.poll(() => source.stats().sessions, { timeout: 20_000, interval: 100 }).toBe(1);
      line.set(MACHINE, "State", MACHINE_STATE.down);
      await sink.waitFor(() => sink.ofType("downtime.started").length === 1, 10_000, "downtime once connected");
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("a wrong password is refused with a clear error", async () => {
    const { server } = await rig("badlogin", { allowAnonymous: false });
    const source = new OpcUaSource({
      ...sourceOptions(server.endpoint, join(dir, "badlogin-client-pki"), rules()),
      auth: { type: "username", username: "sidecar", password: "wrong" },
      startTimeoutMs: 1_000,
    });
    try {
      await expect(source.start(new MemorySink())).rejects.toThrow(/refused the username login/);
    } finally {
      await source.stop();
      await server.stop();
    }
  });

  it("a planning tag is writable; a PLC tag refuses the write (BadNotWritable)", async () => {
    const { server, line } = await rig("writes");
    const { OPCUAClient, AttributeIds, DataType } = await import("node-opcua");
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
    try {
      await client.connect(server.endpoint);
      const session = await client.createSession();
      const write = (nodeId: string, dataType: number, value: unknown) =>
        session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType, value } } });
      expect((await write("ns=2;s=[default]Shopfloor/Line1/Queue/0/Order", DataType.String, "WH/MO/7")).name).toBe(
        "Good",
      );
      expect((await write("ns=2;s=[default]Shopfloor/Line1/Queue/0/Qty", DataType.Double, 12)).name).toBe("Good");
      expect((await write(tagNodeId("Line1", MACHINE, "GoodCount"), DataType.UInt32, 1)).name).toBe("BadNotWritable");
      expect(line.planning.get("[default]Shopfloor/Line1/Queue/0/Order")).toBe("WH/MO/7");
      expect(line.planning.get("[default]Shopfloor/Line1/Queue/0/Qty")).toBe(12);
      await session.close();
    } finally {
      await client.disconnect();
      await server.stop();
    }
  });
});

describe("OPC UA source: the shared Source contract", () => {
  let contract: Awaited<ReturnType<typeof rig>> | undefined;
  let current: OpcUaSource | undefined;
  afterAll(async () => {
    await contract?.server.stop();
  });
  sourceContract(
    "OpcUaSource (simulator server)",
    async () => {
      contract ??= await rig("contract");
      current = new OpcUaSource(sourceOptions(contract.server.endpoint, join(dir, "contract-client-pki"), rules()));
      return current;
    },
    async (marker) => {
      const { line } = contract as Awaited<ReturnType<typeof rig>>;
      const source = current as OpcUaSource;
      const changes = source.stats().changes ?? 0;
      // The marker travels as the order of a workorder.completed (trigger rule).
      line.set(MACHINE, "Completed", false);
      line.set(MACHINE, "CurrentOrder", marker);
      line.set(MACHINE, "Completed", true);
      await expect.poll(() => source.stats().changes, { timeout: 5_000 }).toBeGreaterThanOrEqual(changes + 3);
    },
  );
});
