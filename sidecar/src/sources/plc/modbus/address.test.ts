import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlcAddressError } from "../driver.ts";
import { MODBUS_NUMBER_TYPES, MODBUS_ORDERS, type ModbusTag, parseModbusAddress } from "./address.ts";
import { decodeRegisters, encodeRegisters, ModbusValueError } from "./codec.ts";
import { planReads } from "./driver.ts";

describe("parseModbusAddress", () => {
  it.each([
    ["hr100:float32:CDAB", { area: "hr", offset: 100, length: 2, type: "float32", order: "CDAB" }],
    ["HR100:FLOAT32:cdab", { area: "hr", offset: 100, length: 2, type: "float32", order: "CDAB" }],
    ["40101:float32:CDAB", { area: "hr", offset: 100, length: 2, type: "float32", order: "CDAB" }],
    ["400001", { area: "hr", offset: 0, length: 1, type: "uint16", order: "ABCD" }],
    ["465536", { area: "hr", offset: 65535, length: 1, type: "uint16" }],
    ["49999", { area: "hr", offset: 9998 }],
    ["30001:int16", { area: "ir", offset: 0, type: "int16" }],
    ["00001", { area: "coil", offset: 0, type: "bool", length: 1 }],
    ["10005", { area: "di", offset: 4, type: "bool" }],
    ["ir7:int16", { area: "ir", offset: 7, type: "int16", length: 1 }],
    ["hr12.3", { area: "hr", offset: 12, type: "bool", bit: 3 }],
    ["40013.15:bool", { area: "hr", offset: 12, type: "bool", bit: 15 }],
    ["coil5", { area: "coil", offset: 5, type: "bool" }],
    ["di0:bool", { area: "di", offset: 0, type: "bool" }],
    ["hr200:string10", { area: "hr", offset: 200, type: "string", length: 10 }],
    ["hr40:uint64:DCBA", { area: "hr", offset: 40, type: "uint64", length: 4, order: "DCBA" }],
    ["holding3:int32", { area: "hr", offset: 3, type: "int32", length: 2 }],
    [" ir1:float64 ", { area: "ir", offset: 1, type: "float64", length: 4 }],
  ])("reads %s", (address, expected) => {
    expect(parseModbusAddress(address)).toMatchObject({ address, ...expected });
  });

  it.each([
    ["", "expected an area"],
    ["hr", "expected an area"],
    ["hr-1", "expected an area"],
    ["xx5", 'unknown area "xx"'],
    ["hr65536", "offset 65536 is past 65535"],
    ["40000", "from 1 (40001)"],
    ["4000", "expected an area"],
    ["20001", "expected an area"],
    ["hr65535:int32", "2 registers from 65535 run past address 65535"],
    ["hr1:int12", 'unknown type "int12"'],
    ["hr1:float32:ACBD", 'unknown byte order "ACBD"'],
    ["hr1:string0", "string<N>"],
    ["hr1:string126", "string<N>"],
    ["coil1:int16", "area coil holds a bool, not int16"],
    ["di1:bool:ABCD", "a bool has no byte order"],
    ["hr1.16", "a register bit is 0 to 15"],
    ["hr1.3:int16", "a register bit holds a bool"],
    ["coil1.2", "area coil is bits already"],
    ["hr1:int16:ABCD:x", "at most AREA+OFFSET"],
    ["hr1.2.3", "one '.' at most"],
  ])("refuses %j, saying what is wrong and showing a valid address", (address, why) => {
    let error: unknown;
    try {
      parseModbusAddress(address);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PlcAddressError);
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).toContain("e.g. hr100:float32:CDAB");
  });
});

describe("classic notation", () => {
  const CLASSIC_DIGIT = { coil: "0", di: "1", ir: "3", hr: "4" } as const;

  it("names the same tag as the area form, 5 or 6 digits, any type and order", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("coil", "di", "ir", "hr"),
        fc.integer({ min: 0, max: 65535 }),
        fc.boolean(),
        fc.constantFrom(...MODBUS_NUMBER_TYPES),
        fc.constantFrom(...MODBUS_ORDERS),
        (area, offset, fiveDigits, type, order) => {
          const wide = fiveDigits && offset < 9999 ? 4 : 5;
          const classic = `${CLASSIC_DIGIT[area]}${String(offset + 1).padStart(wide, "0")}`;
          const isBits = area === "coil" || area === "di";
          const suffix = isBits || offset + 4 > 65536 ? "" : `:${type}:${order}`;
          const fromClassic = parseModbusAddress(`${classic}${suffix}`);
          const fromArea = parseModbusAddress(`${area}${offset}${suffix}`);
          expect({ ...fromClassic, address: "" }).toEqual({ ...fromArea, address: "" });
        },
      ),
    );
  });
});

