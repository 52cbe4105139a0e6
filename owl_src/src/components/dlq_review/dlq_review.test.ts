// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm, type OrmHandler } from "../../../test/support/fake_services.ts";
import { actionProps, makeDeferred, mountComponent, settle } from "../../../test/support/helpers.ts";
import { type DlqDetail, DlqReview, type DlqRow, PAGE_SIZE } from "./dlq_review.ts";

const TOTAL = 100_000;

function row(id: number): DlqRow {
  return {
    id,
    event_uid: `ev-${id}`,
    source: "plant1/line1/press-01",
    type: "workorder.completed",
    time: "2026-11-22 08:00:00",
    ingest_time: "2026-11-22 08:00:01",
    state: id % 2 ? "dead" : "rejected",
    attempts: 5,
    error_class: "UnknownOrder",
    error_message: `no order WH/MO/${id}`,
    connection_id: { id: 9, display_name: "Plant 1" },
    workcenter_id: false,
  };
}

function detail(id: number, payload: string): DlqDetail {
  return {
    ...row(id),
    subject: false,
    data_json: payload,
    raw_payload: payload,
    raw_truncated: false,
    error_traceback: "Traceback (most recent call last):\n  boom",
    history_ids: [
      {
        id: 1,
        date: "2026-11-22 08:00:01",
        user_id: { id: 2, display_name: "Admin" },
        action: "dead",
        state: "dead",
        note: false,
      },
    ],
  };
}

/** A server with TOTAL dead letters that only ever hands out one page. */
function server(overrides: Partial<Record<string, OrmHandler>> = {}): FakeOrm {
  return new FakeOrm((model, method, args, kwargs) => {
    const custom = overrides[method];
    if (custom) return custom(model, method, args, kwargs);
    if (method === "search_read") return model === "shopfloor.connection" ? [{ id: 9, display_name: "Plant 1" }] : [];
    if (method === "web_search_read") {
      const offset = Number(kwargs.offset ?? 0);
      const limit = Number(kwargs.limit);
      return {
        length: TOTAL,
        records: Array.from({ length: Math.min(limit, TOTAL - offset) }, (_, i) => row(offset + i + 1)),
      };
    }
    if (method === "dlq_summary") {
      return {
        counts: { failed: 0, dead: 50_000, rejected: 50_000 },
        error_classes: [{ error_class: "UnknownOrder", count: TOTAL }],
        types: ["workorder.completed"],
      };
    }
    if (method === "web_read") return [detail((args[0] as number[])[0] as number, '{"order":"WH/MO/1","qty_good":12}')];
    return true;
  });
}

