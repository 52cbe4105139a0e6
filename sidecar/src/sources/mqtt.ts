// MQTT source: CloudEvents (JSON) on topic filters, QoS 1, persistent
// session. The PUBACK for a message goes out only after the sink has
// committed it to the spool.
//
// Why not MQTT.js's `customHandleAcks`: that option is honoured for MQTT 5
// only (client.js replaces it with an immediate ack for 3.1.1), and both it
// and `handleMessage` run strictly one packet at a time — waiting for the
// commit there would allow one commit per message, ruling out group commit.
// Instead `handleMessage` hands the message to the sink and returns at once
// (so the next packet is parsed), while the PUBACK MQTT.js then writes is
// held back until that message's commit resolves. PUBACKs leave in receive
// order (commits resolve in order), as MQTT requires. A PUBACK whose
// connection has gone since is never sent: the broker redelivers on the new
// session and the spool deduplicates. At most `maxInFlight` messages wait
// for a commit; past that `handleMessage` stops returning, MQTT.js stops
// reading the socket, and the broker holds the backlog (backpressure).
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import type { Intake, Source, SourceSink } from "../core/ports.ts";

export interface MqttSourceOptions {
  url: string;
  topics: string[];
  /** Stable across restarts: the broker keys the persistent session on it. */
  clientId: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  /** PEM text of the CA for TLS (mqtts://); empty for the system store. */
  ca?: string;
  rejectUnauthorized?: boolean;
  /** Most messages waiting for their commit before reading pauses. */
  maxInFlight?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  /** Called on errors the source survives (connection loss, failed commit). */
  onError?: (err: Error) => void;
}

export const DEFAULT_TOPICS = ["shopfloor/#"];

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;
interface ClientInternals {
  _sendPacket: SendPacket;
  stream: unknown;
}

interface HeldAck {
  commit: Promise<void>;
  stream: unknown;
}

export class MqttSource implements Source {
  readonly name: string;
  readonly #opts: MqttSourceOptions;
  #client: MqttClient | undefined;
  #sink: SourceSink | undefined;
  #stopping = false;
  readonly #heldAcks = new Map<number, HeldAck>();
  readonly #inFlight = new Set<Promise<void>>();
  #slotWaiters: (() => void)[] = [];
  readonly #counts = { received: 0, committed: 0, acked: 0, staleAcks: 0, commitErrors: 0, connects: 0, paused: 0 };

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
      username: o.username || undefined,
      password: o.password || undefined,
      ca: o.ca || undefined,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      // MQTT 5: keep the session when the connection drops (3.1.1 keeps it by clean=false).
      properties: (o.protocolVersion ?? 4) === 5 ? { sessionExpiryInterval: 0xffffffff } : undefined,
      // The broker's queue, not ours, holds what we have not acked.
      queueQoSZero: false,
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
          (err) => err && this.#error(err),
        );
      }
    });
    client.on("error", (err) => this.#error(err));
    // Resolves on the first CONNACK, or once the first attempt failed in
    // transport (the client keeps reconnecting: a broker that is down is not
    // a reason to stop the sidecar). A refused CONNACK (bad credentials) rejects.
    const firstAttempt = new Promise<void>((resolve, reject) => {
      const done = () => {
        client.off("connect", done);
        client.off("close", done);
        client.off("error", onError);
        resolve();
      };
      const onError = (err: Error) => {
        if (typeof (err as { code?: unknown }).code === "number") {
          client.off("connect", done);
          client.off("close", done);
          client.off("error", onError);
          reject(err);
        }
      };
      client.on("connect", done);
      client.on("close", done);
      client.on("error", onError);
    });
    client.connect();
    await firstAttempt;
  }

  #error(err: Error): void {
    this.#opts.onError?.(err);
  }

  #installAckAfterCommit(client: MqttClient): void {
    const internals = client as unknown as ClientInternals;
    const send = internals._sendPacket.bind(client) as SendPacket;
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const messageId = (packet as { messageId?: number }).messageId;
      const held = packet.cmd === "puback" && messageId !== undefined ? this.#heldAcks.get(messageId) : undefined;
      if (!held || messageId === undefined) {
        send(packet, cb, cbStorePut, noStore);
        return;
      }
      this.#heldAcks.delete(messageId);
      held.commit.then(
        () => {
          if (internals.stream === held.stream && client.connected) {
            send(packet);
            this.#counts.acked++;
          } else {
            this.#counts.staleAcks++;
          }
        },
        () => {
          // Not committed: no PUBACK. Dropping the connection makes the broker redeliver.
          if (internals.stream === held.stream) (held.stream as { destroy?: () => void }).destroy?.();
        },
      );
      // Let MQTT.js parse the next packet now; the PUBACK follows the commit.
      cb?.();
    };

    client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
      // Stopping: no ack, so the broker redelivers it to the next session. The
      // error lets MQTT.js go on parsing (and ignoring) what is already buffered.
      if (this.#stopping || !this.#sink) return callback(new Error("source stopping"));
      this.#counts.received++;
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      const intake: Intake = { kind: "raw", payload, origin: packet.topic, receivedAt: new Date() };
      const commit = this.#sink.accept([intake]).then(
        () => {
          this.#counts.committed++;
        },
        (err: Error) => {
          this.#counts.commitErrors++;
          this.#error(new Error(`spool commit failed for ${packet.topic}: ${err.message}`));
          throw err;
        },
      );
      if (packet.qos > 0 && packet.messageId !== undefined) {
        this.#heldAcks.set(packet.messageId, { commit, stream: (client as unknown as ClientInternals).stream });
      }
      const settled = commit.catch(() => {});
      this.#inFlight.add(settled);
      settled.then(() => {
        this.#inFlight.delete(settled);
        this.#slotWaiters.shift()?.();
      });
      if (this.#inFlight.size < (this.#opts.maxInFlight ?? 1_000)) callback();
      else {
        this.#counts.paused++;
        this.#slotWaiters.push(() => (this.#stopping ? callback(new Error("source stopping")) : callback()));
      }
    };
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#stopping = true;
    // Commits under way finish and their PUBACKs go out before we disconnect.
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    this.#releaseSlotWaiters();
    await new Promise((r) => setImmediate(r));
    // A clean DISCONNECT; if the broker does not let us finish in time, cut the connection.
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
    if (client) await new Promise<void>((r) => client.end(true, {}, () => r()));
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
    return { ...this.#counts, inFlight: this.#inFlight.size };
  }
}
