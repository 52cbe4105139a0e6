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
    id,
    event_uid: `raw-${id}`,
    topic: `plant1/p${id}/json`,
    raw_payload: payload,
    error_message: "no mapping",
    ingest_time: false,
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
    const payload = JSON.parse(sample.payload) as { order: string; good: number };
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
      return (args[1] as { data: { qty_good: number } }[]).map((ev) => ({
        errors: ev.data.qty_good < 0 ? ["data.qty_good: must be ≥ 0"] : [],
      }));
    }
    if (method === "remap_rejected") {
      return (args[1] as { event_id: number }[]).map((item) => ({
        event_id: item.event_id,
        status: item.event_id === 4 ? "failed" : "applied",
        error: item.event_id === 4 ? "no order WH/MO/4" : false,
      }));
    }
    return true;
  });
}

const sampleOf = (payload: string, topic: string): TrySample => ({
  payload,
  topic,
  headers: {},
  connection: "plant1-mqtt",
  receivedAt: "2026-11-22T08:00:00Z",
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
    "This mapping accepts 2 of the 4 recent rejected payloads of its connection.",
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
  expect(fixture.querySelector(".o_sfb_retry_done_summary")?.textContent).toBe("1 of 2 items applied.");
  const results = [...fixture.querySelectorAll(".o_sfb_retry_results li")].map((li) => li.textContent?.trim());
  expect(results).toEqual(["raw-1 — Applied", "raw-4 — Failed · no order WH/MO/4"]);
  expect(notifications.items.at(-1)).toMatchObject({ type: "success", message: "1 of 2 items applied." });
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
    "The items were not retried: Only Shop Floor managers may act on the dead-letter queue.",
  );
  expect(fixture.querySelector(".o_sfb_retry_review")).not.toBeNull();
});
