// Planning push-back loop: pull pending floor messages from Odoo, hand each
// to the writer of its target kind, ack every outcome. Odoo owns the
// message states and the retry schedule of failed writes (it shows them);
// this loop owns transport retries (Odoo unreachable, an ack that did not
// arrive) with exponential backoff and jitter.
import { join } from "node:path";
import { backoffDelay } from "../core/backoff.ts";
import type { SidecarConfig } from "../core/contract.ts";
import type { DispatchAck, DispatchMessage, FloorWriter, OdooClient } from "../core/ports.ts";
import { asFloorWriteError } from "./errors.ts";
import { MqttFloorWriter } from "./mqtt-writer.ts";
import { OpcuaFloorWriter } from "./opcua-writer.ts";
import { SparkplugFloorWriter } from "./sparkplug-writer.ts";
import { VersionStore } from "./version-store.ts";

/** What the module accepts in `shopfloor.dispatch.ack`: the contract's ack plus whether a retry can help. */
export interface DispatchOutcome extends DispatchAck {
  retryable: boolean;
}

export type FloorKind = FloorWriter["kind"];

export interface DispatcherLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface DispatcherOptions {
  odoo: Pick<OdooClient, "dispatchPull" | "dispatchAck">;
  connection: string;
  writers: Partial<Record<FloorKind, FloorWriter>>;
  pollIntervalMs: number;
  /** Messages per pull. */
  limit?: number;
  /** Cap of the transport backoff. */
  maxBackoffMs?: number;
  log?: DispatcherLogger;
}

export interface DispatcherStats {
  pulls: number;
  written: number;
  failed: number;
  transportErrors: number;
  unackedOutcomes: number;
  lastError: string;
}

/**
 * Orders a pull for writing: per workcenter and destination in version
 * order, so the newest version is written last and wins.
 */
export function writeOrder(messages: DispatchMessage[]): DispatchMessage[][] {
  const groups = new Map<string, DispatchMessage[]>();
  for (const message of messages) {
    const key = `${message.workcenter}|${message.target.kind}|${JSON.stringify(message.target.params)}`;
    const group = groups.get(key) ?? [];
    group.push(message);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) => group.sort((a, b) => a.version - b.version || a.id - b.id));
}

