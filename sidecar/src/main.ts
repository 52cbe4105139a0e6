// The one composition root: bootstrap config → spool, Odoo client, sources,
// pipeline, delivery, heartbeat, ops server. Nothing else wires parts.
import { join } from "node:path";
// A type only (erased): node-opcua is loaded only for the kinds that use it.
import type { ClientSession } from "node-opcua";
import { type BootstrapConfig, ConfigError, DEFAULT_METRICS_HOST } from "./config.ts";
import { backoffDelay } from "./core/backoff.ts";
import { OffsetEstimator, SkewTracker } from "./core/clock.ts";
import { type IngestItem, isProbeable, PLC_KINDS, type PlcKind, type SidecarConfig } from "./core/contract.ts";
import { mqttUrlProblem, mqttUrlRefusal } from "./core/mqtt-url.ts";
import type { Source, SourceSink } from "./core/ports.ts";
import { Redactor } from "./core/secrets.ts";
import { Delivery, type DeliverySettings } from "./delivery.ts";
import type { RunningDispatcher } from "./floor/dispatcher.ts";
import { mqttFilterProblem } from "./mapping/evaluate.ts";
import { MappingStage } from "./mapping/stage.ts";
import { mqttSubscriptions } from "./mapping/subscriptions.ts";
import type { BaseOdooClient } from "./odoo/client.ts";
import { createOdooClient } from "./odoo/connect.ts";
import { codeOf, OdooAuthError } from "./odoo/errors.ts";
import type { Logger } from "./ops/log.ts";
import { SidecarMetrics, startOpsServer } from "./ops/metrics.ts";
import { readiness } from "./ops/readiness.ts";
import { Pipeline } from "./pipeline.ts";
import type { Prober } from "./probe/prober.ts";
import type { SpoolPressure } from "./sources/http/intake.ts";
import { DEFAULT_KEEPALIVE_S, DEFAULT_TOPICS, MqttSource, mqttKeepalive } from "./sources/mqtt.ts";
import type { SpoolLimits } from "./spool/spool.ts";
import { SERVICE_SPOOL, SqliteSpool } from "./spool/sqlite-spool.ts";

export const SIDECAR_VERSION = "0.1.0";

export interface SidecarOptions {
  boot: BootstrapConfig;
  log: Logger;
  spoolLimits?: Partial<SpoolLimits>;
  /** NORMAL survives a killed process; FULL also a power loss (one fsync per group commit). */
  spoolSynchronous?: "NORMAL" | "FULL";
  heartbeatMs?: number;
  /** How often delivered items past retention are purged. */
  purgeMs?: number;
  odooTimeoutMs?: number;
  /** Delivery making no progress this long while items wait makes /healthz unhealthy. */
  stallMs?: number;
  /** The one the process's logger writes through (ops/log.ts): the sidecar registers its secrets there. */
  redactor?: Redactor;
}

/** Said once in the log and always on /healthz when the spool has no key. */
export const NO_SECRET_KEY =
  "no SHOPFLOOR_SECRET_KEY: the configuration is cached without its secrets, so the sources need Odoo to start";

export const DEFAULT_STALL_MS = 5 * 60_000;

/**
 * A degraded state (Odoo down, heartbeat failing) is logged once when it
 * begins and once when it ends, not at every retry: a plant's logs must not
 * fill with the same line every few seconds.
 */
export class DegradationLog {
  readonly #log: Logger;
  readonly #open = new Map<string, { since: number; count: number; code: string }>();
  constructor(log: Logger) {
    this.#log = log;
  }

  failed(what: string, code: string, fields: Record<string, unknown>, message: string): void {
    const open = this.#open.get(what);
    if (open && open.code === code) {
      open.count++;
      this.#log.debug({ ...fields, code, failures: open.count }, message);
      return;
    }
    this.#open.set(what, { since: Date.now(), count: 1, code });
    this.#log.warn({ ...fields, code }, message);
  }

  recovered(what: string, message: string): void {
    const open = this.#open.get(what);
    if (!open) return;
    this.#open.delete(what);
    this.#log.info({ failures: open.count, forMs: Date.now() - open.since }, message);
  }
}

export function spoolPath(spoolDir: string): string {
  return join(spoolDir, "spool.db");
}

/** When Odoo was never reached and nothing is cached: enough to ingest MQTT_URL with the defaults. */
function fallbackConfig(boot: BootstrapConfig): SidecarConfig {
  return {
    code: boot.connection,
    name: boot.connection,
    kind: "mqtt",
    revision: 0,
    server_time: new Date().toISOString(),
    mqtt: {
      url: boot.mqttUrl ?? "",
      topics: DEFAULT_TOPICS,
      client_id: `sfb-${boot.connection}`,
      protocol_version: 5,
      keepalive_s: DEFAULT_KEEPALIVE_S,
      username: "",
      password: "",
      ca: "",
      reject_unauthorized: true,
      client_cert: "",
      client_key: "",
    },
    sparkplug: false,
    opcua: false,
    batch: { size: 500, wait_ms: 200 },
    skew: { bound_ms: 0, correct: false },
    sources: [],
    rules: [],
    dispatch: { poll_interval_ms: 0, targets: [] },
  };
}

