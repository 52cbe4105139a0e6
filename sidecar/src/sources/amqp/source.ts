// RabbitMQ (AMQP 0-9-1) source: consumes the connection's queues with manual
// acks and hands each message to the sink — CloudEvents in the AMQP binding's
// structured, batched or binary mode, or a payload for the connection's amqp
// payload mappings. A message is acked (basic.ack) only after what it became
// is committed to the spool.
//
// One channel per queue: a delivery tag belongs to its channel, so `ack` with
// `allUpTo` can settle a whole group at once without touching another
// queue's messages. Messages that arrive while the previous group commits
// form the next group (one `accept`, one ack); groups of a queue commit one
// after the other, so every tag up to a group's last is committed when it is
// acked. The per-consumer prefetch bounds what is taken and not acked: when
// the spool is full `accept` waits, no ack goes out, and the broker stops
// delivering (backpressure). A failed commit is nacked with requeue.
//
// A missing queue is declared as a durable quorum queue; a queue that exists
// is consumed as it is (a classic one with a warning: it does not survive the
// loss of its node). The connection, a channel, or the broker cancelling the
// consumer (queue deleted) ends the session; a new one follows with
// exponential backoff. What was delivered and not acked on the old session
// the broker redelivers; the spool deduplicates what had been committed.
import { hostname } from "node:os";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type Options } from "amqplib";
import { type BackoffPolicy, backoffDelay } from "../../core/backoff.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import { answersTls } from "../../core/port-probe.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { fromAmqp10 } from "./amqp10.ts";
import { amqpItems, mappingHeaders } from "./binding.ts";
import { decodeContentEncoding } from "./encoding.ts";
import { type AmqpTlsSettings, amqpTlsOptions, describeAmqpTlsFailure, tlsMaterialFields } from "./tls.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export interface AmqpSourceOptions {
  /** Connection code (source name, default consumer tag). */
  connection: string;
  /** `amqp://host:5672/vhost` or `amqps://host:5671/vhost`; credentials in it are used when `username` is empty. */
  url: string;
  queues: string[];
  /** Consumer tag; "" derives one from the host name and the connection code. */
  consumer?: string;
  username?: string;
  password?: string;
  /** TLS (also implied by amqps://), CA, verification, client certificate. */
  tls?: AmqpTlsSettings;
  /** Most messages taken and not acked, across all queues. */
  prefetch?: number;
  /** AMQP heartbeat: how soon a silent broker is taken for gone. */
  heartbeatSeconds?: number;
  /** Waits between reconnect attempts. */
  backoff?: BackoffPolicy;
  /** How often the queues' ready-message count (`lag`) is read. 0: never. */
  lagIntervalMs?: number;
  log?: SourceLog;
}

export const DEFAULT_PREFETCH = 500;
/** The least time one attempt (every node in turn, then the channels and consumers) is given. */
const CONNECT_ATTEMPT_MS = 30_000;
const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };
/** AMQP short strings (queue names, consumer tags) are at most 255 bytes. */
const SHORTSTR_BYTES = 255;

export function amqpOptionsFromConfig(config: SidecarConfig, log?: SourceLog): AmqpSourceOptions {
  const backbone = config.backbone;
  if (!backbone) {
    throw new BackboneConfigError(
      "backbone_url",
      `connection ${config.code}: kind amqp needs the backbone block of sidecar_config`,
    );
  }
  const opts: AmqpSourceOptions = {
    connection: config.code,
    url: backbone.url,
    queues: backbone.names,
    consumer: backbone.consumer,
    username: backbone.username,
    password: backbone.password,
    tls: backbone,
    prefetch: backbone.prefetch > 0 ? backbone.prefetch : DEFAULT_PREFETCH,
  };
  if (log) opts.log = log;
  return opts;
}

/** One node of the broker: where a connection is tried. */
export interface AmqpNode {
  hostname: string;
  port: number;
  /** `host:port/vhost`, for messages (no credentials). */
  where: string;
}

/** Where to connect, in amqplib's terms, and the socket's TLS options. */
export interface AmqpEndpoint {
  /** The first node's connection options; `#connect` puts each node's host and port in. */
  connect: Options.Connect;
  /**
   * The nodes the URL names, tried in turn (a RabbitMQ cluster: any node
   * serves any queue). One for a URL naming one host.
   */
  nodes: AmqpNode[];
  tls: boolean;
  /** How long one node's connection and handshake may take (`connection_timeout`, else 10 s). */
  connectionTimeoutMs: number;
  /** Every node's `host:port`, then `/vhost`, for messages (no credentials). */
  where: string;
}

/** How long one node's connection and its handshake may take unless the URL says (connection_timeout). */
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

