// fast-check arbitraries for the whole-chain fuzzer: what a floor can put on
// an MQTT topic, field by field. A generated case is a plain JSON-able model
// (FuzzCase) so a shrunk counterexample prints as data and is replayed
// exactly from test/fuzz/regressions.ts; `concretize` turns it into the bytes
// published, with a per-run marker in every id so that a case replayed
// (shrinking does that) never collides with an earlier run's rows.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { EVENT_TYPES } from "../../sidecar/src/core/contract.ts";
import { rejectedId, validatePayload } from "../../sidecar/src/core/validate.ts";
import { oddCorpus } from "../../sidecar/test/support/fuzz.ts";

/** A JSON number written as this exact text: `NaN`, `1e400`, `9007199254740993`, `-0` (JSON.stringify writes none of them). */
export interface JsonLiteral {
  $literal: string;
}
export type FuzzJson = null | boolean | number | string | JsonLiteral | FuzzJson[] | { [key: string]: FuzzJson };
export type FuzzEvent = { [key: string]: FuzzJson };

export type FuzzMessage =
  /** An envelope, valid or not; its string `id` gets the run's marker in front. */
  | { kind: "event"; event: FuzzEvent }
  /** JSON text as a device wrote it; the first `"id":"` gets the run's marker. */
  | { kind: "json"; text: string }
  /** The event's bytes cut after `keep` (modulo their length): truncated JSON, often mid-UTF-8. */
  | { kind: "cut"; event: FuzzEvent; keep: number }
  /** Bytes (base64) put into the event's bytes at `at` (modulo their length): invalid UTF-8, stray NULs. */
  | { kind: "splice"; event: FuzzEvent; at: number; b64: string }
  /** Any bytes (base64). */
  | { kind: "raw"; b64: string }
  /** Any text, as UTF-8. */
  | { kind: "text"; text: string }
  /** `bytes` of `{` (the broker takes up to 16 MB; the sidecar rejects past 256 KiB). */
  | { kind: "huge"; bytes: number }
  /** The `of`-th message (modulo the case's length) published again: same topic, same bytes. */
  | { kind: "repeat"; of: number }
  /** The `of`-th envelope's id and source (modulo their count), with another time and/or data. */
  | { kind: "same-id"; of: number; time?: FuzzJson; data?: FuzzJson };

export interface FuzzCase {
  messages: FuzzMessage[];
}

/** Names the floor uses that Odoo knows (the demo plant's mappings and orders): valid events then apply. */
export interface Vocabulary {
  orders: string[];
  operations: string[];
  materials: string[];
  uoms: string[];
  reasons: string[];
  sources: string[];
  workcenters: string[];
}

/** The demo plant's names, for use without a database (unit tests). */
export const DEMO_VOCABULARY: Vocabulary = {
  orders: ["WH/MO/00001", "WH/MO/00002"],
  operations: ["Stamping", "Assembly"],
  materials: ["ALU-1MM", "RIV4"],
  uoms: ["KG", "PCS"],
  reasons: ["MAT", "BRK", "SETUP", "SLOW", "DEFECT", "YIELD", "RUN"],
  sources: ["plant1/line1/press-01", "plant1/line1/assembly-01"],
  workcenters: ["L1-PR01", "L1-AS01"],
};

// ------------------------------------------------------------------ values

/** Characters and pieces that break naive transports, encoders and databases. */
export const NASTY_PIECES: readonly string[] = [
  "\u0000",
  "\u0000\u0000\u0000\u0000",
  "\u0001",
  "\u0007",
  "\u0008",
  "\u000b",
  "\u000c",
  "\u001b[31m",
  "\u001f",
  "\u007f",
  "\u0080",
  "\u0085",
  "\u009f",
  "\r",
  "\n",
  "\r\n",
  "\n\r",
  "\t",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\udc00\ud800",
  "\ufffe",
  "\uffff",
  "\ufeff",
  "\ufffd",
  "\u2028",
  "\u2029",
  "\u200b",
  "\u202e",
  "😀",
  "👩🏽‍🔧",
  "🏳️‍🌈",
  "e\u0301",
  "ß",
  "İ",
  "\\",
  '"',
  "'",
  "<",
  "&amp;",
  "]]>",
  "%s%n",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point
  "${x}",
  "{{x}}",
  "\\u0000",
  "null",
  "sha256:",
];

