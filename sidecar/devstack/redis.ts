// Runs a private redis-server (Debian's, 7.0) on loopback for tests and
// benchmarks: a free port, its own temp directory, append-only file with
// fsync every second (the durability a site must configure, see
// sidecar/src/sources/redis/README.md), no RDB snapshots. It can be killed
// (SIGKILL: what the AOF has survives) and started again on the same port.
// A test that does not kill the broker may reuse the shared instance .ci/run
// starts (SFB_REDIS_URL) through `redisForTests`.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForPort } from "./mosquitto.ts";
import { DevStackError, freePort } from "./odoo.ts";

export const REDIS_BIN = "/usr/bin/redis-server";

export interface RedisOptions {
  port?: number;
  /** A password for the default user (`requirepass`), to test refused credentials. */
  password?: string;
  /** Extra lines appended to the generated redis.conf (ACL users, TLS settings). */
  extraConfig?: string[];
  /** A TLS listener on a free port of its own too (`tls-port`; the certificates go in extraConfig). */
  tls?: boolean;
}

export interface RedisBroker {
  url: string;
  port: number;
  /** With `tls`: the TLS listener's port (rediss://127.0.0.1:tlsPort). */
  tlsPort?: number;
  dir: string;
  start(): Promise<void>;
  /** SIGTERM (writes the AOF and exits) or SIGKILL (what fsync reached survives). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * SIGSTOP: a server that stops answering while its TCP port stays open (the kernel
   * still accepts and acknowledges), as a frozen host or VM does; `thaw` (SIGCONT) resumes it.
   */
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisBroker> {
  if (!existsSync(REDIS_BIN)) {
    throw new DevStackError(`${REDIS_BIN} is missing. Fix: apt-get install -y redis-server`);
  }
  let port = opts.port ?? (await freePort());
  let tlsPort = opts.tls ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), "sfb-redis-"));
  const conf = join(dir, "redis.conf");
  const log = join(dir, "redis.log");
  const writeConf = () =>
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        "daemonize no",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "loglevel warning",
        `logfile ${log}`,
        ...(opts.password ? [`requirepass ${opts.password}`] : []),
        ...(tlsPort === undefined ? [] : [`tls-port ${tlsPort}`]),
        ...(opts.extraConfig ?? []),
        "",
      ].join("\n"),
    );
  writeConf();
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(REDIS_BIN, [conf], { stdio: "ignore" });
    const proc = child;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => {
        // Why it exited, from its log (a port taken, a bad setting), in the error a test prints.
        const said = existsSync(log)
          ? (readFileSync(log, "utf8").match(/#\s*([^\n]*(?:aborting|rror|in use)[^\n]*)/g) ?? [])
          : [];
        reject(
          new DevStackError(`redis-server exited with ${code}: ${said.join("; ") || "no reason logged"}; see ${log}`),
        );
      }),
    );
    await Promise.race([waitForPort(port, 10_000), exited]);
  };

  // A free port may be taken by a process started beside this one before redis binds it: try others.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      const taken = err instanceof DevStackError && /Address already in use/.test(err.message);
      if (!taken || attempt >= 3 || (opts.port !== undefined && tlsPort === undefined)) throw err;
      if (opts.port === undefined) port = await freePort();
      if (tlsPort !== undefined) tlsPort = await freePort();
      writeConf();
    }
  }

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill(signal);
    proc.kill("SIGCONT"); // a frozen one acts on the signal once it runs
    await gone;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    ...(tlsPort === undefined ? {} : { tlsPort }),
    dir,
    start,
    stop,
    freeze: () => child?.kill("SIGSTOP"),
    thaw: () => child?.kill("SIGCONT"),
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The shared instance .ci/run started (SFB_REDIS_URL), for a test that never
 * stops the broker; else a private one. `destroy` leaves the shared one running.
 */
export async function redisForTests(): Promise<Pick<RedisBroker, "url" | "destroy">> {
  const shared = process.env.SFB_REDIS_URL;
  if (shared) return { url: shared, destroy: async () => {} };
  return startRedis();
}

export interface RedisSentinel {
  port: number;
  /** With `tls`: the TLS listener's port. */
  tlsPort?: number;
  dir: string;
  /** SIGSTOP: a sentinel that accepts connections and never answers; `thaw` (SIGCONT) resumes it. */
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

/**
 * One Redis Sentinel (redis-server --sentinel) on a free port, monitoring the
 * primary at 127.0.0.1:`primaryPort` under `name` with a quorum of 1, quick to
 * fail over (down after 1 s): enough for a test to kill the primary and see
 * the replica promoted.
 */
export interface SentinelOptions {
  /** A password clients must give the sentinel (`requirepass` in sentinel.conf). */
  requirepass?: string;
  /** The primary's password, for the sentinel to monitor it (`sentinel auth-pass`). */
  authPass?: string;
  /**
   * TLS: a listener on a port of its own (`tlsPort`) with this certificate, and TLS to
   * the primary and replicas it watches (`tls-replication`), presenting `clientCert`.
   */
  tls?: { caFile: string; certFile: string; keyFile: string; clientCertFile: string; clientKeyFile: string };
}

export async function startSentinel(
  name: string,
  primaryPort: number,
  opts: SentinelOptions = {},
): Promise<RedisSentinel> {
  if (!existsSync(REDIS_BIN)) {
    throw new DevStackError(`${REDIS_BIN} is missing. Fix: apt-get install -y redis-server`);
  }
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), "sfb-sentinel-"));
  const conf = join(dir, "sentinel.conf");
  const log = join(dir, "sentinel.log");
  // Sentinel rewrites this file with what it learns (replicas, epochs): it lives in the temp dir.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `logfile ${log}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      ...(opts.authPass ? [`sentinel auth-pass ${name} ${opts.authPass}`] : []),
      ...(opts.requirepass ? [`requirepass ${opts.requirepass}`] : []),
      ...(opts.tls
        ? [
            `tls-port ${tlsPort}`,
            `tls-ca-cert-file ${opts.tls.caFile}`,
            `tls-cert-file ${opts.tls.certFile}`,
            `tls-key-file ${opts.tls.keyFile}`,
            `tls-client-cert-file ${opts.tls.clientCertFile}`,
            `tls-client-key-file ${opts.tls.clientKeyFile}`,
            "tls-auth-clients no",
            "tls-replication yes",
          ]
        : []),
      "",
    ].join("\n"),
  );
  const child = spawn(REDIS_BIN, [conf, "--sentinel"], { stdio: "ignore" });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new DevStackError(`redis-server --sentinel exited with ${code}; see ${log}`))),
  );
  await Promise.race([waitForPort(port, 10_000), exited]);
  return {
    port,
    ...(tlsPort === undefined ? {} : { tlsPort }),
    dir,
    freeze: () => child.kill("SIGSTOP"),
    thaw: () => child.kill("SIGCONT"),
    destroy: async () => {
      if (child.exitCode === null) {
        const gone = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        child.kill("SIGCONT");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
