// Redis Streams source: a consumer of one consumer group over the
// connection's stream keys. What an entry becomes is committed to the spool
// before the entry is XACKed; until then it stays in the group's pending
// entries list (PEL) under this consumer's name, which is stable across
// restarts, so a restarted sidecar reads its own pending entries first
// (XREADGROUP … 0) and then new ones (>). Entries a dead consumer left
// pending longer than claim_idle_ms are taken over with XAUTOCLAIM; entries
// trimmed away while pending (XAUTOCLAIM's deleted ids, or an empty entry in
// our own history) are counted and logged as lost at the broker.
//
// Two connections: the reader blocks in XREADGROUP; the other carries XACK,
// XAUTOCLAIM, XGROUP and XINFO so acks never wait for a blocked read. At most
// `prefetch` entries are read and not yet acknowledged: a spool that does
// not commit stops the reading, and the stream holds the backlog.
import { hostname } from "node:os";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { type BackoffPolicy, backoffDelay } from "../../core/backoff.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import { answersPlain, answersTls, probeTarget, REDIS_HELLO, redisUnderstood } from "../../core/port-probe.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { type EntryFields, entryIntakes } from "./entry.ts";
import { type BackboneTlsSettings, describeRedisTlsFailure, redisTlsOptions, wantsTls } from "./tls.ts";
import {
  type ClusterTarget,
  isClusterUrl,
  isSentinelUrl,
  parseClusterUrl,
  parseSentinelUrl,
  type SentinelTarget,
  sentinelLoginRefused,
  sentinelsText,
  unknownPrimary,
} from "./topology.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export interface RedisStreamSourceOptions {
  /** Connection code (the default consumer name). */
  connection: string;
  /** redis://[user:pass@]host:6379/0 or rediss://… */
  url: string;
  streams: string[];
  group: string;
  /** This sidecar's name in the group; stable across restarts so its pending entries come back to it. */
  consumer: string;
  username?: string;
  password?: string;
  tls?: BackboneTlsSettings;
  /** Most entries read and not yet acknowledged (the COUNT of one read). */
  prefetch?: number;
  /** Pending this long (ms) under another consumer, an entry is claimed. */
  claimIdleMs?: number;
  /** How long one XREADGROUP blocks waiting for entries. */
  blockMs?: number;
  /**
   * How long a server may leave what was sent to it unanswered (past a read's
   * block) before it is taken for gone and connected again: a frozen host, or
   * a network that drops packets, refuses and resets nothing.
   */
  answerMs?: number;
  /** Where a group created by the sidecar starts: "0" (everything in the stream, the default) or "$" (new entries only). */
  startId?: "0" | "$";
  reconnect?: BackoffPolicy;
  log?: SourceLog;
}

export const DEFAULT_GROUP = "shopfloor-bridge";
export const DEFAULT_PREFETCH = 500;
export const DEFAULT_CLAIM_IDLE_MS = 60_000;
export const DEFAULT_BLOCK_MS = 2_000;
/** `answerMs` by default: Redis answers in microseconds; ten seconds of silence is no busy server. */
export const DEFAULT_ANSWER_MS = 10_000;
/** How long a probe at start waits for a server to connect, or to answer it. */
const PROBE_WAIT_MS = 3_000;
/** How long a stop waits for the XACKs of what it committed. */
const STOP_ACK_WAIT_MS = 5_000;
/** Reads whose entries may be committing at once, sharing `prefetch`. */
const READS_IN_FLIGHT = 4;

/** The consumer name when the connection sets none: host name and connection code. */
export function defaultConsumer(connection: string, host = hostname()): string {
  return `${host}-${connection}`;
}

export function redisOptionsFromConfig(config: SidecarConfig, log?: SourceLog): RedisStreamSourceOptions {
  const backbone = config.backbone;
  if (!backbone) {
    throw new BackboneConfigError("backbone_url", `connection ${config.code}: kind redis needs the backbone settings`);
  }
  const opts: RedisStreamSourceOptions = {
    connection: config.code,
    url: backbone.url,
    streams: backbone.names,
    group: backbone.group || DEFAULT_GROUP,
    consumer: backbone.consumer || defaultConsumer(config.code),
    tls: backbone,
    prefetch: backbone.prefetch > 0 ? backbone.prefetch : DEFAULT_PREFETCH,
    claimIdleMs: backbone.claim_idle_ms > 0 ? backbone.claim_idle_ms : DEFAULT_CLAIM_IDLE_MS,
  };
  if (backbone.username) opts.username = backbone.username;
  if (backbone.password) opts.password = backbone.password;
  if (log) opts.log = log;
  return opts;
}

/** One server (named, or found through Sentinel), or a Redis Cluster. */
type RedisClient = Redis | Cluster;

/** One stream's entries of a reply: [id, fields | null] (null: deleted while pending). */
type StreamReply = [Buffer, [Buffer, Buffer[] | null][]][];

/**
 * Our history after this id is empty (`#probeRead`). Not the largest id
 * itself: redis-server 7 reads XREADGROUP from 18446744073709551615-18446744073709551615
 * as from `>`, delivering new entries (seen on 7.0.15).
 */
const LAST_POSSIBLE_ID = "18446744073709551615-18446744073709551614";
const LOGIN_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b/;
/** How long a TLS connection reset at start is watched for a clearer reason (a refused client certificate). */
const AMBIGUOUS_RESET_WAIT_MS = 3_000;

