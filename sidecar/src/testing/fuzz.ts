// A deterministic corpus of malformed and hostile MQTT payloads: mutated
// events, wrong types, random JSON, binary garbage, invalid UTF-8,
// truncated JSON, empty payloads, and one 10 MB payload.

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

const MUTATIONS: ((e: Record<string, unknown>, r: () => number, i: number) => unknown)[] = [
  (e) => ({ ...e, specversion: undefined }),
  (e) => ({ ...e, id: 12 }),
  (e) => ({ ...e, type: "workorder.exploded" }),
  (e) => ({ ...e, time: "yesterday at noon" }),
  (e) => ({ ...e, data: { characteristic: 5, pass: "yes" } }),
  (e) => ({ ...e, data: { pass: true } }),
  (e) => ({ ...e, data: "not an object" }),
  (e) => ({ ...e, data: { characteristic: "x", pass: true, nested: { deep: [1, 2, 3] } } }),
  (e, _r, i) => ({ ...e, subject: "s".repeat(4097 + i) }),
  (e) => ({ ...e, "Bad-Extension!": "x" }),
  (e) => ({ ...e, source: "" }),
  (e) => ({ ...e, type: "workorder.completed", data: { order: "WH/MO/1", qty_good: -5 } }),
  (e) => ({ ...e, type: "scrap.reported", data: { qty: 0 } }),
  (e) => ({ ...e, mappingrev: -1 }),
  (e) => ({ ...e, ext: { object: true } }),
  (e) => [e],
  (_e, r) => r() * 1e9,
  () => null,
  () => "just a string",
  (e) => ({ ...e, data: { characteristic: "\u0000\u0001\u0002", pass: true, __proto__x: 1 }, constructor: "x" }),
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

const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xff],
  [0xed, 0xa0, 0x80],
];

/** `count` distinct hostile payloads (the last one 10 MB), each with its own topic suffix. */
export function hostileCorpus(count: number, seed = 42): { topic: string; payload: Buffer; kind: string }[] {
  const r = prng(seed);
  const out: { topic: string; payload: Buffer; kind: string }[] = [];
  for (let i = 0; out.length < count - 1; i++) {
    const bucket = i % 10;
    let payload: Buffer;
    let kind: string;
    if (bucket < 4) {
      const m = MUTATIONS[i % MUTATIONS.length] as (typeof MUTATIONS)[number];
      payload = Buffer.from(JSON.stringify(m(validEvent(i, "hostile"), r, i)) ?? "undefined");
      kind = "mutated-event";
    } else if (bucket < 6) {
      payload = Buffer.from(JSON.stringify(randomJson(r)) ?? "null");
      kind = "random-json";
    } else if (bucket < 7) {
      payload = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 512) }, () => Math.floor(r() * 256)));
      kind = "binary";
    } else if (bucket < 8) {
      const good = Buffer.from(JSON.stringify(validEvent(i, "hostile")));
      const bad = Buffer.from(INVALID_UTF8[i % INVALID_UTF8.length] as number[]);
      const at = 20 + Math.floor(r() * (good.length - 40));
      payload = Buffer.concat([good.subarray(0, at), bad, good.subarray(at)]);
      kind = "invalid-utf8";
    } else if (bucket < 9) {
      const good = JSON.stringify(validEvent(i, "hostile"));
      payload = Buffer.from(good.slice(0, 1 + Math.floor(r() * (good.length - 2))));
      kind = "truncated-json";
    } else {
      payload = Buffer.from(i % 20 === 9 ? "" : " \n\t ".repeat(1 + (i % 5)));
      kind = "empty";
    }
    out.push({ topic: `shopfloor/hostile/${out.length}`, payload, kind });
  }
  const huge = Buffer.alloc(10 * 1024 * 1024, 0x7b);
  out.push({ topic: `shopfloor/hostile/${out.length}`, payload: huge, kind: "10MB" });
  return out;
}
