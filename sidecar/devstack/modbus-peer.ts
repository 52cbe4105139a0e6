// pymodbus's Modbus TCP server (test/peers/python/modbus_server.py, from
// .venv-peers) for tests and benchmarks: a free port, four areas of `size`
// addresses, optional holes answering "illegal data address", and a command
// channel (the script's stdin) through which a test plays the PLC's program —
// values encoded by pymodbus, not by the sidecar. With `retentive` the values
// set that way survive a kill and a start on the same port, as a PLC's
// retentive memory does.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DevStackError, freePort, repoRoot } from "./odoo.ts";
import { peerPython } from "./python-peers.ts";

export const MODBUS_SERVER_SCRIPT = join(repoRoot, "test/peers/python/modbus_server.py");

export type PeerArea = "hr" | "ir" | "coil" | "di";

export interface ModbusPeerOptions {
  port?: number;
  /** Addresses per area (0 to size − 1); past them the server answers illegal data address. */
  size?: number;
  /** Ranges answering illegal data address: `hr:100-109`. */
  holes?: string[];
  /** Values set through the command channel survive kill() and start(). */
  retentive?: boolean;
}

export interface ModbusPeer {
  readonly host: string;
  readonly port: number;
  /** The server's process id while it runs (for CPU figures). */
  readonly pid: number | undefined;
  /** Encodes `value` (text for 64-bit integers and floats) with pymodbus and stores it. */
  put(area: PeerArea, offset: number, type: string, order: string, value: string): Promise<void>;
  /** Decodes with pymodbus what the area holds, as text. */
  get(area: PeerArea, offset: number, type: string, order: string): Promise<string>;
  setWords(area: "hr" | "ir", offset: number, words: number[]): Promise<void>;
  setBits(area: "coil" | "di", offset: number, bits: boolean[]): Promise<void>;
  words(area: "hr" | "ir", offset: number, count: number): Promise<number[]>;
  /** SIGKILL: the PLC is gone at once, without closing its connections. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

type Answer = { ok: true; value?: string; words?: number[] } | { ok: false; error: string };

export async function startModbusPeer(opts: ModbusPeerOptions = {}): Promise<ModbusPeer> {
  const python = peerPython();
  const host = "127.0.0.1";
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "sfb-modbus-"));
  const args = [MODBUS_SERVER_SCRIPT, "--host", host, "--port", String(port), "--size", String(opts.size ?? 10_000)];
  for (const hole of opts.holes ?? []) args.push("--hole", hole);
  if (opts.retentive) args.push("--state", join(dir, "retentive.json"));

  let child: ChildProcess | undefined;
  let waiting: ((answer: Answer) => void)[] = [];
  let stderr = "";
  // Commands go one at a time: answers come back in order on stdout.
  let queue: Promise<unknown> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = spawn(python, args, { stdio: ["pipe", "pipe", "pipe"] });
    child = proc;
    stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DevStackError(`pymodbus server did not start within 20 s: ${stderr}`)),
        20_000,
      );
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new DevStackError(`pymodbus server exited (${code}) before it was ready: ${stderr}`));
      });
      lines.on("line", (line) => {
        if (line.startsWith("READY ")) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const next = waiting.shift();
        next?.(JSON.parse(line) as Answer);
      });
    });
    proc.once("exit", () => {
      for (const w of waiting) w({ ok: false, error: `pymodbus server exited: ${stderr}` });
      waiting = [];
    });
  };

  const command = (body: Record<string, unknown>): Promise<Answer> => {
    const run = async (): Promise<Answer> => {
      const proc = child;
      if (!proc?.stdin || proc.exitCode !== null) throw new DevStackError("pymodbus server is not running");
      const answer = new Promise<Answer>((resolve) => waiting.push(resolve));
      proc.stdin.write(`${JSON.stringify(body)}\n`);
      const result = await answer;
      if (!result.ok) throw new DevStackError(`pymodbus server refused ${JSON.stringify(body)}: ${result.error}`);
      return result;
    };
    const result = queue.then(run, run);
    queue = result.catch(() => {});
    return result;
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGKILL");
    await exited;
  };

  await launch();
  return {
    host,
    port,
    get pid() {
      return child?.pid;
    },
    async put(area, offset, type, order, value) {
      await command({ op: "put", area, offset, type, order, value });
    },
    async get(area, offset, type, order) {
      const answer = await command({ op: "get", area, offset, type, order });
      return answer.ok ? String(answer.value) : "";
    },
    async setWords(area, offset, words) {
      await command({ op: "set", area, offset, words });
    },
    async setBits(area, offset, bits) {
      await command({ op: "set", area, offset, bits });
    },
    async words(area, offset, count) {
      const answer = await command({ op: "words", area, offset, count });
      return answer.ok ? (answer.words ?? []) : [];
    },
    kill,
    start: launch,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
