// The last hours of a realistic shift on one line, as the machines lived
// them: orders flow through the routing's operations, each machine sets up,
// makes parts at cycle times near the routing's standard, stops now and then
// (a jam, a material shortage, a breakdown); an order scraps 1–3 % of what it
// makes, on one operation or another.
// `planShift` is pure and deterministic for a seed; the drivers below send the
// plan through a real transport with each action's past time, so Odoo books
// the backfill exactly as it would have booked it live.

import { type Line, MACHINE_STATE } from "../simulator/line.ts";
import type { CloudEvent, EventType } from "../src/core/contract.ts";

export interface RoutingOperation {
  machine: string;
  operation: string;
  /** Standard minutes per unit (the routing's `time_cycle_manual`). */
  cycleMin: number;
  /** Standard setup minutes (the work center's `time_start`); a few minutes when it has none. */
  setupMin: number;
}

export interface LinePlanInput {
  line: string;
  /** In routing order: an order reaches operation n+1 once operation n completed it. */
  routing: RoutingOperation[];
  start: Date;
  end: Date;
  seed: number;
}

export type ShiftAction =
  | { kind: "start"; at: number; machine: string; order: number; operation: string }
  | { kind: "state"; at: number; machine: string; state: "setup" | "running" | "down" | "idle"; reason?: string }
  | { kind: "count"; at: number; machine: string; good: number; scrap: number }
  | { kind: "complete"; at: number; machine: string; order: number; operation: string; good: number; scrap: number };

export interface LinePlan {
  line: string;
  /** Quantity of each order the plan runs (index = order number). */
  orders: number[];
  /** Every action of the line, by time. */
  actions: ShiftAction[];
}

/** Stops a machine can have; minutes drawn uniformly in [min, max]. */
export const STOP_REASONS = [
  { reason: "JAM", min: 2, max: 7 },
  { reason: "MATERIAL", min: 4, max: 10 },
  { reason: "BREAKDOWN", min: 10, max: 20 },
] as const;

/** A stop's share of an operation's standard run time is capped, as a line that lost more would be re-planned. */
const MAX_STOP_SHARE = 0.25;
/** Parts between two counter reports (a MES reports in windows, a PLC counter is read every few minutes). */
const REPORT_EVERY_MIN = 10;
const MINUTE = 60_000;

/** mulberry32: a small seeded PRNG, so a seed gives the same shift everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashText(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Scrap parts for `good` good ones: between 1 % and 3 % of all parts made, at least one. */
export function scrapFor(good: number, random: () => number): number {
  // scrap / (good + scrap) in [1 %, 3 %] ⇔ scrap in [good/99, 3·good/97].
  const low = Math.max(1, Math.ceil(good / 99));
  const high = Math.max(low, Math.floor((3 * good) / 97));
  return low + Math.floor(random() * (high - low + 1));
}

export function planShift(input: LinePlanInput): LinePlan {
  const random = seededRandom(input.seed ^ hashText(input.line));
  const between = (low: number, high: number) => low + random() * (high - low);
  const start = input.start.getTime();
  const end = input.end.getTime();
  const actions: ShiftAction[] = [];
  const orders: number[] = [];
  // When each machine is free, and when the previous operation finished each order.
  const free = input.routing.map((_, i) => start + i * MINUTE);
  let breakdownLeft = 1;
  for (let order = 0; ; order++) {
    const qty = 5 * Math.round(between(8, 16));
    // The order's scrap, 1–3 % of what it makes, falls on one operation or another.
    const scrapByStep = input.routing.map(() => 0);
    for (let left = scrapFor(qty, random); left > 0; left--) {
      const step = Math.floor(random() * input.routing.length);
      scrapByStep[step] = (scrapByStep[step] as number) + 1;
    }
    let ready = start;
    let done = 0;
    for (const [step, op] of input.routing.entries()) {
      const planned: ShiftAction[] = [];
      let at = Math.max(free[step] as number, ready) + Math.round(between(0.5, 3) * MINUTE);
      planned.push({ kind: "start", at, machine: op.machine, order, operation: op.operation });
      at += 2_000;
      planned.push({ kind: "state", at, machine: op.machine, state: "setup" });
      at += Math.round(op.setupMin * between(0.85, 1.2) * MINUTE);
      planned.push({ kind: "state", at, machine: op.machine, state: "running" });
      const scrap = scrapByStep[step] as number;
      const total = qty + scrap;
      // Which parts are scrap: spread over the run.
      const scrapAt = new Set<number>();
      while (scrapAt.size < scrap) scrapAt.add(1 + Math.floor(random() * total));
      // At most one stop an order, at a random part; breakdowns are rare.
      const stopAt = random() < 0.6 ? 1 + Math.floor(random() * (total - 1)) : 0;
      const stopKind: (typeof STOP_REASONS)[number] =
        breakdownLeft > 0 && random() < 0.4 ? STOP_REASONS[2] : random() < 0.5 ? STOP_REASONS[0] : STOP_REASONS[1];
      let good = 0;
      let scrapped = 0;
      let pendingGood = 0;
      let pendingScrap = 0;
      let lastReport = at;
      const report = () => {
        if (pendingGood + pendingScrap === 0) return;
        planned.push({ kind: "count", at, machine: op.machine, good: pendingGood, scrap: pendingScrap });
        pendingGood = 0;
        pendingScrap = 0;
        lastReport = at;
      };
      for (let part = 1; part <= total; part++) {
        // Near the standard: a little slower on average, never much faster.
        at += Math.round(op.cycleMin * MINUTE * (1.03 + between(-0.05, 0.09)));
        if (scrapAt.has(part)) {
          scrapped++;
          pendingScrap++;
        } else {
          good++;
          pendingGood++;
        }
        if (part === stopAt) {
          report();
          at += 1_000;
          planned.push({ kind: "state", at, machine: op.machine, state: "down", reason: stopKind.reason });
          const cap = MAX_STOP_SHARE * qty * op.cycleMin;
          at += Math.round(Math.min(between(stopKind.min, stopKind.max), cap) * MINUTE);
          planned.push({ kind: "state", at, machine: op.machine, state: "running" });
          if (stopKind.reason === "BREAKDOWN") breakdownLeft--;
        } else if (at - lastReport >= REPORT_EVERY_MIN * MINUTE) {
          report();
        }
      }
      report();
      at += Math.round(between(10, 40) * 1_000);
      planned.push({
        kind: "complete",
        at,
        machine: op.machine,
        order,
        operation: op.operation,
        good,
        scrap: scrapped,
      });
      at += 1_000;
      planned.push({ kind: "state", at, machine: op.machine, state: "idle" });
      // An operation the shift does not finish stays for the live run: nothing of it is booked.
      if (at > end) break;
      actions.push(...planned);
      free[step] = at;
      ready = at;
      done++;
    }
    if (done === 0) break;
    orders.push(qty);
  }
  actions.sort((a, b) => a.at - b.at);
  return { line: input.line, orders, actions };
}

