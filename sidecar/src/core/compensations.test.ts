// The floor-side compensation types (production.corrected, scrap.reversed,
// consumption.reversed) in the sidecar's contract and validation: which
// quantities pass (a correction is signed, a return is positive), and that
// anything else is rejected naming the field, with the raw bytes kept.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADDR, obs, triggerRule } from "../../test/support/rules/rules.fixtures.ts";
import { RuleEngine } from "../rules/engine.ts";
import { EVENT_TYPES } from "./contract.ts";
import { checkEvent, validatePayload } from "./validate.ts";

const where = { connection: "line1", origin: "shopfloor/line1/press", receivedAt: new Date("2026-11-22T08:00:00Z") };
const LIMIT = 1_000_000_000;

function event(type: string, data: Record<string, unknown>) {
  return { specversion: "1.0", id: "c-1", source: "plant1/line1/press-01", type, time: "2026-11-22T08:00:00Z", data };
}
const correction = (qty: unknown, extra: Record<string, unknown> = {}) =>
  event("production.corrected", { order: "WH/MO/00042", qty, ...extra });
const scrapReturn = (data: Record<string, unknown>) => event("scrap.reversed", data);
const consumptionReturn = (qty: unknown, extra: Record<string, unknown> = {}) =>
  event("consumption.reversed", { order: "WH/MO/00042", material: "STEEL-2MM", qty, ...extra });

/** Finite doubles of every magnitude and sign, as a PLC or an MES may send them. */
const anyNumber = fc.double({ noNaN: true, noDefaultInfinity: true });
const units = fc.constantFrom("Units", "KG", "g", "Dozens", "m", "L");

describe("compensation event types", () => {
  it("are part of the contract", () => {
    for (const type of ["production.corrected", "scrap.reversed", "consumption.reversed"]) {
      expect(EVENT_TYPES).toContain(type);
    }
  });

  it("production.corrected: any signed quantity within a billion either way passes, in any unit", () => {
    fc.assert(
      fc.property(anyNumber, units, anyNumber, (qty, uom, qtyScrap) => {
        const verdict = checkEvent(correction(qty, { uom, qty_scrap: qtyScrap }));
        const inRange = (value: number) => value >= -LIMIT && value <= LIMIT;
        expect(verdict.ok).toBe(inRange(qty) && inRange(qtyScrap));
        if (!verdict.ok) expect(verdict.reason).toMatch(/\/data\/qty/);
      }),
      { numRuns: 500 },
    );
  });

  it("production.corrected: zero and negative zero pass the contract (Odoo refuses a correction of nothing)", () => {
    expect(checkEvent(correction(0)).ok).toBe(true);
    expect(checkEvent(correction(-0)).ok).toBe(true);
  });

  it("returns (scrap.reversed, consumption.reversed) take a positive quantity only", () => {
    fc.assert(
      fc.property(anyNumber, units, (qty, uom) => {
        const positive = qty > 0 && qty <= LIMIT;
        const scrap = checkEvent(scrapReturn({ scrap_event: "01JDZ7M3B6", qty, uom }));
        const consumption = checkEvent(consumptionReturn(qty, { uom }));
        expect(scrap.ok).toBe(positive);
        expect(consumption.ok).toBe(positive);
        if (!scrap.ok) expect(scrap.reason).toMatch(/\/data\/qty/);
        if (!consumption.ok) expect(consumption.reason).toMatch(/\/data\/qty/);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ["NaN", "NaN"],
    ["Infinity", "Infinity"],
    ["-Infinity", "-Infinity"],
    ["1e400", "1e400"],
    ["-1e400", "-1e400"],
  ])("rejects a correction of %s with the raw bytes kept", (_name, literal) => {
    const text = JSON.stringify(correction(424242.125)).replace("424242.125", literal);
    const result = validatePayload(Buffer.from(text), where);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(Buffer.from(result.rejected.raw_b64, "base64").toString()).toBe(text);
      expect(result.rejected.reason).toMatch(/not JSON|\/data\/qty/);
    }
  });

  it("a correction's quantity must be a number, not text", () => {
    const result = checkEvent(correction("-3"));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/\/data\/qty must be number/);
  });

  it("scrap.reversed names its scrap by event id, or by order and quantity", () => {
    expect(checkEvent(scrapReturn({ scrap_event: "01JDZ7M3B6" })).ok).toBe(true);
    expect(checkEvent(scrapReturn({ order: "WH/MO/00042", material: "M8", qty: 3 })).ok).toBe(true);
    for (const data of [{}, { order: "WH/MO/00042" }, { qty: 3 }, { material: "M8", qty: 3 }]) {
      const result = checkEvent(scrapReturn(data));
      expect(result.ok, JSON.stringify(data)).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/scrap_event|order|qty/);
    }
    const long = checkEvent(scrapReturn({ scrap_event: "x".repeat(257) }));
    expect(long.ok).toBe(false);
  });

  it("consumption.reversed needs order, material and quantity; serials are a list", () => {
    for (const field of ["order", "material", "qty"]) {
      const data: Record<string, unknown> = { order: "WH/MO/00042", material: "STEEL-2MM", qty: 1 };
      delete data[field];
      const result = checkEvent(event("consumption.reversed", data));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toContain(field);
    }
    expect(checkEvent(consumptionReturn(2, { serials: ["SN-1", "SN-2"] })).ok).toBe(true);
    const notList = checkEvent(consumptionReturn(1, { serials: "SN-1" }));
    expect(notList.ok).toBe(false);
    if (!notList.ok) expect(notList.reason).toMatch(/serials.*must be array/);
  });

  it("a PLC trigger rule derives them like any type, with the rule's unit, and they pass validation", () => {
    for (const [type, qty] of [
      ["production.corrected", -3],
      ["consumption.reversed", 2],
    ] as const) {
      const rule = {
        ...triggerRule(),
        event_type: type,
        params: { fields: { order: ADDR.order, qty: ADDR.good }, static: { material: "STEEL-2MM" }, unit: "KG" },
      };
      const engine = new RuleEngine({ connection: "c1", revision: 1, rules: [rule], statePrefix: "", state: {} });
      engine.observe([obs(ADDR.completed, false, 0)]);
      const { events } = engine.observe([
        obs(ADDR.completed, true, 5),
        obs(ADDR.order, "WH/MO/00042", 5),
        obs(ADDR.good, qty, 5),
      ]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type, data: { order: "WH/MO/00042", qty, uom: "KG" } });
      expect(checkEvent(events[0]).ok).toBe(true);
    }
  });
});