/** Bootstrap overrides (MQTT_URL, OPCUA_ENDPOINT, BACKBONE_CONSUMER, HTTP_PORT, FOLDER_PATH) win over what Odoo says. */
export function withOverrides(config: SidecarConfig, boot: BootstrapConfig): SidecarConfig {
  const out: SidecarConfig = structuredClone(config);
  if (boot.httpPort !== undefined && out.http) out.http.port = boot.httpPort;
  if (boot.mqttUrl && out.mqtt) out.mqtt.url = boot.mqttUrl;
  if (boot.mqttUrl && !out.mqtt && out.kind !== "opcua") out.mqtt = fallbackConfig(boot).mqtt;
  if (boot.opcuaEndpoint && out.opcua) out.opcua.endpoint = boot.opcuaEndpoint;
  if (boot.backboneConsumer && out.backbone) out.backbone.consumer = boot.backboneConsumer;
  if (boot.folderPath && out.folder) out.folder.path = boot.folderPath;
  if (out.mqtt && out.mqtt.topics.length === 0) out.mqtt.topics = DEFAULT_TOPICS;
  return out;
}

/**
 * An OPC UA server refusing the sidecar's trust or login does not heal by
 * retrying: it is bad configuration (exit 2), named by the key to fix. The
 * errors are told by name, so node-opcua is not loaded for other kinds.
 */
export function asConfigError(err: unknown, config: SidecarConfig, boot: BootstrapConfig): unknown {
  const name = (err as Error | undefined)?.name;
  const message = (err as Error | undefined)?.message ?? "";
  const where = `connection ${config.code} in Odoo`;
  if (name === "OpcUaTrustError") {
    // The server's certificate is not in the sidecar's trust list: trust it, or point the endpoint elsewhere.
    const key = boot.opcuaEndpoint ? "OPCUA_ENDPOINT" : "opcua_endpoint";
    return new ConfigError(key, `${boot.opcuaEndpoint ? "" : `(${where}) `}${message}`);
  }
  if (name === "MqttTlsError") {
    // Bad TLS settings, or a broker refusing them: named by the connection field to fix.
    const field = (err as { field: string }).field;
    return new ConfigError(field === "mqtt_url" && boot.mqttUrl ? "MQTT_URL" : field, `(${where}) ${message}`);
  }
  if (name === "HttpIntakeConfigError") {
    // Certificate, key, port or address of the HTTP intake: the field to fix (HTTP_PORT when it overrode the port).
    const field = (err as { field: string }).field;
    return new ConfigError(
      field === "http_port" && boot.httpPort !== undefined ? "HTTP_PORT" : field,
      `(${where}) ${message}`,
    );
  }
  if (name === "BackboneConfigError") {
    // A message-queue setting (URL, names, group, credentials, TLS): the backbone field to fix.
    return new ConfigError((err as { field: string }).field, `(${where}) ${message}`);
  }
  if (name === "FolderConfigError" || name === "SqlConfigError") {
    // Historian import: the drop folder or the query (FOLDER_PATH when it overrode the path).
    const field = (err as { field: string }).field;
    return new ConfigError(field === "folder_path" && boot.folderPath ? "FOLDER_PATH" : field, `(${where}) ${message}`);
  }
  if (name === "OpcUaLoginError") {
    const auth = config.opcua ? config.opcua.auth : "anonymous";
    const key = auth === "username" ? "opcua_username / opcua_password" : "opcua_auth";
    return new ConfigError(key, `(${where}, login ${auth}) ${message}`);
  }
  if (name === "PlcConfigError") {
    // The polled PLC's host, port, unit id, rack, slot or timing (sources/plc/config.ts): the plc field to fix.
    return new ConfigError((err as { field: string }).field, `(${where}) ${message}`);
  }
  return err;
}

