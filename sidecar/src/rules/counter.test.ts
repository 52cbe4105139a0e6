import { describe, expect, it } from "vitest";
import { ADDR, counterRule, obs, scrapRule, T0 } from "../../test/support/rules/rules.fixtures.ts";
import { counterDelta } from "./counter.ts";
import { RuleEngine } from "./engine.ts";

function engine(params: Record<string, unknown> = {}, state: Record<string, unknown> = {}) {
  return new RuleEngine({
    connection: "line1-opcua",
    revision: 7,
    rules: [counterRule(params), scrapRule()],
    statePrefix: "opcua/line1-opcua/",
    state,
  });
}

describe("counterDelta", () => {
  it("counts up, wraps near wrap_at and treats other decreases as a reset to zero", () => {
    expect(counterDelta(10, 15, undefined)).toEqual({ delta: 5, reset: false });
    expect(counterDelta(65530, 4, 65536)).toEqual({ delta: 10, reset: false });
    expect(counterDelta(500, 3, undefined)).toEqual({ delta: 3, reset: true });
    expect(counterDelta(500, 3, 65536)).toEqual({ delta: 3, reset: true });
  });
});

describe("counter rule", () => {
  it("first value is the baseline; each increase becomes production.reported with the order read at that moment", () => {
    const e = engine();
    const first = e.observe([obs(ADDR.order, "WH/MO/00042", 0), obs(ADDR.good, 100, 0)]);
    expect(first.events).toEqual([]);
    expect(first.state["opcua/line1-opcua/rule/1"]).toEqual({ kind: "counter", baseline: 100 });

    const r = e.observe([obs(ADDR.good, 103, 10)]);
    expect(r.events).toHaveLength(1);
    const [ev] = r.events;
    expect(ev).toMatchObject({
      specversion: "1.0",
      type: "production.reported",
      source: "plant1/line1/press-03",
      subject: "WH/MO/00042",
      time: new Date(T0 + 10_000).toISOString(),
      observedtime: new Date(T0 + 10_050).toISOString(),
      connection: "line1-opcua",
      mappingrev: 7,
      data: { order: "WH/MO/00042", qty_good: 3 },
    });
    expect(r.state["opcua/line1-opcua/rule/1"]).toEqual({ kind: "counter", baseline: 103 });
  });

  it("a reset to zero reports what was counted after it, not a negative delta", () => {
    const e = engine();
    e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 500, 0)]);
    const r = e.observe([obs(ADDR.good, 0, 5), obs(ADDR.good, 4, 6)]);
    expect(r.events.map((x) => x.data.qty_good)).toEqual([4]);
    expect(e.persistedState()["opcua/line1-opcua/rule/1"]).toEqual({ kind: "counter", baseline: 4 });
  });

  it("wraps at wrap_at", () => {
    const e = engine({ wrap_at: 1000 });
    e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 995, 0)]);
    const r = e.observe([obs(ADDR.good, 3, 1)]);
    expect(r.events.map((x) => x.data.qty_good)).toEqual([8]);
  });

  it("a value at or above wrap_at, or not an integer, is refused with a reason and changes nothing", () => {
    const e = engine({ wrap_at: 1000 });
    e.observe([obs(ADDR.good, 10, 0)]);
    const r = e.observe([obs(ADDR.good, 1000, 1), obs(ADDR.good, "abc", 2), obs(ADDR.good, -3, 3)]);
    expect(r.events).toEqual([]);
    expect(r.invalid).toHaveLength(3);
    expect(r.invalid[0]).toContain("not below wrap_at 1000");
    expect(e.observe([obs(ADDR.good, 12, 4)]).events[0]?.data.qty_good).toBe(2);
  });

  it("aggregates deltas into windows and closes a quiet window on flush", () => {
    const e = engine({ window_ms: 60_000 });
    e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 0, 0)]);
    expect(e.observe([obs(ADDR.good, 2, 1), obs(ADDR.good, 5, 30)]).events).toEqual([]);
    const closing = e.observe([obs(ADDR.good, 9, 61)]);
    expect(closing.events.map((x) => x.data.qty_good)).toEqual([9]);
    expect(closing.events[0]?.time).toBe(new Date(T0 + 61_000).toISOString());
    e.observe([obs(ADDR.good, 11, 70)]);
    expect(e.flush(new Date(T0 + 100_000)).events).toEqual([]);
    const flushed = e.flush(new Date(T0 + 131_000));
    expect(flushed.events.map((x) => x.data.qty_good)).toEqual([2]);
    expect(flushed.state["opcua/line1-opcua/rule/1"]).toEqual({ kind: "counter", baseline: 11 });
  });

  it("an order change closes the open window: pending parts stay with the order they were made for", () => {
    const e = engine({ window_ms: 60_000 });
    e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 0, 0)]);
    e.observe([obs(ADDR.good, 7, 5)]);
    const r = e.observe([obs(ADDR.order, "MO2", 6), obs(ADDR.good, 0, 7), obs(ADDR.good, 2, 8)]);
    expect(r.events.map((x) => [x.data.order, x.data.qty_good])).toEqual([["MO1", 7]]);
    expect(e.flush(new Date(T0 + 200_000)).events.map((x) => [x.data.order, x.data.qty_good])).toEqual([["MO2", 2]]);
  });

  it("a restart from the persisted baseline reports parts counted while down once, and re-reading reports nothing", () => {
    const e1 = engine();
    e1.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 10, 0)]);
    const before = e1.observe([obs(ADDR.good, 12, 1)]);
    // The sink commits state with the events; a new engine loads it.
    const e2 = engine({}, { ...e1.persistedState(), ...before.state });
    const reread = e2.observe([obs(ADDR.order, "MO1", 1), obs(ADDR.good, 12, 1)]);
    expect(reread.events).toEqual([]);
    const after = e2.observe([obs(ADDR.good, 20, 30)]);
    expect(after.events.map((x) => x.data.qty_good)).toEqual([8]);
  });

  it("pending window deltas not yet committed are recovered after a restart", () => {
    const e1 = engine({ window_ms: 60_000 });
    e1.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 10, 0)]);
    e1.observe([obs(ADDR.good, 15, 5)]); // pending 5, not emitted: state still says baseline 10
    expect(e1.persistedState()["opcua/line1-opcua/rule/1"]).toEqual({ kind: "counter", baseline: 10 });
    const e2 = engine({ window_ms: 0 }, e1.persistedState());
    expect(e2.observe([obs(ADDR.order, "MO1", 90), obs(ADDR.good, 15, 5)]).events[0]?.data.qty_good).toBe(5);
  });

  it("scrap counters become scrap.reported with qty and the reason code", () => {
    const e = new RuleEngine({
      connection: "c",
      revision: 1,
      rules: [scrapRule({ reason_code: "DEFECT" })],
      statePrefix: "",
      state: {},
    });
    e.observe([obs(ADDR.order, "MO9", 0), obs(ADDR.scrap, 0, 0)]);
    const r = e.observe([obs(ADDR.scrap, 2, 1)]);
    expect(r.events[0]).toMatchObject({
      type: "scrap.reported",
      data: { qty: 2, order: "MO9", reason_code: "DEFECT" },
    });
  });

  it("event ids are deterministic: the same change read twice has the same id, another change another id", () => {
    const run = () => {
      const e = engine();
      e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.good, 1, 0)]);
      return [...e.observe([obs(ADDR.good, 2, 1)]).events, ...e.observe([obs(ADDR.good, 3, 2)]).events].map(
        (x) => x.id,
      );
    };
    const [a, b] = run();
    expect(run()).toEqual([a, b]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^sfb-[0-9a-f]{40}$/);
  });

  it("counts observations of addresses no rule reads as unmapped", () => {
    const r = engine().observe([obs(ADDR.temperature, 71.5, 0), obs(ADDR.good, 1, 0)]);
    expect(r.unmapped).toBe(1);
  });
});
