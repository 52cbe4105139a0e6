// Redis Streams ingest (issue 18), side by side in one run: the same backlog
// of CloudEvents in one stream, drained by two consumer groups —
// RedisStreamSource into a real Pipeline + SqliteSpool (validate, stamp,
// group commit, XACK after the commit), and a bare ioredis consumer that only
// reads (XREADGROUP COUNT prefetch) and acknowledges (XACK). Both get the
// same prefetch: the bare one reads that many per round trip and sends its
// XACK and its next read back to back on one connection, as a lean consumer
// would; the source keeps at most that many unacknowledged, read a quarter
// at a time so that one read is on the wire while another commits.
// A third group measures the same source and pipeline into a spool that keeps
// nothing (no SQLite): the ceiling of everything before the spool, which says
// how much of the gap to the bare consumer the durable commit is.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startRedis } from "../devstack/redis.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { SidecarConfig } from "../src/core/contract.ts";
import { Pipeline } from "../src/pipeline.ts";
import { RedisStreamSource } from "../src/sources/redis/source.ts";
import type { Spool } from "../src/spool/spool.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { type BenchContext, type Benchmark, type Figure, median } from "./harness.ts";

const PREFETCH = 500;

const benchConfig = {
  code: "bench",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

/** `n` events in `stream`, UUID ids (the spool's hard case), with the three groups created first, at the start. */
async function fillStream(redis: Redis, stream: string, n: number, ctx: BenchContext): Promise<void> {
  for (const group of ["bare", "sidecar", "nospool"]) await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
  for (let i = 0; i < n; i += 1_000) {
    const batch = redis.pipeline();
    for (let j = i; j < Math.min(n, i + 1_000); j++) {
      batch.xadd(stream, "*", "payload", JSON.stringify({ ...validEvent(j, "bench"), id: randomUUID() }));
    }
    await batch.exec();
    ctx.progress(`XADD ${stream}`, Math.min(n, i + 1_000), n);
  }
}

interface Drain {
  seconds: number;
  cpu: NodeJS.CpuUsage;
}

async function drainBare(url: string, stream: string, n: number): Promise<Drain> {
  const redis = new Redis(url);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let got = 0;
  const acks: Promise<unknown>[] = [];
  while (got < n) {
    const reply = (await redis.xreadgroup(
      "GROUP",
      "bare",
      "bare-1",
      "COUNT",
      PREFETCH,
      "BLOCK",
      1_000,
      "STREAMS",
      stream,
      ">",
    )) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    got += entries.length;
    if (entries.length > 0) acks.push(redis.xack(stream, "bare", ...entries.map(([id]) => id)));
  }
  await Promise.all(acks);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  redis.disconnect();
  return { seconds, cpu };
}

/** Takes every record as added and keeps none: the source's and the pipeline's own cost, without SQLite. */
function spoolKeepingNothing(): Spool {
  let kept = 0;
  const keeping = {
    append: async (records: unknown[]) => {
      kept += records.length;
      return { added: records.length, duplicates: 0 };
    },
    loadState: async () => ({}),
    stats: async () => ({ queued: kept }),
    close: async () => {},
  };
  return keeping as unknown as Spool;
}

async function drainSidecar(url: string, stream: string, n: number, durable = true): Promise<Drain> {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-redis-spool-"));
  const spool = durable ? new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL }) : spoolKeepingNothing();
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config: benchConfig });
  const source = new RedisStreamSource({
    connection: "bench",
    url,
    streams: [stream],
    group: durable ? "sidecar" : "nospool",
    consumer: "sidecar-1",
    prefetch: PREFETCH,
    blockMs: 1_000,
  });
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await source.start(pipeline);
  // Checked every 2 ms: done once every entry is committed and acknowledged.
  while ((source.stats().acked ?? 0) < n) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await source.stop();
  const spooled = (await spool.stats()).queued;
  await spool.close();
  rmSync(dir, { recursive: true, force: true });
  if (spooled !== n) throw new Error(`spool holds ${spooled} of ${n}`);
  return { seconds, cpu };
}

