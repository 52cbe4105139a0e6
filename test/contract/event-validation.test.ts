// The two validators of the event contract side by side: the sidecar's
// (sidecar/src/core/validate.ts: the shared schema through ajv, then readTime
// and the text limit) and the module's (odoo_addon/shopfloor_bridge/
// event_validation.py: the same schema through jsonschema, then parse_time,
// the window of years and the limits), over events fast-check generates around
// every edge they check: date-times of every shape and calendar value, texts
// and keys about MAX_STRING_CHARS long (in characters outside the BMP too),
// events about MAX_EVENT_BYTES long.
//
// What the sidecar accepts, the module accepts at the same millisecond, with
// one exception by design: the years the module applies (1970-2099, in UTC)
// are the module's alone, as the sidecar may first correct a source's clock
// (stampEvent). What the module accepts, the sidecar accepts. An event one
// side refuses and the other took would be ordered, counted or acted on by
// the sidecar and then refused in Odoo, or refused at the floor for a rule
// Odoo does not have.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PYTHON } from "../../sidecar/devstack/odoo.ts";
import { MAX_EVENT_BYTES, MAX_STRING_CHARS } from "../../sidecar/src/core/contract.ts";
import { validatePayload } from "../../sidecar/src/core/validate.ts";
import { DEMO_VOCABULARY, plausibleEventArb, spoiledEventArb, toJsonText, validEventArb } from "../fuzz/arbitraries.ts";

const MODULE_DIR = join(import.meta.dirname, "../../odoo_addon/shopfloor_bridge");
// event_validation.py imports nothing of Odoo, only its siblings: loaded as a package of its own.
const PYTHON_BATCH = `
import importlib, json, sys, types
from datetime import datetime, timedelta
package = types.ModuleType("sfb_contract")
package.__path__ = [sys.argv[1]]
sys.modules["sfb_contract"] = package
validation = importlib.import_module("sfb_contract.event_validation")
out = []
for text in json.load(sys.stdin):
    try:
        event = json.loads(text)
    except ValueError as error:  # Odoo's JSON-RPC refuses the request: nothing the module reads
        out.append([False, f"not JSON: {error}", None])
        continue
    try:
        time, _observed = validation.validate_event(event)
    except validation.EventRejected as error:
        out.append([False, error.message, None])
    else:
        out.append([True, "", (time - datetime(1970, 1, 1)) // timedelta(milliseconds=1)])
json.dump(out, sys.stdout)
`;

type Verdict = { ok: boolean; reason: string; ms: number | null };

function moduleVerdicts(texts: string[]): Verdict[] {
  // The Python that runs Odoo, with its jsonschema.
  const run = spawnSync(PYTHON, ["-c", PYTHON_BATCH, MODULE_DIR], {
    input: JSON.stringify(texts),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as [boolean, string, number | null][]).map(([ok, reason, ms]) => ({ ok, reason, ms }));
}

function sidecarVerdict(text: string): Verdict {
  const v = validatePayload(Buffer.from(text, "utf8"), { connection: "c", origin: "t", receivedAt: new Date(0) });
  return v.ok ? { ok: true, reason: "", ms: v.timeMs } : { ok: false, reason: v.rejected.reason, ms: null };
}

/** The only refusal of the module the sidecar leaves to it: the years it applies. */
const WINDOW = /outside the years|out of the calendar once turned to UTC/;

/** Each text's two verdicts, and what of them breaks the rules above. */
function disagreements(texts: string[]): { text: string; sidecar: Verdict; module: Verdict }[] {
  const module = moduleVerdicts(texts);
  return texts
    .map((text, i) => ({ text, sidecar: sidecarVerdict(text), module: module[i] as Verdict }))
    .filter(({ sidecar, module }) => {
      if (sidecar.ok && module.ok) return sidecar.ms !== module.ms;
      if (sidecar.ok) return !WINDOW.test(module.reason);
      return module.ok;
    });
}

const event = (extra: Record<string, unknown>, data: Record<string, unknown> = {}) =>
  JSON.stringify({
    specversion: "1.0",
    id: "e-1",
    source: "line1/press3",
    type: "production.reported",
    time: "2026-01-02T03:04:05Z",
    ...extra,
    data: { order: "MO/0001", qty_good: 1, ...data },
  });

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Date-times around every edge: real and impossible calendar values, every zone form, other shapes. */
const dateTime: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        year: fc.oneof(
          fc.constantFrom(0, 1, 1969, 1970, 2000, 2024, 2026, 2099, 2100, 9999),
          fc.integer({ min: 0, max: 9999 }),
        ),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.oneof(fc.constantFrom(28, 29, 30, 31), fc.integer({ min: 0, max: 32 })),
        hour: fc.oneof(fc.constantFrom(0, 23, 24), fc.integer({ min: 0, max: 25 })),
        minute: fc.oneof(fc.constantFrom(0, 59, 60), fc.integer({ min: 0, max: 61 })),
        second: fc.oneof(fc.constantFrom(0, 59, 60), fc.integer({ min: 0, max: 61 })),
        fraction: fc.option(fc.stringMatching(/^[0-9]{1,10}$/), { nil: undefined }),
        separator: fc.constantFrom("T", "t", "T", " ", "_"),
        zone: fc.oneof(
          fc.constantFrom("Z", "z", "", "+0100", "+01", "-00:00", "+14:00"),
          fc
            .record({
              sign: fc.constantFrom("+", "-"),
              h: fc.integer({ min: 0, max: 25 }),
              m: fc.integer({ min: 0, max: 61 }),
            })
            .map(({ sign, h, m }) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
        ),
        around: fc.constantFrom("", "", "", " ", "\n", "\u0000"),
      })
      .map(
        (t) =>
          `${t.around}${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${t.separator}${pad(t.hour, 2)}:${pad(t.minute, 2)}:` +
          `${pad(t.second, 2)}${t.fraction === undefined ? "" : `.${t.fraction}`}${t.zone}${t.around === "\n" ? "" : t.around}`,
      ),
  },
  // Other shapes of ISO 8601 and junk.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "2026-01-02T03:04Z",
      "20260102T030405Z",
      "2026-W01-5T03:04:05Z",
      "2026-002T03:04:05Z",
      "+002026-01-02T03:04:05Z",
      "2026-01-02T03:04:05,5Z",
      "2026-01-02",
      "",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30, unit: "binary" }) },
);

