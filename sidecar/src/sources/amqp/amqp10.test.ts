import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Amqp10Char,
  Amqp10Decimal,
  Amqp10Described,
  Amqp10Error,
  Amqp10Map,
  Amqp10Symbol,
  Amqp10Uuid,
  amqp10Body,
  appPropertiesHeaders,
  decodeValue,
  fromAmqp10,
  jsonText,
  MAX_DEPTH,
} from "./amqp10.ts";
import { amqpItems } from "./binding.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const str8 = (text: string) => Buffer.concat([Buffer.from([0xa1, Buffer.byteLength(text)]), Buffer.from(text)]);
const sym8 = (text: string) => Buffer.concat([Buffer.from([0xa3, text.length]), Buffer.from(text, "latin1")]);
const vbin8 = (bytes: Buffer) => Buffer.concat([Buffer.from([0xa0, bytes.length]), bytes]);
/** A compound of 8-bit size and count around already encoded elements (list8 0xc0, map8 0xc1). */
const compound8 = (code: number, items: Buffer[]) => {
  const body = Buffer.concat(items);
  return Buffer.concat([Buffer.from([code, body.length + 1, items.length]), body]);
};
/** A section: the descriptor 0x00 0x53 <code> (smallulong), then the value. */
const section = (code: number, value: Buffer) => Buffer.concat([Buffer.from([0x00, 0x53, code]), value]);
const DATA = 0x75;
const VALUE = 0x77;
const SEQUENCE = 0x76;
const APP_PROPERTIES = 0x74;