const URL_EXAMPLE = "amqp://host:5672/vhost, amqp://node1:5672,node2:5672/vhost or amqps://host:5671/vhost for TLS";

function refuseUrl(url: string, why: string): BackboneConfigError {
  return new BackboneConfigError("backbone_url", `backbone_url ${JSON.stringify(url)}: ${why} (e.g. ${URL_EXAMPLE})`);
}

/**
 * A URL naming several nodes (`amqp://[user:pass@]node1:5672,node2/vhost`)
 * split into the URL with its first node alone, which the URL parser reads,
 * and every node's host and port (`undefined`: the scheme's default).
 * A URL naming one host comes back whole, with no node list.
 */
function splitNodes(raw: string): { single: string; nodes?: { host: string; port?: number }[] } {
  const parts = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(raw);
  if (!parts) return { single: raw };
  const [, scheme, authority, rest] = parts as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const userinfo = authority.slice(0, at + 1);
  const hosts = authority.slice(at + 1);
  if (!hosts.includes(",")) return { single: raw };
  const nodes = hosts.split(",").map((entry) => {
    const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(entry);
    if (!hostPort) {
      throw refuseUrl(
        raw,
        entry === ""
          ? "the node list has an empty entry (no doubled or trailing commas)"
          : `node ${JSON.stringify(entry)} is not host or host:port`,
      );
    }
    const port = hostPort[2] === undefined ? undefined : Number(hostPort[2]);
    if (port !== undefined && (port < 1 || port > 65_535))
      throw refuseUrl(raw, `node ${entry}: ${port} is not a port (1 to 65535)`);
    return { host: hostPort[1] as string, port };
  });
  return { single: `${scheme}${userinfo}${(nodes[0] as { host: string }).host}${rest}`, nodes };
}

/** What the query of an AMQP URI sets (RabbitMQ's URI query parameters the sidecar reads). */
export interface AmqpUriQuery {
  /** `heartbeat`: seconds between heartbeats; two missed, the broker is taken for gone. */
  heartbeat?: number;
  /** `connection_timeout`: milliseconds a connection and its handshake may take. */
  connectionTimeoutMs?: number;
  /** `channel_max`: most channels the sidecar asks for (0: the broker's limit). */
  channelMax?: number;
  /** `frame_max`: the largest frame the sidecar asks for, in bytes (0: the broker's limit). */
  frameMax?: number;
}

/**
 * Each parameter read: the field of AmqpUriQuery it sets, and the whole numbers it takes: from
 * `least` to `most`, and 0 too where `zero` (0: the broker's limit).
 */
const URI_QUERY: Record<string, { key: keyof AmqpUriQuery; least: number; most: number; zero: boolean; what: string }> =
  {
    heartbeat: {
      key: "heartbeat",
      least: 1,
      most: 65_535,
      zero: false,
      what: "seconds from 1 to 65535 (0 would turn heartbeats off and leave a broker that stops answering unnoticed)",
    },
    connection_timeout: {
      key: "connectionTimeoutMs",
      least: 1,
      most: 3_600_000,
      zero: false,
      what: "milliseconds from 1 to 3600000",
    },
    channel_max: {
      key: "channelMax",
      least: 1,
      most: 65_535,
      zero: true,
      what: "channels from 0 (the broker's limit) to 65535",
    },
    frame_max: {
      key: "frameMax",
      least: 4_096,
      most: 4_294_967_295,
      zero: true,
      what: "bytes, 0 (the broker's limit) or 4096 to 4294967295",
    },
  };

const TLS_ON_THE_CONNECTION =
  "TLS is set on the connection: its CA, Verify queue broker certificate, client certificate and key";
/** Query parameters of RabbitMQ's URI spec with a field of their own on the connection. */
const URI_QUERY_ELSEWHERE: Record<string, string> = {
  cacertfile: TLS_ON_THE_CONNECTION,
  certfile: TLS_ON_THE_CONNECTION,
  keyfile: TLS_ON_THE_CONNECTION,
  verify: TLS_ON_THE_CONNECTION,
  server_name_indication: "the certificate is checked against the host the URL names",
  depth: TLS_ON_THE_CONNECTION,
  fail_if_no_peer_cert: TLS_ON_THE_CONNECTION,
  password: "the password goes in the connection's Queue password",
  auth_mechanism: "the sidecar logs in with the connection's Queue user and Queue password (PLAIN)",
};

/**
 * The query of an AMQP URI (`amqp://host/vhost?heartbeat=5&connection_timeout=10000`), as
 * RabbitMQ's URI query parameters name them: heartbeat, connection_timeout, channel_max and
 * frame_max, each a whole number once. Any other parameter, or a value out of range, is
 * refused naming backbone_url: ignored, it would seem to work and not.
 */
