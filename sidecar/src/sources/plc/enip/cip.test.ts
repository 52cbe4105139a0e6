import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeValue,
  encodeValue,
  LOGIX_STRING_HANDLE,
  multipleServiceRequest,
  parseMultipleServiceData,
  parseReply,
  STRUCT_TYPE,
  splitTypedData,
  statusText,
  type TagType,
  typeName,
} from "./cip.ts";

const LOGIX_STRING: TagType = { code: STRUCT_TYPE, handle: LOGIX_STRING_HANDLE };

describe("CIP values", () => {
  it.each([
    [{ code: 0xc1 }, fc.boolean()],
    [{ code: 0xc2 }, fc.integer({ min: -128, max: 127 })],
    [{ code: 0xc7 }, fc.integer({ min: 0, max: 0xffff })],
    [{ code: 0xc4 }, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
    [{ code: 0xc5 }, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
    [{ code: 0xc9 }, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })],
    [{ code: 0xca }, fc.float()],
    [{ code: 0xcb }, fc.double()],
    [{ code: 0xd0 }, fc.string({ unit: "binary-ascii", maxLength: 300 })],
    [{ code: 0xda }, fc.string({ unit: "binary-ascii", maxLength: 255 })],
    [LOGIX_STRING, fc.string({ unit: "binary-ascii", maxLength: 82 })],
  ] as [TagType, fc.Arbitrary<boolean | number | bigint | string>][])("%o encodes what it decodes", (type, values) => {
    fc.assert(
      fc.property(values, (value) => {
        const data = encodeValue(type, value);
        expect(decodeValue(type, data)).toEqual(value);
      }),
    );
  });

  it("lays a Logix STRING out as LEN DINT + DATA[82] + 2 pad bytes, and a CIP STRING padded to an even length", () => {
    const logix = encodeValue(LOGIX_STRING, "AB");
    expect(logix.length).toBe(88);
    expect(logix.subarray(0, 6).toString("hex")).toBe("020000004142");
    expect(encodeValue({ code: 0xd0 }, "ABC").toString("hex")).toBe("030041424300");
    expect(encodeValue({ code: 0xda }, "ABC").toString("hex")).toBe("03414243");
  });

  it("names a type it cannot decode and a value that does not fit", () => {
    expect(() => decodeValue({ code: STRUCT_TYPE, handle: 0x1234 }, Buffer.alloc(8))).toThrow(
      "the tag is a structure 0x1234 (a UDT): address one of its members, e.g. Tag.Member",
    );
    expect(() => decodeValue({ code: 0xa0 }, Buffer.alloc(8))).toThrow(
      /type 0x00a0, which this driver does not decode/,
    );
    expect(() => decodeValue({ code: 0xc4 }, Buffer.alloc(2))).toThrow("DINT with 2 of 4 bytes");
    expect(() => decodeValue(LOGIX_STRING, Buffer.from("ff000000", "hex"))).toThrow(/length 255/);
    expect(() => encodeValue({ code: 0xc6 }, 256)).toThrow(RangeError);
    expect(() => encodeValue({ code: 0xc5 }, 2 ** 53)).toThrow(RangeError);
    expect(typeName({ code: 0xd3 })).toBe("DWORD");
  });

  it("reads the type and structure handle off a Read Tag reply", () => {
    expect(splitTypedData(Buffer.from("c4002a000000", "hex"))).toEqual({
      type: { code: 0xc4 },
      value: Buffer.from("2a000000", "hex"),
    });
    expect(splitTypedData(Buffer.from("a002ce0f01000000", "hex")).type).toEqual(LOGIX_STRING);
  });
});

describe("CIP replies and statuses", () => {
  it("names general and extended statuses", () => {
    expect(statusText(0x05, [0])).toBe(
      "CIP status 0x05 path destination unknown (no such tag, member or program), extended 0x0000",
    );
    expect(statusText(0xff, [0x2107])).toBe(
      "CIP status 0xff general error, extended 0x2107 data type does not match the tag's type",
    );
    expect(statusText(0x01, [0x0113])).toBe("CIP status 0x01 connection failure, extended 0x0113 out of connections");
    expect(statusText(0x42)).toBe("CIP status 0x42 (unknown)");
  });

  it("parses a reply's status, extended status and data", () => {
    expect(parseReply(Buffer.from("cc00ff01052101", "hex"))).toEqual({
      service: 0xcc,
      status: 0xff,
      extended: [0x2105],
      data: Buffer.from("01", "hex"),
    });
  });

  it("builds a Multiple Service Packet whose offset table finds every request", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 2, maxLength: 40 }), { minLength: 1, maxLength: 30 }),
        (parts) => {
          const requests = parts.map((part) => Buffer.from(part));
          const packet = multipleServiceRequest(requests);
          expect(packet.subarray(0, 6).toString("hex")).toBe("0a0220022401");
          // the request data has the reply data's layout: count, offsets, services
          expect(parseMultipleServiceData(packet.subarray(6))).toEqual(requests);
        },
      ),
    );
  });
});