/** A text of about MAX_STRING_CHARS characters, some outside the BMP (two UTF-16 units, one character). */
const nearLimitText = fc
  .record({ chars: fc.integer({ min: MAX_STRING_CHARS - 2, max: MAX_STRING_CHARS + 2 }), astral: fc.nat({ max: 4 }) })
  .map(({ chars, astral }) => "😀".repeat(Math.min(astral, chars)) + "x".repeat(chars - Math.min(astral, chars)));

describe("the sidecar's and the module's event validation agree", () => {
  it("on every date-time (fast-check, 3,000 events)", () => {
    const texts = fc.sample(
      dateTime.map((time) => event({ time })),
      3_000,
    );
    expect(disagreements(texts)).toEqual([]);
  }, 120_000);

  it("on the fuzz corpus's events: valid, plausible, and with one envelope field spoiled (fast-check, 2,000 events)", () => {
    const texts = fc.sample(
      fc
        .oneof(validEventArb(DEMO_VOCABULARY), plausibleEventArb(DEMO_VOCABULARY), spoiledEventArb(DEMO_VOCABULARY))
        .map(toJsonText),
      2_000,
    );
    expect(disagreements(texts)).toEqual([]);
  }, 120_000);

  it("on texts and keys about the character limit, in data and in extension attributes", () => {
    const texts = fc.sample(
      fc.oneof(
        nearLimitText.map((text) => event({}, { note: text })),
        nearLimitText.map((text) => event({}, { [text]: 1 })),
        nearLimitText.map((text) => event({ subject: text })),
        nearLimitText.map((text) => event({ ext: text })),
      ),
      200,
    );
    expect(disagreements(texts)).toEqual([]);
  }, 120_000);

  it("on events about the size limit, counted in bytes of UTF-8", () => {
    const texts = fc.sample(
      fc.record({ shortBy: fc.integer({ min: -3, max: 3 }), wide: fc.boolean() }).map(({ shortBy, wide }) => {
        // Fields of 4,000 characters (1, or 2 bytes for é) until the event is shortBy bytes from the limit.
        const data: Record<string, string> = {};
        const unit = wide ? "é" : "x";
        let text = event({}, data);
        for (let i = 0; Buffer.byteLength(text) < MAX_EVENT_BYTES - 8_000; i++) {
          data[`f${i}`] = unit.repeat(4_000);
          text = event({}, data);
        }
        const missing = MAX_EVENT_BYTES - shortBy - Buffer.byteLength(event({}, { ...data, last: "" }));
        return event({}, { ...data, last: "x".repeat(Math.max(0, missing)) });
      }),
      40,
    );
    expect(texts.some((t) => Buffer.byteLength(t) === MAX_EVENT_BYTES)).toBe(true);
    expect(disagreements(texts)).toEqual([]);
  }, 120_000);

  // What the generators found: each case the two sides read apart before they agreed.
  it.each([
    ["a day its month does not have (Date.parse rolled it over to March 1)", "2026-02-29T00:00:00Z", false],
    ["hour 24 (Date.parse read the next day's midnight)", "2026-01-02T24:00:00Z", false],
    ["no seconds (Python read it; RFC 3339 requires them)", "2026-01-02T03:04Z", false],
    ["an offset without its colon", "2026-01-02T03:04:05+0100", false],
    ["an offset minute of 60", "2026-01-02T03:04:05+01:60", false],
    ["spaces around it (Python stripped them)", " 2026-01-02T03:04:05Z ", false],
    ["a leap second (neither side can hold it)", "2026-06-30T23:59:60Z", false],
    ["lower-case t and z", "2024-02-29t23:00:00.123456789z", true],
  ])("%s", (_name, time, accepted) => {
    const text = event({ time });
    expect([sidecarVerdict(text).ok, (moduleVerdicts([text])[0] as Verdict).ok]).toEqual([accepted, accepted]);
  });

  it("a number that overflows to Infinity (1e400) is refused by both, naming where it is", () => {
    const text = event({}, { counter: { $raw: "1e400" } }).replace('{"$raw":"1e400"}', "1e400");
    expect(text).toContain('"counter":1e400');
    expect(sidecarVerdict(text).reason).toMatch(/\$\.data\.counter is Infinity: JSON has no NaN or Infinity/);
    expect(moduleVerdicts([text])[0]?.reason).toMatch(/\$\.data\.counter is inf/);
  });

  it("an empty observedtime is refused by both (the module read only a non-empty one)", () => {
    const text = event({ observedtime: "" });
    expect([sidecarVerdict(text).ok, moduleVerdicts([text])[0]?.ok]).toEqual([false, false]);
  });

  it("a key of data over the character limit is refused by both", () => {
    const text = event({}, { ["k".repeat(MAX_STRING_CHARS + 1)]: 1 });
    const sidecar = sidecarVerdict(text);
    expect(sidecar.reason).toMatch(/string at \$\.data \(a key\) is over the 4096-character limit/);
    expect(moduleVerdicts([text])[0]?.ok).toBe(false);
  });
});
