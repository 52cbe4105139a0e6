// Sparkplug B with Templates and DataSets (issue 17): an edge node whose NBIRTH
// defines a machine Template (`_types_/Machine`), ten instances of it and a
// recipe DataSet, then sends NDATA with Template member changes and a DataSet
// by alias, through a real Mosquitto into the SparkplugSource with rules on
// the members. Figures: leaf metrics/s the host observes (Template members
// and DataSet cells, rules applied) at the load the edge offers, the host's
// CPU for it, what that makes per CPU second beside the decoder alone on
// the same payloads (the host's capacity, on a machine that may be shared),
// and the NBIRTH decode time.
//
// The edge node runs in a child process (this file, forked with
// SFB_SPARKPLUG_BENCH_EDGE=1) so the CPU figure is the host's alone.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { startMosquitto } from "../devstack/mosquitto.ts";
import type { MappingRule } from "../src/core/contract.ts";
import { metricAddress } from "../src/sources/sparkplug/host.ts";
import { decodePayload, type EncodableMetric, encodeSparkplug } from "../src/sources/sparkplug/payload.ts";
import { SparkplugSource } from "../src/sources/sparkplug/source.ts";
import { type BenchContext, type Benchmark, CountingSink, type Figure } from "./harness.ts";

const GROUP = "BenchTpl";
const EDGE = "Line1";
const MACHINES = 10;
const RECIPE_ROWS = 20;
/** Instances changed per NDATA (two members each) and the recipe DataSet every 10th NDATA. */
const INSTANCES_PER_DATA = 4;
const machineName = (m: number) => `Machine${String(m + 1).padStart(2, "0")}`;

function machineTemplate(definition: boolean, good: bigint, speed: number): Record<string, unknown> {
  const value: Record<string, unknown> = {
    isDefinition: definition,
    version: "1",
    parameters: [{ name: "Line", type: "String", value: EDGE }],
    metrics: [
      { name: "GoodCount", type: "UInt64", value: good },
      { name: "ScrapCount", type: "UInt32", value: 0 },
      { name: "State", type: "String", value: "Running" },
      { name: "Speed", type: "Float", value: speed },
      { name: "Temperatures", type: "FloatArray", value: [40.5, 41, 39.75, 42] },
    ],
  };
  if (!definition) value.templateRef = "Machine";
  return value;
}

function recipe(step: number): Record<string, unknown> {
  return {
    columns: ["Step", "Setpoint", "Tolerance", "Active"],
    types: ["Int32", "Double", "Float", "Boolean"],
    rows: Array.from({ length: RECIPE_ROWS }, (_, r) => [r, 100 + r + step / 1000, 0.5, r % 2 === 0]),
  };
}

function nbirth(now: number): Uint8Array {
  const metrics: EncodableMetric[] = [
    { name: "bdSeq", type: "Int64", value: 0 },
    { name: "Node Control/Rebirth", type: "Boolean", value: false },
    { name: "_types_/Machine", type: "Template", value: machineTemplate(true, 0n, 0) },
    ...Array.from({ length: MACHINES }, (_, m) => ({
      name: machineName(m),
      alias: m + 1,
      type: "Template",
      value: machineTemplate(false, 0n, 0),
      timestamp: now,
    })),
    { name: "Recipe", alias: 100, type: "DataSet", value: recipe(0), timestamp: now },
  ];
  return encodeSparkplug({ timestamp: now, seq: 0, metrics });
}

function ndata(n: number, seq: number, now: number): Uint8Array {
  const metrics: EncodableMetric[] = [];
  for (let i = 0; i < INSTANCES_PER_DATA; i++) {
    const m = (n * INSTANCES_PER_DATA + i) % MACHINES;
    metrics.push({
      alias: m + 1,
      type: "Template",
      timestamp: now,
      value: {
        templateRef: "Machine",
        metrics: [
          { name: "GoodCount", type: "UInt64", value: BigInt(Math.floor((n * INSTANCES_PER_DATA + i) / MACHINES) + 1) },
          { name: "Speed", type: "Float", value: 1000 + (n % 100) },
        ],
      },
    });
  }
  if (n % 10 === 0) metrics.push({ alias: 100, type: "DataSet", value: recipe(n), timestamp: now });
  return encodeSparkplug({ timestamp: now, seq, metrics });
}

// ------------------------------------------------------- the edge process

async function edgeMain(): Promise<void> {
  const send = (msg: Record<string, unknown>) => process.send?.(msg);
  let client: mqtt.MqttClient | undefined;
  let seq = 0;
  // Encoded once, one NDATA per seq, then replayed, so the edge can outrun the
  // host. The counters so step back every 256 messages; the counter rule takes
  // that as a reset and keeps counting, which is work it does all the same.
  const replay = Array.from({ length: 256 }, (_, s) => Buffer.from(ndata(s, s, Date.now())));
  process.on("message", (msg: { cmd: string; url?: string; ms?: number }) => {
    void (async () => {
      try {
        if (msg.cmd === "birth") {
          client = await mqtt.connectAsync(msg.url as string, { clientId: `bench-tpl-edge-${process.pid}` });
          await client.publishAsync(`spBv1.0/${GROUP}/NBIRTH/${EDGE}`, Buffer.from(nbirth(Date.now())), { qos: 0 });
          send({ ready: true });
        } else if (msg.cmd === "run") {
          const end = Date.now() + (msg.ms as number);
          let messages = 0;
          while (Date.now() < end) {
            const sends: Promise<unknown>[] = [];
            for (let i = 0; i < 50; i++) {
              seq = (seq + 1) % 256;
              sends.push(
                (client as mqtt.MqttClient).publishAsync(`spBv1.0/${GROUP}/NDATA/${EDGE}`, replay[seq] as Buffer, {
                  qos: 0,
                }),
              );
              messages++;
            }
            await Promise.all(sends);
          }
          send({ done: true, messages });
        } else if (msg.cmd === "stop") {
          await client?.endAsync();
          process.exit(0);
        }
      } catch (err) {
        send({ error: (err as Error).stack ?? String(err) });
      }
    })();
  });
  send({ hello: true });
}

