// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm } from "../../../test/support/fake_services.ts";
import { actionProps, mountComponent, settle } from "../../../test/support/helpers.ts";
import { EventExplorer } from "./event_explorer.ts";
import { axisTicks, buildTimeline, type ExplorerEvent, parseResultRefs } from "./timeline.ts";

const ev = (id: number, time: string, wc: [number, string] | false, refs: string | false = false): ExplorerEvent => ({
  id,
  time,
  type: "downtime.started",
  state: "applied",
  source: "plant1/line1/press-03",
  subject: false,
  workcenter_id: wc,
  result_refs: refs,
});

afterEach(() => {
  document.body.innerHTML = "";
});

test("result_refs lines become record references; junk lines are ignored", () => {
  expect(parseResultRefs("mrp.workcenter.productivity,12\nmaintenance.request,3\n\nnot a ref\nx,y")).toEqual([
    { model: "mrp.workcenter.productivity", id: 12 },
    { model: "maintenance.request", id: 3 },
  ]);
  expect(parseResultRefs(false)).toEqual([]);
});

test("events are grouped per work center, placed on the range, the unassigned last", () => {
  const from = new Date("2026-11-22T06:00:00Z");
  const to = new Date("2026-11-22T14:00:00Z");
  const rows = buildTimeline(
    [
      ev(2, "2026-11-22 10:00:00", [3, "Press 03"]),
      ev(1, "2026-11-22 06:00:00", [3, "Press 03"]),
      ev(3, "2026-11-22 14:00:00", false),
      ev(4, "2026-11-22 08:00:00", [1, "Assembly"]),
    ],
    from,
    to,
    "No work center",
  );
  expect(rows.map((r) => [r.label, r.events.map((e) => [e.id, e.left])])).toEqual([
    ["Assembly", [[4, 25]]],
    [
      "Press 03",
      [
        [1, 0],
        [2, 50],
      ],
    ],
    ["No work center", [[3, 100]]],
  ]);
  expect(axisTicks(from, to).length).toBeGreaterThan(3);
});

test("clicking an event lists the records it produced by name and opens them", async () => {
  const orm = new FakeOrm((model, method) => {
    if (model === "mrp.workcenter") return [{ id: 3, display_name: "Press 03" }];
    if (method === "search_read")
      return [
        ev(
          7,
          new Date(Date.now() - 3_600_000).toISOString().slice(0, 19).replace("T", " "),
          [3, "Press 03"],
          "mrp.workcenter.productivity,41",
        ),
      ];
    if (method === "read") return [{ id: 41, display_name: "Press 03 – Equipment Failure" }];
    return [];
  });
  const { fixture, env } = await mountComponent(EventExplorer, orm, actionProps());
  const row = fixture.querySelector('.o_sfb_timeline_row[data-workcenter="Press 03"]') as HTMLElement;
  const mark = row.querySelector(".o_sfb_mark") as HTMLButtonElement;
  expect(mark.getAttribute("aria-label")).toContain("downtime.started");
  mark.click();
  await settle();
  const link = fixture.querySelector(".o_sfb_ref") as HTMLElement;
  expect(link.textContent).toBe("Press 03 – Equipment Failure");
  link.click();
  await settle();
  expect((env.services.action as unknown as { actions: unknown[] }).actions[0]).toMatchObject({
    res_model: "mrp.workcenter.productivity",
    res_id: 41,
  });
  const [query] = orm.callsTo("search_read").filter((c) => c.model === "shopfloor.event");
  expect(query?.kwargs.limit).toBe(2001);
});

test("an empty range says so; a reversed range is refused with a message", async () => {
  const orm = new FakeOrm(() => []);
  const { fixture, component } = await mountComponent(EventExplorer, orm, actionProps());
  expect(fixture.querySelector(".o_sfb_no_rows")?.textContent).toBe("No event in this range.");
  const explorer = component as unknown as EventExplorer;
  explorer.state.from = "2026-11-22T10:00";
  explorer.state.to = "2026-11-22T09:00";
  await explorer.load();
  await settle();
  expect(fixture.querySelector(".o_sfb_error")?.textContent).toBe("Pick a range whose start is before its end.");
});

