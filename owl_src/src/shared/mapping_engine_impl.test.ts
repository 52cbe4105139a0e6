// @vitest-environment jsdom
// The try-it panel with the sidecar's real evaluator (no stub): what the
// admin sees is what sidecar/src/mapping/evaluate.ts computes in Node. In
// Odoo the panel imports it as a separate module (mapping_engine.ts; the
// built module itself is run in scripts/build.test.ts and in Chromium by
// test/browser/payload_mapping.spec.ts); here it is handed over directly.
import { createHash } from "node:crypto";
import { afterEach, expect, test, vi } from "vitest";
import "../../test/support/setup_dom.ts";

vi.mock("./web.ts", () => import("../../test/support/fake_web.ts"));

import { runMapping } from "../../../sidecar/src/mapping/evaluate.ts";
import { FakeOrm } from "../../test/support/fake_services.ts";
import { fakeRecord, mountComponent, settle } from "../../test/support/helpers.ts";
import { MappingTry } from "../components/mapping_try/mapping_try.ts";
import { mappingFromRecord } from "../components/mapping_try/try_run.ts";
import { evaluateSample, sha256hex } from "./mapping_engine_impl.ts";

const withRealEvaluator = { env: { shopfloorEvaluator: evaluateSample } };

const KEPWARE_LIKE = {
  name: "Kepware press",
  kind: "events",
  transport: "mqtt",
  match: "kepware/line1",
  expression: `values[id = "Channel1.Press01.Good"].{
    "source": "plant1/line1/press-01",
    "type": "production.reported",
    "time": $isoTime(t),
    "data": {"order": $$.values[id = "Channel1.Press01.Order"].v, "qty_good": v}
  }`,
  id_fields: "source\ntime",
  payload_format: "json",
  connection_id: [9, "Plant 1"],
  last_revision: 3,
  sample_payload: "",
};
const PAYLOAD = JSON.stringify({
  timestamp: 1764662400000,
  values: [
    { id: "Channel1.Press01.Good", v: 12, q: true, t: 1764662400000 },
    { id: "Channel1.Press01.Order", v: "WH/MO/00042", q: true, t: 1764662400000 },
  ],
});