if (process.env.SFB_SPARKPLUG_BENCH_EDGE === "1" && process.send) void edgeMain();

// ------------------------------------------------------------- the bench

function rules(): MappingRule[] {
  return Array.from({ length: MACHINES }, (_, m) => ({
    id: m + 1,
    kind: "counter" as const,
    protocol: "sparkplug" as const,
    address: metricAddress(GROUP, EDGE, undefined, `${machineName(m)}/GoodCount`),
    source: `bench/${machineName(m)}`,
    event_type: "production.reported" as const,
    params: { order: "MO-BENCH", window_ms: 1_000 },
  }));
}

function request(child: ChildProcess, msg: Record<string, unknown>, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (m.error) {
        child.off("message", onMessage);
        reject(new Error(String(m.error)));
      } else if (m[key]) {
        child.off("message", onMessage);
        resolve(m);
      }
    };
    child.on("message", onMessage);
    if (Object.keys(msg).length > 0) child.send(msg);
  });
}

/** Decodes per second of this process's CPU (not wall time: the machine may be shared). */
async function decodeLoop(payload: Uint8Array, ms: number): Promise<{ perSecond: number }> {
  let n = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 200; i++) decodePayload(payload);
    n += 200;
  }
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / ((cpu.user + cpu.system) / 1e6) };
}

async function figures(ctx: BenchContext): Promise<Figure[]> {
  const ms = Math.max(1_000, Math.round(5_000 * ctx.scale));
  const broker = await startMosquitto();
  const child = fork(fileURLToPath(import.meta.url), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, SFB_SPARKPLUG_BENCH_EDGE: "1" },
  });
  const hello = request(child, {}, "hello");
  const sink = new CountingSink();
  const source = new SparkplugSource({
    connection: "bench-tpl",
    revision: 1,
    url: broker.url,
    groupId: GROUP,
    hostId: "bench-tpl-host",
    rules: rules(),
    maxQueuedMessages: 100_000,
  });
  try {
    await hello;
    await source.start(sink);
    await request(child, { cmd: "birth", url: broker.url }, "ready");
    for (let i = 0; source.stats().births !== 1; i++) {
      if (i > 100) throw new Error("the host never saw the NBIRTH");
      await new Promise((r) => setTimeout(r, 50));
    }
    const birthLeaves = source.stats().metrics ?? 0;
    const m0 = source.stats().metrics ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const done = await request(child, { cmd: "run", ms }, "done");
    await new Promise((r) => setTimeout(r, 500));
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const stats = source.stats();
    const leaves = (stats.metrics ?? 0) - m0;
    // Over the whole wall time, settling included: the edge's last burst may run past `ms`.
    const rate = leaves / (wallUs / 1e6);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const cpuPct = ((cpu.user + cpu.system) / wallUs) * 100;
    ctx.log(
      `sparkplug templates: ${done.messages} NDATA sent, ${rate.toFixed(0)} leaf metrics/s observed, ${sink.events} events, ` +
        `gaps ${stats.seq_gaps}, queue drops ${stats.queue_drops}, undecodable ${stats.undecodable_metrics}, CPU ${cpuPct.toFixed(0)}%, ` +
        `${birthLeaves} leaves in the NBIRTH`,
    );
    if (stats.undecodable_metrics || stats.malformed) throw new Error("the bench payloads did not decode");

    const loopMs = Math.min(ms, 3_000);
    const sample = ndata(10, 1, Date.now()); // one with the DataSet
    const plain = ndata(11, 2, Date.now());
    const withSet = await decodeLoop(sample, loopMs / 2);
    const without = await decodeLoop(plain, loopMs / 2);
    const leavesWith = INSTANCES_PER_DATA * 2 + RECIPE_ROWS * 4;
    const leavesWithout = INSTANCES_PER_DATA * 2;
    // The mix the edge sends: one NDATA in ten carries the DataSet.
    const secondsPer10 = 1 / withSet.perSecond + 9 / without.perSecond;
    const decodeRate = (leavesWith + 9 * leavesWithout) / secondsPer10;
    const birth = await decodeLoop(nbirth(Date.now()), loopMs);
    return [
      {
        figure:
          "Sparkplug leaf metrics/s observed by the host through Mosquitto, Templates and a DataSet in the birth (Template members + DataSet cells, rules applied)",
        value: Math.round(rate),
        unit: "metrics/s",
      },
      {
        figure: "Sparkplug host CPU at that rate, Templates and DataSets (sidecar process, % of one core)",
        value: Math.round(cpuPct),
        unit: "%",
      },
      {
        figure: "Sparkplug leaf metrics per CPU second of the host (MQTT receive, decode, Templates/DataSets, rules)",
        value: Math.round(leaves / cpuSeconds),
        unit: "metrics/CPU-s",
        baseline: { name: "decodePayload loop alone, same NDATA mix", value: Math.round(decodeRate) },
      },
      {
        figure: `Sparkplug NBIRTH decode, CPU time (${MACHINES} Template instances + definition, ${RECIPE_ROWS}-row DataSet)`,
        value: Math.round((1000 / birth.perSecond) * 1000) / 1000,
        unit: "ms",
      },
    ];
  } finally {
    await source.stop().catch(() => {});
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.send({ cmd: "stop" });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    await broker.destroy();
  }
}

const bench: Benchmark = {
  name: "sparkplug",
  issue: 17,
  run: figures,
};

export default bench;
