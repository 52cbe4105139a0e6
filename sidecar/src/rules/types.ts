// Shared shapes of the rule engines: what a protocol source observes, what a
// rule derives, and how a derived event gets its deterministic id.
import { hash } from "node:crypto";
import type { CloudEvent, EventType, MappingRule } from "../core/contract.ts";

/** One value of one address (OPC UA node id or Sparkplug metric path) at the source's clock. */
export interface Observation {
  address: string;
  value: unknown;
  /** The source's own timestamp (OPC UA sourceTimestamp, Sparkplug metric timestamp). */
  sourceTime: Date;
  /** When the sidecar received it. */
  receivedAt: Date;
}

/** Everything a rule needs besides its own state: latest values of the other addresses. */
export interface RuleContext {
  connection: string;
  revision: number;
  /** Latest observed value per address (order refs, reason codes, trigger fields). */
  snapshot: ReadonlyMap<string, unknown>;
}

export interface RuleOutcome<S> {
  events: CloudEvent[];
  state: S;
  /** The observation could not be used (wrong type, unmapped state value). */
  invalid?: string;
}

/**
 * Deterministic event id: the same observation read twice (reconnect,
 * restart, re-subscription) yields the same id, so Odoo's unique
 * (source, id) turns the second copy into a duplicate instead of a double count.
 */
export function derivedEventId(
  connection: string,
  address: string,
  sourceTime: Date,
  value: unknown,
  type: EventType,
): string {
  // One-shot hash: a Hash object per event cost as much as the rest of the event.
  const text = [connection, address, sourceTime.toISOString(), JSON.stringify(value ?? null), type].join("\u0000");
  return `sfb-${hash("sha256", text, "hex").slice(0, 40)}`;
}

/** Event types whose data carries a quantity's unit as `uom`; quality.result carries its `unit`. */
const UOM_TYPES: ReadonlySet<EventType> = new Set([
  "workorder.completed",
  "production.reported",
  "material.consumed",
  "scrap.reported",
  "production.corrected",
  "scrap.reversed",
  "consumption.reversed",
]);

export function derivedEvent(
  rule: MappingRule,
  ctx: RuleContext,
  type: EventType,
  obs: Observation,
  data: Record<string, unknown>,
  idValue: unknown = obs.value,
): CloudEvent {
  // The rule's floor unit, where the event has a unit field the rule left empty.
  const unit = stringParam(rule, "unit");
  if (unit && UOM_TYPES.has(type) && data.uom === undefined) data.uom = unit;
  if (unit && type === "quality.result" && data.unit === undefined) data.unit = unit;
  const event: CloudEvent = {
    specversion: "1.0",
    id: derivedEventId(ctx.connection, rule.address, obs.sourceTime, idValue, type),
    source: rule.source,
    type,
    time: obs.sourceTime.toISOString(),
    datacontenttype: "application/json",
    data,
    observedtime: obs.receivedAt.toISOString(),
    connection: ctx.connection,
    mappingrev: ctx.revision,
  };
  if (typeof data.order === "string" && data.order !== "") event.subject = data.order;
  return event;
}

/** Reads the address a parameter names from the snapshot; empty strings count as absent. */
export function snapshotValue(ctx: RuleContext, address: unknown): unknown {
  if (typeof address !== "string" || address === "") return undefined;
  const value = ctx.snapshot.get(address);
  return value === "" ? undefined : value;
}

/** Numbers stay numbers; order refs and codes read from numeric tags become strings. */
export function asText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return undefined;
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n) return Number(value);
  return undefined;
}

export function stringParam(rule: MappingRule, key: string): string | undefined {
  const v = rule.params[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function numberParam(rule: MappingRule, key: string): number | undefined {
  const v = rule.params[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Addresses a rule reads besides its own (order, reason, trigger fields). */
export function auxiliaryAddresses(rule: MappingRule): string[] {
  const out: string[] = [];
  for (const key of ["order_address", "reason_address", "operation_address"]) {
    const v = stringParam(rule, key);
    if (v) out.push(v);
  }
  const fields = rule.params.fields;
  if (fields && typeof fields === "object") {
    for (const v of Object.values(fields as Record<string, unknown>)) if (typeof v === "string" && v) out.push(v);
  }
  return out;
}

/**
 * The value a rule sees: `value × scale + offset` when the rule sets either
 * (a raw count in tenths, a level in another unit), for every protocol. A
 * result within a billionth (relative) of an integer is that integer, so binary
 * fractions do not turn a scaled count into 2.9999999999999996. A value
 * that is not a number cannot be scaled: the observation is refused.
 */
export function scaledValue(rule: MappingRule, value: unknown): { value: unknown } | { invalid: string } {
  const { scale, offset } = rule.params;
  const hasScale = scale !== undefined && scale !== null;
  const hasOffset = offset !== undefined && offset !== null;
  if (!hasScale && !hasOffset) return { value };
  for (const [name, param] of [
    ["scale", scale],
    ["offset", offset],
  ] as const) {
    if (param !== undefined && param !== null && (typeof param !== "number" || !Number.isFinite(param))) {
      return { invalid: `${rule.kind} ${rule.address}: ${name} ${JSON.stringify(param)} is not a number` };
    }
  }
  const number =
    typeof value === "number"
      ? value
      : typeof value === "bigint" &&
          value <= BigInt(Number.MAX_SAFE_INTEGER) &&
          value >= -BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : undefined;
  if (number === undefined || !Number.isFinite(number)) {
    return {
      invalid: `${rule.kind} ${rule.address}: value ${describeValue(value)} is not a number: scale/offset cannot apply`,
    };
  }
  const result = number * (hasScale ? (scale as number) : 1) + (hasOffset ? (offset as number) : 0);
  const nearest = Math.round(result);
  return { value: Math.abs(result - nearest) <= 1e-9 * Math.abs(result) ? nearest : result };
}

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
