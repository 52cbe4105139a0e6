// The `serials` array of tracked events (workorder.completed, production.reported,
// material.consumed) against the shared schema, for every class of array: empty,
// duplicated, unicode (astral, combining, lone surrogates), at and past the limits.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_BYTES, MAX_SERIAL_CHARS, MAX_SERIALS_PER_EVENT } from "./contract.ts";
import { checkEvent, validatePayload } from "./validate.ts";

const TRACKED = ["workorder.completed", "production.reported", "material.consumed"] as const;
const where = { connection: "line1", origin: "plant1/line1/press-01", receivedAt: new Date("2026-12-02T08:00:00Z") };

function eventWith(type: (typeof TRACKED)[number], serials: unknown, lot?: unknown) {
  const data: Record<string, unknown> =
    type === "material.consumed"
      ? { order: "WH/MO/00042", material: "RM-SENSOR", qty: 2 }
      : { order: "WH/MO/00042", qty_good: 2 };
  if (serials !== undefined) data.serials = serials;
  if (lot !== undefined) data.lot = lot;
  return { specversion: "1.0", id: "e1", source: "plant1/line1/press-01", type, time: "2026-12-02T08:00:00Z", data };
}

/** The rule written out independently of the schema: what a serial list must be. */
function serialsAreValid(serials: string[]): boolean {
  const codePoints = (text: string) => [...text].length;
  return (
    serials.length >= 1 &&
    serials.length <= MAX_SERIALS_PER_EVENT &&
    serials.every((serial) => codePoints(serial) >= 1 && codePoints(serial) <= MAX_SERIAL_CHARS) &&
    new Set(serials).size === serials.length
  );
}

const serialText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 8 }), // lone surrogates included
  fc.constantFrom(
    "",
    " ",
    "é",
    "e\u0301",
    "😀",
    "\ud800",
    "x".repeat(MAX_SERIAL_CHARS),
    "x".repeat(MAX_SERIAL_CHARS + 1),
  ),
);
const serialLists = fc.oneof(
  fc.array(serialText, { maxLength: 6 }),
  // Duplicates on purpose: a list and some of its own items again.
  fc
    .array(serialText, { minLength: 1, maxLength: 4 })
    .chain((list) => fc.subarray(list, { minLength: 1 }).map((again) => [...list, ...again])),
);

describe("serials in tracked events", () => {
  it("the contract's limits are the schema's", () => {
    const schema = JSON.parse(
      readFileSync(
        new URL("../../../odoo_addon/shopfloor_bridge/schemas/cloudevent.schema.json", import.meta.url),
        "utf8",
      ),
    );
    for (const def of ["workorder_completed", "production_reported", "material_consumed"]) {
      const serials = schema.$defs[def].properties.serials;
      expect(serials.maxItems, def).toBe(MAX_SERIALS_PER_EVENT);
      expect(serials.items.maxLength, def).toBe(MAX_SERIAL_CHARS);
      expect(serials.uniqueItems, def).toBe(true);
      expect(schema.$defs[def].properties.lot.type, def).toBe("string");
    }
  });

  it("accepts exactly the lists of unique, non-empty, bounded texts, on every tracked type", () => {
    fc.assert(
      fc.property(fc.constantFrom(...TRACKED), serialLists, (type, serials) => {
        const checked = checkEvent(eventWith(type, serials));
        expect(checked.ok).toBe(serialsAreValid(serials));
        if (!checked.ok) expect(checked.reason).toMatch(/\/data\/serials/);
      }),
      { numRuns: 400 },
    );
  });

  it("rejects anything but a list of texts, naming data.serials", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TRACKED),
        fc.oneof(
          fc.string(),
          fc.integer(),
          fc.constant(null),
          fc.dictionary(fc.string(), fc.string()),
          fc.array(fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)), { minLength: 1 }),
        ),
        (type, serials) => {
          const checked = checkEvent(eventWith(type, serials));
          expect(checked.ok).toBe(false);
          if (!checked.ok) expect(checked.reason).toMatch(/\/data\/serials/);
        },
      ),
    );
  });

  it("rejects an empty list and a serial twice, with the reason", () => {
    const empty = checkEvent(eventWith("workorder.completed", []));
    expect(empty.ok === false && empty.reason).toMatch(/serials must NOT have fewer than 1 items/);
    const twice = checkEvent(eventWith("material.consumed", ["SN-1", "SN-2", "SN-1"]));
    expect(twice.ok === false && twice.reason).toMatch(/serials must NOT have duplicate items/);
  });

  it("takes the most serials an event may carry and refuses one more", () => {
    const serials = Array.from({ length: MAX_SERIALS_PER_EVENT }, (_unused, index) => `SN-${index}`);
    expect(checkEvent(eventWith("workorder.completed", serials)).ok).toBe(true);
    const over = checkEvent(eventWith("workorder.completed", [...serials, "SN-extra"]));
    expect(over.ok === false && over.reason).toMatch(/must NOT have more than 10000 items/);
  });

  it("a list within the schema but past the event size limit is kept as rejected input with its bytes", () => {
    const serials = Array.from({ length: 1200 }, (_unused, index) => `${index}`.padStart(MAX_SERIAL_CHARS, "S"));
    const payload = Buffer.from(JSON.stringify(eventWith("production.reported", serials)));
    expect(payload.byteLength).toBeGreaterThan(MAX_EVENT_BYTES);
    const result = validatePayload(payload, where);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejected.reason).toMatch(/oversize/);
      expect(result.rejected.raw_size).toBe(payload.byteLength);
    }
  });

  it("a lot is a non-empty text on every tracked type", () => {
    for (const type of TRACKED) {
      expect(checkEvent(eventWith(type, undefined, "LOT-2026-12")).ok, type).toBe(true);
      expect(checkEvent(eventWith(type, undefined, "")).ok, type).toBe(false);
      expect(checkEvent(eventWith(type, undefined, 42)).ok, type).toBe(false);
    }
  });
});