function server(): FakeOrm {
  return new FakeOrm((model, method, args) => {
    if (model === "shopfloor.connection" && method === "read") return [{ id: 9, code: "plant1-mqtt" }];
    if (method === "check_events") return (args[0] as unknown[]).map((_, index) => ({ index, ok: true, error: "" }));
    return [];
  });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await settle(1);
  }
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("crypto.subtle's SHA-256 is the sidecar's node:crypto SHA-256", async () => {
  for (const text of ["", "abc", "ünïcödé 🏭", JSON.stringify(["sfb-m/1", "plant1", 1])]) {
    expect(await sha256hex(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
  }
});

test("the browser evaluation yields the very events (and ids) the sidecar's does", async () => {
  const mapping = mappingFromRecord(5, KEPWARE_LIKE);
  const receivedAt = "2026-12-02T08:00:00.000Z";
  const sample = { payload: PAYLOAD, topic: "kepware/line1", headers: {}, connection: "plant1-mqtt", receivedAt };
  const inBrowser = await evaluateSample(mapping, sample);
  const inSidecar = await runMapping(
    mapping,
    { ...sample, receivedAt: new Date(receivedAt), revision: 3 },
    async (text) => createHash("sha256").update(text, "utf8").digest("hex"),
  );
  expect(inSidecar.ok).toBe(true);
  expect(inBrowser).toEqual({ status: "events", events: (inSidecar as { events: unknown[] }).events });
});

test("the panel shows the real CloudEvent with its deterministic id, the same on every evaluation", async () => {
  const record = fakeRecord({ ...KEPWARE_LIKE, sample_payload: PAYLOAD }, 5);
  const { fixture } = await mountComponent(MappingTry, server(), { name: "sample_payload", record }, withRealEvaluator);
  await until(() => fixture.querySelector(".o_sfb_result_id") !== null);
  const id = fixture.querySelector(".o_sfb_result_id")?.textContent ?? "";
  expect(id).toMatch(/^sfb-m-[0-9a-f]{40}$/);
  const json = fixture.querySelector(".o_sfb_result_event .o_sfb_json")?.textContent ?? "";
  expect(JSON.parse(json)).toMatchObject({
    specversion: "1.0",
    source: "plant1/line1/press-01",
    type: "production.reported",
    time: "2025-12-02T08:00:00.000Z",
    data: { order: "WH/MO/00042", qty_good: 12 },
    connection: "plant1-mqtt",
    mappingrev: 3,
  });
  // Re-spaced payload, same declared id fields (source, time): the same id, so a resend is a duplicate.
  const textarea = fixture.querySelector(".o_sfb_try_sample") as HTMLTextAreaElement;
  textarea.value = `${PAYLOAD} `;
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  await until(() => fixture.querySelector(".o_sfb_result_busy") === null);
  expect(fixture.querySelector(".o_sfb_result_id")?.textContent).toBe(id);
});

test("an expression that never ends is stopped by the sidecar's time limit; the form stays usable", async () => {
  const looping = { ...KEPWARE_LIKE, expression: "($f := function($n){ $n + $f($n) }; $f(1))", sample_payload: "{}" };
  const record = fakeRecord(looping, 5);
  const { fixture } = await mountComponent(MappingTry, server(), { name: "sample_payload", record }, withRealEvaluator);
  await until(() => fixture.querySelector(".o_sfb_result_error") !== null);
  expect(fixture.querySelector(".o_sfb_result_error")?.textContent).toMatch(/stopped/);
  const spin = { ...KEPWARE_LIKE, expression: "($loop := function(){ $loop() }; [1..10000000].$string())" };
  await record.update({ expression: spin.expression });
  await until(() => /stopped|exceeded/.test(fixture.querySelector(".o_sfb_result_error")?.textContent ?? ""));
  const textarea = fixture.querySelector(".o_sfb_try_sample") as HTMLTextAreaElement;
  textarea.value = '{"still": "typing"}';
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  expect(textarea.value).toBe('{"still": "typing"}');
});

test("a values mapping shows the observations for the rules", async () => {
  const uns = {
    ...KEPWARE_LIKE,
    kind: "values",
    match: "plant1/line1/+/GoodCount",
    payload_format: "text",
    expression: '{"address": $topic, "value": $number($)}',
    id_fields: "",
    sample_payload: "120",
  };
  const record = fakeRecord(uns, 5);
  const { fixture } = await mountComponent(MappingTry, server(), { name: "sample_payload", record }, withRealEvaluator);
  const topic = fixture.querySelector(".o_sfb_try_topic") as HTMLInputElement;
  topic.value = "plant1/line1/press-01/GoodCount";
  topic.dispatchEvent(new Event("input", { bubbles: true }));
  await until(() => fixture.querySelector(".o_sfb_result_values") !== null);
  const cells = [...fixture.querySelectorAll(".o_sfb_result_values tbody td")].map((td) => td.textContent);
  expect(cells.slice(0, 2)).toEqual(["plant1/line1/press-01/GoodCount", "120"]);
  expect(fixture.querySelector(".o_sfb_result_summary")?.textContent).toContain("1 value for the rules");
  expect(fixture.querySelector(".o_sfb_retry_panel")).toBeNull();
});

test("without its module (no URL in a unit test) the panel says the evaluator could not be loaded", async () => {
  const record = fakeRecord({ ...KEPWARE_LIKE, sample_payload: PAYLOAD }, 5);
  const { fixture } = await mountComponent(MappingTry, server(), { name: "sample_payload", record });
  await until(() => fixture.querySelector(".o_sfb_result_error") !== null);
  expect(fixture.querySelector(".o_sfb_result_error")?.textContent).toMatch(
    /^The mapping evaluator could not be loaded \(\): /,
  );
});
