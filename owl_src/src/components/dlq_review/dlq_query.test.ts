import { expect, test } from "vitest";
import {
  applyDraft,
  cursorAfterRemoval,
  dlqDomain,
  draftFromFilters,
  emptyFilters,
  filtersFromContext,
  nextOffset,
  pageLabel,
  previousOffset,
  sameErrorDomain,
} from "./dlq_query.ts";
import { commandFor } from "./keymap.ts";

test("no filter means every failed, dead and rejected event", () => {
  expect(dlqDomain(emptyFilters())).toEqual([["state", "in", ["failed", "dead", "rejected"]]]);
});

test("each filter adds its leaf; search spans id, source, subject and error", () => {
  const domain = dlqDomain({
    ...emptyFilters(),
    states: ["rejected"],
    connectionId: 3,
    eventType: "workorder.completed",
    errorClass: "UnknownOrder",
    workcenterId: 7,
    timeFrom: "2026-11-22 06:00:00",
    timeTo: "2026-11-22 14:00:00",
    search: " press-03 ",
  });
  expect(domain).toEqual([
    ["state", "in", ["rejected"]],
    ["connection_id", "=", 3],
    ["type", "=", "workorder.completed"],
    ["error_class", "=", "UnknownOrder"],
    ["workcenter_id", "=", 7],
    ["time", ">=", "2026-11-22 06:00:00"],
    ["time", "<=", "2026-11-22 14:00:00"],
    "|",
    "|",
    "|",
    ["event_uid", "ilike", "press-03"],
    ["source", "ilike", "press-03"],
    ["subject", "ilike", "press-03"],
    ["error_message", "ilike", "press-03"],
  ]);
  expect(sameErrorDomain({ ...emptyFilters(), errorClass: "Other" }, "UnknownOrder")).toContainEqual([
    "error_class",
    "=",
    "UnknownOrder",
  ]);
});

test("paging stays inside the total", () => {
  const p = { offset: 99_950, limit: 50, total: 100_000 };
  const count = (n: number) => n.toLocaleString("en-US");
  expect(pageLabel(p, count)).toBe("99,951–100,000 / 100,000");
  expect(nextOffset(p)).toBe(99_950);
  expect(nextOffset({ ...p, offset: 0 })).toBe(50);
  expect(previousOffset({ ...p, offset: 20 })).toBe(0);
  expect(pageLabel({ offset: 0, limit: 50, total: 0 }, count)).toBe("0");
  expect(cursorAfterRemoval(9, 9)).toBe(8);
  expect(cursorAfterRemoval(3, 0)).toBe(-1);
  expect(cursorAfterRemoval(-1, 5)).toBe(-1);
});

test("j/k/r/d are commands except while typing in a field", () => {
  // Keys as Odoo's hotkey service names them (getActiveHotkey).
  expect(commandFor("j")).toBe("next");
  expect(commandFor("k")).toBe("previous");
  expect(commandFor("r")).toBe("retry");
  expect(commandFor("d")).toBe("discard");
  expect(commandFor("control+r")).toBeUndefined();
  expect(commandFor("j", { tagName: "textarea" })).toBeUndefined();
  expect(commandFor("arrowdown", { tagName: "SELECT" })).toBeUndefined();
  expect(commandFor("x", { tagName: "INPUT", type: "checkbox" })).toBe("toggleSelect");
  expect(commandFor("escape", { tagName: "INPUT" })).toBe("close");
  expect(commandFor("q")).toBeUndefined();
});

test("a link's context sets the filters; the applied draft replaces them, times in UTC", () => {
  const linked = filtersFromContext({ sfb_connection_id: 9, sfb_error_class: "UnknownOrder" });
  expect(linked).toMatchObject({ connectionId: 9, errorClass: "UnknownOrder", states: ["failed", "dead", "rejected"] });
  expect(filtersFromContext({})).toEqual(emptyFilters());
  const draft = { ...draftFromFilters(linked), connectionId: 0, workcenterId: 7, timeFrom: "2026-11-22T08:00" };
  expect(draftFromFilters(linked)).toMatchObject({ connectionId: 9, errorClass: "UnknownOrder", workcenterId: 0 });
  const applied = applyDraft({ ...linked, states: ["dead"] }, draft);
  expect(applied).toMatchObject({ states: ["dead"], connectionId: null, workcenterId: 7, errorClass: "UnknownOrder" });
  expect(applied.timeFrom).toBe(new Date("2026-11-22T08:00").toISOString().slice(0, 19).replace("T", " "));
  expect(applyDraft(linked, { ...draft, timeFrom: "not a date" }).timeFrom).toBe("");
});
