// Deterministic corpora of odd MQTT payloads.
//
// `hostileCorpus`: payloads the sidecar must reject (each ends in Odoo as a
// `rejected` row with its reason): mutated events, random JSON, binary
// garbage, invalid UTF-8, truncated JSON, empty payloads, one 10 MB payload.
// `oddCorpus`: events carrying the values floors really send and a chain
// can choke on (NUL-padded PLC strings, control characters, lone
// surrogates, 4 KiB of emoji, far-off clocks, huge numbers): each must end
// in Odoo exactly once, in whatever state its handlers give it; the text
// ones are valid events, the out-of-range ones valid or rejected naming the
// field. The unit test (fuzz.test.ts) holds these promises against the
// sidecar's own validation, and fails when a mutation is never used.

/** Mulberry32: small deterministic PRNG, so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validEvent(i: number, tag = "fuzz"): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: `${tag}-${i}`,
    source: `${tag}/press-1`,
    type: "quality.result",
    time: new Date(Date.UTC(2026, 10, 22, 8, 0, 0, i)).toISOString(),
    data: { characteristic: "diameter", pass: true, value: i },
  };
}

type Event = Record<string, unknown>;

/** Bytes sent as they are: JSON text `JSON.stringify` never writes (`NaN`, `9007199254740993`), a lone control byte. */
export class RawPayload {
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
}

/** One way to spoil (or strain) a valid event: `make` returns a value sent as JSON, or a RawPayload. */
export interface Mutation {
  name: string;
  make(event: Event, random: () => number, i: number): unknown;
  /**
   * Odd values only: the field holding a value out of any plausible range
   * (a time, a quantity). Where the schema bounds it, the sidecar rejects the
   * event naming this field; else the event goes on to Odoo.
   */
  field?: string;
}

/** `event` as JSON text with the number `placeholder` written as the literal `text`. */
function withLiteral(event: Event, placeholder: number, text: string): RawPayload {
  const json = JSON.stringify(event);
  const at = json.indexOf(`:${placeholder}`);
  if (at < 0) throw new Error(`placeholder ${placeholder} not in ${json}`);
  return new RawPayload(
    Buffer.from(`${json.slice(0, at + 1)}${text}${json.slice(at + 1 + String(placeholder).length)}`),
  );
}

const PLACEHOLDER = 424242.125;

