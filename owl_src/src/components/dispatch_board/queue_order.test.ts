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
