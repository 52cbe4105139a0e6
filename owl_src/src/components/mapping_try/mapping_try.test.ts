// @vitest-environment jsdom
// The "try it" field widget on a fake form record. These tests inject
// stub evaluators (named so) to control timing and failures; the widget
// with the sidecar's real evaluator is tested in mapping_engine.test.ts.
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm, type OrmHandler } from "../../../test/support/fake_services.ts";
import { askChanges, fakeRecord, makeDeferred, mountComponent, settle } from "../../../test/support/helpers.ts";
import { MappingTry } from "./mapping_try.ts";
import type { Candidate, Evaluator, PayloadMapping, TryOutcome, TrySample } from "./try_run.ts";

const FORM = {
  name: "Press JSON",
  kind: "events",
  transport: "mqtt",
  match: "plant1/line1/+/json",
  expression: '{"type": "production.reported", "source": $topic, "data": {"order": order, "qty_good": good}}',
  id_fields: "source\ndata.order",
  payload_format: "json",
  connection_id: [9, "Plant 1"],
  sample_payload: "",
};

function server(overrides: Partial<Record<string, OrmHandler>> = {}): FakeOrm {
  return new FakeOrm((model, method, args, kwargs) => {
    const custom = overrides[method];
    if (custom) return custom(model, method, args, kwargs);
    if (model === "shopfloor.connection" && method === "read") return [{ id: 9, code: "plant1-mqtt" }];
    if (method === "check_events") return (args[0] as unknown[]).map((_, index) => ({ index, ok: true, error: "" }));
    if (method === "rejected_candidates") return [];
    return true;
  });
}

/** A stub evaluator that records what it was given and answers one CloudEvent per call. */
function recordingStubEvaluator() {
  const seen: { mapping: PayloadMapping; sample: TrySample }[] = [];
  const evaluate: Evaluator = async (mapping, sample) => {
    seen.push({ mapping, sample });
    const text = typeof sample.payload === "string" ? sample.payload : new TextDecoder().decode(sample.payload);
    const payload = JSON.parse(text) as { order: string; good: number };
    return {
      status: "events",
      events: [
        {
          specversion: "1.0",
          id: `id-${payload.order}`,
          source: sample.topic,
          type: "production.reported",
          data: { order: payload.order, qty_good: payload.good },
        },
      ],
    };
  };
  return { seen, evaluate };
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await settle(1);
  }
}

function type(el: Element | null, value: string): void {
  const field = el as HTMLTextAreaElement | HTMLInputElement;
  field.value = value;
  field.dispatchEvent(new Event("input", { bubbles: true }));
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("typing a sample evaluates it once, after a pause, with the form's mapping and the connection's code", async () => {
  const orm = server();
  const record = fakeRecord(FORM, 5);
  const stub = recordingStubEvaluator();
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stub.evaluate } },
  );
  const sample = fixture.querySelector(".o_sfb_try_sample");
  type(fixture.querySelector(".o_sfb_try_topic"), "plant1/line1/press-01/json");
  type(sample, '{"order": "WH/MO/1", "good"');
  type(sample, '{"order": "WH/MO/1", "good": 12}');
  await until(() => fixture.querySelector(".o_sfb_result_event") !== null);
  expect(stub.seen).toHaveLength(1);
  expect(stub.seen[0]?.mapping).toMatchObject({
    id: 5,
    kind: "events",
    transport: "mqtt",
    match: "plant1/line1/+/json",
    id_fields: ["source", "data.order"],
    payload_format: "json",
  });
  expect(stub.seen[0]?.sample).toMatchObject({
    payload: '{"order": "WH/MO/1", "good": 12}',
    topic: "plant1/line1/press-01/json",
    connection: "plant1-mqtt",
  });
  expect(fixture.querySelector(".o_sfb_result_summary")?.textContent).toContain("1 CloudEvent");
  expect(fixture.querySelector(".o_sfb_result_id")?.textContent).toBe("id-WH/MO/1");
  expect(fixture.querySelector(".o_sfb_result_ids")?.textContent).toContain(
    "the same payload always yields the same id",
  );
  const [check] = orm.callsTo("check_events");
  expect(check?.model).toBe("shopfloor.payload.map");
  expect(check?.args[0]).toEqual([expect.objectContaining({ id: "id-WH/MO/1", type: "production.reported" })]);
  expect(fixture.querySelector(".o_sfb_result_check")?.textContent).toBe("Every event passes the module's schema.");
  // Not written to the record on every keystroke; on leaving the field (or before a save), yes.
  expect(record.data.sample_payload).toBe("");
  await askChanges(record);
  expect(record.data.sample_payload).toBe('{"order": "WH/MO/1", "good": 12}');
});

