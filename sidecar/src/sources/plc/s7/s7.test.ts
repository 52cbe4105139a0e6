// The S7 driver's pure parts: addresses, the byte layout of every type, the
// read planner, and how snap7's error numbers are sorted.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlcAddressError } from "../driver.ts";
import { parseS7Address, type S7Tag } from "./address.ts";
import { decodeS7, encodeS7 } from "./codec.ts";
import { MAX_ITEMS, maxItemBytes, planReads } from "./plan.ts";
import { SNAP7_CODES, snap7ErrorKind } from "./snap7.ts";

describe("S7 addresses", () => {
  it.each([
    ["DB10,X0.3", { area: "DB", db: 10, byte: 0, bit: 3, type: "BOOL", size: 1 }],
    ["DB10,B0", { area: "DB", db: 10, byte: 0, type: "BYTE", size: 1 }],
    ["db10,byte7", { area: "DB", db: 10, byte: 7, type: "BYTE", size: 1 }],
    ["DB10,CHAR2", { type: "CHAR", size: 1 }],
    ["DB10,INT4", { byte: 4, type: "INT", size: 2 }],
    ["DB10,WORD6", { type: "WORD", size: 2 }],
    ["DB10,DINT8", { type: "DINT", size: 4 }],
    ["DB10,DWORD12", { type: "DWORD", size: 4 }],
    ["DB10,REAL8", { type: "REAL", size: 4 }],
    ["DB10,LREAL16", { type: "LREAL", size: 8 }],
    ["DB10,LINT24", { type: "LINT", size: 8 }],
    ["DB10,ULINT32", { type: "ULINT", size: 8 }],
    ["DB10,S20.30", { byte: 20, type: "STRING", maxLength: 30, size: 32 }],
    ["DB10,WSTRING40.10", { byte: 40, type: "WSTRING", maxLength: 10, size: 24 }],
    ["DB10.DBX1.7", { area: "DB", db: 10, byte: 1, bit: 7, type: "BOOL" }],
    ["DB10.DBW4", { area: "DB", byte: 4, type: "WORD" }],
    ["DB10.DBD8", { area: "DB", byte: 8, type: "DWORD" }],
    ["M0.1", { area: "M", db: 0, byte: 0, bit: 1, type: "BOOL" }],
    ["MW10", { area: "M", byte: 10, type: "WORD", size: 2 }],
    ["MD12", { area: "M", type: "DWORD" }],
    ["MR16", { area: "M", type: "REAL" }],
    ["IW0", { area: "I", type: "WORD" }],
    ["EB3", { area: "I", byte: 3, type: "BYTE" }],
    ["QB4", { area: "Q", byte: 4, type: "BYTE" }],
    ["A1.0", { area: "Q", byte: 1, bit: 0, type: "BOOL" }],
    [" mi2 ", { area: "M", byte: 2, type: "INT" }],
  ])("%s", (address, expected) => {
    expect(parseS7Address(address)).toMatchObject(expected);
  });

  it.each([
    ["DB10,INT", /not an S7 address/],
    ["DB10,FOO4", /unknown type FOO/],
    ["DB0,INT0", /DB number must be 1–65535/],
    ["DB10,X0", /a BOOL needs its bit/],
    ["DB10,X0.8", /bit 8 does not exist/],
    ["DB10,S20", /needs its declared length/],
    ["DB10,S20.255", /holds 1–254 characters/],
    ["DB10,INT4.1", /has no \.1 part/],
    ["M10", /a bit needs its number/],
    ["X10.0", /not an S7 address/],
    ["ns=2;s=Line1", /not an S7 address/],
    ["DB10,INT2097151", /beyond what an S7 address reaches/],
  ])("%s is refused", (address, message) => {
    expect(() => parseS7Address(address)).toThrow(PlcAddressError);
    expect(() => parseS7Address(address)).toThrow(message);
  });
});

