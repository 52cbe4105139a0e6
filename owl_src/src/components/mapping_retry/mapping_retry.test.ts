// @vitest-environment jsdom
// The retry panel on a fake form record, with a stub evaluator (named so)
// that maps by payload shape; the real evaluator is covered in
// mapping_engine.test.ts and the whole journey in test/browser/payload_mapping.spec.ts.
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm, type OrmHandler } from "../../../test/support/fake_services.ts";
import { fakeRecord, mountComponent, settle } from "../../../test/support/helpers.ts";
import type { Candidate, Evaluator, TrySample } from "../mapping_try/try_run.ts";
import { MappingRetry } from "./mapping_retry.ts";

const FORM = {
  name: "Press JSON",
  kind: "events",
  transport: "mqtt",
  match: "plant1/+/json",
  expression: "…",
  id_fields: "",
  payload_format: "json",
  connection_id: [9, "Plant 1"],
};

function candidate(id: number, payload: string): Candidate {
  return {
    event_id: id,
    origin: `plant1/p${id}/json`,
    transport: "mqtt",
    raw_text: payload,
    raw_b64: btoa(payload),
    received: "2026-11-22T08:00:00.000Z",
    reason: "no mapping",
  };
}

const CANDIDATES = [
  candidate(1, '{"order":"WH/MO/1","good":5}'),
  candidate(2, '{"order":"WH/MO/2","good":-1}'),
  candidate(3, "garbage"),
  candidate(4, '{"order":"WH/MO/4","good":2}'),
];

/** Stub evaluator: JSON payloads with an order become one event; anything else fails. */
const shapeStubEvaluator: Evaluator = async (_mapping, sample) => {
  try {
    const text = typeof sample.payload === "string" ? sample.payload : new TextDecoder().decode(sample.payload);
    const payload = JSON.parse(text) as { order: string; good: number };
    return {
      status: "events",
      events: [{ id: `id-${payload.order}`, type: "production.reported", data: { qty_good: payload.good } }],
    };
  } catch {
    return { status: "error", message: "the payload is not JSON" };
  }
};

function server(overrides: Partial<Record<string, OrmHandler>> = {}): FakeOrm {
  return new FakeOrm((model, method, args, kwargs) => {
    const custom = overrides[method];
    if (custom) return custom(model, method, args, kwargs);
    if (method === "rejected_candidates") return CANDIDATES;
    if (method === "check_events") {
      return (args[0] as { data: { qty_good: number } }[]).map((ev, index) => ({
        index,
        ok: ev.data.qty_good >= 0,
        error: ev.data.qty_good < 0 ? "data.qty_good: must be ≥ 0" : "",
      }));
    }
    if (method === "remap_rejected") {
      return (args[1] as { event_id: number }[]).map((item) => ({
        event_id: item.event_id,
        status: "remapped",
        error: "",
        event_ids: [100 + item.event_id],
      }));
    }
    if (method === "search_read" && model === "shopfloor.event") {
      return [
        { id: 101, event_uid: "sfb-m-1", state: "applied", error_message: false },
        { id: 104, event_uid: "sfb-m-4", state: "failed", error_message: "no order WH/MO/4" },
      ];
    }
    return true;
  });
}

const sampleOf = (payload: Uint8Array, topic: string, receivedAt: string): TrySample => ({
  payload,
  topic,
  headers: {},
  connection: "plant1-mqtt",
  receivedAt,
});

afterEach(() => {
  document.body.innerHTML = "";
});

test("saves the edited mapping, shows what it accepts and why the rest fails, retries on confirmation", async () => {
  const orm = server();
  const record = fakeRecord(FORM, 5);
  await record.update({ expression: "edited" });
  const { fixture, notifications } = await mountComponent(MappingRetry, orm, {
    record,
    sampleOf,
    evaluate: shapeStubEvaluator,
  });
  (fixture.querySelector(".o_sfb_retry_scan") as HTMLButtonElement).click();
  await settle();
  expect(record.saves).toBe(1);
  expect(orm.callsTo("rejected_candidates")[0]?.args).toEqual([[5], 50]);
  expect(fixture.querySelector(".o_sfb_retry_summary")?.textContent).toBe(
    "This mapping accepts 2 of the 4 recent rejected payloads it matches.",
  );
  const failing = [...fixture.querySelectorAll(".o_sfb_retry_failing_item")].map((li) => li.textContent);
  expect(failing).toEqual([
    "plant1/p2/json: event 1: data.qty_good: must be ≥ 0",
    "plant1/p3/json: the payload is not JSON",
  ]);
  const confirm = fixture.querySelector(".o_sfb_retry_confirm") as HTMLButtonElement;
  expect(confirm.textContent).toBe("Retry 2 items");
  expect(orm.callsTo("remap_rejected")).toHaveLength(0);
  confirm.click();
  await settle();
  const [remap] = orm.callsTo("remap_rejected");
  expect(remap?.model).toBe("shopfloor.event");
  expect(remap?.args).toEqual([
    5,
    [
      { event_id: 1, events: [expect.objectContaining({ id: "id-WH/MO/1" })] },
      { event_id: 4, events: [expect.objectContaining({ id: "id-WH/MO/4" })] },
    ],
  ]);
  const summary = "2 of 2 items re-mapped into 2 events, 1 applied.";
  expect(fixture.querySelector(".o_sfb_retry_done_summary")?.textContent).toBe(summary);
  expect(orm.callsTo("search_read")[0]?.kwargs.domain).toEqual([["id", "in", [101, 104]]]);
  const produced = [...fixture.querySelectorAll(".o_sfb_retry_produced")].map((li) =>
    li.textContent?.replace(/\s+/g, " ").trim(),
  );
  expect(produced).toEqual(["sfb-m-1 Applied", "sfb-m-4 Failed · no order WH/MO/4"]);
  expect(notifications.items.at(-1)).toMatchObject({ type: "success", message: summary });
});

