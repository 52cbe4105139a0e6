// Runs a real Mosquitto broker on loopback for tests, the demo and benchmarks.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { DevStackError, freePort } from "./odoo.ts";

export const MOSQUITTO_BIN = "/usr/sbin/mosquitto";

export interface MosquittoOptions {
  port?: number;
  /** Extra lines appended to the generated mosquitto.conf. */
  extraConfig?: string[];
  /** Default true; false to test authentication (give password_file in extraConfig). */
  allowAnonymous?: boolean;
  /** Messages held per persistent session; Mosquitto's default of 1000 drops silently. */
  maxQueuedMessages?: number;
  /** A second listener speaking MQTT over TLS (mqtts://) on its own port. */
  tls?: MosquittoTlsListener;
}

export interface MosquittoTlsListener {
  /** CA that signed the clients' certificates (and is sent to nobody). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Refuse clients without a certificate signed by caFile (mTLS). Default true. */
  requireCertificate?: boolean;
  /** The client certificate's CN becomes the MQTT username. Default false. */
  useIdentityAsUsername?: boolean;
  port?: number;
}

export interface MosquittoBroker {
  url: string;
  port: number;
  /** mqtts://127.0.0.1:<port> when started with `tls`, else "". */
  tlsUrl: string;
  tlsPort: number;
  dir: string;
  start(): Promise<void>;
  /** SIGTERM (persists the session store) or SIGKILL. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * SIGSTOP: a broker that stops answering while its port stays open (the kernel still accepts
   * and acknowledges), as a frozen host or VM does; `thaw` (SIGCONT) resumes it.
   */
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoBroker> {
  if (!existsSync(MOSQUITTO_BIN)) {
    throw new DevStackError(`${MOSQUITTO_BIN} is missing. Fix: apt-get install -y mosquitto`);
  }
  const port = opts.port ?? (await freePort());
  const tls = opts.tls;
  const tlsPort = tls ? (tls.port ?? (await freePort())) : 0;
  const dir = mkdtempSync(join(tmpdir(), "sfb-mosquitto-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      // Started as root, Mosquitto drops to its own user, which cannot read
      // this private temp dir; a loopback test broker keeps the caller's user.
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      `allow_anonymous ${opts.allowAnonymous ?? true}`,
      "persistence true",
      `persistence_location ${dir}/`,
      `max_queued_messages ${opts.maxQueuedMessages ?? 1_000_000}`,
      "max_inflight_messages 100",
      "log_type error",
      "log_type warning",
      `log_dest file ${dir}/mosquitto.log`,
      ...(opts.extraConfig ?? []),
      ...(tls
        ? [
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${tls.caFile}`,
            `certfile ${tls.certFile}`,
            `keyfile ${tls.keyFile}`,
            `require_certificate ${tls.requireCertificate ?? true}`,
            `use_identity_as_username ${tls.useIdentityAsUsername ?? false}`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(MOSQUITTO_BIN, ["-c", conf], { stdio: "ignore" });
    const proc = child;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new DevStackError(`mosquitto exited with ${code}; see ${dir}/mosquitto.log`))),
    );
    await Promise.race([waitForPort(port, 10_000), exited]);
    if (tlsPort) await Promise.race([waitForPort(tlsPort, 10_000), exited]);
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill(signal);
    proc.kill("SIGCONT"); // a frozen one acts on the signal
    await gone;
  };

  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    tlsUrl: tlsPort ? `mqtts://127.0.0.1:${tlsPort}` : "",
    tlsPort,
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

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DevStackError(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
