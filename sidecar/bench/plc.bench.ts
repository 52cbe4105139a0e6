// Tags a polled PLC source reads per second, per driver, against an
// independent server (Modbus: pymodbus; S7: python-snap7; EtherNet/IP: cpppo), with the connection's rules turning
// the values into events. At the production setting (1 s interval) the
// figure is held to 5,000 tags/s per sidecar with under half a core; flat out
// (10 ms interval) shows the headroom and whether the server is the limit.
// CPU is read from /proc for this process (the sidecar side: source, driver,
// rules) and for the server's process.
//
// Another driver is one entry of TARGETS: a server to start with `count`
// tags, their addresses, and a way to move some of their values.

import { CpppoLogix } from "../devstack/cpppo-peer.ts";
import { startModbusPeer } from "../devstack/modbus-peer.ts";
import { clockTicks, readStat } from "../devstack/proc-cpu.ts";
import { S7PeerServer } from "../devstack/s7-peer.ts";
import type { MappingRule, PlcConfig, PlcKind } from "../src/core/contract.ts";
import { createPlcDriver } from "../src/sources/plc/drivers.ts";
import { parseS7Address } from "../src/sources/plc/s7/address.ts";
import { PlcSource } from "../src/sources/plc/source.ts";
import { type BenchContext, type Benchmark, CountingSink, type Figure, median } from "./harness.ts";

/** One PLC holding the bench's tags. */
interface BenchPlc {
  plc: PlcConfig;
  /** Tag addresses: integers that count up (counters) and bools (triggers). */
  tags: { address: string; kind: "count" | "bit" }[];
  serverPid: number | undefined;
  /** The PLC program moves these tags (counts up by one, bits flip). */
  move(indexes: number[]): Promise<void>;
  stop(): Promise<void>;
}

interface PlcBenchTarget {
  kind: PlcKind;
  /** What serves the tags, for the figures' text. */
  server: string;
  start(count: number): Promise<BenchPlc>;
}

/** Modbus: a quarter each of uint16 holding registers, uint32 CDAB holding registers, int32 input registers, coils. */
const modbusTarget: PlcBenchTarget = {
  kind: "modbus",
  server: "pymodbus",
  async start(count) {
    const quarter = Math.ceil(count / 4);
    const peer = await startModbusPeer({ size: Math.max(4 * quarter + 16, 1_000) });
    const tags: BenchPlc["tags"] = [];
    const where: { area: "hr" | "ir" | "coil"; offset: number; type: string; order: string }[] = [];
    for (let i = 0; i < count; i++) {
      const slot = Math.floor(i / 4);
      const group = i % 4;
      const spot =
        group === 0
          ? { area: "hr" as const, offset: slot, type: "uint16", order: "ABCD" }
          : group === 1
            ? { area: "hr" as const, offset: quarter + 2 * slot, type: "uint32", order: "CDAB" }
            : group === 2
              ? { area: "ir" as const, offset: 2 * slot, type: "int32", order: "ABCD" }
              : { area: "coil" as const, offset: slot, type: "bool", order: "" };
      where.push(spot);
      tags.push(
        spot.area === "coil"
          ? { address: `coil${spot.offset}`, kind: "bit" }
          : { address: `${spot.area}${spot.offset}:${spot.type}:${spot.order}`, kind: "count" },
      );
    }
    const values = new Map<number, number>();
    return {
      plc: {
        host: peer.host,
        port: peer.port,
        unit_id: 1,
        rack: 0,
        slot: 0,
        poll_interval_ms: 1_000,
        timeout_ms: 3_000,
      },
      tags,
      serverPid: peer.pid,
      async move(indexes) {
        for (const index of indexes) {
          const spot = where[index];
          if (!spot) continue;
          const next = (values.get(index) ?? 0) + 1;
          values.set(index, next);
          if (spot.area === "coil") await peer.setBits("coil", spot.offset, [next % 2 === 1]);
          else await peer.put(spot.area, spot.offset, spot.type, spot.order, String(next));
        }
      },
      stop: () => peer.destroy(),
    };
  },
};

