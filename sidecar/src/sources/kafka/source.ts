// Kafka source: a member of a consumer group (@platformatic/kafka, classic
// group protocol) that hands each record to the pipeline and commits the
// group's offset only after the spool committed what the record became.
//
// - Order: one record at a time per partition, in offset order; producers key
//   records by work center, so a work center's events stay in one partition.
// - Backpressure: at most `prefetch` records are handed to one accept, and the
//   next is read only after it resolved (the client reads ahead by at most
//   one fetch into a buffer of `prefetch` records).
// - Rebalance: before this member rejoins the group (the library asks it for
//   its subscription metadata then), the accept under way finishes and its
//   offsets are committed, so a partition is handed over at exactly what the
//   spool holds. An accept that outlives the rebalance timeout is abandoned:
//   its offsets are not committed for partitions this member lost, and the
//   new owner reads those records again (the spool and Odoo drop the duplicate).
// - Transactions: read_committed, as Kafka's own consumer reads them: what a
//   transactional producer aborted is never handed over (transactions.ts).
// - A dead member (kill -9) stops heartbeating; after the session timeout
//   (`claim_idle_ms`) the group gives its partitions to the members left.
import { hostname } from "node:os";
import { FetchIsolationLevels, type Message, type MessagesStream } from "@platformatic/kafka";
import { type BackoffPolicy, backoffDelay } from "../../core/backoff.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import type { Source, SourceSink } from "../../core/ports.ts";
import { recordIntakes } from "./binding.ts";
import {
  BackboneConfigError,
  confirmListenerMixup,
  describeKafkaFailure,
  type KafkaTlsSettings,
  kafkaTlsOptions,
} from "./errors.ts";
import { ReadCommittedConsumer } from "./transactions.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export type KafkaSaslMechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";

export interface KafkaSourceOptions {
  /** Bootstrap brokers, `host:port` each. */
  brokers: string[];
  topics: string[];
  groupId: string;
  /** Kafka client id of this member (its name in the group's member list). */
  clientId: string;
  /** Most records of one accept (default 500). */
  prefetch?: number;
  /** Group session timeout: a member silent this long is dead and its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  /** TLS to the brokers, with the connection's PEM settings; undefined for plain TCP. */
  tls?: KafkaTlsSettings;
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  /** Where a group without a committed offset starts: the oldest record kept (default) or only new ones. */
  start?: "earliest" | "latest";
  /**
   * How long an offset commit may go unanswered before the session is taken for lost and
   * opened again (default 15 s): a coordinator that stops answering (a frozen host, a network
   * that drops packets) refuses and resets nothing, and the client would wait on it.
   */
  answerMs?: number;
  backoff?: BackoffPolicy;
  log?: SourceLog;
}

const SASL_MECHANISMS: Record<string, KafkaSaslMechanism> = {
  plain: "PLAIN",
  "scram-sha-256": "SCRAM-SHA-256",
  "scram-sha-512": "SCRAM-SHA-512",
};

/** The source's options from the connection's backbone settings; bad settings throw naming the field. */
export function kafkaOptionsFromConfig(config: SidecarConfig, log?: SourceLog): KafkaSourceOptions {
  const backbone = config.backbone;
  if (!backbone) {
    throw new BackboneConfigError(
      "backbone_url",
      `connection ${config.code}: kind kafka needs the backbone settings (bootstrap brokers, topics, group)`,
    );
  }
  const brokers = parseBrokers(backbone.url);
  const topics = backbone.names.map((n) => n.trim()).filter(Boolean);
  if (topics.length === 0) {
    throw new BackboneConfigError(
      "backbone_names",
      "backbone_names is empty: name the Kafka topic(s) to consume, one per line",
    );
  }
  if (!backbone.group.trim()) {
    throw new BackboneConfigError(
      "backbone_group",
      "backbone_group is empty: a Kafka source consumes as a member of a consumer group (sidecars sharing the work use the same group)",
    );
  }
  const opts: KafkaSourceOptions = {
    brokers,
    topics,
    groupId: backbone.group.trim(),
    clientId: backbone.consumer.trim() || `sfb-${hostname()}`,
    prefetch: backbone.prefetch > 0 ? backbone.prefetch : 500,
    sessionTimeoutMs: backbone.claim_idle_ms > 0 ? backbone.claim_idle_ms : 10_000,
  };
  if (backbone.tls) {
    opts.tls = backbone;
    kafkaTlsOptions(backbone); // throws now, naming the field, for PEM that cannot work
  } else if (backbone.ca.trim() || backbone.client_cert.trim() || backbone.client_key.trim()) {
    throw new BackboneConfigError(
      "backbone_tls",
      "backbone_tls is off but a CA or client certificate is set: turn backbone_tls on (or clear the certificates)",
    );
  }
  if (backbone.sasl_mechanism) {
    const mechanism = SASL_MECHANISMS[backbone.sasl_mechanism];
    if (!mechanism) {
      throw new BackboneConfigError(
        "backbone_sasl_mechanism",
        `backbone_sasl_mechanism ${backbone.sasl_mechanism} is not plain, scram-sha-256 or scram-sha-512`,
      );
    }
    if (!backbone.username) {
      throw new BackboneConfigError(
        "backbone_username",
        `backbone_sasl_mechanism is ${backbone.sasl_mechanism} but backbone_username is empty`,
      );
    }
    opts.sasl = { mechanism, username: backbone.username, password: backbone.password };
  } else if (backbone.username) {
    log?.("warn", "backbone_username is set but backbone_sasl_mechanism is empty: connecting to Kafka without SASL");
  }
  if (log) opts.log = log;
  return opts;
}

