// MQTT source: payloads on topic filters, QoS 1, persistent session — the
// sink takes them as CloudEvents (JSON, or the MQTT binding's binary mode:
// mqtt-binding.ts) or through a payload mapping (each raw intake says it
// came by MQTT, with the MQTT 5 user properties as its headers). The PUBACK for a message goes out only after the sink has
// committed it to the spool.
//
// Why not MQTT.js's `customHandleAcks`: that option is honoured for MQTT 5
// only (client.js replaces it with an immediate ack for 3.1.1), and both it
// and `handleMessage` run strictly one packet at a time — waiting for the
// commit there would allow one commit per message, ruling out group commit.
// Instead `handleMessage` adds the message to the open batch and returns at
// once (so the next packet is parsed), while the PUBACK MQTT.js then writes
// is held back until that batch's commit resolves. A batch is every message
// parsed from what the socket delivered in one go (MQTT.js handles each
// packet in its own process.nextTick; the batch closes in the microtask that
// runs after them): one `accept` and one promise per batch instead of per
// message. PUBACKs leave in receive order (batches commit in order, and a
// batch's PUBACKs go out in the order they were held), as MQTT requires. A
// PUBACK whose connection has gone since is never sent: the broker
// redelivers on the new session and the spool deduplicates. At most
// `maxInFlight` messages wait for a commit; past that `handleMessage` stops
// returning, MQTT.js stops reading the socket, and the broker holds the
// backlog (backpressure).
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import { describeMqttTlsFailure, type MqttTlsSettings, mqttPortMixup, mqttTlsOptions } from "../core/mqtt-tls.ts";
import type { Intake, Source, SourceSink } from "../core/ports.ts";
import { mqttIntake } from "./mqtt-binding.ts";

export interface MqttSourceOptions {
  url: string;
  topics: string[];
  /** Stable across restarts: the broker keys the persistent session on it. */
  clientId: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  /** The connection's TLS settings (sidecar_config's mqtt block): CA, verification, client certificate. */
  tls?: MqttTlsSettings;
  /** Most messages waiting for their commit before reading pauses. */
  maxInFlight?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  /**
   * MQTT keepalive (default 60 s, MQTT.js's; the connection's `keepalive_s`): a broker that leaves
   * a PINGREQ unanswered is taken for gone and connected again; the broker, in turn, drops a client
   * silent 1.5 times this.
   */
  keepaliveSeconds?: number;
  /** Called on errors the source survives (connection loss, failed commit). */
  onError?: (err: Error) => void;
  /** Why each of the connection's filters left out of `topics` is (`mqttFilterProblem`): part of `warning`. */
  leftOut?: string[];
}

/** MQTT.js's keepalive, and the one an older Odoo (no `keepalive_s`) leaves in force. */
export const DEFAULT_KEEPALIVE_S = 60;

/**
 * The connection's MQTT keepalive in seconds (sidecar_config's `mqtt.keepalive_s`; none from an
 * older Odoo: 60). MQTT carries it in two bytes and 0 turns the pings off, leaving a broker that
 * stops answering unnoticed: anything but a whole number from 1 to 65535 is refused, naming the field.
 */
export function mqttKeepalive(block: { keepalive_s?: number }): number {
  const value = block.keepalive_s ?? DEFAULT_KEEPALIVE_S;
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new Error(
      `the MQTT keepalive ${String(value)} is not a whole number of seconds from 1 to 65535: ` +
        "set Keepalive (s) on the connection in Odoo",
    );
  }
  return value;
}

/** MQTT 5 §3.9.3: why a broker refused a subscription (3.1.1 has only 0x80, "failure"). */
const SUBACK_REFUSALS: Record<number, string> = {
  128: "unspecified error",
  131: "implementation specific error",
  135: "not authorized",
  143: "topic filter invalid",
  145: "packet identifier in use",
  151: "quota exceeded",
  158: "shared subscriptions not supported",
  161: "subscription identifiers not supported",
  162: "wildcard subscriptions not supported",
};

/**
 * The filters of a SUBACK's failure codes (bit 0x80 set), each with the broker's reason; MQTT.js
 * hands the SUBACK's codes in the order of the subscriptions it sent.
 */
