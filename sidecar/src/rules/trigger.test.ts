import { describe, expect, it } from "vitest";
import { ADDR, obs, triggerRule } from "../../test/support/rules/rules.fixtures.ts";
import { RuleEngine } from "./engine.ts";

function engine(state: Record<string, unknown> = {}) {
  return new RuleEngine({ connection: "c1", revision: 1, rules: [triggerRule()], statePrefix: "", state });
}

describe("trigger rule", () => {
  it("a rising edge emits the event with fields read from other nodes in the same scan", () => {
    const e = engine();
    e.observe([obs(ADDR.completed, false, 0)]);
    // Notifications arrive in item order, the trigger first: fields are still applied before it.
    const r = e.observe([obs(ADDR.completed, true, 5), obs(ADDR.order, "WH/MO/00042", 5), obs(ADDR.good, 120, 5)]);
    expect(r.events).toEqual([
      expect.objectContaining({
        type: "workorder.completed",
        subject: "WH/MO/00042",
        data: { operation: "Pressing", order: "WH/MO/00042", qty_good: 120 },
      }),
    ]);
  });

  it("staying high, or falling, emits nothing; the next rising edge fires again", () => {
    const e = engine();
    e.observe([obs(ADDR.order, 42, 0), obs(ADDR.completed, 0, 0)]);
    expect(e.observe([obs(ADDR.completed, 1, 1)]).events[0]?.data.order).toBe("42");
    expect(e.observe([obs(ADDR.completed, 1, 2)]).events).toEqual([]);
    expect(e.observe([obs(ADDR.completed, 0, 3)]).events).toEqual([]);
    expect(e.observe([obs(ADDR.completed, 1, 4)]).events).toHaveLength(1);
  });

  it("a restart that finds the trigger still high does not fire again", () => {
    const e1 = engine();
    e1.observe([obs(ADDR.completed, false, 0)]);
    const fired = e1.observe([obs(ADDR.completed, true, 1)]);
    expect(fired.events).toHaveLength(1);
    expect(engine(fired.state).observe([obs(ADDR.completed, true, 1)]).events).toEqual([]);
  });

  it("a non-boolean value is refused with a reason", () => {
    expect(engine().observe([obs(ADDR.completed, "maybe", 0)]).invalid[0]).toContain("not a boolean");
  });
});
