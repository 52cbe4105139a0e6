// The mapping rules that read the simulated line, per protocol: what an admin
// would enter in Odoo (shopfloor.mapping.rule) for this line.
import type { MappingRule } from "../src/core/contract.ts";
import { metricAddress } from "../src/sources/sparkplug/host.ts";
import { enipTagAddress } from "./enip-map.ts";
import { MACHINE_STATE, machineSource, type TagName, tagNodeId } from "./line.ts";
import { modbusTagAddress } from "./modbus-map.ts";
import { s7TagAddress } from "./s7-map.ts";

export interface LineRuleOptions {
  line: string;
  machines: string[];
  /** modbus, s7: the maps of modbus-map.ts and s7-map.ts, machines in the order given. enip: the tags of enip-map.ts. */
  protocol: "opcua" | "sparkplug" | "modbus" | "s7" | "enip";
  /** Sparkplug group and edge node id (the edge node is the line). */
  group?: string;
  edge?: string;
  /** Counter window, ms (0 = one event per change). */
  windowMs?: number;
  wrapAt?: number;
  firstId?: number;
}

export const STATE_VALUE_MAP: Record<string, string> = {
  [MACHINE_STATE.running]: "running",
  [MACHINE_STATE.idle]: "idle",
  [MACHINE_STATE.down]: "down",
  [MACHINE_STATE.setup]: "setup",
};

export function lineRules(o: LineRuleOptions): MappingRule[] {
  const rules: MappingRule[] = [];
  let id = o.firstId ?? 1;
  for (const [index, machine] of o.machines.entries()) {
    const at = (tag: TagName) =>
      o.protocol === "opcua"
        ? tagNodeId(o.line, machine, tag)
        : o.protocol === "modbus"
          ? modbusTagAddress(index, tag)
          : o.protocol === "s7"
            ? s7TagAddress(index, tag)
            : o.protocol === "enip"
              ? enipTagAddress(machine, tag)
              : metricAddress(o.group ?? "Plant1", o.edge ?? o.line, machine, tag);
    const source = machineSource(o.line, machine);
    const counterParams: Record<string, unknown> = {
      order_address: at("CurrentOrder"),
      operation_address: at("Operation"),
      window_ms: o.windowMs ?? 0,
    };
    if (o.wrapAt) counterParams.wrap_at = o.wrapAt;
    const base = { protocol: o.protocol, source };
    rules.push(
      {
        ...base,
        id: id++,
        kind: "counter",
        address: at("GoodCount"),
        event_type: "production.reported",
        params: counterParams,
      },
      {
        ...base,
        id: id++,
        kind: "counter",
        address: at("ScrapCount"),
        event_type: "scrap.reported",
        params: counterParams,
      },
      {
        ...base,
        id: id++,
        kind: "state",
        address: at("State"),
        event_type: "",
        params: { value_map: STATE_VALUE_MAP, reason_address: at("ReasonCode"), order_address: at("CurrentOrder") },
      },
      {
        ...base,
        id: id++,
        kind: "trigger",
        address: at("Started"),
        event_type: "workorder.started",
        params: { fields: { order: at("CurrentOrder"), operation: at("Operation") } },
      },
      {
        ...base,
        id: id++,
        kind: "trigger",
        address: at("Completed"),
        event_type: "workorder.completed",
        params: {
          fields: {
            order: at("CurrentOrder"),
            operation: at("Operation"),
            qty_good: at("GoodCount"),
            qty_scrap: at("ScrapCount"),
          },
        },
      },
    );
  }
  return rules;
}

/** The `shopfloor.mapping.rule` values an admin would save for `rule` on the connection. */
export function ruleRecord(rule: MappingRule, connectionId: number): Record<string, unknown> {
  return {
    connection_id: connectionId,
    kind: rule.kind,
    protocol: rule.protocol,
    address: rule.address,
    source: rule.source,
    event_type: rule.event_type || false,
    params_json: JSON.stringify(rule.params),
  };
}