export function refusedSubscriptions(
  subscriptions: readonly { topic: string }[] | undefined,
  granted: readonly unknown[] | undefined,
): string[] {
  return (granted ?? []).flatMap((code, i) => {
    const topic = subscriptions?.[i]?.topic;
    if (typeof code !== "number" || (code & 0x80) === 0 || topic === undefined) return [];
    const hex = `0x${code.toString(16).toUpperCase()}`;
    return [
      `the broker refused topic filter ${JSON.stringify(topic)} (SUBACK ${hex}: ${SUBACK_REFUSALS[code] ?? "refused"})`,
    ];
  });
}

export const DEFAULT_TOPICS = ["shopfloor/#"];

/** Whether DEBUG (the `debug` package's switch) names MQTT.js's logger, as `DEBUG=mqttjs*` does. */
function mqttDebugWanted(): boolean {
  const wanted = process.env.DEBUG ?? "";
  return wanted
    .split(/[\s,]+/)
    .some((p) => p !== "" && !p.startsWith("-") && "mqttjs:client".startsWith(p.replace(/\*.*$/, "")));
}

/**
 * With `manualConnect`, MQTT.js's end() clears its `disconnecting` flag once
 * the stores are closed; a socket 'close' arriving after that (a connection
 * failing as we end it) schedules a reconnect of the ended client. No
 * reconnect period, no reconnect.
 */
