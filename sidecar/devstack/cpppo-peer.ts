// A Logix controller simulated by cpppo's EtherNet/IP server
// (test/peers/python/cpppo_logix.py, from .venv-peers) for tests and
// benchmarks; values set and read in cpppo's own tag store, or read over the
// wire by cpppo's client (cpppo_read.py), never through the sidecar's driver.
import { type ChildProcessByStdio, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { promisify } from "node:util";
import { repoRoot } from "./odoo.ts";
import { peerPython } from "./python-peers.ts";

const PEER_DIR = join(repoRoot, "test/peers/python");

/** `Counter: "DINT"`, `Counts: "DINT[10]"`, `Name: "LOGIX_STRING"` (see cpppo_logix.py for every type). */
export type CpppoTags = Record<string, string>;

export class CpppoLogix {
  readonly port: number;
  readonly tags: CpppoTags;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #lines: AsyncIterator<string>;
  readonly #reader: Interface;
  readonly #exited: Promise<void>;
  #stderr = "";
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    child: ChildProcessByStdio<Writable, Readable, Readable>,
    reader: Interface,
    port: number,
    tags: CpppoTags,
  ) {
    this.#child = child;
    this.#reader = reader;
    this.#lines = reader[Symbol.asyncIterator]();
    this.port = port;
    this.tags = tags;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
  }

  /**
   * Starts the simulator on `port` (0: a free one) serving `tags`; `options`
   * are options with a value, cpppo's (`--size 500`) or cpppo_logix.py's
   * (`--controller-slot 3`).
   */
  static async start(tags: CpppoTags, port = 0, options: string[] = []): Promise<CpppoLogix> {
    const specs = Object.entries(tags).map(([name, type]) => `${name}=${type}`);
    const args = [join(PEER_DIR, "cpppo_logix.py"), "--address", `127.0.0.1:${port}`, ...options, ...specs];
    const child = spawn(peerPython(), args, {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const reader = createInterface({ input: child.stdout });
    const first = await Promise.race([
      reader[Symbol.asyncIterator]().next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cpppo did not start: ${stderr}`)), 20_000)),
    ]);
    if (first.done) throw new Error(`cpppo exited: ${stderr}`);
    const { port: bound } = JSON.parse(first.value) as { port: number };
    return new CpppoLogix(child, reader, bound, tags);
  }

  /** Sets element `index` of `tag` in cpppo's store; `value` in cpppo_logix.py's text form. */
  async set(tag: string, value: string, index = 0): Promise<void> {
    await this.#command({ op: "set", tag, index, value });
  }

  async get(tag: string, index = 0): Promise<string> {
    return (await this.#command({ op: "get", tag, index })).value ?? "";
  }

  /** The simulator's process id while it runs (for CPU figures). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Reads tags over the wire with cpppo's own client: `{ "Counts[2]": "DINT" }` → their values as text. */
  async readWithCpppoClient(tags: Record<string, string>): Promise<Record<string, string>> {
    const specs = Object.entries(tags).map(([name, type]) => `${name}=${type}`);
    const { stdout } = await promisify(execFile)(
      peerPython(),
      [join(PEER_DIR, "cpppo_read.py"), `127.0.0.1:${this.port}`, ...specs],
      { cwd: PEER_DIR, timeout: 30_000 },
    );
    return JSON.parse(stdout) as Record<string, string>;
  }

  /** SIGKILL: the controller vanishes mid-conversation, its values with it. */
  async kill(): Promise<void> {
    this.#child.kill("SIGKILL");
    await this.#exited;
    this.#reader.close();
  }

  /**
   * SIGSTOP: a controller that stops answering while its TCP port stays open
   * (the kernel still completes the handshake). cpppo has a --delay option for
   * this, but 5.2.5 does not apply it.
   */
  freeze(): void {
    this.#child.kill("SIGSTOP");
  }

  thaw(): void {
    this.#child.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    this.thaw();
    this.#child.stdin.end();
    this.#child.kill("SIGTERM");
    await this.#exited;
    this.#reader.close();
  }

  #command(command: object): Promise<{ ok: boolean; value?: string; error?: string }> {
    const next = this.#queue.then(async () => {
      this.#child.stdin.write(`${JSON.stringify(command)}\n`);
      const line = await this.#lines.next();
      if (line.done) throw new Error(`cpppo exited: ${this.#stderr}`);
      const answer = JSON.parse(line.value) as { ok: boolean; value?: string; error?: string };
      if (!answer.ok) throw new Error(`cpppo: ${answer.error} (${JSON.stringify(command)})`);
      return answer;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
