// PlcSource with the Modbus driver against pymodbus's server: what the
// rules derive from polled values, the deadband, faults of single tags, a
// PLC killed and started again and a sidecar restarted — counts neither lost
// nor doubled — and what stats() shows meanwhile.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ModbusPeer, startModbusPeer } from "../../../devstack/modbus-peer.ts";
import { freePort } from "../../../devstack/odoo.ts";
import { RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { CloudEvent, MappingRule, PlcConfig } from "../../core/contract.ts";
import { sourceErrorStats } from "../../main.ts";
import { ModbusDriver } from "./modbus/driver.ts";
import { PlcSource, type PlcSourceOptions } from "./source.ts";

const SOURCE = "plant1/line1/press-01";

function rule(
  id: number,
  kind: MappingRule["kind"],
  address: string,
  params: Record<string, unknown> = {},
): MappingRule {
  return {
    id,
    kind,
    protocol: "modbus",
    address,
    source: SOURCE,
    event_type: kind === "counter" ? "production.reported" : kind === "trigger" ? "workorder.completed" : "",
    params,
  };
}

const ORDER = "hr10:string8";
const RULES: MappingRule[] = [
  rule(1, "counter", "hr0:uint32:CDAB", { order_address: ORDER }),
  rule(2, "state", "hr20", { value_map: { "1": "running", "2": "down:JAM" }, order_address: ORDER }),
  rule(3, "trigger", "coil0", { fields: { order: ORDER, qty_good: "ir0:float32" } }),
];

const until = async (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const events = (sink: RecordingSink): CloudEvent[] =>
  sink.committed.flatMap((item) => (item.kind === "event" ? [item.event] : []));
const produced = (sink: RecordingSink): number =>
  events(sink)
    .filter((event) => event.type === "production.reported")
    .reduce((sum, event) => sum + Number(event.data.qty_good), 0);

describe("PlcSource over Modbus (pymodbus)", () => {
  let peer: ModbusPeer;
  let sources: PlcSource[];
  let logs: string[];

  const plc = (): PlcConfig => ({
    host: peer.host,
    port: peer.port,
    unit_id: 1,
    rack: 0,
    slot: 0,
    poll_interval_ms: 50,
    timeout_ms: 2_000,
  });
  const source = (rules: MappingRule[], extra: Partial<PlcSourceOptions> = {}): PlcSource => {
    const made = new PlcSource({
      connection: "line1",
      revision: 7,
      driver: new ModbusDriver(plc()),
      rules,
      pollIntervalMs: 50,
      reconnect: { baseMs: 100, maxMs: 300 },
      flushIntervalMs: 100,
      log: (level, message) => logs.push(`${level} ${message}`),
      ...extra,
    });
    sources.push(made);
    return made;
  };

  beforeEach(async () => {
    peer = await startModbusPeer({ size: 1000, holes: ["hr:500-509"], retentive: true });
    sources = [];
    logs = [];
  });
  afterEach(async () => {
    for (const s of sources) await s.stop();
    await peer.destroy();
  });

  it("turns polled counts, states and triggers into the rules' events, with the read time as source time", async () => {
    await peer.put("hr", 0, "uint32", "CDAB", "1000");
    await peer.put("hr", 10, "string8", "ABCD", "WH/MO/00042");
    await peer.setWords("hr", 20, [1]);
    const sink = new RecordingSink();
    const plcSource = source(RULES);
    await plcSource.start(sink);
    await until("the first poll", () => (plcSource.stats().polls ?? 0) > 0);
    expect(events(sink)).toEqual([]);

    const before = Date.now();
    await peer.put("hr", 0, "uint32", "CDAB", "1003");
    await until("3 parts", () => produced(sink) === 3);
    await peer.put("hr", 0, "uint32", "CDAB", "70000");
    await until("69000 more parts", () => produced(sink) === 69_000);
    await peer.setWords("hr", 20, [2]);
    await until("downtime", () => events(sink).some((event) => event.type === "downtime.started"));
    await peer.put("ir", 0, "float32", "ABCD", "12.5");
    await peer.setBits("coil", 0, [true]);
    await until("completion", () => events(sink).some((event) => event.type === "workorder.completed"));

    const all = events(sink);
    expect(all.map((event) => event.type)).toEqual([
      "production.reported",
      "production.reported",
      "downtime.started",
      "workorder.completed",
    ]);
    expect(all[0]).toMatchObject({ source: SOURCE, subject: "WH/MO/00042", connection: "line1", mappingrev: 7 });
    expect(all[0]?.data).toMatchObject({ order: "WH/MO/00042", qty_good: 3 });
    expect(all[2]?.data).toMatchObject({ reason_code: "JAM", order: "WH/MO/00042" });
    expect(all[3]?.data).toMatchObject({ order: "WH/MO/00042", qty_good: 12.5 });
    for (const event of all) {
      expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before - 5);
      expect(event.time).toBe(event.observedtime);
    }
    expect(plcSource.stats()).toMatchObject({ connected: 1, tags: 5, read_errors: 0, tag_errors: 0, events: 4 });
    expect(plcSource.connected).toBe(true);
    expect(plcSource.lastError).toBe("");
  });

  it("polls start to start at its interval, and observes only values that changed", async () => {
    await peer.setWords("hr", 0, [0, 5]);
    const sink = new RecordingSink();
    const plcSource = source([rule(1, "counter", "hr0:uint32")], { pollIntervalMs: 100 });
    await plcSource.start(sink);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const { polls, changes, overruns, poll_ms } = plcSource.stats();
    expect(polls).toBeGreaterThanOrEqual(8);
    expect(polls).toBeLessThanOrEqual(12);
    expect(changes).toBe(1);
    expect(overruns).toBe(0);
    expect(poll_ms).toBeLessThan(100);
  });

  it("hands the changes one poll sees together to the rules as counters, then triggers, then states", async () => {
    await peer.setWords("hr", 0, [5]);
    await peer.setWords("hr", 20, [1]);
    await peer.put("hr", 10, "string8", "ABCD", "WH/MO/00042");
    const sink = new RecordingSink();
    // Listed states first: the order of the rules must not decide.
    const plcSource = source(
      [
        rule(2, "state", "hr20", { value_map: { "1": "running", "4": "setup" }, order_address: ORDER }),
        rule(3, "trigger", "coil0", { fields: { order: ORDER } }),
        rule(1, "counter", "hr0", { order_address: ORDER }),
      ],
      { pollIntervalMs: 400 },
    );
    await plcSource.start(sink);
    const polls = plcSource.stats().polls ?? 0;
    await until("a poll to end", () => (plcSource.stats().polls ?? 0) > polls);
    await Promise.all([peer.setWords("hr", 20, [4]), peer.setBits("coil", 0, [true]), peer.setWords("hr", 0, [7])]);
    await until("three events", () => events(sink).length === 3);
    const seen = events(sink);
    expect(seen.map((event) => event.type)).toEqual(["production.reported", "workorder.completed", "setup.started"]);
    expect(new Set(seen.map((event) => event.time)).size).toBe(1);
  });

  it("keeps a numeric move below the rule's deadband (after scale) from being observed", async () => {
    await peer.put("hr", 0, "int32", "ABCD", "100");
    const sink = new RecordingSink();
    // Tenths of a part, counted in parts: deadband 5 parts = 50 raw.
    const plcSource = source([rule(1, "counter", "hr0:int32", { scale: 0.1, deadband: 5 })]);
    await plcSource.start(sink);
    await until("the baseline", () => plcSource.stats().changes === 1);
    for (const raw of [120, 140, 149]) {
      await peer.put("hr", 0, "int32", "ABCD", String(raw));
      const polls = plcSource.stats().polls;
      await until("a poll", () => (plcSource.stats().polls ?? 0) > (polls ?? 0) + 1);
    }
    expect(plcSource.stats().changes).toBe(1);
    expect(events(sink)).toEqual([]);
    await peer.put("hr", 0, "int32", "ABCD", "150");
    await until("5 parts", () => produced(sink) === 5);
    expect(plcSource.stats().changes).toBe(2);
  });

  it("skips an address that does not parse and one the PLC refuses, saying so once with the rule, while the rest flows", async () => {
    await peer.setWords("hr", 0, [10]);
    const sink = new RecordingSink();
    const plcSource = source([
      rule(1, "counter", "hr0"),
      rule(8, "counter", "hr-1"),
      rule(9, "state", "hr505", { value_map: { "1": "running" } }),
    ]);
    await plcSource.start(sink);
    await until("polls", () => (plcSource.stats().polls ?? 0) > 5);
    await peer.setWords("hr", 0, [14]);
    await until("4 parts", () => produced(sink) === 4);
    const stats = plcSource.stats();
    expect(stats).toMatchObject({ tags: 2, bad_addresses: 1, connected: 1 });
    expect(stats.tag_errors).toBeGreaterThanOrEqual(5);
    expect(logs.filter((line) => line.includes('address "hr-1" of rule 8 (counter'))).toHaveLength(1);
    const refused = logs.filter((line) => line.includes("address hr505 of rule 9 (state"));
    expect(refused).toEqual([
      `error modbus: address hr505 of rule 9 (state ${SOURCE}): Modbus exception 2 (illegal data address); the other tags are still read`,
    ]);
  });

  it("counts parts made while the PLC was down once, and shows the dead PLC meanwhile", async () => {
    await peer.setWords("hr", 0, [0, 100]);
    const sink = new RecordingSink();
    const plcSource = source([rule(1, "counter", "hr0:uint32")]);
    await plcSource.start(sink);
    await until("the baseline", () => plcSource.stats().changes === 1);
    await peer.setWords("hr", 0, [0, 110]);
    await until("10 parts", () => produced(sink) === 10);

    await peer.kill();
    await until("the loss", () => !plcSource.connected);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(plcSource.stats()).toMatchObject({ connected: 0 });
    expect(plcSource.lastError).toMatch(/^(read failed|cannot connect): Modbus 127\.0\.0\.1:\d+ unit 1: /);
    const failures = plcSource.stats().connect_failures;
    expect(failures).toBeGreaterThanOrEqual(2);
    // Said when it changes, not at every attempt.
    expect(logs.filter((line) => line.includes("retrying with backoff")).length).toBeLessThanOrEqual(3);

    // The PLC counted on while the sidecar could not read it (retentive memory, restored on start).
    await peer.start();
    await peer.setWords("hr", 0, [0, 125]);
    await until("the 15 parts counted meanwhile", () => produced(sink) === 25);
    await until("reconnected", () => plcSource.connected);
    expect(plcSource.stats()).toMatchObject({ connected: 1 });
    // One reconnect; a loaded machine may time a slow answer out once more.
    expect(plcSource.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(plcSource.lastError).toBe("");
    expect(logs.some((line) => line.startsWith("info modbus:line1: reading again"))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(produced(sink)).toBe(25);
  });

  it("shows a PLC that never answered on the heartbeat and health, and starts anyway", async () => {
    const closed: PlcConfig = { ...plc(), port: await freePort() };
    const plcSource = source([rule(1, "counter", "hr0")], { driver: new ModbusDriver(closed) });
    const started = Date.now();
    await plcSource.start(new RecordingSink());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(plcSource.connected).toBe(false);
    expect(plcSource.stats()).toMatchObject({ connected: 0, polls: 0 });
    expect(sourceErrorStats(plcSource)).toEqual({
      source_error: `cannot connect: Modbus 127.0.0.1:${closed.port} unit 1: connect ECONNREFUSED 127.0.0.1:${closed.port}`,
    });
    await until("a few more attempts", () => (plcSource.stats().connect_failures ?? 0) >= 3);
    expect(logs.filter((line) => line.includes("cannot connect"))).toHaveLength(1);
  });

  it("neither loses nor doubles counts across a restart of the sidecar", async () => {
    await peer.setWords("hr", 0, [0, 500]);
    const sink = new RecordingSink();
    const first = source([rule(1, "counter", "hr0:uint32")]);
    await first.start(sink);
    await until("the baseline", () => first.stats().changes === 1);
    await peer.setWords("hr", 0, [0, 507]);
    await until("7 parts", () => produced(sink) === 7);
    await first.stop();

    await peer.setWords("hr", 0, [0, 520]);
    const second = source([rule(1, "counter", "hr0:uint32")]);
    await second.start(sink);
    await until("13 parts counted while it was down", () => produced(sink) === 20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(produced(sink)).toBe(20);
    const ids = events(sink).map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("PlcSource: the shared Source contract", () => {
  let peer: ModbusPeer | undefined;
  let current: PlcSource | undefined;
  afterAll(async () => {
    await peer?.destroy();
  });
  /** Waits until the source saw `count` more changes (counted before their commit, so a blocked sink does not stop it). */
  const seen = async (source: PlcSource, count: number, from: number) => {
    await until(`${count} changes`, () => (source.stats().changes ?? 0) >= from + count);
  };
  let high = false;
  sourceContract(
    "PlcSource with the Modbus driver (pymodbus)",
    async () => {
      peer ??= await startModbusPeer({ size: 200 });
      // Each source starts from a PLC with the trigger low.
      await peer.setBits("coil", 50, [false]);
      high = false;
      const plc: PlcConfig = {
        host: peer.host,
        port: peer.port,
        unit_id: 1,
        rack: 0,
        slot: 0,
        poll_interval_ms: 20,
        timeout_ms: 500,
      };
      current = new PlcSource({
        connection: "contract",
        revision: 1,
        driver: new ModbusDriver(plc),
        rules: [rule(1, "trigger", "coil50", { fields: { order: "hr60:string16" } })],
        pollIntervalMs: 20,
      });
      return current;
    },
    async (marker) => {
      const modbus = peer as ModbusPeer;
      const source = current as PlcSource;
      // The marker travels as the order of a workorder.completed: the trigger falls, the order is set, it rises.
      if (high) {
        const before = source.stats().changes ?? 0;
        await modbus.setBits("coil", 50, [false]);
        await seen(source, 1, before);
      }
      const before = source.stats().changes ?? 0;
      await modbus.put("hr", 60, "string16", "ABCD", marker);
      await modbus.setBits("coil", 50, [true]);
      high = true;
      await seen(source, 2, before);
    },
  );
});
