// The generator covers what test/fuzz/README.md names, and concretize predicts what
// the sidecar makes of each message (checked with the sidecar's validation).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../../sidecar/src/core/contract.ts";
import { validatePayload } from "../../sidecar/src/core/validate.ts";
import { ODD_MUTATIONS } from "../../sidecar/test/support/fuzz.ts";
import {
  concretize,
  coverageCase,
  DEMO_VOCABULARY,
  type FuzzCase,
  fuzzCaseArb,
  groupKey,
  markerOf,
  type Publication,
  toJsonText,
} from "./arbitraries.ts";

const cases = fc.sample(fuzzCaseArb(DEMO_VOCABULARY, { maxMessages: 30 }), { seed: 1, numRuns: 300 });
const publications = cases.flatMap((c, n) => concretize(c, { prefix: "fuzz/t", nonce: `s${n}`, connection: "t" }));
const texts = publications.map((p) => p.payload.toString("utf8"));
const accepted = publications.filter((p) => p.expected.kind === "event");

describe("fuzzCaseArb", () => {
  it("generates valid events of every type, and rejected input, both often", () => {
    const types = new Set(accepted.map((p) => (JSON.parse(p.payload.toString("utf8")) as { type: string }).type));
    expect([...types].sort()).toEqual([...EVENT_TYPES].sort());
    expect(accepted.length).toBeGreaterThan(publications.length * 0.3);
    expect(publications.length - accepted.length).toBeGreaterThan(publications.length * 0.2);
  });

  it("puts the character classes of the fuzzer's README into accepted events", () => {
    const json = accepted.map((p) => p.payload.toString("utf8"));
    const has = (re: RegExp) => json.filter((t) => re.test(t)).length;
    expect(has(/\\u0000/)).toBeGreaterThan(10); // NUL
    expect(has(/\\u000[1-8bcef]|\\u001[0-9a-f]/)).toBeGreaterThan(10); // other C0 controls
    expect(has(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/)).toBeGreaterThan(10); // lone high surrogates
    expect(has(/\uffff|\ufffe/)).toBeGreaterThan(5);
    expect(has(/\\r(?!\\n)/)).toBeGreaterThan(5);
    expect(has(/(😀){4000}/)).toBeGreaterThan(0);
  });

  it("generates odd numbers and times", () => {
    const all = texts.join("\n");
    for (const literal of ["1e+308", "9007199254740993", "1e400", ":NaN", "5e-324", ":-0"]) {
      expect(all, literal).toContain(literal);
    }
    for (const time of ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2000-01-01T00:00:00Z", "23:59:60Z"]) {
      expect(all, time).toContain(time);
    }
    // Times with offsets, and accepted times far from now (skew beyond 24.8 days).
    expect(texts.some((t) => /"time":"[^"]+[+-]\d\d:\d\d"/.test(t))).toBe(true);
    const farOff = accepted.filter((p) => {
      const time = Date.parse((JSON.parse(p.payload.toString("utf8")) as { time: string }).time);
      return Math.abs(Date.now() - time) > 2 ** 31;
    });
    expect(farOff.length).toBeGreaterThan(10);
  });

  it("generates garbage: truncated UTF-8, binary, empty, and rarely 10 MB", () => {
    const labels = new Set(publications.map((p) => p.label.replace(/ \d+$/, "")));
    for (const label of ["cut", "splice", "raw", "text", "event", "repeat of", "same id as", "10485760 bytes"]) {
      expect(
        [...labels].some((l) => l.startsWith(label)),
        label,
      ).toBe(true);
    }
    const reasons = publications.flatMap((p) => (p.expected.kind === "rejected" ? [p.expected.reason] : []));
    expect(reasons.some((r) => /UTF-8/.test(r))).toBe(true);
    expect(reasons.some((r) => /not JSON/.test(r))).toBe(true);
    expect(reasons.some((r) => /oversize/.test(r))).toBe(true);
    const huge = publications.filter((p) => p.payload.byteLength > 1e6).length;
    expect(huge).toBeGreaterThan(0);
    expect(huge).toBeLessThan(publications.length / 50);
  });
});

describe("concretize", () => {
  it("predicts the sidecar's verdict on every publication", () => {
    for (const p of publications.slice(0, 2_000)) {
      const verdict = validatePayload(p.payload, { connection: "t", origin: p.topic, receivedAt: new Date() });
      expect(verdict.ok).toBe(p.expected.kind === "event");
    }
  });

  it("marks ids per run: the same case in two runs shares no key", () => {
    const c = cases[7] as FuzzCase;
    const a = concretize(c, { prefix: "fuzz/t", nonce: "a1", connection: "t" });
    const b = concretize(c, { prefix: "fuzz/t", nonce: "a2", connection: "t" });
    const keysA = new Set(a.map((p) => groupKey(p.expected)));
    expect(b.filter((p) => keysA.has(groupKey(p.expected)))).toEqual([]);
  });

  it("gives a repeat and a same-id copy the key of their original", () => {
    const event = {
      specversion: "1.0",
      id: "x",
      source: "plant1/line1/press-01",
      type: "setup.started",
      time: "2026-11-22T08:00:00Z",
      data: {},
    };
    const pubs = concretize(
      {
        messages: [
          { kind: "event", event },
          { kind: "repeat", of: 0 },
          { kind: "same-id", of: 0, time: "2026-11-22T09:00:00Z" },
        ],
      },
      { prefix: "fuzz/t", nonce: "r", connection: "t" },
    );
    expect(pubs.map((p) => groupKey(p.expected))).toEqual(
      Array(3).fill(groupKey(pubs[0]?.expected as Publication["expected"])),
    );
    expect(pubs[0]?.expected).toMatchObject({ kind: "event", id: `${markerOf("r", 0)}x` });
    expect(pubs[1]?.topic).toBe(pubs[0]?.topic);
    expect(pubs[2]?.payload.toString()).toContain('"time":"2026-11-22T09:00:00Z"');
  });

  it("writes JSON literals as they are", () => {
    expect(toJsonText({ a: { $literal: "NaN" }, b: [1, { $literal: "1e400" }], c: "\ud800" })).toBe(
      '{"a":NaN,"b":[1,1e400],"c":"\\ud800"}',
    );
  });
});

describe("coverageCase", () => {
  it("holds every odd value and one plain event of every type; odd text and plain events accepted by the sidecar", () => {
    const pubs = concretize(coverageCase(DEMO_VOCABULARY), { prefix: "fuzz/t", nonce: "c", connection: "t" });
    const ranged = new Set(ODD_MUTATIONS.flatMap((m, i) => (m.field ? [i] : [])));
    expect(
      pubs
        .filter((p) => p.expected.kind !== "event" && !ranged.has(p.index))
        .map((p) => p.payload.toString().slice(0, 200)),
    ).toEqual([]);
    expect(pubs.length).toBe(ODD_MUTATIONS.length + EVENT_TYPES.length + 2);
    expect(new Set(pubs.map((p) => groupKey(p.expected))).size).toBe(ODD_MUTATIONS.length + EVENT_TYPES.length);
  });
});
