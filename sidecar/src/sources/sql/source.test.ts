import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SqlConfig } from "../../core/contract.ts";
import { jsonSafe, placeholderCount } from "./drivers.ts";
import { columnOf, compareWatermark, queryProblem, rowHash } from "./source.ts";

describe("compareWatermark", () => {
  it("orders integers of any size exactly, as numbers", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
        fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
        (a, b) => {
          expect(compareWatermark(a.toString(), b.toString())).toBe(a < b ? -1 : a > b ? 1 : 0);
        },
      ),
    );
    expect(compareWatermark("9", "10")).toBe(-1);
  });

  it("orders timestamps as the servers write them, to the microsecond", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e15 }), fc.integer({ min: 0, max: 4e15 }), (a, b) => {
        // Microseconds since 2000, written as PostgreSQL does (no fraction when zero, trailing zeros dropped).
        const text = (us: number) => {
          const base = new Date(Date.UTC(2000, 0, 1) + Math.floor(us / 1000))
            .toISOString()
            .slice(0, 19)
            .replace("T", " ");
          const micros = us % 1_000_000;
          return micros === 0 ? base : `${base}.${String(micros).padStart(6, "0").replace(/0+$/, "")}`;
        };
        expect(compareWatermark(text(a), text(b))).toBe(Math.sign(a - b));
      }),
    );
  });
});

describe("rowHash", () => {
  it("does not depend on the order of the columns, and tells values apart", () => {
    expect(rowHash({ a: 1, b: "x" })).toBe(rowHash({ b: "x", a: 1 }));
    expect(rowHash({ a: 1 })).not.toBe(rowHash({ a: "1" }));
    expect(rowHash({ a: null })).not.toBe(rowHash({}));
  });
});

describe("queryProblem and the placeholder", () => {
  const sql = (query: string): SqlConfig => ({
    driver: "postgresql",
    host: "h",
    port: 0,
    database: "d",
    username: "u",
    password: "",
    query,
    watermark_column: "DateTime",
    initial_watermark: "0",
    interval_ms: 1000,
  });
  it("wants a SELECT with :last", () => {
    expect(queryProblem(sql("SELECT * FROM h WHERE DateTime >= :last ORDER BY DateTime"))).toBeUndefined();
    expect(queryProblem(sql("DELETE FROM h WHERE x >= :last"))).toMatch(/SELECT/);
    expect(queryProblem(sql("SELECT * FROM h"))).toMatch(/:last/);
  });
  it("counts :last as a whole word, not a cast (::last) nor :lastly", () => {
    expect(placeholderCount("SELECT :last, x::last, :lastly, :last")).toBe(2);
  });
});

describe("jsonSafe", () => {
  it("keeps every driver value as JSON can carry it", () => {
    expect(jsonSafe(2n ** 60n)).toBe("1152921504606846976");
    expect(jsonSafe(42n)).toBe(42);
    expect(jsonSafe(Buffer.from("hi"))).toBe("aGk=");
    expect(jsonSafe(new Date(Date.UTC(2026, 0, 1)))).toBe("2026-01-01T00:00:00.000Z");
    expect(jsonSafe(Number.NaN)).toBe("NaN");
    expect(jsonSafe(undefined)).toBeNull();
    expect(jsonSafe({ a: 1 })).toBe('{"a":1}');
  });
});

describe("columnOf", () => {
  it("finds the watermark column exactly, else in another case when only one matches", () => {
    expect(columnOf({ datetime: "x" }, "DateTime")).toBe("datetime");
    expect(columnOf({ DateTime: "x", datetime: "y" }, "DateTime")).toBe("DateTime");
    expect(columnOf({ DATETIME: "x", datetime: "y" }, "DateTime")).toBe("DateTime");
    expect(columnOf(undefined, "DateTime")).toBe("DateTime");
  });
});