/** Sparkplug, OPC UA, the message queues and the PLC drivers live in their own folders; loaded only when a connection uses them. */
export async function createProtocolSource(config: SidecarConfig, log: Logger, pkiDir: string): Promise<Source> {
  const sourceLog = (level: "info" | "warn" | "error", message: string) => log[level]({ kind: config.kind }, message);
  if (config.kind === "amqp") {
    const mod = await import("./sources/amqp/source.ts");
    return new mod.AmqpSource(mod.amqpOptionsFromConfig(config, sourceLog));
  }
  if (config.kind === "kafka") {
    const mod = await import("./sources/kafka/source.ts");
    return new mod.KafkaSource(mod.kafkaOptionsFromConfig(config, sourceLog));
  }
  if (config.kind === "redis") {
    const mod = await import("./sources/redis/source.ts");
    return new mod.RedisStreamSource(mod.redisOptionsFromConfig(config, sourceLog));
  }
  // ---- historian import (issue 19): a drop folder of CSV exports, an SQL query with a watermark
  if (config.kind === "folder") {
    const mod = await import("./sources/folder/source.ts");
    return new mod.FolderSource(mod.folderOptionsFromConfig(config, (level, message) => sourceLog(level, message)));
  }
  if (config.kind === "sql") {
    const mod = await import("./sources/sql/source.ts");
    return new mod.SqlSource(mod.sqlOptionsFromConfig(config, (level, message) => sourceLog(level, message)));
  }
  // ---- end historian import
  if (config.kind === "sparkplug") {
    const mod = await import("./sources/sparkplug/source.ts");
    return new mod.SparkplugSource(mod.sparkplugOptionsFromConfig(config, sourceLog));
  }
  if (config.kind === "opcua") {
    const mod = await import("./sources/opcua/source.ts");
    return new mod.OpcUaSource(mod.opcuaOptionsFromConfig(config, pkiDir, sourceLog));
  }
  if (isPlcKind(config.kind)) {
    const { createPlcDriver } = await import("./sources/plc/drivers.ts");
    const mod = await import("./sources/plc/source.ts");
    if (!config.plc)
      throw new Error(`connection ${config.code}: kind ${config.kind} needs the plc block of sidecar_config`);
    const driver = await createPlcDriver(config.kind, config.plc);
    return new mod.PlcSource(mod.plcOptionsFromConfig(config, driver, sourceLog));
  }
  throw new Error(`connection ${config.code}: this sidecar has no source for kind ${JSON.stringify(config.kind)}`);
}

function isPlcKind(kind: SidecarConfig["kind"]): kind is PlcKind {
  return (PLC_KINDS as readonly string[]).includes(kind);
}

/** What the intakes beside the protocol source need of the running sidecar. */
export interface SourcesContext {
  /** How full the spool is: the HTTP intake answers 503 from its high-water mark. */
  spoolPressure?: () => SpoolPressure;
  /** Each HTTP answer's status, and each refused token (metrics). */
  onHttpAnswer?: (status: number) => void;
  onHttpAuthFailure?: (why: "missing" | "unknown") => void;
  /** Why the connection's own source was not made (the sidecar runs on without it, the HTTP intake too). */
  onSourceNotMade?: (reason: string) => void;
}

/** The spool's fill for the HTTP intake: the larger of bytes and items, queued and parked, over capacity. */
export function spoolPressureOf(spool: SqliteSpool): SpoolPressure {
  const depth = spool.depth;
  const { capacityBytes, capacityEvents } = spool.limits;
  const fill = Math.max(
    (depth.queuedBytes + depth.parkedBytes) / capacityBytes,
    (depth.queued + depth.parked) / capacityEvents,
  );
  return { fill, waiting: depth.waitingAppends };
}

/**
 * Every source this connection runs: its protocol source first, then the
 * intakes that run beside any kind (the HTTP intake when configured).
 */
export async function createSources(
  config: SidecarConfig,
  log: Logger,
  pkiDir: string,
  context: SourcesContext = {},
): Promise<Source[]> {
  const sources: Source[] = [];
  const main = await createSource(config, log, pkiDir, context.onSourceNotMade);
  if (main) sources.push(main);
  if (config.http) {
    const { HttpIntake } = await import("./sources/http/intake.ts");
    sources.push(
      new HttpIntake({
        config: config.http,
        connection: config.code,
        payloadMaps: config.payload_maps ?? [],
        revision: config.revision,
        pressure: context.spoolPressure,
        onAnswer: context.onHttpAnswer,
        onAuthFailure: context.onHttpAuthFailure,
        log: (level, fields, message) => log[level](fields, message),
      }),
    );
  }
  return sources;
}

/**
 * The connection's own source, or undefined when its configuration makes none: the reason is
 * logged and handed to `notMade` (the sidecar runs on, its HTTP intake too).
 */
async function createSource(
  config: SidecarConfig,
  log: Logger,
  pkiDir: string,
  notMade: (reason: string) => void = () => {},
): Promise<Source | undefined> {
  try {
    return config.kind === "mqtt" ? mqttSource(config, log) : await createProtocolSource(config, log, pkiDir);
  } catch (err) {
    log.error({ err: (err as Error).message, kind: config.kind }, "cannot create the source for this connection kind");
    notMade((err as Error).message);
    return undefined;
  }
}

function mqttSource(config: SidecarConfig, log: Logger): MqttSource {
  const m = config.mqtt;
  if (!m) throw new Error("the connection has no MQTT block");
  if (!m.url) throw new Error("the connection has no MQTT URL (set it in Odoo or MQTT_URL)");
  const urlProblem = mqttUrlProblem(m.url);
  if (urlProblem) throw new Error(mqttUrlRefusal(m.url, urlProblem));
  // All filters go in one SUBSCRIBE: MQTT.js refuses the whole of it for one misplaced wildcard, and
  // Mosquitto drops the connection for one control character. Such a filter (from an Odoo that did
  // not check them) is left out, logged and shown; the others are read.
  const leftOut: string[] = [];
  const topics = m.topics.filter((filter) => {
    const problem = mqttFilterProblem(filter);
    if (problem !== undefined) {
      leftOut.push(problem);
      log.error(
        { filter, err: problem },
        "topic filter left out of the subscription: fix it on the connection in Odoo",
      );
    }
    return problem === undefined;
  });
  const filters = mqttSubscriptions(topics, config.payload_maps);
  if (filters.length === 0 && leftOut.length > 0) {
    throw new Error(`no topic filter a broker takes: ${leftOut.join("; ")}`);
  }
  return new MqttSource({
    url: m.url,
    topics: filters,
    leftOut,
    clientId: m.client_id,
    protocolVersion: m.protocol_version,
    keepaliveSeconds: mqttKeepalive(m),
    username: m.username,
    password: m.password,
    tls: m,
    onError: (err) => log.warn({ err: err.message }, "mqtt"),
  });
}

