import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseExact } from "./exact-json.ts";

describe("parseExact", () => {
  it("writes back every number as it arrived: past 2^53, past the double range, 5.0, exponents, -0", () => {
    const text =
      '{"big":9007199254740993,"huge":1e400,"tiny":-1e400,"float":5.0,"exp":1E3,"zero":-0,"plain":12,"x":0.1,' +
      '"nested":[123456789012345678901234567890,{"q":2.50}],"s":"1e400"}';
    expect(JSON.stringify(parseExact(text))).toBe(text);
  });

  it("leaves everything else as JSON.parse reads it", () => {
    const value = parseExact<Record<string, unknown>>('{"a":"9007199254740993","b":[true,null,1.5],"c":{"d":-7}}');
    expect(value).toEqual({ a: "9007199254740993", b: [true, null, 1.5], c: { d: -7 } });
  });

  it("round-trips any compact JSON text whose numbers are written in any legal form (property)", () => {
    const digits = fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 40 });
    const number = fc
      .tuple(
        fc.boolean(),
        digits.map((d) => d.replace(/^0+(?=\d)/, "")),
        fc.option(digits),
        fc.option(fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), digits)),
      )
      .map(([neg, int, frac, exp]) => `${neg ? "-" : ""}${int}${frac ? `.${frac}` : ""}${exp ? exp.join("") : ""}`);
    const text = fc
      .array(fc.oneof(number, fc.constant('"s"'), fc.constant("null")), { maxLength: 8 })
      .map((parts) => `[${parts.join(",")}]`);
    fc.assert(
      fc.property(text, (t) => {
        expect(JSON.stringify(parseExact(t))).toBe(t);
      }),
    );
  });
});
