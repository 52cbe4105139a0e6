// python-snap7's S7 server (test/peers/python/s7_server.py) as a child
// process: the memory areas a test names, bytes set and read behind the
// server's back through the script's stdin, kill and restart on the same port.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import type { PlcValue } from "../src/sources/plc/driver.ts";
import type { S7Tag } from "../src/sources/plc/s7/address.ts";
import { repoRoot } from "./odoo.ts";
import { peerPython } from "./python-peers.ts";

/** A memory area of the server: DB (data block `index`), MK (merkers), PE (inputs), PA (outputs). */
export interface S7AreaSpec {
  area: "DB" | "MK" | "PE" | "PA";
  index: number;
  size: number;
}

const SCRIPT = join(repoRoot, "test/peers/python/s7_server.py");

export class S7PeerServer {
  readonly areas: readonly S7AreaSpec[];
  port = 0;
  #child: ChildProcessWithoutNullStreams | undefined;
  #lines: Interface | undefined;
  #waiting: ((line: string) => void)[] = [];
  #stderr = "";

  constructor(areas: readonly S7AreaSpec[]) {
    this.areas = areas;
  }

  /**
   * Starts the server (on `port`, or on the port of its last run, or a free
   * one); resolves once it listens. `before` runs first, with the server's
   * memory reachable (set/put) and no client let in yet: a PLC that comes back
   * with its retentive DBs as they were.
   */
  async start(port = this.port, before?: () => Promise<void>): Promise<void> {
    const areas = this.areas.map((spec) => `${spec.area}:${spec.index}:${spec.size}`);
    const child = spawn(peerPython(), [SCRIPT, String(port), ...(before ? ["--wait"] : []), ...areas], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#child = child;
    this.#stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#lines = createInterface({ input: child.stdout });
    this.#lines.on("line", (line) => this.#waiting.shift()?.(line));
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(new Error(`s7_server.py exited (${code}) before it was ready: ${this.#stderr}`)),
      ),
    );
    let ready = await Promise.race([this.#nextLine(), exited]);
    if (before && ready === "waiting") {
      await before();
      const listening = this.#nextLine();
      child.stdin.write("listen\n");
      ready = await Promise.race([listening, exited]);
    }
    const match = /^ready (\d+)$/.exec(ready);
    if (!match) throw new Error(`s7_server.py said ${ready}`);
    this.port = Number(match[1]);
  }

  /** The server's process id while it runs (for CPU figures). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Writes bytes into an area, as the PLC program would. */
  async set(area: S7AreaSpec["area"], index: number, start: number, bytes: Uint8Array): Promise<void> {
    await this.#ask(`set ${area} ${index} ${start} ${Buffer.from(bytes).toString("hex")}`);
  }

  /** Reads bytes of an area. */
  async get(area: S7AreaSpec["area"], index: number, start: number, size: number): Promise<Uint8Array> {
    return Buffer.from(await this.#ask(`get ${area} ${index} ${start} ${size}`), "hex");
  }

  /** Writes a tag's value with python-snap7's own snap7.util setters (so the byte layout is not ours). */
  async put(tag: S7Tag, value: PlcValue): Promise<void> {
    await this.#ask(`put ${tag.type} ${peerArea(tag)} ${tag.byte} ${extra(tag)} ${JSON.stringify(toWire(tag, value))}`);
  }

  /** Reads a tag's value with python-snap7's own snap7.util getters. */
  async take(tag: S7Tag): Promise<PlcValue> {
    return fromWire(tag, JSON.parse(await this.#ask(`take ${tag.type} ${peerArea(tag)} ${tag.byte} ${extra(tag)}`)));
  }

  /** Kills the process (SIGKILL: a PLC that loses power says nothing to its clients). */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
    this.#lines?.close();
    this.#waiting = [];
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  async #ask(command: string): Promise<string> {
    const child = this.#child;
    if (!child) throw new Error("the S7 peer server is not running");
    const answer = this.#nextLine();
    child.stdin.write(`${command}\n`);
    const line = await answer;
    if (!line.startsWith("ok")) throw new Error(`s7_server.py: ${command} -> ${line}`);
    return line.slice(3);
  }

  #nextLine(): Promise<string> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

const PEER_AREAS = { DB: "DB", M: "MK", I: "PE", Q: "PA" } as const;

function peerArea(tag: S7Tag): string {
  return `${PEER_AREAS[tag.area]} ${tag.area === "DB" ? tag.db : 0}`;
}

function extra(tag: S7Tag): number {
  return tag.type === "BOOL" ? tag.bit : tag.maxLength;
}

const FLOATS = new Set(["REAL", "LREAL"]);

function toWire(tag: S7Tag, value: PlcValue): boolean | string {
  if (typeof value === "boolean") return value;
  if (FLOATS.has(tag.type)) {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value as number);
    return bytes.toString("hex");
  }
  return typeof value === "string" ? value : String(value);
}

function fromWire(tag: S7Tag, wire: boolean | string): PlcValue {
  if (typeof wire === "boolean") return wire;
  if (FLOATS.has(tag.type)) return Buffer.from(wire, "hex").readDoubleBE();
  if (tag.type === "LINT" || tag.type === "ULINT") return BigInt(wire);
  if (tag.type === "CHAR" || tag.type === "STRING" || tag.type === "WSTRING") return wire;
  return Number(wire);
}
