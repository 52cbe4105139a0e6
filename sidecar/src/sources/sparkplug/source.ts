// Sparkplug B host application as a sidecar Source. Subscribes to
// `spBv1.0/<group>/#`; as primary host it announces itself with a retained
// STATE (Sparkplug 3.0: JSON {online, timestamp}, with the offline STATE as
// its will) and asks for a Rebirth on a gap or an unknown alias; as passive
// (secondary) host it only listens. It decodes payloads metric by metric,
// keeps alias maps and seq per edge node, and turns mapped metric changes
// into business events through the mapping rules. Unmapped metrics are
// dropped and counted (raw data does not go to Odoo); metrics that do not
// decode reach Odoo as rejected items with their bytes and the reason.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { CloudEvent, MappingRule, SidecarConfig } from "../../core/contract.ts";
import { sparkplugIdProblem } from "../../core/mqtt-text.ts";
import { describeMqttTlsFailure, type MqttTlsSettings, mqttPortMixup, mqttTlsOptions } from "../../core/mqtt-tls.ts";
import { mqttUrlProblem, mqttUrlRefusal } from "../../core/mqtt-url.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { addressesWarning, type EngineResult, RuleEngine } from "../../rules/engine.ts";
import { DEFAULT_KEEPALIVE_S, mqttKeepalive } from "../mqtt.ts";
import {
  type HostOutcome,
  parseTopic,
  REBIRTH_METRIC,
  SPARKPLUG_NAMESPACE,
  SparkplugHostState,
  type SparkplugObservation,
  sparkplugAddressProblem,
} from "./host.ts";
import { encodeSparkplug } from "./payload.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export interface SparkplugSourceOptions {
  /** Connection code (event ids, `connection` extension, rule state prefix). */
  connection: string;
  revision: number;
  url: string;
  groupId: string;
  hostId: string;
  /** `primary` (default): STATE and Rebirth requests. `passive`: listens only; no STATE, no Rebirth requests. */
  role?: "primary" | "passive";
  rules: MappingRule[];
  clientId?: string;
  username?: string;
  password?: string;
  protocolVersion?: 4 | 5;
  /** MQTT keepalive in seconds (the connection's `keepalive_s`; default 60): a silent broker is taken for gone. */
  keepaliveSeconds?: number;
  /** The connection's TLS settings (sidecar_config's mqtt block): CA, verification, client certificate. */
  tls?: MqttTlsSettings;
  /** How long to wait for a BIRTH before asking the same node again. */
  rebirthHoldMs?: number;
  /** How often counter windows are checked for closing. */
  flushIntervalMs?: number;
  /** Messages waiting for the spool beyond this are dropped; the seq check then asks for a Rebirth. */
  maxQueuedMessages?: number;
  log?: SourceLog;
  /** What the host made of each message (observations, historical values, undecodable metrics): for diagnostics and the conformance suite. */
  onOutcome?: (topic: string, outcome: HostOutcome) => void;
}

export function sparkplugOptionsFromConfig(config: SidecarConfig, log?: SourceLog): SparkplugSourceOptions {
  if (!config.mqtt || !config.sparkplug) {
    throw new Error(`connection ${config.code}: kind sparkplug needs the mqtt and sparkplug blocks of sidecar_config`);
  }
  // Sparkplug B forbids + / # in its ids (they are topic levels): an empty group would subscribe to
  // spBv1.0//# and take nothing, a host id with + or # would make a STATE topic no broker takes.
  for (const [label, id] of [
    ["group id", config.sparkplug.group_id],
    ["host id", config.sparkplug.host_id],
  ] as const) {
    // As Odoo's sparkplug_id_error.
    const problem = sparkplugIdProblem(id ?? "");
    if (problem !== undefined) {
      throw new Error(
        `the Sparkplug ${label} ${JSON.stringify(id ?? "")} ${problem}: set it on the connection in Odoo`,
      );
    }
  }
  const urlProblem = mqttUrlProblem(config.mqtt.url);
  if (urlProblem) throw new Error(mqttUrlRefusal(config.mqtt.url, urlProblem));
  const opts: SparkplugSourceOptions = {
    connection: config.code,
    revision: config.revision,
    url: config.mqtt.url,
    groupId: config.sparkplug.group_id,
    hostId: config.sparkplug.host_id,
    role: config.sparkplug.role === "passive" ? "passive" : "primary",
    rules: config.rules.filter((r) => r.protocol === "sparkplug"),
    clientId: config.mqtt.client_id || `sfb-host-${config.sparkplug.host_id}`,
    protocolVersion: config.mqtt.protocol_version,
    keepaliveSeconds: mqttKeepalive(config.mqtt),
    tls: config.mqtt,
  };
  if (config.mqtt.username) opts.username = config.mqtt.username;
  if (config.mqtt.password) opts.password = config.mqtt.password;
  if (log) opts.log = log;
  return opts;
}

