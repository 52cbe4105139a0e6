import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hostileCorpus, prng } from "../../test/support/fuzz.ts";
import { EVENT_TYPES, MAX_EVENT_BYTES } from "./contract.ts";
import { checkEvent, compileSchema, newAjv, rejectedId, validatePayload } from "./validate.ts";

const where = { connection: "line1", origin: "shopfloor/line1/press", receivedAt: new Date("2026-11-22T08:00:00Z") };
const good = {
  specversion: "1.0",
  id: "01JDZ7M3B6X2T2Q4J8K9V5N0AA",
  source: "plant1/line3/press-03",
  type: "workorder.completed",
  time: "2026-11-22T08:15:03.120Z",
  subject: "WH/MO/00042",
  data: { order: "WH/MO/00042", operation: "Assembly", qty_good: 120, qty_scrap: 3, uom: "Units" },
};
const bytes = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

describe("validatePayload", () => {
  it("accepts the contract's example event", () => {
    const r = validatePayload(bytes(good), where);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event.data.qty_good).toBe(120);
  });

  it.each([
    ["missing required data field", { ...good, data: { order: "X" } }, /qty_good/],
    ["wrong type", { ...good, data: { ...good.data, qty_good: "12" } }, /must be number/],
    ["unknown type", { ...good, type: "workorder.exploded" }, /allowed: workorder.started/],
    ["bad time", { ...good, time: "yesterday" }, /format/],
    ["month 13", { ...good, time: "2026-13-01T08:00:00Z" }, /time: "2026-13-01T08:00:00Z" has month 13/],
    ["hour 25", { ...good, time: "2026-11-22T25:00:00Z" }, /has hour 25:00 \(00:00 to 23:59\)/],
    ["February 30", { ...good, time: "2026-02-30T00:00:00Z" }, /has day 30, and 2026-02 has 28 days/],
    [
      "a key of data over the limit",
      { ...good, data: { ...good.data, ["é".repeat(4097)]: 1 } },
      /string at \$\.data \(a key\) is over the 4096-character limit/,
    ],
    ["bad specversion", { ...good, specversion: "0.3" }, /constant/],
    [
      "nested object in data",
      { ...good, data: { ...good.data, extra: { a: 1 } } },
      /must be string,number,boolean,null/,
    ],
    ["bad extension name", { ...good, "Bad-Name": "x" }, /propertyNames|property name/],
    ["string over 4 KiB", { ...good, subject: "x".repeat(4097) }, /must NOT have more than 4096/],
  ])("rejects %s with the reason", (_name, event, reason) => {
    const r = validatePayload(bytes(event), where);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejected.reason).toMatch(reason);
      expect(Buffer.from(r.rejected.raw_b64, "base64").toString()).toBe(JSON.stringify(event));
      expect(r.rejected.truncated).toBe(false);
    }
  });

  it("reads the time once: the event's time in ms comes with it", () => {
    const r = validatePayload(bytes(good), where);
    expect(r.ok && r.timeMs).toBe(Date.parse(good.time));
    // Not by Date.parse, which rolls 30 February over to 2 March: refused, as the module refuses it.
    expect(checkEvent({ ...good, time: "2026-02-30T00:00:00Z" }).ok).toBe(false);
    expect(checkEvent({ ...good, time: "2024-02-29T00:00:00Z" })).toMatchObject({ timeMs: Date.UTC(2024, 1, 29) });
    // Offsets, fractions past the millisecond (cut off), years 0 to 99 as written.
    expect(checkEvent({ ...good, time: "2026-11-22T08:00:00.9999-01:30" })).toMatchObject({
      timeMs: Date.UTC(2026, 10, 22, 9, 30, 0, 999),
    });
    expect(checkEvent({ ...good, time: "0099-12-31t23:59:59z" })).toMatchObject({
      timeMs: Date.parse("0099-12-31T23:59:59Z"),
    });
    expect(checkEvent({ ...good, time: "2026-11-22T08:00:00+25:00" }).ok).toBe(false);
  });

  it("rejects invalid UTF-8, binary garbage, empty and non-JSON without throwing", () => {
    const cases: [Uint8Array, RegExp][] = [
      [Uint8Array.from([0x7b, 0xc3, 0x28, 0x7d]), /not valid UTF-8/],
      [Uint8Array.from([0, 1, 2, 3, 255, 254]), /UTF-8|not JSON/],
      [new Uint8Array(0), /empty/],
      [bytes("{not json"), /not JSON/],
      [bytes("42"), /schema/],
    ];
    for (const [payload, reason] of cases) {
      const r = validatePayload(payload, where);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.rejected.reason).toMatch(reason);
        expect(Buffer.from(r.rejected.raw_b64, "base64")).toEqual(Buffer.from(payload));
        expect(r.rejected.raw_size).toBe(payload.byteLength);
      }
    }
  });

  it("keeps an oversize payload truncated, with its real size", () => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const r = validatePayload(huge, where);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejected.truncated).toBe(true);
      expect(r.rejected.raw_size).toBe(huge.byteLength);
      expect(Buffer.from(r.rejected.raw_b64, "base64").byteLength).toBe(MAX_EVENT_BYTES);
      expect(r.rejected.reason).toMatch(/oversize: 10485760 bytes/);
    }
  });

  it("gives rejected input a deterministic id: same bytes same id, other bytes or origin another", () => {
    const a = rejectedId("c", "t", bytes("x"));
    expect(rejectedId("c", "t", bytes("x"))).toBe(a);
    expect(rejectedId("c", "t", bytes("y"))).not.toBe(a);
    expect(rejectedId("c", "u", bytes("x"))).not.toBe(a);
    const r1 = validatePayload(bytes("nope"), where);
    const r2 = validatePayload(bytes("nope"), { ...where, receivedAt: new Date() });
    expect(!r1.ok && !r2.ok && r1.rejected.id === r2.rejected.id).toBe(true);
  });

  it("checkEvent validates derived events against the same schema", () => {
    expect(checkEvent(good).ok).toBe(true);
    const bad = checkEvent({ ...good, data: {} });
    expect(bad.ok).toBe(false);
  });
});

