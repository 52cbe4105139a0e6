// bytesText: every byte string becomes text from which its bytes come back.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BASE64_PREFIX, bytesText } from "./bytes-text.ts";

/** The bytes `text` stands for: its UTF-8, or what follows the prefix when that does not give them. */
function bytesOf(text: string, original: Uint8Array): boolean {
  if (Buffer.from(text, "utf8").equals(original)) return true;
  return text.startsWith(BASE64_PREFIX) && Buffer.from(text.slice(BASE64_PREFIX.length), "base64").equals(original);
}

describe("bytesText", () => {
  it("keeps every byte of any value: UTF-8 as its text, anything else as base64", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.string({ unit: "binary" }).map((s) => Buffer.from(s)),
        ),
        (bytes) => {
          expect(bytesOf(bytesText(bytes), bytes)).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("names what is not UTF-8: a lone surrogate's bytes, an overlong form, a cut sequence, a stray continuation", () => {
    for (const hex of ["eda080", "c0af", "e282", "80", "ff00fe", "f4908080"]) {
      const bytes = Buffer.from(hex, "hex");
      expect(bytesText(bytes)).toBe(`base64:${bytes.toString("base64")}`);
    }
  });

  it("keeps a leading byte-order mark, and reads a view into a larger buffer by its own bytes only", () => {
    expect(bytesText(Buffer.from("\ufeffL1", "utf8"))).toBe("\ufeffL1");
    const whole = Buffer.from("xx\xffyy", "latin1");
    expect(bytesText(whole.subarray(2, 3))).toBe(`base64:${Buffer.from([0xff]).toString("base64")}`);
    expect(bytesText(new Uint8Array())).toBe("");
  });
});
