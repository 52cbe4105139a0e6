import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KEPWARE_VALUES,
  kepwarePayload,
  kepwareValuesMapping,
  mapping,
  RECORDS_TO_EVENTS,
  sha256hex,
  T0,
} from "../../test/support/mapping/mapping.fixtures.ts";
import type { PayloadMapping } from "../core/contract.ts";
import {
  compileMapping,
  DEFAULT_MAPPING_LIMITS,
  type MappingInput,
  type MappingOutcome,
  runMapping,
  topicFilterProblem,
  topicMatches,
} from "./evaluate.ts";

const RECEIVED = new Date(T0 + 1500);

function input(payload: string | Uint8Array, overrides: Partial<MappingInput> = {}): MappingInput {
  return {
    payload,
    topic: "plant1/line1/kepware",
    receivedAt: RECEIVED,
    connection: "line1",
    revision: 7,
    ...overrides,
  };
}

/**
 * The default limits but for time: on a busy machine (tests run in parallel)
 * a good mapping can take longer than 100 ms of wall-clock time. The tests
 * of the time limit set theirs.
 */
const ROOMY = { ...DEFAULT_MAPPING_LIMITS, timeoutMs: 5_000 };

async function run(map: PayloadMapping, payload: string | Uint8Array, overrides: Partial<MappingInput> = {}) {
  return runMapping(map, input(payload, overrides), sha256hex, ROOMY);
}

function reasonOf(outcome: MappingOutcome): string {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.reason;
}

