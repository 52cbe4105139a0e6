// Rules and observations for the rule engines' unit tests.
import type { MappingRule } from "../../../src/core/contract.ts";
import type { Observation } from "../../../src/rules/types.ts";

export const T0 = Date.parse("2026-11-22T06:00:00.000Z");
const M = "ns=2;s=[default]Line1/Press03";

export const ADDR = {
  good: `${M}/GoodCount`,
  scrap: `${M}/ScrapCount`,
  state: `${M}/State`,
  reason: `${M}/ReasonCode`,
  order: `${M}/CurrentOrder`,
  completed: `${M}/Completed`,
  temperature: `${M}/Temperature`,
};

export function counterRule(params: Record<string, unknown> = {}, id = 1): MappingRule {
  return {
    id,
    kind: "counter",
    protocol: "opcua",
    address: ADDR.good,
    source: "plant1/line1/press-03",
    event_type: "production.reported",
    params: { order_address: ADDR.order, ...params },
  };
}

export function scrapRule(params: Record<string, unknown> = {}): MappingRule {
  return { ...counterRule(params, 2), address: ADDR.scrap, event_type: "scrap.reported" };
}

export function stateRule(params: Record<string, unknown> = {}): MappingRule {
  return {
    id: 3,
    kind: "state",
    protocol: "opcua",
    address: ADDR.state,
    source: "plant1/line1/press-03",
    event_type: "",
    params: {
      value_map: { "1": "running", "2": "idle", "3": "down", "4": "setup", "5": "down:MATERIAL" },
      reason_address: ADDR.reason,
      order_address: ADDR.order,
      ...params,
    },
  };
}

export function triggerRule(): MappingRule {
  return {
    id: 4,
    kind: "trigger",
    protocol: "opcua",
    address: ADDR.completed,
    source: "plant1/line1/press-03",
    event_type: "workorder.completed",
    params: { fields: { order: ADDR.order, qty_good: ADDR.good }, static: { operation: "Pressing" } },
  };
}

/** An observation `atSec` seconds into the shift, received 50 ms later. */
export function obs(address: string, value: unknown, atSec: number): Observation {
  return {
    address,
    value,
    sourceTime: new Date(T0 + atSec * 1000),
    receivedAt: new Date(T0 + atSec * 1000 + 50),
  };
}
