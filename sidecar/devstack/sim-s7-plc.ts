// The simulated line as a Siemens S7 PLC: each machine's tags in a data
// block of python-snap7's S7 server (s7-peer.ts; the layout is
// sidecar/simulator/s7-map.ts), written as the PLC program would — with
// python-snap7's own value layout — at every tag change. restart() kills the server (a power cycle) and brings it back
// on the same port with the tags' current values in its DBs before a client
// may read them, as a PLC's retentive DBs; the line runs on meanwhile.
import { type Line, TAG_NAMES, type TagName } from "../simulator/line.ts";
import { S7_DB_SIZE, S7_FIRST_DB, s7TagAddress } from "../simulator/s7-map.ts";
import { type SimOutput, sleep } from "../simulator/simulation.ts";
import { parseS7Address } from "../src/sources/plc/s7/address.ts";
import { S7PeerServer } from "./s7-peer.ts";

export class SimS7Plc implements SimOutput {
  readonly name = "s7";
  readonly server: S7PeerServer;
  readonly #line: Line;
  #unsubscribe: (() => void) | undefined;
  /** Writes go one at a time, in the order the line changed. */
  #chain: Promise<void> = Promise.resolve();
  #restarting = false;
  #writes = 0;
  /** Tag changes made while the PLC was off. */
  #whileDown = 0;
  /** Writes the server refused (none expected: a test checks). */
  readonly errors: string[] = [];

  constructor(line: Line, port = 0) {
    this.#line = line;
    this.server = new S7PeerServer(
      line.machines.map((_, index) => ({ area: "DB", index: S7_FIRST_DB + index, size: S7_DB_SIZE })),
    );
    this.server.port = port;
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    await this.server.start();
    await this.#writeAll();
    this.#unsubscribe = this.#line.onChange((change) => {
      if (this.#restarting) this.#whileDown++;
      // The tag's value when the write runs, not when it was queued: writes
      // held back by a restart must not take a counter backwards.
      this.#enqueue(() => this.#put(change.machine, change.tag, this.#line.tags(change.machine)[change.tag]));
    });
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#chain;
    await this.server.stop();
  }

  async restart(downMs: number): Promise<boolean> {
    this.#restarting = true;
    await this.#enqueue(async () => {
      await this.server.kill();
      await sleep(downMs);
      // Back with the line's state in its DBs before any client reads them.
      await this.server.start(this.server.port, () => this.#writeAll());
    });
    this.#restarting = false;
    return true;
  }

  stats(): Record<string, number> {
    return { writes: this.#writes, changes_while_down: this.#whileDown, errors: this.errors.length };
  }

  async #writeAll(): Promise<void> {
    for (const machine of this.#line.machines) {
      const tags = this.#line.tags(machine);
      for (const tag of TAG_NAMES) await this.#put(machine, tag, tags[tag]);
    }
  }

  async #put(machine: string, tag: TagName, value: string | number | boolean): Promise<void> {
    await this.server.put(parseS7Address(s7TagAddress(this.#line.machines.indexOf(machine), tag)), value);
    this.#writes++;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(work).catch((error: unknown) => {
      this.errors.push((error as Error).message);
    });
    return this.#chain;
  }
}
