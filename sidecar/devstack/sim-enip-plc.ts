// The simulated line's Logix controller over EtherNet/IP, a simulator output
// (here, not in simulator/, because it starts a dev-stack server): cpppo's
// EtherNet/IP server (not the project's code) holds each machine's tags at
// the addresses of simulator/enip-map.ts, and this output plays the
// controller's program writing them as the line changes. A restart kills
// cpppo and starts it again on the same port; cpppo keeps no values, so the
// controller comes back with every tag at 0, "" or false (a controller whose
// tags are not retained), and the program writes only what changes next.
import { enipTagAddress, enipTagType } from "../simulator/enip-map.ts";
import { type Line, TAG_NAMES, type TagChange, type TagName } from "../simulator/line.ts";
import { type SimOutput, sleep } from "../simulator/simulation.ts";
import { CpppoLogix } from "./cpppo-peer.ts";
import { freePort } from "./odoo.ts";

/** cpppo_logix.py's names for the Logix types of enip-map.ts. */
const CPPPO_TYPE = { DINT: "DINT", STRING: "LOGIX_STRING", BOOL: "BOOL" } as const;

export interface SimEnipPlcOptions {
  line: Line;
  port?: number;
}

export class SimEnipPlc implements SimOutput {
  readonly name = "enip";
  readonly #opts: SimEnipPlcOptions;
  #plc: CpppoLogix | undefined;
  #port = 0;
  #unsubscribe: (() => void) | undefined;
  #writes: Promise<void> = Promise.resolve();
  #down = false;
  readonly #counts = { restarts: 0, tag_writes: 0, writes_while_down: 0 };

  constructor(opts: SimEnipPlcOptions) {
    this.#opts = opts;
  }

  get port(): number {
    if (!this.#plc) throw new Error("the EtherNet/IP controller is not started");
    return this.#plc.port;
  }

  get pid(): number | undefined {
    return this.#plc?.pid;
  }

  #tags(): Record<string, string> {
    const tags: Record<string, string> = {};
    for (const machine of this.#opts.line.machines) {
      for (const tag of TAG_NAMES) tags[enipTagAddress(machine, tag)] = CPPPO_TYPE[enipTagType(tag)];
    }
    return tags;
  }

  async start(): Promise<void> {
    const { line } = this.#opts;
    this.#port = this.#opts.port ?? (await freePort());
    this.#plc = await CpppoLogix.start(this.#tags(), this.#port);
    for (const machine of line.machines) {
      const tags = line.tags(machine);
      for (const tag of TAG_NAMES) this.#enqueue(machine, tag, tags[tag]);
    }
    await this.#writes;
    this.#unsubscribe = line.onChange((change) => this.#enqueue(change.machine, change.tag, change.value));
  }

  /** Waits until every change so far is in cpppo's tag store. */
  async settled(): Promise<void> {
    await this.#writes;
  }

  async restart(downMs: number): Promise<boolean> {
    if (!this.#plc) return false;
    await this.#writes;
    this.#down = true;
    await this.#plc.kill();
    await sleep(downMs);
    this.#plc = await CpppoLogix.start(this.#tags(), this.#port);
    this.#down = false;
    this.#counts.restarts++;
    return true;
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#writes;
    await this.#plc?.stop();
    this.#plc = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  #enqueue(machine: string, tag: TagName, value: TagChange["value"]): void {
    this.#writes = this.#writes.then(async () => {
      const plc = this.#plc;
      if (!plc || this.#down) {
        // lost with the controller's memory, as on a controller that is off
        this.#counts.writes_while_down++;
        return;
      }
      await plc.set(enipTagAddress(machine, tag), String(value));
      this.#counts.tag_writes++;
    });
  }
}