test("the selected event's title: a rejected event with no type or time shows '—', never 'false'", async () => {
  const recent = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19).replace("T", " ");
  const typed = ev(8, recent, [3, "Press 03"]);
  const orm = new FakeOrm((model, method) => {
    if (model === "mrp.workcenter") return [{ id: 3, display_name: "Press 03" }];
    if (method === "search_read") return [{ ...typed, id: 9, type: false, state: "rejected" }, typed];
    return [];
  });
  const { fixture } = await mountComponent(EventExplorer, orm, actionProps());
  const marks = [...fixture.querySelectorAll<HTMLButtonElement>(".o_sfb_mark")];
  const untyped = marks.find((m) => m.classList.contains("o_sfb_state_rejected")) as HTMLButtonElement;
  untyped.click();
  await settle();
  const title = fixture.querySelector(".o_sfb_x_title")?.textContent ?? "";
  expect(title.startsWith("— · ")).toBe(true);
  expect(fixture.querySelector(".o_sfb_explorer_detail")?.textContent).not.toMatch(/\b(false|null|undefined)\b/);
  expect(untyped.getAttribute("aria-label")).not.toMatch(/\bfalse\b/);
  (marks.find((m) => m !== untyped) as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_x_title")?.textContent).toMatch(/^downtime\.started · \S/);
});

test("opened from the live view, it shows that work center's timeline", async () => {
  const orm = new FakeOrm(() => []);
  await mountComponent(EventExplorer, orm, actionProps({ sfb_workcenter_id: 3 }));
  await settle();
  const eventReads = orm.callsTo("search_read").filter((c) => c.model === "shopfloor.event");
  expect(eventReads.at(-1)?.kwargs.domain).toContainEqual(["workcenter_id", "=", 3]);
  const plain = new FakeOrm(() => []);
  await mountComponent(EventExplorer, plain, actionProps({ sfb_workcenter_id: "x" }));
  await settle();
  const unfiltered = plain.callsTo("search_read").filter((c) => c.model === "shopfloor.event");
  expect(JSON.stringify(unfiltered.at(-1)?.kwargs.domain)).not.toContain("workcenter_id");
});

test("a manager picks applied events and opens the reverse wizard for them; others see no reversal", async () => {
  const recent = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19).replace("T", " ");
  const events = [ev(11, recent, [3, "Press 03"]), { ...ev(12, recent, [3, "Press 03"]), state: "dead" }];
  const wizard = { type: "ir.actions.act_window", res_model: "shopfloor.event.reverse", res_id: 5 };
  const handler = (model: string, method: string) => {
    if (model === "mrp.workcenter") return [{ id: 3, display_name: "Press 03" }];
    if (method === "search_read") return events;
    if (method === "action_open_reverse_wizard") return wizard;
    return [];
  };
  const asUser = await mountComponent(EventExplorer, new FakeOrm(handler), actionProps(), { isManager: false });
  (asUser.fixture.querySelector(".o_sfb_state_applied") as HTMLButtonElement).click();
  await settle();
  expect(asUser.fixture.querySelector(".o_sfb_x_pick")).toBeNull();
  document.body.innerHTML = "";

  const orm = new FakeOrm(handler);
  const { fixture, env } = await mountComponent(EventExplorer, orm, actionProps(), { isManager: true });
  (fixture.querySelector(".o_sfb_state_dead") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_x_pick")).toBeNull(); // only applied events are reversed
  (fixture.querySelector(".o_sfb_state_applied") as HTMLButtonElement).click();
  await settle();
  (fixture.querySelector(".o_sfb_x_pick input") as HTMLInputElement).dispatchEvent(new Event("change"));
  await settle();
  expect(fixture.querySelector(".o_sfb_x_reverse_bar")?.textContent).toContain("1 events to reverse");
  (fixture.querySelector(".o_sfb_x_reverse_reapply") as HTMLButtonElement).click();
  await settle();
  const [call] = orm.callsTo("action_open_reverse_wizard");
  expect(call?.args).toEqual([[11]]);
  expect(call?.kwargs).toEqual({ context: { default_reapply: true } });
  expect((env.services.action as unknown as { actions: unknown[] }).actions.at(-1)).toEqual(wizard);
});
