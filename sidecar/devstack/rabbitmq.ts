// Runs a private RabbitMQ node (Debian's rabbitmq-server) on loopback for
// tests and benchmarks: its own node name, AMQP and distribution ports, data
// and log dirs and Erlang cookie, only the plugins asked for. It can be killed (SIGKILL, as a
// crash) and started again on the same data, and is removed at the end.
//
// `.ci/run` starts one shared node and exports SFB_RABBITMQ_URL; a test that
// never stops the broker may take that one (`reuse`), the others start their own.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForPort } from "./mosquitto.ts";
import { DevStackError, freePort } from "./odoo.ts";
import { listProcesses, treeOf } from "./proc-cpu.ts";

/** The server itself, not the /usr/sbin wrapper (that one switches to the rabbitmq user and its home). */
export const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
export const RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";

export interface RabbitMqOptions {
  /** Take the node `.ci/run` started (SFB_RABBITMQ_URL) when there is one; it cannot be stopped. */
  reuse?: boolean;
  /** A second listener speaking AMQP over TLS (amqps://) on its own port. */
  tls?: { caFile: string; certFile: string; keyFile: string; requireCertificate?: boolean };
  /** Plugins to enable, e.g. `rabbitmq_amqp1_0` (AMQP 1.0 clients on the same port). */
  plugins?: string[];
  /** The Erlang cookie (nodes of one cluster share it); a random one per node otherwise. */
  cookie?: string;
  /**
   * Erlang's `net_ticktime` (s, the kernel's 60 by default): a cluster takes a node that
   * stops answering for down after 0.75 to 1.25 times this, and only then gives back what
   * that node's consumers held. Every node of a cluster must have the same.
   */
  netTicktime?: number;
}

export interface RabbitMqBroker {
  /** amqp://127.0.0.1:<port> (the default vhost; guest may log in from loopback). */
  url: string;
  port: number;
  /** amqps://127.0.0.1:<port> when started with `tls`, else "". */
  tlsUrl: string;
  nodeName: string;
  dir: string;
  /** Starts the node again on the same data after `stop`. */
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown) or SIGKILL (a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * SIGSTOP to the node's Erlang VM: a broker that stops answering while its port stays
   * open (the kernel still accepts and acknowledges), as a frozen host or VM does; `thaw`
   * (SIGCONT) resumes it. The host's epmd, which other nodes share, is left alone.
   */
  freeze(): void;
  thaw(): void;
  /** Runs rabbitmqctl against this node; returns its output. */
  ctl(args: string[]): string;
  destroy(): Promise<void>;
}

