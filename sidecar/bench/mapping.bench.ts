// Mapped JSON ingest vs CloudEvents ingest, side by side on the same broker:
// the same number of messages queued for two persistent sessions, then
// drained through the sidecar's chain — MqttSource → MappingStage →
// Pipeline → SqliteSpool, PUBACK after the commit. One session gets
// CloudEvents (one event per message, the pipeline's own path), the other
// Kepware IoT Gateway messages with 10 tag values each, mapped by a `values`
// mapping into 10 counter rules (every value a change: 10 events per message).
// Both chains run with the same configuration, the Kepware mapping included.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { type MosquittoBroker, startMosquitto } from "../devstack/mosquitto.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { MappingRule, PayloadMapping, SidecarConfig } from "../src/core/contract.ts";
import { MappingStage } from "../src/mapping/stage.ts";
import { mqttSubscriptions } from "../src/mapping/subscriptions.ts";
import { Pipeline } from "../src/pipeline.ts";
import { MqttSource } from "../src/sources/mqtt.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import { validEvent } from "../test/support/fuzz.ts";
import type { BenchContext, Benchmark, Figure } from "./harness.ts";
import { median } from "./harness.ts";

const TAGS = 10;
const tagId = (k: number) => `Line1.Press0${k % 5}.Counter${k}`;

/** The Kepware IoT Gateway standard template, read as the shipped preset (kepware_iot_gateway) reads it. */
const KEPWARE: PayloadMapping = {
  id: 1,
  name: "kepware iot gateway",
  kind: "values",
  transport: "mqtt",
  match: "bench/kepware/#",
  expression: 'values[q = true].{ "address": id, "value": v, "time": $fromMillis($exists(t) ? t : $$.timestamp) }',
  id_fields: [],
  payload_format: "json",
  revision: 1,
};

const rules: MappingRule[] = Array.from({ length: TAGS }, (_, k) => ({
  id: 100 + k,
  kind: "counter",
  protocol: "payload",
  address: tagId(k),
  source: `plant1/line1/press-0${k % 5}`,
  event_type: k % 2 === 0 ? "production.reported" : "scrap.reported",
  params: { order: "WH/MO/00042", unit: "PCS" },
}));

const config = {
  code: "bench",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
  rules,
  payload_maps: [KEPWARE],
} as unknown as SidecarConfig;

const EPOCH = Date.parse("2026-11-23T06:00:00Z");

/** Message `i` of the Kepware backlog: every counter one further than in message i − 1. */
function kepwareMessage(i: number): string {
  const at = EPOCH + i * 100;
  return JSON.stringify({
    timestamp: at,
    values: Array.from({ length: TAGS }, (_, k) => ({ id: tagId(k), v: i + 1 + k, q: true, t: at })),
  });
}

async function publishBacklog(url: string, n: number, topic: string, message: (i: number) => string): Promise<void> {
  const pub = await mqtt.connectAsync(url, { clientId: `bench-map-pub-${randomUUID()}`, clean: true });
  const window = 500;
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const send = () => {
      while (next < n && next - done < window) {
        pub.publish(topic, message(next++), { qos: 1 }, (err) => {
          if (err) return reject(err);
          if (++done === n) resolve();
          else send();
        });
      }
    };
    send();
  });
  await pub.endAsync();
}

/** Drains `n` queued messages through the sidecar's chain; the spool must end up with `expected` items. */
async function drain(
  url: string,
  clientId: string,
  topics: string[],
  n: number,
  expected: number,
): Promise<{ seconds: number; cpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-mapping-"));
  const spool = new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL });
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
  const stage = new MappingStage({ sink: pipeline, config });
  const source = new MqttSource({ url, topics, clientId });
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await source.start(stage);
  while ((source.stats().committed ?? 0) < n) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await source.stop();
  await stage.close();
  const stats = stage.stats();
  const spooled = (await spool.stats()).queued;
  await spool.close();
  rmSync(dir, { recursive: true, force: true });
  if (spooled !== expected) {
    throw new Error(`spool holds ${spooled} of ${expected} (mapping failures ${stats.payload_failures})`);
  }
  return { seconds, cpuUs: cpu.user + cpu.system };
}

