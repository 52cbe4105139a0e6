// Runs a real Apache Kafka broker (KRaft, one process as broker and
// controller, no ZooKeeper, no Docker) for tests, the e2e suite and the bench.
// The jars come from Maven Central into test/peers/kafka/lib (see its pom.xml).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Admin } from "@platformatic/kafka";
import { waitForPort } from "./mosquitto.ts";
import { DevStackError, freePort } from "./odoo.ts";

export const KAFKA_LIB = resolve(fileURLToPath(new URL("../../test/peers/kafka/lib", import.meta.url)));
const FETCH_HINT = "(cd test/peers/kafka && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)";

export interface KafkaOptions {
  /** Topics created once the broker is up, each with `partitions` partitions (default 1). */
  topics?: string[];
  partitions?: number;
  /** A second listener, SASL_PLAINTEXT, taking PLAIN and SCRAM-SHA-256/512 for this user. */
  sasl?: { username: string; password: string };
  /** Reuse the broker `.ci/run` started (SFB_KAFKA_URL) when there is one: for tests that never stop it. */
  shared?: boolean;
  /** The client port (default: a free one). */
  port?: number;
  /**
   * A third listener, SSL: the broker's certificate and key (PEM files) and the CA it checks client certificates with.
   * With `sasl` too, a fourth, SASL_SSL: SASL over TLS, as managed Kafka services offer it
   * (the same certificate, no client certificate asked for: the SASL login authenticates).
   */
  tls?: { certFile: string; keyFile: string; caFile: string; clientAuth?: "required" | "none" };
  /**
   * Kafka's ACL authorizer (StandardAuthorizer): a principal may do only what an ACL allows.
   * The PLAINTEXT and CONTROLLER listeners' principal (User:ANONYMOUS: the tests' admin and
   * producers, the broker itself) is a super user; the SASL user gets ACLs (`addAcls`).
   */
  acls?: boolean;
}