/** S7: one standard-access DB, a quarter each of INT, UDINT, DINT and BOOL bits, packed as a DB declares them. */
const s7Target: PlcBenchTarget = {
  kind: "s7",
  server: "python-snap7",
  async start(count) {
    const quarter = Math.ceil(count / 4);
    // INTs, then UDINTs, then DINTs, then bytes of eight bits each.
    const udints = 2 * quarter;
    const dints = udints + 4 * quarter;
    const bits = dints + 4 * quarter;
    const size = bits + Math.ceil(quarter / 8) + 16;
    const server = new S7PeerServer([{ area: "DB", index: 1, size }]);
    await server.start();
    const tags: BenchPlc["tags"] = [];
    for (let i = 0; i < count; i++) {
      const slot = Math.floor(i / 4);
      const group = i % 4;
      tags.push(
        group === 0
          ? { address: `DB1,INT${2 * slot}`, kind: "count" }
          : group === 1
            ? { address: `DB1,UDINT${udints + 4 * slot}`, kind: "count" }
            : group === 2
              ? { address: `DB1,DINT${dints + 4 * slot}`, kind: "count" }
              : { address: `DB1,X${bits + Math.floor(slot / 8)}.${slot % 8}`, kind: "bit" },
      );
    }
    const values = new Map<number, number>();
    return {
      plc: {
        host: "127.0.0.1",
        port: server.port,
        unit_id: 0,
        rack: 0,
        slot: 1,
        poll_interval_ms: 1_000,
        timeout_ms: 3_000,
      },
      tags,
      serverPid: server.pid,
      async move(indexes) {
        for (const index of indexes) {
          const tag = tags[index];
          if (!tag) continue;
          const next = (values.get(index) ?? 0) + 1;
          values.set(index, next);
          await server.put(parseS7Address(tag.address), tag.kind === "bit" ? next % 2 === 1 : next);
        }
      },
      stop: () => server.stop(),
    };
  },
};

/** EtherNet/IP: a Logix controller (cpppo) with half DINT array elements (counters), half BOOL array elements (triggers). */
const enipTarget: PlcBenchTarget = {
  kind: "enip",
  server: "cpppo",
  async start(count) {
    const half = Math.ceil(count / 2);
    const peer = await CpppoLogix.start({ Counts: `DINT[${half}]`, Flags: `BOOL[${half}]` });
    const tags: BenchPlc["tags"] = Array.from({ length: count }, (_, i) =>
      i % 2 === 0
        ? { address: `Counts[${i / 2}]`, kind: "count" as const }
        : { address: `Flags[${(i - 1) / 2}]`, kind: "bit" as const },
    );
    const values = new Map<number, number>();
    return {
      plc: {
        host: "127.0.0.1",
        port: peer.port,
        unit_id: 0,
        rack: 0,
        slot: 0,
        poll_interval_ms: 1_000,
        timeout_ms: 3_000,
      },
      tags,
      serverPid: peer.pid,
      async move(indexes) {
        for (const index of indexes) {
          const next = (values.get(index) ?? 0) + 1;
          values.set(index, next);
          const slot = Math.floor(index / 2);
          if (index % 2 === 0) await peer.set("Counts", String(next), slot);
          else await peer.set("Flags", String(next % 2 === 1), slot);
        }
      },
      stop: () => peer.stop(),
    };
  },
};

const TARGETS: PlcBenchTarget[] = [modbusTarget, s7Target, enipTarget];

const TARGET_TAGS_PER_S = 5_000;
const TARGET_CPU_PERCENT = 50;
const TICKS_PER_S = clockTicks();

function rulesFor(kind: PlcKind, tags: BenchPlc["tags"]): MappingRule[] {
  return tags.map((tag, index) => ({
    id: index + 1,
    kind: tag.kind === "count" ? "counter" : "trigger",
    protocol: kind,
    address: tag.address,
    source: `bench/plc/${kind}`,
    event_type: tag.kind === "count" ? "production.reported" : "quality.result",
    params: tag.kind === "count" ? {} : { static: { characteristic: "bench", pass: true } },
  }));
}

/** CPU ticks (user + system) of a process so far, 0 when it is gone. */
function ticksOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readStat(pid);
  return stat ? stat.utime + stat.stime : 0;
}

interface Run {
  tagsPerS: number;
  sidecarCpu: number;
  serverCpu: number;
  pollMs: number;
  overruns: number;
  events: number;
  errors: number;
}

