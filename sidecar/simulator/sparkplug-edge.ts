// A Sparkplug B edge node over the simulated line, as Ignition's MQTT
// Transmission would publish it: the line is the edge node, each machine a
// device. NBIRTH (bdSeq, Node Control/Rebirth) and DBIRTH with aliases on
// connect and on a Rebirth NCMD; DDATA by alias on every tag change; NDEATH
// as the MQTT will. Faults for tests: lost messages (seq gaps), an unknown
// alias, a malformed payload, a repeated message, an abrupt disconnect.
import mqtt, { type MqttClient } from "mqtt";
import { REBIRTH_METRIC } from "../src/sources/sparkplug/host.ts";
import { decodeSparkplug, type EncodableMetric, encodeSparkplug } from "../src/sources/sparkplug/payload.ts";
import { type Line, TAG_NAMES, TAG_TYPES, type TagChange } from "./line.ts";
import { type SimOutput, sleep } from "./simulation.ts";

export interface SimSparkplugEdgeOptions {
  url: string;
  line: Line;
  group: string;
  /** Edge node id; default the line name. */
  edge?: string;
  clientId?: string;
}

export class SimSparkplugEdge implements SimOutput {
  readonly name = "sparkplug";
  readonly group: string;
  readonly edge: string;
  readonly #opts: SimSparkplugEdgeOptions;
  readonly #aliases = new Map<string, number>();
  #client: MqttClient | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Birth/death sequence: one per MQTT session, carried by NBIRTH and by the NDEATH will. */
  #bdSeq = -1;
  #seq = 0;
  #drop = 0;
  #lastData: { topic: string; payload: Uint8Array } | undefined;
  #sending: Promise<void> = Promise.resolve();
  readonly counts = { births: 0, rebirth_commands: 0, data_messages: 0, dropped: 0, malformed_sent: 0, restarts: 0 };

  constructor(opts: SimSparkplugEdgeOptions) {
    this.#opts = opts;
    this.group = opts.group;
    this.edge = opts.edge ?? opts.line.name;
    let alias = 1;
    for (const machine of opts.line.machines)
      for (const tag of TAG_NAMES) this.#aliases.set(`${machine}/${tag}`, alias++);
  }

  topic(type: string, device?: string): string {
    return `spBv1.0/${this.group}/${type}/${this.edge}${device ? `/${device}` : ""}`;
  }

  async start(): Promise<void> {
    this.#bdSeq = (this.#bdSeq + 1) % 256;
    const will = encodeSparkplug({
      timestamp: Date.now(),
      metrics: [{ name: "bdSeq", type: "UInt64", value: this.#bdSeq }],
    });
    const client = await mqtt.connectAsync(this.#opts.url, {
      clientId: this.#opts.clientId ?? `sim-edge-${this.group}-${this.edge}`,
      clean: true,
      reconnectPeriod: 0,
      will: { topic: this.topic("NDEATH"), payload: Buffer.from(will), qos: 1, retain: false },
    });
    this.#client = client;
    client.on("message", (topic, payload) => this.#onCommand(topic, payload));
    await client.subscribeAsync([this.topic("NCMD"), `spBv1.0/${this.group}/DCMD/${this.edge}/+`], { qos: 0 });
    await this.#births();
    this.#unsubscribe = this.#opts.line.onChange((change) => this.#onChange(change));
  }

  /** A clean shutdown: NDEATH published by the node itself, then disconnect. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#sending;
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (client.connected) {
      const death = encodeSparkplug({
        timestamp: Date.now(),
        metrics: [{ name: "bdSeq", type: "UInt64", value: this.#bdSeq }],
      });
      await client.publishAsync(this.topic("NDEATH"), Buffer.from(death), { qos: 1 });
    }
    await client.endAsync();
  }

  /** Drops the TCP connection without a goodbye: the broker publishes the NDEATH will. */
  async kill(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const client = this.#client;
    this.#client = undefined;
    client?.stream.destroy();
    await client?.endAsync(true);
  }

  async restart(downMs: number): Promise<boolean> {
    await this.kill();
    await sleep(downMs);
    await this.start();
    this.counts.restarts++;
    return true;
  }

  /** The next `n` DATA messages are lost (QoS 0 on a bad link): the host sees a seq gap. */
  dropNext(n: number): void {
    this.#drop += n;
  }

  async malformed(): Promise<number> {
    const client = this.#client;
    const device = this.#opts.line.machines[0];
    if (!client || !device) return 0;
    this.#seq = (this.#seq + 1) % 256;
    await client.publishAsync(this.topic("DDATA", device), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x01, 0x02]), {
      qos: 0,
    });
    this.counts.malformed_sent++;
    return 1;
  }

