// asyncua's OPC UA server (FreeOpcUa, Python; test/peers/python/asyncua_server.py)
// as a child process the tests start, feed and kill: the OPC UA stack the
// sidecar's node-opcua client is checked against. Values change from the
// server side through the script's stdin, as a PLC changes its tags; what
// the sidecar wrote is read back with asyncua's own client (`readWithAsyncua`).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { repoRoot } from "../../../devstack/odoo.ts";
import { peerPython } from "../../../devstack/python-peers.ts";
import { type Line, TAG_NAMES, TAG_TYPES, type TagChange, type TagName, tagPath } from "../../../simulator/line.ts";
import type { SimOutput } from "../../../simulator/simulation.ts";

const SCRIPTS = join(repoRoot, "test/peers/python");

/**
 * OPC UA types the script serves: built-in scalars; "Enum", an Int32 whose
 * DataType is a custom enumeration; "Range", a standard structure (an
 * ExtensionObject); `T[]` arrays and `T[,]` matrices (value `{dims, values}`,
 * row-major) of a built-in T.
 */
export type AsyncuaType = AsyncuaScalar | "Enum" | "Range" | `${AsyncuaScalar}[]` | `${AsyncuaScalar}[,]`;

/** The built-in scalar types; Guid, NodeId, QualifiedName ("2:Name"), StatusCode (a name) and XmlElement as text. */
export type AsyncuaScalar =
  | "Boolean"
  | "SByte"
  | "Byte"
  | "Int16"
  | "UInt16"
  | "Int32"
  | "UInt32"
  | "Int64"
  | "UInt64"
  | "Float"
  | "Double"
  | "String"
  | "ByteString"
  | "DateTime"
  | "LocalizedText"
  | "Guid"
  | "NodeId"
  | "QualifiedName"
  | "StatusCode"
  | "XmlElement";

/** asyncua 2.1's `ua.SecurityPolicyType` names. */
export const ASYNCUA_POLICIES = [
  "NoSecurity",
  "Basic256Sha256_Sign",
  "Basic256Sha256_SignAndEncrypt",
  "Aes128Sha256RsaOaep_Sign",
  "Aes128Sha256RsaOaep_SignAndEncrypt",
  "Aes256Sha256RsaPss_Sign",
  "Aes256Sha256RsaPss_SignAndEncrypt",
  "Basic256_Sign",
  "Basic256_SignAndEncrypt",
  "Basic128Rsa15_Sign",
  "Basic128Rsa15_SignAndEncrypt",
] as const;
export type AsyncuaPolicy = (typeof ASYNCUA_POLICIES)[number];

export interface AsyncuaVariable {
  node: string;
  type: AsyncuaType;
  /** JSON value; 64-bit integers may be bigint, ByteString is base64 text. */
  value: unknown;
  /** Source timestamp of the first value (ISO). */
  time?: string;
  writable?: boolean;
}

export interface AsyncuaPeerOptions {
  port: number;
  /** The server's PKI folder: own/ (kept across restarts), trusted/ and rejected/ client certificates. */
  pkiDir: string;
  policies?: AsyncuaPolicy[];
  /** "trusted": only client certificates in `<pkiDir>/trusted/` (asyncua's CertificateValidator + TrustStore). */
  clientTrust?: "any" | "trusted";
  anonymous?: boolean;
  users?: Record<string, string>;
  variables: AsyncuaVariable[];
}

