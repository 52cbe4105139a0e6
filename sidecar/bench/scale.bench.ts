// The scale figures of issue #18, side by side in one run, all through the
// sidecar's real delivery path (Pipeline → SqliteSpool → Delivery → JSON-RPC →
// Odoo 18 applying the events) on the realistic mix of plant-mix.ts (four
// work centers of two MOs, so partitions have work centers to split):
//
// 1. store+apply events/s of a spooled backlog: 1 partition against an Odoo
//    with one HTTP worker (`--workers=1`, prefork), and 2 partitions against
//    `--workers=2` (three times: with the delivery's affinity, which keeps
//    work centers sharing an order or a material in one partition; without
//    it, each work center its own partition, as two sidecars would send them;
//    and with line 2 booking materials of its own, so the affinity gives each
//    line its own partition and nothing is shared; the serialization failures
//    Odoo and the sidecar retried are counted), next to
//    the per-event Node-RED style baseline measured on
//    the same server in the same run. The delivery's OdooClient is wrapped to
//    count the ingest calls really in flight at once: a figure never claims
//    parallelism that did not happen.
// 2. Odoo's and PostgreSQL's CPU seconds per 1,000 applied events, from /proc:
//    utime+stime of the Odoo process tree (workers included, reaped ones
//    through the master's cutime/cstime) and of the PostgreSQL backends
//    serving the bench database (the cluster is shared with other databases,
//    so its other processes are left out).
// 3. the drain rate of a larger backlog with catch-up mode on, and the time a
//    360,000-event backlog (one hour at 100 events/s) takes at that rate:
//    extrapolated, the figure says so.
// 4. publish → applied latency at 200 and 1,000 events/s: paced CloudEvents
//    over MQTT (a private Mosquitto) into the sidecar's MqttSource; "applied"
//    is when the delivery got Odoo's answer `applied` for that event id.
//    Each paced run also measures Odoo's and PostgreSQL's CPU from the first
//    publish to the last event applied: what the integration takes from Odoo
//    at that rate. Every ingest call has a cost of its own (each call reads
//    its orders afresh, runs Odoo's producing cascade and validates its scraps
//    per order), so a paced rate costs more per event than a drain; the demo
//    plant is also paced at a moderate 50 events/s, and at 50 and 200 events/s
//    with the connection's default batching (a 1 s wait, and a partial batch
//    sent once 100 events are queued) beside the bench's 20 ms wait; at 200/s
//    also with the 1 s wait alone, as every batch went before the send-at size.
// 3 and 4 run on the demo plant (its lines share materials: one batch in
// flight) and again, last, with line 2 on materials of its own (two).
//
// Every phase has a time budget (scaled by --scale), so the bench ends in
// bounded time however slow the apply is: a drain cut short reports the rate
// of what it drained and says so in its figure. At --scale 1 the bench is two
// Odoo starts, eight paced runs of 30 s (plus their settle waits) and the drains,
// each within its budget. With the per-event apply of before issue #18 every
// phase ran to its budget plus the batch then in flight.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { startMosquitto } from "../devstack/mosquitto.ts";
import { backendPids, type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { listProcesses, PidSetCpuMeter, rootWithArg, TreeCpuMeter } from "../devstack/proc-cpu.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { CloudEvent, SidecarConfig } from "../src/core/contract.ts";
import type { SourceSink } from "../src/core/ports.ts";
import { Delivery, type DeliverySettings } from "../src/delivery.ts";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";
import { Pipeline } from "../src/pipeline.ts";
import { MqttSource } from "../src/sources/mqtt.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import type { BenchContext, Benchmark, Figure } from "./harness.ts";
import {
  connect,
  EPOCH,
  giveLine2OwnMaterials,
  integrationKey,
  interleave,
  makePlant,
  type Rpc,
  runPerEventFlow,
} from "./plant-mix.ts";
import {
  IngestProbe,
  type IngestProbeStats,
  latencySummary,
  perThousand,
  runPaced,
  worstBySecond,
} from "./scale-tools.ts";

/** The demo data's connection. */
const CONNECTION = "plant1-mqtt";
/** The sidecar's user, made as a site makes it: by the connection's "New integration user" wizard. */
const SIDECAR_LOGIN = "sidecar-bench-scale";
const BATCH = 500;
/**
 * The batch wait of every phase but the slow-publishing ones: a partial batch goes once its
 * oldest event is this old, so calls follow each other as fast as Odoo answers them.
 */
const WAIT_MS = 20;
/** The connection's own default (`batch_wait_ms` in Odoo), measured beside WAIT_MS at paced rates. */
const DEFAULT_WAIT_MS = 1_000;
/**
 * The connection's default send-at size (`batch_send_at` in Odoo): with the default wait, a
 * partial batch goes once this many events are queued. The runs with the 20 ms wait send none
 * earlier (0); at 200/s the default wait is also measured with it off, as before it existed.
 */
const DEFAULT_SEND_AT = 100;
/** Catch-up mode: from this backlog on, the largest batches (MAX_INGEST_BATCH today). */
const CATCHUP_BACKLOG = 5_000;
const CATCHUP_SIZE = 1_000;
/** The delivery of the backlog drains and the latency runs: 2 partitions, catch-up mode configured. */
const CATCHUP_PARTITIONS: ScaleSettings = { partitions: 2, catchupBacklog: CATCHUP_BACKLOG, catchupSize: CATCHUP_SIZE };
const HOUR_BACKLOG = 360_000;
/** The demo plant's work centers (makePlant) and the time between two events of one (eventsOf). */
const STREAMS = 4;
const STEP_MS = 7_000;

/**
 * The delivery settings of issue #18 (`batch.partitions`, `batch.catchup_backlog`,
 * `batch.catchup_size` of the contract). What the delivery really did with
 * them is measured (the probe's calls in flight, catch-up switching on), not assumed.
 */
type ScaleSettings = Required<Pick<DeliverySettings, "partitions">> &
  Pick<DeliverySettings, "catchupBacklog" | "catchupSize"> & {
    /** false: each work center its own partition (Delivery's `affinity`). */
    affinity?: boolean;
    /** `batch.wait_ms` (default WAIT_MS). */
    waitMs?: number;
    /** `batch.send_at` (default 0: none). */
    sendAt?: number;
  };

/** What the Delivery itself takes of `scale` (the batch wait goes through the sidecar config). */
function deliverySettings({
  waitMs: _waitMs,
  sendAt: _sendAt,
  ...settings
}: ScaleSettings): Omit<ScaleSettings, "waitMs" | "sendAt"> {
  return settings;
}

function sidecarConfig(scale: ScaleSettings): SidecarConfig {
  return {
    code: CONNECTION,
    revision: 1,
    skew: { bound_ms: 0, correct: false },
    sources: [],
    batch: {
      size: BATCH,
      wait_ms: scale.waitMs ?? WAIT_MS,
      send_at: scale.sendAt ?? 0,
      partitions: scale.partitions,
      catchup_backlog: scale.catchupBacklog ?? 0,
      catchup_size: scale.catchupSize ?? 0,
    },
  } as unknown as SidecarConfig;
}

/** One Odoo server of the bench, with its CPU meters. */
interface Server {
  odoo: OdooServer;
  workers: number;
  admin: Rpc;
  /** The integration user's API key (the sidecar's ODOO_API_KEY). */
  sidecarKey: string;
  odooCpu: TreeCpuMeter;
  pgCpu: PidSetCpuMeter;
  /** When the next run's first event is: runs share the work centers, whose time logs only go forward. */
  nextEpoch: number;
}

/** The epoch of a run of `count` events on `server`; the next run starts an hour after its last event. */
function takeEpoch(server: Server, count: number): number {
  const epoch = server.nextEpoch;
  server.nextEpoch += (Math.ceil(count / STREAMS) + 1) * STEP_MS + 3_600_000;
  return epoch;
}

async function startServer(ctx: BenchContext, workers: number): Promise<Server> {
  ctx.log(`starting Odoo 18 with the module, --workers=${workers}…`);
  const odoo = await startOdoo({
    db: `sfb_bench_scale_${process.pid}_w${workers}`,
    workers,
    log: ctx.log,
    // One cron thread, as in production: the retry cron applies what an ingest call's apply budget deferred.
    extraArgs: ["--max-cron-threads=1"],
  });
  try {
    const admin = await connect(odoo.url, odoo.db, odoo.login, odoo.password);
    const root = rootWithArg(`--http-port=${odoo.port}`, listProcesses());
    return {
      odoo,
      workers,
      admin,
      sidecarKey: await integrationKey(admin, CONNECTION, SIDECAR_LOGIN),
      odooCpu: new TreeCpuMeter(root.pid),
      pgCpu: new PidSetCpuMeter(() => backendPids(odoo.db)),
      nextEpoch: EPOCH,
    };
  } catch (err) {
    await odoo.destroy();
    throw err;
  }
}

/** The bench events of `tag` in Odoo, counted by state. */
async function odooStates(admin: Rpc, tag: string): Promise<Record<string, number>> {
  const rows = await admin.kw<{ state: string; __count: number }[]>(
    "shopfloor.event",
    "read_group",
    [[["event_uid", "=like", `${tag}-%`]], ["state"], ["state"]],
    { lazy: false },
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.__count]));
}