/** Any text, mostly short: plain and binary code points, the pieces above, NUL padding, rarely 4 KiB of emoji. */
export function floorString(minLength = 0): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 12 }) },
    { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_PIECES) },
  );
  // Cross-shrink: a long string of a failing case shrinks into a short one when the failure allows.
  const text = fc.oneof(
    { withCrossShrink: true },
    { weight: 20, arbitrary: fc.array(piece, { maxLength: 6 }).map((pieces) => pieces.join("")) },
    // Around the 4,096-character limit (characters are code points: each emoji counts one).
    { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => "😀".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => "x".repeat(n)) },
  );
  return minLength > 0 ? text.map((s) => (s.length >= minLength ? s : s.padEnd(minLength, "x"))) : text;
}

/** A name the plant knows, often as a PLC sends it: NUL-padded to its declared length, or with spaces. */
function knownName(names: string[]): fc.Arbitrary<string> {
  const list = names.length ? names : ["?"];
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...list) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...list), fc.integer({ min: 1, max: 12 }))
        .map(([n, k]) => n + "\u0000".repeat(k)),
    },
    { weight: 1, arbitrary: fc.constantFrom(...list).map((n) => ` ${n}\r\n`) },
  );
}

const literal = (text: string): JsonLiteral => ({ $literal: text });

/** Numbers at the edges: huge, tiny, negative, past 2^53, and JSON texts no encoder writes (NaN, 1e400, -0). */
export function floorNumber(): fc.Arbitrary<FuzzJson> {
  return fc.oneof(
    { withCrossShrink: true },
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 60 }) },
    { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom<FuzzJson>(
        1e308,
        -1e308,
        Number.MAX_VALUE,
        Number.MIN_VALUE,
        2 ** 53,
        2 ** 53 + 2,
        2 ** 31,
        2 ** 31 - 1,
        2 ** 63,
        1e21,
        0.1,
        -1,
        -0.5,
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        literal("9007199254740993"),
        literal("-9007199254740993"),
        literal("123456789012345678901234567890"),
        literal("1e400"),
        literal("-1e400"),
        literal("1e-400"),
        literal("-0"),
        literal("1E2"),
        literal("NaN"),
        literal("Infinity"),
        literal("-Infinity"),
        literal("0x10"),
        literal("01"),
        literal(".5"),
      ),
    },
  );
}

/** RFC 3339 text of `ms` seen from the offset `minutes` east of UTC. */
function withOffset(ms: number, minutes: number): string {
  const local = new Date(ms + minutes * 60_000).toISOString().replace("Z", "");
  if (minutes === 0) return `${local}Z`;
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export const ODD_TIMES: readonly string[] = [
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999Z",
  "2000-01-01T00:00:00Z",
  "1970-01-01T00:00:00Z",
  "1969-12-31T23:59:59.999Z",
  "2016-12-31T23:59:60Z",
  "2026-06-30T23:59:60Z",
  "2038-01-19T03:14:08Z",
  "2999-01-01T00:00:00Z",
  "2026-02-30T08:00:00Z",
  "2026-11-22T08:00:00.123456789Z",
  "2026-11-22t08:00:00z",
  "2026-11-22T08:00:00",
  "2026-11-22 08:00:00Z",
  "2026-11-22T08:00:00+24:00",
  "+275760-09-13T00:00:00Z",
  "2026-11-22",
  "",
];

/** Event times: recent, anywhere in 0001-9999 with an offset, or one of the odd ones above. */
export function floorTime(): fc.Arbitrary<string> {
  const day = 86_400_000;
  return fc.oneof(
    { withCrossShrink: true },
    {
      weight: 6,
      arbitrary: fc
        .integer({ min: Date.UTC(2026, 10, 1), max: Date.UTC(2026, 11, 31) })
        .map((ms) => new Date(ms).toISOString()),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.integer({ min: Date.UTC(1, 0, 1) + day, max: Date.UTC(9999, 11, 31) - day }),
          fc.integer({ min: -12 * 60, max: 14 * 60 }),
        )
        .map(([ms, offset]) => withOffset(ms, offset)),
    },
    { weight: 2, arbitrary: fc.constantFrom(...ODD_TIMES) },
  );
}