async function compare(ctx: BenchContext, broker: MosquittoBroker): Promise<Figure[]> {
  const n = Math.max(5_000, Math.round(50_000 * ctx.scale));
  const rounds = Math.max(1, Number(process.env.SFB_BENCH_MAPPING_ROUNDS ?? 3));
  const sessions = { ce: "bench-map-ce", kepware: "bench-map-kepware" };
  // Both sessions exist first, so the broker queues each its backlog while the other drains.
  for (const [id, filter] of [
    [sessions.ce, "bench/ce/#"],
    [sessions.kepware, KEPWARE.match],
  ]) {
    const client = await mqtt.connectAsync(broker.url, { clientId: id, clean: false });
    await client.subscribeAsync(filter as string, { qos: 1 });
    await client.endAsync();
  }
  let tag = 0;
  const ceMessage = (i: number) => JSON.stringify({ ...validEvent(i, `r${tag}`), id: randomUUID() });
  const runCe = async (count: number) => {
    tag++;
    await publishBacklog(broker.url, count, "bench/ce/press-1", ceMessage);
    return drain(broker.url, sessions.ce, ["bench/ce/#"], count, count);
  };
  const runKepware = async (count: number) => {
    await publishBacklog(broker.url, count, "bench/kepware/line1", kepwareMessage);
    // Each drain has a fresh spool: the first message sets the counters' baselines, every later one counts.
    return drain(broker.url, sessions.kepware, mqttSubscriptions([], [KEPWARE]), count, (count - 1) * TAGS);
  };
  // Not counted: V8 compiles both paths first (JSONata, the rule engine, validation, the spool).
  const warmup = Math.max(1_000, Math.round(n / 5));
  ctx.log(`warm-up: ${warmup.toLocaleString()} messages through both sessions (not counted)…`);
  await runCe(warmup);
  await runKepware(warmup);
  const ce: { rate: number; cpu: number }[] = [];
  const mapped: { rate: number; cpu: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    ctx.progress("mapped vs CloudEvents rounds", round, rounds);
    const order = round % 2 === 0 ? ["ce", "kepware"] : ["kepware", "ce"];
    for (const which of order) {
      const result = which === "ce" ? await runCe(n) : await runKepware(n);
      const entry = { rate: n / result.seconds, cpu: result.cpuUs / n };
      (which === "ce" ? ce : mapped).push(entry);
    }
    const lastCe = ce.at(-1) as { rate: number; cpu: number };
    const lastMapped = mapped.at(-1) as { rate: number; cpu: number };
    ctx.log(
      `round ${round + 1}/${rounds}: CloudEvents ${Math.round(lastCe.rate)} msg/s (${lastCe.cpu.toFixed(1)} µs CPU/msg), ` +
        `Kepware mapped ${Math.round(lastMapped.rate)} msg/s = ${Math.round(lastMapped.rate * TAGS)} values/s ` +
        `(${lastMapped.cpu.toFixed(1)} µs CPU/msg), values/s ratio ${((lastMapped.rate * TAGS) / lastCe.rate).toFixed(2)}×`,
    );
  }
  const ceRate = Math.round(median(ce.map((r) => r.rate)));
  const mappedRate = Math.round(median(mapped.map((r) => r.rate)));
  const each = rounds > 1 ? `, median of ${rounds} rounds` : "";
  // A value of a Kepware message is the unit of floor data a CloudEvent is: the target compares those
  // rates. Per message the mapped path does ten times the spool work (ten events), hence both figures.
  return [
    {
      figure: `mapped JSON ingest MQTT → spool committed, Kepware shape, values (each a counter event) per second vs CloudEvents per second (${n.toLocaleString()} messages of ${TAGS} values, QoS 1${each})`,
      value: mappedRate * TAGS,
      unit: "values/s",
      baseline: { name: "CloudEvents ingest, events/s, same broker and chain", value: ceRate },
      target: { text: "≥ 0.5× CloudEvents ingest", met: mappedRate * TAGS >= 0.5 * ceRate },
    },
    {
      figure: `mapped JSON ingest, messages per second (${TAGS} values → ${TAGS} events each) vs CloudEvents messages (1 event each)${each}`,
      value: mappedRate,
      unit: "msg/s",
      baseline: { name: "CloudEvents ingest, msg/s", value: ceRate },
    },
    {
      figure: `mapped JSON ingest: CPU time per message of ${TAGS} values (this process${each})`,
      value: Math.round(median(mapped.map((r) => r.cpu)) * 10) / 10,
      unit: "µs",
      baseline: { name: "CloudEvents message", value: Math.round(median(ce.map((r) => r.cpu)) * 10) / 10 },
    },
  ];
}

const bench: Benchmark = {
  name: "mapping",
  issue: 17,
  async run(ctx) {
    // As the sidecar bench: a window of 1,000 unacked messages per client, and room for the backlogs.
    const broker = await startMosquitto({ maxQueuedMessages: 3_000_000, extraConfig: ["max_inflight_messages 1000"] });
    try {
      return await compare(ctx, broker);
    } finally {
      await broker.destroy();
    }
  },
};
export default bench;