/** Why events of `tag` are not applied, grouped: "×count type state: error". */
async function notApplied(admin: Rpc, tag: string): Promise<string[]> {
  const rows = await admin.kw<{ type: string; state: string; error_message: string | false }[]>(
    "shopfloor.event",
    "search_read",
    [
      [
        ["event_uid", "=like", `${tag}-%`],
        ["state", "!=", "applied"],
      ],
    ],
    { fields: ["type", "state", "error_message"], limit: 500 },
  );
  const reasons = new Map<string, number>();
  for (const e of rows) {
    const key = `${e.type} ${e.state}: ${String(e.error_message || "").slice(0, 160)}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return [...reasons].map(([reason, n]) => `×${n} ${reason}`);
}

/** CPU seconds of Odoo and of the bench database's backends while `work` runs. */
async function withCpu<T>(
  server: Server,
  work: () => Promise<T>,
): Promise<{ result: T; odooSeconds: number; pgSeconds: number; pgLost: number }> {
  server.odooCpu.reset();
  server.pgCpu.reset();
  const result = await work();
  const pg = server.pgCpu.read();
  return { result, odooSeconds: server.odooCpu.seconds(), pgSeconds: pg.seconds, pgLost: pg.lost };
}

/** A spool, pipeline and probed delivery to one server, as the sidecar runs them. */
interface Chain {
  spool: SqliteSpool;
  pipeline: Pipeline;
  probe: IngestProbe;
  delivery: Delivery;
  /** The delivery switched catch-up mode on at least once. */
  catchupSeen: boolean;
  close(): Promise<void>;
}

function makeChain(server: Server, scale: ScaleSettings): Chain {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-scale-"));
  const spool = new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL });
  const config = sidecarConfig(scale);
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
  const odooClient = new JsonRpcOdooClient({
    url: server.odoo.url,
    db: server.odoo.db,
    user: SIDECAR_LOGIN,
    apiKey: server.sidecarKey,
    timeoutMs: 600_000,
  });
  const probe = new IngestProbe(odooClient);
  const chain: Chain = {
    spool,
    pipeline,
    probe,
    catchupSeen: false,
    delivery: undefined as unknown as Delivery,
    close: async () => {
      await chain.delivery.stop();
      await spool.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  chain.delivery = new Delivery({
    spool,
    odoo: probe.client,
    batchSize: config.batch.size,
    batchWaitMs: config.batch.wait_ms,
    batchSendAt: config.batch.send_at ?? 0,
    ...deliverySettings(scale),
    onCatchup: (on) => {
      if (on) chain.catchupSeen = true;
    },
  });
  return chain;
}

/** Spools events as a source would hand them over (raw bytes, validated and stamped by the pipeline). */
async function spoolAll(pipeline: SourceSink, events: CloudEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1_000) {
    const receivedAt = new Date();
    await pipeline.accept(
      events.slice(i, i + 1_000).map((e) => ({
        kind: "raw" as const,
        payload: Buffer.from(JSON.stringify(e)),
        origin: `shopfloor/${e.source}`,
        receivedAt,
      })),
    );
  }
}

interface DrainRun {
  spooled: number;
  applied: number;
  seconds: number;
  /** The budget ran out before the spool was empty. */
  cut: boolean;
  /** Catch-up mode switched on during the drain. */
  catchup: boolean;
  probe: IngestProbeStats;
  odooSeconds: number;
  pgSeconds: number;
  pgLost: number;
  /** Calls Odoo ran again after a serialization failure (its log), and calls the sidecar retried whole (`retry`). */
  odooRetries: number;
  sidecarRetries: number;
}

/** SERIALIZATION_FAILURE retries Odoo logged since byte `from` of its log. */
function serializationRetries(logFile: string, from: number): number {
  const text = readFileSync(logFile).subarray(from).toString("utf8");
  return text.match(/SERIALIZATION_FAILURE/g)?.length ?? 0;
}

/**
 * Spools `count` events of a fresh plant with delivery stopped, then starts
 * the delivery and times it until the spool is empty or `budgetS` has passed.
 */
async function drain(
  ctx: BenchContext,
  server: Server,
  scale: ScaleSettings,
  tag: string,
  count: number,
  budgetS: number,
  line2Bom?: number,
): Promise<DrainRun> {
  const events = interleave(await makePlant(server.admin, tag, line2Bom), tag, count, takeEpoch(server, count));
  const chain = makeChain(server, scale);
  try {
    await spoolAll(chain.pipeline, events);
    const queued = (await chain.spool.stats()).queued;
    if (queued !== count) throw new Error(`spooled ${queued} of ${count} events of ${tag}`);
    const label = `${tag}: draining ${count.toLocaleString()} events`;
    const logFrom = statSync(server.odoo.logFile).size;
    const measured = await withCpu(server, async () => {
      const started = performance.now();
      const deadline = started + budgetS * 1000;
      chain.delivery.start();
      let left = count;
      while (left > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        left = (await chain.spool.stats()).queued;
        ctx.progress(label, count - left, count);
      }
      // Lets the batches in flight finish: what they applied counts, and their time too.
      await chain.delivery.stop();
      // What an ingest call's apply budget left pending is applied by the next
      // call of its work centers or by the retry cron: the drain ends when Odoo
      // has applied it (or the budget runs out), not when the spool is empty.
      let states = await odooStates(server.admin, tag);
      while ((states.pending ?? 0) > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        states = await odooStates(server.admin, tag);
      }
      return {
        seconds: (performance.now() - started) / 1000,
        cut: left > 0 || (states.pending ?? 0) > 0,
        states,
      };
    });
    const probe = chain.probe.stats();
    const states = measured.result.states;
    const run: DrainRun = {
      spooled: count,
      applied: states.applied ?? 0,
      seconds: measured.result.seconds,
      cut: measured.result.cut,
      catchup: chain.catchupSeen,
      probe,
      odooSeconds: measured.odooSeconds,
      pgSeconds: measured.pgSeconds,
      pgLost: measured.pgLost,
      odooRetries: serializationRetries(server.odoo.logFile, logFrom),
      sidecarRetries: chain.delivery.counters.conflicts,
    };
    ctx.log(
      `${tag} (${scale.partitions} partition(s) asked, Odoo --workers=${server.workers}): ${run.applied}/${count} applied in ` +
        `${run.seconds.toFixed(1)} s = ${(run.applied / run.seconds).toFixed(0)} events/s${run.cut ? " (budget hit)" : ""}; ` +
        `in Odoo ${JSON.stringify(states)}; ${probe.calls} ingest calls answered ${JSON.stringify(probe.statuses)}, ` +
        `in flight max ${probe.maxInFlight} mean ${probe.meanInFlight.toFixed(2)}${run.catchup ? ", catch-up mode on" : ""}; CPU Odoo ${run.odooSeconds.toFixed(1)} s, ` +
        `PostgreSQL ${run.pgSeconds.toFixed(1)} s${run.pgLost ? ` (${run.pgLost} backends exited: their last CPU is not counted)` : ""}; ` +
        `serialization failures retried by Odoo ${run.odooRetries}, calls retried by the sidecar ${run.sidecarRetries}` +
        `${scale.affinity === false ? " (affinity off)" : `; work-center groups ${chain.delivery.affinity.groups}`}`,
    );
    for (const line of await notApplied(server.admin, tag)) ctx.log(`  not applied ${line}`);
    if (run.applied === 0)
      throw new Error(`${tag}: Odoo applied none of ${count} events ${JSON.stringify(probe.statuses)}`);
    return run;
  } finally {
    await chain.close();
  }
}

interface LatencyRun {
  /** Line 2 booked materials of its own (two partitions at work), or the demo plant (one). */
  own: boolean;
  rate: number;
  seconds: number;
  p50: number;
  p99: number;
  applied: number;
  published: number;
  maxLagMs: number;
  probe: IngestProbeStats;
  /** `batch.wait_ms` and `batch.send_at` of the run. */
  waitMs: number;
  sendAt: number;
  /** Odoo's and PostgreSQL's CPU seconds from the first publish until the last event applied (or the settle wait ended). */
  odooSeconds: number;
  pgSeconds: number;
  /** That window, in seconds. */
  windowS: number;
}

/**
 * Paced publishing over MQTT into the sidecar's MQTT source, delivered with 2 partitions
 * and a batch wait of `waitMs`; Odoo's CPU is measured over the same time.
 */
async function latency(
  ctx: BenchContext,
  server: Server,
  brokerUrl: string,
  rate: number,
  seconds: number,
  settleS: number,
  line2Bom?: number,
  waitMs = WAIT_MS,
  sendAt = 0,
): Promise<LatencyRun> {
  const tag = `lat${rate}${line2Bom === undefined ? "" : "own"}${waitMs === WAIT_MS ? "" : `w${waitMs}`}${sendAt ? `s${sendAt}` : ""}`;
  const n = rate * seconds;
  const events = interleave(await makePlant(server.admin, tag, line2Bom), tag, n, takeEpoch(server, n));
  const chain = makeChain(server, { ...CATCHUP_PARTITIONS, waitMs, sendAt });
  const source = new MqttSource({ url: brokerUrl, topics: ["shopfloor/scale/#"], clientId: `bench-scale-${tag}` });
  const sink: SourceSink = {
    accept: async (items, state) => {
      const report = await chain.pipeline.accept(items, state);
      chain.delivery.notify();
      return report;
    },
    loadState: (prefix) => chain.pipeline.loadState(prefix),
  };
  const pub = await mqtt.connectAsync(brokerUrl, { clientId: `bench-scale-pub-${tag}` });
  try {
    await source.start(sink);
    chain.delivery.start();
    const publishedAt = new Map<string, number>();
    const bodies = events.map((e) => JSON.stringify(e));
    ctx.log(`publishing ${n.toLocaleString()} events at ${rate}/s for ${seconds} s, ${batching(waitMs, sendAt)}…`);
    const measured = await withCpu(server, async () => {
      const startedAt = performance.now();
      const paced = await runPaced(n, rate, (i) => {
        const event = events[i] as CloudEvent;
        publishedAt.set(event.id, performance.now());
        pub.publish(`shopfloor/scale/${event.source}`, bodies[i] as string, { qos: 1 });
        if (i % rate === 0) ctx.progress(`publishing at ${rate}/s`, i, n);
      });
      const deadline = performance.now() + settleS * 1000;
      while (chain.probe.appliedAt.size < n && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return { paced, startedAt, endedAt: performance.now() };
    });
    const { paced, startedAt, endedAt } = measured.result;
    const windowS = (endedAt - startedAt) / 1000;
    const summary = latencySummary(publishedAt, chain.probe.appliedAt, endedAt);
    const probe = chain.probe.stats();
    ctx.log(
      `${rate}/s, ${batching(waitMs, sendAt)}: applied ${summary.applied}/${n}, p50 ${summary.p50.toFixed(0)} ms, p99 ${summary.p99.toFixed(0)} ms; ` +
        `CPU Odoo ${measured.odooSeconds.toFixed(1)} s, PostgreSQL ${measured.pgSeconds.toFixed(1)} s in ${windowS.toFixed(1)} s; ` +
        `publisher max lag ${paced.maxLagMs.toFixed(0)} ms; in flight max ${probe.maxInFlight}; statuses ${JSON.stringify(probe.statuses)}; ` +
        `${probe.calls} ingest calls; worst latency per second of publishing (ms): ${worstBySecond(
          publishedAt,
          chain.probe.appliedAt,
          endedAt,
        )
          .map((v) => v.toFixed(0))
          .join(" ")}`,
    );
    return {
      own: line2Bom !== undefined,
      rate,
      seconds,
      ...summary,
      maxLagMs: paced.maxLagMs,
      probe,
      waitMs,
      sendAt,
      odooSeconds: measured.odooSeconds,
      pgSeconds: measured.pgSeconds,
      windowS,
    };
  } finally {
    await pub.endAsync();
    await source.stop();
    await chain.close();
  }
}

const round = (v: number, digits = 0) => Number(v.toFixed(digits));

/** How a run batches, for its log lines and figures: the wait, and the send-at size when one is set. */
function batching(waitMs: number, sendAt: number): string {
  const wait = `batch wait ${waitMs.toLocaleString()} ms`;
  if (waitMs !== DEFAULT_WAIT_MS) return sendAt ? `${wait}, send at ${sendAt} events` : wait;
  if (sendAt === DEFAULT_SEND_AT) return `${wait}, send at ${sendAt} events (the connection's defaults)`;
  return `${wait} (the connection's default), ${sendAt ? `send at ${sendAt} events` : "no send-at size"}`;
}

const bench: Benchmark = {
  name: "scale",
  issue: 18,
  async run(ctx) {
    const s = ctx.scale;
    const throughputN = Math.max(500, Math.round(4_000 * s));
    const baselineN = Math.max(40, Math.round(60 * s));
    const backlogN = Math.max(2_000, Math.round(24_000 * s));
    const latencyS = Math.max(5, Math.round(30 * s));
    // Budgets: the whole bench stays bounded even when the apply is slow (a
    // drain cut short says so in its figure and misses its target).
    const throughputBudgetS = Math.max(20, Math.round(30 * s));
    const drainBudgetS = Math.max(30, Math.round(60 * s));
    const settleS = Math.max(10, Math.round(10 * s));

    // (a) Odoo with one HTTP worker: the per-event baseline, then 1 partition.
    const one = await startServer(ctx, 1);
    let baseline: { rate: number; calls: number; odoo: number; pg: number };
    let single: DrainRun;
    try {
      const flow = await withCpu(one, () =>
        runPerEventFlow(
          one.admin,
          "flow",
          baselineN,
          true,
          (done) => ctx.progress("per-event baseline", done, baselineN),
          takeEpoch(one, baselineN),
        ),
      );
      baseline = {
        rate: flow.result.rate,
        calls: flow.result.calls,
        odoo: perThousand(flow.odooSeconds, baselineN),
        pg: perThousand(flow.pgSeconds, baselineN),
      };
      ctx.log(
        `per-event baseline: ${baselineN} events in ${flow.result.seconds.toFixed(1)} s = ${baseline.rate.toFixed(1)} events/s, ` +
          `${baseline.calls.toFixed(1)} calls/event; CPU per 1,000: Odoo ${baseline.odoo.toFixed(1)} s, PostgreSQL ${baseline.pg.toFixed(1)} s`,
      );
      single = await drain(ctx, one, { partitions: 1 }, "p1", throughputN, throughputBudgetS);
    } finally {
      await one.odoo.destroy();
    }

    // (b) Odoo with two HTTP workers: 2 partitions, the backlog drain, the latencies.
    const two = await startServer(ctx, 2);
    let double: DrainRun;
    let doubleFree: DrainRun;
    let doubleOwn: DrainRun;
    let backlog: DrainRun;
    let backlogOwn: DrainRun;
    const latencies: LatencyRun[] = [];
    try {
      double = await drain(ctx, two, { partitions: 2 }, "p2", throughputN, throughputBudgetS);
      // The same with each work center its own partition, as two sidecars would send it: the
      // lines book the same materials, so the partitions conflict in Odoo (retries counted).
      doubleFree = await drain(ctx, two, { partitions: 2, affinity: false }, "p2free", throughputN, throughputBudgetS);
      backlog = await drain(ctx, two, CATCHUP_PARTITIONS, "backlog", backlogN, drainBudgetS);
      const broker = await startMosquitto({
        maxQueuedMessages: 1_000_000,
        extraConfig: ["max_inflight_messages 1000"],
      });
      try {
        for (const rate of [200, 1_000]) latencies.push(await latency(ctx, two, broker.url, rate, latencyS, settleS));
        // What the integration costs Odoo at a moderate rate, and what the connection's default
        // batch wait trades: fewer, larger calls (each call has a fixed cost) for later events.
        latencies.push(await latency(ctx, two, broker.url, 50, latencyS, settleS));
        for (const rate of [50, 200]) {
          latencies.push(
            await latency(ctx, two, broker.url, rate, latencyS, settleS, undefined, DEFAULT_WAIT_MS, DEFAULT_SEND_AT),
          );
        }
        // The default wait without a send-at size, as every call went before there was one.
        latencies.push(await latency(ctx, two, broker.url, 200, latencyS, settleS, undefined, DEFAULT_WAIT_MS, 0));
        // The same plant with line 2 booking materials of its own: no stock row shared, so the
        // affinity deals the two lines out to the two partitions. Last: its BOM stays in this Odoo.
        const line2Bom = await giveLine2OwnMaterials(two.admin);
        doubleOwn = await drain(ctx, two, { partitions: 2 }, "p2own", throughputN, throughputBudgetS, line2Bom);
        backlogOwn = await drain(ctx, two, CATCHUP_PARTITIONS, "backlogown", backlogN, drainBudgetS, line2Bom);
        for (const rate of [200, 1_000]) {
          latencies.push(await latency(ctx, two, broker.url, rate, latencyS, settleS, line2Bom));
        }
      } finally {
        await broker.destroy();
      }
    } finally {
      await two.odoo.destroy();
    }

    const flowBaseline = {
      name: `Node-RED style: 1 event per flow run, ${baseline.calls.toFixed(1)} JSON-RPC calls each, Odoo --workers=1`,
      value: round(baseline.rate, 1),
    };
    const mix = `${throughputN.toLocaleString()} events, realistic mix, 4 work centers`;
    const rateOf = (r: DrainRun) => r.applied / r.seconds;
    const cut = (r: DrainRun) =>
      r.cut ? `, cut at the ${Math.round(r.seconds)} s budget with ${r.applied} applied` : "";
    const throughput = (r: DrainRun, label: string): Figure => ({
      figure: `store+apply events/s through the sidecar's delivery, ${label} (${mix}${cut(r)})`,
      value: round(rateOf(r)),
      unit: "events/s",
      baseline: flowBaseline,
      target: {
        text: "≥ 1,000 events/s and ≥ 10× the per-event baseline",
        met: !r.cut && rateOf(r) >= 1_000 && rateOf(r) >= 10 * baseline.rate,
      },
    });
    const cpuRows = (r: DrainRun, label: string): Figure[] => [
      {
        figure: `Odoo CPU per 1,000 applied events, ${label} (process tree incl. workers, /proc)`,
        value: round(perThousand(r.odooSeconds, r.applied), 2),
        unit: "s",
        baseline: { name: "per-event flow", value: round(baseline.odoo, 2) },
        target: { text: "≤ 1 s (1 ms per event)", met: perThousand(r.odooSeconds, r.applied) <= 1 },
      },
      {
        figure: `PostgreSQL CPU per 1,000 applied events, ${label} (the bench database's backends, /proc)`,
        value: round(perThousand(r.pgSeconds, r.applied), 2),
        unit: "s",
        baseline: { name: "per-event flow", value: round(baseline.pg, 2) },
      },
    ];
    /** How many batches the delivery's client saw in flight at once during run `r`, for a figure's label. */
    const inFlight = (r: { probe: IngestProbeStats }) =>
      r.probe.maxInFlight < 2 ? "1 batch in flight" : `${r.probe.maxInFlight} batches in flight at most`;
    const drainRows = (r: DrainRun, label: string): Figure[] => {
      const minutes = HOUR_BACKLOG / rateOf(r) / 60;
      return [
        {
          figure: `drain rate of a ${backlogN.toLocaleString()}-event spooled backlog, ${r.catchup ? "catch-up mode on" : "catch-up mode configured but never on"}, ${label}, Odoo --workers=2${cut(r)}`,
          value: round(rateOf(r)),
          unit: "events/s",
          baseline: flowBaseline,
        },
        {
          figure: `drain time of a 360,000-event backlog (1 h at 100 events/s), ${label}, extrapolated from the ${backlogN.toLocaleString()}-event drain rate`,
          value: round(minutes, 1),
          unit: "min",
          target: { text: "< 10 min", met: minutes < 10 },
        },
        {
          figure: `ingest calls in flight during that drain, ${label} (mean while any was)`,
          value: round(r.probe.meanInFlight, 2),
          unit: "calls",
        },
        {
          figure: `calls Odoo ran again after a serialization failure during that drain, ${label}`,
          value: r.odooRetries,
          unit: "calls",
        },
      ];
    };
    const figures: Figure[] = [
      throughput(single, "1 partition, Odoo --workers=1"),
      throughput(
        double,
        `2 partitions, work centers sharing an order or a material kept together (the plant's two lines book the same two materials: ${inFlight(double)}), Odoo --workers=2`,
      ),
      throughput(
        doubleFree,
        "2 partitions, each work center its own (affinity off, as two sidecars), Odoo --workers=2",
      ),
      throughput(
        doubleOwn,
        `2 partitions, line 2 booking materials of its own (no stock row shared: the affinity keeps each line together, ${doubleOwn.probe.maxInFlight} batches in flight at most), Odoo --workers=2`,
      ),
      {
        figure: "ingest calls in flight with 2 partitions, each line its own materials (mean while any was)",
        value: round(doubleOwn.probe.meanInFlight, 2),
        unit: "calls",
      },
      {
        figure:
          "ingest calls in flight at once with 2 partitions, affinity off (max seen by the delivery's Odoo client)",
        value: doubleFree.probe.maxInFlight,
        unit: "calls",
        target: { text: "2: both partitions delivered in parallel", met: doubleFree.probe.maxInFlight >= 2 },
      },
      {
        figure: "ingest calls in flight with 2 partitions, affinity off (mean while any was)",
        value: round(doubleFree.probe.meanInFlight, 2),
        unit: "calls",
      },
      ...[doubleFree, double, doubleOwn].flatMap((r): Figure[] => {
        const label =
          r === doubleFree
            ? "2 partitions, affinity off"
            : r === double
              ? "2 partitions, affinity on"
              : "2 partitions, each line its own materials";
        return [
          {
            figure: `calls Odoo ran again after a serialization failure between the partitions, ${label}`,
            value: r.odooRetries,
            unit: "calls",
          },
          { figure: `calls the sidecar retried whole (\`retry\`), ${label}`, value: r.sidecarRetries, unit: "calls" },
        ];
      }),
      ...cpuRows(single, "1 partition, Odoo --workers=1"),
      ...cpuRows(double, "2 partitions, affinity on, Odoo --workers=2"),
      ...cpuRows(doubleFree, "2 partitions, affinity off, Odoo --workers=2"),
      ...cpuRows(doubleOwn, "2 partitions, each line its own materials, Odoo --workers=2"),
      ...drainRows(backlog, `2 partitions (the demo plant: ${inFlight(backlog)})`),
      ...drainRows(backlogOwn, "2 partitions, each line its own materials"),
      ...latencies.flatMap((l): Figure[] => {
        const wait = batching(l.waitMs, l.sendAt);
        const label = `publish → applied over MQTT, ${l.rate}/s for ${l.seconds} s, 2 partitions${l.own ? ", each line its own materials" : " (the demo plant: 1 batch in flight)"}, ${wait}`;
        const missing = l.published - l.applied;
        const note = missing > 0 ? ` (${missing} not applied within ${settleS} s after: counted at that wait)` : "";
        const paced = `publishing ${l.rate}/s for ${l.seconds} s, 2 partitions${l.own ? ", each line its own materials" : " (the demo plant)"}, ${wait}`;
        const cpu = perThousand(l.odooSeconds, l.applied);
        return [
          { figure: `${label}: p50${note}`, value: round(l.p50), unit: "ms" },
          {
            figure: `${label}: p99${note}`,
            value: round(l.p99),
            unit: "ms",
            target:
              l.rate === 200
                ? { text: "p99 < 1 s, all applied", met: l.p99 < 1_000 && missing === 0 }
                : { text: "all applied (no target on p99)", met: missing === 0 },
          },
          {
            figure: `Odoo CPU per 1,000 applied events, ${paced} (process tree incl. workers, /proc, from the first publish to the last event applied)`,
            value: round(cpu, 2),
            unit: "s",
            target: { text: "≤ 1 s (1 ms per event)", met: cpu <= 1 },
          },
          {
            figure: `Odoo's CPU in cores over that time, ${paced} (PostgreSQL: ${(l.pgSeconds / l.windowS).toFixed(2)})`,
            value: round(l.odooSeconds / l.windowS, 2),
            unit: "cores",
          },
        ];
      }),
    ];
    return figures;
  },
};

export default bench;