function noMoreReconnects(client: MqttClient): void {
  client.options.reconnectPeriod = 0;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;
export interface ClientInternals {
  _sendPacket: SendPacket;
  stream: unknown;
}

/**
 * The MQTT.js version the ack-after-commit hook was proven on (pinned exactly in
 * sidecar/package.json; `mqtt-internals.test.ts` fails when they differ). The hook
 * wraps the private `_sendPacket(packet, cb, cbStorePut, noStore)` and reads the
 * private `stream`; an upgrade must re-run the PUBACK tests of mqtt.int.test.ts.
 */
export const MQTT_JS_PROVEN_VERSION = "5.16.0";

/** Refuses to run on an MQTT.js whose internals differ: acking before the commit would lose messages. */
export function assertAckInternals(internals: ClientInternals): void {
  const send = (internals as Partial<ClientInternals>)._sendPacket;
  if (typeof send !== "function" || send.length !== 4 || !("stream" in internals)) {
    throw new Error(
      `MQTT.js internals changed (_sendPacket/stream, proven on ${MQTT_JS_PROVEN_VERSION}): the sidecar cannot hold ` +
        "PUBACKs until the spool commit. Install the pinned mqtt version (npm ci).",
    );
  }
}

/** Messages handed to the sink in one `accept`, and the PUBACKs waiting for its commit. */
interface Batch {
  intakes: Intake[];
  /** PUBACKs MQTT.js wrote for this batch's messages, in order, not sent yet. */
  heldAcks: Packet[];
  /** The connection the messages came in on: a PUBACK only makes sense there. */
  stream: unknown;
  outcome: "open" | "committing" | "committed" | "failed";
}

export class MqttSource implements Source {
  readonly name: string;
  readonly #opts: MqttSourceOptions;
  #client: MqttClient | undefined;
  #sink: SourceSink | undefined;
  #stopping = false;
  /** Batch of each message id whose PUBACK is not out yet. */
  readonly #batchOf = new Map<number, Batch>();
  #open: Batch | undefined;
  readonly #commits = new Set<Promise<void>>();
  /** Messages handed over whose commit has not settled. */
  #inFlight = 0;
  #slotWaiters: (() => void)[] = [];
  readonly #counts = { received: 0, committed: 0, acked: 0, staleAcks: 0, commitErrors: 0, connects: 0, paused: 0 };
  /** The filters the broker refused in its last SUBACK, each with its reason. */
  #refused: string[] = [];

  constructor(opts: MqttSourceOptions) {
    this.#opts = opts;
    this.name = `mqtt:${opts.clientId}`;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopping = false;
    const o = this.#opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: o.protocolVersion ?? 4,
      reconnectPeriod: o.reconnectPeriodMs ?? 1_000,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      keepalive: o.keepaliveSeconds ?? DEFAULT_KEEPALIVE_S,
      username: o.username || undefined,
      password: o.password || undefined,
      // Throws, naming the connection field, for TLS settings that cannot work.
      ...mqttTlsOptions(o.url, o.tls),
      // MQTT 5: keep the session when the connection drops (3.1.1 keeps it by clean=false).
      properties: (o.protocolVersion ?? 4) === 5 ? { sessionExpiryInterval: 0xffffffff } : undefined,
      // The broker's queue, not ours, holds what we have not acked.
      queueQoSZero: false,
      // MQTT.js logs through `debug` several times per packet; unless DEBUG
      // asks for its lines, a no-op spares that cost on the hot path.
      log: mqttDebugWanted() ? undefined : () => {},
    };
    const client = mqtt.connect(o.url, { ...options, manualConnect: true });
    this.#client = client;
    this.#installAckAfterCommit(client);
    client.on("connect", (connack) => {
      this.#counts.connects++;
      // Subscribing again is harmless and covers a broker that lost the session.
      if (!connack.sessionPresent || this.#counts.connects === 1) {
        client.subscribe(
          o.topics.map((t) => t),
          { qos: 1 },
          (err, subscriptions, packet) => {
            // A refused filter is no error of the others: the broker took them (MQTT.js calls
            // back with an error as soon as one code of the SUBACK is a failure).
            this.#refused = refusedSubscriptions(
              subscriptions,
              (packet as { granted?: unknown[] } | undefined)?.granted,
            );
            for (const reason of this.#refused) this.#error(new Error(`${reason}: fix it on the connection in Odoo`));
            if (err && this.#refused.length === 0) this.#error(err);
          },
        );
      }
    });
    client.on("error", (err) => this.#error(describeMqttTlsFailure(err, o.url, o.tls) ?? err));
    // Resolves on the first CONNACK, or once the first attempt failed in
    // transport (the client keeps reconnecting: a broker that is down is not
    // a reason to stop the sidecar). A refused CONNACK (bad credentials) and a
    // TLS handshake the settings made fail (untrusted broker, refused client
    // certificate) reject: they are configuration, named by the field to fix.
    // A reset in transport may be a TLS / plain mix-up: the port is asked what it speaks first.
    const firstAttempt = new Promise<void>((resolve, reject) => {
      let lastError: Error | undefined;
      const off = () => {
        client.off("connect", connected);
        client.off("close", closed);
        client.off("error", onError);
      };
      const connected = () => {
        off();
        resolve();
      };
      const closed = () => {
        off();
        mqttPortMixup(o.url, lastError).then((mixup) => (mixup ? reject(mixup) : resolve()), resolve);
      };
      const onError = (err: Error) => {
        lastError = err;
        const tlsFailure = describeMqttTlsFailure(err, o.url, o.tls);
        if (typeof (err as { code?: unknown }).code === "number" || tlsFailure) {
          off();
          reject(tlsFailure ?? err);
        }
      };
      client.on("connect", connected);
      client.on("close", closed);
      client.on("error", onError);
    });
    client.connect();
    try {
      await firstAttempt;
    } catch (err) {
      // Refused for good: no client left behind reconnecting with the same settings.
      await this.abort();
      throw err;
    }
  }

  #error(err: Error): void {
    this.#opts.onError?.(err);
  }

  #installAckAfterCommit(client: MqttClient): void {
    const internals = client as unknown as ClientInternals;
    assertAckInternals(internals);
    const send = internals._sendPacket.bind(client) as SendPacket;
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const messageId = (packet as { messageId?: number }).messageId;
      const batch = packet.cmd === "puback" && messageId !== undefined ? this.#batchOf.get(messageId) : undefined;
      if (!batch || messageId === undefined) {
        send(packet, cb, cbStorePut, noStore);
        return;
      }
      this.#batchOf.delete(messageId);
      // A message whose callback waited for a free slot may find its batch settled already.
      if (batch.outcome === "committed") this.#sendAck(client, batch, packet, send);
      else if (batch.outcome === "failed") this.#dropConnection(internals, batch);
      else batch.heldAcks.push(packet);
      // Let MQTT.js parse the next packet now; the PUBACK follows the commit.
      cb?.();
    };

    client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
      // Stopping: no ack, so the broker redelivers it to the next session. The
      // error lets MQTT.js go on parsing (and ignoring) what is already buffered.
      if (this.#stopping || !this.#sink) return callback(new Error("source stopping"));
      this.#counts.received++;
      const stream = internals.stream;
      let batch = this.#open;
      if (!batch || batch.stream !== stream) {
        batch = { intakes: [], heldAcks: [], stream, outcome: "open" };
        this.#open = batch;
        const opened = batch;
        queueMicrotask(() => this.#commit(client, opened, send));
      }
      batch.intakes.push(mqttIntake(packet, new Date()));
      if (packet.qos > 0 && packet.messageId !== undefined) this.#batchOf.set(packet.messageId, batch);
      this.#inFlight++;
      if (this.#inFlight < (this.#opts.maxInFlight ?? 1_000)) callback();
      else {
        this.#counts.paused++;
        this.#slotWaiters.push(() => (this.#stopping ? callback(new Error("source stopping")) : callback()));
      }
    };
  }

  /** Hands a closed batch to the sink; its PUBACKs go out once the commit resolves. */
  #commit(client: MqttClient, batch: Batch, send: SendPacket): void {
    if (this.#open === batch) this.#open = undefined;
    batch.outcome = "committing";
    const size = batch.intakes.length;
    const sink = this.#sink as SourceSink;
    const commit = sink.accept(batch.intakes).then(
      () => {
        batch.outcome = "committed";
        this.#counts.committed += size;
        for (const ack of batch.heldAcks) this.#sendAck(client, batch, ack, send);
        batch.heldAcks = [];
      },
      (err: Error) => {
        batch.outcome = "failed";
        this.#counts.commitErrors += size;
        this.#error(new Error(`spool commit failed for ${size} message(s): ${err.message}`));
        if (batch.heldAcks.length > 0) this.#dropConnection(client as unknown as ClientInternals, batch);
      },
    );
    this.#commits.add(commit);
    commit.then(() => {
      this.#commits.delete(commit);
      batch.intakes = [];
      this.#inFlight -= size;
      const maxInFlight = this.#opts.maxInFlight ?? 1_000;
      while (this.#slotWaiters.length > 0 && this.#inFlight < maxInFlight) this.#slotWaiters.shift()?.();
    });
  }

  #sendAck(client: MqttClient, batch: Batch, ack: Packet, send: SendPacket): void {
    if ((client as unknown as ClientInternals).stream === batch.stream && client.connected) {
      send(ack);
      this.#counts.acked++;
    } else {
      this.#counts.staleAcks++;
    }
  }

  /** Not committed: no PUBACK. Dropping the connection makes the broker redeliver. */
  #dropConnection(internals: ClientInternals, batch: Batch): void {
    if (internals.stream === batch.stream) (batch.stream as { destroy?: () => void }).destroy?.();
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#stopping = true;
    // Commits under way finish and their PUBACKs go out before we disconnect.
    while (this.#commits.size > 0 || this.#open) {
      await new Promise((r) => setImmediate(r));
      await Promise.all([...this.#commits]);
    }
    this.#releaseSlotWaiters();
    await new Promise((r) => setImmediate(r));
    // A clean DISCONNECT; if the broker does not let us finish in time, cut the connection.
    noMoreReconnects(client);
    const ended = client.endAsync(false);
    const timedOut = await Promise.race([
      ended.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 5_000).unref()),
    ]);
    if (timedOut) await new Promise<void>((r) => client.end(true, {}, () => r()));
    this.#client = undefined;
  }

  /**
   * Dies like a killed process: the connection goes without DISCONNECT and
   * no further PUBACK is sent, so the broker redelivers what was not acked.
   */
  async abort(): Promise<void> {
    const client = this.#client;
    this.#stopping = true;
    this.#client = undefined;
    this.#releaseSlotWaiters();
    if (!client) return;
    noMoreReconnects(client);
    await new Promise<void>((r) => client.end(true, {}, () => r()));
  }

  /** Packets waiting for an in-flight slot go on without an ack (redelivered later). */
  #releaseSlotWaiters(): void {
    const waiting = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const w of waiting) w();
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  stats(): Record<string, number> {
    return {
      ...this.#counts,
      inFlight: this.#inFlight,
      refused_filters: (this.#opts.leftOut?.length ?? 0) + this.#refused.length,
    };
  }

  /**
   * What of the connection's filters is not read, for the heartbeat and the dashboard: filters
   * left out as no broker need take them, and those the broker refused. "" when every one is read.
   */
  get warning(): string {
    const reasons = [...(this.#opts.leftOut ?? []), ...this.#refused];
    if (reasons.length === 0) return "";
    const count = reasons.length === 1 ? "1 topic filter is" : `${reasons.length} topic filters are`;
    return `${count} not subscribed: ${reasons.join("; ")}`;
  }
}
