// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm } from "../../../test/support/fake_services.ts";
import { actionProps, mountComponent, settle } from "../../../test/support/helpers.ts";
import { type BoardData, type BoardWorkorder, DispatchBoard } from "./dispatch_board.ts";

const wo = (id: number, mo: string, priority: string, start: string | false, state = "ready"): BoardWorkorder => ({
  id,
  name: "Stamping",
  workcenter_id: [36, "L1 Press 01"],
  production_id: [id * 10, mo],
  product_id: [1, "Hinge"],
  qty_remaining: 250,
  product_uom_id: [1, "Units"],
  state,
  date_start: start,
  queue_start: start,
  sequence: 100,
  priority,
});

function board(acks: BoardData["acks"]): BoardData {
  return {
    workcenters: [
      { id: 36, display_name: "L1 Press 01" },
      { id: 37, display_name: "L1 Assembly 01" },
    ],
    workorders: [
      wo(2, "MO/2", "0", "2026-11-22 09:00:00"),
      wo(1, "MO/1", "0", "2026-11-22 08:00:00"),
      wo(3, "MO/3", "1", "2026-11-22 10:00:00"),
      wo(4, "MO/4", "0", "2026-11-22 07:00:00", "progress"),
    ],
    acks,
  };
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("one column per work center in floor-queue order, with the floor's ack state on each card", async () => {
  const orm = new FakeOrm(() =>
    board({ "36": { state: "acked", version: 12, error: "", date: "2026-11-22 08:00:00" } }),
  );
  const { fixture } = await mountComponent(DispatchBoard, orm, actionProps());
  const press = fixture.querySelector('.o_sfb_column[data-workcenter="L1 Press 01"]') as HTMLElement;
  expect([...press.querySelectorAll(".o_sfb_card")].map((c) => c.getAttribute("data-mo"))).toEqual([
    "MO/4",
    "MO/3",
    "MO/1",
    "MO/2",
  ]);
  expect(press.querySelector(".o_sfb_card .o_sfb_card_ack")?.textContent).toBe("acked v12");
  expect(press.querySelector(".o_sfb_card.o_sfb_running")?.getAttribute("draggable")).toBe("false");
  expect(fixture.querySelector('.o_sfb_column[data-workcenter="L1 Assembly 01"]')).toBeNull();
  (fixture.querySelector(".o_sfb_show_empty") as HTMLInputElement).click();
  await settle();
  const empty = fixture.querySelector('.o_sfb_column[data-workcenter="L1 Assembly 01"]');
  expect(empty?.textContent).toContain("Nothing queued.");
  expect(fixture.querySelector(".o_sfb_no_dispatch")).toBeNull();
});

test("↑ on the last card keeps its priority class and plans it just before the card it passed", async () => {
  const orm = new FakeOrm((_m, method) => (method === "board_data" ? board(false) : { id: 2 }));
  const { fixture, notifications } = await mountComponent(DispatchBoard, orm, actionProps());
  const last = [...fixture.querySelectorAll<HTMLElement>(".o_sfb_card")].find(
    (c) => c.getAttribute("data-mo") === "MO/2",
  );
  (last?.querySelector(".o_sfb_up") as HTMLButtonElement | null)?.click();
  expect(last).toBeDefined();
  await settle();
  expect(orm.callsTo("move_workorder").map((c) => c.args)).toEqual([[2, "0", "2026-11-22 07:59:00", []]]);
  expect(notifications.items[0]?.type).toBe("success");
  expect(orm.callsTo("board_data")).toHaveLength(2);
});

test("without the push-back part the board still plans and says nothing reaches the floor", async () => {
  const orm = new FakeOrm(() => board(false));
  const { fixture } = await mountComponent(DispatchBoard, orm, actionProps());
  expect(fixture.querySelector(".o_sfb_no_dispatch")?.textContent).toContain("not installed");
  expect(fixture.querySelector(".o_sfb_card_ack")?.textContent).toBe("not sent");
});

test("a refused move is shown as an error and nothing else changes", async () => {
  const orm = new FakeOrm((_m, method) => {
    if (method === "move_workorder")
      throw Object.assign(new Error("x"), { data: { message: "You are not a planner" } });
    return board(false);
  });
  const { fixture, notifications } = await mountComponent(DispatchBoard, orm, actionProps());
  (fixture.querySelectorAll<HTMLElement>(".o_sfb_card .o_sfb_down")[0] as HTMLButtonElement).click();
  await settle();
  expect(notifications.items).toEqual([{ message: "You are not a planner", type: "danger" }]);
});

test("a drop on the gap that opened above a card puts the order there, not at the end of the queue", async () => {
  const orm = new FakeOrm((_m, method) => (method === "board_data" ? board(false) : { id: 2 }));
  const { fixture } = await mountComponent(DispatchBoard, orm, actionProps());
  const press = fixture.querySelector('.o_sfb_column[data-workcenter="L1 Press 01"]') as HTMLElement;
  const card = (mo: string) => press.querySelector(`.o_sfb_card[data-mo="${mo}"]`) as HTMLElement;
  const fire = (el: Element, type: string) => el.dispatchEvent(new Event(type, { bubbles: true, cancelable: true }));
  fire(card("MO/2"), "dragstart");
  await settle();
  // Over MO/3 (after the running MO/4): the gap above it opens under the pointer …
  fire(card("MO/3"), "dragover");
  await settle();
  const gap = press.querySelector(".o_sfb_drop_slot.o_sfb_over") as HTMLElement;
  expect(gap.nextElementSibling?.getAttribute("data-mo")).toBe("MO/3");
  // … and the pointer is released on the gap itself.
  fire(gap, "dragover");
  fire(gap, "drop");
  await settle();
  expect(orm.callsTo("move_workorder").map((c) => c.args)).toEqual([[2, "1", "2026-11-22 09:59:00", []]]);
});

test("an unplanned order, a missing product or unit show '—', never 'false'", async () => {
  const bare: BoardWorkorder = { ...wo(5, "MO/5", "0", false), product_id: false, product_uom_id: false };
  const orphan: BoardWorkorder = { ...wo(6, "MO/6", "0", false), production_id: false, name: "Loose WO" };
  const data: BoardData = { ...board(false), workorders: [bare, orphan] };
  const orm = new FakeOrm(() => data);
  const { fixture } = await mountComponent(DispatchBoard, orm, actionProps());
  const cards = [...fixture.querySelectorAll<HTMLElement>(".o_sfb_card")];
  // Tied on the start: as the floor queue, the order without an MO (id 0) first.
  expect(cards.map((c) => c.getAttribute("data-mo"))).toEqual(["Loose WO", "MO/5"]);
  const text = cards.map((c) => c.textContent ?? "").join(" | ");
  expect(text).not.toMatch(/\b(false|null|undefined|NaN)\b/);
  expect(cards[1]?.textContent).toContain("— · 250 —");
  expect(cards[1]?.textContent).toContain("Planned start: —");
});