/** Mutations whose result the sidecar rejects. */
export const MUTATIONS: readonly Mutation[] = [
  { name: "no-specversion", make: (e) => ({ ...e, specversion: undefined }) },
  { name: "numeric-id", make: (e) => ({ ...e, id: 12 }) },
  { name: "unknown-type", make: (e) => ({ ...e, type: "workorder.exploded" }) },
  { name: "unreadable-time", make: (e) => ({ ...e, time: "yesterday at noon" }) },
  { name: "data-wrong-types", make: (e) => ({ ...e, data: { characteristic: 5, pass: "yes" } }) },
  { name: "data-missing-required", make: (e) => ({ ...e, data: { pass: true } }) },
  { name: "data-not-object", make: (e) => ({ ...e, data: "not an object" }) },
  {
    name: "data-nested",
    make: (e) => ({ ...e, data: { characteristic: "x", pass: true, nested: { deep: [1, 2, 3] } } }),
  },
  { name: "subject-over-4kib", make: (e, _r, i) => ({ ...e, subject: "s".repeat(4097 + (i % 50)) }) },
  { name: "bad-extension-name", make: (e) => ({ ...e, "Bad-Extension!": "x" }) },
  { name: "empty-source", make: (e) => ({ ...e, source: "" }) },
  {
    name: "negative-qty-good",
    make: (e) => ({ ...e, type: "workorder.completed", data: { order: "WH/MO/1", qty_good: -5 } }),
  },
  {
    name: "negative-qty-consumed",
    make: (e) => ({ ...e, type: "material.consumed", data: { order: "WH/MO/1", material: "M1", qty: -1e308 } }),
  },
  { name: "zero-scrap", make: (e) => ({ ...e, type: "scrap.reported", data: { qty: 0 } }) },
  {
    name: "correction-past-a-billion",
    make: (e) => ({ ...e, type: "production.corrected", data: { order: "WH/MO/1", qty: -2e9 } }),
  },
  {
    name: "scrap-reversal-naming-no-scrap",
    make: (e) => ({ ...e, type: "scrap.reversed", data: { order: "WH/MO/1" } }),
  },
  {
    name: "negative-consumption-reversal",
    make: (e) => ({ ...e, type: "consumption.reversed", data: { order: "WH/MO/1", material: "M1", qty: -1 } }),
  },
  {
    name: "nan-correction",
    make: (e) =>
      withLiteral(
        { ...e, type: "production.corrected", data: { order: "WH/MO/1", qty: PLACEHOLDER } },
        PLACEHOLDER,
        "NaN",
      ),
  },
  { name: "negative-mappingrev", make: (e) => ({ ...e, mappingrev: -1 }) },
  { name: "object-extension", make: (e) => ({ ...e, ext: { object: true } }) },
  { name: "array-of-event", make: (e) => [e] },
  { name: "bare-number", make: (_e, r) => r() * 1e9 },
  { name: "null", make: () => null },
  { name: "bare-string", make: () => "just a string" },
  // A PLC that writes one status byte to the topic.
  { name: "one-control-byte", make: (_e, _r, i) => new RawPayload(Buffer.from([i % 32])) },
  {
    name: "nan-literal",
    make: (e) =>
      withLiteral({ ...e, type: "scrap.reported", data: { qty: PLACEHOLDER, order: "WH/MO/1" } }, PLACEHOLDER, "NaN"),
  },
  {
    name: "infinity-literal",
    make: (e) =>
      withLiteral(
        { ...e, type: "production.reported", data: { order: "WH/MO/1", qty_good: PLACEHOLDER } },
        PLACEHOLDER,
        "Infinity",
      ),
  },
  {
    name: "minus-infinity-literal",
    make: (e) =>
      withLiteral({ ...e, data: { characteristic: "d", pass: true, value: PLACEHOLDER } }, PLACEHOLDER, "-Infinity"),
  },
  { name: "leap-second", make: (e) => ({ ...e, time: "2026-12-31T23:59:60Z" }) },
  { name: "time-without-zone", make: (e) => ({ ...e, time: "2026-11-22T08:00:00" }) },
  { name: "emoji-over-4kib", make: (e) => ({ ...e, subject: "😀".repeat(4097) }) },
];

/**
 * Mutations whose result the chain must carry to one clear outcome in Odoo
 * (stored exactly once): text any transport must carry (the sidecar accepts
 * it), and times and quantities out of range (`field`: the schema's bounds
 * decide whether the sidecar rejects them, else Odoo stores them flagged or
 * rejected).
 */
