// Prometheus metrics and the ops endpoints: /metrics, /healthz, /livez, /readyz.
//
// Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/):
// every family of ours starts with `shopfloor_sidecar_`, counters are
// counters and end in `_total`, times are in seconds (`_seconds`), sizes in
// bytes (`_bytes`). The Node process metrics of `collectDefaultMetrics` keep
// their standard names (`process_*`, `nodejs_*`), as every Prometheus client
// library exports them, so stock dashboards read them. ops/metrics.test.ts
// checks these rules on the scraped text; sidecar/README.md has the table.
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { Redactor } from "../core/secrets.ts";
import type { CheckpointStats } from "../spool/checkpointer.ts";
import type { SpoolDepth } from "../spool/spool.ts";

export const METRIC_PREFIX = "shopfloor_sidecar_";
const P = METRIC_PREFIX;

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly buildInfo = new Gauge({
    name: `${P}build_info`,
    help: "Always 1; the sidecar's version in its label",
    labelNames: ["version"],
    registers: [this.registry],
  });
  readonly eventsIn = new Counter({
    name: `${P}events_in_total`,
    help: "Items taken into the spool, by kind (event | rejected)",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly eventsOut = new Counter({
    name: `${P}events_out_total`,
    help: "Items Odoo stored, by the status it answered",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly duplicatesIn = new Counter({
    name: `${P}duplicates_in_total`,
    help: "Input the spool already held under the same (source, id): resends and redeliveries, not sent again",
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: `${P}events_rejected_total`,
    help: "Input that failed validation and goes to Odoo as rejected",
    registers: [this.registry],
  });
  readonly scopeDropped = new Counter({
    name: `${P}scope_dropped_total`,
    help: "Raw data points no mapping rule asks for, dropped by scope",
    labelNames: ["protocol"],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: `${P}http_requests_total`,
    help: "Requests the HTTP intake answered, by status (2xx only after the spool commit)",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly httpAuthFailures = new Counter({
    name: `${P}http_auth_failures_total`,
    help: "HTTP intake requests refused for their bearer token, by why (missing | unknown)",
    labelNames: ["why"],
    registers: [this.registry],
  });
  readonly spoolDepth = new Gauge({
    name: `${P}spool_depth`,
    help: `Items queued in the spool for delivery to Odoo (parked ones are ${P}spool_parked)`,
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({
    name: `${P}spool_bytes`,
    help: "Bytes of items queued in the spool for delivery to Odoo",
    registers: [this.registry],
  });
  readonly spoolParked = new Gauge({
    name: `${P}spool_parked`,
    help: "Items taken out of delivery (failed too often, or parked by a person) until unparked or skipped",
    registers: [this.registry],
  });
  readonly spoolSkipped = new Gauge({
    name: `${P}spool_skipped`,
    help: "Items a person gave up (spool skip), kept for the retention window, never delivered",
    registers: [this.registry],
  });
  readonly backpressure = new Gauge({
    name: `${P}spool_waiting_appends`,
    help: "Appends waiting for spool space (backpressure to the sources)",
    registers: [this.registry],
  });
  readonly checkpointThread = new Gauge({
    name: `${P}spool_checkpoint_thread`,
    help: "1 while the spool's checkpoint thread runs; 0 after it failed (the commits then checkpoint on their own)",
    registers: [this.registry],
  });
  readonly checkpointRounds = new Counter({
    name: `${P}spool_checkpoint_rounds_total`,
    help: "Rounds of the spool's checkpoint thread (one when something was committed since the last)",
    registers: [this.registry],
  });
  readonly checkpointBehind = new Counter({
    name: `${P}spool_checkpoint_behind_total`,
    help: "Checkpoint rounds that left WAL frames behind: the appends outran eight checkpoints in a row",
    registers: [this.registry],
  });
  readonly batchDuration = new Histogram({
    name: `${P}batch_duration_seconds`,
    help: "Duration of one ingest call to Odoo",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly deliveryFailures = new Counter({
    name: `${P}delivery_failures_total`,
    help: "Ingest calls that failed in transport (retried with backoff)",
    registers: [this.registry],
  });
  readonly deliveryConflicts = new Counter({
    name: `${P}delivery_conflicts_total`,
    help: "Ingest calls retried whole because the database kept a concurrent update (Odoo's own retries spent)",
    registers: [this.registry],
  });
  readonly deliveryInFlight = new Gauge({
    name: `${P}delivery_in_flight`,
    help: "Ingest calls in flight now (at most the configured partitions)",
    registers: [this.registry],
  });
  readonly deliveryPartitions = new Gauge({
    name: `${P}delivery_partitions`,
    help: "Batches delivery may have in flight at once, each with whole work centers",
    registers: [this.registry],
  });
  readonly catchup = new Gauge({
    name: `${P}catchup`,
    help: "1 while delivery runs in catch-up mode (large backlog: the largest batches Odoo takes)",
    registers: [this.registry],
  });
  readonly drainSeconds = new Gauge({
    name: `${P}backlog_drain_seconds`,
    help: "Estimated time to deliver the queued backlog at the last minute's rate (NaN while nothing drains)",
    registers: [this.registry],
  });
  readonly odooUp = new Gauge({
    name: `${P}odoo_up`,
    help: "1 when the last ingest call to Odoo succeeded",
    registers: [this.registry],
  });
  readonly clockOffset = new Gauge({
    name: `${P}clock_offset_seconds`,
    help: "Estimated offset of Odoo's clock to the sidecar's (Odoo - local)",
    registers: [this.registry],
  });
  readonly skew = new Gauge({
    name: `${P}source_skew_seconds`,
    help: "Median skew (observed - event time) per source",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly sourceConnected = new Gauge({
    name: `${P}source_connected`,
    help: "1 while the source is connected (a running source that does not report its connection counts), 0 otherwise; by the connection's kind",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly lastHeartbeatOk = new Gauge({
    name: `${P}last_heartbeat_ok_timestamp_seconds`,
    help: "Unix time of the last heartbeat Odoo answered (0 before the first)",
    registers: [this.registry],
  });
  readonly configRevision = new Gauge({
    name: `${P}config_revision`,
    help: "Mapping revision in force",
    registers: [this.registry],
  });
  /** The last scope-drop total each protocol's source reported (sources count from 0 after a reload). */
  readonly #scopeDroppedSeen = new Map<string, number>();
  /** The checkpoint thread's counts at the last scrape. */
  #checkpointsSeen = { rounds: 0, behind: 0 };

  constructor(version: string) {
    this.buildInfo.set({ version }, 1);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The spool gauges from the spool's in-memory counters (SqliteSpool#depth), before each scrape. */
  setSpool(depth: SpoolDepth): void {
    this.spoolDepth.set(depth.queued);
    this.spoolBytes.set(depth.queuedBytes);
    this.spoolParked.set(depth.parked);
    this.spoolSkipped.set(depth.skipped);
    this.backpressure.set(depth.waitingAppends);
  }

  /** The checkpoint thread's figures (SqliteSpool#checkpoints), before each scrape; nothing without a thread. */
  setCheckpoints(stats: CheckpointStats | undefined): void {
    if (!stats) return;
    this.checkpointThread.set(stats.failed === undefined ? 1 : 0);
    const seen = this.#checkpointsSeen;
    this.checkpointRounds.inc(addedSince(seen.rounds, stats.rounds));
    this.checkpointBehind.inc(addedSince(seen.behind, stats.behind));
    this.#checkpointsSeen = { rounds: stats.rounds, behind: stats.behind };
  }

  /** The delivery gauges, before each scrape; `etaS` undefined while nothing drains. */
  setDelivery(d: { inFlight: number; partitions: number; catchup: boolean; etaS: number | undefined }): void {
    this.deliveryInFlight.set(d.inFlight);
    this.deliveryPartitions.set(d.partitions);
    this.catchup.set(d.catchup ? 1 : 0);
    this.drainSeconds.set(d.etaS ?? Number.NaN);
  }

  /** One ingest call took `ms` milliseconds. */
  observeBatchMs(ms: number): void {
    this.batchDuration.observe(ms / 1000);
  }

  /** The source's connection (`connected` null: it does not say, a running source counts) and Odoo's last heartbeat, before each scrape. */
  setLiveness(d: { kind: string; running: boolean; connected: boolean | null; lastHeartbeatOkMs: number }): void {
    this.sourceConnected.reset();
    this.sourceConnected.set({ kind: d.kind }, d.running && d.connected !== false ? 1 : 0);
    this.lastHeartbeatOk.set(d.lastHeartbeatOkMs / 1000);
  }

  setClockOffsetMs(ms: number): void {
    this.clockOffset.set(ms / 1000);
  }

  setSkewMs(source: string, ms: number): void {
    this.skew.set({ source }, ms / 1000);
  }

  /**
   * A source's running total of scope drops, read at each scrape, into the
   * counter: it only grows. A total below the last one is a new source
   * (a reload restarts it from 0): all of it is new.
   */
  scopeDroppedSoFar(protocol: string, total: number): void {
    const added = addedSince(this.#scopeDroppedSeen.get(protocol) ?? 0, total);
    this.#scopeDroppedSeen.set(protocol, total);
    if (added > 0) this.scopeDropped.inc({ protocol }, added);
  }
}

/** What a running total added since it was `seen`: all of it when it is below (it started again from 0). */
function addedSince(seen: number, total: number): number {
  return total >= seen ? total - seen : total;
}

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface Readiness {
  ok: boolean;
  /** Why it is not ready; empty when it is. */
  reasons: string[];
}

export interface OpsServerOptions {
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  /** Address to listen on: loopback unless the operator opens it (METRICS_HOST). */
  host: string;
  health: () => Health;
  /** /readyz; without it /readyz answers as /healthz does. */
  ready?: () => Readiness;
  beforeScrape?: () => Promise<void> | void;
  /** Bodies pass it: a problem on /healthz may quote an error that quoted a URL. */
  redactor?: Redactor;
}

/**
 * Serves /metrics, /healthz (everything that should flow does), /livez (the
 * event loop answers: always 200 while the process can answer at all) and
 * /readyz (200 when ready, else 503 with the reasons).
 */
export async function startOpsServer(
  metrics: SidecarMetrics,
  opts: OpsServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const redactor = opts.redactor ?? new Redactor();
  const json = (res: import("node:http").ServerResponse, ok: boolean, body: unknown) => {
    res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
    res.end(redactor.text(JSON.stringify(body)));
  };
  const server: Server = createServer(async (req, res) => {
    try {
      const path = (req.url ?? "").split("?")[0];
      if (path === "/metrics") {
        await opts.beforeScrape?.();
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(redactor.text(await metrics.registry.metrics()));
      } else if (path === "/healthz") {
        const h = opts.health();
        json(res, h.ok, h);
      } else if (path === "/livez") {
        json(res, true, { ok: true });
      } else if (path === "/readyz") {
        const r = opts.ready?.() ?? readinessOfHealth(opts.health());
        json(res, r.ok, r);
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      res.writeHead(500).end(redactor.text(String(err)));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : opts.port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function readinessOfHealth(h: Health): Readiness {
  const problems = Array.isArray(h.problems) ? (h.problems as string[]) : [];
  return { ok: h.ok, reasons: h.ok ? [] : problems.length ? problems : ["not healthy"] };
}
