// Payload mappings and payloads for the mapping tests: a Kepware IoT Gateway
// shaped message, and mappings written for the tests (the shipped presets are
// data of the Odoo module).
import { createHash } from "node:crypto";
import type { MappingRule, PayloadMapping } from "../../../src/core/contract.ts";

export const sha256hex = async (text: string): Promise<string> => createHash("sha256").update(text).digest("hex");

export const T0 = Date.parse("2026-11-22T06:00:00.000Z");

export function mapping(overrides: Partial<PayloadMapping> = {}): PayloadMapping {
  return {
    id: 1,
    name: "test mapping",
    kind: "events",
    transport: "mqtt",
    match: "#",
    expression: "$",
    id_fields: [],
    payload_format: "json",
    revision: 1,
    ...overrides,
  };
}

/** Kepware IoT Gateway JSON: one message, several tags, `q` the quality, `t` milliseconds. */
export function kepwarePayload(values: { id: string; v: unknown; q?: boolean; t?: number }[], timestamp = T0): string {
  return JSON.stringify({
    timestamp,
    values: values.map((value) => ({ id: value.id, v: value.v, q: value.q ?? true, t: value.t ?? timestamp })),
  });
}

/** Kepware tags of good quality as observations. */
export const KEPWARE_VALUES = "values[q].{ 'address': id, 'value': v, 'time': t }";

export function kepwareValuesMapping(overrides: Partial<PayloadMapping> = {}): PayloadMapping {
  return mapping({ id: 11, name: "kepware values", kind: "values", expression: KEPWARE_VALUES, ...overrides });
}

/** A counter rule on a mapped address (protocol `payload`). */
export function payloadCounterRule(address: string, params: Record<string, unknown> = {}, id = 101): MappingRule {
  return {
    id,
    kind: "counter",
    protocol: "payload",
    address,
    source: "plant1/line1/press-01",
    event_type: "production.reported",
    params: { order: "WH/MO/00042", ...params },
  };
}

/** An event per production record: `{"line":…, "records":[{"order":…,"good":…,"at":…}]}`. */
export const RECORDS_TO_EVENTS = `records.{
  'source': 'plant1/' & $$.line,
  'type': 'production.reported',
  'time': $isoTime(at),
  'data': { 'order': order, 'qty_good': good }
}`;
