// Runs a connection's mapping rules over observations from one protocol
// source. Pure: no sockets, no clock of its own (callers pass `now`). The
// source hands `events` and `state` to SourceSink.accept together, so rule
// state and the events it produced commit atomically.
import type { CloudEvent, MappingRule } from "../core/contract.ts";
import type { SourceSink } from "../core/ports.ts";
import {
  type CounterRuntime,
  counterClose,
  counterFlush,
  counterObserve,
  counterPersisted,
  counterRuntime,
} from "./counter.ts";
import { type StatePersisted, stateObserve, stateRuntime } from "./state.ts";
import { type TriggerPersisted, triggerObserve, triggerRuntime } from "./trigger.ts";
import { auxiliaryAddresses, type Observation, type RuleContext, scaledValue } from "./types.ts";

/**
 * A source's dashboard line for the rule addresses it does not read, each with its reason (the
 * first five, then how many more): "2 addresses are not monitored (check the mapping rules): …".
 * "" when there are none.
 */
export function addressesWarning(problems: readonly string[], state: string): string {
  const n = problems.length;
  if (n === 0) return "";
  const shown = problems.slice(0, 5).join("; ") + (n > 5 ? `; and ${n - 5} more` : "");
  return `${n === 1 ? "1 address is" : `${n} addresses are`} ${state} (check the mapping rules): ${shown}`;
}

export interface EngineOptions {
  connection: string;
  revision: number;
  rules: MappingRule[];
  /** Key prefix of this engine's entries in the spool's rule state. */
  statePrefix: string;
  /** What SourceSink.loadState(statePrefix) returned. */
  state: Record<string, unknown>;
}

export interface EngineResult {
  events: CloudEvent[];
  /** Changed rule state, keyed for SourceSink.accept; empty when nothing changed. */
  state: Record<string, unknown>;
  /** Observations of addresses no rule reads: raw data, dropped by scope. */
  unmapped: number;
  /** Observations a rule could not use, with the reason. */
  invalid: string[];
}

type Runtime =
  | { rule: MappingRule; kind: "counter"; rt: CounterRuntime }
  | { rule: MappingRule; kind: "state"; rt: StatePersisted }
  | { rule: MappingRule; kind: "trigger"; rt: TriggerPersisted };

export class RuleEngine {
  readonly #ctx: RuleContext;
  readonly #snapshot = new Map<string, unknown>();
  readonly #byAddress = new Map<string, Runtime[]>();
  readonly #runtimes: Runtime[] = [];
  readonly #auxiliary = new Set<string>();
  /** Counters per order address: parts pending in a window belong to the order they were made for. */
  readonly #countersByOrder = new Map<string, Runtime[]>();
  readonly #prefix: string;

  /** An engine resumed from the counter positions and open states the sink has persisted under the prefix. */
  static async load(sink: SourceSink, opts: Omit<EngineOptions, "state">): Promise<RuleEngine> {
    return new RuleEngine({ ...opts, state: await sink.loadState(opts.statePrefix) });
  }

  constructor(opts: EngineOptions) {
    this.#ctx = { connection: opts.connection, revision: opts.revision, snapshot: this.#snapshot };
    this.#prefix = opts.statePrefix;
    for (const rule of opts.rules) {
      const persisted = opts.state[this.stateKey(rule)];
      const runtime: Runtime =
        rule.kind === "counter"
          ? { rule, kind: "counter", rt: counterRuntime(persisted) }
          : rule.kind === "state"
            ? { rule, kind: "state", rt: stateRuntime(persisted) }
            : { rule, kind: "trigger", rt: triggerRuntime(persisted) };
      this.#runtimes.push(runtime);
      const list = this.#byAddress.get(rule.address) ?? [];
      list.push(runtime);
      this.#byAddress.set(rule.address, list);
      for (const aux of auxiliaryAddresses(rule)) this.#auxiliary.add(aux);
      const orderAddress = rule.kind === "counter" ? rule.params.order_address : undefined;
      if (typeof orderAddress === "string" && orderAddress) {
        this.#countersByOrder.set(orderAddress, [...(this.#countersByOrder.get(orderAddress) ?? []), runtime]);
      }
    }
  }