describe("compileSchema", () => {
  const schema = JSON.parse(
    readFileSync(
      new URL("../../../odoo_addon/shopfloor_bridge/schemas/cloudevent.schema.json", import.meta.url),
      "utf8",
    ),
  );
  const reference = newAjv().compile(schema);
  const check = compileSchema(schema);

  /** Events of every type with data built from each type's properties, valid or not at random. */
  function candidates(count: number): unknown[] {
    const r = prng(7);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T;
    const values = ["x", "", 0, 1, -1, 2.5, true, null, "y".repeat(4097), { a: 1 }, [1]];
    const out: unknown[] = [];
    for (let i = 0; out.length < count; i++) {
      const type = EVENT_TYPES[i % EVENT_TYPES.length] as string;
      const def = schema.$defs[type.replace(".", "_")] as { properties: Record<string, unknown> };
      const data: Record<string, unknown> = {};
      for (const [key, rule] of Object.entries(def.properties)) {
        const fitting = { string: "x", number: 3, boolean: true }[(rule as { type?: string }).type ?? ""] ?? "x";
        if (r() < 0.9) data[key] = r() < 0.85 ? fitting : pick(values);
      }
      if (r() < 0.2) data[`extra${i % 3}`] = pick(values);
      const event: Record<string, unknown> = {
        specversion: "1.0",
        id: `e${i}`,
        source: "press-1",
        type,
        time: "2026-11-22T08:00:00Z",
        data: r() < 0.05 ? pick(values) : data,
      };
      if (r() < 0.05) delete event.data;
      if (r() < 0.05) event.type = pick(["workorder.exploded", 7, null]);
      if (r() < 0.05) event.time = pick(["yesterday", 1, "2026-11-22 08:00:00Z"]);
      out.push(event);
    }
    for (const { payload } of hostileCorpus(300)) {
      try {
        out.push(JSON.parse(payload.toString("utf8")));
      } catch {}
    }
    return out;
  }

  it("gives the whole schema's verdict on every candidate, picking the data rule by type", () => {
    const all = candidates(4_000);
    let accepted = 0;
    for (const candidate of all) {
      const expected = reference(candidate);
      expect(check(candidate), JSON.stringify(candidate).slice(0, 300)).toBe(expected);
      if (expected) accepted++;
    }
    // Both verdicts occur often enough to mean something.
    expect(accepted).toBeGreaterThan(300);
    expect(all.length - accepted).toBeGreaterThan(300);
  });

  it("reports data errors under /data, and a missing data object on the envelope", () => {
    expect(check({ ...good, data: { order: "X" } })).toBe(false);
    expect(check.errors?.[0]).toMatchObject({ instancePath: "/data", params: { missingProperty: "qty_good" } });
    const { data: _data, ...noData } = good;
    expect(check(noData)).toBe(false);
    expect(check.errors?.[0]).toMatchObject({ instancePath: "", params: { missingProperty: "data" } });
  });

  it("compiles a schema of another shape whole", () => {
    const other = { ...schema, allOf: [...schema.allOf, { required: ["subject"] }] };
    const plain = compileSchema(other);
    expect(plain({ ...good })).toBe(true);
    const { subject: _s, ...noSubject } = good;
    expect(plain(noSubject)).toBe(false);
  });
});