/**
 * A refusal that comes from where the streams live rather than from the
 * settings being wrong in themselves: backbone_url naming a read-only replica,
 * or a Redis Cluster node that does not serve the streams, or streams in
 * several cluster slots (one XREADGROUP names them all). Each names the field
 * to fix and how.
 */
export function layoutFailure(err: Error, url: string, streams: readonly string[]): BackboneConfigError | undefined {
  const said = err.message;
  if (/^READONLY\b/.test(said)) {
    return new BackboneConfigError(
      "backbone_url",
      `redis ${url} is a read-only replica (${said}): a consumer group reads and acknowledges on the primary; ` +
        "point backbone_url at the primary (behind Sentinel or a managed service: the primary's or the writer endpoint's address)",
      { cause: err },
    );
  }
  const moved = /^(MOVED|ASK) (\d+) (\S+)/.exec(said);
  if (moved) {
    return new BackboneConfigError(
      "backbone_url",
      `redis ${url} is a Redis Cluster node that does not serve every stream of backbone_names ` +
        `(${said}: slot ${moved[2]} is on ${moved[3]}): name the cluster's nodes with ` +
        "redis+cluster://node1:6379,node2:6379 (the source then follows the cluster), and keep the streams in " +
        "one slot with a common {hash tag} in their names (e.g. {line1}:events)",
      { cause: err },
    );
  }
  if (/^CROSSSLOT\b/.test(said)) {
    return new BackboneConfigError(
      "backbone_names",
      `redis streams ${streams.map((s) => JSON.stringify(s)).join(", ")} are in different slots of a Redis Cluster ` +
        `(${said}): one read names them all, so give them a common {hash tag} (e.g. {plant1}:line1 and ` +
        "{plant1}:line2), or consume one stream per connection",
      { cause: err },
    );
  }
  return undefined;
}

/** What an error says, with what a Cluster client's "Failed to refresh slots cache." hides: the last node's error. */
function reasonText(err: Error | undefined): string {
  const last = (err as { lastNodeError?: Error } | undefined)?.lastNodeError;
  return last ? `no node of the cluster answered: ${last.message}` : String(err?.message);
}

/**
 * A client that connects once, with no retries and no offline queue, for
 * asking a server one thing at start; what it fails with is collected.
 */