/**
 * The plan as the CloudEvents an MES would publish (MQTT line): one event per
 * action, with the action's time and a stable id per run.
 */
export function planEvents(
  plan: LinePlan,
  opts: { orderNames: string[]; source: (machine: string) => string; runId: string },
): CloudEvent[] {
  const events: CloudEvent[] = [];
  const current = new Map<string, { order: string; operation: string }>();
  const open = new Map<string, { state: string; reason?: string }>();
  const push = (at: number, machine: string, type: EventType, data: Record<string, unknown>) => {
    const event: CloudEvent = {
      specversion: "1.0",
      id: `backfill-${opts.runId}-${plan.line}-${events.length}`,
      source: opts.source(machine),
      type,
      time: new Date(at).toISOString(),
      datacontenttype: "application/json",
      data,
    };
    if (typeof data.order === "string") event.subject = data.order;
    events.push(event);
  };
  for (const action of plan.actions) {
    const work = current.get(action.machine);
    if (action.kind === "start") {
      const order = opts.orderNames[action.order] as string;
      current.set(action.machine, { order, operation: action.operation });
      push(action.at, action.machine, "workorder.started", { order, operation: action.operation });
    } else if (action.kind === "state" && work) {
      const previous = open.get(action.machine);
      if (previous?.state === "down") {
        push(action.at, action.machine, "downtime.ended", { reason_code: previous.reason, order: work.order });
      } else if (previous?.state === "setup") {
        push(action.at, action.machine, "setup.ended", { order: work.order });
      }
      if (action.state === "down") {
        push(action.at, action.machine, "downtime.started", { reason_code: action.reason, order: work.order });
      } else if (action.state === "setup") {
        push(action.at, action.machine, "setup.started", { order: work.order });
      } else if (action.state === "running" && previous && previous.state !== "idle") {
        push(action.at, action.machine, "workorder.resumed", { order: work.order, operation: work.operation });
      }
      open.set(action.machine, { state: action.state, reason: action.reason });
    } else if (action.kind === "count" && work) {
      if (action.good > 0) {
        push(action.at, action.machine, "production.reported", {
          order: work.order,
          operation: work.operation,
          qty_good: action.good,
        });
      }
      if (action.scrap > 0) push(action.at, action.machine, "scrap.reported", { order: work.order, qty: action.scrap });
    } else if (action.kind === "complete" && work) {
      // The scrap went as scrap.reported (a stock.scrap each); counted again here it would be twice in the cost report.
      push(action.at, action.machine, "workorder.completed", {
        order: work.order,
        operation: work.operation,
        qty_good: action.good,
      });
    }
  }
  return events;
}

/**
 * Plays the plan on the simulated line's tags, stamped with the actions'
 * past times (the line clock is moved to each action's time), so its OPC UA
 * server or Sparkplug edge node publishes the history as the machines would
 * have. `pauseMs` between actions lets the sidecar's subscription keep up.
 */
export async function playOnLine(
  plan: LinePlan,
  line: Line,
  opts: { orderNames: string[]; pauseMs: number },
): Promise<void> {
  for (const action of plan.actions) {
    line.clock.travelTo(action.at);
    const tags = line.tags(action.machine);
    if (action.kind === "start") {
      line.set(action.machine, "CurrentOrder", opts.orderNames[action.order] as string);
      line.set(action.machine, "Operation", action.operation);
      if (tags.GoodCount !== 0) line.set(action.machine, "GoodCount", 0);
      if (tags.ScrapCount !== 0) line.set(action.machine, "ScrapCount", 0);
      line.set(action.machine, "Completed", false);
      line.set(action.machine, "Started", true);
    } else if (action.kind === "state") {
      if (action.state === "down") line.set(action.machine, "ReasonCode", action.reason ?? "");
      line.set(action.machine, "State", MACHINE_STATE[action.state]);
      if (action.state !== "down" && tags.ReasonCode !== "") line.set(action.machine, "ReasonCode", "");
    } else if (action.kind === "count") {
      if (action.good > 0) line.set(action.machine, "GoodCount", tags.GoodCount + action.good);
      if (action.scrap > 0) line.set(action.machine, "ScrapCount", tags.ScrapCount + action.scrap);
    } else {
      line.set(action.machine, "Completed", true);
      line.set(action.machine, "Started", false);
    }
    await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
  line.clock.driftMs = 0;
}