test("a slow evaluation never blocks typing, and its late answer does not overwrite a newer one", async () => {
  const orm = server();
  const record = fakeRecord({ ...FORM, sample_payload: "" }, 5);
  const slow = makeDeferred<TryOutcome>();
  let calls = 0;
  const stubEvaluator: Evaluator = async (_mapping, sample) => {
    calls++;
    if (calls === 1) return slow;
    return { status: "events", events: [{ id: "newer", type: "production.reported", source: sample.topic }] };
  };
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stubEvaluator } },
  );
  const sample = fixture.querySelector(".o_sfb_try_sample") as HTMLTextAreaElement;
  type(sample, '{"first": 1}');
  await until(() => calls === 1);
  expect(fixture.querySelector(".o_sfb_result_busy")).not.toBeNull();
  type(sample, '{"second": 2}');
  expect(sample.value).toBe('{"second": 2}');
  await until(() => fixture.querySelector(".o_sfb_result_id")?.textContent === "newer");
  slow.resolve({ status: "events", events: [{ id: "stale" }] });
  await settle();
  expect(fixture.querySelector(".o_sfb_result_id")?.textContent).toBe("newer");
  expect(fixture.querySelector(".o_sfb_result_busy")).toBeNull();
});

test("the mapping's error is shown, and nothing is sent for a schema check", async () => {
  const orm = server();
  const record = fakeRecord({ ...FORM, sample_payload: "not json" }, 5);
  const failingStub: Evaluator = async () => ({
    status: "error",
    message: "the payload is not JSON: Unexpected token",
  });
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: failingStub } },
  );
  await until(() => fixture.querySelector(".o_sfb_result_error") !== null);
  expect(fixture.querySelector(".o_sfb_result_error")?.getAttribute("role")).toBe("alert");
  expect(fixture.querySelector(".o_sfb_result_error")?.textContent).toBe("the payload is not JSON: Unexpected token");
  expect(fixture.querySelector(".o_sfb_result_summary")?.textContent).toContain("The mapping fails on this payload.");
  expect(orm.callsTo("check_events")).toHaveLength(0);
});

test("an evaluator that throws is an error on screen, not a broken form", async () => {
  const record = fakeRecord({ ...FORM, sample_payload: '{"order":"x"}' }, 5);
  const throwingStub: Evaluator = async () => {
    throw new Error("expression took longer than 1000 ms");
  };
  const { fixture } = await mountComponent(
    MappingTry,
    server(),
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: throwingStub } },
  );
  await until(() => fixture.querySelector(".o_sfb_result_error") !== null);
  expect(fixture.querySelector(".o_sfb_result_error")?.textContent).toBe("expression took longer than 1000 ms");
});

test("the schema's errors are shown under the event they belong to", async () => {
  const orm = server({
    check_events: () => [
      { index: 0, ok: false, error: "data.qty_good: required" },
      { index: 1, ok: true, error: "" },
    ],
  });
  const record = fakeRecord({ ...FORM, sample_payload: '{"x":1}' }, 5);
  const twoEventStub: Evaluator = async () => ({
    status: "events",
    events: [
      { id: "a", type: "production.reported", source: "s" },
      { id: "b", type: "production.reported", source: "s" },
    ],
  });
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: twoEventStub } },
  );
  await until(() => fixture.querySelector(".o_sfb_result_check") !== null);
  const events = fixture.querySelectorAll(".o_sfb_result_event");
  expect(events).toHaveLength(2);
  expect(events[0]?.querySelector(".o_sfb_result_event_errors")?.textContent).toBe("data.qty_good: required");
  expect(events[1]?.querySelector(".o_sfb_result_event_errors")).toBeNull();
  expect(fixture.querySelector(".o_sfb_result_check")?.textContent).toBe("1 of 2 events fail the module's schema.");
});

test("a check_events failure is said, and the events are still shown", async () => {
  const orm = server({
    check_events: () => {
      throw new Error("Access denied");
    },
  });
  const record = fakeRecord({ ...FORM, sample_payload: '{"order":"A","good":1}' }, 5);
  const stub = recordingStubEvaluator();
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stub.evaluate } },
  );
  await until(() => fixture.querySelector(".o_sfb_result_check_error") !== null);
  expect(fixture.querySelector(".o_sfb_result_check_error")?.textContent).toBe(
    "The events could not be checked against the schema: Access denied",
  );
  expect(fixture.querySelectorAll(".o_sfb_result_event")).toHaveLength(1);
});

