// Runs `shopfloor-sidecar run` as a real child process for e2e tests and
// benchmarks: the bin shim, the environment contract, logs captured, and
// kill -9 available.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const SIDECAR_BIN = join(fileURLToPath(new URL("../../bin/shopfloor-sidecar.js", import.meta.url)));

export interface SidecarProcess {
  child: ChildProcess;
  output(): string;
  /** Parsed pino lines so far. */
  logs(): Record<string, unknown>[];
  waitForLog(match: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  /** Sends a signal and waits for the exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  metrics(): Promise<string>;
  metric(name: string, labels?: string): Promise<number>;
  health(): Promise<Record<string, unknown>>;
}

export function spawnSidecar(opts: {
  env: Record<string, string>;
  args?: string[];
  metricsPort?: number;
}): SidecarProcess {
  const child = spawn(process.execPath, [SIDECAR_BIN, ...(opts.args ?? ["run"])], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) =>
    child.once("exit", (code, signal) => r(code ?? (signal ? -1 : null))),
  );
  const base = `http://127.0.0.1:${opts.metricsPort ?? opts.env.METRICS_PORT}`;
  // A keep-alive connection the server just closed fails once: try again.
  const get = async (path: string): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
      } catch (err) {
        if (attempt >= 2) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const metrics = async () => (await get("/metrics")).text();
  return {
    child,
    output: () => out,
    logs: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    waitForLog: async (match, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!match.test(out)) {
        if (child.exitCode !== null)
          throw new Error(`sidecar exited (${child.exitCode}) before ${match}:\n${out.slice(-3000)}`);
        if (Date.now() > deadline)
          throw new Error(`no ${match} in sidecar output within ${timeoutMs} ms:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exited,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    metrics,
    metric: async (name, labels = "") => {
      const text = await metrics();
      const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
      return line ? Number(line.split(" ").pop()) : Number.NaN;
    },
    health: async () => (await (await get("/healthz")).json()) as Record<string, unknown>,
  };
}