export const ODD_MUTATIONS: readonly Mutation[] = [
  {
    name: "control-chars-in-strings",
    make: (e) => ({
      ...e,
      data: { characteristic: "\u0000\u0001\u0002\u001b[0m\u007f", pass: true, __proto__x: 1 },
      constructor: "x",
    }),
  },
  {
    // A PLC STRING[20] read whole: the text, then NULs to the declared length.
    name: "nul-padded-plc-string",
    make: (e) => ({
      ...e,
      type: "workorder.completed",
      data: { order: "WH/MO/00042\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000", qty_good: 1 },
    }),
  },
  { name: "nul-in-id", make: (e) => ({ ...e, id: `${e.id}\u0000pad` }) },
  {
    // JSON.stringify writes a lone surrogate as a \ud800 escape: valid JSON, not valid UTF-16.
    name: "lone-surrogates",
    make: (e) => ({ ...e, data: { characteristic: "\ud800|x\udfff|\udc00\ud800", pass: false } }),
  },
  { name: "lone-surrogate-in-source", make: (e) => ({ ...e, source: `${e.source}\ud800` }) },
  {
    name: "nonchars-fffe-ffff",
    make: (e) => ({ ...e, subject: "\ufffe\uffff", data: { characteristic: "\uffff", pass: true } }),
  },
  {
    name: "cr-vs-lf",
    make: (e) => ({ ...e, subject: "a\r\nb\rc\nd\u2028e\u2029f", data: { characteristic: "\r", pass: true } }),
  },
  { name: "emoji-4kib", make: (e) => ({ ...e, subject: "😀".repeat(4096) }) },
  { name: "skew-past-24.8-days", field: "time", make: (e) => ({ ...e, time: "2025-01-01T00:00:00Z" }) },
  { name: "time-far-future", field: "time", make: (e) => ({ ...e, time: "2999-06-30T12:00:00Z" }) },
  { name: "plc-clock-reset-2000", field: "time", make: (e) => ({ ...e, time: "2000-01-01T00:00:00Z" }) },
  { name: "year-0001", field: "time", make: (e) => ({ ...e, time: "0001-01-01T00:00:00Z" }) },
  // Date.parse reads year 0; Python's datetime starts at year 1.
  { name: "year-0000", field: "time", make: (e) => ({ ...e, time: "0000-01-01T00:00:00Z" }) },
  { name: "year-9999", field: "time", make: (e) => ({ ...e, time: "9999-12-31T23:59:59.999Z" }) },
  { name: "time-offset-plus-14", field: "time", make: (e) => ({ ...e, time: "2026-11-22T22:00:00.5+14:00" }) },
  { name: "february-30", field: "time", make: (e) => ({ ...e, time: "2026-02-30T08:00:00Z" }) },
  {
    name: "qty-1e308",
    field: "/data/qty_good",
    make: (e) => ({
      ...e,
      type: "production.reported",
      data: { order: "WH/MO/00042", qty_good: 1e308, qty_scrap: 1e308 },
    }),
  },
  {
    name: "qty-past-2^53",
    field: "/data/qty",
    make: (e) =>
      withLiteral(
        { ...e, type: "material.consumed", data: { order: "WH/MO/00042", material: "M1", qty: PLACEHOLDER } },
        PLACEHOLDER,
        "9007199254740993",
      ),
  },
  {
    name: "qty-1e400-literal",
    field: "/data/qty",
    make: (e) => withLiteral({ ...e, type: "scrap.reported", data: { qty: PLACEHOLDER } }, PLACEHOLDER, "1e400"),
  },
  {
    name: "tiny-numbers",
    field: "/data/high",
    make: (e) =>
      withLiteral(
        { ...e, data: { characteristic: "d", pass: true, value: 5e-324, low: PLACEHOLDER, high: -1e308 } },
        PLACEHOLDER,
        "-0",
      ),
  },
];

function randomJson(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 2 ? 4 : 6));
  if (k === 0) return Math.floor(r() * 1e6) - 5e5;
  if (k === 1) return r() > 0.5;
  if (k === 2)
    return String.fromCharCode(
      ...Array.from({ length: 1 + Math.floor(r() * 20) }, () => 32 + Math.floor(r() * 0x2000)),
    );
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let n = Math.floor(r() * 5); n > 0; n--) o[`k${Math.floor(r() * 100)}`] = randomJson(r, depth + 1);
  return o;
}

const INVALID_UTF8: readonly { name: string; bytes: number[] }[] = [
  { name: "bad-continuation", bytes: [0xc3, 0x28] },
  { name: "lone-continuation", bytes: [0xa0, 0xa1] },
  { name: "bad-3-byte", bytes: [0xe2, 0x28, 0xa1] },
  { name: "bad-4-byte", bytes: [0xf0, 0x28, 0x8c, 0xbc] },
  { name: "ff-byte", bytes: [0xff] },
  { name: "encoded-surrogate", bytes: [0xed, 0xa0, 0x80] },
];

