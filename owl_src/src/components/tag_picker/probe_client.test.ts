// @vitest-environment jsdom
// The form's side of a probe over a scripted orm: ask, poll until final, and
// never wait longer than the server's own deadlines. The real chain runs in
// test/browser/tag_picker.spec.ts and sidecar/src/probe/probe.int.test.ts.
import { describe, expect, test, vi } from "vitest";
import { FakeOrm } from "../../../test/support/fake_services.ts";
import { askProbe, many2oneId, STATUS_POLL_MS, valueText } from "./probe_client.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

/** The states `status` answers, one per poll, the last one repeated. */
function ormAnswering(states: Record<string, unknown>[], request: unknown = { id: 5, pickup_s: 10, answer_s: 30 }) {
  let polls = 0;
  return new FakeOrm((_model, method) => {
    if (method === "request") {
      if (request instanceof Error) throw request;
      return request;
    }
    const state = states[Math.min(polls++, states.length - 1)];
    return [{ id: 5, result: false, error: "", error_code: "", answer_ms: 0, ...state }];
  });
}

describe("askProbe", () => {
  test("asks once, polls the status until the answer is there", async () => {
    const orm = ormAnswering([{ state: "pending" }, { state: "taken" }, { state: "done", result: 42, answer_ms: 310 }]);
    const waits: number[] = [];
    const outcome = await askProbe(orm, 3, "read", "ns=2;s=X", { sleep: async (ms) => void waits.push(ms) });
    expect(outcome).toEqual({ ok: true, result: 42, answerMs: 310 });
    expect(orm.callsTo("request")[0]?.args).toEqual([3, "read", "ns=2;s=X"]);
    expect(orm.callsTo("status")).toHaveLength(3);
    expect(waits).toEqual([STATUS_POLL_MS, STATUS_POLL_MS]);
  });

  test("a failed or expired request is an outcome with the server's sentence and code", async () => {
    for (const state of ["failed", "expired"]) {
      const orm = ormAnswering([{ state, error: "No answer from the sidecar of connection c1", error_code: "" }]);
      expect(await askProbe(orm, 3, "browse", "", { sleep: async () => {} })).toEqual({
        ok: false,
        error: "No answer from the sidecar of connection c1",
        code: state,
      });
    }
  });

  test("a refused request (not a manager, a kind that cannot answer) is an outcome too", async () => {
    const refusal = Object.assign(new Error("RPC_ERROR"), {
      data: { message: "Only Shop Floor Bridge managers may browse or read the floor." },
    });
    const outcome = await askProbe(ormAnswering([], refusal), 3, "browse", "");
    expect(outcome).toEqual({
      ok: false,
      error: "Only Shop Floor Bridge managers may browse or read the floor.",
      code: "refused",
    });
  });

  test("gives up past the server's deadlines when the server never says", async () => {
    let now = 0;
    const orm = ormAnswering([{ state: "pending" }], { id: 5, pickup_s: 1, answer_s: 1 });
    const outcome = await askProbe(orm, 3, "read", "x", {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    expect(outcome).toMatchObject({ ok: false, code: "timeout" });
    expect(now).toBeGreaterThan(7_000);
    expect(now).toBeLessThan(7_000 + 2 * STATUS_POLL_MS);
  });

  test("stops polling once the picker is closed", async () => {
    let closed = false;
    const orm = ormAnswering([{ state: "pending" }]);
    const outcome = await askProbe(orm, 3, "read", "x", {
      isCancelled: () => closed,
      sleep: async () => {
        closed = true;
      },
    });
    expect(outcome).toMatchObject({ ok: false, code: "cancelled" });
    expect(orm.callsTo("status")).toHaveLength(1);
  });
});

test("values as the picker shows them", () => {
  expect(valueText("Ä")).toBe("Ä");
  expect(valueText(12.5)).toBe("12.5");
  expect(valueText(false)).toBe("false");
  expect(valueText(null)).toBe("");
  expect(valueText({ base64: "AQID" })).toBe("3 bytes");
  expect(valueText([1, 2])).toBe("[1,2]");
  expect(valueText("x".repeat(300))).toHaveLength(300);
  expect(valueText(Array(300).fill(1))).toHaveLength(200);
});

test("a many2one's id in every shape the record gives it", () => {
  expect(many2oneId({ id: 4, display_name: "L1" })).toBe(4);
  expect(many2oneId([4, "L1"])).toBe(4);
  expect(many2oneId(4)).toBe(4);
  expect(many2oneId(false)).toBe(false);
});
