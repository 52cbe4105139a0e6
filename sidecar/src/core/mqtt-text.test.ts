import { describe, expect, it } from "vitest";
import { codePoint, unsendable } from "./mqtt-text.ts";

describe("unsendable: what MQTT lets a broker refuse in a string", () => {
  it("finds every control character, non-character and lone surrogate, and nothing else", () => {
    // Every code point, one at a time, against MQTT 5 §1.5.4's list written out as ranges.
    const refused: [number, number][] = [
      [0x0000, 0x001f],
      [0x007f, 0x009f],
      [0xd800, 0xdfff],
      [0xfdd0, 0xfdef],
    ];
    for (let plane = 0; plane <= 0x10; plane++) refused.push([plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff]);
    const mismatches: string[] = [];
    for (let point = 0; point <= 0x10ffff; point++) {
      const expected = refused.some(([from, to]) => point >= from && point <= to);
      const found = unsendable(`a${String.fromCodePoint(point)}b`);
      if ((found === point) !== expected || (!expected && found !== undefined)) mismatches.push(codePoint(point));
      if (mismatches.length > 5) break;
    }
    expect(mismatches).toEqual([]);
  });

  it("reads a surrogate pair as the one character it is, and names the first offender", () => {
    expect(unsendable("plant/😀/\u00a0/\u200b/\ufeff")).toBeUndefined();
    expect(unsendable("a\ud83d")).toBe(0xd83d); // a pair cut in half
    expect(unsendable("x\u0085y\u0001")).toBe(0x85);
    expect(codePoint(0x85)).toBe("U+0085");
    expect(codePoint(0x10ffff)).toBe("U+10FFFF");
  });
});