async function figures(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(5_000, Math.round(50_000 * ctx.scale));
  const rounds = Math.max(1, Number(process.env.SFB_BENCH_INGEST_ROUNDS ?? 3));
  const broker = await startRedis();
  const redis = new Redis(broker.url);
  const cpuPerEvent = (u: NodeJS.CpuUsage) => Math.round(((u.user + u.system) / n) * 100) / 100;
  try {
    // Not counted: V8 compiles both paths first.
    const warmup = Math.max(2_000, Math.round(n / 5));
    ctx.log(`warm-up: ${warmup.toLocaleString()} entries through both consumers (not counted)…`);
    await fillStream(redis, "bench:warmup", warmup, ctx);
    await drainBare(broker.url, "bench:warmup", warmup);
    await drainSidecar(broker.url, "bench:warmup", warmup);
    await drainSidecar(broker.url, "bench:warmup", warmup, false);
    const bare: { rate: number; cpu: number }[] = [];
    const sidecar: { rate: number; cpu: number }[] = [];
    const nospool: { rate: number; cpu: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      const stream = `bench:ingest:${round}`;
      await fillStream(redis, stream, n, ctx);
      const drains = [
        async () => {
          const r = await drainBare(broker.url, stream, n);
          bare.push({ rate: Math.round(n / r.seconds), cpu: cpuPerEvent(r.cpu) });
        },
        async () => {
          const r = await drainSidecar(broker.url, stream, n);
          sidecar.push({ rate: Math.round(n / r.seconds), cpu: cpuPerEvent(r.cpu) });
        },
        async () => {
          const r = await drainSidecar(broker.url, stream, n, false);
          nospool.push({ rate: Math.round(n / r.seconds), cpu: cpuPerEvent(r.cpu) });
        },
      ];
      // Each goes first in turn.
      for (let k = 0; k < round % drains.length; k++) drains.push(drains.shift() as (typeof drains)[number]);
      for (const drain of drains) await drain();
      await redis.del(stream);
      const b = bare.at(-1) as { rate: number; cpu: number };
      const s = sidecar.at(-1) as { rate: number; cpu: number };
      const z = nospool.at(-1) as { rate: number; cpu: number };
      ctx.log(
        `round ${round + 1}/${rounds}: bare ioredis ${b.rate}/s (${b.cpu} µs CPU/event), ` +
          `RedisStreamSource → spool ${s.rate}/s (${s.cpu} µs CPU/event), ` +
          `→ a spool keeping nothing ${z.rate}/s (${z.cpu} µs CPU/event)`,
      );
    }
    const bareRate = Math.round(median(bare.map((r) => r.rate)));
    const sideRate = Math.round(median(sidecar.map((r) => r.rate)));
    const nospoolRate = Math.round(median(nospool.map((r) => r.rate)));
    const each = rounds > 1 ? `, median of ${rounds} rounds` : "";
    return [
      {
        figure: `Redis Streams ingest → spool committed, XACK after commit (${n.toLocaleString()} entries, COUNT ${PREFETCH}${each})`,
        value: sideRate,
        unit: "events/s",
        baseline: { name: "bare ioredis XREADGROUP + XACK consumer", value: bareRate },
        target: { text: "≥ 0.5× the bare consumer", met: sideRate >= 0.5 * bareRate },
      },
      {
        figure: `Redis Streams ingest: CPU time per event (this process${each})`,
        value: median(sidecar.map((r) => r.cpu)),
        unit: "µs",
        baseline: { name: "bare ioredis XREADGROUP + XACK consumer", value: median(bare.map((r) => r.cpu)) },
      },
      {
        figure:
          "Redis Streams ingest through the same source and pipeline into a spool that keeps nothing " +
          `(no SQLite: the ceiling before the durable commit${each})`,
        value: nospoolRate,
        unit: "events/s",
        baseline: { name: "bare ioredis XREADGROUP + XACK consumer", value: bareRate },
      },
      {
        figure: `Redis Streams ingest into a spool that keeps nothing: CPU time per event (this process${each})`,
        value: median(nospool.map((r) => r.cpu)),
        unit: "µs",
        baseline: { name: "bare ioredis XREADGROUP + XACK consumer", value: median(bare.map((r) => r.cpu)) },
      },
    ];
  } finally {
    redis.disconnect();
    await broker.destroy();
  }
}

const bench: Benchmark = {
  name: "redis",
  issue: 18,
  run: figures,
};

export default bench;
