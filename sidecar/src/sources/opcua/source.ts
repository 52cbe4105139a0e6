// OPC UA client as a sidecar Source: one session per connection, one
// subscription with explicit publishing interval, lifetime and keep-alive
// counts, one monitored item per address the mapping rules read. Changes of a
// publish are fed to the rule engines together; derived events and the rule
// state that produced them are committed to the spool in one `accept`.
//
// Reconnects build everything anew — client, secure channel, session,
// subscription, monitored items — instead of relying on subscription
// transfer: after a server restart there is nothing left to transfer. The
// first notification of each new item is the tag's current value, which the
// counter rules compare with their persisted baseline: parts counted while
// disconnected are reported once, already-reported ones not again.

import {
  AttributeIds,
  type ClientMonitoredItemBase,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type NodeId,
  type OPCUACertificateManager,
  OPCUAClient,
  StatusCodes,
  TimestampsToReturn,
} from "node-opcua";
import { ConfigError } from "../../config.ts";
import type { CloudEvent, MappingRule, SidecarConfig } from "../../core/contract.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { addressesWarning, type EngineResult, RuleEngine } from "../../rules/engine.ts";
import type { Observation } from "../../rules/types.ts";
import { certificateManager } from "./pki.ts";
import { namespaceTable, resolveAddress } from "./resolve-node.ts";
import {
  explainOpcUaError,
  needsAdmin,
  type OpcUaAuth,
  type OpcUaSecurityMode,
  type OpcUaSecurityPolicy,
  opcuaClientOptions,
  opcuaEndpointProblem,
  opcuaSecurityFromConfig,
  userIdentity,
} from "./security.ts";

import { plainValue } from "./values.ts";

export type { OpcUaAuth } from "./security.ts";
export { OpcUaLoginError } from "./security.ts";
export { plainValue } from "./values.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export interface OpcUaSourceOptions {
  connection: string;
  revision: number;
  endpoint: string;
  securityMode: OpcUaSecurityMode;
  securityPolicy: OpcUaSecurityPolicy;
  auth: OpcUaAuth;
  /** PKI folder: own certificate (created on first run), trusted/ and rejected/ server certificates. */
  pkiDir: string;
  rules: MappingRule[];
  publishingIntervalMs?: number;
  /** 0 = report every change (exception-based), as counters and triggers need. */
  samplingIntervalMs?: number;
  /** Publishing intervals without a publish request before the server drops the subscription. */
  lifetimeCount?: number;
  /** Publishing intervals without changes before the server sends a keep-alive. */
  maxKeepAliveCount?: number;
  /** Changes a monitored item keeps between two publishes (a trigger pulse must not be lost). */
  queueSize?: number;
  /** First reconnect delay; doubles up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long `start` waits for a first session before it goes on and keeps trying in the background. */
  startTimeoutMs?: number;
  flushIntervalMs?: number;
  log?: SourceLog;
}

export function opcuaOptionsFromConfig(config: SidecarConfig, pkiDir: string, log?: SourceLog): OpcUaSourceOptions {
  if (!config.opcua) throw new Error(`connection ${config.code}: kind opcua needs the opcua block of sidecar_config`);
  const o = config.opcua;
  const endpointProblem = opcuaEndpointProblem(o.endpoint);
  if (endpointProblem) throw new ConfigError("opcua_endpoint", endpointProblem);
  const opts: OpcUaSourceOptions = {
    connection: config.code,
    revision: config.revision,
    endpoint: o.endpoint,
    ...opcuaSecurityFromConfig(o, pkiDir),
    pkiDir,
    rules: config.rules.filter((r) => r.protocol === "opcua"),
    publishingIntervalMs: o.publishing_interval_ms,
    samplingIntervalMs: o.sampling_interval_ms,
  };
  if (log) opts.log = log;
  return opts;
}

interface Live {
  generation: number;
  client: OPCUAClient;
  session: ClientSession;
  subscription: ClientSubscription;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class OpcUaSource implements Source {
  readonly name: string;
  readonly #opts: OpcUaSourceOptions;
  #engine: RuleEngine | undefined;
  #sink: SourceSink | undefined;
  #cm: OPCUACertificateManager | undefined;
  #live: Live | undefined;
  #generation = 0;
  #reconnecting: Promise<void> | undefined;
  #wake: () => void = () => {};
  #stopping = false;
  #chain: Promise<void> = Promise.resolve();
  #batch: Observation[] = [];
  #batchScheduled = false;
  #flushTimer: NodeJS.Timeout | undefined;
  /** Why each address the live subscription leaves out is (no node id, refused by the server). */
  #notMonitored: string[] = [];
  readonly #counts = {
    changes: 0,
    events: 0,
    unmapped: 0,
    invalid_values: 0,
    bad_quality: 0,
    sessions: 0,
    reconnects: 0,
    connect_failures: 0,
    accept_errors: 0,
    bad_items: 0,
  };

  constructor(opts: OpcUaSourceOptions) {
    this.#opts = opts;
    this.name = `opcua:${opts.connection}`;
  }

