import { describe, expect, it } from "vitest";
import { validatePayload } from "../../src/core/validate.ts";
import { HOSTILE_VARIANTS, hostileCorpus, MUTATIONS, ODD_MUTATIONS, oddCorpus } from "./fuzz.ts";

const where = (origin: string) => ({ connection: "fuzz", origin, receivedAt: new Date("2026-11-22T08:00:00Z") });

describe("hostileCorpus", () => {
  const corpus = hostileCorpus(1_000);

  it("uses every variant of every kind in 1,000 items", () => {
    const used = new Set(corpus.map((c) => c.variant));
    const unused = HOSTILE_VARIANTS.filter((v) => !used.has(v));
    expect(unused).toEqual([]);
    // And names nothing outside the list (a variant added without listing it).
    expect([...used].filter((v) => !HOSTILE_VARIANTS.includes(v))).toEqual([]);
    expect(corpus).toHaveLength(1_000);
  });

  it("lists every mutation among the variants", () => {
    for (const m of MUTATIONS) expect(HOSTILE_VARIANTS).toContain(`mutated-event/${m.name}`);
    expect(new Set(MUTATIONS.map((m) => m.name)).size).toBe(MUTATIONS.length);
  });

  it("holds only payloads the sidecar rejects, each on its own topic", () => {
    const accepted = corpus
      .filter((c) => validatePayload(c.payload, where(c.topic)).ok)
      .map((c) => `${c.variant}: ${c.payload.toString("utf8").slice(0, 200)}`);
    expect(accepted).toEqual([]);
    expect(new Set(corpus.map((c) => c.topic)).size).toBe(corpus.length);
  });

  it("is the same for the same seed and differs for another", () => {
    const again = hostileCorpus(1_000);
    expect(again.map((c) => c.payload.toString("base64"))).toEqual(corpus.map((c) => c.payload.toString("base64")));
    const other = hostileCorpus(1_000, 7);
    expect(other.map((c) => c.payload.toString("base64"))).not.toEqual(corpus.map((c) => c.payload.toString("base64")));
  });

  it("ends with the 10 MB payload", () => {
    expect(corpus.at(-1)?.payload.byteLength).toBe(10 * 1024 * 1024);
  });
});

describe("oddCorpus", () => {
  it("holds one event per odd mutation: odd text accepted, an out-of-range value accepted or rejected naming its field", () => {
    const corpus = oddCorpus();
    expect(corpus.map((c) => c.variant)).toEqual(ODD_MUTATIONS.map((m) => m.name));
    const refused = corpus
      .map((c) => ({ c, v: validatePayload(c.payload, where(c.topic)) }))
      .filter(({ c, v }) => !v.ok && !(c.field && v.rejected.reason.includes(c.field)))
      .map(({ c, v }) => `${c.variant}: ${v.ok ? "" : v.rejected.reason}`);
    expect(refused).toEqual([]);
    // Most of them test the transport: the text ones must reach Odoo as events.
    expect(corpus.filter((c) => !c.field).length).toBeGreaterThanOrEqual(8);
  });

  it("carries each odd value as the bytes it names", () => {
    const text = Object.fromEntries(oddCorpus().map((c) => [c.variant, c.payload.toString("utf8")]));
    expect(text["nul-padded-plc-string"]).toContain("00042\\u0000\\u0000");
    expect(text["lone-surrogates"]).toContain("\\ud800");
    expect(text["qty-past-2^53"]).toContain(":9007199254740993");
    expect(text["qty-1e400-literal"]).toContain(":1e400");
    expect(text["tiny-numbers"]).toContain(":-0");
    expect(text["year-0001"]).toContain('"time":"0001-01-01T00:00:00Z"');
    // 4,096 emoji: at the string limit (code points), 16 KiB of UTF-8.
    expect(Buffer.byteLength(text["emoji-4kib"] ?? "")).toBeGreaterThan(16 * 1024);
  });
});