const typed = fc.oneof(
  fc.record({
    address: fc.integer({ min: 0, max: 7 }).map((bit) => `DB1,X0.${bit}`),
    value: fc.boolean() as fc.Arbitrary<unknown>,
  }),
  fc.record({ address: fc.constant("DB1,BYTE0"), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ address: fc.constant("DB1,SINT0"), value: fc.integer({ min: -128, max: 127 }) }),
  fc.record({
    address: fc.constant("DB1,CHAR0"),
    value: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
  }),
  fc.record({ address: fc.constant("DB1,INT0"), value: fc.integer({ min: -32768, max: 32767 }) }),
  fc.record({ address: fc.constant("DB1,WORD0"), value: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ address: fc.constant("DB1,DINT0"), value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  fc.record({ address: fc.constant("DB1,DWORD0"), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ address: fc.constant("DB1,REAL0"), value: fc.float() }),
  fc.record({ address: fc.constant("DB1,LREAL0"), value: fc.double() }),
  fc.record({ address: fc.constant("DB1,LINT0"), value: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) }),
  fc.record({ address: fc.constant("DB1,ULINT0"), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({
    address: fc.constant("DB1,S0.20"),
    value: fc
      .string({ unit: "binary", maxLength: 20 })
      .filter((text) => [...text].every((char) => char.charCodeAt(0) <= 0xff)),
  }),
  fc.record({ address: fc.constant("DB1,WS0.20"), value: fc.string({ unit: "binary", maxLength: 10 }) }),
);

describe("S7 codec", () => {
  it("decodes what it encodes, for every type", () => {
    fc.assert(
      fc.property(typed, ({ address, value }) => {
        const tag = parseS7Address(address);
        const bytes = encodeS7(tag, value as never);
        expect(bytes.length).toBe(tag.size);
        const back = decodeS7(tag, bytes);
        expect(
          Object.is(back, value) ||
            back === value ||
            (typeof value === "number" && Object.is(back, Math.fround(value))),
        ).toBe(true);
      }),
    );
  });

  // fast-check found it: the encoder wrote a BOOL's 1 into bit 0 whatever its bit.
  it("a BOOL encodes to its own bit of the byte (DB1,X0.1 = true)", () => {
    const tag = parseS7Address("DB1,X0.1");
    expect([...encodeS7(tag, true)]).toEqual([0b10]);
    expect(decodeS7(tag, encodeS7(tag, true))).toBe(true);
  });

  it("is big-endian with S7 string headers", () => {
    expect([...encodeS7(parseS7Address("DB1,INT0"), -2)]).toEqual([0xff, 0xfe]);
    expect([...encodeS7(parseS7Address("DB1,DWORD0"), 0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...encodeS7(parseS7Address("DB1,REAL0"), 1)]).toEqual([0x3f, 0x80, 0, 0]);
    expect([...encodeS7(parseS7Address("DB1,S0.4"), "ab")]).toEqual([4, 2, 0x61, 0x62, 0, 0]);
    expect([...encodeS7(parseS7Address("DB1,WS0.2"), "é")]).toEqual([0, 2, 0, 1, 0, 0xe9, 0, 0]);
    expect(decodeS7(parseS7Address("DB1,X0.6"), Uint8Array.of(0b0100_0000))).toBe(true);
  });

  it.each([
    ["DB1,INT0", 32768, /an integer from -32768 to 32767/],
    ["DB1,INT0", 1.5, /an integer/],
    ["DB1,BYTE0", "7", /an integer from 0 to 255, not "7"/],
    ["DB1,X0.0", 1, /true or false/],
    ["DB1,REAL0", "1", /a number/],
    ["DB1,ULINT0", -1n, /an integer from 0 to/],
    ["DB1,CHAR0", "ab", /one Latin-1 character/],
    ["DB1,S0.2", "abc", /at most 2 Latin-1 characters/],
    ["DB1,S0.9", "Ω", /Latin-1/],
  ])("refuses to write %s = %s", (address, value, message) => {
    expect(() => encodeS7(parseS7Address(address), value as never)).toThrow(message);
  });
});

describe("S7 read plan", () => {
  const tagsArbitrary = fc.array(
    fc.record({
      area: fc.constantFrom("DB1", "DB2", "M"),
      type: fc.constantFrom("X", "BYTE", "INT", "DINT", "LREAL", "S"),
      byte: fc.integer({ min: 0, max: 3000 }),
      extra: fc.integer({ min: 1, max: 254 }),
    }),
    { maxLength: 200 },
  );

  function toTag(spec: { area: string; type: string; byte: number; extra: number }): S7Tag {
    if (spec.area === "M") {
      return parseS7Address(spec.type === "X" ? `M${spec.byte}.${spec.extra % 8}` : `MB${spec.byte}`);
    }
    const suffix = spec.type === "X" ? `.${spec.extra % 8}` : spec.type === "S" ? `.${spec.extra}` : "";
    return parseS7Address(`${spec.area},${spec.type}${spec.byte}${suffix}`);
  }

  it("reads every tag exactly once, inside its item, in requests that fit the PDU both ways", () => {
    fc.assert(
      fc.property(tagsArbitrary, fc.constantFrom(240, 480, 960), fc.array(fc.nat(199)), (specs, pdu, lonely) => {
        const tags = specs.map(toTag);
        const alone = new Set(lonely);
        const plan = planReads(tags, pdu, alone);
        const seen = new Map<number, number>();
        const items = [...plan.requests.flat(), ...plan.large];
        for (const item of items) {
          if (item.members.some((member) => alone.has(member))) expect(item.members.length).toBe(1);
          for (const member of item.members) {
            const tag = tags[member] as S7Tag;
            seen.set(member, (seen.get(member) ?? 0) + 1);
            expect(tag.area).toBe(item.area);
            expect(tag.db).toBe(item.db);
            expect(tag.byte).toBeGreaterThanOrEqual(item.start);
            expect(tag.byte + tag.size).toBeLessThanOrEqual(item.start + item.length);
          }
        }
        expect([...seen.keys()].sort((left, right) => left - right)).toEqual(tags.map((_, index) => index));
        expect([...seen.values()].every((count) => count === 1)).toBe(true);
        for (const request of plan.requests) {
          expect(request.length).toBeGreaterThan(0);
          expect(request.length).toBeLessThanOrEqual(MAX_ITEMS);
          expect(12 + 12 * request.length).toBeLessThanOrEqual(pdu);
          const answer = request.reduce(
            (sum, item, index) => sum + 4 + item.length + (index < request.length - 1 ? item.length % 2 : 0),
            14,
          );
          expect(answer).toBeLessThanOrEqual(pdu);
        }
        for (const item of plan.large) expect(item.length).toBeGreaterThan(maxItemBytes(pdu));
      }),
    );
  });

  it("merges neighbours of one area into one item", () => {
    const plan = planReads(["DB1,INT0", "DB1,INT2", "DB1,REAL10", "DB2,INT0", "MW0"].map(parseS7Address), 240);
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0]?.map((item) => [item.area, item.db, item.start, item.length, item.members])).toEqual([
      ["M", 0, 0, 2, [4]],
      ["DB", 1, 0, 14, [0, 1, 2]],
      ["DB", 2, 0, 2, [3]],
    ]);
  });
});

describe("snap7 errors", () => {
  it.each([
    [SNAP7_CODES.addressOutOfRange, "item"],
    [SNAP7_CODES.itemNotAvailable, "item"],
    [SNAP7_CODES.functionRefused, "item"],
    [SNAP7_CODES.functionNotAvailable, "refused"],
    [SNAP7_CODES.needPassword, "refused"],
    [SNAP7_CODES.negotiatingPdu, "iso"],
    [0x0001_0000, "iso"],
    [111, "connection"],
    [0x0200_0000, "connection"],
    [SNAP7_CODES.invalidPlcAnswer, "connection"],
  ])("0x%s is %s", (code, kind) => {
    expect(snap7ErrorKind(code)).toBe(kind);
  });
});