test("a mapping that cannot be saved is not run, and the person is told", async () => {
  const orm = server();
  const record = fakeRecord(FORM, false);
  record.saveSucceeds = false;
  const { fixture } = await mountComponent(MappingRetry, orm, { record, sampleOf, evaluate: shapeStubEvaluator });
  (fixture.querySelector(".o_sfb_retry_scan") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_retry_error")?.textContent).toBe("Save the mapping first: the form has errors.");
  expect(orm.callsTo("rejected_candidates")).toHaveLength(0);
});

test("nothing accepted: the confirm button is disabled; cancel goes back", async () => {
  const orm = server({ rejected_candidates: () => [candidate(3, "garbage")] });
  const record = fakeRecord(FORM, 5);
  const { fixture } = await mountComponent(MappingRetry, orm, { record, sampleOf, evaluate: shapeStubEvaluator });
  (fixture.querySelector(".o_sfb_retry_scan") as HTMLButtonElement).click();
  await settle();
  expect(record.saves).toBe(0); // saved and unchanged: not saved again
  expect((fixture.querySelector(".o_sfb_retry_confirm") as HTMLButtonElement).disabled).toBe(true);
  expect(orm.callsTo("check_events")).toHaveLength(0);
  (fixture.querySelector(".o_sfb_retry_cancel") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_retry_review")).toBeNull();
  expect(fixture.querySelector(".o_sfb_retry_scan")).not.toBeNull();
});

test("the server's verdict per item is shown: re-mapped, or not and why", async () => {
  const orm = server({
    remap_rejected: (_m, _method, args) =>
      (args[1] as { event_id: number }[]).map((item) => ({
        event_id: item.event_id,
        status: item.event_id === 1 ? "skipped" : "invalid",
        error: item.event_id === 1 ? "not a rejected payload (it may have been re-mapped already)" : "bad time",
        event_ids: [],
      })),
  });
  const record = fakeRecord(FORM, 5);
  const { fixture } = await mountComponent(MappingRetry, orm, { record, sampleOf, evaluate: shapeStubEvaluator });
  (fixture.querySelector(".o_sfb_retry_scan") as HTMLButtonElement).click();
  await settle();
  (fixture.querySelector(".o_sfb_retry_confirm") as HTMLButtonElement).click();
  await settle();
  const results = [...fixture.querySelectorAll(".o_sfb_retry_results > li")].map((li) =>
    li.textContent?.replace(/\s+/g, " ").trim(),
  );
  expect(results).toEqual([
    "plant1/p1/json — Skipped · not a rejected payload (it may have been re-mapped already)",
    "plant1/p4/json — Not re-mapped · bad time",
  ]);
  expect(fixture.querySelector(".o_sfb_retry_done_summary")?.textContent).toBe(
    "0 of 2 items re-mapped into 0 events, 0 applied.",
  );
  expect(orm.callsTo("search_read")).toHaveLength(0);
});

test("a server refusal of the retry is shown and the review stays", async () => {
  const orm = server({
    remap_rejected: () => {
      throw new Error("Only Shop Floor managers may act on the dead-letter queue.");
    },
  });
  const record = fakeRecord(FORM, 5);
  const { fixture } = await mountComponent(MappingRetry, orm, { record, sampleOf, evaluate: shapeStubEvaluator });
  (fixture.querySelector(".o_sfb_retry_scan") as HTMLButtonElement).click();
  await settle();
  (fixture.querySelector(".o_sfb_retry_confirm") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_retry_error")?.textContent).toBe(
    "The items were not all retried: Only Shop Floor managers may act on the dead-letter queue.",
  );
  expect(fixture.querySelector(".o_sfb_retry_review")).not.toBeNull();
});