export async function startRabbitMq(opts: RabbitMqOptions = {}): Promise<RabbitMqBroker> {
  const shared = process.env.SFB_RABBITMQ_URL;
  if (opts.reuse && shared && !opts.tls && !opts.plugins?.length && !opts.cookie && opts.netTicktime === undefined)
    return sharedBroker(shared);
  if (!existsSync(RABBITMQ_SERVER)) {
    throw new DevStackError(`${RABBITMQ_SERVER} is missing. Fix: apt-get install -y rabbitmq-server`);
  }
  const port = await freePort();
  const distPort = await freePort();
  const tlsPort = opts.tls ? await freePort() : 0;
  const dir = mkdtempSync(join(tmpdir(), "sfb-rabbitmq-"));
  const home = join(dir, "home");
  mkdirSync(home);
  if (opts.cookie) writeFileSync(join(home, ".erlang.cookie"), opts.cookie, { mode: 0o400 });
  const nodeName = `sfb-${port}@localhost`;
  writeFileSync(join(dir, "enabled_plugins"), `[${(opts.plugins ?? []).join(",")}].\n`);
  const conf = [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    "log.console = false",
    "log.file.level = warning",
    // Tests fill queues faster than a small disk alarm would allow on a busy CI disk.
    "disk_free_limit.absolute = 10MB",
  ];
  if (opts.tls) {
    conf.push(
      `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
      `ssl_options.cacertfile = ${opts.tls.caFile}`,
      `ssl_options.certfile = ${opts.tls.certFile}`,
      `ssl_options.keyfile = ${opts.tls.keyFile}`,
      "ssl_options.verify = verify_peer",
      `ssl_options.fail_if_no_peer_cert = ${opts.tls.requireCertificate ?? false}`,
    );
  }
  writeFileSync(join(dir, "rabbitmq.conf"), `${conf.join("\n")}\n`);
  if (opts.netTicktime !== undefined) {
    writeFileSync(join(dir, "advanced.config"), `[{kernel, [{net_ticktime, ${opts.netTicktime}}]}].\n`);
  }
  const env = {
    ...process.env,
    HOME: home,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
  };
  let child: ChildProcess | undefined;

  const start = async () => {
    // Its own process group: the Erlang VM and its helpers go with one kill.
    child = spawn(RABBITMQ_SERVER, [], { env, detached: true, stdio: "ignore" });
    const proc = child;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) =>
        reject(new DevStackError(`rabbitmq-server exited with ${code}; see ${join(dir, "log")}`)),
      ),
    );
    exited.catch(() => {});
    // The AMQP listener opens last, once the node has booted.
    await Promise.race([waitForPort(port, 60_000), exited]);
    if (tlsPort) await Promise.race([waitForPort(tlsPort, 10_000), exited]);
  };

  /** The node's Erlang VMs (beam.smp) among the server script's processes; epmd, daemonized, is not one. */
  const vms = (): number[] => {
    const root = child?.pid;
    if (root === undefined) return [];
    return treeOf(root, listProcesses())
      .filter((p) => p.comm.startsWith("beam"))
      .map((p) => p.pid);
  };
  const signalVms = (signal: NodeJS.Signals) => {
    for (const pid of vms()) process.kill(pid, signal);
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    signalVms("SIGCONT"); // a frozen node acts on the signal
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.pid === undefined) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const group = -proc.pid;
    try {
      process.kill(group, signal);
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(group, "SIGKILL");
      } catch {}
    }, 30_000);
    await gone;
    clearTimeout(timer);
    // The script exits first; the VM may still hold its ports for a moment, and a
    // node started again before they are free would fail (or be taken for up).
    try {
      process.kill(group, "SIGKILL");
    } catch {}
    await waitForPortClosed(port, 15_000);
    await waitForPortClosed(distPort, 15_000);
  };

  await start();
  return {
    url: `amqp://127.0.0.1:${port}`,
    port,
    tlsUrl: tlsPort ? `amqps://127.0.0.1:${tlsPort}` : "",
    nodeName,
    dir,
    start,
    stop,
    freeze: () => signalVms("SIGSTOP"),
    thaw: () => signalVms("SIGCONT"),
    ctl: (args) => execFileSync(RABBITMQCTL, ["-n", nodeName, ...args], { env, encoding: "utf8" }),
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `size` private nodes (3 by default) joined in one cluster, as a site runs
 * RabbitMQ for quorum queues: the first node's name is the one the others
 * join; any node can be killed and started again. `netTicktime` is given to
 * every node.
 */
export async function startRabbitMqCluster(
  size = 3,
  opts: Pick<RabbitMqOptions, "netTicktime"> = {},
): Promise<RabbitMqBroker[]> {
  const cookie = randomBytes(20).toString("hex").toUpperCase();
  const nodes = await Promise.all(Array.from({ length: size }, () => startRabbitMq({ ...opts, cookie })));
  const [first, ...others] = nodes as [RabbitMqBroker, ...RabbitMqBroker[]];
  try {
    for (const node of others) {
      node.ctl(["stop_app"]);
      node.ctl(["join_cluster", first.nodeName]);
      node.ctl(["start_app"]);
      await waitForPort(node.port, 60_000);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.destroy()));
    throw err;
  }
  return nodes;
}

async function waitForPortClosed(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => resolve(false));
    });
    if (!open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DevStackError(`127.0.0.1:${port} still listens ${timeoutMs} ms after the node was stopped`);
}

function sharedBroker(url: string): RabbitMqBroker {
  const refuse = async () => {
    throw new DevStackError("the shared RabbitMQ node (SFB_RABBITMQ_URL) is not this test's to stop or start");
  };
  return {
    url,
    port: Number(new URL(url).port || 5672),
    tlsUrl: "",
    nodeName: "",
    dir: "",
    start: refuse,
    stop: refuse,
    freeze: () => {
      throw new DevStackError("the shared RabbitMQ node (SFB_RABBITMQ_URL) is not this test's to freeze");
    },
    thaw: () => {},
    ctl: () => {
      throw new DevStackError("rabbitmqctl against the shared node is not available to tests");
    },
    destroy: async () => {},
  };
}
