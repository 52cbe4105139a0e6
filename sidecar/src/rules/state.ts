// `state` rule: a machine-state tag mapped through `value_map` to running,
// idle, down, setup or teardown. Entering `down` opens a downtime
// (downtime.started with the reason code read from `reason_address` at that
// moment), leaving it closes the same downtime; setup and teardown likewise
// open and close their time logs. Going back to running from down or setup
// with an order known also emits workorder.resumed, because the downtime or
// setup ended the order's productive log and only a resume reopens it (Odoo
// picks the order's work order on the machine's work center; a resume of a
// log already open changes nothing). The open state is persisted, so a
// restart that finds the machine still down emits nothing new.
import type { CloudEvent, EventType, MappingRule } from "../core/contract.ts";
import {
  asText,
  derivedEvent,
  derivedEventId,
  type Observation,
  type RuleContext,
  snapshotValue,
  stringParam,
} from "./types.ts";

export const MACHINE_STATES = ["running", "idle", "down", "setup", "teardown"] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export interface StatePersisted {
  kind: "state";
  state: MachineState | null;
  since: string | null;
  /** Raw tag value last seen (for the log and the ledger). */
  value: unknown;
  downtime_id: string | null;
  reason_code: string | null;
  order: string | null;
}

export function stateRuntime(persisted: unknown): StatePersisted {
  const p = persisted as Partial<StatePersisted> | undefined;
  return {
    kind: "state",
    state: p && MACHINE_STATES.includes(p.state as MachineState) ? (p.state as MachineState) : null,
    since: p?.since ?? null,
    value: p?.value ?? null,
    downtime_id: p?.downtime_id ?? null,
    reason_code: p?.reason_code ?? null,
    order: p?.order ?? null,
  };
}

/**
 * `value_map` maps a tag value (as text) to a state; `down:CODE` fixes the
 * reason for that value (e.g. a PLC state "starved" is always MATERIAL).
 */
export function mapStateValue(rule: MappingRule, value: unknown): { state: MachineState; reason?: string } | undefined {
  const map = rule.params.value_map;
  const key = asText(value);
  if (!map || typeof map !== "object" || key === undefined) return undefined;
  const target = (map as Record<string, unknown>)[key];
  if (typeof target !== "string") return undefined;
  const [state, reason] = target.split(":", 2) as [string, string | undefined];
  if (!MACHINE_STATES.includes(state as MachineState)) return undefined;
  return reason ? { state: state as MachineState, reason } : { state: state as MachineState };
}

export function stateObserve(
  rule: MappingRule,
  ctx: RuleContext,
  st: StatePersisted,
  obs: Observation,
): { events: CloudEvent[]; changed: boolean; invalid?: string } {
  const mapped = mapStateValue(rule, obs.value);
  if (!mapped) {
    return {
      events: [],
      changed: false,
      invalid: `state ${rule.address}: value ${String(obs.value)} is not in value_map`,
    };
  }
  if (mapped.state === st.state) {
    const changed = st.value !== obs.value;
    st.value = obs.value;
    return { events: [], changed };
  }
  const events: CloudEvent[] = [];
  const order = asText(snapshotValue(ctx, rule.params.order_address)) ?? stringParam(rule, "order");
  // Leaving the old state closes what it opened, at the time the new state began.
  if (st.state === "down") {
    const data: Record<string, unknown> = { reason_code: st.reason_code ?? defaultReason(rule) };
    if (st.downtime_id) data.downtime_id = st.downtime_id;
    if (st.order) data.order = st.order;
    events.push(derivedEvent(rule, ctx, "downtime.ended", obs, data));
  } else if (st.state === "setup" || st.state === "teardown") {
    events.push(derivedEvent(rule, ctx, `${st.state}.ended` as EventType, obs, st.order ? { order: st.order } : {}));
  }
  const resumes =
    mapped.state === "running" &&
    (st.state === "down" || st.state === "setup") &&
    rule.params.resume_on_running !== false;
  st.state = mapped.state;
  st.since = obs.sourceTime.toISOString();
  st.value = obs.value;
  st.order = order ?? null;
  st.downtime_id = null;
  st.reason_code = null;
  if (mapped.state === "down") {
    const reason = mapped.reason ?? asText(snapshotValue(ctx, rule.params.reason_address)) ?? defaultReason(rule);
    st.reason_code = reason;
    st.downtime_id = derivedEventId(ctx.connection, rule.address, obs.sourceTime, obs.value, "downtime.started");
    const data: Record<string, unknown> = { reason_code: reason, downtime_id: st.downtime_id };
    if (order) data.order = order;
    events.push(derivedEvent(rule, ctx, "downtime.started", obs, data));
  } else if (mapped.state === "setup" || mapped.state === "teardown") {
    events.push(derivedEvent(rule, ctx, `${mapped.state}.started` as EventType, obs, order ? { order } : {}));
  } else if (resumes && order) {
    events.push(derivedEvent(rule, ctx, "workorder.resumed", obs, { order }));
  }
  return { events, changed: true };
}

function defaultReason(rule: MappingRule): string {
  return stringParam(rule, "default_reason") ?? "UNKNOWN";
}
