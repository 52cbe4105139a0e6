import { describe, expect, it } from "vitest";
import { ADDR, obs, stateRule, T0 } from "../../test/support/rules/rules.fixtures.ts";
import { RuleEngine } from "./engine.ts";

function engine(state: Record<string, unknown> = {}, params: Record<string, unknown> = {}) {
  return new RuleEngine({ connection: "c1", revision: 2, rules: [stateRule(params)], statePrefix: "p/", state });
}

describe("state rule", () => {
  it("down opens a downtime with the reason read from the reason node; running closes the same downtime", () => {
    const e = engine();
    expect(e.observe([obs(ADDR.order, "MO1", 0), obs(ADDR.state, 1, 0)]).events).toEqual([]);
    // PLC writes the reason and the state in the same scan.
    const down = e.observe([obs(ADDR.state, 3, 100), obs(ADDR.reason, "JAM", 100)]);
    expect(down.events).toHaveLength(1);
    const started = down.events[0];
    expect(started).toMatchObject({
      type: "downtime.started",
      time: new Date(T0 + 100_000).toISOString(),
      data: { reason_code: "JAM", order: "MO1" },
    });
    const downtimeId = started?.data.downtime_id;
    expect(downtimeId).toMatch(/^sfb-/);
    // The reason tag is cleared while still down: the open downtime keeps its reason.
    e.observe([obs(ADDR.reason, "", 150)]);
    const up = e.observe([obs(ADDR.state, 1, 400)]);
    expect(up.events).toEqual([
      expect.objectContaining({
        type: "downtime.ended",
        time: new Date(T0 + 400_000).toISOString(),
        data: { reason_code: "JAM", downtime_id: downtimeId, order: "MO1" },
      }),
      // The downtime ended the order's productive log: work resumes with it.
      expect.objectContaining({
        type: "workorder.resumed",
        time: new Date(T0 + 400_000).toISOString(),
        data: { order: "MO1" },
      }),
    ]);
  });

  it("a value mapped to down:CODE uses that code; no reason anywhere falls back to default_reason", () => {
    const e = engine({}, { default_reason: "UNPLANNED" });
    e.observe([obs(ADDR.state, 1, 0)]);
    expect(e.observe([obs(ADDR.state, 5, 1)]).events[0]?.data.reason_code).toBe("MATERIAL");
    e.observe([obs(ADDR.state, 1, 2)]);
    expect(e.observe([obs(ADDR.state, 3, 3)]).events[0]?.data.reason_code).toBe("UNPLANNED");
  });

  it("setup emits setup.started/ended; down straight to setup ends the downtime and starts setup at the same time", () => {
    const e = engine();
    e.observe([obs(ADDR.order, "MO2", 0), obs(ADDR.state, 3, 0), obs(ADDR.reason, "JAM", 0)]);
    const r = e.observe([obs(ADDR.state, 4, 60)]);
    expect(r.events.map((x) => x.type)).toEqual(["downtime.ended", "setup.started"]);
    expect(new Set(r.events.map((x) => x.time)).size).toBe(1);
    expect(new Set(r.events.map((x) => x.id)).size).toBe(2);
    expect(e.observe([obs(ADDR.state, 1, 120)]).events).toEqual([
      expect.objectContaining({ type: "setup.ended", data: { order: "MO2" } }),
      expect.objectContaining({ type: "workorder.resumed", data: { order: "MO2" } }),
    ]);
  });

  it("resumes only from down or setup with an order known, not from idle", () => {
    const e = engine();
    e.observe([obs(ADDR.order, "MO3", 0), obs(ADDR.state, 3, 0), obs(ADDR.reason, "JAM", 0)]);
    const up = e.observe([obs(ADDR.state, 1, 30)]).events;
    expect(up.map((x) => [x.type, x.data])).toEqual([
      ["downtime.ended", expect.anything()],
      ["workorder.resumed", { order: "MO3" }],
    ]);
    // Idle to running is a start, which the Started trigger reports.
    e.observe([obs(ADDR.state, 2, 40)]);
    expect(e.observe([obs(ADDR.state, 1, 50)]).events).toEqual([]);

    const noOrder = engine();
    noOrder.observe([obs(ADDR.state, 4, 0)]);
    expect(noOrder.observe([obs(ADDR.state, 1, 10)]).events.map((x) => x.type)).toEqual(["setup.ended"]);
  });

  it("idle is neither downtime nor setup; an unmapped value is refused with a reason", () => {
    const e = engine();
    e.observe([obs(ADDR.state, 1, 0)]);
    expect(e.observe([obs(ADDR.state, 2, 1)]).events).toEqual([]);
    const r = e.observe([obs(ADDR.state, 99, 2)]);
    expect(r.events).toEqual([]);
    expect(r.invalid[0]).toContain("value 99 is not in value_map");
  });

  it("a restart that finds the machine still down emits nothing; the later end carries the original downtime id", () => {
    const e1 = engine();
    e1.observe([obs(ADDR.state, 1, 0)]);
    const down = e1.observe([obs(ADDR.reason, "JAM", 10), obs(ADDR.state, 3, 10)]);
    const e2 = engine(down.state);
    expect(e2.observe([obs(ADDR.state, 3, 10), obs(ADDR.reason, "JAM", 10)]).events).toEqual([]);
    const end = e2.observe([obs(ADDR.state, 1, 50)]);
    expect(end.events[0]?.data).toMatchObject({ reason_code: "JAM", downtime_id: down.events[0]?.data.downtime_id });
  });
});