/** What of its configuration the source does not read (filters, addresses), for the heartbeat and the dashboard; nothing when it reads it all. */
export function sourceWarningStats(source: Source | undefined): { source_warning?: string } {
  const warning = (source as { warning?: unknown } | undefined)?.warning;
  return typeof warning === "string" && warning !== "" ? { source_warning: warning } : {};
}

/** Why the protocol source cannot read (a polled PLC that is down), for the heartbeat and the dashboard; nothing when it reads. */
export function sourceErrorStats(source: Source | undefined): { source_error?: string } {
  const error = (source as { lastError?: unknown } | undefined)?.lastError;
  return typeof error === "string" && error !== "" ? { source_error: error } : {};
}

export class Sidecar {
  readonly spool: SqliteSpool;
  readonly odoo: BaseOdooClient;
  readonly metrics = new SidecarMetrics(SIDECAR_VERSION);
  readonly offset = new OffsetEstimator();
  readonly skew = new SkewTracker();
  config!: SidecarConfig;
  pipeline!: Pipeline;
  delivery!: Delivery;
  /** Running sources, the connection's protocol source first. */
  sources: Source[] = [];
  /** Planning push-back (Odoo → floor); only while the connection has floor targets. */
  dispatcher: RunningDispatcher | undefined;
  /** Answers browse / read-once requests from Odoo; only for OPC UA and PLC connections. */
  prober: Prober | undefined;
  /** Payload mappings in front of the pipeline; one across reloads (its rule engine reloads itself). */
  #mapping: MappingStage | undefined;
  metricsPort = 0;
  readonly #opts: SidecarOptions;
  readonly #log: Logger;
  #timers: NodeJS.Timeout[] = [];
  #ops: { port: number; close(): Promise<void> } | undefined;
  #stopped = false;
  #reloading: Promise<void> | undefined;
  #lastHeartbeatOk = 0;
  /** Why intake is down (a source that failed to start on a reload), undefined while it runs. */
  #intakeError: string | undefined;
  /** Why the configuration in force made no source of the connection's own kind (createSources), if it made none. */
  #sourceNotMade: string | undefined;
  readonly #degraded: DegradationLog;
  readonly #redactor: Redactor;
  /**
   * Set while the configuration in force is a cached one that lacks its
   * secrets: its sources do not start (they would log in without them)
   * until Odoo answers.
   */
  #secretsMissing: string | undefined;
  #heartbeatInFlight = false;
  #rateMark = { at: Date.now(), taken: 0, delivered: 0 };

  private constructor(opts: SidecarOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#degraded = new DegradationLog(opts.log);
    const b = opts.boot;
    this.#redactor = opts.redactor ?? new Redactor();
    this.#redactor.add(b.odooApiKey, b.secretKey?.toString("base64"), b.secretKey?.toString("hex"));
    if (b.mqttUrl) this.#redactor.addSecretsOf({ url: b.mqttUrl });
    this.spool = new SqliteSpool({
      path: spoolPath(b.spoolDir),
      synchronous: opts.spoolSynchronous,
      ...opts.spoolLimits,
      secretKey: b.secretKey,
      ...SERVICE_SPOOL,
      log: (level, message) => this.#log[level]({}, message),
    });
    this.odoo = createOdooClient(b, opts.odooTimeoutMs ?? 60_000);
    this.odoo.onServerTime = (trip) => {
      this.offset.add(trip);
      this.metrics.setClockOffsetMs(this.offset.offsetMs);
    };
  }

  static async start(opts: SidecarOptions): Promise<Sidecar> {
    const sidecar = new Sidecar(opts);
    try {
      await sidecar.#start();
    } catch (err) {
      await sidecar.stop().catch(() => {});
      throw err;
    }
    return sidecar;
  }

