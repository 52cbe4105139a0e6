// `trigger` rule: a boolean tag's rising edge (false → true) emits the rule's
// event type with fields read from other addresses at that moment, e.g.
// `Completed` → workorder.completed {order: CurrentOrder, qty_good: GoodCount}.
// The last level is persisted so a restart that finds the tag still true
// does not fire again.
import type { CloudEvent, MappingRule } from "../core/contract.ts";
import { asText, derivedEvent, type Observation, type RuleContext, snapshotValue } from "./types.ts";

/** Fields the schema wants as text even when the PLC holds them in a numeric tag. */
const TEXT_FIELDS = new Set(["order", "operation", "operator", "uom", "material", "lot", "reason_code", "workcenter"]);

export interface TriggerPersisted {
  kind: "trigger";
  level: boolean | null;
}

export function triggerRuntime(persisted: unknown): TriggerPersisted {
  const level = (persisted as Partial<TriggerPersisted> | undefined)?.level;
  return { kind: "trigger", level: typeof level === "boolean" ? level : null };
}

export function asLevel(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  return undefined;
}

export function triggerObserve(
  rule: MappingRule,
  ctx: RuleContext,
  st: TriggerPersisted,
  obs: Observation,
): { events: CloudEvent[]; changed: boolean; invalid?: string } {
  const level = asLevel(obs.value);
  if (level === undefined) {
    return { events: [], changed: false, invalid: `trigger ${rule.address}: not a boolean: ${String(obs.value)}` };
  }
  const previous = st.level;
  if (previous === level) return { events: [], changed: false };
  st.level = level;
  // Unknown previous level (first read ever) counts as low: a trigger already
  // high at first sight fires once; its deterministic id makes a re-read a duplicate.
  if (!level || previous === true || !rule.event_type) return { events: [], changed: true };
  const data: Record<string, unknown> = {};
  const statics = rule.params.static;
  if (statics && typeof statics === "object") Object.assign(data, statics);
  const fields = rule.params.fields;
  if (fields && typeof fields === "object") {
    for (const [field, address] of Object.entries(fields as Record<string, unknown>)) {
      const value = snapshotValue(ctx, address);
      if (value === undefined || value === null) continue;
      data[field] = TEXT_FIELDS.has(field) ? asText(value) : typeof value === "bigint" ? Number(value) : value;
    }
  }
  return { events: [derivedEvent(rule, ctx, rule.event_type, obs, data)], changed: true };
}