/** Polls `plc`'s tags every `intervalMs` for `seconds`, moving a tenth of them every second. */
async function run(target: PlcBenchTarget, plc: BenchPlc, intervalMs: number, seconds: number): Promise<Run> {
  const config = { ...plc.plc, poll_interval_ms: intervalMs };
  const source = new PlcSource({
    connection: `bench-${target.kind}`,
    revision: 1,
    driver: await createPlcDriver(target.kind, config),
    rules: rulesFor(target.kind, plc.tags),
    pollIntervalMs: intervalMs,
  });
  const sink = new CountingSink();
  await source.start(sink);
  const durations: number[] = [];
  try {
    // Warm-up: connected and the first (baseline) read done.
    const ready = Date.now() + 30_000;
    while ((source.stats().polls ?? 0) < 2) {
      if (Date.now() > ready) throw new Error(`${target.kind}: no poll within 30 s: ${source.lastError}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The window runs from the end of one poll to the end of a later one, so it holds whole intervals.
    const pollEnded = async (after: number): Promise<number> => {
      while ((source.stats().polls ?? 0) <= after) await new Promise((resolve) => setTimeout(resolve, 1));
      return source.stats().polls ?? 0;
    };
    const polls0 = await pollEnded(source.stats().polls ?? 0);
    const overruns0 = source.stats().overruns ?? 0;
    const sidecar0 = ticksOf(process.pid);
    const server0 = ticksOf(plc.serverPid);
    const started = performance.now();
    const tenth = Math.max(1, Math.floor(plc.tags.length / 10));
    for (let second = 0; second < seconds; second++) {
      const from = (second * tenth) % plc.tags.length;
      const moving = Array.from({ length: tenth }, (_, i) => (from + i) % plc.tags.length);
      const tick = performance.now();
      await plc.move(moving);
      const left = 1_000 - (performance.now() - tick);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      durations.push(source.stats().poll_ms ?? 0);
    }
    const polls = (await pollEnded(source.stats().polls ?? 0)) - polls0;
    const elapsedS = (performance.now() - started) / 1000;
    const stats = source.stats();
    return {
      tagsPerS: (polls * plc.tags.length) / elapsedS,
      sidecarCpu: ((ticksOf(process.pid) - sidecar0) / TICKS_PER_S / elapsedS) * 100,
      serverCpu: ((ticksOf(plc.serverPid) - server0) / TICKS_PER_S / elapsedS) * 100,
      pollMs: median(durations),
      overruns: (stats.overruns ?? 0) - overruns0,
      events: sink.events,
      errors: (stats.read_errors ?? 0) + (stats.tag_errors ?? 0) + (stats.bad_addresses ?? 0),
    };
  } finally {
    await source.stop();
  }
}

const bench: Benchmark = {
  name: "plc",
  issue: 19,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const count = Math.round(TARGET_TAGS_PER_S * ctx.scale);
    const seconds = Math.max(5, Math.round(15 * ctx.scale));
    const figures: Figure[] = [];
    for (const target of TARGETS) {
      const plc = await target.start(count);
      try {
        const paced = await run(target, plc, 1_000, seconds);
        ctx.log(
          `${target.kind} at 1 s: ${paced.tagsPerS.toFixed(0)} tags/s, poll ${paced.pollMs} ms, sidecar CPU ${paced.sidecarCpu.toFixed(1)}%, ${target.server} CPU ${paced.serverCpu.toFixed(1)}%, ${paced.events} events, ${paced.errors} errors`,
        );
        const flat = await run(target, plc, 10, seconds);
        ctx.log(
          `${target.kind} flat out: ${flat.tagsPerS.toFixed(0)} tags/s, poll ${flat.pollMs} ms, sidecar CPU ${flat.sidecarCpu.toFixed(1)}%, ${target.server} CPU ${flat.serverCpu.toFixed(1)}%`,
        );
        if (paced.errors + flat.errors > 0)
          throw new Error(`${target.kind}: ${paced.errors + flat.errors} read errors`);
        const what = `${count.toLocaleString("en")} tags, ${target.server} server`;
        figures.push(
          {
            figure: `${target.kind} tags polled/s at 1 s interval (${what})`,
            value: Math.round(paced.tagsPerS),
            unit: "tags/s",
            // At a 1 s schedule the rate is 5,000 by construction when every poll
            // keeps up: what decides is that no poll overran its interval. The
            // rate itself may miss 5,000 by the window's timer jitter (a few ms
            // over 15 s), hence 1 %.
            target: {
              text: `≥ ${TARGET_TAGS_PER_S.toLocaleString("en")} tags/s: every tag read every second, no poll overrunning its interval (rate within 1 % for timer jitter)`,
              met: paced.overruns === 0 && paced.tagsPerS >= TARGET_TAGS_PER_S * 0.99,
            },
          },
          {
            figure: `${target.kind} source CPU at 1 s interval (sidecar process from /proc, % of one core)`,
            value: Number(paced.sidecarCpu.toFixed(1)),
            unit: "%",
            target: { text: `< ${TARGET_CPU_PERCENT} %`, met: paced.sidecarCpu < TARGET_CPU_PERCENT },
          },
          {
            figure: `${target.kind} read of every tag, one poll (${what}, median)`,
            value: paced.pollMs,
            unit: "ms",
          },
          {
            figure: `${target.kind} tags polled/s flat out (10 ms interval, ${what})`,
            value: Math.round(flat.tagsPerS),
            unit: "tags/s",
          },
          {
            figure: `${target.kind} flat out: sidecar CPU (% of one core)`,
            value: Number(flat.sidecarCpu.toFixed(1)),
            unit: "%",
            baseline: { name: `${target.server} server process`, value: Number(flat.serverCpu.toFixed(1)) },
          },
        );
      } finally {
        await plc.stop();
      }
    }
    return figures;
  },
};

export default bench;
