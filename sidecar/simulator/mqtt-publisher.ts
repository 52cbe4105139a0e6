// Publishes the ledger's expected business events as CloudEvents (JSON, QoS 1)
// — what an MES or Ignition script sending events directly would do. Also
// sends malformed input and re-sent copies for the scenarios that need them.
import mqtt, { type MqttClient } from "mqtt";
import type { CloudEvent, EventType } from "../src/core/contract.ts";
import type { LedgerEntry } from "./ledger.ts";
import type { SimOutput, Simulation } from "./simulation.ts";

export interface SimMqttPublisherOptions {
  url: string;
  sim: Simulation;
  /** Topic per event: default `shopfloor/<line>/<machine>/events`. */
  topic?: (entry: LedgerEntry) => string;
  clientId?: string;
  /** Run id in event ids, so two runs against one Odoo do not collide. */
  runId: string;
}

export class SimMqttPublisher implements SimOutput {
  readonly name = "mqtt";
  readonly #opts: SimMqttPublisherOptions;
  #client: MqttClient | undefined;
  readonly #sent: { topic: string; body: string }[] = [];
  readonly counts = { published: 0, malformed_sent: 0, duplicates_sent: 0 };

  constructor(opts: SimMqttPublisherOptions) {
    this.#opts = opts;
    opts.sim.onExpected((entry) => this.#publish(entry));
  }

  async start(): Promise<void> {
    this.#client = await mqtt.connectAsync(this.#opts.url, {
      clientId: this.#opts.clientId ?? `sim-mqtt-${this.#opts.runId}`,
      clean: true,
    });
  }

  async stop(): Promise<void> {
    await this.#client?.endAsync();
    this.#client = undefined;
  }

  event(entry: LedgerEntry): CloudEvent | undefined {
    if (!entry.expect) return undefined;
    // Empty fields (no current order) are left out rather than sent as "".
    const data = Object.fromEntries(Object.entries(entry.expect.data).filter(([, v]) => v !== "" && v !== undefined));
    const event: CloudEvent = {
      specversion: "1.0",
      id: `sim-${this.#opts.runId}-${entry.seq}`,
      source: entry.source,
      type: entry.expect.type as EventType,
      time: entry.time,
      datacontenttype: "application/json",
      data,
    };
    if (typeof data.order === "string") event.subject = data.order;
    return event;
  }

  async #publish(entry: LedgerEntry): Promise<void> {
    const event = this.event(entry);
    const client = this.#client;
    if (!event || !client) return;
    const topic = this.#opts.topic?.(entry) ?? `shopfloor/${this.#opts.sim.line.name}/${entry.machine}/events`;
    const body = JSON.stringify(event);
    await client.publishAsync(topic, body, { qos: 1 });
    this.#sent.push({ topic, body });
    this.counts.published++;
  }

  async malformed(): Promise<number> {
    const client = this.#client;
    if (!client) return 0;
    const topic = `shopfloor/${this.#opts.sim.line.name}/malformed/events`;
    await client.publishAsync(topic, `{"specversion":"1.0","id":"sim-${this.#opts.runId}-broken",`, { qos: 1 });
    await client.publishAsync(
      topic,
      JSON.stringify({
        specversion: "1.0",
        id: `sim-${this.#opts.runId}-unknown-type`,
        source: "plant1/sim/unknown",
        type: "machine.exploded",
        time: new Date().toISOString(),
        data: {},
      }),
      { qos: 1 },
    );
    this.counts.malformed_sent += 2;
    return 2;
  }

  async duplicate(): Promise<number> {
    const client = this.#client;
    if (!client) return 0;
    const copies = this.#sent.slice(-3);
    for (const { topic, body } of copies) await client.publishAsync(topic, body, { qos: 1 });
    this.counts.duplicates_sent += copies.length;
    return copies.length;
  }

  stats(): Record<string, number> {
    return { ...this.counts };
  }
}
