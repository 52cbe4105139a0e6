// @vitest-environment jsdom
// Every value Odoo returns for a field, through the screens' formatters: never
// "false", "null", "undefined", "NaN" or "[object Object]" on a screen.
import fc from "fast-check";
import { afterEach, expect, test, vi } from "vitest";

vi.mock("./web.ts", () => import("../../test/support/fake_web.ts"));

import { DE_DE, EN_US, setLocalization } from "../../test/support/fake_web.ts";
import { displayTime, displayValue, NO_VALUE } from "./format.ts";
import { claimedType, eventTypeLabel } from "./states.ts";

afterEach(() => setLocalization(EN_US));

const RAW = ["false", "true", "null", "undefined", "NaN", "Infinity", "-Infinity", "[object Object]"];
/** Text a field may hold, except text that is itself one of the raw words (that is data, shown as is). */
const text = fc.string({ maxLength: 12 }).filter((s) => !RAW.includes(s.trim()));
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 1e21, 5e-7));
const empty = fc.constantFrom<unknown>(false, null, undefined, "", "   ");
const id = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** What read/search_read (Many2one as [id, name]), web_read (as {id, display_name}) and methods return. */
const { value } = fc.letrec<{ value: unknown; scalar: unknown }>((tie) => ({
  scalar: fc.oneof(empty, text, number, fc.boolean()),
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("scalar"),
    fc.tuple(id, text), // Many2one from read
    fc.record({ id, display_name: fc.oneof(text, fc.constant(false)) }), // Many2one from web_read
    fc.array(id, { maxLength: 5 }), // x2many ids
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(text, tie("value"), { maxKeys: 3 }), // a Json field, a method's dict
  ),
}));

function assertReadable(shown: string): void {
  expect(typeof shown).toBe("string");
  expect(shown.trim()).not.toBe("");
  expect(RAW).not.toContain(shown);
  expect(shown).not.toContain("[object Object]");
}

test("any field value Odoo can return is shown as readable text, never as a raw JS/Python value", () => {
  for (const l10n of [EN_US, DE_DE]) {
    setLocalization(l10n);
    fc.assert(fc.property(value, (v) => assertReadable(displayValue(v))));
  }
});

test("values without text of their own show no raw word at all, nested or not", () => {
  const bare = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      empty,
      number,
      fc.boolean(),
      fc.array(tie("v"), { maxLength: 4 }),
      fc.record({ id, display_name: fc.constantFrom<unknown>(false, null, undefined) }),
    ),
  }));
  fc.assert(
    fc.property(bare.v, (v) => {
      const shown = displayValue(v);
      assertReadable(shown);
      expect(shown).not.toMatch(/\b(false|true|null|undefined|NaN|Infinity)\b/);
    }),
  );
});

test("Many2ones show their name, empty fields a dash, numbers Odoo's separators", () => {
  expect(displayValue([7, "WH/MO/00012"])).toBe("WH/MO/00012");
  expect(displayValue({ id: 7, display_name: "Assembly line 1" })).toBe("Assembly line 1");
  expect(displayValue(false)).toBe(NO_VALUE);
  expect(displayValue(null)).toBe(NO_VALUE);
  expect(displayValue(undefined)).toBe(NO_VALUE);
  expect(displayValue("")).toBe(NO_VALUE);
  expect(displayValue(Number.NaN)).toBe(NO_VALUE);
  expect(displayValue({})).toBe(NO_VALUE);
  expect(displayValue([])).toBe(NO_VALUE);
  expect(displayValue([false, null])).toBe(NO_VALUE);
  expect(displayValue(true)).toBe("Yes");
  expect(displayValue(1234)).toBe("1,234");
  expect(displayValue(12.5)).toBe("12.5");
  expect(displayValue({ line: "L1", speed: 3 })).toBe('{"line":"L1","speed":3}');
  setLocalization(DE_DE);
  expect(displayValue(1234.25)).toBe("1.234,25");
});

test("a missing or unreadable datetime is a dash, never 'false' or an ISO string", () => {
  expect(displayTime(false)).toBe(NO_VALUE);
  expect(displayTime(null)).toBe(NO_VALUE);
  expect(displayTime(undefined)).toBe(NO_VALUE);
  expect(displayTime("not a date")).toBe(NO_VALUE);
  expect(displayTime("2026-11-22 08:15:03")).toBe("11/22/2026 08:15:03");
  fc.assert(
    fc.property(fc.oneof(text, fc.constantFrom<string | false | null | undefined>(false, null, undefined)), (v) => {
      assertReadable(displayTime(v));
    }),
  );
});

test("an event's type: the stored one, else the one its payload claims, else a dash", () => {
  expect(eventTypeLabel("downtime.started")).toBe("downtime.started");
  expect(eventTypeLabel(false)).toBe(NO_VALUE);
  expect(eventTypeLabel(null)).toBe(NO_VALUE);
  expect(eventTypeLabel(undefined)).toBe(NO_VALUE);
  expect(eventTypeLabel("  ")).toBe(NO_VALUE);
  expect(eventTypeLabel(false, '{"type":"counter.tick","data":1}')).toBe("counter.tick");
  expect(eventTypeLabel("stored", '{"type":"claimed"}')).toBe("stored");
  expect(claimedType('{"timestamp":1,"values":[]}')).toBe("");
  expect(claimedType('{"type":false}')).toBe("");
  expect(claimedType('{"type":{"a":1}}')).toBe("");
  expect(claimedType('["type"]')).toBe("");
  expect(claimedType("\\xff\\xfe garbage")).toBe("");
  expect(claimedType('{"type":"x"')).toBe("");
  expect(claimedType(false)).toBe("");
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom<string | false>(false, ""), text),
      fc.oneof(text, fc.jsonValue()),
      (type, claim) => {
        const raw = JSON.stringify({ type: claim });
        const shown = eventTypeLabel(type, raw);
        assertReadable(shown);
        if (typeof type === "string" && type.trim()) expect(shown).toBe(type);
        else if (typeof claim === "string" && claim.trim()) expect(shown).toBe(claim.slice(0, 256));
        else expect(shown).toBe(NO_VALUE);
      },
    ),
  );
});