export class SparkplugSource implements Source {
  readonly name: string;
  readonly #opts: SparkplugSourceOptions;
  readonly #host: SparkplugHostState;
  readonly #stateTopic: string;
  readonly #primary: boolean;
  /** Addresses of counter rules: transient values must not move a count. */
  readonly #counterAddresses: Set<string>;
  #engine: RuleEngine | undefined;
  #client: MqttClient | undefined;
  #sink: SourceSink | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #stateTimestamp = 0;
  #stopping = false;
  /** Why announcing the host failed (the broker refused its group); "" once it did. */
  #announceFailure = "";
  /** The rule addresses this host never reads (another group, not a metric address), each said why. */
  #unread: string[] = [];
  readonly #counts = {
    received: 0,
    events: 0,
    unmapped_metrics: 0,
    invalid_values: 0,
    queue_drops: 0,
    rebirth_commands_sent: 0,
    transient_not_counted: 0,
    undecodable_reported: 0,
    state_published: 0,
    accept_errors: 0,
  };

  constructor(opts: SparkplugSourceOptions) {
    this.#opts = opts;
    this.name = `sparkplug:${opts.connection}`;
    this.#primary = (opts.role ?? "primary") === "primary";
    this.#host = new SparkplugHostState(opts.groupId, {
      rebirthHoldMs: opts.rebirthHoldMs ?? 5_000,
      requestRebirths: this.#primary,
    });
    this.#stateTopic = `${SPARKPLUG_NAMESPACE}/STATE/${opts.hostId}`;
    this.#counterAddresses = new Set(opts.rules.filter((r) => r.kind === "counter").map((r) => r.address));
  }

  get statePrefix(): string {
    return `sparkplug/${this.#opts.connection}/`;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#engine = await RuleEngine.load(sink, {
      connection: this.#opts.connection,
      revision: this.#opts.revision,
      rules: this.#opts.rules,
      statePrefix: this.statePrefix,
    });
    this.#stateTimestamp = Date.now();
    // A rule of another group, or an address no metric has, would wait for ever: said, not waited on.
    this.#unread = this.#engine
      .addresses()
      .map((address) => sparkplugAddressProblem(address, this.#opts.groupId))
      .filter((problem): problem is string => problem !== undefined);
    for (const problem of this.#unread)
      this.#log("error", `sparkplug: never read: ${problem} (check the mapping rule)`);
    const url = this.#opts.url;
    const options: IClientOptions = {
      // Throws, naming the connection field, for TLS settings that cannot work.
      ...mqttTlsOptions(url, this.#opts.tls),
      clientId: this.#opts.clientId ?? `sfb-host-${this.#opts.hostId}`,
      // Sparkplug 3.0: a host connects with a clean session; BIRTHs are re-requested, not replayed.
      clean: true,
      protocolVersion: this.#opts.protocolVersion ?? 4,
      keepalive: this.#opts.keepaliveSeconds ?? DEFAULT_KEEPALIVE_S,
      reconnectPeriod: 1_000,
    };
    // Only a primary host has a STATE, and so a will announcing it offline.
    if (this.#primary)
      options.will = { topic: this.#stateTopic, payload: this.#statePayload(false), qos: 1, retain: true };
    if (this.#opts.username) options.username = this.#opts.username;
    if (this.#opts.password) options.password = this.#opts.password;
    const client = mqtt.connect(this.#opts.url, options);
    this.#client = client;
    client.on("reconnect", () => {
      // Each connection announces itself with a fresh timestamp; its will must carry the same one.
      this.#stateTimestamp = Date.now();
      if (client.options.will) client.options.will.payload = this.#statePayload(false);
    });
    client.on("message", (topic, payload) => this.#onMessage(topic, payload));
    let lastError: Error | undefined;
    client.on("error", (err) => {
      lastError = describeMqttTlsFailure(err, url, this.#opts.tls) ?? err;
      this.#log("error", `sparkplug ${url}: ${lastError.message}`);
    });
    // Started means subscribed and announced: data published after start() is seen.
    // A TLS handshake the settings made fail will not heal by waiting: it rejects at once.
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `sparkplug: no MQTT connection to ${url} within 30 s` +
                  (lastError ? ` (last error: ${lastError.message})` : ""),
              ),
            ),
          30_000,
        );
        let probed = false;
        client.on("error", (err) => {
          const tlsFailure = describeMqttTlsFailure(err, url, this.#opts.tls);
          if (tlsFailure) {
            clearTimeout(timer);
            reject(tlsFailure);
            return;
          }
          // A reset may be a TLS / plain mix-up: the port is asked once what it speaks.
          if (probed) return;
          probed = true;
          void mqttPortMixup(url, err).then((mixup) => {
            if (!mixup) return;
            clearTimeout(timer);
            reject(mixup);
          });
        });
        client.on("connect", () => {
          void this.#announce(client).then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      });
    } catch (err) {
      this.#client = undefined;
      await client.endAsync(true);
      throw err;
    }
    this.#flushTimer = setInterval(() => this.#enqueue(() => this.#flush()), this.#opts.flushIntervalMs ?? 1_000);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    await this.#chain;
    const client = this.#client;
    if (!client) return;
    if (client.connected && this.#primary) {
      await client.publishAsync(this.#stateTopic, this.#statePayload(false), { qos: 1, retain: true });
    }
    await client.endAsync();
  }

  /** Dies without a goodbye (a crash, a cut cable): the broker publishes the offline STATE will. */
  async abort(): Promise<void> {
    this.#stopping = true;
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    const client = this.#client;
    client?.stream.destroy();
    await client?.endAsync(true);
  }

  /** Connected to the broker (a Sparkplug host's data only flows while it is). */
  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  stats(): Record<string, number> {
    return { ...this.#host.stats, ...this.#counts, queued: this.#queued };
  }

  #statePayload(online: boolean): Buffer {
    return Buffer.from(JSON.stringify({ online, timestamp: this.#stateTimestamp }));
  }

  async #announce(client: MqttClient): Promise<void> {
    try {
      if (!this.#primary) {
        await client.subscribeAsync(`${SPARKPLUG_NAMESPACE}/${this.#opts.groupId}/#`, { qos: 0 });
        this.#announceFailure = "";
        return;
      }
      // Own STATE first (to see a stale offline will), then the group, then say online.
      await client.subscribeAsync(this.#stateTopic, { qos: 1 });
      await client.subscribeAsync(`${SPARKPLUG_NAMESPACE}/${this.#opts.groupId}/#`, { qos: 0 });
      await client.publishAsync(this.#stateTopic, this.#statePayload(true), { qos: 1, retain: true });
      this.#counts.state_published++;
      this.#announceFailure = "";
    } catch (err) {
      // A broker's ACL refusing the group (SUBACK 0x80/0x87) leaves the host reading nothing of it:
      // said on the connection's dashboard tile, not only in the log.
      this.#announceFailure = `announcing host ${this.#opts.hostId} on group ${this.#opts.groupId} failed: ${(err as Error).message}`;
      this.#log("error", `sparkplug: ${this.#announceFailure}`);
    }
  }

  /**
   * For the dashboard, "" when all is read: why the host reads nothing of its group (the broker
   * refused its subscription), and the rule addresses it never reads.
   */
  get warning(): string {
    return [this.#announceFailure, addressesWarning(this.#unread, "never read")].filter(Boolean).join("; ");
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (this.#stopping) return;
    const receivedAt = new Date();
    if (topic === this.#stateTopic) {
      this.#onOwnState(payload);
      return;
    }
    const parsed = parseTopic(topic);
    if (!parsed || parsed.group !== this.#opts.groupId) return;
    this.#counts.received++;
    if (this.#queued >= (this.#opts.maxQueuedMessages ?? 10_000)) {
      this.#counts.queue_drops++;
      return;
    }
    this.#enqueue(async () => {
      const outcome = this.#host.handle(parsed, payload, receivedAt);
      this.#opts.onOutcome?.(topic, outcome);
      if (outcome.rebirth) await this.#requestRebirth(outcome.rebirth.edge, outcome.rebirth.reason);
      else if (outcome.problem) this.#log("warn", `sparkplug ${topic}: ${outcome.problem}`);
      const rejected = this.#rejected(topic, payload, outcome, receivedAt);
      if (rejected.length > 0) {
        // Shown in Odoo as rejected with the bytes and the decoder's reason.
        await this.#accept(rejected, {});
        this.#counts.undecodable_reported += rejected.length;
      }
      const current = outcome.observations.filter((obs) => this.#countable(obs));
      if (current.length > 0) await this.#apply((this.#engine as RuleEngine).observe(current));
    });
  }

  #rejected(topic: string, payload: Buffer, outcome: HostOutcome, receivedAt: Date): Intake[] {
    if (outcome.malformed) {
      const reason = outcome.problem ?? "malformed Sparkplug B payload";
      return [{ kind: "rejected", payload, origin: topic, receivedAt, reason }];
    }
    return outcome.undecoded.map(
      (item): Intake => ({ kind: "rejected", payload: item.bytes, origin: topic, receivedAt, reason: item.reason }),
    );
  }

  /** Transient values (is_transient) are shown to state and trigger rules but never move a counter. */
  #countable(obs: SparkplugObservation): boolean {
    if (!obs.transient || !this.#counterAddresses.has(obs.address)) return true;
    this.#counts.transient_not_counted++;
    return false;
  }

  #onOwnState(payload: Buffer): void {
    let online: unknown;
    try {
      online = (JSON.parse(payload.toString("utf8")) as { online?: unknown }).online;
    } catch {
      online = undefined;
    }
    // Our own will (from an earlier connection) arriving late would declare us dead: say online again.
    if (online === false && this.#client?.connected && !this.#stopping) {
      void this.#client.publishAsync(this.#stateTopic, this.#statePayload(true), { qos: 1, retain: true });
      this.#counts.state_published++;
    }
  }

  async #requestRebirth(edge: string, reason: string): Promise<void> {
    const client = this.#client;
    this.#log("warn", `sparkplug: asking ${this.#opts.groupId}/${edge} for a Rebirth: ${reason}`);
    if (!client?.connected) return;
    const payload = encodeSparkplug({
      timestamp: Date.now(),
      metrics: [{ name: REBIRTH_METRIC, type: "Boolean", value: true }],
    });
    await client.publishAsync(`${SPARKPLUG_NAMESPACE}/${this.#opts.groupId}/NCMD/${edge}`, Buffer.from(payload), {
      qos: 0,
    });
    this.#counts.rebirth_commands_sent++;
  }

  async #flush(): Promise<void> {
    if (this.#engine) await this.#apply(this.#engine.flush(new Date()));
  }

  async #apply(result: EngineResult): Promise<void> {
    this.#counts.unmapped_metrics += result.unmapped;
    this.#counts.invalid_values += result.invalid.length;
    for (const reason of result.invalid) this.#log("warn", `sparkplug: ${reason}`);
    if (result.events.length === 0 && Object.keys(result.state).length === 0) return;
    await this.#accept(
      result.events.map((event: CloudEvent): Intake => ({ kind: "event", event })),
      result.state,
    );
    this.#counts.events += result.events.length;
  }

  /** The rule state already moved on in memory: a failed commit is retried, never skipped. */
  async #accept(items: Intake[], state: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await (this.#sink as SourceSink).accept(items, state);
        return;
      } catch (err) {
        this.#counts.accept_errors++;
        this.#log("error", `sparkplug: spool commit failed (attempt ${attempt}), retrying: ${(err as Error).message}`);
        if (this.#stopping && attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queued++;
    this.#chain = this.#chain
      .then(work)
      .catch((err: unknown) => {
        this.#counts.accept_errors++;
        this.#log("error", `sparkplug: ${(err as Error).message}`);
      })
      .finally(() => {
        this.#queued--;
      });
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }
}