/** JSON with bigints written as plain integers, as Python's json reads them exactly. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `\u0000big${v}` : v)).replace(
    /"\\u0000big(-?\d+)"/g,
    "$1",
  );
}

export class AsyncuaPeer {
  readonly options: AsyncuaPeerOptions;
  #child: ChildProcess | undefined;
  #pending = new Map<number, { resolve: (answer: Record<string, unknown>) => void; reject: (err: Error) => void }>();
  #nextId = 1;
  #stderr = "";
  #exited: Promise<void> = Promise.resolve();

  constructor(options: AsyncuaPeerOptions) {
    this.options = options;
  }

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.options.port}/asyncua/`;
  }

  /** The server's certificate (DER), made on the first start and kept in the PKI folder. */
  get certificateFile(): string {
    return join(this.options.pkiDir, "own/certificate.der");
  }

  /** Where the server keeps the client certificates it trusts, and the ones it refused. */
  get trustedDir(): string {
    return join(this.options.pkiDir, "trusted");
  }

  get rejectedDir(): string {
    return join(this.options.pkiDir, "rejected");
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** What the server's log said (asyncua logs warnings and refusals to stderr). */
  get stderr(): string {
    return this.#stderr;
  }

  async start(variables = this.options.variables): Promise<void> {
    mkdirSync(this.options.pkiDir, { recursive: true });
    const spec = join(this.options.pkiDir, "spec.json");
    writeFileSync(
      spec,
      toJson({
        port: this.options.port,
        host: "127.0.0.1",
        pki: this.options.pkiDir,
        policies: this.options.policies ?? ["NoSecurity"],
        client_trust: this.options.clientTrust ?? "any",
        anonymous: this.options.anonymous ?? true,
        users: this.options.users ?? {},
        variables,
      }),
    );
    const child = spawn(peerPython(), [join(SCRIPTS, "asyncua_server.py"), spec], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-20_000);
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`asyncua server did not start in 30 s: ${this.#stderr}`)),
        30_000,
      );
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`asyncua server exited (${code}) before it was ready: ${this.#stderr}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.ready) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const waiter = this.#pending.get(message.id as number);
        this.#pending.delete(message.id as number);
        if (message.ok) waiter?.resolve(message);
        else waiter?.reject(new Error(`asyncua server: ${String(message.error)}`));
      });
    });
    child.once("exit", () => {
      if (this.#child === child) this.#child = undefined;
      for (const waiter of this.#pending.values()) waiter.reject(new Error("asyncua server exited"));
      this.#pending.clear();
    });
    await ready;
  }

  /**
   * SIGSTOP: a server that stops answering while its port stays open (the kernel still accepts
   * and acknowledges), as a frozen host or VM does; `thaw` (SIGCONT) resumes it.
   */
  freeze(): void {
    this.#child?.kill("SIGSTOP");
  }

  thaw(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Stops the server: "kill" is a crash (SIGKILL, no goodbye to clients), "stop" a clean shutdown. */
  async stop(how: "stop" | "kill" = "stop"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGCONT"); // a frozen one acts on the signal, or reads its closed stdin
    if (how === "kill") child.kill("SIGKILL");
    else child.stdin?.end();
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await this.#exited;
    clearTimeout(killer);
  }

  #request(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const child = this.#child;
    if (!child?.stdin) return Promise.reject(new Error("asyncua server is not running"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.stdin?.write(`${toJson({ id, ...request })}\n`);
    });
  }

  /** Sets a variable from the server side (a PLC's own change) with that source timestamp. */
  async set(node: string, value: unknown, time?: Date, status?: string): Promise<void> {
    await this.#request({ op: "set", node, value, time: time?.toISOString(), status });
  }

  /** A variable's value and variant type, from the server's address space. */
  async get(node: string): Promise<{ value: unknown; type: string }> {
    const answer = await this.#request({ op: "get", node });
    return { value: answer.value, type: answer.type as string };
  }

  /** Names of the users whose sessions the server activated ("anonymous", a user name, "x509"). */
  async activatedUsers(): Promise<string[]> {
    return (await this.#request({ op: "sessions" })).users as string[];
  }
}

const run = promisify(execFile);

/** Reads nodes with asyncua's own client (anonymous, or user:password), not through the sidecar's stack. */
export async function readWithAsyncua(
  endpoint: string,
  nodes: string[],
  user?: string,
): Promise<Record<string, { value: unknown; type: string; status: string }>> {
  const args = [join(SCRIPTS, "asyncua_read.py"), endpoint, ...(user ? ["--user", user] : []), ...nodes];
  const { stdout } = await run(peerPython(), args, { timeout: 30_000 });
  return JSON.parse(stdout) as Record<string, { value: unknown; type: string; status: string }>;
}

/**
 * The simulated line served by asyncua: the line's machine tags (read-only
 * for clients, as PLC tags are) with the line's source timestamps, changed as
 * the line changes. `types` serves a tag as another OPC UA type (a counter as
 * Int64, the state as an enumeration). A restart kills the process (a crash,
 * not a shutdown) and starts a new one with the line's values meanwhile.
 */
export class AsyncuaLineServer implements SimOutput {
  readonly name = "asyncua";
  readonly peer: AsyncuaPeer;
  readonly #line: Line;
  readonly #types: Partial<Record<TagName, AsyncuaType>>;
  #unsubscribe: (() => void) | undefined;
  #pushing: Promise<void> = Promise.resolve();
  readonly #counts = { restarts: 0, tag_changes: 0 };

  constructor(
    line: Line,
    options: Omit<AsyncuaPeerOptions, "variables">,
    types: Partial<Record<TagName, AsyncuaType>> = {},
  ) {
    this.#line = line;
    this.#types = types;
    this.peer = new AsyncuaPeer({ ...options, variables: [] });
  }

  get endpoint(): string {
    return this.peer.endpoint;
  }

  #variables(): AsyncuaVariable[] {
    return this.#line.machines.flatMap((machine) =>
      TAG_NAMES.map((tag) => ({
        node: `ns=2;s=${tagPath(this.#line.name, machine, tag)}`,
        type: this.#types[tag] ?? TAG_TYPES[tag],
        value: this.#line.tags(machine)[tag],
        time: this.#line.timeOf(machine, tag).toISOString(),
      })),
    );
  }

  async start(): Promise<void> {
    await this.peer.start(this.#variables());
    this.#unsubscribe = this.#line.onChange((change) => this.#push(change));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#pushing;
    await this.peer.stop();
  }

  /** Kills the server, waits `downMs` while the line goes on, starts it again with the line's current values. */
  async restart(downMs: number): Promise<boolean> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#pushing;
    await this.peer.stop("kill");
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
    this.#counts.restarts++;
    return true;
  }

  /** Every change sent so far has reached the server. */
  settled(): Promise<void> {
    return this.#pushing;
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  #push(change: TagChange): void {
    this.#counts.tag_changes++;
    const node = `ns=2;s=${tagPath(this.#line.name, change.machine, change.tag)}`;
    // The script takes its stdin line by line: changes reach the server in the line's order.
    const sent = this.peer.set(node, change.value, change.time).catch(() => {});
    this.#pushing = Promise.all([this.#pushing, sent]).then(() => {});
  }
}
