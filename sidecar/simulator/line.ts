// The simulated line: machines with Ignition-style tags, a clock that can
// drift, and the planning tags the sidecar writes back. Outputs (OPC UA
// server, Sparkplug edge node) listen to tag changes; the line itself has no I/O.

/** PLC state codes the simulator uses; `stateValueMap` maps them for the `state` rule. */
export const MACHINE_STATE = { running: 1, idle: 2, down: 3, setup: 4 } as const;

export interface MachineTags {
  State: number;
  ReasonCode: string;
  GoodCount: number;
  ScrapCount: number;
  CurrentOrder: string;
  Operation: string;
  Started: boolean;
  Completed: boolean;
}
export type TagName = keyof MachineTags;

export const TAG_TYPES: Record<TagName, "Int32" | "UInt32" | "String" | "Boolean"> = {
  State: "Int32",
  ReasonCode: "String",
  GoodCount: "UInt32",
  ScrapCount: "UInt32",
  CurrentOrder: "String",
  Operation: "String",
  Started: "Boolean",
  Completed: "Boolean",
};
export const TAG_NAMES = Object.keys(TAG_TYPES) as TagName[];

export interface TagChange {
  machine: string;
  tag: TagName;
  value: MachineTags[TagName];
  time: Date;
}

export const PLANNING_FIELDS = ["Order", "Product", "Qty", "Priority", "Start"] as const;
export type PlanningField = (typeof PLANNING_FIELDS)[number];

/** Source clock of the line; `driftMs` shifts every timestamp it stamps (clock-drift scenario). */
export class SimClock {
  driftMs = 0;
  #last = 0;
  /** Puts the clock at `ms` from now on, even back in time (a backfill replays past hours). */
  travelTo(ms: number): void {
    this.driftMs = ms - Date.now();
    this.#last = Math.min(this.#last, ms - 1);
  }
  /** Strictly increasing ms, so two changes never share a timestamp by accident. */
  now(): Date {
    const t = Math.max(Date.now() + this.driftMs, this.#last + 1);
    this.#last = t;
    return new Date(t);
  }
}

export class Line {
  readonly name: string;
  readonly machines: string[];
  readonly clock: SimClock;
  readonly #tags = new Map<string, MachineTags>();
  readonly #times = new Map<string, Date>();
  readonly #listeners = new Set<(change: TagChange) => void>();
  /** `Shopfloor/<line>/Queue/<n>/<field>` and `QueueJson`, as written by the sidecar. */
  readonly planning = new Map<string, string | number>();
  readonly queueSize: number;

  constructor(name: string, machines: string[], clock = new SimClock(), queueSize = 5) {
    this.name = name;
    this.machines = machines;
    this.clock = clock;
    this.queueSize = queueSize;
    const start = clock.now();
    for (const m of machines) {
      this.#tags.set(m, {
        State: MACHINE_STATE.idle,
        ReasonCode: "",
        GoodCount: 0,
        ScrapCount: 0,
        CurrentOrder: "",
        Operation: "",
        Started: false,
        Completed: false,
      });
      for (const tag of TAG_NAMES) this.#times.set(`${m}/${tag}`, start);
    }
  }

  tags(machine: string): Readonly<MachineTags> {
    const t = this.#tags.get(machine);
    if (!t) throw new Error(`no machine ${machine} on ${this.name}`);
    return t;
  }

  timeOf(machine: string, tag: TagName): Date {
    return this.#times.get(`${machine}/${tag}`) as Date;
  }

  set<K extends TagName>(machine: string, tag: K, value: MachineTags[K]): TagChange {
    const tags = this.#tags.get(machine);
    if (!tags) throw new Error(`no machine ${machine} on ${this.name}`);
    tags[tag] = value;
    const change: TagChange = { machine, tag, value, time: this.clock.now() };
    this.#times.set(`${machine}/${tag}`, change.time);
    for (const listener of this.#listeners) listener(change);
    return change;
  }

  onChange(listener: (change: TagChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Tag path as Ignition shows it, without the `ns=2;s=` prefix. */
export function tagPath(line: string, machine: string, tag: string): string {
  return `[default]${line}/${machine}/${tag}`;
}

export function tagNodeId(line: string, machine: string, tag: string): string {
  return `ns=2;s=${tagPath(line, machine, tag)}`;
}

export function planningPath(line: string, slot: number | null, field: PlanningField | "QueueJson"): string {
  return slot === null ? `[default]Shopfloor/${line}/${field}` : `[default]Shopfloor/${line}/Queue/${slot}/${field}`;
}

/** CloudEvent source of a machine: `plant1/<line>/<machine>` in lower case. */
export function machineSource(line: string, machine: string): string {
  return `plant1/${line}/${machine}`.toLowerCase();
}