/** `host:9092,host2:9092` (a `kafka://` prefix is tolerated) into host:port entries; anything else names backbone_url. */
export function parseBrokers(url: string): string[] {
  const entries = url
    .split(/[,\s]+/)
    .map((entry) =>
      entry
        .trim()
        .replace(/^kafka(\+ssl)?:\/\//, "")
        .replace(/\/$/, ""),
    )
    .filter(Boolean);
  if (entries.length === 0) {
    throw new BackboneConfigError(
      "backbone_url",
      "backbone_url is empty: give the bootstrap brokers as host:port, comma-separated",
    );
  }
  for (const entry of entries) {
    const port = brokerAddress(entry)?.port ?? 0;
    if (port < 1 || port > 65535) {
      throw new BackboneConfigError(
        "backbone_url",
        `backbone_url entry ${JSON.stringify(entry)} is not host:port (e.g. kafka1:9092)`,
      );
    }
  }
  return entries;
}

/** A bootstrap broker `host:port` (IPv6 in brackets) → its host (without brackets) and port; undefined for anything else. */
export function brokerAddress(entry: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s/]+):(\d{1,5})$/.exec(entry);
  return match ? { host: (match[1] as string).replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) } : undefined;
}

type Record_ = Message<Buffer, Buffer, Buffer, Buffer>;
/** One partition's offset, as an offset commit names it. */
type OffsetToCommit = { topic: string; partition: number; offset: bigint; leaderEpoch: number };

interface Session {
  consumer: ReadCommittedConsumer;
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An offset commit the coordinator left unanswered past `answerMs`: the session ends and is opened again. */
class SilentCoordinator extends Error {}

export class KafkaSource implements Source {
  readonly name: string;
  readonly #opts: KafkaSourceOptions;
  readonly #prefetch: number;
  readonly #sessionTimeoutMs: number;
  readonly #answerMs: number;
  #sink: SourceSink | undefined;
  #session: Session | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  #aborted = false;
  /** The accept under way and the commit of its offsets. */
  #inFlight: Promise<void> | undefined;
  /** Set from the moment this member starts rejoining until the group assigned it partitions again. */
  #rejoining: Deferred<void> | undefined;
  /** Partitions this member holds now; undefined until the group first assigned some (or none). */
  #assigned: Set<string> | undefined;
  /** Per partition, the offset after the last record handed to the sink: a record below it was read again. */
  #next = new Map<string, bigint>();
  #wake: (() => void) | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  readonly #counts = {
    received: 0,
    committed: 0,
    acked: 0,
    rejected_at_source: 0,
    redelivered: 0,
    /** Records of aborted transactions the client library passed on and transactions.ts dropped (those it drops itself are not counted). */
    aborted_skipped: 0,
    commit_failures: 0,
    rebalances: 0,
    reconnects: 0,
    connected: 0,
    partitions: 0,
    lag: 0,
  };