function key(k: string): void {
  window.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("100,000 dead letters: one page of rows is fetched, counts come from the server", async () => {
  const orm = server();
  const { fixture } = await mountComponent(DlqReview, orm, actionProps({ sfb_connection_id: 9 }));
  expect(fixture.querySelectorAll(".o_sfb_row")).toHaveLength(PAGE_SIZE);
  const [page] = orm.callsTo("web_search_read");
  expect(page?.kwargs).toMatchObject({ limit: PAGE_SIZE, offset: 0, order: "time desc, id desc" });
  expect(page?.kwargs.domain).toEqual([
    ["state", "in", ["failed", "dead", "rejected"]],
    ["connection_id", "=", 9],
  ]);
  expect(fixture.querySelector(".o_sfb_pager_label")?.textContent).toBe("1–50 / 100,000");
  expect(fixture.querySelector(".o_sfb_count_dead")?.textContent).toContain("50,000");
  // While page 2 is on its way the table says it is busy (loading state).
  const gate = makeDeferred<void>();
  const plain = orm.handler;
  orm.handler = async (...a) => {
    if (a[1] === "web_search_read") await gate;
    return plain(...a);
  };
  (fixture.querySelector(".o_sfb_next") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_dlq_table")?.getAttribute("aria-busy")).toBe("true");
  gate.resolve();
  await settle();
  expect(orm.callsTo("web_search_read").at(-1)?.kwargs.offset).toBe(PAGE_SIZE);
  expect(fixture.querySelector(".o_sfb_pager_label")?.textContent).toBe("51–100 / 100,000");
  expect(fixture.querySelector(".o_sfb_dlq_table")?.getAttribute("aria-busy")).toBe("false");
});

test("the list says so when nothing matches, and shows a load error in an alert", async () => {
  const empty = server({ web_search_read: () => ({ length: 0, records: [] }) });
  const { fixture } = await mountComponent(DlqReview, empty, actionProps());
  expect(fixture.querySelector(".o_sfb_no_rows")?.textContent).toBe("No dead letters match these filters.");
  document.body.innerHTML = "";
  const failing = server({
    web_search_read: () => {
      throw new Error("server down");
    },
  });
  const { fixture: f2 } = await mountComponent(DlqReview, failing, actionProps());
  expect(f2.querySelector(".o_sfb_error")?.getAttribute("role")).toBe("alert");
  expect(f2.querySelector(".o_sfb_error")?.textContent).toBe("The dead letters could not be loaded: server down");
});

test("j opens the next event with its error, traceback, history and highlighted payload; r retries it", async () => {
  const orm = server();
  const { fixture, notifications } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  key("j");
  await settle();
  expect(fixture.querySelector(".o_sfb_row.o_sfb_cursor")?.getAttribute("data-uid")).toBe("ev-1");
  expect(fixture.querySelector(".o_sfb_detail_error")?.textContent).toContain("no order WH/MO/1");
  expect(fixture.querySelector(".o_sfb_traceback")?.textContent).toContain("boom");
  expect(fixture.querySelector(".o_sfb_history")?.textContent).toContain("Dead-lettered");
  const keys = [...fixture.querySelectorAll(".o_sfb_json .j-key")].map((e) => e.textContent);
  expect(keys).toEqual(['"order"', '"qty_good"']);
  expect(fixture.querySelector(".o_sfb_json .j-number")?.textContent).toBe("12");
  key("j");
  await settle();
  key("k");
  await settle();
  expect(fixture.querySelector(".o_sfb_row.o_sfb_cursor")?.getAttribute("data-uid")).toBe("ev-1");
  key("r");
  await settle();
  expect(orm.callsTo("action_retry").map((c) => c.args)).toEqual([[[1]]]);
  expect(notifications.items.at(-1)).toMatchObject({ type: "success" });
});

test("a huge payload is shown plain (no highlighting), still complete", async () => {
  const huge = JSON.stringify({ rows: Array.from({ length: 5000 }, (_, i) => ({ i, label: `row ${i}` })) });
  expect(huge.length).toBeGreaterThan(64 * 1024);
  const orm = server({ web_read: (_m, _me, args) => [detail((args[0] as number[])[0] as number, huge)] });
  const { fixture } = await mountComponent(DlqReview, orm, actionProps());
  (fixture.querySelector(".o_sfb_row") as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_json_plain")?.textContent).toMatch(/Large payload \(\d+ KB\)/);
  expect(fixture.querySelectorAll(".o_sfb_json span")).toHaveLength(0);
  expect(JSON.parse(fixture.querySelector(".o_sfb_json")?.textContent ?? "")).toEqual(JSON.parse(huge));
});

test("edit: invalid JSON blocks the retry with a message; valid JSON is sent compacted", async () => {
  const orm = server();
  const { fixture } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  (fixture.querySelector(".o_sfb_row") as HTMLElement).click();
  await settle();
  key("e");
  await settle();
  const area = fixture.querySelector(".o_sfb_edit_text") as HTMLTextAreaElement;
  area.value = '{"order": "WH/MO/1",}';
  area.dispatchEvent(new Event("input"));
  await settle();
  expect(fixture.querySelector(".o_sfb_edit_error")?.textContent).toMatch(/^Not valid JSON/);
  expect((fixture.querySelector(".o_sfb_edit_save") as HTMLButtonElement).disabled).toBe(true);
  area.value = '{\n  "order": "WH/MO/1",\n  "qty_good": 10\n}';
  area.dispatchEvent(new Event("input"));
  await settle();
  expect(fixture.querySelector(".o_sfb_edit_error")?.textContent).toBe("");
  (fixture.querySelector(".o_sfb_edit_save") as HTMLButtonElement).click();
  await settle();
  expect(orm.callsTo("action_edit_and_retry").map((c) => c.args)).toEqual([[[1], '{"order":"WH/MO/1","qty_good":10}']]);
});

test("discard needs a reason; bulk on a selection and on 'all with this error' go through dlq_bulk", async () => {
  const orm = server();
  const { fixture } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  const boxes = fixture.querySelectorAll<HTMLInputElement>(".o_sfb_select");
  boxes[0]?.click();
  boxes[2]?.click();
  await settle();
  expect(fixture.querySelector(".o_sfb_selected_count")?.textContent).toBe("2 selected");
  // No event open: the reason is asked for right under the bulk buttons, with the focus in it.
  (fixture.querySelector(".o_sfb_bulk_discard") as HTMLElement).click();
  await settle();
  const reason = fixture.querySelector(".o_sfb_reason_input") as HTMLInputElement;
  expect(document.activeElement).toBe(reason);
  (fixture.querySelector(".o_sfb_reason") as HTMLFormElement).dispatchEvent(new Event("submit"));
  await settle();
  expect(orm.callsTo("dlq_bulk")).toHaveLength(0); // no reason, nothing done
  reason.value = "duplicate test data";
  reason.dispatchEvent(new Event("input"));
  (fixture.querySelector(".o_sfb_reason") as HTMLFormElement).dispatchEvent(new Event("submit"));
  await settle();
  expect(orm.callsTo("dlq_bulk")[0]?.args).toEqual([[["id", "in", [1, 3]]], "discard", "duplicate test data"]);
  (fixture.querySelector(".o_sfb_row") as HTMLElement).click();
  await settle();
  (fixture.querySelector(".o_sfb_retry_same") as HTMLElement).click();
  await settle();
  expect(orm.callsTo("dlq_bulk")[1]?.args).toEqual([
    [
      ["state", "in", ["failed", "dead", "rejected"]],
      ["error_class", "=", "UnknownOrder"],
    ],
    "retry",
    "",
  ]);
});

test("a non-manager sees no action and the shortcuts do nothing", async () => {
  const orm = server();
  const { fixture } = await mountComponent(DlqReview, orm, actionProps(), { isManager: false });
  (fixture.querySelector(".o_sfb_row") as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_detail_title")).not.toBeNull();
  expect(fixture.querySelectorAll(".o_sfb_actions, .o_sfb_select, .o_sfb_bulk_discard")).toHaveLength(0);
  key("r");
  key("d");
  key("e");
  await settle();
  expect(orm.callsTo("action_retry")).toHaveLength(0);
  expect(fixture.querySelector(".o_sfb_reason, .o_sfb_edit")).toBeNull();
});

test("a bus ping reloads the page of rows and the counts", async () => {
  const orm = server();
  const { bus } = await mountComponent(DlqReview, orm, actionProps());
  const before = orm.callsTo("dlq_summary").length;
  bus.emit("shopfloor_bridge/events_changed", {});
  await settle();
  expect(orm.callsTo("dlq_summary").length).toBe(before + 1);
});

test("changing a filter reloads from offset 0 with that filter in the domain", async () => {
  const orm = server();
  const { fixture } = await mountComponent(DlqReview, orm, actionProps());
  const select = fixture.querySelector(".o_sfb_f_error") as HTMLSelectElement;
  select.value = "UnknownOrder";
  select.dispatchEvent(new Event("change"));
  await settle();
  const last = orm.callsTo("web_search_read").at(-1);
  expect(last?.kwargs.offset).toBe(0);
  expect(last?.kwargs.domain).toContainEqual(["error_class", "=", "UnknownOrder"]);
  const connection = fixture.querySelector(".o_sfb_f_connection") as HTMLSelectElement;
  connection.value = "9";
  connection.dispatchEvent(new Event("change"));
  await settle();
  expect(orm.callsTo("web_search_read").at(-1)?.kwargs.domain).toContainEqual(["connection_id", "=", 9]);
});

test("Esc while an event is still loading keeps the pane closed", async () => {
  const gate = makeDeferred<void>();
  const orm = server();
  const plain = orm.handler;
  orm.handler = async (...a) => {
    if (a[1] === "web_read") await gate;
    return plain(...a);
  };
  const { fixture } = await mountComponent(DlqReview, orm, actionProps());
  key("j");
  await settle();
  key("Escape");
  gate.resolve();
  await settle();
  expect(fixture.querySelector(".o_sfb_detail_title")).toBeNull();
});

test("a rejected payload that is no CloudEvent: 'Create mapping from this payload' opens the prefilled form", async () => {
  const formAction = {
    type: "ir.actions.act_window",
    res_model: "shopfloor.payload.map",
    views: [[false, "form"]],
    context: { default_sample_payload: '{"timestamp":1,"values":[]}' },
  };
  const orm = server({
    web_read: (_m, _method, args) => {
      const id = (args[0] as number[])[0] as number;
      return [
        {
          ...detail(id, ""),
          state: "rejected",
          type: false as unknown as string,
          data_json: false,
          raw_payload: '{"timestamp":1,"values":[]}',
        },
      ];
    },
    action_create_payload_map: () => formAction,
  });
  const { fixture, env } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  (fixture.querySelector(".o_sfb_row") as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_detail_title")?.textContent).toBe("(not an event) · ev-1");
  const create = fixture.querySelector(".o_sfb_create_mapping") as HTMLButtonElement;
  expect(create.textContent).toBe("Create mapping from this payload");
  create.click();
  await settle();
  expect(orm.callsTo("action_create_payload_map").map((c) => [c.model, c.args])).toEqual([["shopfloor.event", [[1]]]]);
  expect(env.services.action.actions).toEqual([formAction]);
});

test("the Type column: the stored type, else the type the kept payload claims, else '—' — never 'false'", async () => {
  const CLAIMING = '{"type":"counter.tick","values":[1]}';
  const typeless = (id: number, state: string): DlqRow => ({ ...row(id), type: false, time: false, state });
  const orm = server({
    web_search_read: () => ({
      length: 4,
      records: [row(1), typeless(2, "rejected"), typeless(3, "rejected"), typeless(4, "dead")],
    }),
    search_read: (model) =>
      model === "shopfloor.event"
        ? [
            { id: 2, raw_payload: CLAIMING },
            { id: 3, raw_payload: "\\xff\\xfe not JSON" },
          ]
        : [],
    web_read: (_m, _method, args) => {
      const id = (args[0] as number[])[0] as number;
      return [
        { ...detail(id, ""), type: false, state: "rejected", data_json: false, raw_payload: id === 2 ? CLAIMING : "?" },
      ];
    },
  });
  const { fixture } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  await settle();
  const types = [...fixture.querySelectorAll(".o_sfb_row .o_sfb_type")].map((td) => td.textContent);
  expect(types).toEqual(["workorder.completed", "counter.tick", "—", "—"]);
  expect(fixture.querySelector(".o_sfb_dlq_table")?.textContent).not.toMatch(/\b(false|null|undefined|NaN)\b/);
  // Only the typeless rejected rows' small payloads are read, in one call.
  const reads = orm.callsTo("search_read").filter((c) => c.model === "shopfloor.event");
  expect(reads).toHaveLength(1);
  expect(reads[0]?.kwargs.domain).toEqual([
    ["id", "in", [2, 3]],
    ["raw_size", "<=", 8192],
  ]);
  // The pane of a typeless event names the claimed type, or says it is no event.
  (fixture.querySelectorAll(".o_sfb_row")[1] as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_detail_title")?.textContent).toBe("counter.tick · ev-2");
  (fixture.querySelectorAll(".o_sfb_row")[2] as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_detail_title")?.textContent).toBe("(not an event) · ev-3");
});

test("no 'Create mapping' on a dead event, a rejected CloudEvent, a cut or empty payload; a refusal is told", async () => {
  const orm = server({
    web_read: (_m, _method, args) => {
      const id = (args[0] as number[])[0] as number;
      const raw = id === 2 ? "" : '{"v":1}';
      const type = id === 3 ? "workorder.completed" : (false as unknown as string);
      const state = id === 1 ? "dead" : "rejected";
      return [{ ...detail(id, raw), type, state, raw_payload: raw, raw_truncated: id === 4 }];
    },
    action_create_payload_map: () => {
      throw new Error("Only Shop Floor managers may create mappings.");
    },
  });
  const { fixture, notifications } = await mountComponent(DlqReview, orm, actionProps(), { isManager: true });
  const rows = fixture.querySelectorAll(".o_sfb_row");
  (rows[0] as HTMLElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_create_mapping")).toBeNull();
  for (const index of [1, 2, 3]) {
    (rows[index] as HTMLElement).click();
    await settle();
    expect(fixture.querySelector(".o_sfb_create_mapping"), `row ${index + 1}`).toBeNull();
  }
  (rows[4] as HTMLElement).click();
  await settle();
  (fixture.querySelector(".o_sfb_create_mapping") as HTMLButtonElement).click();
  await settle();
  expect(notifications.items.at(-1)).toMatchObject({
    type: "danger",
    message: "Only Shop Floor managers may create mappings.",
  });
});