describe("AMQP 1.0 primitive types", () => {
  it.each([
    ["null", "40", null],
    ["true", "41", true],
    ["false", "42", false],
    ["boolean 0x01", "5601", true],
    ["boolean 0x00", "5600", false],
    ["ubyte", "50ff", 255],
    ["ushort", "60ffff", 65535],
    ["uint", "70ffffffff", 4294967295],
    ["smalluint", "52ff", 255],
    ["uint0", "43", 0],
    ["ulong", "80ffffffffffffffff", 18446744073709551615n],
    ["smallulong", "53ff", 255n],
    ["ulong0", "44", 0n],
    ["byte", "5180", -128],
    ["short", "618000", -32768],
    ["int", "7180000000", -2147483648],
    ["smallint", "54ff", -1],
    ["long", "818000000000000000", -9223372036854775808n],
    ["smalllong", "55ff", -1n],
    ["float", "723fc00000", 1.5],
    ["double", "82bfb999999999999a", -0.1],
  ])("%s", (_name, bytes, expected) => {
    expect(decodeValue(hex(bytes))).toEqual(expected);
  });

  it("timestamps are signed milliseconds since the epoch", () => {
    expect(decodeValue(hex("830000019ae294e4fb"))).toEqual(new Date(1764738000123));
    expect(decodeValue(hex("83fffffffffad9a400"))).toEqual(new Date(-86400000));
    // Past JavaScript's dates: a Date that is not one, refused when it becomes JSON.
    const far = decodeValue(hex("837fffffffffffffff"));
    expect(() => jsonText(far, "x")).toThrow(/timestamp out of range/);
  });

  it("uuid, char, binary, string and symbol, short and long forms", () => {
    expect(decodeValue(hex("98f81d4fae7dec11d0a76500a0c91e6bf6"))).toEqual(
      new Amqp10Uuid("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    );
    expect(decodeValue(hex("730001f600"))).toEqual(new Amqp10Char("😀"));
    expect(decodeValue(hex("a00300ff80"))).toEqual(new Uint8Array([0, 255, 128]));
    expect(decodeValue(hex("b00000000200ff"))).toEqual(new Uint8Array([0, 255]));
    expect(decodeValue(str8("Presse-Öl"))).toBe("Presse-Öl");
    // Regression: a string's leading byte-order mark is kept (TextDecoder dropped it by default).
    expect(decodeValue(str8("\ufeffL1"))).toBe("\ufeffL1");
    expect(decodeValue(hex("b10000000161"))).toBe("a");
    expect(decodeValue(sym8("amqp:accepted"))).toEqual(new Amqp10Symbol("amqp:accepted"));
    expect(decodeValue(hex("b30000000178"))).toEqual(new Amqp10Symbol("x"));
  });

  it("refuses what the type system does not allow, naming it", () => {
    expect(() => decodeValue(hex("5602"))).toThrow(/a boolean is 0x00 or 0x01/);
    expect(() => decodeValue(hex("7300110000"))).toThrow(/Unicode scalar value/);
    expect(() => decodeValue(hex("730000d800"))).toThrow(/Unicode scalar value/);
    expect(() => decodeValue(hex("a102c3"))).toThrow(/needs 2 bytes, 1 are left/);
    expect(() => decodeValue(hex("a102c328"))).toThrow(/not UTF-8/);
    expect(() => decodeValue(hex("a301ff"))).toThrow(/not ASCII/);
    expect(() => decodeValue(hex("ff"))).toThrow(/0xff at byte 0 is no AMQP 1\.0 type/);
    expect(() => decodeValue(hex("4040"))).toThrow(/1 bytes follow the value/);
    expect(() => decodeValue(hex(""))).toThrow(/a constructor at byte 0 needs 1 bytes/);
  });
});

describe("AMQP 1.0 decimals (IEEE 754-2008, binary integer decimal)", () => {
  it.each([
    ["decimal32 1", "7432800001", "1"],
    ["decimal32 0.1", "7432000001", "0.1"],
    ["decimal32 -15", "74b280000f", "-15"],
    // The second form: coefficient above 2^23, its top bits an implied 100.
    ["decimal32 9999999", "746cb8967f", "9999999"],
    ["decimal32 1E+3", "7434000001", "1000"],
    ["decimal32 0.000", "7431000000", "0.000"],
    ["decimal64 15.0", "8431a0000000000096", "15.0"],
    ["decimal64 -0.5", "84b1a0000000000005", "-0.5"],
    ["decimal128 1", "9430400000000000000000000000000001", "1"],
    ["decimal128 12.34", "94303c00000000000000000000000004d2", "12.34"],
  ])("%s", (_name, bytes, text) => {
    const value = decodeValue(hex(bytes));
    expect(value).toEqual(new Amqp10Decimal(text, true));
    // As JSON: a number with every digit the producer sent.
    expect(jsonText(value, "v")).toBe(text);
  });

  it("infinities and NaN are decimals JSON has no number for", () => {
    expect(decodeValue(hex("7478000000"))).toEqual(new Amqp10Decimal("Infinity", false));
    expect(decodeValue(hex("74f8000000"))).toEqual(new Amqp10Decimal("-Infinity", false));
    expect(decodeValue(hex("847c00000000000000"))).toEqual(new Amqp10Decimal("NaN", false));
    expect(() => jsonText(decodeValue(hex("7478000000")), "the amqp-value")).toThrow(
      "the amqp-value is the decimal Infinity, which JSON has no number for",
    );
  });

  it("a coefficient past the format's digits is non-canonical and reads as zero", () => {
    // decimal32, second form, coefficient 0x9fffff | 0x800000 > 9,999,999.
    expect(decodeValue(hex("74 6c bf ff ff"))).toEqual(new Amqp10Decimal("0", true));
  });
});

describe("AMQP 1.0 compound types", () => {
  it("lists and maps, 8- and 32-bit, nested", () => {
    expect(decodeValue(compound8(0xc0, [hex("5501"), str8("a"), hex("40"), compound8(0xc0, [hex("41")])]))).toEqual([
      1n,
      "a",
      null,
      [true],
    ]);
    expect(decodeValue(hex("45"))).toEqual([]);
    expect(decodeValue(hex("d0 00000005 00000001 41"))).toEqual([true]);
    const map = decodeValue(compound8(0xc1, [str8("q"), hex("5203"), sym8("s"), hex("40")]));
    expect(map).toEqual(
      new Amqp10Map([
        ["q", 3],
        [new Amqp10Symbol("s"), null],
      ]),
    );
    expect(jsonText(map, "v")).toBe('{"q":3,"s":null}');
  });

  it("arrays take one constructor for every element, described or not", () => {
    expect(decodeValue(hex("e0 0a 02 71 00000001 fffffffe"))).toEqual([1, -2]);
    expect(decodeValue(hex("f0 00000010 00000002 b1 00000001 61 00000002 6263"))).toEqual(["a", "bc"]);
    const described = decodeValue(hex("e0 08 02 00 a3 01 78 50 01 02"));
    expect(described).toEqual([
      new Amqp10Described(new Amqp10Symbol("x"), 1),
      new Amqp10Described(new Amqp10Symbol("x"), 2),
    ]);
    expect(decodeValue(hex("e0 02 03 40"))).toEqual([null, null, null]);
  });

  it("a size or a count that does not fit is refused before any work", () => {
    expect(() => decodeValue(hex("c0 02 ff 40"))).toThrow(/a list of 2 bytes cannot hold 255 elements/);
    expect(() => decodeValue(hex("c0 03 01 40 40"))).toThrow(/says 3 bytes but its elements take 2/);
    expect(() => decodeValue(hex("c1 02 01 40"))).toThrow(/odd count/);
    expect(() => decodeValue(hex("e0 05 ff 71 00 00 00"))).toThrow(/cannot hold 255 elements/);
    expect(() => decodeValue(hex("f0 00000005 ffffffff 40"))).toThrow(/4294967295 empty elements is refused/);
    expect(() => decodeValue(hex("d0 ffffff00 00000001 40"))).toThrow(/needs 4294967040 bytes/);
  });

  it(`nesting deeper than ${MAX_DEPTH} is refused, not a stack overflow`, () => {
    let deep = hex("45");
    for (let i = 0; i < 10_000; i++) deep = Buffer.concat([hex("d0"), u32(deep.length + 4), u32(1), deep]);
    expect(() => decodeValue(deep)).toThrow(new RegExp(`nested deeper than ${MAX_DEPTH}`));
    let described = hex("40");
    for (let i = 0; i < 10_000; i++) described = Buffer.concat([hex("00"), described]);
    expect(() => decodeValue(described)).toThrow(Amqp10Error);
  });

  it("JSON: integers of any width exact, binary base64, keys of every scalar type, no described value", () => {
    const value = decodeValue(
      compound8(0xc1, [
        str8("big"),
        hex("80ffffffffffffffff"),
        str8("bytes"),
        vbin8(Buffer.from([0xff, 0x00])),
        hex("5207"),
        str8("seven"),
        str8("when"),
        hex("830000019ae294e4fb"),
      ]),
    );
    expect(jsonText(value, "v")).toBe(
      '{"big":18446744073709551615,"bytes":"/wA=","7":"seven","when":"2025-12-03T05:00:00.123Z"}',
    );
    expect(() => jsonText(decodeValue(compound8(0xc1, [str8("a"), hex("40"), sym8("a"), hex("40")])), "v")).toThrow(
      'v has the key "a" twice',
    );
    expect(() => jsonText(decodeValue(compound8(0xc1, [hex("45"), hex("40")])), "v")).toThrow(/map key/);
    expect(() => jsonText(decodeValue(hex("00 53 01 40")), "v")).toThrow("v is a described value (0x1)");
    expect(() => jsonText(decodeValue(hex("82 7ff0000000000000")), "v")).toThrow("v is Infinity");
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

describe("the body of an AMQP 1.0 message", () => {
  it("data sections are their bytes, one after another", () => {
    const body = Buffer.concat([section(DATA, vbin8(Buffer.from('{"a":'))), section(DATA, vbin8(Buffer.from("1}")))]);
    const read = amqp10Body(body);
    expect(read.ok && Buffer.from(read.bytes).toString()).toBe('{"a":1}');
  });

  it("an amqp-value string is its text, binary itself, null nothing, anything else JSON", () => {
    const text = amqp10Body(section(VALUE, str8('{"id":"x"}')));
    expect(text).toMatchObject({ ok: true, json: false });
    expect(text.ok && Buffer.from(text.bytes).toString()).toBe('{"id":"x"}');
    const bytes = amqp10Body(section(VALUE, vbin8(Buffer.from([1, 2]))));
    expect(bytes.ok && [...bytes.bytes]).toEqual([1, 2]);
    expect(amqp10Body(section(VALUE, hex("40")))).toMatchObject({ ok: true, json: false });
    const map = amqp10Body(section(VALUE, compound8(0xc1, [str8("quantity"), hex("5203")])));
    expect(map).toMatchObject({ ok: true, json: true });
    expect(map.ok && Buffer.from(map.bytes).toString()).toBe('{"quantity":3}');
  });

  it("amqp-sequence sections are one JSON array", () => {
    const body = Buffer.concat([
      section(SEQUENCE, compound8(0xc0, [hex("5201")])),
      section(SEQUENCE, compound8(0xc0, [str8("b")])),
    ]);
    const read = amqp10Body(body);
    expect(read.ok && Buffer.from(read.bytes).toString()).toBe('[1,"b"]');
  });

  it("sections named by symbol count as those named by code; other sections are passed over", () => {
    const body = Buffer.concat([
      section(0x72, compound8(0xc1, [sym8("x-opt"), hex("41")])),
      Buffer.concat([hex("00"), sym8("amqp:data:binary"), vbin8(Buffer.from("hi"))]),
      section(0x78, compound8(0xc1, [])),
    ]);
    const read = amqp10Body(body);
    expect(read.ok && Buffer.from(read.bytes).toString()).toBe("hi");
  });

  it("a body that cannot be one says why", () => {
    expect(amqp10Body(Buffer.concat([section(DATA, vbin8(Buffer.from("a"))), section(VALUE, hex("40"))]))).toEqual({
      ok: false,
      reason: "an AMQP 1.0 body mixes data and amqp-value sections",
    });
    expect(amqp10Body(Buffer.concat([section(VALUE, hex("40")), section(VALUE, hex("40"))]))).toEqual({
      ok: false,
      reason: "an AMQP 1.0 body has one amqp-value section, not several",
    });
    expect(amqp10Body(hex("5201"))).toEqual({
      ok: false,
      reason: "the AMQP 1.0 body cannot be read: the value at byte 0 is no message section",
    });
    expect(amqp10Body(section(DATA, str8("x")))).toEqual({
      ok: false,
      reason: "the AMQP 1.0 body has no JSON form: a data section holds binary",
    });
    expect(amqp10Body(section(VALUE, hex("00 a3 01 78 40")))).toEqual({
      ok: false,
      reason: "the AMQP 1.0 body has no JSON form: the amqp-value is a described value (x), which has no JSON form",
    });
  });
});

describe("an AMQP 1.0 message as RabbitMQ hands it to an AMQP 0-9-1 consumer", () => {
  const appProperties = section(
    APP_PROPERTIES,
    compound8(0xc1, [
      str8("cloudEvents_specversion"),
      str8("1.0"),
      str8("cloudEvents_id"),
      str8("e-1"),
      str8("cloudEvents_source"),
      str8("plant/press-1"),
      str8("cloudEvents_type"),
      str8("production.reported"),
      str8("line"),
      hex("7100000007"),
    ]),
  );

  it("application properties in x-amqp-1.0-app-properties (as bytes) are the headers: binary mode works", () => {
    const delivery = fromAmqp10(
      undefined,
      "application/json",
      { "x-amqp-1.0-app-properties": appProperties, "x-delivery-count": 0 },
      Buffer.from('{"quantity":3}'),
    );
    if (!delivery.ok) throw new Error(delivery.reason);
    expect(delivery.headers).toEqual({
      cloudEvents_specversion: "1.0",
      cloudEvents_id: "e-1",
      cloudEvents_source: "plant/press-1",
      cloudEvents_type: "production.reported",
      line: 7,
      "x-delivery-count": 0,
    });
    const [item] = amqpItems(delivery.contentType, delivery.headers, delivery.body);
    expect(JSON.parse(Buffer.from(item?.payload ?? []).toString())).toEqual({
      specversion: "1.0",
      id: "e-1",
      source: "plant/press-1",
      type: "production.reported",
      datacontenttype: "application/json",
      data: { quantity: 3 },
    });
    expect(appPropertiesHeaders(appProperties).line).toBe(7);
  });

  it("the same header read as text (amqplib's longstr) cannot be read back: a binary-mode event says what to change", () => {
    const lossy = Buffer.from(appProperties).toString("utf8");
    const delivery = fromAmqp10(
      undefined,
      "application/json",
      { "x-amqp-1.0-app-properties": lossy },
      Buffer.from("{}"),
    );
    expect(delivery.ok).toBe(false);
    expect(!delivery.ok && delivery.reason).toMatch(/RabbitMQ before 3\.13.*Fix: RabbitMQ 3\.13 or later/);
    // Text without CloudEvents attributes: the message goes on, the header as it came.
    const other = fromAmqp10(undefined, undefined, { "x-amqp-1.0-app-properties": "\ufffdline" }, Buffer.from("{}"));
    expect(other).toMatchObject({ ok: true, headers: { "x-amqp-1.0-app-properties": "\ufffdline" } });
  });

  it("a body typed amqp-1.0 is decoded; a JSON value gets a content type only when it had none", () => {
    const value = section(VALUE, compound8(0xc1, [str8("quantity"), hex("5203")]));
    expect(fromAmqp10("amqp-1.0", undefined, undefined, value)).toMatchObject({
      ok: true,
      contentType: "application/json",
    });
    expect(fromAmqp10("amqp-1.0", "application/cloudevents+json", undefined, value)).toMatchObject({
      contentType: "application/cloudevents+json",
    });
    expect(fromAmqp10("amqp-1.0", undefined, undefined, hex("ff"))).toMatchObject({ ok: false });
    // Any other type property: the body is left alone.
    expect(fromAmqp10("order", undefined, undefined, hex("ff"))).toMatchObject({ ok: true, body: hex("ff") });
  });

  it("unreadable application properties as bytes are a reason, not an exception", () => {
    expect(fromAmqp10(undefined, undefined, { "x-amqp-1.0-app-properties": hex("c1 01") }, hex(""))).toEqual({
      ok: false,
      reason: "the AMQP 1.0 application properties cannot be read: a map at byte 2 needs 1 bytes, 0 are left",
    });
  });
});

describe("the decoder on any bytes (property)", () => {
  it("returns a value or an Amqp10Error, never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeValue(bytes);
          amqp10Body(bytes);
        } catch (err) {
          if (!(err instanceof Amqp10Error)) throw err;
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it("on bytes that start like a message section, amqp10Body never throws", () => {
    const starts = fc.constantFrom(hex("005375"), hex("005377"), hex("005376"), hex("005374"));
    fc.assert(
      fc.property(starts, fc.uint8Array({ maxLength: 48 }), (start, rest) => {
        const read = amqp10Body(Buffer.concat([start, rest]));
        expect(typeof read.ok).toBe("boolean");
      }),
      { numRuns: 20_000 },
    );
  });
});