/** Names of every variant `hostileCorpus` can produce: each must occur in a corpus of 1,000. */
export const HOSTILE_VARIANTS: readonly string[] = [
  ...MUTATIONS.map((m) => `mutated-event/${m.name}`),
  "random-json",
  "binary",
  ...INVALID_UTF8.map((v) => `invalid-utf8/${v.name}`),
  "truncated-json",
  "empty/zero-bytes",
  "empty/whitespace",
  "10MB",
];

export interface CorpusItem {
  topic: string;
  payload: Buffer;
  kind: string;
  /** Which variant of its kind made it (`mutated-event/nan-literal`, `invalid-utf8/ff-byte`, …). */
  variant: string;
}

function encode(value: unknown): Buffer {
  return value instanceof RawPayload ? value.bytes : Buffer.from(JSON.stringify(value) ?? "undefined");
}

/** `count` distinct hostile payloads (the last one 10 MB), each with its own topic suffix. */
export function hostileCorpus(count: number, seed = 42): CorpusItem[] {
  const r = prng(seed);
  const out: CorpusItem[] = [];
  // Each kind walks its own list of variants, so every variant comes round.
  const next = { mutated: 0, utf8: 0, empty: 0 };
  for (let i = 0; out.length < count - 1; i++) {
    const bucket = i % 10;
    let payload: Buffer;
    let kind: string;
    let variant: string;
    if (bucket < 4) {
      const m = MUTATIONS[next.mutated++ % MUTATIONS.length] as Mutation;
      payload = encode(m.make(validEvent(i, "hostile"), r, i));
      kind = "mutated-event";
      variant = `${kind}/${m.name}`;
    } else if (bucket < 6) {
      payload = Buffer.from(JSON.stringify(randomJson(r)) ?? "null");
      kind = variant = "random-json";
    } else if (bucket < 7) {
      payload = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 512) }, () => Math.floor(r() * 256)));
      kind = variant = "binary";
    } else if (bucket < 8) {
      const good = Buffer.from(JSON.stringify(validEvent(i, "hostile")));
      const bad = INVALID_UTF8[next.utf8++ % INVALID_UTF8.length] as (typeof INVALID_UTF8)[number];
      const at = 20 + Math.floor(r() * (good.length - 40));
      payload = Buffer.concat([good.subarray(0, at), Buffer.from(bad.bytes), good.subarray(at)]);
      kind = "invalid-utf8";
      variant = `${kind}/${bad.name}`;
    } else if (bucket < 9) {
      const good = JSON.stringify(validEvent(i, "hostile"));
      payload = Buffer.from(good.slice(0, 1 + Math.floor(r() * (good.length - 2))));
      kind = variant = "truncated-json";
    } else {
      const n = next.empty++;
      payload = Buffer.from(n % 2 === 0 ? "" : " \n\t ".repeat(1 + (n % 5)));
      kind = "empty";
      variant = n % 2 === 0 ? "empty/zero-bytes" : "empty/whitespace";
    }
    out.push({ topic: `shopfloor/hostile/${out.length}`, payload, kind, variant });
  }
  const huge = Buffer.alloc(10 * 1024 * 1024, 0x7b);
  out.push({ topic: `shopfloor/hostile/${out.length}`, payload: huge, kind: "10MB", variant: "10MB" });
  return out;
}

/** One event per odd mutation (ids `<tag>-<n>`), each with its own topic suffix. */
export function oddCorpus(seed = 42, tag = "odd"): (CorpusItem & { field?: string })[] {
  const r = prng(seed);
  return ODD_MUTATIONS.map((m, i) => ({
    topic: `shopfloor/${tag}/${i}`,
    payload: encode(m.make(validEvent(i, tag), r, i)),
    kind: "odd",
    variant: m.name,
    ...(m.field ? { field: m.field } : {}),
  }));
}
