// Drives the line through machine-level actions (start an order, set up,
// produce, go down, complete) and records each in the ledger with the
// business event it should become. Outputs (OPC UA server, Sparkplug edge
// node, MQTT CloudEvents publisher) reflect the tags or the expected events.
import type { Ledger, LedgerEntry } from "./ledger.ts";
import { type Line, MACHINE_STATE, machineSource } from "./line.ts";

export interface SimOutput {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Server restart (OPC UA) or reconnect (MQTT) with `downMs` of absence. Returns true if it did one. */
  restart?(downMs: number): Promise<boolean>;
  /** Sends malformed input; returns how many items Odoo must show as rejected. */
  malformed?(): Promise<number>;
  /** Re-sends what was already sent; returns how many copies must be duplicates. */
  duplicate?(): Promise<number>;
  stats?(): Record<string, number>;
}

export interface SimulationOptions {
  /** Real ms between two simulated actions (parts, state changes): the rate knob for a 2-core machine. */
  stepMs: number;
  /** How long a trigger (Started/Completed) stays high, ms: at least two publishing intervals. */
  pulseMs?: number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Simulation {
  readonly line: Line;
  readonly ledger: Ledger;
  readonly outputs: SimOutput[] = [];
  readonly opts: SimulationOptions;
  readonly #expectedListeners = new Set<(entry: LedgerEntry) => void | Promise<void>>();
  readonly #openDowntime = new Map<string, number>();
  readonly #openSetup = new Map<string, number>();

  constructor(line: Line, ledger: Ledger, opts: SimulationOptions) {
    this.line = line;
    this.ledger = ledger;
    this.opts = opts;
  }

  /** Called for each ledger entry that expects a business event (the MQTT publisher sends it as a CloudEvent). */
  onExpected(listener: (entry: LedgerEntry) => void | Promise<void>): void {
    this.#expectedListeners.add(listener);
  }

  step(factor = 1): Promise<void> {
    return sleep(this.opts.stepMs * factor);
  }

  source(machine: string): string {
    return machineSource(this.line.name, machine);
  }

  async #record(
    machine: string,
    action: string,
    time: Date,
    detail: Record<string, unknown>,
    expect: LedgerEntry["expect"],
    effect: string,
  ): Promise<LedgerEntry> {
    const entry = this.ledger.record({ machine, source: this.source(machine), action, time, detail, expect, effect });
    if (expect) for (const listener of this.#expectedListeners) await listener(entry);
    return entry;
  }

  async startOrder(machine: string, order: string, operation: string): Promise<void> {
    this.line.set(machine, "CurrentOrder", order);
    this.line.set(machine, "Operation", operation);
    // Ignition lines commonly zero the part counters per order.
    if (this.line.tags(machine).GoodCount !== 0) this.line.set(machine, "GoodCount", 0);
    if (this.line.tags(machine).ScrapCount !== 0) this.line.set(machine, "ScrapCount", 0);
    this.line.set(machine, "Completed", false);
    const change = this.line.set(machine, "Started", true);
    this.ledger.order(order, this.source(machine)).started = true;
    await this.#record(
      machine,
      "start-order",
      change.time,
      { order, operation },
      { type: "workorder.started", data: { order, operation } },
      `work order ${operation} of ${order} in progress, productive time log opened`,
    );
  }