export interface KafkaBroker {
  /** Bootstrap servers, `127.0.0.1:<port>` (the PLAINTEXT listener). */
  url: string;
  port: number;
  /** The SASL_PLAINTEXT listener, or "" without `sasl`. */
  saslUrl: string;
  /** The SSL listener, or "" without `tls`. */
  tlsUrl: string;
  /** The SASL_SSL listener, or "" without both `sasl` and `tls`. */
  saslTlsUrl: string;
  dir: string;
  /** Topics with this many partitions (the admin API of the Kafka client). */
  createTopics(topics: string[], partitions?: number): Promise<void>;
  start(): Promise<void>;
  /** SIGTERM (controlled shutdown) or SIGKILL. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A random cluster id as Kafka writes one (16 bytes, base64url). Like Kafka's own
 * Uuid.randomUuid, never one that starts with "-": the storage tool's argument
 * parser reads such an id after `-t` as an option and refuses to format (1 in 64).
 */
export function kafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** A broker's log4j2 configuration: warnings and above, to `dir`/server.log. */
function writeLog4j(path: string, dir: string): void {
  writeFileSync(
    path,
    [
      "status = error",
      "appender.file.type = File",
      "appender.file.name = file",
      `appender.file.fileName = ${join(dir, "server.log")}`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = warn",
      "rootLogger.appenderRef.file.ref = file",
      "",
    ].join("\n"),
  );
}

/** Signals a broker's JVM and waits for it to exit; SIGKILL after 15 s. */
async function stopBroker(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill(signal);
  // A controlled shutdown that hangs (no quorum left) must not hang the test.
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  await gone;
  clearTimeout(timer);
}

export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaBroker> {
  const sharedUrl = process.env.SFB_KAFKA_URL;
  if (opts.shared && sharedUrl && !opts.sasl && !opts.tls && !opts.acls) return sharedBroker(sharedUrl, opts);
  if (!existsSync(KAFKA_LIB) || !readdirSync(KAFKA_LIB).some((f) => f.startsWith("kafka_2.13-"))) {
    throw new DevStackError(`the Kafka broker jars are missing in ${KAFKA_LIB}. Fix: ${FETCH_HINT}`);
  }
  const port = opts.port ?? (await freePort());
  const controllerPort = await freePort();
  const saslPort = opts.sasl ? await freePort() : 0;
  const tlsPort = opts.tls ? await freePort() : 0;
  const saslTlsPort = opts.sasl && opts.tls ? await freePort() : 0;
  const dir = mkdtempSync(join(tmpdir(), "sfb-kafka-"));
  const properties = join(dir, "server.properties");
  const log4j = join(dir, "log4j2.properties");
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`];
  if (opts.sasl) listeners.push(`SASL_PLAINTEXT://127.0.0.1:${saslPort}`);
  if (opts.tls) listeners.push(`SSL://127.0.0.1:${tlsPort}`);
  if (saslTlsPort) listeners.push(`SASL_SSL://127.0.0.1:${saslTlsPort}`);
  const tls = opts.tls;
  const keystore = join(dir, "broker-keystore.pem");
  // Kafka's PEM key store: the certificate chain and the unencrypted PKCS#8 key in one file.
  if (tls) writeFileSync(keystore, `${readFileSync(tls.certFile, "utf8")}\n${readFileSync(tls.keyFile, "utf8")}`);
  const sasl = opts.sasl;
  const jaas = (module: string) =>
    `${module} required username="${sasl?.username}" password="${sasl?.password}"${
      module.endsWith("PlainLoginModule") ? ` user_${sasl?.username}="${sasl?.password}"` : ""
    };`;
  writeFileSync(
    properties,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=${listeners.join(",")}`,
      `advertised.listeners=${listeners.filter((l) => !l.startsWith("CONTROLLER")).join(",")}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${opts.sasl ? ",SASL_PLAINTEXT:SASL_PLAINTEXT" : ""}${tls ? ",SSL:SSL" : ""}${saslTlsPort ? ",SASL_SSL:SASL_SSL" : ""}`,
      `log.dirs=${join(dir, "data")}`,
      `num.partitions=${opts.partitions ?? 1}`,
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=4",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      // The tests kill group members: let a session timeout as short as 6 s be asked for.
      "group.min.session.timeout.ms=1000",
      "group.classic.min.session.timeout.ms=1000",
      "auto.create.topics.enable=false",
      ...(opts.acls
        ? [
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:ANONYMOUS",
          ]
        : []),
      ...(sasl
        ? [
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaas("org.apache.kafka.common.security.plain.PlainLoginModule")}`,
            `listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${jaas("org.apache.kafka.common.security.scram.ScramLoginModule")}`,
            `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaas("org.apache.kafka.common.security.scram.ScramLoginModule")}`,
          ]
        : []),
      ...(saslTlsPort
        ? [
            `listener.name.sasl_ssl.plain.sasl.jaas.config=${jaas("org.apache.kafka.common.security.plain.PlainLoginModule")}`,
            `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${jaas("org.apache.kafka.common.security.scram.ScramLoginModule")}`,
            `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaas("org.apache.kafka.common.security.scram.ScramLoginModule")}`,
            "listener.name.sasl_ssl.ssl.client.auth=none",
          ]
        : []),
      ...(tls
        ? [
            "ssl.keystore.type=PEM",
            `ssl.keystore.location=${keystore}`,
            "ssl.truststore.type=PEM",
            `ssl.truststore.location=${tls.caFile}`,
            `ssl.client.auth=${tls.clientAuth ?? "none"}`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  writeLog4j(log4j, dir);
  const java = ["-Xmx512m", "-Xms128m", `-Dlog4j2.configurationFile=${log4j}`, "-cp", `${KAFKA_LIB}/*`];
  // What kafka-storage.sh format does: the cluster id, and SCRAM users written with the metadata.
  const clusterId = kafkaClusterId();
  const scram = sasl
    ? ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((m) => [
        "--add-scram",
        `${m}=[name=${sasl.username},password=${sasl.password}]`,
      ])
    : [];
  const format = spawnSync(
    "java",
    [
      ...java,
      "-XX:TieredStopAtLevel=1",
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      properties,
      ...scram,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new DevStackError(`kafka-storage format failed: ${format.stderr || format.stdout || format.error?.message}`);
  }

  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("java", [...java, "kafka.Kafka", properties], { stdio: ["ignore", "ignore", "pipe"] });
    const proc = child;
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) =>
        reject(new DevStackError(`kafka exited with ${code}; see ${dir}/server.log\n${stderr}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port, 60_000), exited]);
    await Promise.race([waitForBroker(`127.0.0.1:${port}`), exited]);
  };
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    await stopBroker(proc, signal);
  };

  await start();
  const url = `127.0.0.1:${port}`;
  const broker: KafkaBroker = {
    url,
    port,
    saslUrl: sasl ? `127.0.0.1:${saslPort}` : "",
    tlsUrl: tls ? `127.0.0.1:${tlsPort}` : "",
    saslTlsUrl: saslTlsPort ? `127.0.0.1:${saslTlsPort}` : "",
    dir,
    createTopics: (topics, partitions) => createTopics(url, topics, partitions ?? opts.partitions ?? 1),
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    if (opts.topics?.length) await broker.createTopics(opts.topics);
  } catch (err) {
    await broker.destroy();
    throw err;
  }
  return broker;
}

async function sharedBroker(url: string, opts: KafkaOptions): Promise<KafkaBroker> {
  const port = Number(url.split(":").pop());
  const broker: KafkaBroker = {
    url,
    port,
    saslUrl: "",
    tlsUrl: "",
    saslTlsUrl: "",
    dir: "",
    createTopics: (topics, partitions) => createTopics(url, topics, partitions ?? opts.partitions ?? 1),
    start: async () => {},
    stop: async () => {
      throw new DevStackError("the shared Kafka broker (SFB_KAFKA_URL) is not stopped by a test: start a private one");
    },
    destroy: async () => {},
  };
  if (opts.topics?.length) await broker.createTopics(opts.topics);
  return broker;
}

/** Waits until the broker answers metadata with itself (or `brokers` brokers) registered. */
async function waitForBroker(url: string, timeoutMs = 60_000, brokers = 1): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const admin = new Admin({ clientId: "sfb-devstack", bootstrapBrokers: [url], retries: 0 });
    try {
      const metadata = await admin.metadata({ topics: [] });
      if (metadata.brokers.size >= brokers) return;
    } catch (err) {
      last = err;
    } finally {
      await admin.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DevStackError(`Kafka on ${url} did not answer metadata in ${timeoutMs} ms: ${(last as Error)?.message}`);
}

export interface KafkaClusterNode {
  id: number;
  port: number;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface KafkaCluster {
  /** Every node's PLAINTEXT listener, comma-separated (bootstrap servers). */
  url: string;
  nodes: KafkaClusterNode[];
  /** Topics replicated on every node (`min.insync.replicas` 2), `partitions` each. */
  createTopics(topics: string[], partitions: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A KRaft cluster of `size` nodes (each broker and controller, 3 by default)
 * on loopback, as a site runs one: internal topics and new topics replicated
 * on every node, `min.insync.replicas` 2, no unclean leader election. A node
 * can be killed and started again.
 */
export async function startKafkaCluster(size = 3): Promise<KafkaCluster> {
  if (!existsSync(KAFKA_LIB) || !readdirSync(KAFKA_LIB).some((f) => f.startsWith("kafka_2.13-"))) {
    throw new DevStackError(`the Kafka broker jars are missing in ${KAFKA_LIB}. Fix: ${FETCH_HINT}`);
  }
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const ports = await Promise.all(ids.map(() => freePort()));
  const controllers = await Promise.all(ids.map(() => freePort()));
  const voters = ids.map((id, i) => `${id}@127.0.0.1:${controllers[i]}`).join(",");
  const root = mkdtempSync(join(tmpdir(), "sfb-kafka-cluster-"));
  const clusterId = kafkaClusterId();
  const replicas = Math.min(3, size);
  const nodes = ids.map((id, i): KafkaClusterNode & { dir: string } => {
    const dir = join(root, `node-${id}`);
    mkdirSync(dir);
    const properties = join(dir, "server.properties");
    const log4j = join(dir, "log4j2.properties");
    writeFileSync(
      properties,
      [
        "process.roles=broker,controller",
        `node.id=${id}`,
        `controller.quorum.voters=${voters}`,
        `listeners=PLAINTEXT://127.0.0.1:${ports[i]},CONTROLLER://127.0.0.1:${controllers[i]}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${ports[i]}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        `log.dirs=${join(dir, "data")}`,
        `default.replication.factor=${replicas}`,
        `min.insync.replicas=${Math.min(2, replicas)}`,
        "unclean.leader.election.enable=false",
        `offsets.topic.replication.factor=${replicas}`,
        "offsets.topic.num.partitions=4",
        `transaction.state.log.replication.factor=${replicas}`,
        `transaction.state.log.min.isr=${Math.min(2, replicas)}`,
        `share.coordinator.state.topic.replication.factor=${replicas}`,
        `share.coordinator.state.topic.min.isr=${Math.min(2, replicas)}`,
        "group.initial.rebalance.delay.ms=0",
        "group.min.session.timeout.ms=1000",
        "group.classic.min.session.timeout.ms=1000",
        "auto.create.topics.enable=false",
        "",
      ].join("\n"),
    );
    writeLog4j(log4j, dir);
    const java = ["-Xmx384m", "-Xms64m", `-Dlog4j2.configurationFile=${log4j}`, "-cp", `${KAFKA_LIB}/*`];
    const format = spawnSync(
      "java",
      [...java, "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", properties],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (format.status !== 0) {
      rmSync(root, { recursive: true, force: true });
      throw new DevStackError(`kafka-storage format of node ${id} failed: ${format.stderr || format.stdout}`);
    }
    let child: ChildProcess | undefined;
    return {
      id,
      port: ports[i] as number,
      dir,
      start: async () => {
        child = spawn("java", [...java, "kafka.Kafka", properties], { stdio: "ignore" });
        const proc = child;
        const exited = new Promise<never>((_, reject) =>
          proc.once("exit", (code) =>
            reject(new DevStackError(`kafka node ${id} exited with ${code}; see ${dir}/server.log`)),
          ),
        );
        exited.catch(() => {});
        await Promise.race([waitForPort(ports[i] as number, 90_000), exited]);
      },
      stop: async (signal: NodeJS.Signals = "SIGTERM") => {
        const proc = child;
        child = undefined;
        await stopBroker(proc, signal);
      },
    };
  });
  const url = nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await waitForBroker(url.split(",")[0] as string, 90_000, size);
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    url,
    nodes,
    createTopics: (topics, partitions) => createTopics(url, topics, partitions, replicas),
    destroy,
  };
}

/** Creates the topics that do not exist yet, then waits until each partition has a leader. */
export async function createTopics(url: string, topics: string[], partitions: number, replicas = 1): Promise<void> {
  const admin = new Admin({ clientId: "sfb-devstack", bootstrapBrokers: url.split(",") });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) await admin.createTopics({ topics: missing, partitions, replicas });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      const ready = topics.every((t) => {
        const topic = metadata.topics.get(t);
        return topic && topic.partitionsCount > 0 && topic.partitions.every((p) => p.leader >= 0);
      });
      if (ready) return;
      if (Date.now() > deadline) throw new DevStackError(`topics ${topics.join(", ")} have no leader after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.close();
  }
}

/**
 * Command line for a shared broker (`.ci/run`): `node sidecar/devstack/kafka.ts [port]`
 * prints its bootstrap URL once it serves, and runs until SIGTERM, then cleans up.
 */
if (import.meta.url === `file://${process.argv[1]}`) {
  const broker = await startKafka(process.argv[2] ? { port: Number(process.argv[2]) } : {});
  process.stdout.write(`${broker.url}\n`);
  const quit = async () => {
    await broker.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
}