  constructor(opts: KafkaSourceOptions) {
    this.#opts = opts;
    this.#prefetch = Math.max(1, opts.prefetch ?? 500);
    this.#sessionTimeoutMs = Math.max(1_000, opts.sessionTimeoutMs ?? 10_000);
    this.#answerMs = Math.max(100, opts.answerMs ?? 15_000);
    this.name = `kafka:${opts.topics.join(",")}`;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopping = false;
    this.#aborted = false;
    this.#assigned = undefined;
    this.#next.clear();
    const first = deferred<void>();
    this.#running = this.#run(first);
    await first.promise;
    this.#lagTimer = setInterval(() => void this.#updateLag(), 5_000);
    this.#lagTimer.unref();
  }

  /** Stops reading; the accept under way is awaited and its offsets committed, then the member leaves the group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#lagTimer);
    await this.#inFlight?.catch(() => {});
    this.#wake?.();
    await this.#close(false);
    await this.#running?.catch(() => {});
  }

  /** As a process that dies: nothing under way is committed, the member leaves at once (tests). */
  async abort(): Promise<void> {
    this.#stopping = true;
    this.#aborted = true;
    clearInterval(this.#lagTimer);
    this.#wake?.();
    await this.#close(true);
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  async #close(force: boolean): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#counts.connected = 0;
    // A rejoin this session will never finish must not hold the reading loop.
    this.#rejoining?.resolve();
    this.#rejoining = undefined;
    if (!session) return;
    await session.stream.close().catch(() => {});
    await session.consumer.close(force).catch(() => {});
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }

  async #run(first: Deferred<void>): Promise<void> {
    let attempt = 0;
    let started = false;
    while (!this.#stopping) {
      try {
        this.#session = await this.#connect();
        this.#counts.connected = 1;
        if (started) this.#log("info", `kafka: connected again to ${this.#opts.brokers.join(",")}`);
        started = true;
        attempt = 0;
        first.resolve();
      } catch (err) {
        const described = await confirmListenerMixup(
          describeKafkaFailure(err, this.#opts.brokers.join(","), this.#opts.topics, this.#opts.tls),
          brokerAddress(this.#opts.brokers[0] ?? ""),
          this.#opts.tls !== undefined,
        );
        await this.#close(true);
        if (!started && !(described instanceof BackboneConfigError && described.transient)) {
          first.reject(described);
          return;
        }
        started = true;
        first.resolve();
        this.#log("warn", `kafka: ${(described as Error).message}`);
        await this.#sleep(backoffDelay(attempt++, this.#opts.backoff));
        continue;
      }
      const why = await this.#consume(this.#session);
      if (this.#stopping) return;
      this.#log("warn", `kafka: ${why}; reconnecting (offsets resume from the last commit)`);
      await this.#close(true);
      this.#counts.reconnects++;
      await this.#sleep(backoffDelay(attempt++, this.#opts.backoff));
    }
  }

  async #connect(): Promise<Session> {
    const opts = this.#opts;
    const sessionTimeout = this.#sessionTimeoutMs;
    const onAborted = (count: number) => {
      this.#counts.aborted_skipped += count;
    };
    const consumer = new ReadCommittedConsumer(
      {
        clientId: opts.clientId,
        bootstrapBrokers: opts.brokers,
        groupId: opts.groupId,
        sessionTimeout,
        heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 5)),
        rebalanceTimeout: Math.max(sessionTimeout, 30_000),
        autocommit: false,
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        connectTimeout: 10_000,
        retries: 2,
        ...(opts.tls ? { tls: kafkaTlsOptions(opts.tls) } : {}),
        ...(opts.sasl ? { sasl: opts.sasl } : {}),
        // Called before every JoinGroup: the moment to finish what is under way (see the file comment).
        protocolsMetadata: async () => {
          await this.#beforeRejoin();
          return Buffer.alloc(0);
        },
      },
      onAborted,
    );
    consumer.on("consumer:group:join", (payload: { assignments?: { topic: string; partitions: number[] }[] }) =>
      this.#onJoin(payload.assignments ?? []),
    );
    // Errors the client cannot hand to a caller (a failed rejoin): the stream fails too, and #run reconnects.
    consumer.on("error", (err: Error) => this.#log("warn", `kafka: ${err.message}`));
    // The topics must exist: a missing one is a setting to fix, not something to create.
    try {
      const metadata = await consumer.metadata({ topics: opts.topics, autocreateTopics: false });
      for (const [name, topic] of metadata.topics) consumer.topicNames.set(topic.id, name);
    } catch (err) {
      await consumer.close(true).catch(() => {});
      // The client answers UNKNOWN_TOPIC_OR_PARTITION with its own user error, code PLT_KFK_USER (2.12), "Unknown
      // topic <name>."; other user errors (a TLS listener's answer to plain bytes) are described by #run.
      if ((err as { code?: unknown }).code === "PLT_KFK_USER" && /^Unknown topic\b/.test((err as Error).message)) {
        throw new BackboneConfigError(
          "backbone_names",
          `Kafka at ${opts.brokers.join(",")} has no topic among ${opts.topics.join(", ")} (backbone_names): ` +
            `create it with as many partitions as the sidecars of the group should share (${(err as Error).message})`,
          { cause: err },
        );
      }
      throw err;
    }
    const stream = await consumer.consume({
      topics: opts.topics,
      autocommit: false,
      mode: "committed",
      fallbackMode: opts.start ?? "earliest",
      highWaterMark: this.#prefetch,
      maxWaitTime: 500,
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 5)),
      rebalanceTimeout: Math.max(sessionTimeout, 30_000),
    });
    return { consumer, stream };
  }

  async #beforeRejoin(): Promise<void> {
    if (!this.#rejoining) {
      this.#rejoining = deferred<void>();
      this.#rejoining.promise.catch(() => {});
    }
    const inFlight = this.#inFlight;
    if (!inFlight) return;
    // Bounded: past the rebalance timeout the group would drop this member anyway.
    const limit = Math.max(this.#sessionTimeoutMs, 30_000) - 2_000;
    const timer = deferred<"late">();
    const handle = setTimeout(() => timer.resolve("late"), limit);
    const outcome = await Promise.race([
      inFlight.then(
        () => "done" as const,
        () => "done" as const,
      ),
      timer.promise,
    ]);
    clearTimeout(handle);
    if (outcome === "late")
      this.#log(
        "warn",
        "kafka: an accept outlived the rebalance timeout; its partitions' records are read again by their new owner",
      );
  }

  #onJoin(assignments: { topic: string; partitions: number[] }[]): void {
    const now = new Set(assignments.flatMap((a) => a.partitions.map((p) => key(a.topic, p))));
    for (const partition of this.#next.keys()) if (!now.has(partition)) this.#next.delete(partition);
    const before = this.#assigned ?? new Set<string>();
    if (now.size !== before.size || [...now].some((p) => !before.has(p))) this.#counts.rebalances++;
    this.#assigned = now;
    this.#counts.partitions = now.size;
    this.#rejoining?.resolve();
    this.#rejoining = undefined;
  }

  /** Reads and hands over batches until the stream fails or the source stops; returns why it ended. */
  async #consume(session: Session): Promise<string> {
    const { stream } = session;
    const buffered: Record_[] = [];
    let failure: Error | undefined;
    let ended = false;
    stream.on("data", (record: Record_) => {
      buffered.push(record);
      // Hold the client's read-ahead to one batch: it resumes once the accept is done.
      if (buffered.length >= this.#prefetch) stream.pause();
      this.#wake?.();
    });
    stream.once("error", (err: Error) => {
      failure = err;
      this.#wake?.();
    });
    stream.once("close", () => {
      ended = true;
      this.#wake?.();
    });
    while (!this.#stopping) {
      if (buffered.length === 0) {
        if (failure) return `the consumer stream failed: ${failure.message}`;
        if (ended) return "the consumer stream closed";
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      if (this.#rejoining) {
        await this.#rejoining.promise;
        continue;
      }
      const batch = buffered.splice(0, this.#prefetch);
      if (stream.isPaused() && buffered.length < this.#prefetch) stream.resume();
      const { fresh, again } = newRecords(batch, this.#next, this.#assigned);
      this.#counts.redelivered += again;
      try {
        if (fresh.length < batch.length) await this.#commitSpooled(session, batch);
      } catch (err) {
        return (err as Error).message; // a silent coordinator: the session is opened again
      }
      // Not accepted once stopping: the next member reads them from the last commit.
      if (fresh.length === 0 || this.#stopping) continue;
      this.#inFlight = this.#acceptAndCommit(session, fresh);
      try {
        await this.#inFlight;
      } catch (err) {
        // In the spool, their offsets uncommitted: read again, they are committed then (#commitSpooled).
        if (err instanceof SilentCoordinator) return err.message;
        // Not committed: the records come back once reading restarts from the last commit.
        return `an accept failed (${(err as Error).message})`;
      } finally {
        this.#inFlight = undefined;
      }
    }
    return "stopped";
  }

  async #acceptAndCommit(session: Session, records: Record_[]): Promise<void> {
    const receivedAt = new Date();
    const items = records.flatMap((record) => recordIntakes(record, receivedAt));
    this.#counts.received += records.length;
    this.#counts.rejected_at_source += items.filter((item) => item.kind === "rejected").length;
    await (this.#sink as SourceSink).accept(items);
    if (this.#aborted) return;
    this.#counts.committed += records.length;
    const last = new Map<string, Record_>();
    for (const record of records) last.set(key(record.topic, record.partition), record);
    for (const [partition, record] of last) this.#next.set(partition, record.offset + 1n);
    const offsets = [...last.entries()]
      .filter(([partition]) => !this.#assigned || this.#assigned.has(partition))
      .map(([partition, record]) => ({
        topic: record.topic,
        partition: record.partition,
        // Past the transaction markers behind the last record, as Kafka's own consumer commits.
        offset: session.consumer.commitOffset(partition, record.offset + 1n),
        leaderEpoch: record.leaderEpoch,
      }));
    if (offsets.length === 0) return;
    if (await this.#commitOffsets(session, offsets)) this.#counts.acked += records.length;
  }

  /**
   * Commits `offsets`; false when the commit failed (logged: in the spool already, the
   * records may only be read again). A coordinator that leaves it unanswered past
   * `answerMs` throws SilentCoordinator: the session is taken for lost.
   */
  async #commitOffsets(session: Session, offsets: OffsetToCommit[]): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<"silent">((resolve) => {
      timer = setTimeout(() => resolve("silent"), this.#answerMs);
    });
    const commit = session.consumer.commit({ offsets }).then(
      () => "done" as const,
      (err: Error) => err,
    );
    try {
      const outcome = await Promise.race([commit, silence]);
      if (outcome === "done") return true;
      this.#counts.commit_failures++;
      if (outcome === "silent") {
        throw new SilentCoordinator(
          `an offset commit was not answered in ${this.#answerMs} ms: the group's coordinator is taken for gone ` +
            "(a frozen host, or a network that drops packets)",
        );
      }
      this.#log("warn", `kafka: offset commit failed (${outcome.message}); the records may be read again`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Records read again after a reconnect are in the spool already, but their
   * offsets may never have been committed (the broker went away first):
   * commit what the spool holds for those partitions, so the group does not
   * hand them out once more.
   */
  async #commitSpooled(session: Session, batch: Record_[]): Promise<void> {
    const offsets = new Map<string, OffsetToCommit>();
    let spooled = 0;
    for (const record of batch) {
      const partition = key(record.topic, record.partition);
      const next = this.#next.get(partition);
      if (next === undefined || record.offset >= next || (this.#assigned && !this.#assigned.has(partition))) continue;
      spooled++;
      offsets.set(partition, {
        topic: record.topic,
        partition: record.partition,
        offset: next,
        leaderEpoch: record.leaderEpoch,
      });
    }
    if (offsets.size === 0) return;
    // Their offsets committed at last: acknowledged, as the first commit would have counted them.
    if (await this.#commitOffsets(session, [...offsets.values()])) this.#counts.acked += spooled;
  }

  async #updateLag(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    try {
      const lag = await session.consumer.getLag({ topics: this.#opts.topics });
      let total = 0n;
      for (const partitions of lag.values()) for (const value of partitions) if (value > 0n) total += value;
      this.#counts.lag = Number(total);
    } catch {
      // The next round tries again; lag is a hint.
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** What `newRecords` needs of a record. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * The records of `batch` to hand over, in order: not those of a partition this
 * member no longer holds (`assigned`, when known), nor those below `handed`
 * (per partition, the offset after the last record handed over), nor a second
 * copy within the batch — a rejoin makes the stream read again from the last
 * commit what may still sit in its buffer, so both copies can land in one
 * batch. `again` counts the records read again.
 */
export function newRecords<R extends RecordPosition>(
  batch: R[],
  handed: ReadonlyMap<string, bigint>,
  assigned?: ReadonlySet<string>,
): { fresh: R[]; again: number } {
  const next = new Map<string, bigint>();
  const fresh: R[] = [];
  let again = 0;
  for (const record of batch) {
    const partition = key(record.topic, record.partition);
    if (assigned && !assigned.has(partition)) continue;
    const from = next.get(partition) ?? handed.get(partition);
    if (from !== undefined && record.offset < from) {
      again++;
      continue;
    }
    next.set(partition, record.offset + 1n);
    fresh.push(record);
  }
  return { fresh, again };
}