  /** Config from Odoo; when it cannot be reached, the cached one; when none, retry. */
  async #initialConfig(): Promise<SidecarConfig> {
    const boot = this.#opts.boot;
    for (let attempt = 0; ; attempt++) {
      try {
        const config = await this.odoo.sidecarConfig(boot.connection);
        this.#redactor.addSecretsOf(config);
        await this.spool.saveConfig(config);
        return config;
      } catch (err) {
        if (err instanceof OdooAuthError) {
          throw new ConfigError(/check ODOO_DB/.test(err.message) ? "ODOO_DB" : "ODOO_API_KEY", err.message);
        }
        const code = codeOf(err);
        if (code === "not_found") throw new ConfigError("SHOPFLOOR_CONNECTION", (err as Error).message);
        if (code === "forbidden") throw new ConfigError("ODOO_USER", (err as Error).message);
        const cached = await this.spool.loadConfig();
        if (cached) {
          this.#redactor.addSecretsOf(cached.config);
          this.#log.warn(
            { err: (err as Error).message, revision: cached.config.revision },
            "Odoo unreachable: using cached config",
          );
          // What a bootstrap override replaces is not missing.
          const missing = cached.missingSecrets.filter(
            (path) => !(path === "mqtt.url" && boot.mqttUrl) && !(path === "opcua.endpoint" && boot.opcuaEndpoint),
          );
          if (missing.length > 0) {
            this.#secretsMissing = `waiting for Odoo: the cached configuration lacks its secrets (${missing.join(", ")}): ${cached.why}`;
            this.#log.error({ missing, revision: cached.config.revision }, this.#secretsMissing);
          }
          return cached.config;
        }
        if (boot.mqttUrl) {
          this.#log.warn({ err: (err as Error).message }, "Odoo unreachable, no cached config: MQTT_URL with defaults");
          return fallbackConfig(boot);
        }
        const wait = backoffDelay(attempt, { baseMs: 1_000, maxMs: 30_000 });
        this.#log.warn({ err: (err as Error).message, retryInMs: wait }, "Odoo unreachable, no cached config yet");
        await new Promise((r) => setTimeout(r, wait));
        if (this.#stopped) throw new Error("stopped before Odoo answered");
      }
    }
  }

  async #start(): Promise<void> {
    const boot = this.#opts.boot;
    if (!boot.secretKey) this.#log.warn(NO_SECRET_KEY);
    this.config = withOverrides(await this.#initialConfig(), boot);
    this.metrics.configRevision.set(this.config.revision);
    // Bound once: `inc({ kind })` would hash the labels again for every message.
    const eventsIn = this.metrics.eventsIn.labels({ kind: "event" });
    const rejectedIn = this.metrics.eventsIn.labels({ kind: "rejected" });
    this.pipeline = new Pipeline({
      spool: this.spool,
      offset: this.offset,
      skew: this.skew,
      config: this.config,
      onItem: (kind: "event" | "rejected", _item: IngestItem) => {
        if (kind === "event") eventsIn.inc();
        else {
          rejectedIn.inc();
          this.metrics.rejected.inc();
        }
      },
      onDuplicates: (n) => this.metrics.duplicatesIn.inc(n),
    });
    this.delivery = new Delivery({
      spool: this.spool,
      odoo: this.odoo,
      ...deliverySettings(this.config),
      backlog: () => this.spool.depth.queued,
      onBatch: (r) => {
        this.#degraded.recovered("delivery", "delivery to Odoo recovered");
        this.metrics.observeBatchMs(r.ms);
        for (const [status, n] of Object.entries(r.statuses)) this.metrics.eventsOut.inc({ status }, n);
        this.metrics.odooUp.set(1);
      },
      onError: (err, attempt, retryIn, code) => {
        this.metrics.deliveryFailures.inc();
        if (code === "retry") this.metrics.deliveryConflicts.inc();
        this.metrics.odooUp.set(0);
        this.#degraded.failed(
          "delivery",
          code,
          { err: err.message, attempt, retryInMs: retryIn },
          "delivery to Odoo failed; batch kept",
        );
      },
      onResize: (size, reason) => this.#log.info({ batchLimit: size, reason }, "delivery batch size changed"),
      onCatchup: (on, backlog) =>
        on
          ? this.#log.warn(
              { backlog },
              "delivery in catch-up mode: a large backlog goes in the largest batches Odoo takes",
            )
          : this.#log.info({ backlog }, "delivery caught up: back to the configured batch size"),
      onParked: (seqs, error) =>
        this.#log.error(
          { seqs: seqs.slice(0, 20), count: seqs.length, err: error },
          "spool rows parked after too many failed attempts: see `shopfloor-sidecar spool list --state parked`",
        ),
      onSetAside: (entry, fault) => {
        this.#log.error(
          { source: entry.source, id: entry.eventId, err: fault.message },
          "Odoo faulted on this event alone; stored in Odoo as rejected input, the rest of its batch delivered",
        );
      },
    });
    this.delivery.start();
    if (this.#secretsMissing) {
      // The next heartbeat that reaches Odoo reloads the configuration and starts them.
      this.#intakeError = this.#secretsMissing;
    } else {
      await this.#startDispatcher();
      await this.#startSource();
      await this.#startProber();
    }
    const heartbeatMs = this.#opts.heartbeatMs ?? 15_000;
    if (boot.metricsPort > 0) {
      this.#ops = await startOpsServer(this.metrics, {
        port: boot.metricsPort,
        host: boot.metricsHost ?? DEFAULT_METRICS_HOST,
        health: () => this.health(),
        // Odoo answered recently: within three heartbeats (10 s at least).
        ready: () => readiness(this.health(), Date.now(), Math.max(3 * heartbeatMs, 10_000)),
        beforeScrape: () => this.#refreshGauges(),
        redactor: this.#redactor,
      });
      this.metricsPort = this.#ops.port;
    }
    this.#timers.push(setInterval(() => void this.heartbeat(), heartbeatMs));
    this.#timers.push(
      setInterval(
        () =>
          void this.spool
            .purge(Date.now())
            .then((n) => n && this.#log.info({ purged: n }, "purged delivered items past retention")),
        this.#opts.purgeMs ?? 3_600_000,
      ),
    );
    void this.heartbeat();
    this.#log.info(
      { connection: this.config.code, kind: this.config.kind, revision: this.config.revision, spool: boot.spoolDir },
      "sidecar running",
    );
  }

  /** The connection's protocol source (MQTT, Sparkplug, OPC UA), when one runs. */
  get source(): Source | undefined {
    return this.sources[0];
  }

  /** What every source writes to: payload mappings, the pipeline, then a nudge to delivery. */
  #sink(): SourceSink {
    const delivery = this.delivery;
    const pipeline = this.pipeline;
    const stored: SourceSink = {
      accept: async (items, state) => {
        const report = await pipeline.accept(items, state);
        delivery.notify();
        return report;
      },
      loadState: (prefix) => pipeline.loadState(prefix),
    };
    if (this.#mapping) this.#mapping.setConfig(this.config);
    else {
      const log = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) =>
        this.#log[level](fields ?? {}, message);
      this.#mapping = new MappingStage({ sink: stored, config: this.config, log });
    }
    return this.#mapping;
  }

  async #startSource(): Promise<void> {
    this.#sourceNotMade = undefined;
    const sources = await createSources(this.config, this.#log, join(this.#opts.boot.spoolDir, "pki"), {
      spoolPressure: () => spoolPressureOf(this.spool),
      onHttpAnswer: (status) => this.metrics.httpRequests.inc({ status: String(status) }),
      onHttpAuthFailure: (why) => this.metrics.httpAuthFailures.inc({ why }),
      onSourceNotMade: (reason) => {
        this.#sourceNotMade = reason;
      },
    });
    const sink = this.#sink();
    const started: Source[] = [];
    for (const source of sources) {
      try {
        await source.start(sink);
      } catch (err) {
        await source.stop().catch(() => {});
        await Promise.all(started.map((s) => s.stop().catch(() => {})));
        throw asConfigError(err, this.config, this.#opts.boot);
      }
      started.push(source);
      this.#log.info({ source: source.name }, "source started");
    }
    this.sources = started;
  }

  async #stopSources(): Promise<void> {
    const running = this.sources;
    this.sources = [];
    await Promise.all(running.map((s) => s.stop()));
  }

  /** Counters of every source: the protocol source's as `source_*`, the others' under their own name. */
  #sourceStats(): Record<string, number> {
    const out: Record<string, number> = {};
    this.sources.forEach((source, i) => {
      const prefix = i === 0 ? "source" : source.name;
      for (const [k, v] of Object.entries(source.stats())) out[`${prefix}_${k}`] = v;
    });
    return out;
  }

  /**
   * Loaded only when the connection has floor targets: the dispatcher's writers pull in
   * node-opcua and sparkplug-payload (~55 MB of RSS at startup) that a plain MQTT
   * intake never uses.
   */
  async #startDispatcher(): Promise<void> {
    const dispatch = this.config.dispatch;
    if (!dispatch || dispatch.targets.length === 0 || dispatch.poll_interval_ms <= 0) return;
    const { startDispatcher } = await import("./floor/dispatcher.ts");
    if (this.#stopped) return;
    this.dispatcher = startDispatcher({
      odoo: this.odoo,
      config: this.config,
      spoolDir: this.#opts.boot.spoolDir,
      log: this.#log,
    });
  }

  /**
   * Questions from Odoo's tag picker. The OPC UA probe browses on the running
   * source's session when it has one (read at each question, so a reload or a
   * reconnect is followed). node-opcua is loaded only for the kinds that probe.
   */
  async #startProber(): Promise<void> {
    if (!isProbeable(this.config.kind)) return;
    const { startProber } = await import("./probe/start.ts");
    if (this.#stopped) return;
    const prober = await startProber({
      odoo: this.odoo,
      config: this.config,
      pkiDir: join(this.#opts.boot.spoolDir, "pki"),
      liveSession: () => (this.source as { liveSession?: ClientSession } | undefined)?.liveSession,
      plcDriver: async (kind) => (await import("./sources/plc/drivers.ts")).plcDriverFactory(kind),
      log: this.#log,
    });
    // Stopped while the driver loaded: nothing may keep pulling.
    if (this.#stopped) await prober?.stop();
    else this.prober = prober;
  }

  /** The prober's counters for the heartbeat (the connection's stats in Odoo): questions answered, failed, pulls lost. */
  #probeStats(): Record<string, number> {
    const stats = this.prober?.stats;
    if (!stats) return {};
    return {
      probe_pulls: stats.pulls,
      probe_answered: stats.answered,
      probe_failed: stats.failed,
      probe_transport_errors: stats.transportErrors,
    };
  }

  /** Stops answering with the old settings; questions under way finish behind (bounded by their timeout). */
  #stopProber(): void {
    const prober = this.prober;
    this.prober = undefined;
    void prober?.stop().catch((err: Error) => this.#log.warn({ err: err.message }, "probe stop failed"));
  }

  #refreshGauges(): void {
    this.metrics.setSpool(this.spool.depth);
    this.metrics.setCheckpoints(this.spool.checkpoints);
    const drain = this.delivery.drainStats(this.spool.depth.queued);
    this.metrics.setDelivery({
      inFlight: this.delivery.inFlight,
      partitions: this.delivery.partitions,
      catchup: drain.catchup,
      etaS: drain.etaS,
    });
    for (const [source, skew] of this.skew.entries()) this.metrics.setSkewMs(source, skew);
    this.metrics.setLiveness({
      kind: this.config.kind,
      running: Boolean(this.source),
      connected: (this.source as { connected?: boolean } | undefined)?.connected ?? null,
      lastHeartbeatOkMs: this.#lastHeartbeatOk,
    });
    // Rule-driven sources count raw data no rule maps (Sparkplug: unmapped_metrics, OPC UA: unmapped).
    const stats = this.source?.stats() ?? {};
    const dropped = stats.unmapped_metrics ?? stats.unmapped;
    if (typeof dropped === "number") this.metrics.scopeDroppedSoFar(this.config.kind, dropped);
  }

  /**
   * Healthy means input flows: the source runs, delivery progresses while
   * items wait, and nothing is parked. Each reason it is not is listed in
   * `problems`.
   */
  health(): { ok: boolean; problems: string[]; [k: string]: unknown } {
    const depth = this.spool.depth;
    const now = Date.now();
    const problems: string[] = [];
    if (this.#stopped) problems.push("stopped");
    if (this.#intakeError) problems.push(`intake: ${this.#intakeError}`);
    // Kept while a reload runs: until the new source is being made, the old reason still holds.
    else if (this.#sourceNotMade !== undefined && !this.#stopped) {
      problems.push(`intake: no ${this.config.kind} source runs: ${this.#sourceNotMade}`);
    } else if (!this.source && !this.#stopped && !this.#reloading)
      problems.push("intake: no source runs (see the log)");
    const stalled = this.delivery?.stalledMs(now) ?? 0;
    const stallMs = this.#opts.stallMs ?? DEFAULT_STALL_MS;
    if (depth.queued > 0 && stalled > stallMs) {
      problems.push(
        `delivery: no progress for ${Math.round(stalled / 1000)} s with ${depth.queued} items waiting ` +
          `(last error: ${this.delivery.lastErrorCode ?? "none"})`,
      );
    }
    if (depth.parked > 0) {
      problems.push(`spool: ${depth.parked} items parked (shopfloor-sidecar spool list --state parked)`);
    }
    return {
      ok: problems.length === 0,
      problems,
      connection: this.config?.code,
      revision: this.config?.revision,
      odoo_up: this.delivery?.odooUp ?? false,
      breaker: this.delivery?.breaker.state.state,
      spool_depth: depth.queued,
      spool_parked: depth.parked,
      spool_open: this.spool.open,
      delivery_stalled_ms: stalled,
      batch_limit: this.delivery?.batchLimit,
      delivery_in_flight: this.delivery?.inFlight,
      catchup: this.delivery?.catchingUp ?? false,
      backpressure: depth.waitingAppends > 0,
      source: this.source?.name ?? null,
      source_connected: (this.source as { connected?: boolean } | undefined)?.connected ?? null,
      last_heartbeat_ok: this.#lastHeartbeatOk ? new Date(this.#lastHeartbeatOk).toISOString() : null,
      secrets_cache: this.#opts.boot.secretKey ? "encrypted with SHOPFLOOR_SECRET_KEY" : NO_SECRET_KEY,
    };
  }

  stats(): Record<string, number | string | boolean> {
    const depth = this.spool.depth;
    const drain = this.delivery.drainStats(depth.queued);
    const c = this.pipeline.counters;
    const now = Date.now();
    const taken = c.events + c.rejected;
    const delivered = this.delivery.counters.delivered;
    const seconds = Math.max(0.001, (now - this.#rateMark.at) / 1000);
    const rateIn = Math.round(((taken - this.#rateMark.taken) / seconds) * 10) / 10;
    const rateApplied = Math.round(((delivered - this.#rateMark.delivered) / seconds) * 10) / 10;
    this.#rateMark = { at: now, taken, delivered };
    return {
      rate_in: rateIn,
      rate_applied: rateApplied,
      version: SIDECAR_VERSION,
      spool_depth: depth.queued,
      spool_bytes: depth.queuedBytes,
      spool_parked: depth.parked,
      spool_skipped: depth.skipped,
      events_in: c.events,
      rejected_in: c.rejected,
      duplicates_in: c.duplicates,
      delivered: this.delivery.counters.delivered,
      delivery_failures: this.delivery.counters.failures,
      delivery_set_aside: this.delivery.counters.setAside,
      batch_limit: this.delivery.batchLimit,
      delivery_partitions: this.delivery.partitions,
      delivery_conflicts: this.delivery.counters.conflicts,
      // Catch-up: the backlog, the rate it drained at over the last minute, and the time left at that
      // rate (-1 while nothing drains); Odoo's dashboard shows them on the connection's tile.
      catchup: drain.catchup,
      backlog: drain.backlog,
      drain_rate: drain.rate,
      drain_eta_s: drain.etaS ?? -1,
      clock_offset_ms: this.offset.offsetMs,
      max_skew_ms: this.skew.maxAbsSkew(),
      revision: this.config.revision,
      ...this.#sourceStats(),
      ...sourceErrorStats(this.source),
      ...sourceWarningStats(this.source),
      // Odoo's dashboard tile says "Not reading its source" with this reason.
      ...(this.#sourceNotMade === undefined ? {} : { source_connected: 0, source_error: this.#sourceNotMade }),
      ...this.#probeStats(),
      ...this.#mapping?.stats(),
    };
  }

  /** Reports to Odoo; a new revision there triggers a hot reload. */
  async heartbeat(): Promise<void> {
    // One at a time: a slow Odoo must not collect a pile of waiting heartbeats.
    if (this.#stopped || this.#heartbeatInFlight) return;
    this.#heartbeatInFlight = true;
    try {
      const reply = await this.odoo.heartbeat(this.config.code, this.stats());
      this.#lastHeartbeatOk = Date.now();
      this.#degraded.recovered("heartbeat", "heartbeat to Odoo recovered");
      if (reply.revision !== this.config.revision || this.#intakeError !== undefined) await this.reload();
    } catch (err) {
      this.#degraded.failed("heartbeat", codeOf(err), { err: (err as Error).message }, "heartbeat failed");
    } finally {
      this.#heartbeatInFlight = false;
    }
  }

  /**
   * Fetches the config again and restarts the source with it (in-flight input
   * is committed first). The new revision is saved and in force only once its
   * source runs: when it fails to start, the previous configuration's source
   * is started again, /healthz says intake is degraded with the reason, and
   * the next heartbeat tries the reload again.
   */
  async reload(): Promise<void> {
    if (this.#reloading) return this.#reloading;
    this.#reloading = (async () => {
      const fresh = withOverrides(await this.odoo.sidecarConfig(this.config.code), this.#opts.boot);
      this.#redactor.addSecretsOf(fresh);
      const previous = this.config;
      await this.#stopSources();
      await this.dispatcher?.stop();
      this.dispatcher = undefined;
      if (this.#stopped) return;
      this.#apply(fresh);
      try {
        await this.#startSource();
      } catch (err) {
        const reason = `revision ${fresh.revision} could not start its source: ${(err as Error).message}`;
        this.#intakeError = reason;
        this.#log.error({ from: previous.revision, to: fresh.revision, err: (err as Error).message }, "reload failed");
        this.#apply(previous);
        if (this.#secretsMissing) {
          this.#intakeError = `${reason}; the previous configuration lacks its secrets: no source runs`;
          return;
        }
        await this.#startSource().catch((again: Error) => {
          this.#intakeError = `${reason}; the previous revision ${previous.revision} failed too: ${again.message}`;
          this.#log.error({ revision: previous.revision, err: again.message }, "intake is down: no source runs");
        });
        if (this.source) await this.#startDispatcher();
        return;
      }
      this.#intakeError = undefined;
      this.#secretsMissing = undefined;
      await this.spool.saveConfig(fresh);
      await this.#startDispatcher();
      this.#stopProber();
      await this.#startProber();
      this.#log.info({ from: previous.revision, to: fresh.revision }, "configuration reloaded");
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  #apply(config: SidecarConfig): void {
    this.config = config;
    this.pipeline.setConfig(config);
    const settings = deliverySettings(config);
    this.delivery.configure(settings.batchSize, settings.batchWaitMs, settings);
    this.metrics.configRevision.set(config.revision);
  }

  /** Graceful: stop taking input (in-flight commits finish and are acked), finish the batch in flight, close. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#reloading?.catch(() => {});
    await this.#stopSources();
    await this.#mapping?.close();
    await this.delivery?.stop();
    await this.dispatcher?.stop();
    const prober = this.prober;
    this.prober = undefined;
    await prober?.stop();
    await this.#ops?.close();
    await this.spool.close();
    this.#log.info("sidecar stopped");
  }
}

/** Delivery's settings from a connection's configuration (an older Odoo sends no partitions: 1; no send-at size: 0). */
function deliverySettings(config: SidecarConfig): DeliverySettings {
  return {
    batchSize: config.batch.size,
    batchWaitMs: config.batch.wait_ms,
    batchSendAt: config.batch.send_at ?? 0,
    partitions: config.batch.partitions ?? 1,
    catchupBacklog: config.batch.catchup_backlog ?? 0,
    catchupSize: config.batch.catchup_size ?? 0,
  };
}