export class Dispatcher {
  readonly stats: DispatcherStats = {
    pulls: 0,
    written: 0,
    failed: 0,
    transportErrors: 0,
    unackedOutcomes: 0,
    lastError: "",
  };
  private readonly options: DispatcherOptions;
  /** Outcomes Odoo has not confirmed yet; sent again before the next pull. */
  private unacked: DispatchOutcome[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /** One round: flush outcomes still owed, pull, write, ack. Returns how many messages it handled. */
  async tick(): Promise<number> {
    const { odoo, connection } = this.options;
    if (this.unacked.length) await this.flushAcks();
    const messages = await odoo.dispatchPull(connection, this.options.limit ?? 50);
    this.stats.pulls++;
    if (messages.length === 0) return 0;
    const outcomes = (await Promise.all(writeOrder(messages).map((group) => this.writeGroup(group)))).flat();
    this.unacked.push(...outcomes);
    await this.flushAcks();
    return messages.length;
  }

  private async writeGroup(group: DispatchMessage[]): Promise<DispatchOutcome[]> {
    const outcomes: DispatchOutcome[] = [];
    for (const message of group) {
      const writer = this.options.writers[message.target.kind];
      try {
        if (!writer) throw new Error(`this sidecar has no ${message.target.kind} floor writer`);
        await writer.write(message);
        this.stats.written++;
        outcomes.push({ id: message.id, status: "acked", error: "", retryable: false });
      } catch (err) {
        const failure = asFloorWriteError(err);
        this.stats.failed++;
        this.options.log?.warn(
          {
            dispatch: message.id,
            workcenter: message.workcenter,
            version: message.version,
            retryable: failure.retryable,
          },
          `floor write failed: ${failure.message}`,
        );
        outcomes.push({ id: message.id, status: "failed", error: failure.message, retryable: failure.retryable });
      }
    }
    return outcomes;
  }

  private async flushAcks(): Promise<void> {
    const batch = this.unacked;
    this.unacked = [];
    try {
      await this.options.odoo.dispatchAck(batch);
    } catch (err) {
      this.unacked = [...batch, ...this.unacked];
      throw err;
    } finally {
      this.stats.unackedOutcomes = this.unacked.length;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const limit = this.options.limit ?? 50;
    while (this.running) {
      let delay = this.options.pollIntervalMs;
      try {
        const handled = await this.tick();
        this.failures = 0;
        // A full page means more is waiting: go on at once.
        if (handled >= limit) delay = 0;
      } catch (err) {
        this.failures++;
        this.stats.transportErrors++;
        this.stats.lastError = (err as Error).message;
        delay = backoffDelay(this.failures - 1, {
          baseMs: this.options.pollIntervalMs,
          maxMs: this.options.maxBackoffMs ?? 30_000,
        });
        this.options.log?.warn(
          { attempt: this.failures, delayMs: delay },
          `dispatch pull/ack failed: ${this.stats.lastError}`,
        );
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      this.wake = undefined;
    }
  }

  /** Stops after the round in progress; outcomes Odoo never got are resent by Odoo's sent-timeout. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }
}

export interface StartDispatcherOptions {
  odoo: Pick<OdooClient, "dispatchPull" | "dispatchAck">;
  config: SidecarConfig;
  /** The version store lives here (floor-versions.json). */
  spoolDir: string;
  /** Overrides of what Odoo says (MQTT_URL / OPCUA_ENDPOINT). */
  mqttUrl?: string;
  opcuaEndpoint?: string;
  log?: DispatcherLogger;
}

export interface RunningDispatcher {
  dispatcher: Dispatcher;
  writers: Partial<Record<FloorKind, FloorWriter>>;
  stop(): Promise<void>;
}

/** Builds the writers the connection's targets need and starts the pull loop. */
export function startDispatcher(options: StartDispatcherOptions): RunningDispatcher {
  const { config } = options;
  const versions = new VersionStore(options.spoolDir);
  const mqttBlock = config.mqtt || undefined;
  const opcuaBlock = config.opcua || undefined;
  const mqttUrl = options.mqttUrl || mqttBlock?.url;
  const kinds = new Set(config.dispatch?.targets?.map((target) => target.kind) ?? []);
  const writers: Partial<Record<FloorKind, FloorWriter>> = {};
  // Writers connect lazily; building all three costs nothing and covers targets added later.
  writers.opcua = new OpcuaFloorWriter({
    versions,
    defaultEndpoint: options.opcuaEndpoint || opcuaBlock?.endpoint,
    security: opcuaBlock,
    // The OPC UA source's PKI folder (main.ts): one certificate and one trust list per sidecar.
    pkiDir: join(options.spoolDir, "pki"),
  });
  writers.mqtt = new MqttFloorWriter({
    versions,
    defaultUrl: mqttUrl,
    username: mqttBlock?.username,
    password: mqttBlock?.password,
    tls: mqttBlock,
  });
  writers.sparkplug = new SparkplugFloorWriter({
    versions,
    defaultUrl: mqttUrl,
    username: mqttBlock?.username,
    password: mqttBlock?.password,
    tls: mqttBlock,
  });
  const dispatcher = new Dispatcher({
    odoo: options.odoo,
    connection: config.code,
    writers,
    pollIntervalMs: config.dispatch?.poll_interval_ms || 500,
    log: options.log,
  });
  dispatcher.start();
  options.log?.info(
    { kinds: [...kinds], pollIntervalMs: config.dispatch?.poll_interval_ms },
    "floor dispatcher started",
  );
  return {
    dispatcher,
    writers,
    stop: async () => {
      await dispatcher.stop();
      await Promise.all(Object.values(writers).map((writer) => writer.close()));
    },
  };
}