  get statePrefix(): string {
    return `opcua/${this.#opts.connection}/`;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#engine = await RuleEngine.load(sink, {
      connection: this.#opts.connection,
      revision: this.#opts.revision,
      rules: this.#opts.rules,
      statePrefix: this.statePrefix,
    });
    this.#cm = certificateManager(this.#opts.pkiDir);
    await this.#cm.initialize();
    const deadline = Date.now() + (this.#opts.startTimeoutMs ?? 10_000);
    let delay = this.#opts.reconnectDelayMs ?? 500;
    for (;;) {
      try {
        await this.#connect();
        break;
      } catch (err) {
        // Trust, login and configuration problems do not heal by retrying: say so at once.
        if (needsAdmin(err)) throw err;
        if (Date.now() > deadline) {
          // An unreachable PLC must not keep the sidecar from delivering what it spooled: keep trying behind.
          this.#log("error", `opcua ${this.#opts.endpoint}: ${(err as Error).message}; retrying in the background`);
          this.#reconnecting = this.#reconnectLoop(undefined);
          break;
        }
        this.#log("warn", `opcua ${this.#opts.endpoint}: ${(err as Error).message}; retrying`);
        await this.#pause(delay);
        delay = Math.min(delay * 2, this.#opts.maxReconnectDelayMs ?? 10_000);
      }
    }
    this.#flushTimer = setInterval(() => this.#enqueue(() => this.#flush()), this.#opts.flushIntervalMs ?? 1_000);
  }

  /** Waits `ms`, or less when stop() is called. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake();
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    await this.#reconnecting?.catch(() => {});
    await this.#teardown(this.#live);
    this.#live = undefined;
    this.#drainBatch();
    await this.#chain;
    await this.#cm?.dispose();
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  /**
   * The addresses of the rules the live subscription does not monitor, for the heartbeat and the
   * dashboard ("" when it monitors every one): the rest are read.
   */
  get warning(): string {
    return addressesWarning(this.#notMonitored, "not monitored");
  }

  /** A session with its subscription is live (false while one is being re-created). */
  get connected(): boolean {
    return this.#live !== undefined && this.#reconnecting === undefined;
  }

  /** The live session, for browsing and reading once (probe/), so the server sees no second login. */
  get liveSession(): ClientSession | undefined {
    return this.connected ? this.#live?.session : undefined;
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const cm = this.#cm as OPCUACertificateManager;
    // A certificate the admin moved into trusted/ since the last attempt counts now.
    await cm.reloadCertificates();
    const client = OPCUAClient.create({
      ...opcuaClientOptions(this.#opts, cm),
      endpointMustExist: false,
      keepSessionAlive: true,
      requestedSessionTimeout: 60_000,
      // Reconnection is ours (a fresh session and subscription), not the client's.
      connectionStrategy: { maxRetry: 0, initialDelay: 200, maxDelay: 1_000 },
    });
    // A connection that fails while it is being set up is this attempt's failure, not a loss to
    // reconnect from: reacting to it too left a second reconnect loop running behind a refused start.
    let lostEarly: string | undefined;
    const lost = (why: string) => {
      if (this.#live?.generation === generation) this.#lost(generation, why);
      else lostEarly ??= why;
    };
    client.on("connection_lost", () => lost("connection lost"));
    client.on("close", () => lost("connection closed"));
    try {
      await client.connect(this.#opts.endpoint);
    } catch (err) {
      this.#counts.connect_failures++;
      await client.disconnect().catch(() => {});
      throw this.#explain(err as Error);
    }
    let session: ClientSession | undefined;
    try {
      session = await client.createSession(userIdentity(this.#opts.auth));
      session.on("session_closed", () => lost("session closed"));
      const subscription = await session.createSubscription2({
        requestedPublishingInterval: this.#opts.publishingIntervalMs ?? 500,
        requestedLifetimeCount: this.#opts.lifetimeCount ?? 60,
        requestedMaxKeepAliveCount: this.#opts.maxKeepAliveCount ?? 10,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      });
      subscription.on("terminated", () => lost("subscription terminated"));
      subscription.on("status_changed", (status) => {
        if (status !== StatusCodes.Good) lost(`subscription status ${status.toString()}`);
      });
      // An address that is no node id (a typo in one mapping rule: "Line1/Press03/Good" without its
      // ns=2;s=) made monitorItems throw, and every session attempt with it: no rule of the connection
      // read anything. It is left out, said and counted, as an item the server refuses is. Addresses
      // are read strictly (node-id.ts), nsu= ones through this server's namespace table.
      const ruleAddresses = (this.#engine as RuleEngine).addresses();
      const namespaces = await namespaceTable(session, ruleAddresses);
      const notMonitored: string[] = [];
      const addresses: string[] = [];
      const nodeIds: NodeId[] = [];
      for (const address of ruleAddresses) {
        const resolved = resolveAddress(address, namespaces);
        if (resolved.ok) {
          addresses.push(address);
          nodeIds.push(resolved.nodeId);
          continue;
        }
        this.#counts.bad_items++;
        notMonitored.push(resolved.problem);
        this.#log(
          "error",
          `opcua ${this.#opts.endpoint}: cannot monitor: ${resolved.problem} (check the mapping rule's address)`,
        );
      }
      // A connection without rules yet (its admin is browsing for the first) keeps a session and an empty
      // subscription: the server answers an empty CreateMonitoredItems with BadNothingToDo.
      const group =
        addresses.length === 0
          ? undefined
          : await subscription.monitorItems(
              nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })),
              {
                samplingInterval: this.#opts.samplingIntervalMs ?? 0,
                queueSize: this.#opts.queueSize ?? 1_000,
                discardOldest: false,
              },
              TimestampsToReturn.Both,
            );
      group?.monitoredItems.forEach((item: ClientMonitoredItemBase, index: number) => {
        if (item.statusCode.isNotGood()) {
          this.#counts.bad_items++;
          notMonitored.push(`${addresses[index]}: ${item.statusCode.name}`);
          this.#log(
            "error",
            `opcua ${this.#opts.endpoint}: cannot monitor ${addresses[index]}: ${item.statusCode.toString()} (check the mapping rule's address)`,
          );
        }
      });
      group?.on("changed", (_item: ClientMonitoredItemBase, dataValue: DataValue, index: number) => {
        if (generation !== this.#generation) return;
        this.#onChange(addresses[index] as string, dataValue);
      });
      this.#notMonitored = notMonitored;
      this.#live = { generation, client, session, subscription };
      this.#counts.sessions++;
      if (lostEarly) this.#lost(generation, lostEarly);
      this.#log(
        "info",
        `opcua ${this.#opts.endpoint}: subscribed to ${addresses.length} items (session ${this.#counts.sessions})`,
      );
    } catch (err) {
      await session?.close().catch(() => {});
      await client.disconnect().catch(() => {});
      throw this.#explain(err as Error);
    }
  }

  #explain(err: Error): Error {
    return explainOpcUaError(err, this.#opts);
  }

  #lost(generation: number, why: string): void {
    if (this.#stopping || generation !== this.#generation || this.#reconnecting) return;
    this.#counts.reconnects++;
    this.#log("warn", `opcua ${this.#opts.endpoint}: ${why}; re-creating session and subscription`);
    const old = this.#live;
    this.#live = undefined;
    // Changes already received belong to the old session: hand them over before anything new.
    this.#drainBatch();
    this.#reconnecting = this.#reconnectLoop(old);
  }

  async #reconnectLoop(old: Live | undefined): Promise<void> {
    try {
      await this.#teardown(old);
      let delay = this.#opts.reconnectDelayMs ?? 500;
      while (!this.#stopping) {
        try {
          await this.#connect();
          return;
        } catch (err) {
          this.#log("error", `opcua ${this.#opts.endpoint}: reconnect failed: ${(err as Error).message}`);
          await this.#pause(delay);
          delay = Math.min(delay * 2, this.#opts.maxReconnectDelayMs ?? 10_000);
        }
      }
    } finally {
      this.#reconnecting = undefined;
    }
  }

  async #teardown(live: Live | undefined): Promise<void> {
    if (!live) return;
    // The server may be gone: bound every goodbye.
    const bounded = (p: Promise<unknown>) => Promise.race([p.catch(() => {}), sleep(2_000)]);
    await bounded(live.subscription.terminate());
    await bounded(live.session.close());
    await bounded(live.client.disconnect());
  }

  #onChange(address: string, dataValue: DataValue): void {
    this.#counts.changes++;
    if (!dataValue.statusCode.isGood()) {
      this.#counts.bad_quality++;
      return;
    }
    const receivedAt = new Date();
    this.#batch.push({
      address,
      value: plainValue(dataValue.value),
      sourceTime: dataValue.sourceTimestamp ?? dataValue.serverTimestamp ?? receivedAt,
      receivedAt,
    });
    // All changes of one publish response arrive in the same tick: take them as one batch.
    if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(() => this.#drainBatch());
    }
  }

  #drainBatch(): void {
    this.#batchScheduled = false;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#enqueue(async () => this.#apply((this.#engine as RuleEngine).observe(batch)));
  }

  async #flush(): Promise<void> {
    if (this.#engine) await this.#apply(this.#engine.flush(new Date()));
  }

  async #apply(result: EngineResult): Promise<void> {
    this.#counts.unmapped += result.unmapped;
    this.#counts.invalid_values += result.invalid.length;
    for (const reason of result.invalid) this.#log("warn", `opcua: ${reason}`);
    if (result.events.length === 0 && Object.keys(result.state).length === 0) return;
    const items = result.events.map((event: CloudEvent): Intake => ({ kind: "event", event }));
    for (let attempt = 1; ; attempt++) {
      try {
        await (this.#sink as SourceSink).accept(items, result.state);
        break;
      } catch (err) {
        // The engine has moved on in memory: a failed commit is retried, never skipped.
        this.#counts.accept_errors++;
        this.#log("error", `opcua: spool commit failed (attempt ${attempt}), retrying: ${(err as Error).message}`);
        if (this.#stopping && attempt >= 3) throw err;
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
    this.#counts.events += result.events.length;
  }

  #enqueue(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work).catch((err: unknown) => {
      this.#log("error", `opcua: ${(err as Error).message}`);
    });
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }
}