// ------------------------------------------------------------------ events

interface PropertySchema {
  type?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
}
interface DataSchema {
  properties: Record<string, PropertySchema>;
  required?: string[];
  anyOf?: { required: string[] }[];
}

const SCHEMA = JSON.parse(
  readFileSync(new URL("../../odoo_addon/shopfloor_bridge/schemas/cloudevent.schema.json", import.meta.url), "utf8"),
) as { $defs: Record<string, DataSchema> };

/** The data rule of each event type, read from the schema both sides enforce. */
export function dataSchemaOf(type: string): DataSchema {
  const rule = SCHEMA.$defs[type.replace(".", "_")];
  if (!rule) throw new Error(`no $defs entry for ${type} in cloudevent.schema.json`);
  return rule;
}

function valueFor(name: string, prop: PropertySchema, vocab: Vocabulary): fc.Arbitrary<FuzzJson> {
  if (prop.type === "boolean") return fc.boolean();
  // Serials: a short list, duplicates and odd texts included (the schema says which pass).
  if (prop.type === "array") return fc.array(floorString(1), { minLength: 1, maxLength: 4 });
  if (prop.type === "number") {
    // Mostly in range, so most events are valid; the edges come from floorNumber.
    const floor = prop.exclusiveMinimum ?? prop.minimum;
    const inRange =
      floor === undefined
        ? fc.integer({ min: -100, max: 100 })
        : fc.integer({ min: Math.ceil(floor) + (prop.exclusiveMinimum !== undefined ? 1 : 0), max: floor + 50 });
    return fc.oneof(
      { withCrossShrink: true },
      { weight: 3, arbitrary: inRange },
      { weight: 1, arbitrary: floorNumber() },
    );
  }
  const known: Record<string, string[]> = {
    order: vocab.orders,
    operation: vocab.operations,
    material: vocab.materials,
    uom: vocab.uoms,
    unit: vocab.uoms,
    reason_code: vocab.reasons,
    workcenter: vocab.workcenters,
  };
  const names = known[name];
  const any = floorString(prop.minLength ?? 0);
  return names
    ? fc.oneof({ withCrossShrink: true }, { weight: 2, arbitrary: knownName(names) }, { weight: 1, arbitrary: any })
    : any;
}

/** Data of `type` that its schema rule accepts in shape (values may still be odd). */
export function dataArb(type: string, vocab: Vocabulary): fc.Arbitrary<{ [key: string]: FuzzJson }> {
  const rule = dataSchemaOf(type);
  const required = new Set(rule.required ?? []);
  const anyOf = rule.anyOf?.map((a) => a.required);
  const fields = Object.entries(rule.properties).map(([name, prop]) => ({ name, arb: valueFor(name, prop, vocab) }));
  const extra = fc.dictionary(
    fc.stringMatching(/^[a-z_]{1,12}$/).filter((k) => !(k in rule.properties) && k !== "__proto__"),
    fc.oneof(floorString(), floorNumber(), fc.boolean(), fc.constant(null)),
    { maxKeys: 2 },
  );
  return fc
    .tuple(
      fc.tuple(
        ...fields.map((f) =>
          required.has(f.name)
            ? f.arb.map((v) => [f.name, v] as const)
            : fc.option(
                f.arb.map((v) => [f.name, v] as const),
                { freq: 2 },
              ),
        ),
      ),
      anyOf ? fc.constantFrom(...anyOf) : fc.constant([] as string[]),
      extra,
    )
    .chain(([pairs, oneOfRequired, more]) => {
      const data: { [key: string]: FuzzJson } = {};
      for (const pair of pairs) if (pair) data[pair[0]] = pair[1];
      const missing = oneOfRequired.filter((name) => !(name in data));
      const base = fc.constant({ ...more, ...data });
      if (missing.length === 0) return base;
      return fc
        .tuple(base, fc.tuple(...missing.map((name) => valueFor(name, rule.properties[name] ?? {}, vocab))))
        .map(([d, values]) => ({
          ...d,
          ...Object.fromEntries(missing.map((name, i) => [name, values[i] as FuzzJson])),
        }));
    });
}