export function amqpUriQuery(url: string, query: string): AmqpUriQuery {
  const read: AmqpUriQuery = {};
  if (query === "") return read;
  const seen = new Set<string>();
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? undefined : pair.slice(eq + 1);
    const rule = Object.hasOwn(URI_QUERY, name) ? URI_QUERY[name] : undefined;
    if (!rule) {
      const elsewhere = Object.hasOwn(URI_QUERY_ELSEWHERE, name) ? URI_QUERY_ELSEWHERE[name] : undefined;
      throw refuseUrl(
        url,
        elsewhere
          ? `the query parameter ${JSON.stringify(name)} is not read here: ${elsewhere}`
          : `${JSON.stringify(name)} is no query parameter the sidecar reads (heartbeat, connection_timeout, ` +
              "channel_max, frame_max)",
      );
    }
    if (seen.has(name)) throw refuseUrl(url, `the query names ${name} twice`);
    seen.add(name);
    const number = value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
    const fits = (number === 0 && rule.zero) || (number >= rule.least && number <= rule.most);
    if (!fits) {
      throw refuseUrl(url, `${name}=${value ?? ""}: ${name} is a whole number of ${rule.what}`);
    }
    read[rule.key] = number;
  }
  return read;
}

/**
 * Reads the URL and the credential and TLS fields into an endpoint; throws an
 * BackboneConfigError naming the field for a URL that cannot work.
 */
export function amqpEndpoint(
  opts: Pick<AmqpSourceOptions, "url" | "username" | "password" | "tls">,
  heartbeat = 15,
): AmqpEndpoint {
  const { single, nodes: listed } = splitNodes(opts.url);
  let url: URL;
  try {
    url = new URL(single);
  } catch {
    throw new BackboneConfigError(
      "backbone_url",
      `backbone_url ${JSON.stringify(opts.url)} is no URL: write ${URL_EXAMPLE}`,
    );
  }
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    throw new BackboneConfigError(
      "backbone_url",
      `backbone_url ${url.protocol}//${url.host}: a RabbitMQ connection takes ${URL_EXAMPLE}`,
    );
  }
  if (!url.hostname) throw new BackboneConfigError("backbone_url", `backbone_url ${opts.url} names no host`);
  const tls = url.protocol === "amqps:" || opts.tls?.tls === true;
  const material = tlsMaterialFields(opts.tls);
  if (!tls && material.length > 0) {
    throw new BackboneConfigError(
      "backbone_url",
      `backbone_url ${url.protocol}//${url.host} is plain AMQP, but the connection has ${material.join(", ")} set: ` +
        "TLS needs amqps://host:5671 (or backbone_tls on), or clear those fields",
    );
  }
  // The AMQP URI spec: no path is the default vhost "/"; "/name" is vhost "name" (percent-decoded).
  const path = url.pathname.replace(/^\//, "");
  const vhost = path === "" ? "/" : decodeURIComponent(path);
  const defaultPort = tls ? 5671 : 5672;
  const username = opts.username || decodeURIComponent(url.username) || "guest";
  const password = opts.username
    ? (opts.password ?? "")
    : decodeURIComponent(url.password) || (url.username ? "" : "guest");
  const query = amqpUriQuery(opts.url, url.search.replace(/^\?/, ""));
  const vhostPart = `/${vhost === "/" ? "" : encodeURIComponent(vhost)}`;
  const hostPorts = listed
    ? listed.map((node) => ({ host: node.host, port: node.port ?? defaultPort }))
    : [{ host: url.hostname, port: url.port ? Number(url.port) : defaultPort }];
  const nodes = hostPorts.map(({ host, port }) => ({
    hostname: host.replace(/^\[|\]$/g, ""),
    port,
    where: `${host}:${port}${vhostPart}`,
  }));
  const first = nodes[0] as AmqpNode;
  return {
    connect: {
      protocol: tls ? "amqps" : "amqp",
      hostname: first.hostname,
      port: first.port,
      username,
      password,
      vhost,
      heartbeat: query.heartbeat ?? heartbeat,
      ...(query.channelMax === undefined ? {} : { channelMax: query.channelMax }),
      ...(query.frameMax === undefined ? {} : { frameMax: query.frameMax }),
    },
    nodes,
    tls,
    connectionTimeoutMs: query.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    where: `${hostPorts.map(({ host, port }) => `${host}:${port}`).join(",")}${vhostPart}`,
  };
}

/** One queue's consumer on its own channel. */
interface QueueConsumer {
  queue: string;
  channel: Channel;
  tag: string;
  /** Delivered, not handed to the sink yet. */
  waiting: ConsumeMessage[];
  /** Handed to the sink, commit not settled. */
  committing: number;
  scheduled: boolean;
  /** A stream queue: the spool state key its last committed offset is kept under. */
  streamKey?: string;
}

