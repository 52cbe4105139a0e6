import fc from "fast-check";
import { expect, test } from "vitest";
import { compareCards, planDrop, type QueueCard } from "./queue_order.ts";

const column: QueueCard[] = [
  { id: 1, priority: "1", dateStart: "2026-11-22 08:00:00" },
  { id: 2, priority: "0", dateStart: "2026-11-22 09:00:00" },
  { id: 3, priority: "0", dateStart: "2026-11-22 10:00:00" },
  { id: 4, priority: "0", dateStart: "2026-11-22 11:00:00" },
];

function sortedAfter(plan: NonNullable<ReturnType<typeof planDrop>>): number[] {
  return column
    .map((c) => (c.id === plan.id ? { ...c, priority: plan.priority, dateStart: plan.dateStart } : c))
    .sort(compareCards)
    .map((c) => c.id);
}

test("dropping on top stars the order and Odoo's sort agrees with the board", () => {
  const plan = planDrop(column, 4, 0);
  expect(plan).toMatchObject({ id: 4, priority: "1", order: [4, 1, 2, 3] });
  expect(sortedAfter(plan as NonNullable<typeof plan>)).toEqual([4, 1, 2, 3]);
});

test("dropping between two normal orders sets a planned start between theirs", () => {
  const plan = planDrop(column, 4, 2);
  expect(plan).toMatchObject({ priority: "0", dateStart: "2026-11-22 09:30:00", order: [1, 2, 4, 3] });
  expect(sortedAfter(plan as NonNullable<typeof plan>)).toEqual([1, 2, 4, 3]);
});

test("dropping a starred order to the end unstars it", () => {
  const plan = planDrop(column, 1, 3);
  expect(plan).toMatchObject({ priority: "0", dateStart: "2026-11-22 11:01:00", order: [2, 3, 4, 1] });
  expect(sortedAfter(plan as NonNullable<typeof plan>)).toEqual([2, 3, 4, 1]);
});

test("a drop on its own place or an unknown card is no move", () => {
  expect(planDrop(column, 2, 1)).toBeUndefined();
  expect(planDrop(column, 99, 0)).toBeUndefined();
});

test("running work stays first: a drop on top lands right after it, a running card does not move", () => {
  const withRunning: QueueCard[] = [
    { id: 9, priority: "0", dateStart: "2026-11-22 07:00:00", running: true },
    ...column,
  ];
  const plan = planDrop(withRunning, 3, 0);
  expect(plan).toMatchObject({ priority: "1", order: [9, 3, 1, 2, 4] });
  expect(planDrop(withRunning, 9, 3)).toBeUndefined();
});

// ---------------------------------------------------------------- properties

/** The column as Odoo sorts it once the plan's writes are done. */
function applied(col: readonly QueueCard[], plan: NonNullable<ReturnType<typeof planDrop>>): number[] {
  const shifted = new Map(plan.shifts.map((s) => [s.id, s.dateStart]));
  return col
    .map((c) => {
      if (c.id === plan.id) return { ...c, priority: plan.priority, dateStart: plan.dateStart };
      const start = shifted.get(c.id);
      return start === undefined ? c : { ...c, dateStart: start };
    })
    .sort(compareCards)
    .map((c) => c.id);
}

const starts = ["2026-11-22 08:00:00", "2026-11-22 08:00:01", "2026-11-22 08:00:02", "2026-11-22 09:00:00"];
const cardsArb = fc
  .uniqueArray(
    fc.record({
      id: fc.integer({ min: 1, max: 60 }),
      priority: fc.constantFrom("0", "1"),
      dateStart: fc.constantFrom<string | false>(...starts, false),
      running: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
      sequence: fc.constantFrom(10, 20),
      productionId: fc.integer({ min: 1, max: 4 }),
    }),
    { selector: (c) => c.id, minLength: 1, maxLength: 9 },
  )
  .map((cards): QueueCard[] => [...cards].sort(compareCards));

test("property: after any drop, Odoo's sort of the written starts reads as the board shows", () => {
  fc.assert(
    fc.property(cardsArb, fc.nat(), fc.nat({ max: 10 }), (col, pick, target) => {
      const dragged = col[pick % col.length] as QueueCard;
      const plan = planDrop(col, dragged.id, target, Date.parse("2026-11-22T12:00:00Z"));
      const rest = col.filter((c) => c.id !== dragged.id);
      const running = rest.filter((c) => c.running).length;
      const at = Math.max(running, Math.min(target, rest.length));
      if (!plan) {
        expect(dragged.running || at === col.findIndex((c) => c.id === dragged.id)).toBe(true);
        return;
      }
      const expected = rest.map((c) => c.id);
      expected.splice(at, 0, dragged.id);
      expect(plan.order).toEqual(expected);
      expect(applied(col, plan)).toEqual(plan.order);
      // Odoo's move never clears a planned start.
      if (dragged.dateStart) expect(plan.dateStart).not.toBe(false);
      // Only the moved card's class shifts, never running work, never the moved card itself.
      for (const s of plan.shifts) {
        const card = col.find((c) => c.id === s.id) as QueueCard;
        expect(card.running).toBeFalsy();
        expect(card.priority).toBe(plan.priority);
        expect(s.id).not.toBe(plan.id);
      }
    }),
    { numRuns: 3000 },
  );
});

test("two orders planned in the same second: moving the first down one place shifts the other", () => {
  // Counterexample of the board's first version: no start lies strictly between two equal
  // ones, so the moved card was written a second before both and stayed on top.
  const tied: QueueCard[] = [
    { id: 5, priority: "1", dateStart: "2026-11-22 08:00:00" },
    { id: 6, priority: "0", dateStart: "2026-11-22 08:00:00" },
    { id: 7, priority: "0", dateStart: "2026-11-22 08:00:00" },
    { id: 8, priority: "0", dateStart: "2026-11-22 08:00:00" },
  ];
  const plan = planDrop(tied, 5, 1);
  expect(plan).toMatchObject({ priority: "0", order: [6, 5, 7, 8] });
  expect(applied(tied, plan as NonNullable<typeof plan>)).toEqual([6, 5, 7, 8]);
  expect(plan?.shifts.map((s) => s.id)).toEqual([7, 8]);
});

test("a card dropped under one without a planned start gives that one a start", () => {
  const unplanned = (
    [
      { id: 1, priority: "0", dateStart: "2026-11-22 08:00:00" },
      { id: 2, priority: "0", dateStart: false },
      { id: 3, priority: "0", dateStart: "2026-11-22 07:00:00" },
    ] as QueueCard[]
  ).sort(compareCards);
  const plan = planDrop(unplanned, 3, 2);
  expect(plan?.order).toEqual([1, 2, 3]);
  expect(applied(unplanned, plan as NonNullable<typeof plan>)).toEqual([1, 2, 3]);
  expect(plan?.shifts).toEqual([{ id: 2, dateStart: "2026-11-22 08:01:00" }]);
  expect(plan?.dateStart).toBe("2026-11-22 08:02:00");
});

test("ties on the start sort as the floor queue does: sequence, then MO, then work order", () => {
  const tied: QueueCard[] = [
    { id: 1, priority: "0", dateStart: "2026-11-22 08:00:00", sequence: 20, productionId: 1 },
    { id: 2, priority: "0", dateStart: "2026-11-22 08:00:00", sequence: 10, productionId: 9 },
    { id: 3, priority: "0", dateStart: "2026-11-22 08:00:00", sequence: 10, productionId: 5 },
  ];
  expect([...tied].sort(compareCards).map((c) => c.id)).toEqual([3, 2, 1]);
});