const extensionName = fc
  .stringMatching(/^[a-z0-9]{1,20}$/)
  .filter(
    (k) =>
      ![
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "dataschema",
        "data",
        "observedtime",
        "connection",
        "mappingrev",
      ].includes(k),
  );

/** An envelope of any type that the schema accepts in shape, with odd values inside. */
export function validEventArb(vocab: Vocabulary): fc.Arbitrary<FuzzEvent> {
  return fc.constantFrom(...EVENT_TYPES).chain((type) =>
    fc
      .record(
        {
          specversion: fc.constant("1.0"),
          id: floorString(),
          source: fc.oneof(
            { weight: 2, arbitrary: knownName(vocab.sources) },
            { weight: 1, arbitrary: floorString(1) },
          ),
          type: fc.constant(type),
          time: floorTime(),
          subject: floorString(),
          datacontenttype: fc.constant("application/json"),
          data: dataArb(type, vocab),
          extensions: fc.dictionary(extensionName, fc.oneof(floorString(), floorNumber(), fc.boolean()), {
            maxKeys: 2,
          }),
        },
        { requiredKeys: ["specversion", "id", "source", "type", "time", "data"] },
      )
      .map(({ extensions, ...event }) => ({ ...(extensions ?? {}), ...event }) as FuzzEvent),
  );
}

/** Data of `type` as a healthy line sends it: names the plant knows, small quantities in range. */
function plausibleDataArb(type: string, vocab: Vocabulary): fc.Arbitrary<{ [key: string]: FuzzJson }> {
  const rule = dataSchemaOf(type);
  const required = new Set([...(rule.required ?? []), ...(rule.anyOf?.[0]?.required ?? [])]);
  const known: Record<string, string[]> = {
    order: vocab.orders,
    operation: vocab.operations,
    material: vocab.materials,
    uom: vocab.uoms,
    unit: vocab.uoms,
    reason_code: vocab.reasons,
  };
  const fields = Object.entries(rule.properties)
    .filter(([name]) => name !== "workcenter" || required.has(name))
    .map(([name, prop]) => {
      // A signed quantity (a correction) is small either way; the others start above their floor.
      const floor = Math.max(prop.exclusiveMinimum ?? prop.minimum ?? 0, -21);
      const value: fc.Arbitrary<FuzzJson> =
        prop.type === "boolean"
          ? fc.boolean()
          : prop.type === "number"
            ? fc.integer({ min: Math.ceil(floor) + 1, max: Math.ceil(Math.max(floor, 0)) + 20 })
            : prop.type === "array"
              ? fc.array(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }), {
                  minLength: 1,
                  maxLength: 3,
                })
              : known[name]?.length
                ? fc.constantFrom(...(known[name] as string[]))
                : fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 });
      return required.has(name)
        ? value.map((v) => [name, v] as const)
        : fc.option(
            value.map((v) => [name, v] as const),
            { freq: 2 },
          );
    });
  return fc.tuple(...fields).map((pairs) => Object.fromEntries(pairs.filter((p) => p !== null)));
}

