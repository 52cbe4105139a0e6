// RabbitMQ ingest (issue 18): a backlog of CloudEvents in a quorum queue on a
// private RabbitMQ node, drained by the sidecar's path — AmqpSource →
// validate + stamp → SqliteSpool (WAL, group commit) → basic.ack after the
// commit — beside a bare amqplib consumer on the same queue (same prefetch,
// acks each message as it arrives, keeps nothing). Same message count, taking
// turns, medians of the rounds.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { type RabbitMqBroker, startRabbitMq } from "../devstack/rabbitmq.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { SidecarConfig } from "../src/core/contract.ts";
import { Pipeline } from "../src/pipeline.ts";
import { AmqpSource } from "../src/sources/amqp/source.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import { validEvent } from "../test/support/fuzz.ts";
import type { BenchContext, Benchmark, Figure } from "./harness.ts";
import { median } from "./harness.ts";

const QUEUE = "bench.amqp";
const PREFETCH = 500;

const benchConfig = {
  code: "bench",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

/** Publishes `n` persistent CloudEvents (random UUID ids) with publisher confirms, 1,000 unconfirmed at most. */
async function publishBacklog(url: string, n: number, tag: string, ctx: BenchContext): Promise<void> {
  const conn = await amqp.connect(url);
  const channel = await conn.createConfirmChannel();
  // Each drain starts from exactly its own backlog. A quorum queue settles acks
  // asynchronously: a bare consumer that closes right after its last acks gets a
  // few hundred of them returned to the queue (RabbitMQ 3.10), so they are purged.
  const left = await channel.purgeQueue(QUEUE);
  if (left.messageCount > 0) ctx.log(`${left.messageCount} message(s) left over from the previous drain, purged`);
  for (let i = 0; i < n; i++) {
    channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ ...validEvent(i, tag), id: randomUUID() })), {
      persistent: true,
      contentType: "application/cloudevents+json",
    });
    if (i % 1_000 === 999) {
      await channel.waitForConfirms();
      ctx.progress(`publishing ${tag}`, i + 1, n);
    }
  }
  await channel.waitForConfirms();
  await conn.close();
}

/** A bare amqplib consumer: prefetch, one ack per message, nothing else. */
async function drainBare(url: string, n: number): Promise<number> {
  const conn = await amqp.connect(url);
  const channel = await conn.createChannel();
  await channel.prefetch(PREFETCH);
  const start = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void channel.consume(QUEUE, (msg) => {
      if (!msg) return;
      channel.ack(msg);
      if (++got === n) resolve();
    });
  });
  const seconds = (performance.now() - start) / 1000;
  // The channel's close waits for the broker's close-ok, so every ack before it has been taken.
  await channel.close();
  await conn.close();
  return seconds;
}

/** The sidecar's path into a real spool; done when all `n` are committed (and so acked). */
async function drainDurable(url: string, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-amqp-"));
  const spool = new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL });
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config: benchConfig });
  const source = new AmqpSource({ connection: "bench", url, queues: [QUEUE], prefetch: PREFETCH, lagIntervalMs: 0 });
  const start = performance.now();
  await source.start(pipeline);
  while ((source.stats().committed ?? 0) < n) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - start) / 1000;
  await source.stop();
  const spooled = (await spool.stats()).queued;
  await spool.close();
  rmSync(dir, { recursive: true, force: true });
  if (spooled !== n) throw new Error(`spool holds ${spooled} of ${n}`);
  return seconds;
}

const bench: Benchmark = {
  name: "amqp",
  issue: 18,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const n = Math.max(5_000, Math.round(50_000 * ctx.scale));
    const rounds = Math.max(1, Number(process.env.SFB_BENCH_AMQP_ROUNDS ?? 3));
    let broker: RabbitMqBroker | undefined;
    try {
      broker = await startRabbitMq();
      const setup = await amqp.connect(broker.url);
      const channel = await setup.createChannel();
      await channel.assertQueue(QUEUE, { durable: true, arguments: { "x-queue-type": "quorum" } });
      await setup.close();
      const url = broker.url;
      // Warm-up, not counted: V8 compiles the longer durable path in its first round.
      const warmup = Math.max(1_000, Math.round(n / 5));
      ctx.log(`warm-up: ${warmup.toLocaleString()} messages through both consumers (not counted)…`);
      await publishBacklog(url, warmup, "warmup-bare", ctx);
      await drainBare(url, warmup);
      await publishBacklog(url, warmup, "warmup-durable", ctx);
      await drainDurable(url, warmup);
      const bare: number[] = [];
      const durable: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? (["bare", "durable"] as const) : (["durable", "bare"] as const);
        for (const which of order) {
          await publishBacklog(url, n, `${which}-${round}`, ctx);
          const seconds = which === "bare" ? await drainBare(url, n) : await drainDurable(url, n);
          (which === "bare" ? bare : durable).push(n / seconds);
          ctx.log(`round ${round + 1}/${rounds} ${which}: ${Math.round(n / seconds).toLocaleString()} messages/s`);
        }
      }
      const bareRate = Math.round(median(bare));
      const durableRate = Math.round(median(durable));
      const ratio = durableRate / bareRate;
      return [
        {
          figure: `RabbitMQ quorum queue → spool committed, acked after commit (${n.toLocaleString()} CloudEvents, prefetch ${PREFETCH}, median of ${rounds} rounds)`,
          value: durableRate,
          unit: "events/s",
          baseline: {
            name: `bare amqplib consumer, same queue, prefetch ${PREFETCH}, ack per message`,
            value: bareRate,
          },
          target: { text: "≥ 0.5× the bare consumer", met: ratio >= 0.5 },
        },
      ];
    } finally {
      await broker?.destroy();
    }
  },
};

export default bench;