test("picking a recent rejected payload fills the sample and its topic, and evaluates it", async () => {
  const raw = '{"order": "WH/MO/7", "good": 3}';
  const candidates: Candidate[] = [
    {
      event_id: 77,
      origin: "plant1/line1/press-02/json",
      transport: "mqtt",
      raw_text: raw,
      raw_b64: btoa(raw),
      received: "2026-11-22T08:00:00.000Z",
      reason: "no mapping takes this payload",
    },
  ];
  const orm = server({ rejected_candidates: () => candidates });
  const record = fakeRecord(FORM, 5);
  const stub = recordingStubEvaluator();
  const { fixture } = await mountComponent(
    MappingTry,
    orm,
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stub.evaluate } },
  );
  const pickButton = fixture.querySelector(".o_sfb_try_pick") as HTMLButtonElement;
  expect(pickButton.getAttribute("aria-expanded")).toBe("false");
  pickButton.click();
  await settle();
  expect(pickButton.getAttribute("aria-expanded")).toBe("true");
  expect(orm.callsTo("rejected_candidates")[0]?.args).toEqual([[5], 50]);
  const option = fixture.querySelector(".o_sfb_try_candidate") as HTMLButtonElement;
  expect(option.textContent).toBe("plant1/line1/press-02/json · no mapping takes this payload");
  option.click();
  await until(() => fixture.querySelector(".o_sfb_result_id") !== null);
  expect((fixture.querySelector(".o_sfb_try_sample") as HTMLTextAreaElement).value).toBe(raw);
  expect((fixture.querySelector(".o_sfb_try_topic") as HTMLInputElement).value).toBe("plant1/line1/press-02/json");
  expect(record.data.sample_payload).toBe(raw);
  // The exact bytes and receive time of the rejected payload are what is tried, as the retry will.
  const tried = stub.seen.at(-1)?.sample;
  expect(tried?.payload).toBeInstanceOf(Uint8Array);
  expect(Array.from((tried?.payload ?? []) as Uint8Array)).toEqual([...Buffer.from(raw)]);
  expect(tried).toMatchObject({ topic: "plant1/line1/press-02/json", receivedAt: "2026-11-22T08:00:00.000Z" });
  expect(fixture.querySelector(".o_sfb_try_candidates")).toBeNull();
});

test("keyboard: the list of rejected payloads closes with Escape, focus back on its button", async () => {
  const raw = '{"order": "WH/MO/7", "good": 3}';
  const orm = server({
    rejected_candidates: () => [
      {
        event_id: 77,
        origin: "plant1/a",
        transport: "mqtt",
        raw_text: raw,
        raw_b64: btoa(raw),
        received: "2026-11-22T08:00:00.000Z",
        reason: "no mapping",
      },
    ],
  });
  const record = fakeRecord(FORM, 5);
  const { fixture } = await mountComponent(MappingTry, orm, { name: "sample_payload", record });
  const pickButton = fixture.querySelector(".o_sfb_try_pick") as HTMLButtonElement;
  pickButton.click();
  await settle();
  const option = fixture.querySelector(".o_sfb_try_candidate") as HTMLButtonElement;
  option.focus();
  option.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  await settle();
  expect(fixture.querySelector(".o_sfb_try_candidates")).toBeNull();
  expect(document.activeElement).toBe(pickButton);
});

test("an unsaved mapping asks to be saved before it can pick from the dead letters", async () => {
  const orm = server();
  const record = fakeRecord(FORM, false);
  const { fixture } = await mountComponent(MappingTry, orm, { name: "sample_payload", record });
  (fixture.querySelector(".o_sfb_try_pick") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_try_save_first")?.textContent).toContain("Save the mapping first");
  expect(orm.callsTo("rejected_candidates")).toHaveLength(0);
});

test("an empty picker says so; a failing one says why", async () => {
  const record = fakeRecord(FORM, 5);
  const { fixture } = await mountComponent(MappingTry, server(), { name: "sample_payload", record });
  (fixture.querySelector(".o_sfb_try_pick") as HTMLButtonElement).click();
  await settle();
  expect(fixture.querySelector(".o_sfb_try_no_candidates")?.textContent).toBe(
    "No rejected payload of this connection to pick.",
  );
  document.body.innerHTML = "";
  const failing = server({
    rejected_candidates: () => {
      throw new Error("boom");
    },
  });
  const { fixture: f2 } = await mountComponent(MappingTry, failing, { name: "sample_payload", record });
  (f2.querySelector(".o_sfb_try_pick") as HTMLButtonElement).click();
  await settle();
  expect(f2.querySelector(".o_sfb_try_candidates [role=alert]")?.textContent).toBe(
    "The rejected payloads could not be loaded: boom",
  );
});

test("editing the expression on the form evaluates the sample again", async () => {
  const record = fakeRecord({ ...FORM, sample_payload: '{"order":"A","good":1}' }, 5);
  const stub = recordingStubEvaluator();
  await mountComponent(
    MappingTry,
    server(),
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stub.evaluate } },
  );
  await until(() => stub.seen.length === 1);
  await record.update({ expression: '{"type": "scrap.reported"}' });
  await until(() => stub.seen.length === 2);
  expect(stub.seen[1]?.mapping.expression).toBe('{"type": "scrap.reported"}');
});

test("with no expression or no sample there is nothing to evaluate", async () => {
  const record = fakeRecord({ ...FORM, expression: "", sample_payload: '{"a":1}' }, 5);
  const stub = recordingStubEvaluator();
  const { fixture } = await mountComponent(
    MappingTry,
    server(),
    { name: "sample_payload", record },
    { env: { shopfloorEvaluator: stub.evaluate } },
  );
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(stub.seen).toHaveLength(0);
  expect(fixture.querySelector(".o_sfb_result_summary")?.textContent).toContain("Type or pick a sample payload");
});