/** Spool state key prefix of a stream queue's last committed offset. */
export const STREAM_STATE_PREFIX = "amqp-stream:";

/** The stream offset RabbitMQ stamps on a message read from a stream queue (header x-stream-offset). */
export function streamOffset(msg: ConsumeMessage): number | undefined {
  const raw = (msg.properties.headers as Record<string, unknown> | undefined)?.["x-stream-offset"];
  const value = typeof raw === "bigint" ? Number(raw) : raw;
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

interface Session {
  model: ChannelModel;
  consumers: QueueConsumer[];
  /** Set once the session ended: its acks are no longer possible. */
  over: boolean;
  /** Index of its node in the endpoint's. */
  node: number;
}

/** The reply code of a refused connection.open handshake (amqplib puts it only in the message). */
function handshakeReplyCode(err: Error): number | undefined {
  const match = /^Handshake terminated by server: (\d{3})/.exec(err.message);
  return match ? Number(match[1]) : undefined;
}

export class AmqpSource implements Source {
  readonly name: string;
  readonly #opts: AmqpSourceOptions;
  readonly #consumerTag: string;
  #endpoint: AmqpEndpoint | undefined;
  /** The node of the session (or of the attempt under way). */
  #node = 0;
  /** The node the next attempt tries first: the one after a node whose session ended. */
  #firstNode = 0;
  #sink: SourceSink | undefined;
  #session: Session | undefined;
  #stopping = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  #attemptId = 0;
  readonly #commits = new Set<Promise<void>>();
  readonly #lag = new Map<string, number>();
  readonly #counts = {
    received: 0,
    committed: 0,
    acked: 0,
    rejected_at_source: 0,
    redelivered: 0,
    reconnects: 0,
    commit_errors: 0,
    stale_acks: 0,
    cancels: 0,
    classic_queues: 0,
    /** Queues that are RabbitMQ streams, read by offset. */
    stream_queues: 0,
  };

  constructor(opts: AmqpSourceOptions) {
    this.#opts = opts;
    this.name = `amqp:${opts.connection}`;
    this.#consumerTag = opts.consumer || `sfb-${hostname()}-${opts.connection}`;
  }

  /** Per queue, so the sum over the queues stays within `prefetch`. */
  get #perQueuePrefetch(): number {
    const prefetch = this.#opts.prefetch ?? DEFAULT_PREFETCH;
    return Math.max(1, Math.floor(prefetch / Math.max(1, this.#opts.queues.length)));
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopping = false;
    this.#checkNames();
    const prefetch = this.#opts.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65_535) {
      throw new BackboneConfigError("backbone_prefetch", `backbone_prefetch ${prefetch}: RabbitMQ takes 1 to 65535`);
    }
    this.#endpoint = amqpEndpoint(this.#opts, this.#opts.heartbeatSeconds ?? 15);
    // Throws, naming the field, for TLS settings that cannot work.
    const tlsOptions = this.#endpoint.tls ? amqpTlsOptions(this.#opts.tls) : undefined;
    this.#socketOptions = { timeout: this.#endpoint.connectionTimeoutMs, noDelay: true, ...(tlsOptions ?? {}) };
    try {
      await this.#connectWithin(this.#attemptMs);
    } catch (err) {
      const configError = this.#asConfigError(err as Error) ?? (await this.#tlsPortMixup(err as Error));
      if (configError) {
        this.#stopping = true;
        throw configError;
      }
      // The broker is down or unreachable: not a reason to stop the sidecar; keep trying.
      this.#log("error", `amqp ${this.#where}: ${(err as Error).message} (check backbone_url if this lasts)`);
      this.#scheduleReconnect();
    }
    const every = this.#opts.lagIntervalMs ?? 5_000;
    if (every > 0) this.#lagTimer = setInterval(() => void this.#readLag(), every).unref();
  }

  #socketOptions: Record<string, unknown> = {};

  #checkNames(): void {
    const queues = this.#opts.queues;
    if (queues.length === 0) {
      throw new BackboneConfigError(
        "backbone_names",
        "backbone_names is empty: name the RabbitMQ queue(s) to consume, one per line",
      );
    }
    for (const queue of queues) {
      if (queue.trim() === "" || queue !== queue.trim()) {
        throw new BackboneConfigError(
          "backbone_names",
          `backbone_names: queue name ${JSON.stringify(queue)} is empty or has blanks around it`,
        );
      }
      if (Buffer.byteLength(queue) > SHORTSTR_BYTES) {
        throw new BackboneConfigError(
          "backbone_names",
          `backbone_names: queue name ${queue.slice(0, 40)}… is longer than 255 bytes`,
        );
      }
    }
    if (new Set(queues).size !== queues.length) {
      throw new BackboneConfigError("backbone_names", "backbone_names lists a queue twice");
    }
  }

  /**
   * Plain AMQP to a port that reset or closed the connection in the opening handshake: a
   * TLS listener does so (a broker going down too). Each node is asked once whether it
   * speaks TLS; one that does is a setting to fix.
   */
  async #tlsPortMixup(err: Error): Promise<BackboneConfigError | undefined> {
    const endpoint = this.#endpoint;
    const code = (err as NodeJS.ErrnoException).code;
    if (
      !endpoint ||
      endpoint.tls ||
      !(code === "ECONNRESET" || code === "EPIPE" || /closed abruptly/.test(err.message))
    ) {
      return undefined;
    }
    for (const node of endpoint.nodes) {
      if (await answersTls(node.hostname, node.port)) {
        return new BackboneConfigError(
          "backbone_url",
          `${node.hostname}:${node.port} speaks TLS, and backbone_url is plain amqp://: use amqps:// for this port ` +
            `(RabbitMQ's TLS listener, 5671 by default), or the broker's plain AMQP port (5672) (${err.message})`,
          { cause: err },
        );
      }
    }
    return undefined;
  }

  /** A refused login, an unknown vhost, a queue the user may not use, bad TLS settings: the field to fix. */
  #asConfigError(err: Error): BackboneConfigError | undefined {
    if (err instanceof BackboneConfigError) return err;
    const where = this.#where;
    const tlsFailure = describeAmqpTlsFailure(err, where, this.#opts.tls);
    if (tlsFailure) return tlsFailure;
    const reply = handshakeReplyCode(err);
    if (reply === 403) {
      return new BackboneConfigError(
        "backbone_password",
        `RabbitMQ at ${where} refused the login of ${JSON.stringify(this.#endpoint?.connect.username)}: ` +
          `check backbone_username and backbone_password (${err.message})`,
        { cause: err },
      );
    }
    // A vhost that does not exist or is closed to the user: RabbitMQ answers connection.open with
    // connection.close (530), which amqplib reports without the code.
    if (reply === 530 || /^Expected ConnectionOpenOk; got <ConnectionClose/.test(err.message)) {
      return new BackboneConfigError(
        "backbone_url",
        `RabbitMQ at ${where} does not let ${JSON.stringify(this.#endpoint?.connect.username)} into vhost ` +
          `${JSON.stringify(this.#endpoint?.connect.vhost)}: the vhost in backbone_url does not exist or the user has ` +
          `no permissions on it (rabbitmqctl set_permissions) (${err.message})`,
        { cause: err },
      );
    }
    return undefined;
  }

  /** How long one attempt may take: each node its connection_timeout, and 5 s more (30 s at least). */
  get #attemptMs(): number {
    const endpoint = this.#endpoint as AmqpEndpoint;
    return Math.max(CONNECT_ATTEMPT_MS, endpoint.nodes.length * endpoint.connectionTimeoutMs + 5_000);
  }

  /** One attempt, given up after `ms` (a broker that accepts the socket and then stalls). */
  async #connectWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const id = ++this.#attemptId;
    const attempt = this.#connect(id);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The attempt, should it finish later, closes what it opened (its id is stale).
        this.#attemptId++;
        reject(new Error(`no session with the broker within ${ms / 1000} s`));
      }, ms);
    });
    try {
      await Promise.race([attempt, deadline]);
    } finally {
      clearTimeout(timer);
      attempt.catch(() => {});
    }
  }

  /** The next attempt starts at the node after `node` (a single node: itself). */
  #moveOnFrom(node: number): void {
    this.#firstNode = (node + 1) % (this.#endpoint as AmqpEndpoint).nodes.length;
  }

  /** The node of the session or attempt, `host:port/vhost`; the URL before the first. */
  get #where(): string {
    return this.#endpoint?.nodes[this.#node]?.where ?? this.#opts.url;
  }

  /**
   * Opens a connection to the first node that takes one, starting at
   * `#firstNode`. A node that refuses the login, the vhost or the TLS
   * settings ends the attempt (the nodes of a cluster share them); one that
   * cannot be reached gives way to the next.
   */
  async #open(abandoned: () => boolean): Promise<{ model: ChannelModel; node: AmqpNode }> {
    const endpoint = this.#endpoint as AmqpEndpoint;
    const { nodes } = endpoint;
    const failures: string[] = [];
    for (let k = 0; k < nodes.length; k++) {
      const index = (this.#firstNode + k) % nodes.length;
      const node = nodes[index] as AmqpNode;
      this.#node = index;
      try {
        // amqplib takes the TLS server name from the node's host (on a copy of the socket options).
        const model = await amqp.connect(
          { ...endpoint.connect, hostname: node.hostname, port: node.port },
          this.#socketOptions,
        );
        return { model, node };
      } catch (err) {
        if (nodes.length === 1 || abandoned() || this.#asConfigError(err as Error)) throw err;
        failures.push(`${node.where}: ${(err as Error).message}`);
        if (k < nodes.length - 1)
          this.#log("warn", `amqp ${node.where}: ${(err as Error).message}; trying the next node`);
      }
    }
    throw new Error(`no node of ${endpoint.where} took a connection (${failures.join("; ")})`);
  }

  async #connect(id: number): Promise<void> {
    const abandoned = () => this.#stopping || id !== this.#attemptId;
    const { model, node } = await this.#open(abandoned);
    const session: Session = { model, consumers: [], over: false, node: this.#node };
    model.on("error", (err: Error) => this.#log("warn", `amqp ${node.where}: ${err.message}`));
    model.on("close", () => this.#lose(session, "the connection closed"));
    model.on("blocked", (reason: string) =>
      this.#log("warn", `amqp ${node.where}: the broker blocked the connection (${reason})`),
    );
    if (abandoned()) {
      void model.close().catch(() => {});
      throw new Error("connection attempt abandoned");
    }
    this.#session = session;
    try {
      for (const queue of this.#opts.queues) {
        const kind = await this.#declare(model, queue, node.where);
        const channel = await model.createChannel();
        const consumer: QueueConsumer = { queue, channel, tag: "", waiting: [], committing: 0, scheduled: false };
        const args: Record<string, unknown> = {};
        if (kind === "stream") {
          consumer.streamKey = `${STREAM_STATE_PREFIX}${queue}`;
          args["x-stream-offset"] = await this.#streamStart(consumer.streamKey, queue, node.where);
        }
        channel.on("error", (err: Error) => this.#log("warn", `amqp queue ${queue}: ${err.message}`));
        channel.on("close", () => this.#lose(session, `the channel of queue ${queue} closed`));
        await channel.prefetch(this.#perQueuePrefetch, false);
        const tag = this.#opts.queues.length > 1 ? `${this.#consumerTag}:${queue}` : this.#consumerTag;
        const reply = await channel.consume(queue, (msg) => this.#onMessage(session, consumer, msg), {
          noAck: false,
          consumerTag: tag.slice(0, SHORTSTR_BYTES),
          arguments: args,
        });
        consumer.tag = reply.consumerTag;
        session.consumers.push(consumer);
        if (abandoned()) throw new Error("connection attempt abandoned");
      }
    } catch (err) {
      session.over = true;
      if (this.#session === session) this.#session = undefined;
      // A node that took the connection but not the session (a queue it cannot serve): the next one first.
      this.#moveOnFrom(session.node);
      // Not awaited: on a connection the broker is closing, amqplib's close waits for a reply that never comes.
      void model.close().catch(() => {});
      throw err;
    }
    this.#attempt = 0;
    void this.#readLag();
  }

  /**
   * Where a stream queue's consumer starts: after the last offset committed to
   * the spool (kept with the intakes, in the same transaction), or at the
   * first message the stream still holds when nothing was committed yet. A
   * stream keeps its messages after they are read; a consumer that started at
   * "next" would skip what arrived while the sidecar was away.
   */
  async #streamStart(key: string, queue: string, where: string): Promise<unknown> {
    // A commit still under way from the last session moves the offset: wait for it.
    await Promise.allSettled([...this.#commits]);
    const state = await (this.#sink as SourceSink).loadState(key);
    const last = state[key];
    if (typeof last === "number" && Number.isSafeInteger(last) && last >= 0) {
      this.#log("info", `amqp stream ${queue} on ${where}: reading after offset ${last}, the last committed`);
      return { "!": "long", value: last + 1 };
    }
    this.#log(
      "info",
      `amqp stream ${queue} on ${where}: nothing committed from it yet; reading from its first message`,
    );
    return "first";
  }

  /**
   * Declares a missing queue as a durable quorum queue. A queue that exists
   * with other arguments answers the declaration with 406 (which closes the
   * channel it came on, hence a channel of its own) and is consumed as it is.
   * Returns what the queue is: a stream is read by offset (`#streamStart`).
   */
  async #declare(model: ChannelModel, queue: string, where: string): Promise<"queue" | "stream"> {
    const probe = await model.createChannel();
    probe.on("error", () => {});
    try {
      await probe.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
      await probe.close();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 406) {
        const message = (err as Error).message;
        if (/x-queue-type.*current is 'stream'/.test(message)) {
          this.#counts.stream_queues++;
          return "stream";
        }
        if (/x-queue-type/.test(message)) {
          this.#counts.classic_queues++;
          this.#log(
            "warn",
            `amqp queue ${queue} on ${where} is not a quorum queue: it is consumed, but a classic queue's messages do ` +
              "not survive the loss of its node; make it a quorum queue (x-queue-type quorum) on the broker",
          );
        } else if (/'durable'/.test(message)) {
          this.#log(
            "warn",
            `amqp queue ${queue} on ${where} is not durable: a broker restart drops it and its messages`,
          );
        } else {
          this.#log("info", `amqp queue ${queue} on ${where} exists with its own arguments; consumed as it is`);
        }
        return "queue";
      }
      if (code === 403) {
        throw new BackboneConfigError(
          "backbone_names",
          `RabbitMQ at ${where} does not let this user use queue ${queue}: grant configure and read permission ` +
            `on it (rabbitmqctl set_permissions), or check backbone_names / backbone_username (${(err as Error).message})`,
          { cause: err },
        );
      }
      throw err;
    }
    return "queue";
  }

  #onMessage(session: Session, consumer: QueueConsumer, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer: the queue was deleted (or its node went away).
      this.#counts.cancels++;
      this.#log(
        "warn",
        `amqp queue ${consumer.queue}: the broker cancelled the consumer (queue deleted?); reconnecting`,
      );
      this.#lose(session, `the broker cancelled the consumer of queue ${consumer.queue}`);
      return;
    }
    this.#counts.received++;
    if (msg.fields.redelivered) this.#counts.redelivered++;
    consumer.waiting.push(msg);
    this.#schedule(session, consumer);
  }

  /** Hands what waits to the sink once the group before it committed; the group closes after this I/O turn. */
  #schedule(session: Session, consumer: QueueConsumer): void {
    if (consumer.scheduled || consumer.committing > 0 || consumer.waiting.length === 0) return;
    consumer.scheduled = true;
    setImmediate(() => {
      consumer.scheduled = false;
      this.#commit(session, consumer);
    });
  }

  #commit(session: Session, consumer: QueueConsumer): void {
    // Stopping or a session gone: no new accepts; the broker redelivers what waits.
    if (this.#stopping || session.over || consumer.committing > 0) return;
    const group = consumer.waiting.splice(0);
    if (group.length === 0) return;
    const last = group[group.length - 1] as ConsumeMessage;
    const receivedAt = new Date();
    const intakes: Intake[] = [];
    for (const msg of group) intakes.push(...this.#intakes(consumer.queue, msg, receivedAt));
    consumer.committing = group.length;
    const sink = this.#sink as SourceSink;
    // A stream's offset goes into the spool with the intakes, in the one commit.
    const offset = consumer.streamKey ? streamOffset(last) : undefined;
    const state = consumer.streamKey && offset !== undefined ? { [consumer.streamKey]: offset } : undefined;
    const accepted = intakes.length > 0 ? sink.accept(intakes, state) : Promise.resolve(undefined);
    const commit = accepted.then(
      () => {
        this.#counts.committed += group.length;
        this.#settle(session, group.length, () => consumer.channel.ack(last, true), "acked");
      },
      (err: Error) => {
        this.#counts.commit_errors += group.length;
        this.#log(
          "error",
          `amqp queue ${consumer.queue}: spool commit failed for ${group.length} message(s), requeued: ${err.message}`,
        );
        this.#settle(session, group.length, () => consumer.channel.nack(last, true, true));
      },
    );
    this.#commits.add(commit);
    void commit.then(() => {
      this.#commits.delete(commit);
      consumer.committing = 0;
      this.#schedule(session, consumer);
    });
  }

  /** Acks (or nacks) a committed group on its channel; on a channel that is gone the broker redelivers it. */
  #settle(session: Session, size: number, send: () => void, counter?: "acked"): void {
    if (session.over) {
      this.#counts.stale_acks += size;
      return;
    }
    try {
      send();
      if (counter) this.#counts[counter] += size;
    } catch {
      // amqplib throws when the channel closed meanwhile.
      this.#counts.stale_acks += size;
    }
  }

  /** What one message becomes; one the binding cannot read is rejected with its body and the reason, never thrown. */
  #intakes(queue: string, msg: ConsumeMessage, receivedAt: Date): Intake[] {
    let items: ReturnType<typeof amqpItems>;
    let forMappings: ReturnType<typeof mappingHeaders>;
    try {
      // What an AMQP 1.0 producer sent, with RabbitMQ's AMQP 1.0 encoding undone.
      const delivery = fromAmqp10(
        msg.properties.type as string | undefined,
        msg.properties.contentType as string | undefined,
        msg.properties.headers as Record<string, unknown> | undefined,
        msg.content,
      );
      if (!delivery.ok) {
        this.#counts.rejected_at_source++;
        return [{ kind: "rejected", payload: msg.content, origin: queue, receivedAt, reason: delivery.reason }];
      }
      const decoded = decodeContentEncoding(msg.properties.contentEncoding as string | undefined, delivery.body);
      if (!decoded.ok) {
        this.#counts.rejected_at_source++;
        return [{ kind: "rejected", payload: msg.content, origin: queue, receivedAt, reason: decoded.reason }];
      }
      items = amqpItems(delivery.contentType, delivery.headers, decoded.body);
      forMappings = mappingHeaders(delivery.contentType, delivery.headers);
    } catch (err) {
      this.#counts.rejected_at_source++;
      const reason = `the AMQP message could not be read: ${(err as Error).message}`;
      return [{ kind: "rejected", payload: msg.content, origin: queue, receivedAt, reason }];
    }
    const via = forMappings ? { transport: "amqp" as const, headers: forMappings } : { transport: "amqp" as const };
    return items.map((item): Intake => {
      if (item.problem !== undefined) {
        this.#counts.rejected_at_source++;
        return { kind: "rejected", payload: item.payload, origin: queue, receivedAt, reason: item.problem };
      }
      return { kind: "raw", payload: item.payload, origin: queue, receivedAt, via };
    });
  }

  /** Ends a session once (connection, channel or consumer gone) and plans the next one. */
  #lose(session: Session, why: string): void {
    if (session.over) return;
    session.over = true;
    if (this.#session === session) this.#session = undefined;
    void session.model.close().catch(() => {});
    if (this.#stopping) return;
    // The node may be gone: the next attempt starts at the one after it (a single node: itself).
    this.#moveOnFrom(session.node);
    const others = (this.#endpoint as AmqpEndpoint).nodes.length > 1 ? ", through the next node first" : "";
    this.#log("warn", `amqp ${this.#endpoint?.nodes[session.node]?.where ?? ""}: ${why}; reconnecting${others}`);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer || this.#connecting) return;
    const delay = backoffDelay(this.#attempt++, this.#opts.backoff ?? RECONNECT_BACKOFF);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#stopping) return;
      this.#connecting = this.#connectWithin(this.#attemptMs)
        .then(() => {
          this.#counts.reconnects++;
          this.#log("info", `amqp ${this.#where}: connected again`);
        })
        .catch((err: Error) => {
          const configError = this.#asConfigError(err);
          this.#log("error", `amqp ${this.#where}: ${(configError ?? err).message}`);
        })
        .finally(() => {
          this.#connecting = undefined;
          if (!this.#session) this.#scheduleReconnect();
        });
    }, delay);
  }

  /** Ready messages per queue, as the broker counts them (a passive declare). */
  async #readLag(): Promise<void> {
    const session = this.#session;
    if (!session || session.over) return;
    let channel: Channel | undefined;
    try {
      channel = await session.model.createChannel();
      channel.on("error", () => {});
      for (const queue of this.#opts.queues) {
        const reply = await channel.checkQueue(queue);
        this.#lag.set(queue, reply.messageCount);
      }
      await channel.close();
    } catch {
      // A deleted queue or a closing connection: the session's own handlers report it.
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#clearTimers();
    await this.#connecting?.catch(() => {});
    const session = this.#session;
    // No more deliveries; what was delivered and not handed over goes back to the queue on close.
    if (session && !session.over) {
      await Promise.all(session.consumers.map((c) => c.channel.cancel(c.tag).catch(() => {})));
    }
    while (this.#commits.size > 0) await Promise.all([...this.#commits]);
    if (session) {
      session.over = true;
      this.#session = undefined;
      await session.model.close().catch(() => {});
    }
  }

  /** Dies like a killed process: the connection goes and no further ack is sent; the broker redelivers. */
  async abort(): Promise<void> {
    this.#stopping = true;
    this.#clearTimers();
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    session.over = true;
    await session.model.close().catch(() => {});
  }

  #clearTimers(): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#lagTimer) clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  get connected(): boolean {
    return this.#session !== undefined && !this.#session.over;
  }

  stats(): Record<string, number> {
    let inFlight = 0;
    for (const consumer of this.#session?.consumers ?? []) inFlight += consumer.waiting.length + consumer.committing;
    let lag = 0;
    for (const ready of this.#lag.values()) lag += ready;
    return { ...this.#counts, connected: this.connected ? 1 : 0, in_flight: inFlight, lag };
  }
}
