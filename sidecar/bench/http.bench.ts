// The HTTP intake (issue 17): a bespoke MES posting CloudEvents.
// - batched mode: events/s committed to a real SQLite spool through the intake
//   (4 producers, 100 events per request, each sending its next batch when the
//   last is answered), beside the pipeline taking the same batches directly
//   (the cost of HTTP, auth and the binding on top of validate → stamp → spool);
// - one event per request at an offered 1,000 events/s (open loop: requests
//   leave on a fixed schedule whether or not earlier ones were answered, and a
//   response time counts from the scheduled send, so a stall is not hidden):
//   p50 and p99 response time (after a first second of warm-up) and the rate achieved.
// The producers run in a worker thread (this file, started again there), so
// the client's JSON and sockets do not share the intake's event loop.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { SidecarConfig } from "../src/core/contract.ts";
import { spoolPressureOf } from "../src/main.ts";
import { Pipeline } from "../src/pipeline.ts";
import { sha256Hex } from "../src/sources/http/auth.ts";
import { DEFAULT_MAX_IN_FLIGHT_PER_PRODUCER, HttpIntake } from "../src/sources/http/intake.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import { cloudEvent, post } from "../test/support/http/post.ts";
import { type Benchmark, type Figure, percentile } from "./harness.ts";

const TOKEN = "bench-producer-token";
const BATCH = 100;
const PRODUCERS = 4;
const OFFERED_PER_S = 1_000;
const WARM_UP_MS = 1_000;

interface BatchedJob {
  kind: "batched";
  url: string;
  seconds: number;
  tag: string;
}
interface PacedJob {
  kind: "paced";
  url: string;
  seconds: number;
  tag: string;
}
type Job = BatchedJob | PacedJob;

interface JobResult {
  events: number;
  seconds: number;
  /** Response times, ms (paced job). */
  latencies: number[];
  failures: number;
  /** Answers other than 200, by status. */
  statuses: Record<string, number>;
}

function eventOf(tag: string, i: number): Record<string, unknown> {
  return cloudEvent({
    id: `${tag}-${i}`,
    source: `plant1/line${i % 8}/press-${i % 3}`,
    type: "production.reported",
    time: new Date(Date.UTC(2026, 10, 23, 6, 0, 0) + i).toISOString(),
    data: { order: `WH/MO/${String(i % 50).padStart(5, "0")}`, qty_good: 1 + (i % 7), qty_scrap: 0, uom: "Units" },
  });
}

/** Runs in the worker: the producers. */
async function produce(job: Job): Promise<JobResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.kind === "batched" ? PRODUCERS : 64 });
  const started = performance.now();
  const until = started + job.seconds * 1000;
  let failures = 0;
  let events = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  if (job.kind === "batched") {
    let next = 0;
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        while (performance.now() < until) {
          const from = next;
          next += BATCH;
          const body = JSON.stringify(Array.from({ length: BATCH }, (_, k) => eventOf(job.tag, from + k)));
          const answer = await post(`${job.url}/events`, body, {
            token: TOKEN,
            agent,
            headers: { "Content-Type": "application/cloudevents-batch+json" },
          });
          if (answer.status === 200) events += BATCH;
          else {
            failures++;
            statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          }
        }
      }),
    );
  } else {
    // Ticks of 10 ms, 10 requests each: 1,000/s on a schedule.
    const perTick = OFFERED_PER_S / 100;
    const pending: Promise<void>[] = [];
    let i = 0;
    for (let tick = 0; started + tick * 10 < until; tick++) {
      const due = started + tick * 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (let k = 0; k < perTick; k++) {
        const body = JSON.stringify(eventOf(job.tag, i++));
        pending.push(
          post(`${job.url}/events`, body, {
            token: TOKEN,
            agent,
            headers: { "Content-Type": "application/cloudevents+json" },
          }).then(
            (answer) => {
              if (answer.status === 200) {
                // The first second warms up (connections opened, code compiled): not timed.
                if (due >= started + WARM_UP_MS) latencies.push(performance.now() - due);
                events++;
              } else {
                failures++;
                statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
              }
            },
            () => {
              failures++;
              statuses.error = (statuses.error ?? 0) + 1;
            },
          ),
        );
      }
    }
    await Promise.all(pending);
  }
  agent.destroy();
  return { events, seconds: (performance.now() - started) / 1000, latencies, failures, statuses };
}

if (!isMainThread && (workerData as { httpBench?: Job } | undefined)?.httpBench) {
  const job = (workerData as { httpBench: Job }).httpBench;
  produce(job).then(
    (result) => parentPort?.postMessage(result),
    (err: Error) => parentPort?.postMessage({ error: err.message }),
  );
}

function inWorker(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { httpBench: job } });
    worker.once("message", (m: JobResult & { error?: string }) => {
      void worker.terminate();
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    worker.once("error", reject);
  });
}

