// Puts workcenter queues on the floor as Sparkplug B metrics, the sidecar
// acting as an edge node: Ignition's MQTT Engine shows them as tags under
// <group>/<edge node>. NBIRTH (with bdSeq) on every connect, NDATA with the
// changed metrics on each write, a new NBIRTH when a workcenter's metric set
// changes or a host sends the NCMD `Node Control/Rebirth`, and NDEATH as the
// MQTT will. Metric values survive a restart through the version store, so
// the first NBIRTH after a restart already carries the current queues.
//
// Target params: group_id, edge_node_id (required), url ("" uses the connection's broker).
// A target with its own url connects with the connection's TLS settings
// (CA, verification, client certificate) all the same.

import mqtt, { type MqttClient } from "mqtt";
import { get as sparkplugNamespace } from "sparkplug-payload";
import type { UMetric, UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";
import { sparkplugIdProblem } from "../core/mqtt-text.ts";
import type { MqttTlsClientOptions, MqttTlsSettings } from "../core/mqtt-tls.ts";
import { mqttUrlProblem } from "../core/mqtt-url.ts";
import type { DispatchMessage, FloorWriter } from "../core/ports.ts";
import { FloorWriteError } from "./errors.ts";
import { floorTlsOptions, waitForFloorBroker } from "./mqtt-broker.ts";
import {
  parseQueuePayload,
  type QueuePayload,
  queueDocument,
  SLOT_TAG_NAMES,
  slotValues,
  versionKey,
} from "./queue.ts";
import type { VersionStore } from "./version-store.ts";

const codec = sparkplugNamespace("spBv1.0");
if (!codec) throw new Error("sparkplug-payload lacks the spBv1.0 namespace");
export const sparkplugCodec = codec;

export const REBIRTH_METRIC = "Node Control/Rebirth";

type MetricValue = string | number | boolean;
interface QueueMetric {
  name: string;
  type: "String" | "Double" | "Int32" | "Int64";
  value: MetricValue;
}

/** The metrics one workcenter's queue becomes: `<wc>/Queue/<n>/<Field>`, `<wc>/Queue/Json`, `<wc>/Queue/Version`. */
export function queueMetrics(payload: QueuePayload): QueueMetric[] {
  const prefix = `${payload.workcenter}/Queue`;
  const metrics: QueueMetric[] = [];
  slotValues(payload).forEach((slot, n) => {
    metrics.push({ name: `${prefix}/${n}/${SLOT_TAG_NAMES.order}`, type: "String", value: String(slot.order) });
    metrics.push({ name: `${prefix}/${n}/${SLOT_TAG_NAMES.product}`, type: "String", value: String(slot.product) });
    metrics.push({ name: `${prefix}/${n}/${SLOT_TAG_NAMES.qty}`, type: "Double", value: Number(slot.qty) });
    metrics.push({ name: `${prefix}/${n}/${SLOT_TAG_NAMES.priority}`, type: "Int32", value: Number(slot.priority) });
    metrics.push({ name: `${prefix}/${n}/${SLOT_TAG_NAMES.start}`, type: "String", value: String(slot.start) });
  });
  metrics.push({ name: `${prefix}/Json`, type: "String", value: queueDocument(payload) });
  metrics.push({ name: `${prefix}/Version`, type: "Int64", value: payload.version });
  return metrics;
}

export interface SparkplugWriterOptions {
  versions: VersionStore;
  defaultUrl?: string;
  username?: string;
  password?: string;
  /** The connection's TLS settings (sidecar_config's mqtt block), for every broker url. */
  tls?: MqttTlsSettings;
  timeoutMs?: number;
}

/** One edge node (broker × group × edge node id) and the metrics it has birthed. */
class EdgeNode {
  readonly client: MqttClient;
  readonly group: string;
  readonly edge: string;
  /** Current metric values by workcenter, in birth order. */
  readonly byWorkcenter = new Map<string, QueueMetric[]>();
  bdSeq: number;
  private seq = 0;
  private readonly versions: VersionStore;
  private readonly counterName: string;

  constructor(url: string, group: string, edge: string, options: SparkplugWriterOptions, tls: MqttTlsClientOptions) {
    this.group = group;
    this.edge = edge;
    this.versions = options.versions;
    this.counterName = `sparkplug-bdseq|${url}/${group}/${edge}`;
    this.bdSeq = this.versions.next(this.counterName, 256);
    this.client = mqtt.connect(url, {
      ...tls,
      clientId: `sfb-edge-${group}-${edge}-${process.pid}`.slice(0, 64),
      clean: true,
      reconnectPeriod: 1_000,
      connectTimeout: options.timeoutMs ?? 5_000,
      username: options.username || undefined,
      password: options.password || undefined,
      will: { topic: this.topic("NDEATH"), payload: Buffer.from(this.deathPayload()), qos: 1, retain: false },
    });
    this.client.on("error", () => {});
    this.client.on("connect", () => {
      this.client.subscribe(this.topic("NCMD"), { qos: 1 });
      void this.birth().catch(() => {});
    });
    // Each MQTT session gets a new bdSeq: NBIRTH and the will of a session must carry the same one.
    this.client.on("close", () => {
      this.bdSeq = this.versions.next(this.counterName, 256);
      const will = this.client.options.will;
      if (will) will.payload = Buffer.from(this.deathPayload());
    });
    this.client.on("message", (topic, bytes) => {
      if (topic !== this.topic("NCMD")) return;
      try {
        const command = codec?.decodePayload(bytes);
        if (command?.metrics?.some((m) => m.name === REBIRTH_METRIC && m.value === true))
          void this.birth().catch(() => {});
      } catch {
        // An undecodable command is ignored: it cannot be a valid rebirth request.
      }
    });
  }

  topic(kind: "NBIRTH" | "NDATA" | "NDEATH" | "NCMD"): string {
    return `spBv1.0/${this.group}/${kind}/${this.edge}`;
  }

  private deathPayload(): Uint8Array {
    return encode({ timestamp: Date.now(), metrics: [{ name: "bdSeq", type: "UInt64", value: this.bdSeq }] });
  }

  async birth(): Promise<void> {
    this.seq = 0;
    const metrics: UMetric[] = [
      { name: "bdSeq", type: "UInt64", value: this.bdSeq },
      { name: REBIRTH_METRIC, type: "Boolean", value: false },
      ...[...this.byWorkcenter.values()].flat().map((m) => ({ ...m })),
    ];
    await this.client.publishAsync(
      this.topic("NBIRTH"),
      Buffer.from(encode({ timestamp: Date.now(), seq: 0, metrics })),
      {
        qos: 0,
      },
    );
  }

  async data(changed: QueueMetric[]): Promise<void> {
    this.seq = (this.seq + 1) % 256;
    const payload = encode({ timestamp: Date.now(), seq: this.seq, metrics: changed.map((m) => ({ ...m })) });
    await this.client.publishAsync(this.topic("NDATA"), Buffer.from(payload), { qos: 0 });
  }
}

function encode(payload: UPayload): Uint8Array {
  return (codec as NonNullable<typeof codec>).encodePayload(payload);
}

export class SparkplugFloorWriter implements FloorWriter {
  readonly kind = "sparkplug" as const;
  floorWrites = 0;
  private readonly options: SparkplugWriterOptions;
  private readonly nodes = new Map<string, EdgeNode>();

  constructor(options: SparkplugWriterOptions) {
    this.options = options;
  }

  async write(message: DispatchMessage): Promise<void> {
    const payload = parseQueuePayload(message);
    const params = message.target.params;
    const group = typeof params.group_id === "string" ? params.group_id : "";
    const edge = typeof params.edge_node_id === "string" ? params.edge_node_id : "";
    // Nor what MQTT lets a broker refuse: Mosquitto drops the connection of a client publishing it.
    const invalid = (id: string) => sparkplugIdProblem(id) !== undefined;
    if (invalid(group) || invalid(edge)) {
      throw new FloorWriteError(
        `Sparkplug target needs group_id and edge_node_id without / + # nor a control character, ` +
          `Unicode non-character or lone surrogate (got ${JSON.stringify(group)}, ${JSON.stringify(edge)})`,
        {
          retryable: false,
        },
      );
    }
    const ownUrl = typeof params.url === "string" ? params.url : "";
    const url = ownUrl || this.options.defaultUrl || "";
    if (!url)
      throw new FloorWriteError("Sparkplug target has no broker url and the connection none", { retryable: false });
    const urlProblem = mqttUrlProblem(url);
    if (urlProblem) {
      throw new FloorWriteError(`Sparkplug target broker url ${JSON.stringify(url)}: ${urlProblem}`, {
        retryable: false,
      });
    }
    const nodeKey = `${url}/${group}/${edge}`;
    const key = versionKey("sparkplug", nodeKey, message.workcenter);
    if (this.options.versions.isStale(key, message.version)) return;

    const node = this.node(url, group, edge, nodeKey, ownUrl ? "the floor target's url" : "mqtt_url");
    if (!node.client.connected)
      await waitForFloorBroker("Sparkplug", node.client, url, this.options.tls, this.options.timeoutMs);
    const next = queueMetrics(payload);
    const previous = node.byWorkcenter.get(payload.workcenter);
    node.byWorkcenter.set(payload.workcenter, next);
    try {
      const sameSet =
        previous !== undefined &&
        previous.length === next.length &&
        previous.every((m, i) => m.name === next[i]?.name && m.type === next[i]?.type);
      if (sameSet) {
        await node.data(next.filter((m, i) => m.value !== previous[i]?.value));
      } else {
        // NDATA may only carry metrics the host saw in a birth certificate.
        await node.birth();
      }
    } catch (err) {
      if (previous) node.byWorkcenter.set(payload.workcenter, previous);
      else node.byWorkcenter.delete(payload.workcenter);
      throw new FloorWriteError(`Sparkplug ${url}: ${(err as Error).message}`, { retryable: true, cause: err });
    }
    this.floorWrites++;
    this.options.versions.record(key, message.version, next);
  }

  private node(url: string, group: string, edge: string, nodeKey: string, urlField: string): EdgeNode {
    let node = this.nodes.get(nodeKey);
    if (!node) {
      const tls = floorTlsOptions("Sparkplug", url, this.options.tls, urlField);
      node = new EdgeNode(url, group, edge, this.options, tls);
      const prefix = `${versionKey("sparkplug", nodeKey, "")}`;
      for (const [key, entry] of this.options.versions.entries(prefix)) {
        if (Array.isArray(entry.snapshot))
          node.byWorkcenter.set(key.slice(prefix.length), entry.snapshot as QueueMetric[]);
      }
      this.nodes.set(nodeKey, node);
    }
    return node;
  }

  async close(): Promise<void> {
    // A clean disconnect does not fire the will: publish NDEATH ourselves so hosts mark the tags stale.
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        if (node.client.connected) {
          const death = encode({
            timestamp: Date.now(),
            metrics: [{ name: "bdSeq", type: "UInt64", value: node.bdSeq }],
          });
          await node.client.publishAsync(node.topic("NDEATH"), Buffer.from(death), { qos: 1 }).catch(() => {});
        }
        await node.client.endAsync(true).catch(() => {});
      }),
    );
    this.nodes.clear();
  }
}
