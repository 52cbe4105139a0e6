// Scope: which raw data the sidecar keeps. Raw data points (OPC UA tag
// changes, Sparkplug metrics, sensor readings) that no mapping rule asks for
// are dropped here and counted. A business CloudEvent is never dropped by
// scope: one from an unmapped source still goes to Odoo, where the missing
// mapping shows as an error a person fixes.
import type { MappingRule } from "./contract.ts";

export type RawProtocol = MappingRule["protocol"];

export class Scope {
  readonly #rules = new Map<string, MappingRule[]>();
  /** Dropped raw data points per protocol, for the metric. */
  readonly dropped = new Map<RawProtocol, number>();

  constructor(rules: readonly MappingRule[]) {
    for (const rule of rules) {
      const key = `${rule.protocol}\0${rule.address}`;
      const list = this.#rules.get(key) ?? [];
      list.push(rule);
      this.#rules.set(key, list);
    }
  }

  /** The rules mapping a raw data point; empty when none does. */
  rulesFor(protocol: RawProtocol, address: string): readonly MappingRule[] {
    return this.#rules.get(`${protocol}\0${address}`) ?? [];
  }

  /** True when some rule maps the point; otherwise counts the drop and returns false. */
  admitRaw(protocol: RawProtocol, address: string): boolean {
    if (this.#rules.has(`${protocol}\0${address}`)) return true;
    this.dropped.set(protocol, (this.dropped.get(protocol) ?? 0) + 1);
    return false;
  }

  /** Business events are always in scope; kept as a function so callers say what they mean. */
  admitEvent(): true {
    return true;
  }

  /** Addresses rules ask for, per protocol (what an OPC UA source subscribes to). */
  addresses(protocol: RawProtocol): string[] {
    const out: string[] = [];
    for (const list of this.#rules.values()) for (const r of list) if (r.protocol === protocol) out.push(r.address);
    return [...new Set(out)];
  }
}
