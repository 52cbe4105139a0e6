// Readers that look at the floor the way a person's system would: a fresh
// MQTT subscriber for the retained queue, a Sparkplug host application that
// asks for a rebirth and decodes NBIRTH/NDATA. Used by the floor-writer
// contract, the dispatch integration tests and the benchmark.
import mqtt, { type MqttClient } from "mqtt";
import type { UMetric } from "sparkplug-payload/lib/sparkplugbpayload.js";
import { REBIRTH_METRIC, sparkplugCodec } from "../../../src/floor/sparkplug-writer.ts";

/** Connects a fresh subscriber and returns the retained message on `topic` (or undefined). */
export async function readRetained(url: string, topic: string, waitMs = 1_500): Promise<string | undefined> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      client.on("message", (t, payload, packet) => {
        if (t === topic && packet.retain) {
          clearTimeout(timer);
          resolve(payload.toString("utf8"));
        }
      });
      client.subscribe(topic, { qos: 1 }, (err) => err && reject(err));
    });
  } finally {
    await client.endAsync(true);
  }
}

export interface SparkplugMessage {
  type: "NBIRTH" | "NDATA" | "NDEATH";
  seq: number | undefined;
  metrics: UMetric[];
  at: number;
}

/** A minimal Sparkplug host: keeps every node message and the current metric values it implies. */
export class SparkplugHost {
  readonly messages: SparkplugMessage[] = [];
  readonly values = new Map<string, unknown>();
  private readonly client: MqttClient;
  private readonly group: string;
  private readonly edge: string;

  private constructor(client: MqttClient, group: string, edge: string) {
    this.client = client;
    this.group = group;
    this.edge = edge;
    client.on("message", (topic, bytes) => {
      const type = topic.split("/")[2] as SparkplugMessage["type"];
      if (!["NBIRTH", "NDATA", "NDEATH"].includes(type)) return;
      const payload = sparkplugCodec.decodePayload(bytes);
      const metrics = (payload.metrics ?? []) as UMetric[];
      const seq = payload.seq === undefined || payload.seq === null ? undefined : Number(payload.seq);
      this.messages.push({ type, seq, metrics, at: Date.now() });
      if (type === "NBIRTH") this.values.clear();
      for (const metric of metrics) {
        if (metric.name) this.values.set(metric.name, normalise(metric.value));
      }
    });
  }

  static async connect(url: string, group: string, edge: string): Promise<SparkplugHost> {
    const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
    await client.subscribeAsync(`spBv1.0/${group}/+/${edge}`, { qos: 1 });
    return new SparkplugHost(client, group, edge);
  }

  /** Sends the NCMD `Node Control/Rebirth` a host sends when it has no (or a broken) view. */
  async requestRebirth(): Promise<void> {
    const payload = sparkplugCodec.encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: REBIRTH_METRIC, type: "Boolean", value: true }],
    });
    await this.client.publishAsync(`spBv1.0/${this.group}/NCMD/${this.edge}`, Buffer.from(payload), { qos: 0 });
  }

  async waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`Sparkplug host: condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

function normalise(value: unknown): unknown {
  // Int64/UInt64 arrive as Long objects.
  if (value && typeof value === "object" && "toNumber" in value && typeof value.toNumber === "function") {
    return value.toNumber();
  }
  return value;
}