/** An event as a healthy line sends it (so apply runs often): a known source, a recent time, plausible data. */
export function plausibleEventArb(vocab: Vocabulary): fc.Arbitrary<FuzzEvent> {
  return fc.constantFrom(...EVENT_TYPES).chain((type) =>
    fc.record({
      specversion: fc.constant("1.0"),
      id: fc.uuid(),
      source: fc.constantFrom(...(vocab.sources.length ? vocab.sources : ["plant1/line1/press-01"])),
      type: fc.constant(type),
      time: fc
        .integer({ min: Date.UTC(2026, 10, 20), max: Date.UTC(2026, 11, 31) })
        .map((ms) => new Date(ms).toISOString()),
      data: plausibleDataArb(type, vocab),
    }),
  );
}

const ENVELOPE_FIELDS = [
  "specversion",
  "id",
  "source",
  "type",
  "time",
  "subject",
  "data",
  "mappingrev",
  "Bad-Name!",
  "observedtime",
];

/** A valid envelope with one field removed or replaced by any JSON value. */
export function spoiledEventArb(vocab: Vocabulary): fc.Arbitrary<FuzzEvent> {
  return fc
    .tuple(
      validEventArb(vocab),
      fc.constantFrom(...ENVELOPE_FIELDS),
      fc.option(
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<FuzzJson>,
          floorString(),
          floorNumber(),
          fc.constantFrom<FuzzJson>("workorder.exploded", "0.3", "", null, [], {}),
        ),
        { nil: undefined },
      ),
    )
    .map(([event, field, value]) => {
      const spoiled: FuzzEvent = { ...event };
      if (value === undefined) delete spoiled[field];
      else spoiled[field] = value;
      return spoiled;
    });
}

export interface CaseOptions {
  /** Most messages in one case (a batch published in one run). */
  maxMessages?: number;
}

/** A batch of messages for one run of the chain. */
export function fuzzCaseArb(vocab: Vocabulary, opts: CaseOptions = {}): fc.Arbitrary<FuzzCase> {
  const bytes = (max: number) =>
    fc.uint8Array({ minLength: 1, maxLength: max }).map((b) => Buffer.from(b).toString("base64"));
  const message: fc.Arbitrary<FuzzMessage> = fc.oneof(
    { withCrossShrink: true },
    { weight: 160, arbitrary: validEventArb(vocab).map((event) => ({ kind: "event" as const, event })) },
    { weight: 100, arbitrary: plausibleEventArb(vocab).map((event) => ({ kind: "event" as const, event })) },
    { weight: 48, arbitrary: spoiledEventArb(vocab).map((event) => ({ kind: "event" as const, event })) },
    {
      weight: 16,
      arbitrary: fc.record({ kind: fc.constant("cut" as const), event: validEventArb(vocab), keep: fc.nat() }),
    },
    {
      weight: 16,
      arbitrary: fc.record({
        kind: fc.constant("splice" as const),
        event: validEventArb(vocab),
        at: fc.nat(),
        b64: fc.oneof(
          fc.constantFrom(
            "w6g=" /* c3 28 */,
            "/w==" /* ff */,
            "7aCA" /* ed a0 80 */,
            "AA==" /* 00 */,
            "4g==" /* e2 */,
            "8JCA" /* f0 90 80 */,
          ),
          bytes(4),
        ),
      }),
    },
    { weight: 16, arbitrary: fc.record({ kind: fc.constant("raw" as const), b64: bytes(600) }) },
    {
      weight: 12,
      arbitrary: fc.record({
        kind: fc.constant("text" as const),
        text: fc.oneof(
          floorString(),
          fc.json({ maxDepth: 3 }),
          fc.constantFrom("NaN", "{}", "[]", '{"id":"x"}', "\u0000", "\u0001", "null"),
        ),
      }),
    },
    { weight: 24, arbitrary: fc.record({ kind: fc.constant("repeat" as const), of: fc.nat() }) },
    {
      weight: 24,
      arbitrary: fc.record(
        { kind: fc.constant("same-id" as const), of: fc.nat(), time: floorTime(), data: fc.constant({ again: true }) },
        { requiredKeys: ["kind", "of"] },
      ),
    },
    // Rarely: publishing and rejecting 10 MB takes about a second.
    { weight: 1, arbitrary: fc.constant({ kind: "huge" as const, bytes: 10 * 1024 * 1024 }) },
  );
  // "medium": lengths spread over the whole range (fast-check's default keeps arrays short).
  return fc.record({
    messages: fc.array(message, { minLength: 1, maxLength: opts.maxMessages ?? 30, size: "medium" }),
  });
}