function okOf(outcome: MappingOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got: ${outcome.reason}`);
  return outcome;
}

const records = (line: string, rows: { order: string; good: number; at: number }[]) =>
  JSON.stringify({ line, records: rows });

describe("values mappings", () => {
  it("turn a Kepware message into observations, dropping tags of bad quality", async () => {
    const payload = kepwarePayload([
      { id: "Channel1.Device1.Count", v: 120, t: T0 + 1 },
      { id: "Channel1.Device1.State", v: 3, q: false },
    ]);
    const outcome = okOf(await run(kepwareValuesMapping(), payload));
    expect(outcome.events).toEqual([]);
    expect(outcome.observations).toEqual([{ address: "Channel1.Device1.Count", value: 120, time: new Date(T0 + 1) }]);
  });

  it("take the receive time when the expression gives none, and ISO or millisecond times otherwise", async () => {
    const map = mapping({
      kind: "values",
      payload_format: "text",
      expression: "{'address': $topic, 'value': $number($)}",
    });
    expect(okOf(await run(map, "120", { topic: "plant1/line1/press-01/GoodCount" })).observations).toEqual([
      { address: "plant1/line1/press-01/GoodCount", value: 120, time: RECEIVED },
    ]);
    const iso = mapping({
      kind: "values",
      expression: "{'address': 'a', 'value': 1, 'time': '2026-11-22T07:00:00+01:00'}",
    });
    expect(okOf(await run(iso, "{}")).observations[0]?.time).toEqual(new Date("2026-11-22T06:00:00Z"));
  });

  it.each([
    ["{'value': 1}", "value 0 has no address"],
    ["{'address': '', 'value': 1}", "value 0 has no address"],
    ["{'address': 'a'}", "value 0 (a) has no value"],
    [
      "{'address': 'a', 'value': 1, 'time': '2026-02-29T07:00:00Z'}",
      'value 0 (a): time "2026-02-29T07:00:00Z" has day 29, and 2026-02 has 28 days',
    ],
    ["{'address': 'a', 'value': null}", "value 0 (a) has no value"],
    ["{'address': 'a', 'value': {'x': 1}}", "value 0 (a) is an object, not a single value"],
    ["{'address': 'a', 'value': [1, 2]}", "value 0 (a) is an array"],
    ["{'address': 'a', 'value': 1, 'time': 'yesterday'}", 'time "yesterday" is not a time'],
    ["[{'address': 'a', 'value': 1}, 5]", "item 1 of its result as a number (5)"],
  ])("refuse %s with a reason", async (expression, reason) => {
    const outcome = await run(mapping({ kind: "values", expression }), "{}");
    expect(reasonOf(outcome)).toContain(reason);
    expect(reasonOf(outcome)).toContain('mapping "test mapping" (id 1, revision 1)');
  });
});

describe("events mappings", () => {
  it("complete what the expression yields into CloudEvents", async () => {
    const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["source", "data.order", "time"] });
    const payload = records("line1", [
      { order: "WH/MO/00042", good: 5, at: T0 },
      { order: "WH/MO/00043", good: 2, at: T0 + 60_000 },
    ]);
    const { events } = okOf(await run(map, payload));
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({
      specversion: "1.0",
      id: expect.stringMatching(/^sfb-m-[0-9a-f]{40}$/),
      source: "plant1/line1",
      type: "production.reported",
      time: "2026-11-22T06:00:00.000Z",
      datacontenttype: "application/json",
      data: { order: "WH/MO/00042", qty_good: 5 },
      connection: "line1",
      mappingrev: 7,
    });
    expect(Object.getPrototypeOf(events[0]?.data)).toBe(Object.prototype);
    expect(events[1]?.id).not.toBe(events[0]?.id);
  });

  it("yield nothing, and that is no failure, when the expression gives nothing", async () => {
    expect(await run(mapping({ expression: "records" }), "{}")).toEqual({ ok: true, events: [], observations: [] });
  });

  it("keep an id the expression gives", async () => {
    const map = mapping({ expression: "{'id': id, 'source': 's', 'type': 'scrap.reported', 'time': $receivedAt}" });
    const { events } = okOf(await run(map, '{"id":"mes-77"}'));
    expect(events[0]).toMatchObject({ id: "mes-77", time: RECEIVED.toISOString() });
  });

  it.each([
    ["'just text'", 'yields a string ("just text"), not an object or an array of objects'],
    ["42", "yields a number (42), not an object"],
    ["null", "yields null, not an object"],
    ["[[{'a': 1}]]", "yields item 0 of its result as an array"],
    ["function($x){$x}", "yields item 0: a JSONata function is not JSON"],
    [
      "{'source': 's', 'type': 'x', 'time': $receivedAt, 'f': function(){1}}",
      "item 0.f: a JSONata function is not JSON",
    ],
    ["{'type': 'scrap.reported', 'time': $receivedAt}", "event 0 has no source"],
    ["{'source': 's', 'time': $receivedAt}", "event 0 has no type"],
    [
      "{'source': 's', 'type': 'scrap.reported'}",
      "event 0 has no time: take it from the payload, or write time: $receivedAt",
    ],
    ["{'source': 's', 'type': 'scrap.reported', 'time': 1700000000000}", "is not an ISO 8601 date-time (see $isoTime)"],
    ["{'source': 's', 'type': 't', 'time': $receivedAt, 'specversion': '0.3'}", 'specversion "0.3" is not "1.0"'],
    ["{'source': 's', 'type': 't', 'time': $receivedAt, 'id': 5}", "id 5 is not a non-empty string"],
    ["{'source': 's', 'type': 't', 'time': $receivedAt, 'id': ''}", 'id "" is not a non-empty string'],
    ["$error('bad tag')", "failed: D3137 bad tag"],
    ["$isoTime('soon')", '$isoTime: "soon" is not a time'],
    // RFC 3339's shape is read as an event's time is: no rolling 30 February over to 2 March.
    ["$isoTime('2026-02-30T08:00:00Z')", '$isoTime: "2026-02-30T08:00:00Z" has day 30, and 2026-02 has 28 days'],
    ["$isoTime('2026-01-02T24:00:00+01:00')", "has hour 24:00 (00:00 to 23:59)"],
    ["{'source': 's', 'type': 't', 'time': $receivedAt, 'data': {'big': $pad('', 300000, 'x')}}", "larger than"],
  ])("refuse %s with a reason", async (expression, reason) => {
    expect(reasonOf(await run(mapping({ expression }), "{}"))).toContain(reason);
  });

  it("read a local time in the zone the mapping names, the same on every host", async () => {
    // A historian's or an MES's local time has no zone: $isoTime(t, zone) says which, so a sidecar
    // in a UTC container and one on the plant's server in Berlin give the same instant.
    const at = (expression: string) =>
      run(mapping({ kind: "values", expression: `{'address': 'a', 'value': 1, 'time': ${expression}}` }), "{}");
    const cases: [string, string][] = [
      ["$isoTime('2026-07-01 08:00:00', 'Europe/Berlin')", "2026-07-01T06:00:00.000Z"],
      ["$isoTime('2026-12-01T08:00', 'Europe/Berlin')", "2026-12-01T07:00:00.000Z"],
      ["$isoTime('2026-12-01 08:00:00.1234567', '-05:00')", "2026-12-01T13:00:00.123Z"],
      // The text's own offset wins over the zone given for texts without one.
      ["$isoTime('2026-12-01 08:00+0100', 'America/Chicago')", "2026-12-01T07:00:00.000Z"],
      ["$isoTime('2026-12-01T08:00:00Z', 'America/Chicago')", "2026-12-01T08:00:00.000Z"],
      ["$isoTime(1764576000000, 'America/Chicago')", "2025-12-01T08:00:00.000Z"],
      // Twice in Berlin (the clocks went back): its first occurrence, as java.time and Python read it.
      ["$isoTime('2026-10-25 02:30:00', 'Europe/Berlin')", "2026-10-25T00:30:00.000Z"],
    ];
    for (const [expression, expected] of cases) {
      expect(okOf(await at(expression)).observations[0]?.time.toISOString(), expression).toBe(expected);
    }
    const refused: [string, string][] = [
      ["$isoTime('2026-03-29 02:30:00', 'Europe/Berlin')", "does not exist in Europe/Berlin (the clocks went forward"],
      ["$isoTime('2026-02-29 08:00', 'Europe/Berlin')", "has day 29, and 2026-02 has 28 days"],
      ["$isoTime('2026-12-01 08:00', 'Europe/Berln')", 'zone "Europe/Berln" is no time zone'],
      ["$isoTime('12/01/2026 08:00', 'Europe/Berlin')", "is not an ISO 8601 date and time such as 2026-01-02 03:04:05"],
    ];
    for (const [expression, reason] of refused) expect(reasonOf(await at(expression)), expression).toContain(reason);
  });

  it("refuse events that id_fields cannot tell apart: the second would be dropped as a duplicate", async () => {
    const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["source", "data.order"] });
    const payload = records("line1", [
      { order: "WH/MO/1", good: 5, at: T0 },
      { order: "WH/MO/1", good: 2, at: T0 + 1 },
    ]);
    expect(reasonOf(await run(map, payload))).toContain(
      "events 0 and 1 get the same id from id_fields [source, data.order]: add a field that tells them apart",
    );
  });

  it("refuse an event that lacks one of its id_fields", async () => {
    const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["data.lot"] });
    const payload = records("line1", [{ order: "WH/MO/1", good: 5, at: T0 }]);
    expect(reasonOf(await run(map, payload))).toContain("event 0: id field data.lot is missing");
  });

  it("cap the events one payload yields", async () => {
    const map = mapping({ expression: "[1..1001].{'source': 's', 'type': 'scrap.reported', 'time': $receivedAt}" });
    expect(reasonOf(await run(map, "{}"))).toContain("yields 1001 items, more than the limit of 1000");
  });
});

describe("payloads", () => {
  it("text payloads reach the expression as a string", async () => {
    const map = mapping({ kind: "values", payload_format: "text", expression: "{'address': 'a', 'value': $}" });
    expect(okOf(await run(map, "RUNNING")).observations[0]?.value).toBe("RUNNING");
  });

  it.each([
    ["{not json", "not JSON:"],
    ["", "not JSON:"],
  ])("a json mapping refuses %j", async (payload, reason) => {
    expect(reasonOf(await run(mapping(), payload))).toContain(reason);
  });

  it("bytes that are not UTF-8 are refused", async () => {
    expect(reasonOf(await run(mapping(), new Uint8Array([0x7b, 0xff, 0x7d])))).toContain("payload is not valid UTF-8");
  });

  it("a payload over the size limit is refused before it is parsed", async () => {
    const limits = { ...DEFAULT_MAPPING_LIMITS, maxPayloadBytes: 10 };
    const outcome = await runMapping(mapping(), input('{"a":"0123456789"}'), sha256hex, limits);
    expect(reasonOf(outcome)).toContain("payload of 18 bytes exceeds 10");
    expect(outcome).toMatchObject({ limit: "payload" });
  });

  it("bindings: topic, headers, receive time and connection", async () => {
    const map = mapping({
      kind: "values",
      expression: "{'address': $topic & '|' & $headers.line & '|' & $connection, 'value': $receivedAt}",
    });
    const outcome = okOf(await run(map, "{}", { headers: { line: "L1" } }));
    expect(outcome.observations[0]).toMatchObject({
      address: "plant1/line1/kepware|L1|line1",
      value: RECEIVED.toISOString(),
    });
  });
});

describe("limits", () => {
  it("stop infinite recursion with a reason that says so, within the default limits", async () => {
    const started = Date.now();
    const map = mapping({ expression: "( $f := function($x){ $f($x) }; $f(1) )" });
    const outcome = await runMapping(map, input("{}"), sha256hex);
    expect(reasonOf(outcome)).toMatch(/exceeded (100 ms|the evaluation depth of 200)/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("stop deep recursion at the depth limit", async () => {
    const outcome = await run(mapping({ expression: "( $f := function($x){ 1 + $f($x) }; $f(1) )" }), "{}");
    expect(reasonOf(outcome)).toContain("exceeded the evaluation depth of 200");
    expect(outcome).toMatchObject({ limit: "depth" });
  });

  it.each([
    ["a tail-recursive loop", "( $f := function($x){ $x < 0 ? $x : $f($x + 1) }; $f(1) )"],
    ["a loop over a long range", "$sum([1..90000].( $s := $string($); $length($s & $s & $s) ))"],
  ])("stop %s at the time limit", async (_, expression) => {
    const limits = { ...DEFAULT_MAPPING_LIMITS, timeoutMs: 50 };
    const started = Date.now();
    const outcome = await runMapping(mapping({ expression }), input("{}"), sha256hex, limits);
    const elapsed = Date.now() - started;
    expect(reasonOf(outcome)).toContain('mapping "test mapping" (id 1, revision 1) exceeded 50 ms');
    expect(outcome).toMatchObject({ limit: "time" });
    expect(elapsed).toBeLessThan(500);
  });

  it("stop a sequence past its limit", async () => {
    expect(reasonOf(await run(mapping({ expression: "$count([1..9999999])" }), "{}"))).toContain(
      "built a sequence longer than 100000 items",
    );
  });

  it("a mapping that failed on its limits leaves nothing behind for the next evaluation", async () => {
    const looping = mapping({ expression: "( $f := function($x){ $f($x) }; $f(1) )" });
    await runMapping(looping, input("{}"), sha256hex, { ...DEFAULT_MAPPING_LIMITS, timeoutMs: 20 });
    okOf(await run(kepwareValuesMapping(), kepwarePayload([{ id: "a", v: 1 }])));
  });
});

describe("compileMapping", () => {
  it("compiles once per id, revision and expression", () => {
    const map = mapping({ id: 900, expression: KEPWARE_VALUES });
    const first = compileMapping(map);
    expect(compileMapping({ ...map })).toBe(first);
    expect(compileMapping({ ...map, revision: 2 })).not.toBe(first);
    expect(compileMapping({ ...map, expression: `${KEPWARE_VALUES} ` })).not.toBe(first);
  });

  it("says where an expression does not compile", () => {
    expect(compileMapping(mapping({ id: 901, expression: "values.(" }))).toEqual({
      ok: false,
      reason: expect.stringContaining("the expression does not compile: S0203"),
    });
  });
});

describe("deterministic ids", () => {
  const row = fc.record({
    order: fc.string({ minLength: 1, maxLength: 12 }),
    good: fc.nat(1_000_000),
    at: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  });
  const rows = fc.uniqueArray(row, { minLength: 1, maxLength: 8, selector: (r) => `${r.order}\u0000${r.at}` });

  it("the same payload gives the same ids, whatever the mapping's id, name or revision", async () => {
    await fc.assert(
      fc.asyncProperty(rows, fc.boolean(), async (list, withFields) => {
        const idFields = withFields ? ["data.order", "time"] : [];
        const payload = records("line1", list);
        const a = okOf(await run(mapping({ expression: RECORDS_TO_EVENTS, id_fields: idFields }), payload));
        const b = okOf(
          await run(
            mapping({ id: 77, name: "re-created", revision: 12, expression: RECORDS_TO_EVENTS, id_fields: idFields }),
            new TextEncoder().encode(payload),
            { receivedAt: new Date(T0 + 99_999), revision: 12 },
          ),
        );
        expect(b.events.map((e) => e.id)).toEqual(a.events.map((e) => e.id));
        expect(new Set(a.events.map((e) => e.id)).size).toBe(list.length);
      }),
      { numRuns: 60 },
    );
  });

  it("different values of the id_fields give different ids", async () => {
    await fc.assert(
      fc.asyncProperty(row, row, async (first, second) => {
        fc.pre(first.order !== second.order || first.at !== second.at);
        const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["data.order", "time"] });
        const [a, b] = await Promise.all(
          [first, second].map(async (r) => okOf(await run(map, records("line1", [r]))).events[0]?.id),
        );
        // Only the declared fields count: a different quantity with the same order and time is the same event.
        expect(a).not.toBe(b);
      }),
      { numRuns: 100 },
    );
  });

  it("id_fields alone decide: another quantity for the same order and time is a resend", async () => {
    const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["data.order", "time"] });
    const a = okOf(await run(map, records("line1", [{ order: "WH/MO/1", good: 5, at: T0 }])));
    const b = okOf(await run(map, records("line1", [{ order: "WH/MO/1", good: 6, at: T0 }])));
    expect(b.events[0]?.id).toBe(a.events[0]?.id);
  });

  it("without id_fields, another payload gives other ids", async () => {
    await fc.assert(
      fc.asyncProperty(rows, rows, async (x, y) => {
        const px = records("line1", x);
        const py = records("line1", y);
        fc.pre(px !== py);
        const map = mapping({ expression: RECORDS_TO_EVENTS });
        const ix = okOf(await run(map, px)).events.map((e) => e.id);
        const iy = new Set(okOf(await run(map, py)).events.map((e) => e.id));
        expect(ix.some((id) => iy.has(id))).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it("a browser's WebCrypto hash gives the same ids as node:crypto (the try-it panel shows the real ids)", async () => {
    const webCrypto = async (text: string) => {
      const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
      return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    };
    const map = mapping({ expression: RECORDS_TO_EVENTS });
    const payload = records("línea-1", [{ order: "WH/MO/ü€", good: 5, at: T0 }]);
    const inBrowser = okOf(await runMapping(map, input(payload), webCrypto, ROOMY)).events.map((e) => e.id);
    expect(inBrowser).toEqual(okOf(await run(map, new TextEncoder().encode(payload))).events.map((e) => e.id));
  });

  it("the connection is part of the id", async () => {
    const map = mapping({ expression: RECORDS_TO_EVENTS, id_fields: ["data.order"] });
    const payload = records("line1", [{ order: "WH/MO/1", good: 5, at: T0 }]);
    const a = okOf(await run(map, payload, { connection: "plant-a" })).events[0]?.id;
    const b = okOf(await run(map, payload, { connection: "plant-b" })).events[0]?.id;
    expect(a).not.toBe(b);
  });
});

describe("any output", () => {
  it("is either events with source, type, time and id, or a reason: runMapping never throws", async () => {
    const candidate = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          source: fc.oneof(fc.string(), fc.constant("plant1/line1"), fc.integer()),
          type: fc.oneof(fc.string(), fc.constant("production.reported")),
          time: fc.oneof(fc.string(), fc.constant("2026-11-22T06:00:00Z"), fc.integer()),
          id: fc.oneof(fc.string(), fc.integer()),
          data: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(candidate, fc.array(candidate, { maxLength: 4 })), async (output) => {
        const outcome = await run(mapping({ expression: "$" }), JSON.stringify(output));
        if (!outcome.ok) {
          expect(outcome.reason).toMatch(/^mapping "test mapping"/);
          return;
        }
        for (const event of outcome.events) {
          expect(event.specversion).toBe("1.0");
          for (const field of ["id", "source", "type", "time"] as const) {
            expect(typeof event[field] === "string" && event[field] !== "").toBe(true);
          }
          expect(Number.isNaN(Date.parse(event.time))).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** MQTT matching written another way: the filter as a regular expression. */
function referenceMatches(filter: string, topic: string): boolean {
  // MQTT: a topic name is at least one character long.
  if (topic === "") return false;
  const levels = filter.split("/");
  if (topic.startsWith("$") && (levels[0] === "+" || levels[0] === "#")) return false;
  const literal = (level: string) => level.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  let pattern = levels.map((level) => (level === "+" ? "[^/]*" : level === "#" ? "" : literal(level))).join("/");
  if (levels.at(-1) === "#") pattern = levels.length === 1 ? ".*" : `${pattern.slice(0, -1)}(/.*)?`;
  return new RegExp(`^${pattern}$`).test(topic);
}

describe("topicMatches", () => {
  it.each([
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking/wimbledon", true],
    ["sport/#", "sport", true],
    ["#", "sport/tennis", true],
    ["sport/tennis/+", "sport/tennis/player1", true],
    ["sport/tennis/+", "sport/tennis/player1/ranking", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["#", "$SYS/broker/load", false],
    ["+/broker/load", "$SYS/broker/load", false],
    ["$SYS/#", "$SYS/broker/load", true],
    ["$SYS/+/load", "$SYS/broker/load", true],
    ["a/#/b", "a/x/b", false],
    ["a/b#", "a/b#", false],
    ["a/+", "a/+", false],
    ["a", "", false],
    // Found by the reference-model property: an empty topic is no topic, even for "+" (MQTT 5 §4.7.3).
    ["+", "", false],
    ["#", "", false],
  ])("%s against %s: %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it("agrees with a reference model of MQTT matching", () => {
    const level = fc.constantFrom("a", "b", "", "$s", "line1");
    const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join("/"));
    const filter = fc
      .tuple(fc.array(fc.oneof(level, fc.constant("+")), { minLength: 0, maxLength: 5 }), fc.boolean())
      .map(([l, hash]) => (hash ? [...l, "#"] : l).join("/"))
      .filter((f) => f !== "");
    fc.assert(
      fc.property(filter, topic, (f, t) => {
        expect(topicMatches(f, t)).toBe(referenceMatches(f, t));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ["", "cannot be empty"],
    ["a/#/b", '"#" must be a whole level and the last one'],
    ["a/b#", '"#" must be a whole level'],
    ["a/b+/c", '"+" must be a whole level'],
  ])("names what is wrong with the filter %j", (filter, problem) => {
    expect(topicFilterProblem(filter)).toContain(problem);
  });
});