  /** The same DDATA again (seq repeats): the host must not count its values twice. */
  async duplicate(): Promise<number> {
    const last = this.#lastData;
    if (this.#client && last) await this.#client.publishAsync(last.topic, Buffer.from(last.payload), { qos: 0 });
    return 0;
  }

  /** DDATA with an alias that no DBIRTH declared. */
  async unknownAlias(): Promise<void> {
    const device = this.#opts.line.machines[0] as string;
    await this.#publishData(this.topic("DDATA", device), [{ alias: 9999, type: "Int32", value: 1 }]);
  }

  stats(): Record<string, number> {
    return { ...this.counts };
  }

  async #births(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#seq = 0;
    const line = this.#opts.line;
    const now = line.clock.now().getTime();
    await client.publishAsync(
      this.topic("NBIRTH"),
      Buffer.from(
        encodeSparkplug({
          timestamp: now,
          seq: 0,
          metrics: [
            { name: "bdSeq", type: "UInt64", value: this.#bdSeq },
            { name: REBIRTH_METRIC, type: "Boolean", value: false },
          ],
        }),
      ),
      { qos: 0 },
    );
    for (const machine of line.machines) {
      const tags = line.tags(machine);
      const metrics: EncodableMetric[] = TAG_NAMES.map((tag) => ({
        name: tag,
        alias: this.#aliases.get(`${machine}/${tag}`) as number,
        type: TAG_TYPES[tag],
        value: tags[tag],
        timestamp: line.timeOf(machine, tag).getTime(),
      }));
      this.#seq = (this.#seq + 1) % 256;
      await client.publishAsync(
        this.topic("DBIRTH", machine),
        Buffer.from(encodeSparkplug({ timestamp: now, seq: this.#seq, metrics })),
        { qos: 0 },
      );
    }
    this.counts.births++;
  }

  #onChange(change: TagChange): void {
    const metric: EncodableMetric = {
      alias: this.#aliases.get(`${change.machine}/${change.tag}`) as number,
      type: TAG_TYPES[change.tag],
      value: change.value,
      timestamp: change.time.getTime(),
    };
    const topic = this.topic("DDATA", change.machine);
    this.#sending = this.#sending.then(() => this.#publishData(topic, [metric])).catch(() => {});
  }

  async #publishData(topic: string, metrics: EncodableMetric[]): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#seq = (this.#seq + 1) % 256;
    const payload = encodeSparkplug({ timestamp: this.#opts.line.clock.now().getTime(), seq: this.#seq, metrics });
    if (this.#drop > 0) {
      this.#drop--;
      this.counts.dropped++;
      return;
    }
    this.#lastData = { topic, payload };
    this.counts.data_messages++;
    await client.publishAsync(topic, Buffer.from(payload), { qos: 0 });
  }

  #onCommand(topic: string, payload: Buffer): void {
    if (topic !== this.topic("NCMD")) return;
    let rebirth = false;
    try {
      rebirth = decodeSparkplug(payload).metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true);
    } catch {
      return;
    }
    if (!rebirth) return;
    this.counts.rebirth_commands++;
    this.#sending = this.#sending.then(() => this.#births()).catch(() => {});
  }
}