describe("register codec", () => {
  const tag = (type: string, order = "ABCD"): ModbusTag => parseModbusAddress(`hr0:${type}:${order}`);

  it("lays out 0x11223344 as the four byte orders name it", () => {
    expect(encodeRegisters(tag("uint32", "ABCD"), 0x11223344)).toEqual([0x1122, 0x3344]);
    expect(encodeRegisters(tag("uint32", "CDAB"), 0x11223344)).toEqual([0x3344, 0x1122]);
    expect(encodeRegisters(tag("uint32", "BADC"), 0x11223344)).toEqual([0x2211, 0x4433]);
    expect(encodeRegisters(tag("uint32", "DCBA"), 0x11223344)).toEqual([0x4433, 0x2211]);
    expect(encodeRegisters(tag("uint64", "CDAB"), 0x1122334455667788n)).toEqual([0x7788, 0x5566, 0x3344, 0x1122]);
    expect(encodeRegisters(tag("int16", "BADC"), 0x1234)).toEqual([0x3412]);
    expect(encodeRegisters(tag("string3", "BADC"), "abc")).toEqual([0x6261, 0x0063, 0]);
    expect(encodeRegisters(tag("string2", "CDAB"), "abc")).toEqual([0x6162, 0x6300]);
  });

  it("reads a register bit, 0 the least significant", () => {
    expect(decodeRegisters(parseModbusAddress("hr0.0"), [0b1000_0000_0000_0001])).toBe(true);
    expect(decodeRegisters(parseModbusAddress("hr0.1"), [0b1000_0000_0000_0001])).toBe(false);
    expect(decodeRegisters(parseModbusAddress("hr0.15"), [0b1000_0000_0000_0001])).toBe(true);
  });

  it("refuses a value the tag cannot hold", () => {
    const cases: [ModbusTag, unknown][] = [
      [tag("int16"), 32768],
      [tag("uint16"), -1],
      [tag("int32"), 1.5],
      [tag("uint64"), -1n],
      [tag("int64"), 2 ** 60],
      [tag("float32"), "1"],
      [tag("string2"), "hello"],
      [tag("string2"), "a\u0000"],
    ];
    for (const [t, value] of cases) expect(() => encodeRegisters(t, value as never)).toThrow(ModbusValueError);
  });

  const integers = {
    int16: fc.integer({ min: -0x8000, max: 0x7fff }),
    uint16: fc.integer({ min: 0, max: 0xffff }),
    int32: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
    uint32: fc.integer({ min: 0, max: 0xffff_ffff }),
    int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    uint64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    float32: fc.float(),
    float64: fc.double(),
  } as const;

  it.each(MODBUS_NUMBER_TYPES.flatMap((type) => MODBUS_ORDERS.map((order) => [type, order] as const)))(
    "%s %s decodes what it encodes",
    (type, order) => {
      fc.assert(
        fc.property(integers[type] as fc.Arbitrary<number | bigint>, (value) => {
          const t = tag(type, order);
          const words = encodeRegisters(t, value);
          expect(words).toHaveLength(t.length);
          expect(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)).toBe(true);
          expect(Object.is(decodeRegisters(t, words), value) || decodeRegisters(t, words) === value).toBe(true);
        }),
      );
    },
  );
});

describe("planReads", () => {
  const plan = (...addresses: string[]) =>
    planReads(addresses.map(parseModbusAddress)).map((g) => ({
      area: g.area,
      start: g.start,
      count: g.count,
      members: g.members,
    }));

  it("puts touching and overlapping tags of one area in one request, in any order", () => {
    expect(plan("hr2:int32", "hr0:int32", "hr4", "hr4.3", "ir0", "hr10")).toEqual([
      { area: "hr", start: 0, count: 5, members: [1, 0, 2, 3] },
      { area: "hr", start: 10, count: 1, members: [5] },
      { area: "ir", start: 0, count: 1, members: [4] },
    ]);
  });

  it("keeps each request within 125 registers and 2000 bits", () => {
    const registers = Array.from({ length: 300 }, (_, i) => `hr${i}`);
    expect(plan(...registers).map((g) => g.count)).toEqual([125, 125, 50]);
    const bits = Array.from({ length: 4100 }, (_, i) => `coil${i}`);
    expect(plan(...bits).map((g) => g.count)).toEqual([2000, 2000, 100]);
    expect(plan("hr0:string100", "hr100:string100").map((g) => g.count)).toEqual([100, 100]);
  });
});
