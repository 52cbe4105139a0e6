import fc from "fast-check";
import { DataType, Variant, VariantArrayType } from "node-opcua";
import { describe, expect, it } from "vitest";
import { NO_DATE, nodeValue, plainValue, sameValue } from "./values.ts";

const INTEGER_TYPES = [
  [DataType.SByte, 8, true],
  [DataType.Byte, 8, false],
  [DataType.Int16, 16, true],
  [DataType.UInt16, 16, false],
  [DataType.Int32, 32, true],
  [DataType.UInt32, 32, false],
  [DataType.Int64, 64, true],
  [DataType.UInt64, 64, false],
] as const;

const range = (bits: number, signed: boolean): [bigint, bigint] =>
  signed ? [-(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n] : [0n, 2n ** BigInt(bits) - 1n];

/** What a read hands the source: the value nodeValue sends, as node-opcua's Variant holds it. */
const asRead = (type: DataType, value: unknown) =>
  new Variant({ dataType: type, arrayType: VariantArrayType.Scalar, value });

describe("OPC UA values: node-opcua's representation both ways", () => {
  it("property: every integer of every width goes out and reads back as itself (Int64 sign included)", () => {
    for (const [type, bits, signed] of INTEGER_TYPES) {
      const [low, high] = range(bits, signed);
      fc.assert(
        fc.property(fc.bigInt(low, high), (big) => {
          const out = nodeValue(big, type);
          if ("refused" in out) throw new Error(out.refused);
          const back = plainValue(asRead(type, out.value));
          expect(BigInt(back as number | bigint)).toBe(big);
          expect(sameValue(out.plain, back)).toBe(true);
        }),
      );
    }
  });

  it("regression: an Int64 of -1 reads as -1, not 18446744073709551615", () => {
    expect(plainValue(asRead(DataType.Int64, [0xffffffff, 0xffffffff]))).toBe(-1);
    expect(plainValue(asRead(DataType.UInt64, [0xffffffff, 0xffffffff]))).toBe(2n ** 64n - 1n);
  });

  it("property: integers out of a type's range, and numbers with decimals, are refused with the type named", () => {
    for (const [type, bits, signed] of INTEGER_TYPES) {
      const [low, high] = range(bits, signed);
      fc.assert(
        fc.property(fc.oneof(fc.bigInt({ max: low - 1n }), fc.bigInt({ min: high + 1n })), (big) => {
          expect(nodeValue(big, type)).toEqual({ refused: `${big} is out of the range of ${DataType[type]}` });
        }),
      );
      expect(nodeValue(2.5, type)).toEqual({ refused: `2.5 is not an integer, and the node is ${DataType[type]}` });
    }
  });

  it("regression: an order ref for a numeric node is refused, never written as 0", () => {
    expect(nodeValue("WH/MO/00042", DataType.Int32)).toEqual({
      refused: '"WH/MO/00042" is not an integer, and the node is Int32',
    });
    expect(nodeValue("WH/MO/00042", DataType.Double)).toEqual({
      refused: '"WH/MO/00042" is not a number, and the node is Double',
    });
    expect(nodeValue("42", DataType.Int32)).toEqual({ value: 42, plain: 42 });
    // An empty slot clears a numeric node to 0.
    expect(nodeValue("", DataType.UInt16)).toEqual({ value: 0, plain: 0 });
  });

  it("dates, booleans, texts and the types the writer does not write", () => {
    expect(nodeValue("2026-11-22T08:00:00.000Z", DataType.DateTime)).toEqual({
      value: new Date("2026-11-22T08:00:00.000Z"),
      plain: new Date("2026-11-22T08:00:00.000Z"),
    });
    expect(nodeValue("", DataType.DateTime)).toEqual({ value: NO_DATE, plain: NO_DATE });
    expect(nodeValue("tomorrow-ish", DataType.DateTime)).toEqual({
      refused: '"tomorrow-ish" is not a date, and the node is DateTime',
    });
    expect(nodeValue(1, DataType.Boolean)).toEqual({ value: true, plain: true });
    expect(nodeValue(2, DataType.Boolean)).toHaveProperty("refused");
    expect(nodeValue("P1", DataType.LocalizedText)).toEqual({ value: { text: "P1" }, plain: "P1" });
    expect(plainValue(asRead(DataType.ByteString, Buffer.from("WH/MO/1\0\0")))).toBe("WH/MO/1");
    // Not UTF-8: stays bytes for the rules to refuse, rather than mangled text.
    expect(Buffer.isBuffer(plainValue(asRead(DataType.ByteString, Buffer.from([0xff, 0xfe]))))).toBe(true);
    // Regression: a leading byte-order mark is part of the text (TextDecoder dropped it by default).
    expect(plainValue(asRead(DataType.ByteString, Buffer.from("\ufeffWH/MO/1\0")))).toBe("\ufeffWH/MO/1");
    expect(nodeValue("x", DataType.Guid)).toEqual({
      refused: "the node is Guid, which the floor writer does not write",
    });
    expect(nodeValue("x", DataType.Null)).toHaveProperty("refused");
  });

  it("property: a Float node holds the float nearest the value, and reading it back matches", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), (number) => {
        const out = nodeValue(number, DataType.Float);
        if ("refused" in out) throw new Error(out.refused);
        expect(sameValue(out.plain, plainValue(asRead(DataType.Float, out.value)))).toBe(true);
      }),
    );
  });
});

describe("plainValue: arrays, matrices and the types with a text form", () => {
  it("typed arrays become plain arrays; 64-bit words become numbers or bigints", () => {
    const doubles = new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1.5, 2] });
    expect(plainValue(doubles)).toEqual([1.5, 2]);
    expect(Array.isArray(plainValue(doubles))).toBe(true);
    const longs = new Variant({
      dataType: DataType.Int64,
      arrayType: VariantArrayType.Array,
      value: [
        [0xffffffff, 0xffffffff],
        [0x00200000, 1],
      ],
    });
    expect(plainValue(longs)).toEqual([-1, 9007199254740993n]);
    const empty = new Variant({ dataType: DataType.Int32, arrayType: VariantArrayType.Array, value: null });
    expect(plainValue(empty)).toEqual([]);
  });

  it("a matrix is nested arrays by its dimensions, row-major", () => {
    const matrix = new Variant({
      dataType: DataType.Int32,
      arrayType: VariantArrayType.Matrix,
      dimensions: [2, 3],
      value: new Int32Array([1, 2, 3, 4, 5, 6]),
    });
    expect(plainValue(matrix)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const cube = new Variant({
      dataType: DataType.Byte,
      arrayType: VariantArrayType.Matrix,
      dimensions: [2, 2, 1],
      value: new Uint8Array([1, 2, 3, 4]),
    });
    expect(plainValue(cube)).toEqual([
      [[1], [2]],
      [[3], [4]],
    ]);
  });

  it("a QualifiedName in namespace 0 is its name, in another `ns:name`; a nested Variant its value", () => {
    const name = new Variant({ dataType: DataType.QualifiedName, value: { namespaceIndex: 0, name: "Count" } });
    expect(plainValue(name)).toBe("Count");
    const named = new Variant({ dataType: DataType.QualifiedName, value: { namespaceIndex: 3, name: "Count" } });
    expect(plainValue(named)).toBe("3:Count");
    const inner = new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0, 7] });
    const nested = new Variant({ dataType: DataType.Variant, arrayType: VariantArrayType.Array, value: [inner] });
    expect(plainValue(nested)).toEqual([7]);
  });
});
