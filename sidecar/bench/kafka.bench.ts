// Kafka source ingest (issue 18): a backlog of CloudEvents on a 4-partition
// topic of a real Apache Kafka broker (KRaft, devstack/kafka.ts), drained
// through KafkaSource → validate + stamp → SqliteSpool → offset commit, beside
// a bare consumer of the same library (@platformatic/kafka, a consumer group,
// offsets committed per fetched batch, nothing else) on the same topic, the
// two taking turns; Kafka's own Java consumer (kafka-tools ConsumerPerformance)
// drains it once more as a second reference.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consumer, Producer } from "@platformatic/kafka";
import { KAFKA_LIB, type KafkaBroker, startKafka } from "../devstack/kafka.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { SidecarConfig } from "../src/core/contract.ts";
import { Pipeline } from "../src/pipeline.ts";
import { KafkaSource } from "../src/sources/kafka/source.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { type BenchContext, type Benchmark, type Figure, median } from "./harness.ts";

const TOPIC = "bench-events";
const PARTITIONS = 4;
const PREFETCH = 500;

const benchConfig = {
  code: "bench",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

async function publishBacklog(broker: KafkaBroker, n: number, ctx: BenchContext): Promise<void> {
  const producer = new Producer({ clientId: "bench-producer", bootstrapBrokers: [broker.url] });
  try {
    for (let i = 0; i < n; i += 1_000) {
      const messages = [];
      for (let j = i; j < Math.min(i + 1_000, n); j++) {
        messages.push({
          topic: TOPIC,
          key: Buffer.from(`wc-${j % 16}`),
          value: Buffer.from(JSON.stringify({ ...validEvent(j, "kafka-bench"), id: randomUUID() })),
        });
      }
      await producer.send({ messages });
      ctx.progress("publishing", Math.min(i + 1_000, n), n);
    }
  } finally {
    await producer.close();
  }
}

/** A bare consumer of the same library: reads the backlog in a new group and commits each fetched batch's offsets. */
async function drainBare(broker: KafkaBroker, n: number, group: string): Promise<number> {
  const consumer = new Consumer({ clientId: "bench-bare", groupId: group, bootstrapBrokers: [broker.url] });
  const start = performance.now();
  try {
    const stream = await consumer.consume({
      topics: [TOPIC],
      autocommit: false,
      mode: "committed",
      fallbackMode: "earliest",
      highWaterMark: PREFETCH,
      maxWaitTime: 500,
    });
    let got = 0;
    const last = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
    for await (const record of stream) {
      got++;
      last.set(`${record.partition}`, {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset + 1n,
        leaderEpoch: record.leaderEpoch,
      });
      if (got % PREFETCH === 0 || got === n) {
        await consumer.commit({ offsets: [...last.values()] });
        last.clear();
      }
      if (got === n) break;
    }
    return (performance.now() - start) / 1000;
  } finally {
    await consumer.close(true);
  }
}

/** The sidecar's path: KafkaSource → Pipeline (validate + stamp) → SqliteSpool → offset commit. */
async function drainSource(broker: KafkaBroker, n: number, group: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-kafka-"));
  const spool = new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL });
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config: benchConfig });
  const source = new KafkaSource({
    brokers: [broker.url],
    topics: [TOPIC],
    groupId: group,
    clientId: "bench-source",
    prefetch: PREFETCH,
  });
  const start = performance.now();
  try {
    await source.start(pipeline);
    while ((source.stats().acked ?? 0) < n) await new Promise((r) => setTimeout(r, 2));
    const seconds = (performance.now() - start) / 1000;
    await source.stop();
    const spooled = (await spool.stats()).queued;
    if (spooled !== n) throw new Error(`spool holds ${spooled} of ${n}`);
    return seconds;
  } finally {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kafka's own Java consumer on the same topic: its fetch rate (JVM start-up excluded), or undefined. */
function javaConsumerRate(broker: KafkaBroker, n: number, ctx: BenchContext): number | undefined {
  // Summary columns: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
  // nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const plain = spawnSync(
    "java",
    [
      "-Xmx512m",
      "-cp",
      `${KAFKA_LIB}/*`,
      "org.apache.kafka.tools.ConsumerPerformance",
      "--bootstrap-server",
      broker.url,
      "--topic",
      TOPIC,
      "--messages",
      String(n),
      "--group",
      `bench-java-plain-${Date.now()}`,
    ],
    { encoding: "utf8", timeout: 300_000 },
  );
  const line = plain.stdout
    .trim()
    .split("\n")
    .filter((l) => /^\d{4}-/.test(l))
    .at(-1);
  const columns = line?.split(",").map((c) => c.trim());
  const rate = columns ? Number(columns[9]) : Number.NaN;
  if (!Number.isFinite(rate)) {
    ctx.log(`kafka-tools ConsumerPerformance gave no figure: ${plain.stderr.slice(-400) || plain.stdout.slice(-400)}`);
    return undefined;
  }
  return Math.round(rate);
}

async function figures(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(10_000, Math.round(100_000 * ctx.scale));
  const rounds = 3;
  const broker = await startKafka({ topics: [TOPIC], partitions: PARTITIONS });
  try {
    await publishBacklog(broker, n, ctx);
    // A warm-up drain of each, not counted (V8 compiles the paths; the broker warms its page cache).
    await drainBare(broker, n, "bench-warm-bare");
    await drainSource(broker, n, "bench-warm-source");
    const bare: number[] = [];
    const source: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ["bare", "source"] : ["source", "bare"];
      for (const which of order) {
        const group = `bench-${which}-${round}-${Date.now()}`;
        const seconds = which === "bare" ? await drainBare(broker, n, group) : await drainSource(broker, n, group);
        (which === "bare" ? bare : source).push(Math.round(n / seconds));
      }
      ctx.log(`round ${round + 1}: bare ${bare.at(-1)}/s, source → spool ${source.at(-1)}/s`);
    }
    const bareRate = median(bare);
    const sourceRate = median(source);
    const out: Figure[] = [
      {
        figure: `Kafka ingest → spool committed, offsets committed after (${n.toLocaleString()} events, ${PARTITIONS} partitions, median of ${rounds})`,
        value: sourceRate,
        unit: "events/s",
        baseline: { name: "bare @platformatic/kafka consumer, commit per batch", value: bareRate },
        target: { text: "≥ 0.5× the bare consumer", met: sourceRate >= 0.5 * bareRate },
      },
    ];
    const java = javaConsumerRate(broker, n, ctx);
    if (java !== undefined) {
      out.push({
        figure: `Kafka's own Java consumer on the same topic (kafka-tools ConsumerPerformance, fetch rate, ${n.toLocaleString()} events)`,
        value: java,
        unit: "events/s",
      });
    }
    return out;
  } finally {
    await broker.destroy();
  }
}

const bench: Benchmark = {
  name: "kafka",
  issue: 18,
  run: figures,
};

export default bench;
