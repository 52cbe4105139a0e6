// The simulated line's PLC over Modbus TCP, a simulator output (here, not in
// simulator/, because it starts a dev-stack server): pymodbus's server (not
// the project's code) holds each machine's tags at the addresses of
// simulator/modbus-map.ts, and this output plays the PLC program writing them
// as the line changes. A restart kills the server and starts it again on the
// same port: its retentive memory comes back before it answers, and the
// program then writes what the line did meanwhile (the machine kept counting).
import { type Line, TAG_NAMES, type TagChange, type TagName } from "../simulator/line.ts";
import { MODBUS_BLOCK, modbusTagAddress } from "../simulator/modbus-map.ts";
import { type SimOutput, sleep } from "../simulator/simulation.ts";
import { type ModbusPeer, startModbusPeer } from "./modbus-peer.ts";

export interface SimModbusPlcOptions {
  line: Line;
  port?: number;
}

export class SimModbusPlc implements SimOutput {
  readonly name = "modbus";
  readonly #opts: SimModbusPlcOptions;
  #peer: ModbusPeer | undefined;
  #unsubscribe: (() => void) | undefined;
  #writes: Promise<void> = Promise.resolve();
  #down = false;
  readonly #counts = { restarts: 0, tag_writes: 0, writes_while_down: 0 };

  constructor(opts: SimModbusPlcOptions) {
    this.#opts = opts;
  }

  get port(): number {
    if (!this.#peer) throw new Error("the Modbus PLC is not started");
    return this.#peer.port;
  }

  get pid(): number | undefined {
    return this.#peer?.pid;
  }

  async start(): Promise<void> {
    const { line } = this.#opts;
    this.#peer = await startModbusPeer({
      size: (line.machines.length + 1) * MODBUS_BLOCK,
      retentive: true,
      ...(this.#opts.port ? { port: this.#opts.port } : {}),
    });
    await this.#writeAll();
    this.#unsubscribe = line.onChange((change) => this.#enqueue(change.machine, change.tag, change.value));
  }

  /** Waits until every change so far is in the PLC's registers. */
  async settled(): Promise<void> {
    await this.#writes;
  }

  async restart(downMs: number): Promise<boolean> {
    const peer = this.#peer;
    if (!peer) return false;
    await this.#writes;
    this.#down = true;
    await peer.kill();
    await sleep(downMs);
    await peer.start();
    this.#down = false;
    await this.#writeAll();
    this.#counts.restarts++;
    return true;
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#writes;
    await this.#peer?.destroy();
    this.#peer = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  async #writeAll(): Promise<void> {
    const { line } = this.#opts;
    for (const machine of line.machines) {
      const tags = line.tags(machine);
      for (const tag of TAG_NAMES) this.#enqueue(machine, tag, tags[tag]);
    }
    await this.#writes;
  }

  #enqueue(machine: string, tag: TagName, value: TagChange["value"]): void {
    const index = this.#opts.line.machines.indexOf(machine);
    this.#writes = this.#writes.then(async () => {
      const peer = this.#peer;
      if (!peer || this.#down) {
        // Written again from the line's state once the PLC is back.
        this.#counts.writes_while_down++;
        return;
      }
      await this.#write(peer, modbusTagAddress(index, tag), value).catch(() => {
        this.#counts.writes_while_down++;
      });
      this.#counts.tag_writes++;
    });
  }

  async #write(peer: ModbusPeer, address: string, value: TagChange["value"]): Promise<void> {
    const match = /^(hr|ir|coil|di)(\d+)(?::(\w+))?(?::(\w+))?$/.exec(address);
    if (!match) throw new Error(`not a register map address: ${address}`);
    const [, area, offset, type = "uint16", order = "ABCD"] = match;
    if (area === "coil" || area === "di") {
      await peer.setBits(area, Number(offset), [value === true]);
      return;
    }
    await peer.put(area as "hr" | "ir", Number(offset), type, order, String(value));
  }
}
