// Publishes a workcenter's queue as one retained JSON message (QoS 1): a
// client that subscribes later (an Ignition MQTT Engine custom namespace,
// an HMI) gets the current queue at once. The write counts as done when
// the broker's PUBACK arrives.
//
// Target params: topic (required), url ("" uses the connection's broker).
// A target with its own url connects with the connection's TLS settings
// (CA, verification, client certificate) all the same.
import mqtt, { type MqttClient } from "mqtt";
import { codePoint, unsendable } from "../core/mqtt-text.ts";
import type { MqttTlsSettings } from "../core/mqtt-tls.ts";
import { mqttUrlProblem } from "../core/mqtt-url.ts";
import type { DispatchMessage, FloorWriter } from "../core/ports.ts";
import { FloorWriteError } from "./errors.ts";
import { floorTlsOptions, waitForFloorBroker } from "./mqtt-broker.ts";
import { parseQueuePayload, queueDocument, stringParam, versionKey } from "./queue.ts";
import type { VersionStore } from "./version-store.ts";

export interface MqttWriterOptions {
  versions: VersionStore;
  defaultUrl?: string;
  username?: string;
  password?: string;
  /** The connection's TLS settings (sidecar_config's mqtt block), for every broker url. */
  tls?: MqttTlsSettings;
  clientIdPrefix?: string;
  timeoutMs?: number;
}

export class MqttFloorWriter implements FloorWriter {
  readonly kind = "mqtt" as const;
  floorWrites = 0;
  private readonly options: MqttWriterOptions;
  private readonly clients = new Map<string, MqttClient>();

  constructor(options: MqttWriterOptions) {
    this.options = options;
  }

  async write(message: DispatchMessage): Promise<void> {
    const payload = parseQueuePayload(message);
    const params = message.target.params;
    const topic = stringParam(params, "topic");
    if (!topic || /[#+]/.test(topic)) {
      throw new FloorWriteError(`MQTT target topic ${JSON.stringify(topic)} is empty or has a wildcard`, {
        retryable: false,
      });
    }
    // Its {line} comes from a work center's code: Mosquitto drops the connection of a client
    // publishing a control character, and every target on that broker would wait behind it.
    const point = unsendable(topic);
    if (point !== undefined) {
      throw new FloorWriteError(
        `MQTT target topic ${JSON.stringify(topic)} holds a control character, Unicode non-character or lone ` +
          `surrogate (${codePoint(point)}), which MQTT lets a broker refuse`,
        { retryable: false },
      );
    }
    const ownUrl = stringParam(params, "url");
    const url = ownUrl || this.options.defaultUrl || "";
    if (!url) throw new FloorWriteError("MQTT target has no broker url and the connection none", { retryable: false });
    const urlProblem = mqttUrlProblem(url);
    if (urlProblem) {
      throw new FloorWriteError(`MQTT target broker url ${JSON.stringify(url)}: ${urlProblem}`, { retryable: false });
    }
    const key = versionKey("mqtt", `${url}/${topic}`, message.workcenter);
    if (this.options.versions.isStale(key, message.version)) return;

    const client = await this.connected(url, ownUrl ? "the floor target's url" : "mqtt_url");
    const timeout = this.options.timeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.publishAsync(topic, queueDocument(payload), { qos: 1, retain: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no PUBACK within ${timeout} ms`)), timeout);
        }),
      ]);
    } catch (err) {
      throw new FloorWriteError(`MQTT ${url} ${topic}: ${(err as Error).message}`, { retryable: true, cause: err });
    } finally {
      clearTimeout(timer);
    }
    this.floorWrites++;
    this.options.versions.record(key, message.version);
  }

  /** One client per broker, reconnecting by itself; a write while it is down fails (and is retried). */
  private async connected(url: string, urlField: string): Promise<MqttClient> {
    let client = this.clients.get(url);
    if (!client) {
      client = mqtt.connect(url, {
        ...floorTlsOptions("MQTT", url, this.options.tls, urlField),
        clientId: `${this.options.clientIdPrefix ?? "sfb-floor"}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
        clean: true,
        reconnectPeriod: 1_000,
        connectTimeout: this.options.timeoutMs ?? 5_000,
        username: this.options.username || undefined,
        password: this.options.password || undefined,
      });
      // Errors surface through write(); without a listener they would crash the process.
      client.on("error", () => {});
      this.clients.set(url, client);
    }
    if (!client.connected) await waitForFloorBroker("MQTT", client, url, this.options.tls, this.options.timeoutMs);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.endAsync(true).catch(() => {})));
    this.clients.clear();
  }
}