const config = {
  code: "bench",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

const bench: Benchmark = {
  name: "http",
  issue: 17,
  async run(ctx) {
    const seconds = Math.max(3, Math.round(20 * ctx.scale));
    const dir = mkdtempSync(join(tmpdir(), "sfb-http-bench-"));
    // Room for both timed phases on a fast machine (the default 2 GiB filled up within them), and
    // the intake told the spool's fill as the sidecar tells it: a full spool is answered 503 and
    // counted, never a request left waiting for space no delivery frees here.
    const spool = new SqliteSpool({
      path: join(dir, "spool.db"),
      ...SERVICE_SPOOL,
      capacityBytes: 32 * 1024 ** 3,
      capacityEvents: 100_000_000,
    });
    const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
    const intake = new HttpIntake({
      connection: "bench",
      config: {
        port: 0,
        bind: "127.0.0.1",
        tls_cert: "",
        tls_key: "",
        max_body_bytes: 4 * 1024 * 1024,
        producers: [{ name: "mes", token_sha256: sha256Hex(TOKEN), source_prefix: "" }],
      },
      pressure: () => spoolPressureOf(spool),
    });
    try {
      await intake.start(pipeline);
      const url = `http://127.0.0.1:${intake.port}`;

      // Baseline: the same batches straight into the pipeline, PRODUCERS at a time.
      ctx.log(`pipeline alone, batches of ${BATCH}, ${seconds} s`);
      const baseStart = performance.now();
      const baseUntil = baseStart + seconds * 1000;
      let baseEvents = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          while (performance.now() < baseUntil) {
            const from = next;
            next += BATCH;
            const items = Array.from({ length: BATCH }, (_, k) => ({
              kind: "raw" as const,
              payload: Buffer.from(JSON.stringify(eventOf("base", from + k))),
              origin: "bench",
              receivedAt: new Date(),
            }));
            await pipeline.accept(items);
            baseEvents += BATCH;
          }
        }),
      );
      const baseRate = baseEvents / ((performance.now() - baseStart) / 1000);

      ctx.log(`HTTP batched mode, ${PRODUCERS} producers × ${BATCH} events per request, ${seconds} s`);
      const batched = await inWorker({ kind: "batched", url, seconds, tag: "batched" });
      if (batched.failures > 0) {
        throw new Error(
          `${batched.failures} batched requests were not answered 200: ${JSON.stringify(batched.statuses)}`,
        );
      }
      const batchedRate = batched.events / batched.seconds;

      ctx.log(`HTTP one event per request at ${OFFERED_PER_S}/s offered, ${seconds} s`);
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const paced = await inWorker({ kind: "paced", url, seconds, tag: "paced" });
      loop.disable();
      // 429 is the intake's own answer to a producer with too many requests under way (counted below); any other is a fault.
      const faults = Object.entries(paced.statuses).filter(([status]) => status !== "429");
      if (faults.length > 0)
        throw new Error(`paced requests answered other than 200 or 429: ${JSON.stringify(paced.statuses)}`);
      const busy = paced.statuses["429"] ?? 0;
      const sorted = [...paced.latencies].sort((a, b) => a - b);
      const achieved = paced.events / paced.seconds;
      const figures: Figure[] = [
        {
          figure: `HTTP intake events/s, batched mode (${PRODUCERS} producers, ${BATCH} events per request), committed to the spool`,
          value: Math.round(batchedRate),
          unit: "events/s",
          baseline: { name: "the pipeline taking the same batches directly", value: Math.round(baseRate) },
        },
        {
          figure: `HTTP intake p99 response time, one event per request at ${OFFERED_PER_S} events/s offered`,
          value: Math.round(percentile(sorted, 99) * 10) / 10,
          unit: "ms",
        },
        {
          figure: `HTTP intake p50 response time, one event per request at ${OFFERED_PER_S} events/s offered`,
          value: Math.round(percentile(sorted, 50) * 10) / 10,
          unit: "ms",
        },
        {
          figure: `Sidecar event-loop delay p99 during the ${OFFERED_PER_S} events/s run (stalls: spool commits, GC, the machine)`,
          value: Math.round(loop.percentile(99) / 1e5) / 10,
          unit: "ms",
        },
        {
          figure: `HTTP intake requests answered 429 (over the producer's ${DEFAULT_MAX_IN_FLIGHT_PER_PRODUCER} under way) at ${OFFERED_PER_S} events/s offered`,
          value: busy,
          unit: "requests",
          target: { text: "none", met: busy === 0 },
        },
        {
          figure: `HTTP intake events/s achieved at ${OFFERED_PER_S} events/s offered (one event per request)`,
          value: Math.round(achieved),
          unit: "events/s",
          target: { text: `≥ 99% of the ${OFFERED_PER_S} offered`, met: achieved >= OFFERED_PER_S * 0.99 },
        },
      ];
      return figures;
    } finally {
      await intake.stop();
      await spool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