/** The least data of `type` its rule accepts, with names the plant knows. */
export function minimalData(type: string, vocab: Vocabulary): { [key: string]: FuzzJson } {
  const rule = dataSchemaOf(type);
  const needed = [...(rule.required ?? []), ...(rule.anyOf?.[0]?.required ?? [])];
  const sample: Record<string, FuzzJson> = {
    order: vocab.orders[0] ?? "WH/MO/00001",
    material: vocab.materials[0] ?? "M1",
    reason_code: vocab.reasons[0] ?? "RUN",
    characteristic: "diameter",
    pass: true,
  };
  const data: { [key: string]: FuzzJson } = {};
  for (const name of needed) {
    const prop = rule.properties[name] ?? {};
    data[name] = sample[name] ?? (prop.type === "number" ? 1 : prop.type === "boolean" ? true : "x");
  }
  return data;
}

/**
 * The case every fuzz run starts with: each odd-but-valid value of the
 * sidecar's corpus (NUL-padded PLC string, lone surrogates, 4 KiB of emoji,
 * years 0001 and 9999, 1e400, …), one plain event of every type in the
 * schema, a repeat and a same-id copy at another time.
 */
export function coverageCase(vocab: Vocabulary): FuzzCase {
  const odd: FuzzMessage[] = oddCorpus(42, "cov").map((c) => ({ kind: "json", text: c.payload.toString("utf8") }));
  const plain: FuzzMessage[] = EVENT_TYPES.map((type, i) => ({
    kind: "event",
    event: {
      specversion: "1.0",
      id: type,
      source: vocab.sources[i % Math.max(1, vocab.sources.length)] ?? "plant1/line1/press-01",
      type,
      time: new Date(Date.UTC(2026, 10, 22, 8, i)).toISOString(),
      data: minimalData(type, vocab),
    },
  }));
  return {
    messages: [
      ...odd,
      ...plain,
      { kind: "repeat", of: odd.length },
      { kind: "same-id", of: 0, time: "2026-11-22T09:30:00Z" },
    ],
  };
}

// ------------------------------------------------------------------ bytes

const isLiteral = (v: unknown): v is JsonLiteral =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  Object.keys(v).length === 1 &&
  typeof (v as JsonLiteral).$literal === "string";