function askOnce(options: RedisOptions): { client: Redis; errors: Error[] } {
  const client = new Redis({
    ...options,
    // A server that accepts and never answers (frozen) is passed by, as one that is down.
    connectTimeout: PROBE_WAIT_MS,
    commandTimeout: PROBE_WAIT_MS,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  const errors: Error[] = [];
  client.on("error", (err: Error) => errors.push(err));
  return { client, errors };
}

/** What a sentinel said to the start's probe: answered (wanting a password or not), or why not. */
type SentinelAnswer = { client: Redis; reasons: Error[] } & (
  | { answered: true; wantsPassword: boolean }
  | { answered: false }
);

/** The first of `promises` (none rejects) to resolve to a value `wanted` takes; undefined once all resolved without one. */
function firstOf<T, U extends T>(promises: Promise<T>[], wanted: (value: T) => value is U): Promise<U | undefined> {
  return new Promise((resolve) => {
    let left = promises.length;
    if (left === 0) resolve(undefined);
    for (const promise of promises) {
      void promise.then((value) => {
        if (wanted(value)) resolve(value);
        if (--left === 0) resolve(undefined);
      });
    }
  });
}

function isReset(err: Error | undefined): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/** The servers a URL names: the one server, a cluster's start nodes, or the sentinels; none for a URL that does not parse. */
function serversOf(url: string): { host: string; port: number }[] {
  try {
    if (isSentinelUrl(url)) return parseSentinelUrl(url).sentinels;
    if (/^rediss?\+cluster:/i.test(url.trim())) return parseClusterUrl(url).nodes;
    return [probeTarget(new URL(url.trim()), 6379)];
  } catch {
    return [];
  }
}

/** Why an entry is handed over: read new, read again from our own PEL, or claimed from another consumer. */
type HandedAs = "new" | "history" | "claimed";

export class RedisStreamSource implements Source {
  readonly name: string;
  readonly #opts: RedisStreamSourceOptions;
  readonly #prefetch: number;
  readonly #claimIdleMs: number;
  /** `blockMs` and `answerMs`, or their defaults. */
  readonly #blockMs: number;
  readonly #answerMs: number;
  #reader: RedisClient | undefined;
  #commands: RedisClient | undefined;
  #sink: SourceSink | undefined;
  #stopping = false;
  #running: Promise<void> | undefined;
  #claimTimer: NodeJS.Timeout | undefined;
  #claiming: Promise<void> | undefined;
  /** `stream\0id` of every entry handed to the sink and not acknowledged yet. */
  readonly #inFlight = new Map<string, number>();
  /** Accepts under way (stop waits for them), and each read's accept-then-XACK. */
  readonly #accepts = new Set<Promise<void>>();
  readonly #commits = new Set<Promise<void>>();
  /** Committed entries whose XACK failed (connection lost): acknowledged again once connected. */
  #ackBacklog = new Map<string, Set<string>>();
  /** Our own PEL is read again (id 0) before new entries: at start, after a reconnect, after a failed commit. */
  #readHistory = true;
  /** Reads of our own PEL under way, and what was committed while one was (see #hand). */
  #historyReads = 0;
  readonly #ackedDuringHistory = new Set<string>();
  #roomWaiters: (() => void)[] = [];
  #failures = 0;
  readonly #counts = {
    received: 0,
    committed: 0,
    kept_alive: 0,
    acked: 0,
    rejected_at_source: 0,
    redelivered: 0,
    claimed: 0,
    lost_at_broker: 0,
    reconnects: 0,
    commit_errors: 0,
    ack_errors: 0,
    read_errors: 0,
    groups_created: 0,
  };
  #lag = 0;
  #pending = 0;

  constructor(opts: RedisStreamSourceOptions) {
    this.#opts = opts;
    this.#prefetch = Math.max(1, opts.prefetch ?? DEFAULT_PREFETCH);
    this.#claimIdleMs = Math.max(1, opts.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS);
    this.#blockMs = opts.blockMs ?? DEFAULT_BLOCK_MS;
    this.#answerMs = opts.answerMs ?? DEFAULT_ANSWER_MS;
    this.name = `redis:${opts.consumer}`;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopping = false;
    const opts = this.#opts;
    if (opts.streams.length === 0) {
      throw new BackboneConfigError("backbone_names", "backbone_names is empty: name the stream key(s) to consume");
    }
    const clientOptions = this.#clientOptions();
    this.#settings = clientOptions;
    if (this.#sentinel)
      Object.assign(clientOptions, await this.#sentinelLogin(this.#sentinel, clientOptions.sentinelTLS));
    const client = (connectionName: string): RedisClient => {
      if (this.#cluster) return new Cluster(this.#cluster.nodes, this.#clusterOptions(clientOptions, connectionName));
      return this.#sentinel
        ? new Redis({ ...clientOptions, connectionName })
        : new Redis(opts.url, { ...clientOptions, connectionName });
    };
    this.#commands = client(`${opts.consumer}:commands`);
    this.#reader = client(`${opts.consumer}:reader`);
    // Past the start too, a refusal the settings cause names the field to fix.
    const report = (err: Error, where: string) => {
      const failure = this.#configFailure(err);
      this.#log(failure ? "error" : "warn", failure ? failure.message : `redis ${where}: ${this.#said(err)}`);
    };
    for (const client of [this.#commands, this.#reader]) {
      client.on("error", (err: Error) => report(err, opts.url));
      // A Cluster client says what befalls one node's connection (a node gone silent, refused) as a
      // "node error", never as an "error": said the same way, with the node.
      client.on("node error", (err: Error, node: string) => report(err, `${opts.url}, node ${node}`));
    }
    this.#reader.on("ready", () => {
      // Entries read just before a drop may have no reply: they are in our PEL, read them again.
      this.#readHistory = true;
    });
    this.#commands.on("ready", () => {
      if (this.#connectedOnce) this.#counts.reconnects++;
      this.#connectedOnce = true;
    });
    try {
      await this.#firstConnect(this.#commands);
      await this.#firstConnect(this.#reader);
      if (this.#commands.status === "ready") {
        await this.#ensureGroups();
        await this.#probeRead();
      }
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.#running = this.#readLoop();
    this.#scheduleClaim(0);
  }

  /** How long a server may send nothing while a command waits: a read's block, and `answerMs` past it. */
  get #silenceMs(): number {
    return this.#blockMs + this.#answerMs;
  }

  #connectedOnce = false;
  /** The clients' options, as the start made them (#clientOptions). */
  #settings: RedisOptions = {};
  /** The sentinels and primary name of a redis+sentinel:// URL. */
  #sentinel: SentinelTarget | undefined;
  /** The start nodes of a redis+cluster:// URL. */
  #cluster: ClusterTarget | undefined;

  #clientOptions(): RedisOptions {
    const opts = this.#opts;
    const options: RedisOptions = {
      lazyConnect: true,
      // A server that leaves what it was sent unanswered past a read's block is taken for gone:
      // the socket is dropped and connected again (through the sentinels: to the primary they name).
      socketTimeout: this.#silenceMs,
      // Commands wait across reconnects instead of failing after a few tries.
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
      retryStrategy: (times) => {
        if (this.#stopping) return null;
        return Math.max(50, backoffDelay(times - 1, opts.reconnect ?? { baseMs: 200, maxMs: 10_000 }));
      },
    };
    if (opts.username) options.username = opts.username;
    if (opts.password) options.password = opts.password;
    if (isClusterUrl(opts.url)) {
      this.#cluster = parseClusterUrl(opts.url);
      // Each node's connection: the nodes the cluster announces get the same TLS settings.
      const tls = redisTlsOptions(opts.url, opts.tls);
      if (tls) options.tls = tls;
      return options;
    }
    if (isSentinelUrl(opts.url)) {
      const target = parseSentinelUrl(opts.url);
      // TLS to the sentinels and to the primary they name, with the same settings: a primary's
      // certificate must name the address the sentinels give (or their announced host name).
      const tls = redisTlsOptions(opts.url, opts.tls);
      if (tls) Object.assign(options, { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } satisfies RedisOptions);
      this.#sentinel = target;
      // Whether the sentinels want a password of their own is asked at start (#sentinelLogin).
      Object.assign(options, {
        sentinels: target.sentinels,
        name: target.name,
        db: target.db,
        // A sentinel that accepts and never answers is passed by for the next one.
        sentinelCommandTimeout: this.#answerMs,
        sentinelRetryStrategy: (times: number) =>
          this.#stopping
            ? null
            : Math.max(50, backoffDelay(times - 1, opts.reconnect ?? { baseMs: 200, maxMs: 10_000 })),
        // Sentinel's own failover closes the demoted primary's clients (they reconnect through the
        // sentinels, tested); one demoted otherwise answers READONLY: connect again, to the one they name now.
        reconnectOnError: (err: Error) => (/^READONLY\b/.test(err.message) ? 2 : false),
      } satisfies RedisOptions);
      return options;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(opts.url);
      if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new Error(parsed.protocol);
    } catch {
      throw new BackboneConfigError(
        "backbone_url",
        `backbone_url ${JSON.stringify(opts.url)} is not a Redis URL: redis://host:6379/0, rediss://host:6380/0 ` +
          "or, behind Sentinel, redis+sentinel://host1:26379,host2:26379/mymaster/0, or a Redis Cluster's nodes, " +
          "redis+cluster://node1:6379,node2:6379",
      );
    }
    if (parsed.search || parsed.hash) {
      // ioredis would take every query parameter for a client option of its own, over the source's
      // (?socketTimeout=0 would leave a silent server unnoticed); other clients' (?ssl_cert_reqs=…) it drops.
      throw new BackboneConfigError(
        "backbone_url",
        `backbone_url ${JSON.stringify(opts.url)}: a Redis URL here has no ?query or #fragment ` +
          "(redis://host:6379/0): TLS, the CA, the user and the password have fields of their own",
      );
    }
    // ioredis reads rediss:// as TLS with Node's defaults; the connection's own settings go in here.
    const tls = redisTlsOptions(opts.url, opts.tls);
    if (tls) options.tls = tls;
    return options;
  }

  /**
   * What the sentinels want to be asked with: nothing, or (`requirepass` in
   * sentinel.conf, which charts such as Bitnami's set to the primary's) the
   * connection's password, with its user if they know it. The first sentinel
   * that answers says; giving a password to sentinels that want none would
   * have ioredis warn on every connection. None answering: asked without, and
   * a NOAUTH later is logged naming backbone_password (#configFailure).
   */
  async #sentinelLogin(
    target: SentinelTarget,
    tls: RedisOptions["sentinelTLS"],
  ): Promise<Pick<RedisOptions, "sentinelUsername" | "sentinelPassword">> {
    const { username, password, url } = this.#opts;
    // All asked at once: the first to answer says, and one that is down or frozen costs no more than the wait.
    const probes = target.sentinels.map(({ host, port }) =>
      askOnce({
        host,
        port,
        ...(tls ? { tls } : {}),
        // Its INFO would fail on NOAUTH before the PING below could ask.
        enableReadyCheck: false,
      }),
    );
    try {
      const asked = probes.map(async ({ client, errors }): Promise<SentinelAnswer> => {
        const unreachable = await client.connect().then(
          () => undefined,
          (err: Error) => err,
        );
        if (unreachable) return { client, answered: false, reasons: [...errors, unreachable] };
        const refused = await client.ping().then(
          () => undefined,
          (err: Error) => err,
        );
        if (!refused) return { client, answered: true, wantsPassword: false, reasons: [] };
        if (/^NOAUTH\b/.test(refused.message)) return { client, answered: true, wantsPassword: true, reasons: [] };
        return { client, answered: false, reasons: [refused] };
      });
      const first = await firstOf(asked, (answer): answer is SentinelAnswer & { answered: true } => answer.answered);
      if (!first) {
        // None answered. A certificate refused stops here, naming the field; sentinels that are down do not.
        for (const answer of await Promise.all(asked)) {
          for (const reason of answer.reasons) {
            const failure = describeRedisTlsFailure(reason, url, this.#opts.tls);
            if (failure) throw failure;
          }
        }
        return {};
      }
      if (!first.wantsPassword) return {};
      if (!password) {
        throw new BackboneConfigError(
          "backbone_password",
          `the sentinels at ${sentinelsText(target)} (backbone_url ${url}) ask for a password (requirepass in ` +
            "sentinel.conf) and backbone_password is empty: sentinels take the connection's password",
        );
      }
      const logins: [Pick<RedisOptions, "sentinelUsername" | "sentinelPassword">, string[]][] = username
        ? [
            [{ sentinelUsername: username, sentinelPassword: password }, [username, password]],
            [{ sentinelPassword: password }, [password]],
          ]
        : [[{ sentinelPassword: password }, [password]]];
      let last: Error | undefined;
      for (const [login, args] of logins) {
        const ok = await first.client.call("AUTH", ...args).then(
          () => true,
          (err: Error) => {
            last = err;
            return false;
          },
        );
        if (ok) return login;
      }
      throw new BackboneConfigError(
        "backbone_password",
        `the sentinels at ${sentinelsText(target)} (backbone_url ${url}) refused the connection's password ` +
          `(${last?.message}): sentinels with a requirepass of their own take backbone_password, as the primary does`,
      );
    } finally {
      for (const { client } of probes) client.disconnect();
    }
  }

  /**
   * A Cluster client over the nodes of the URL: each node's connection takes
   * the connection's own options (user, password, retries); commands wait
   * while the cluster is down or failing over, and follow its redirections.
   */
  #clusterOptions(node: RedisOptions, connectionName: string): ClusterOptions {
    const { lazyConnect: _lazy, retryStrategy, ...perNode } = node;
    return {
      // Over TLS the nodes are reached by the names given and announced, not their addresses:
      // a certificate names the host (a managed service's node names), which Node checks.
      ...(node.tls
        ? { dnsLookup: (address: string, done: (err: null, found: string) => void) => done(null, address) }
        : {}),
      lazyConnect: true,
      enableAutoPipelining: false,
      redisOptions: { ...perNode, connectionName },
      clusterRetryStrategy: (times) => (retryStrategy ? retryStrategy(times) : null) ?? null,
      // Served by the primaries only: a consumer group is written to.
      scaleReads: "master",
      maxRedirections: 16,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
    };
  }

  /**
   * Resolves once connected, or once the first attempt failed in transport
   * (the broker being down is no reason to stop: the client keeps trying).
   * Refused credentials and a TLS handshake the settings made fail reject,
   * naming the field to fix.
   */
  async #firstConnect(client: RedisClient): Promise<void> {
    // ioredis rejects connect() with "Connection is closed."; the reasons come as error events.
    const reasons: Error[] = [];
    // Through Sentinel, connect() waits while no sentinel names a primary: one round of asking them all ends the wait.
    let roundFailed: ((err: Error) => void) | undefined;
    const sentinelRound = new Promise<never>((_, reject) => {
      roundFailed = reject;
    });
    sentinelRound.catch(() => {});
    const onError = (err: Error) => {
      reasons.push(err);
      if (/^All sentinels are unreachable/.test(err.message)) roundFailed?.(err);
    };
    client.on("error", onError);
    try {
      await Promise.race([client.connect(), sentinelRound]);
    } catch (err) {
      if (reasons.length === 0) reasons.push(err as Error);
      // Over TLS a server refusing our certificate may just reset the connection before its
      // alert arrives: a reset is read as such only after a few more attempts said nothing else.
      const deadline = Date.now() + AMBIGUOUS_RESET_WAIT_MS;
      while (isReset(reasons.at(-1)) && wantsTls(this.#opts.url, this.#opts.tls) && Date.now() < deadline) {
        if (client.status === "ready") return;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const reason of reasons) {
        const failure = this.#configFailure(reason);
        if (failure) throw failure;
      }
      if (this.#cluster) {
        const failure = await this.#clusterNodeFailure(this.#cluster);
        if (failure) throw failure;
      }
      const mixup = await this.#tlsPortMixup(reasons);
      if (mixup) throw mixup;
      this.#log("warn", `redis ${this.#opts.url} not reachable yet (${this.#said(reasons.at(-1))}): retrying`);
    } finally {
      client.off("error", onError);
    }
  }

  /**
   * A plain client the port reset, or a TLS client whose handshake the port left
   * unanswered or closed: a TLS port, or a plain one (a server going down too). The
   * servers of the URL (the server, the cluster's start nodes, or the sentinels) are
   * asked once what they speak; a mix-up is a setting to fix.
   */
  async #tlsPortMixup(reasons: Error[]): Promise<BackboneConfigError | undefined> {
    const { url, tls } = this.#opts;
    const servers = serversOf(url);
    const last = reasons.at(-1);
    const said = reasons.map((r) => `${(r as NodeJS.ErrnoException).code} ${r.message}`).join(" / ");
    // ioredis's Cluster and Sentinel clients report a server's reset in their own words.
    const indirect = /Connection is closed|All sentinels are unreachable|Failed to refresh slots cache/.test(said);
    const scheme = (/^(rediss?(?:\+cluster|\+sentinel)?):/i.exec(url.trim())?.[1] ?? "redis").toLowerCase();
    if (!wantsTls(url, tls)) {
      if (!(reasons.some(isReset) || indirect)) return undefined;
      for (const { host, port } of servers) {
        if (!(await answersTls(host, port))) continue;
        return new BackboneConfigError(
          "backbone_url",
          `${host}:${port} speaks TLS, and backbone_url is plain ${scheme}://: use ${scheme.replace("redis", "rediss")}:// ` +
            `for this port (the server's tls-port), or its plain port (${reasonText(last)})`,
          { cause: last },
        );
      }
      return undefined;
    }
    if (!(indirect || /ECONNRESET|EPIPE|ETIMEDOUT|before secure TLS connection/.test(said))) return undefined;
    const field = /^rediss/i.test(scheme) ? "backbone_url" : "backbone_tls";
    for (const { host, port } of servers) {
      if (!(await answersPlain(host, port, REDIS_HELLO, redisUnderstood))) continue;
      return new BackboneConfigError(
        field,
        `${host}:${port} speaks plain Redis, without TLS, and ${field === "backbone_url" ? `backbone_url is ${scheme}://` : "backbone_tls is on"}: ` +
          `use the server's TLS port (tls-port) for TLS, or ${field === "backbone_url" ? `${scheme.replace("rediss", "redis")}://` : "backbone_tls off"} for this port (${reasonText(last)})`,
        { cause: last },
      );
    }
    return undefined;
  }

  /**
   * Why the start nodes of a cluster refused us, if the settings are why: a
   * Cluster client reports a certificate or login its nodes refused only as
   * "Connection is closed.", so each start node is asked once by a plain
   * client with the same settings.
   */
  async #clusterNodeFailure(target: ClusterTarget): Promise<BackboneConfigError | undefined> {
    for (const { host, port } of target.nodes) {
      const { client: probe, errors: reasons } = askOnce({ ...this.#settings, host, port });
      try {
        await probe.connect();
        await probe.ping();
      } catch (err) {
        reasons.push(err as Error);
      } finally {
        probe.disconnect();
      }
      for (const reason of reasons) {
        const failure = this.#configFailure(reason);
        if (failure) return failure;
      }
    }
    return undefined;
  }

  /** What a client's error says, the silence of a server in words a person acts on. */
  #said(err: Error | undefined): string {
    if (!err || !/^Socket timeout\b/.test(err.message)) return reasonText(err);
    return (
      `answered nothing for ${this.#silenceMs} ms while a command waited: taken for gone (a frozen server, ` +
      "or a network that drops packets), connecting again"
    );
  }

  #configFailure(err: Error): BackboneConfigError | undefined {
    const opts = this.#opts;
    if (LOGIN_REFUSED.test(err.message)) {
      return new BackboneConfigError(
        opts.username ? "backbone_username" : "backbone_password",
        `redis ${opts.url} refused the login (${err.message}): check backbone_username and backbone_password ` +
          "(an ACL user needs the rule of the Redis source's README: +xreadgroup +xack +xautoclaim +xclaim +xgroup +xinfo +type +info +ping +client and ~ on the stream keys)",
        { cause: err },
      );
    }
    if (this.#sentinel) {
      const refused =
        unknownPrimary(err, opts.url, this.#sentinel) ?? sentinelLoginRefused(err, opts.url, this.#sentinel);
      if (refused) return refused;
    }
    return layoutFailure(err, opts.url, opts.streams) ?? describeRedisTlsFailure(err, opts.url, opts.tls);
  }

  /** Creates the group on every stream that lacks it (and the stream, empty, if missing). */
  async #ensureGroups(): Promise<void> {
    const commands = this.#commands as RedisClient;
    const { group, streams, startId } = this.#opts;
    for (const stream of streams) {
      const type = await commands.type(stream).catch((err: Error) => {
        throw this.#configFailure(err) ?? err;
      });
      if (type !== "stream" && type !== "none") {
        throw new BackboneConfigError(
          "backbone_names",
          `redis key ${JSON.stringify(stream)} (backbone_names) holds a ${type}, not a stream: name a stream key`,
        );
      }
      try {
        await commands.xgroup("CREATE", stream, group, startId ?? "0", "MKSTREAM");
        this.#counts.groups_created++;
        this.#log(
          type === "none" ? "warn" : "info",
          type === "none"
            ? `redis stream ${JSON.stringify(stream)} did not exist: created it, empty, with group ${JSON.stringify(group)}; ` +
                "if producers write to another key, fix backbone_names"
            : `created consumer group ${JSON.stringify(group)} on stream ${JSON.stringify(stream)} from ${startId ?? "0"}`,
        );
      } catch (err) {
        if (!/^BUSYGROUP/.test((err as Error).message)) {
          throw this.#configFailure(err as Error) ?? err;
        }
      }
    }
  }

  /**
   * One XREADGROUP naming every stream, after the largest id there is: it
   * returns nothing and changes nothing, but the server refuses it as it would
   * refuse the reads (a replica, a cluster node that does not serve the
   * streams, streams in several slots), so start says what to fix.
   */
  async #probeRead(): Promise<void> {
    const { group, consumer, streams } = this.#opts;
    try {
      await (this.#commands as RedisClient).call(
        "XREADGROUP",
        "GROUP",
        group,
        consumer,
        "COUNT",
        1,
        "STREAMS",
        ...streams,
        ...streams.map(() => LAST_POSSIBLE_ID),
      );
    } catch (err) {
      throw this.#configFailure(err as Error) ?? err;
    }
  }

  async #readLoop(): Promise<void> {
    const { streams } = this.#opts;
    while (!this.#stopping) {
      try {
        await this.#flushAckBacklog();
        if (this.#readHistory) {
          this.#readHistory = false;
          await this.#readOwnPending();
          continue;
        }
        const room = await this.#room();
        if (this.#stopping) break;
        const reply = await this.#readGroup(
          room,
          streams.map((stream) => [stream, ">"]),
          this.#blockMs,
        );
        this.#failures = 0;
        if (reply && !this.#stopping) this.#hand(reply, "new");
      } catch (err) {
        if (this.#stopping) break;
        await this.#readFailed(err as Error);
      }
    }
  }

  /** XREADGROUP of this consumer: at most `count` entries after each `[stream, id]`, waiting `blockMs` when given. */
  #readGroup(count: number, from: [string, string][], blockMs?: number): Promise<StreamReply | null> {
    const { group, consumer } = this.#opts;
    const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
    return (this.#reader as RedisClient).callBuffer(
      "XREADGROUP",
      "GROUP",
      group,
      consumer,
      "COUNT",
      count,
      ...block,
      "STREAMS",
      ...from.map(([stream]) => stream),
      ...from.map(([, id]) => id),
    ) as Promise<StreamReply | null>;
  }

  async #readFailed(err: Error): Promise<void> {
    this.#counts.read_errors++;
    if (/^NOGROUP\b/.test(err.message)) {
      // The broker lost the group (restarted without persistence, or someone destroyed it).
      this.#log("warn", `redis: ${err.message}: creating the consumer group again`);
      try {
        await this.#ensureGroups();
      } catch (again) {
        this.#log("error", `redis: cannot create the consumer group: ${(again as Error).message}`);
      }
    } else {
      // A failover or a slot moved away since the start: said as what to fix, and tried again.
      const failure = this.#configFailure(err);
      if (failure) this.#log("error", `redis read refused: ${failure.message}`);
      else this.#log("warn", `redis read failed: ${err.message}`);
    }
    this.#readHistory = true;
    const delay = backoffDelay(this.#failures++, this.#opts.reconnect ?? { baseMs: 200, maxMs: 10_000 });
    await new Promise((r) => setTimeout(r, delay));
  }

  /** This consumer's own pending entries, oldest first, in pages: what a crash or a drop left unacknowledged. */
  async #readOwnPending(): Promise<void> {
    const { streams } = this.#opts;
    for (const stream of streams) {
      let after = "0";
      while (!this.#stopping) {
        const room = await this.#room();
        if (this.#stopping) return;
        this.#historyReads++;
        try {
          const reply = await this.#readGroup(room, [[stream, after]]);
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) break;
          after = (entries[entries.length - 1] as [Buffer, unknown])[0].toString();
          this.#hand(reply as StreamReply, "history");
        } finally {
          if (--this.#historyReads === 0) this.#ackedDuringHistory.clear();
        }
      }
    }
  }

  /** Waits until fewer than `prefetch` entries are unacknowledged; the number that may be read. */
  async #room(): Promise<number> {
    while (!this.#stopping && this.#inFlight.size >= this.#prefetch) {
      await new Promise<void>((r) => this.#roomWaiters.push(r));
    }
    // A quarter of prefetch per read: the next read is on the wire while the last one commits and is acked.
    return Math.max(1, Math.min(this.#prefetch - this.#inFlight.size, Math.ceil(this.#prefetch / READS_IN_FLIGHT)));
  }

  #freeRoom(): void {
    const waiting = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiting) wake();
  }

  /** Hands what one read or claim returned to the sink in one accept; XACK after the commit. */
  #hand(reply: StreamReply, as: HandedAs): void {
    const receivedAt = new Date();
    const intakes: Intake[] = [];
    const keys: string[] = [];
    const toAck = new Map<string, string[]>();
    const gone = new Map<string, string[]>();
    for (const [streamBytes, entries] of reply) {
      const stream = streamBytes.toString();
      for (const [idBytes, fields] of entries) {
        const id = idBytes.toString();
        const key = `${stream}\0${id}`;
        // In flight, or acknowledged while this read of our history was on its way (the server
        // answered before the XACK on the other connection, the answer came after).
        if (this.#inFlight.has(key) || this.#ackedDuringHistory.has(key)) continue;
        if (fields === null) {
          // Trimmed (XTRIM, MAXLEN) or XDELed while pending: its content is gone at the broker.
          this.#counts.lost_at_broker++;
          this.#log(
            "error",
            `redis stream ${stream}: entry ${id} was deleted while pending (trimmed?): lost at the broker`,
          );
          push(gone, stream, id);
          continue;
        }
        this.#counts.received++;
        if (as === "history") this.#counts.redelivered++;
        if (as === "claimed") this.#counts.claimed++;
        const items = entryIntakes(stream, id, fields as EntryFields, receivedAt);
        for (const item of items) if (item.kind === "rejected") this.#counts.rejected_at_source++;
        intakes.push(...items);
        keys.push(key);
        push(toAck, stream, id);
        this.#inFlight.set(key, Date.now());
      }
    }
    if (gone.size > 0) this.#ack(gone, false);
    if (keys.length === 0) return;
    const sink = this.#sink as SourceSink;
    const accepted = sink.accept(intakes);
    // Leaves the set as it settles (before a waiting stop looks again), not after the XACK.
    const tracked: Promise<void> = accepted.then(
      () => {
        this.#accepts.delete(tracked);
      },
      () => {
        this.#accepts.delete(tracked);
      },
    );
    this.#accepts.add(tracked);
    let committed = false;
    const commit = accepted.then(
      () => {
        committed = true;
        this.#counts.committed += keys.length;
        return this.#ack(toAck, true);
      },
      (err: Error) => {
        // Not committed, not acknowledged: the entries stay in our PEL and are read again.
        this.#counts.commit_errors += keys.length;
        this.#readHistory = true;
        this.#log("error", `spool commit failed for ${keys.length} redis entr(ies): ${err.message}`);
      },
    );
    const settled = commit.then(() => {
      for (const key of keys) {
        this.#inFlight.delete(key);
        if (committed && this.#historyReads > 0) this.#ackedDuringHistory.add(key);
      }
      this.#commits.delete(settled);
      this.#freeRoom();
    });
    this.#commits.add(settled);
  }

  /** XACK per stream; a failure keeps the ids for the next attempt (the spool deduplicates a redelivery anyway). */
  async #ack(byStream: Map<string, string[]>, counted: boolean): Promise<void> {
    const commands = this.#commands;
    if (!commands) return;
    await Promise.all(
      [...byStream].map(async ([stream, ids]) => {
        try {
          await commands.xack(stream, this.#opts.group, ...ids);
          if (counted) this.#counts.acked += ids.length;
        } catch (err) {
          this.#counts.ack_errors += ids.length;
          this.#log(
            "warn",
            `XACK of ${ids.length} entr(ies) of ${stream} failed (${(err as Error).message}): retrying`,
          );
          const backlog = this.#ackBacklog.get(stream) ?? new Set<string>();
          for (const id of ids) backlog.add(id);
          this.#ackBacklog.set(stream, backlog);
        }
      }),
    );
  }

  async #flushAckBacklog(): Promise<void> {
    if (this.#ackBacklog.size === 0) return;
    const backlog = this.#ackBacklog;
    this.#ackBacklog = new Map();
    await this.#ack(new Map([...backlog].map(([stream, ids]) => [stream, [...ids]])), true);
  }

  #scheduleClaim(delayMs: number): void {
    if (this.#stopping) return;
    this.#claimTimer = setTimeout(() => {
      this.#claiming = this.#claimRound().finally(() => {
        this.#claiming = undefined;
        this.#scheduleClaim(Math.min(this.#claimIdleMs, Math.max(250, this.#claimIdleMs / 2)));
      });
    }, delayMs);
    this.#claimTimer.unref();
  }

  /**
   * Takes over entries pending longer than claim_idle_ms under any consumer
   * (a dead sidecar's; ours in flight are skipped), and reads the group's lag.
   */
  async #claimRound(): Promise<void> {
    const commands = this.#commands;
    if (commands?.status !== "ready") return;
    try {
      await this.#keepOwnEntries(commands);
      for (const stream of this.#opts.streams) await this.#claimFrom(commands, stream);
      await this.#readGroupInfo(commands);
    } catch (err) {
      // A round an abort or a stop cut short: its client is closed, nothing to say.
      if (this.#stopping) return;
      if (/^NOGROUP\b/.test((err as Error).message)) this.#readHistory = true;
      else {
        const failure = this.#configFailure(err as Error);
        if (failure) this.#log("error", `redis claim round refused: ${failure.message}`);
        else this.#log("warn", `redis claim round failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Entries of ours still waiting for their commit (a full spool) are claimed
   * again by us (XCLAIM … JUSTID: idle time back to 0, delivery count
   * unchanged), so another sidecar does not take them from a live one.
   */
  async #keepOwnEntries(commands: RedisClient): Promise<void> {
    const now = Date.now();
    const byStream = new Map<string, string[]>();
    for (const [key, since] of this.#inFlight) {
      if (now - since < this.#claimIdleMs / 4) continue;
      const cut = key.lastIndexOf("\0");
      push(byStream, key.slice(0, cut), key.slice(cut + 1));
      this.#inFlight.set(key, now);
    }
    const { group, consumer } = this.#opts;
    for (const [stream, ids] of byStream) {
      await commands.call("XCLAIM", stream, group, consumer, 0, ...ids, "JUSTID");
      this.#counts.kept_alive += ids.length;
    }
  }

  async #claimFrom(commands: RedisClient, stream: string): Promise<void> {
    const { group, consumer } = this.#opts;
    let cursor = "0-0";
    do {
      if (this.#stopping || this.#inFlight.size >= this.#prefetch) return;
      const room = this.#prefetch - this.#inFlight.size;
      const reply = (await commands.callBuffer(
        "XAUTOCLAIM",
        stream,
        group,
        consumer,
        this.#claimIdleMs,
        cursor,
        "COUNT",
        room,
      )) as [Buffer, [Buffer, Buffer[] | null][], Buffer[]?];
      cursor = reply[0].toString();
      const deleted = reply[2] ?? [];
      if (deleted.length > 0) {
        // Redis 7 drops these from the PEL itself: all that is left to do is to say so.
        this.#counts.lost_at_broker += deleted.length;
        this.#log(
          "error",
          `redis stream ${stream}: ${deleted.length} pending entr(ies) were trimmed before being acknowledged ` +
            `(${deleted.map((id) => id.toString()).join(", ")}): lost at the broker; never trim past what the group acknowledged`,
        );
      }
      if (reply[1].length > 0 && !this.#stopping) this.#hand([[Buffer.from(stream), reply[1]]], "claimed");
    } while (cursor !== "0-0");
  }

  /** XINFO GROUPS: the group's lag (entries not yet delivered) and its pending count. */
  async #readGroupInfo(commands: RedisClient): Promise<void> {
    let lag = 0;
    let pending = 0;
    for (const stream of this.#opts.streams) {
      const groups = (await commands.call("XINFO", "GROUPS", stream)) as unknown[][];
      for (const info of groups) {
        const fields = new Map<string, unknown>();
        for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
        if (fields.get("name") !== this.#opts.group) continue;
        lag += Number(fields.get("lag") ?? 0) || 0;
        pending += Number(fields.get("pending") ?? 0) || 0;
      }
    }
    this.#lag = lag;
    this.#pending = pending;
  }

  async stop(): Promise<void> {
    const reader = this.#reader;
    const commands = this.#commands;
    if (!reader && !commands) return;
    this.#stopping = true;
    if (this.#claimTimer) clearTimeout(this.#claimTimer);
    this.#freeRoom();
    // What is being committed to the spool is committed; its XACKs get a short while to go out
    // (with the broker down they cannot: those entries come back once, as duplicates).
    while (this.#accepts.size > 0) await Promise.all([...this.#accepts]);
    const acks = (async () => {
      await this.#claiming;
      while (this.#commits.size > 0) await Promise.all([...this.#commits]);
      await this.#flushAckBacklog();
    })();
    await within(
      acks.catch(() => {}),
      STOP_ACK_WAIT_MS,
    );
    // Interrupts the blocked read; what it returns now stays pending for our next start.
    reader?.disconnect();
    if (commands?.status === "ready")
      await within(
        commands.quit().catch(() => {}),
        1_000,
      );
    commands?.disconnect();
    // ioredis leaves a command queued while reconnecting unanswered when disconnected
    // then: the read loop may never wake up, and need not.
    await within(this.#running?.catch(() => {}) ?? Promise.resolve(), 1_000);
    this.#reader = undefined;
    this.#commands = undefined;
  }

  /** Dies like a killed process: no more acks; what is unacknowledged stays pending at the broker. */
  async abort(): Promise<void> {
    this.#stopping = true;
    if (this.#claimTimer) clearTimeout(this.#claimTimer);
    this.#freeRoom();
    this.#reader?.disconnect();
    this.#commands?.disconnect();
    this.#reader = undefined;
    this.#commands = undefined;
  }

  get connected(): boolean {
    return this.#commands?.status === "ready" && this.#reader?.status === "ready";
  }

  stats(): Record<string, number> {
    return {
      ...this.#counts,
      in_flight: this.#inFlight.size,
      connected: this.connected ? 1 : 0,
      lag: this.#lag,
      pending: this.#pending,
    };
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }
}

/** Waits for `work`, at most `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function push(map: Map<string, string[]>, stream: string, id: string): void {
  const ids = map.get(stream);
  if (ids) ids.push(id);
  else map.set(stream, [id]);
}
