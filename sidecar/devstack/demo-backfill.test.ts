import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Line, MACHINE_STATE } from "../simulator/line.ts";
import { type LinePlanInput, planEvents, planShift, playOnLine, scrapFor, seededRandom } from "./demo-backfill.ts";

// A minute ago, to the minute: the plan ends in the past, as a backfill does.
const END = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
const routing = [
  { machine: "press-01", operation: "Stamping", cycleMin: 0.5, setupMin: 10 },
  { machine: "assembly-01", operation: "Assembly", cycleMin: 1.0, setupMin: 5 },
];
const input = (seed: number, cycles = [0.5, 1.0]): LinePlanInput => ({
  line: "line1",
  routing: routing.map((op, i) => ({ ...op, cycleMin: cycles[i] as number })),
  start: new Date(END - 8 * 3_600_000),
  end: new Date(END),
  seed,
});

describe("planShift: an 8-hour shift as a real line makes it", () => {
  it("is the same shift for the same seed, another for another seed", () => {
    expect(planShift(input(7))).toEqual(planShift(input(7)));
    expect(planShift(input(8)).actions).not.toEqual(planShift(input(7)).actions);
  });

  it("for any seed and routing: in the window, in order per machine, time within ±50 % of standard, scrap 1–3 % an order", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.double({ min: 0.3, max: 2, noNaN: true }),
        fc.double({ min: 0.3, max: 2, noNaN: true }),
        (seed, press, assembly) => {
          const plan = planShift(input(seed, [press, assembly]));
          const start = END - 8 * 3_600_000;
          for (const action of plan.actions) {
            expect(action.at).toBeGreaterThanOrEqual(start);
            expect(action.at).toBeLessThanOrEqual(END);
          }
          expect(plan.actions.map((a) => a.at)).toEqual([...plan.actions.map((a) => a.at)].sort((a, b) => a - b));
          for (const [index, op] of routing.entries()) {
            const own = plan.actions.filter((a) => a.machine === op.machine);
            const cycle = index === 0 ? press : assembly;
            let began = 0;
            let completions = 0;
            for (const action of own) {
              if (action.kind === "start") began = action.at;
              if (action.kind !== "complete") continue;
              completions++;
              expect(action.good).toBe(plan.orders[action.order]);
              const standard = op.setupMin + action.good * cycle;
              const actual = (action.at - began) / 60_000;
              expect(Math.abs(actual - standard) / standard).toBeLessThan(0.5);
            }
            expect(completions).toBeGreaterThan(0);
          }
          // Each order that went through the whole routing scrapped 1–3 % of what it made.
          const completes = plan.actions.flatMap((a) => (a.kind === "complete" ? [a] : []));
          for (const [order, qty] of plan.orders.entries()) {
            const own = completes.filter((a) => a.order === order);
            if (own.length < routing.length) continue;
            const scrap = own.reduce((t, a) => t + a.scrap, 0);
            expect(scrap / (qty + scrap)).toBeGreaterThanOrEqual(0.01);
            expect(scrap / (qty + scrap)).toBeLessThanOrEqual(0.03);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("has setups, stops with reasons and at most one breakdown a line", () => {
    const plan = planShift(input(20261202));
    const states = plan.actions.flatMap((a) => (a.kind === "state" ? [a] : []));
    expect(states.some((s) => s.state === "setup")).toBe(true);
    const reasons = states.filter((s) => s.state === "down").map((s) => s.reason);
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    expect(reasons.every((r) => r === "JAM" || r === "MATERIAL" || r === "BREAKDOWN")).toBe(true);
    expect(reasons.filter((r) => r === "BREAKDOWN").length).toBeLessThanOrEqual(1);
  });

  it("scrapFor keeps every quantity's scrap between 1 % and 3 % of the parts made", () => {
    fc.assert(
      fc.property(fc.integer({ min: 34, max: 100_000 }), fc.integer(), (good, seed) => {
        const scrap = scrapFor(good, seededRandom(seed));
        const share = scrap / (good + scrap);
        expect(share).toBeGreaterThanOrEqual(0.01);
        expect(share).toBeLessThanOrEqual(0.03);
      }),
    );
  });
});

describe("the plan through each transport", () => {
  const plan = planShift(input(42));
  const orderNames = plan.orders.map((_, i) => `WH/MO/${String(100 + i).padStart(5, "0")}`);

  it("as CloudEvents: past times, and every setup or stop end is followed by workorder.resumed", () => {
    const events = planEvents(plan, { orderNames, source: (m) => `plant1/line1/${m}`, runId: "t" });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.every((e) => Date.parse(e.time as string) <= END)).toBe(true);
    for (const machine of ["press-01", "assembly-01"]) {
      const own = events.filter((e) => e.source === `plant1/line1/${machine}`);
      own.forEach((event, i) => {
        if (event.type === "setup.ended" || event.type === "downtime.ended") {
          expect(own[i + 1]).toMatchObject({ type: "workorder.resumed", time: event.time });
        }
      });
      const good = own.filter((e) => e.type === "production.reported").reduce((t, e) => t + Number(e.data.qty_good), 0);
      const completed = own
        .filter((e) => e.type === "workorder.completed")
        .reduce((t, e) => t + Number(e.data.qty_good), 0);
      expect(good).toBe(completed);
    }
  });

  it("on the line's tags: each change carries its action's past time, and the clock comes back to now", async () => {
    const line = new Line("line1", ["press-01", "assembly-01"]);
    const changes: { tag: string; time: Date }[] = [];
    line.onChange((c) => changes.push(c));
    await playOnLine(plan, line, { orderNames, pauseMs: 0 });
    expect(changes.length).toBeGreaterThan(plan.actions.length);
    expect(changes[0]?.time.getTime()).toBeLessThan(END - 7 * 3_600_000);
    expect(line.tags("press-01")).toMatchObject({ State: MACHINE_STATE.idle, Started: false, Completed: true });
    expect(Math.abs(line.clock.now().getTime() - Date.now())).toBeLessThan(1_000);
  });
});