/** JSON text of a model value; literals written as they are. Lone surrogates come out as \ud800 escapes. */
export function toJsonText(value: FuzzJson): string {
  if (isLiteral(value)) return value.$literal;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Where the sidecar's rows for one published message are expected in Odoo. */
export type ExpectedKey =
  /** A valid event: keyed (source, id) in Odoo; `marker` starts its id. */
  | { kind: "event"; source: string; id: string; marker: string }
  /** Input the sidecar rejects: keyed (topic, rejectedId(connection, topic, bytes)). */
  | { kind: "rejected"; source: string; id: string; reason: string };

export interface Publication {
  /** Position of its message in the case. */
  index: number;
  topic: string;
  payload: Buffer;
  expected: ExpectedKey;
  /** `event`, `raw`, `repeat of 3`, … for reports. */
  label: string;
}

/** The id prefix of message `index` in the run `nonce`. */
export const markerOf = (nonce: string, index: number) => `fz${nonce}.${index}~`;

/** Key of an expected row; the same for a message and its repeats and same-id copies. */
export const groupKey = (e: ExpectedKey) => `${e.kind}\u0001${e.source}\u0001${e.id}`;

/**
 * The bytes a case publishes in the run `nonce` on topics under `prefix`,
 * and what the sidecar makes of each (validated here by the sidecar's own
 * validatePayload, so an event is expected as an event exactly when the
 * sidecar will accept it).
 */
export function concretize(
  fuzzCase: FuzzCase,
  opts: { prefix: string; nonce: string; connection: string },
): Publication[] {
  const out: Publication[] = [];
  const messages = fuzzCase.messages;
  const envelopes = messages
    .map((m, index) => ({ m, index }))
    .filter((x): x is { m: Extract<FuzzMessage, { kind: "event" }>; index: number } => x.m.kind === "event");
  const concreteEvents = new Map<number, FuzzEvent>();
  const withMarker = (event: FuzzEvent, index: number): FuzzEvent =>
    typeof event.id === "string" ? { ...event, id: markerOf(opts.nonce, index) + event.id } : event;
  for (const { m, index } of envelopes) concreteEvents.set(index, withMarker(m.event, index));

  const publish = (index: number, topic: string, payload: Buffer, label: string) => {
    const checked = validatePayload(payload, { connection: opts.connection, origin: topic, receivedAt: new Date() });
    const expected: ExpectedKey = checked.ok
      ? {
          kind: "event",
          source: checked.event.source,
          id: checked.event.id,
          marker: /^fz[^~]*~/.exec(checked.event.id)?.[0] ?? checked.event.id,
        }
      : {
          kind: "rejected",
          source: topic.slice(0, 256),
          id: rejectedId(opts.connection, topic, payload),
          reason: checked.rejected.reason,
        };
    out.push({ index, topic, payload, expected, label });
  };

  messages.forEach((m, index) => {
    const topic = `${opts.prefix}/${opts.nonce}/${index}`;
    switch (m.kind) {
      case "event":
        publish(index, topic, Buffer.from(toJsonText(concreteEvents.get(index) as FuzzEvent)), "event");
        break;
      case "json": {
        const text = m.text.replace('"id":"', `"id":"${markerOf(opts.nonce, index)}`);
        publish(index, topic, Buffer.from(text), "json");
        break;
      }
      case "cut": {
        const full = Buffer.from(toJsonText(withMarker(m.event, index)));
        publish(index, topic, full.subarray(0, m.keep % full.length), "cut");
        break;
      }
      case "splice": {
        const full = Buffer.from(toJsonText(withMarker(m.event, index)));
        const at = m.at % (full.length + 1);
        publish(
          index,
          topic,
          Buffer.concat([full.subarray(0, at), Buffer.from(m.b64, "base64"), full.subarray(at)]),
          "splice",
        );
        break;
      }
      case "raw":
        publish(index, topic, Buffer.from(m.b64, "base64"), "raw");
        break;
      case "text":
        publish(index, topic, Buffer.from(m.text), "text");
        break;
      case "huge":
        publish(index, topic, Buffer.alloc(m.bytes, 0x7b), `${m.bytes} bytes`);
        break;
      case "repeat": {
        // The latest publication of an earlier message: the same topic and bytes again.
        const earlier = out.filter((p) => p.index < index);
        const original = earlier[m.of % Math.max(1, earlier.length)];
        if (original) out.push({ ...original, index, label: `repeat of ${original.index}` });
        break;
      }
      case "same-id": {
        // An envelope (earlier or later: reordered) with the same id and source, at another time.
        const target = envelopes[m.of % Math.max(1, envelopes.length)];
        if (!target || target.index === index) break;
        const base = concreteEvents.get(target.index) as FuzzEvent;
        const copy: FuzzEvent = { ...base };
        if (m.time !== undefined) copy.time = m.time;
        if (m.data !== undefined) copy.data = m.data;
        publish(index, topic, Buffer.from(toJsonText(copy)), `same id as ${target.index}`);
        break;
      }
    }
  });
  return out;
}
