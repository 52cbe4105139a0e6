// Prometheus metrics and the /metrics + /healthz endpoint.
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { Redactor } from "../core/secrets.ts";
import type { SpoolDepth } from "../spool/spool.ts";

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly eventsIn = new Counter({
    name: "sidecar_events_in_total",
    help: "Items taken into the spool, by kind (event | rejected)",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly eventsOut = new Counter({
    name: "sidecar_events_out_total",
    help: "Items Odoo stored, by the status it answered",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly duplicatesIn = new Counter({
    name: "sidecar_duplicates_in_total",
    help: "Input the spool already held under the same (source, id): resends and redeliveries, not sent again",
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "sidecar_events_rejected_total",
    help: "Input that failed validation and goes to Odoo as rejected",
    registers: [this.registry],
  });
  readonly scopeDropped = new Gauge({
    name: "sidecar_scope_dropped_total",
    help: "Raw data points no mapping rule asks for, dropped by scope",
    labelNames: ["protocol"],
    registers: [this.registry],
  });
  readonly spoolDepth = new Gauge({
    name: "sidecar_spool_depth",
    help: "Items queued in the spool for delivery to Odoo (parked ones are sidecar_spool_parked)",
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({
    name: "sidecar_spool_bytes",
    help: "Bytes of items queued in the spool for delivery to Odoo",
    registers: [this.registry],
  });
  readonly spoolParked = new Gauge({
    name: "sidecar_spool_parked",
    help: "Items taken out of delivery (failed too often, or parked by a person) until unparked or skipped",
    registers: [this.registry],
  });
  readonly spoolSkipped = new Gauge({
    name: "sidecar_spool_skipped",
    help: "Items a person gave up (spool skip), kept for the retention window, never delivered",
    registers: [this.registry],
  });
  readonly backpressure = new Gauge({
    name: "sidecar_spool_waiting_appends",
    help: "Appends waiting for spool space (backpressure to the sources)",
    registers: [this.registry],
  });
  readonly batchLatency = new Histogram({
    name: "sidecar_batch_seconds",
    help: "Duration of one ingest call to Odoo",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly deliveryFailures = new Counter({
    name: "sidecar_delivery_failures_total",
    help: "Ingest calls that failed in transport (retried with backoff)",
    registers: [this.registry],
  });
  readonly odooUp = new Gauge({
    name: "sidecar_odoo_up",
    help: "1 when the last call to Odoo succeeded",
    registers: [this.registry],
  });
  readonly clockOffset = new Gauge({
    name: "sidecar_clock_offset_ms",
    help: "Estimated offset of Odoo's clock to the sidecar's (Odoo - local)",
    registers: [this.registry],
  });
  readonly skew = new Gauge({
    name: "sidecar_source_skew_ms",
    help: "Median skew (observed - event time) per source",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly configRevision = new Gauge({
    name: "sidecar_config_revision",
    help: "Mapping revision in force",
    registers: [this.registry],
  });

  /** The spool gauges from the spool's in-memory counters (SqliteSpool#depth), before each scrape. */
  setSpool(depth: SpoolDepth): void {
    this.spoolDepth.set(depth.queued);
    this.spoolBytes.set(depth.queuedBytes);
    this.spoolParked.set(depth.parked);
    this.spoolSkipped.set(depth.skipped);
    this.backpressure.set(depth.waitingAppends);
  }
}

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface OpsServerOptions {
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  /** Address to listen on: loopback unless the operator opens it (METRICS_HOST). */
  host: string;
  health: () => Health;
  beforeScrape?: () => Promise<void> | void;
  /** Bodies pass it: a problem on /healthz may quote an error that quoted a URL. */
  redactor?: Redactor;
}

/** Serves /metrics and /healthz. */
export async function startOpsServer(
  metrics: SidecarMetrics,
  opts: OpsServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const redactor = opts.redactor ?? new Redactor();
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.url === "/metrics") {
        await opts.beforeScrape?.();
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(redactor.text(await metrics.registry.metrics()));
      } else if (req.url === "/healthz") {
        const h = opts.health();
        res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" });
        res.end(redactor.text(JSON.stringify(h)));
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