  async setState(machine: string, state: keyof typeof MACHINE_STATE, reason = ""): Promise<void> {
    const tags = this.line.tags(machine);
    const order = tags.CurrentOrder;
    const previous = tags.State;
    if (state === "down") this.line.set(machine, "ReasonCode", reason);
    const change = this.line.set(machine, "State", MACHINE_STATE[state]);
    const time = change.time.toISOString();
    if (previous === MACHINE_STATE.down && state !== "down") {
      const open = this.#openDowntime.get(machine);
      const interval = open === undefined ? undefined : this.ledger.downtimes[open];
      if (interval) interval.end = time;
      this.#openDowntime.delete(machine);
      await this.#record(
        machine,
        "downtime-end",
        change.time,
        { state },
        { type: "downtime.ended", data: { reason_code: interval?.reason_code ?? "", order } },
        "downtime time log closed",
      );
    }
    if (previous === MACHINE_STATE.setup && state !== "setup") {
      const open = this.#openSetup.get(machine);
      const interval = open === undefined ? undefined : this.ledger.setups[open];
      if (interval) interval.end = time;
      this.#openSetup.delete(machine);
      await this.#record(
        machine,
        "setup-end",
        change.time,
        { state },
        { type: "setup.ended", data: { order } },
        "setup time log closed",
      );
    }
    // A downtime or a setup ended the order's productive log (Odoo's block
    // button does the same): running again reopens it.
    const leftStop = previous === MACHINE_STATE.down || previous === MACHINE_STATE.setup;
    if (state === "running" && leftStop && order) {
      await this.#record(
        machine,
        "resume",
        change.time,
        { state },
        { type: "workorder.resumed", data: { order, operation: tags.Operation } },
        "productive time log reopened",
      );
    }
    if (state === "down" && previous !== MACHINE_STATE.down) {
      this.#openDowntime.set(machine, this.ledger.downtimes.length);
      this.ledger.downtimes.push({ source: this.source(machine), order, reason_code: reason, start: time, end: null });
      await this.#record(
        machine,
        "downtime-start",
        change.time,
        { reason },
        { type: "downtime.started", data: { reason_code: reason, order } },
        `downtime time log opened with the loss mapped from ${reason}`,
      );
    }
    if (state === "setup" && previous !== MACHINE_STATE.setup) {
      this.#openSetup.set(machine, this.ledger.setups.length);
      this.ledger.setups.push({ source: this.source(machine), order, start: time, end: null });
      await this.#record(
        machine,
        "setup-start",
        change.time,
        {},
        { type: "setup.started", data: { order } },
        "setup time log opened",
      );
    }
    if (state !== "down" && tags.ReasonCode !== "") this.line.set(machine, "ReasonCode", "");
  }

  /** `good` good parts and `scrap` scrap parts, one per step, scrap spread evenly. */
  async produce(machine: string, good: number, scrap = 0): Promise<void> {
    const total = good + scrap;
    let scrapped = 0;
    for (let i = 1; i <= total; i++) {
      const isScrap = scrapped < scrap && Math.floor((i * scrap) / total) > scrapped;
      const tags = this.line.tags(machine);
      const order = tags.CurrentOrder;
      const expected = this.ledger.order(order, this.source(machine));
      if (isScrap) {
        scrapped++;
        const change = this.line.set(machine, "ScrapCount", tags.ScrapCount + 1);
        expected.scrap++;
        await this.#record(
          machine,
          "scrap",
          change.time,
          { ScrapCount: change.value },
          { type: "scrap.reported", data: { order, qty: 1 } },
          "1 unit scrapped (stock.scrap)",
        );
      } else {
        const change = this.line.set(machine, "GoodCount", tags.GoodCount + 1);
        expected.good++;
        await this.#record(
          machine,
          "part",
          change.time,
          { GoodCount: change.value },
          { type: "production.reported", data: { order, qty_good: 1 } },
          "qty producing +1",
        );
      }
      await this.step();
    }
  }

  /** The PLC's counter is zeroed mid-order (power cycle, operator reset). */
  async resetCounter(machine: string): Promise<void> {
    const change = this.line.set(machine, "GoodCount", 0);
    await this.#record(
      machine,
      "counter-reset",
      change.time,
      { GoodCount: 0 },
      null,
      "none: counting continues from 0",
    );
  }

  async complete(machine: string): Promise<void> {
    const tags = this.line.tags(machine);
    const order = tags.CurrentOrder;
    const change = this.line.set(machine, "Completed", true);
    this.ledger.order(order, this.source(machine)).completed = true;
    await this.#record(
      machine,
      "complete",
      change.time,
      { order, GoodCount: tags.GoodCount, ScrapCount: tags.ScrapCount },
      {
        type: "workorder.completed",
        data: { order, operation: tags.Operation, qty_good: tags.GoodCount, qty_scrap: tags.ScrapCount },
      },
      "work order finished, time logs closed",
    );
    await sleep(this.opts.pulseMs ?? 500);
    this.line.set(machine, "Completed", false);
    this.line.set(machine, "Started", false);
    await this.setState(machine, "idle");
  }

  async restartOutputs(downMs: number): Promise<void> {
    for (const out of this.outputs) if (out.restart && (await out.restart(downMs))) this.ledger.serverRestarts++;
  }

  async malformed(): Promise<void> {
    for (const out of this.outputs) if (out.malformed) this.ledger.rejected += await out.malformed();
  }

  async duplicate(): Promise<void> {
    for (const out of this.outputs) if (out.duplicate) this.ledger.duplicates += await out.duplicate();
  }

  async start(): Promise<void> {
    for (const out of this.outputs) await out.start();
  }

  async stop(): Promise<void> {
    for (const out of [...this.outputs].reverse()) await out.stop();
    for (const out of this.outputs) {
      for (const [k, v] of Object.entries(out.stats?.() ?? {})) this.ledger.count(`${out.name}.${k}`, v);
    }
  }
}