  stateKey(rule: MappingRule): string {
    return `${this.#prefix}rule/${rule.id}`;
  }

  /** Every address a source must watch: rule addresses and the ones they read from. */
  addresses(): string[] {
    return [...new Set([...this.#byAddress.keys(), ...this.#auxiliary])];
  }

  watches(address: string): boolean {
    return this.#byAddress.has(address) || this.#auxiliary.has(address);
  }

  /**
   * Observations of one notification (OPC UA publish, Sparkplug DATA), in any
   * order: they are applied by source time, and at equal times the values
   * rules read (order, reason, fields) before the rule tags themselves, so a
   * PLC that writes the order and raises `Completed` in one scan is read right.
   */
  observe(batch: Observation[]): EngineResult {
    const result: EngineResult = { events: [], state: {}, unmapped: 0, invalid: [] };
    const ordered = batch
      .map((obs, index) => ({ obs, index, rank: this.#byAddress.has(obs.address) ? 1 : 0 }))
      .sort((a, b) => a.obs.sourceTime.getTime() - b.obs.sourceTime.getTime() || a.rank - b.rank || a.index - b.index);
    for (const { obs } of ordered) {
      if (!this.watches(obs.address)) {
        result.unmapped++;
        continue;
      }
      if (this.#snapshot.get(obs.address) !== obs.value) this.#closeWindowsOf(obs.address, result);
      this.#snapshot.set(obs.address, obs.value);
      for (const runtime of this.#byAddress.get(obs.address) ?? []) this.#step(runtime, obs, result);
    }
    return result;
  }

  /** Closes counter windows older than their `window_ms`. */
  flush(now: Date): EngineResult {
    const result: EngineResult = { events: [], state: {}, unmapped: 0, invalid: [] };
    for (const runtime of this.#runtimes) {
      if (runtime.kind !== "counter") continue;
      const step = counterFlush(runtime.rule, this.#ctx, runtime.rt, now);
      result.events.push(...step.events);
      if (step.changed) result.state[this.stateKey(runtime.rule)] = counterPersisted(runtime.rt);
    }
    return result;
  }

  /** Everything persisted right now (for tests and `spool stats`). */
  persistedState(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const runtime of this.#runtimes) out[this.stateKey(runtime.rule)] = this.#persisted(runtime);
    return out;
  }

  #persisted(runtime: Runtime): unknown {
    return runtime.kind === "counter" ? counterPersisted(runtime.rt) : { ...runtime.rt };
  }

  #closeWindowsOf(orderAddress: string, result: EngineResult): void {
    for (const runtime of this.#countersByOrder.get(orderAddress) ?? []) {
      if (runtime.kind !== "counter") continue;
      const step = counterClose(runtime.rule, this.#ctx, runtime.rt);
      result.events.push(...step.events);
      if (step.changed) result.state[this.stateKey(runtime.rule)] = counterPersisted(runtime.rt);
    }
  }

  #step(runtime: Runtime, raw: Observation, result: EngineResult): void {
    // Scale and offset are the rule's: values other rules read from this address stay raw.
    const scaled = scaledValue(runtime.rule, raw.value);
    if ("invalid" in scaled) {
      result.invalid.push(scaled.invalid);
      return;
    }
    const obs = scaled.value === raw.value ? raw : { ...raw, value: scaled.value };
    const step =
      runtime.kind === "counter"
        ? counterObserve(runtime.rule, this.#ctx, runtime.rt, obs)
        : runtime.kind === "state"
          ? stateObserve(runtime.rule, this.#ctx, runtime.rt, obs)
          : triggerObserve(runtime.rule, this.#ctx, runtime.rt, obs);
    result.events.push(...step.events);
    if (step.invalid) result.invalid.push(step.invalid);
    if (step.changed) result.state[this.stateKey(runtime.rule)] = this.#persisted(runtime);
  }
}
