// `counter` rule: a monotonically increasing tag (good parts, scrap parts)
// becomes production.reported / scrap.reported deltas. Handles the counter
// being reset to zero and wrapping at `wrap_at`, and aggregates deltas into
// windows of `window_ms` (0 = one event per change). This is the sidecar's
// one implementation of counter deltas and windows (an epoch-aligned
// aggregator once in core/ was never wired in and is gone): a window opens
// with its first delta on the sidecar's clock, closes early when the order
// changes, and its baseline is persisted with the events it produced.
//
// Persisted: `baseline`, the counter value up to which every part has been
// emitted. After a restart the first value read is compared with it, so
// parts counted while the sidecar was down are reported once, and a value
// already reported is not reported again.
import type { CloudEvent, MappingRule } from "../core/contract.ts";
import {
  asNumber,
  asText,
  derivedEvent,
  numberParam,
  type Observation,
  type RuleContext,
  snapshotValue,
  stringParam,
} from "./types.ts";

export interface CounterPersisted {
  kind: "counter";
  baseline: number | null;
}

export interface CounterRuntime {
  baseline: number | null;
  current: number | null;
  /** Parts counted since `baseline` and not yet emitted. */
  pending: number;
  /** receivedAt (ms) of the first pending delta: windows follow the sidecar's clock, not the drifting source's. */
  windowOpenedAt: number | null;
  lastObservation: Observation | null;
}

export function counterRuntime(persisted: unknown): CounterRuntime {
  const baseline =
    persisted && typeof persisted === "object" && typeof (persisted as CounterPersisted).baseline === "number"
      ? (persisted as CounterPersisted).baseline
      : null;
  return { baseline, current: baseline, pending: 0, windowOpenedAt: null, lastObservation: null };
}

export function counterPersisted(rt: CounterRuntime): CounterPersisted {
  return { kind: "counter", baseline: rt.baseline };
}

export interface CounterStep {
  events: CloudEvent[];
  /** The persisted part changed: commit it with the events. */
  changed: boolean;
  invalid?: string;
}

/** How far the counter moved from `from` to `to`, and whether that was a reset. */
export function counterDelta(from: number, to: number, wrapAt: number | undefined): { delta: number; reset: boolean } {
  if (to >= from) return { delta: to - from, reset: false };
  // A wrap goes from near the top to near zero; anything else that goes down is a reset.
  if (wrapAt !== undefined && from >= wrapAt / 2 && to < wrapAt / 2) return { delta: wrapAt - from + to, reset: false };
  return { delta: to, reset: true };
}

export function counterObserve(rule: MappingRule, ctx: RuleContext, rt: CounterRuntime, obs: Observation): CounterStep {
  const value = asNumber(obs.value);
  if (value === undefined || value < 0 || !Number.isInteger(value)) {
    return {
      events: [],
      changed: false,
      invalid: `counter ${rule.address}: not a non-negative integer: ${String(obs.value)}`,
    };
  }
  const wrapAt = numberParam(rule, "wrap_at");
  if (wrapAt !== undefined && value >= wrapAt) {
    return { events: [], changed: false, invalid: `counter ${rule.address}: ${value} is not below wrap_at ${wrapAt}` };
  }
  if (rt.current === null) {
    // First value ever seen: it is the baseline, parts counted before are not ours to report.
    rt.baseline = value;
    rt.current = value;
    return { events: [], changed: true };
  }
  const events: CloudEvent[] = [];
  let changed = false;
  const { delta, reset } = counterDelta(rt.current, value, wrapAt);
  if (reset) {
    // Report what was counted before the reset, then count from zero.
    if (rt.pending > 0) events.push(emit(rule, ctx, rt));
    rt.baseline = 0;
    rt.current = 0;
    changed = true;
  }
  rt.current = value;
  if (delta > 0) {
    rt.pending += delta;
    rt.lastObservation = obs;
    rt.windowOpenedAt ??= obs.receivedAt.getTime();
  } else if (rt.pending === 0 && rt.baseline !== value) {
    rt.baseline = value;
    changed = true;
  }
  const windowMs = numberParam(rule, "window_ms") ?? 0;
  if (rt.pending > 0 && (windowMs <= 0 || obs.receivedAt.getTime() - (rt.windowOpenedAt ?? 0) >= windowMs)) {
    events.push(emit(rule, ctx, rt));
    changed = true;
  }
  return { events, changed };
}

/** Closes the window now: the order it counts for is about to change. */
export function counterClose(rule: MappingRule, ctx: RuleContext, rt: CounterRuntime): CounterStep {
  return rt.pending > 0 ? { events: [emit(rule, ctx, rt)], changed: true } : { events: [], changed: false };
}

/** Closes a window that no further change will close. */
export function counterFlush(rule: MappingRule, ctx: RuleContext, rt: CounterRuntime, now: Date): CounterStep {
  const windowMs = numberParam(rule, "window_ms") ?? 0;
  if (rt.pending > 0 && rt.windowOpenedAt !== null && now.getTime() - rt.windowOpenedAt >= windowMs) {
    return { events: [emit(rule, ctx, rt)], changed: true };
  }
  return { events: [], changed: false };
}

function emit(rule: MappingRule, ctx: RuleContext, rt: CounterRuntime): CloudEvent {
  const obs = rt.lastObservation as Observation;
  const qty = rt.pending;
  const order = asText(snapshotValue(ctx, rule.params.order_address)) ?? stringParam(rule, "order");
  const operation = asText(snapshotValue(ctx, rule.params.operation_address)) ?? stringParam(rule, "operation");
  const data: Record<string, unknown> = {};
  if (order !== undefined) data.order = order;
  if (operation !== undefined) data.operation = operation;
  const uom = stringParam(rule, "uom");
  if (uom) data.uom = uom;
  if (rule.event_type === "scrap.reported") {
    data.qty = qty;
    const reason = asText(snapshotValue(ctx, rule.params.reason_address)) ?? stringParam(rule, "reason_code");
    if (reason !== undefined) data.reason_code = reason;
    const material = stringParam(rule, "material");
    if (material) data.material = material;
  } else {
    data.qty_good = qty;
  }
  const event = derivedEvent(
    rule,
    ctx,
    rule.event_type === "scrap.reported" ? "scrap.reported" : "production.reported",
    obs,
    data,
  );
  rt.baseline = rt.current;
  rt.pending = 0;
  rt.windowOpenedAt = null;
  return event;
}
