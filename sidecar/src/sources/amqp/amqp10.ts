// AMQP 1.0 messages as an AMQP 0-9-1 consumer receives them from RabbitMQ.
//
// A producer on AMQP 1.0 (Qpid JMS, Qpid Proton, the Azure and .NET AMQP
// clients, RabbitMQ's own AMQP 1.0 clients) may send its body as an
// `amqp-value` or `amqp-sequence` section instead of a `data` section: a JMS
// TextMessage is an `amqp-value` string, a JMS MapMessage an `amqp-value`
// map. RabbitMQ hands such a message to AMQP 0-9-1 consumers with the `type`
// property `amqp-1.0` and the body still in the AMQP 1.0 encoding. This
// module reads that encoding (the whole type system of AMQP 1.0 part 1.6)
// and gives the body back as the bytes the producer meant: a string as its
// UTF-8 text, binary as itself, any other value as JSON.
//
// RabbitMQ before 3.13 also does not turn the application properties into
// headers: they travel encoded in the `x-amqp-1.0-app-properties` header.
// As binary they are read here; amqplib reads that header as UTF-8 text,
// which loses every byte above 0x7f, so a binary-mode CloudEvent arriving
// that way is rejected with the reason and what to change, never guessed.
// Pure: no sockets, no clock.
import { UTF8_VALUE } from "../../core/bytes-text.ts";

/** RabbitMQ's `type` property on an AMQP 1.0 message whose body is not one data section. */
export const AMQP10_TYPE = "amqp-1.0";
/** The header RabbitMQ before 3.13 carries the encoded application properties in. */
export const APP_PROPERTIES_HEADER = "x-amqp-1.0-app-properties";
/** Nesting deeper than this is refused: a compound value cannot take the stack. */
export const MAX_DEPTH = 64;

export class Amqp10Error extends Error {}

/** An AMQP 1.0 decimal32/64/128 (IEEE 754-2008, binary integer decimal): its exact value as text. */
export class Amqp10Decimal {
  readonly text: string;
  readonly finite: boolean;

  constructor(text: string, finite: boolean) {
    this.text = text;
    this.finite = finite;
  }

  toString(): string {
    return this.text;
  }
}

/** A symbol: ASCII text that names something (a key, a descriptor), kept apart from strings. */
export class Amqp10Symbol {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  toString(): string {
    return this.name;
  }
}

/** An AMQP 1.0 uuid, as its canonical text. */
export class Amqp10Uuid {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

/** A 32-bit Unicode character (`char`). */
export class Amqp10Char {
  readonly char: string;

  constructor(char: string) {
    this.char = char;
  }
}

/** A map: its pairs in wire order (AMQP keys may be any type, and repeat only in a bad encoding). */
export class Amqp10Map {
  readonly entries: [Amqp10Value, Amqp10Value][];

  constructor(entries: [Amqp10Value, Amqp10Value][]) {
    this.entries = entries;
  }
}

/**
 * A described value: a descriptor and the value it describes. The descriptor
 * is a ulong code or a symbol by convention; other values are reserved, not
 * invalid, and read as they are.
 */
export class Amqp10Described {
  readonly descriptor: Amqp10Value;
  readonly value: Amqp10Value;

  constructor(descriptor: Amqp10Value, value: Amqp10Value) {
    this.descriptor = descriptor;
    this.value = value;
  }
}

/**
 * One decoded value. Integers up to 32 bits are numbers, 64-bit ones
 * (long, ulong) bigints; timestamps Dates; binary Uint8Array; list and
 * array JavaScript arrays.
 */
export type Amqp10Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | Amqp10Decimal
  | Amqp10Symbol
  | Amqp10Uuid
  | Amqp10Char
  | Amqp10Map
  | Amqp10Described
  | Amqp10Value[];

/** A reader over one buffer; every read is bounds-checked and says where it failed. */
class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset: number;
  readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.byteLength) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
    this.end = end;
  }

  take(count: number, what: string): number {
    if (count < 0 || this.offset + count > this.end) {
      throw new Amqp10Error(`${what} at byte ${this.offset} needs ${count} bytes, ${this.end - this.offset} are left`);
    }
    const at = this.offset;
    this.offset += count;
    return at;
  }

  u8(what: string): number {
    return this.view.getUint8(this.take(1, what));
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what));
  }
}

/** Decodes one value at the reader's offset. */
function readValue(r: Reader, depth: number): Amqp10Value {
  const code = r.u8("a constructor");
  if (code === 0x00) {
    if (depth >= MAX_DEPTH) throw new Amqp10Error(`values nested deeper than ${MAX_DEPTH}`);
    const descriptor = readValue(r, depth + 1);
    return new Amqp10Described(descriptor, readValue(r, depth + 1));
  }
  return readEncoded(r, code, depth);
}

/** The value of one encoding (`code`), without its constructor: how array elements are written. */
function readEncoded(r: Reader, code: number, depth: number): Amqp10Value {
  const v = r.view;
  switch (code) {
    case 0x40:
      return null;
    case 0x41:
      return true;
    case 0x42:
      return false;
    case 0x56: {
      const b = r.u8("a boolean");
      if (b > 1) throw new Amqp10Error(`a boolean is 0x00 or 0x01, not 0x${b.toString(16)}`);
      return b === 1;
    }
    case 0x50:
    case 0x52:
      return r.u8("a ubyte/smalluint");
    case 0x60:
      return v.getUint16(r.take(2, "a ushort"));
    case 0x70:
      return v.getUint32(r.take(4, "a uint"));
    case 0x43:
      return 0;
    case 0x80:
      return v.getBigUint64(r.take(8, "a ulong"));
    case 0x53:
      return BigInt(r.u8("a smallulong"));
    case 0x44:
      return 0n;
    case 0x51:
    case 0x54:
      return v.getInt8(r.take(1, "a byte/smallint"));
    case 0x61:
      return v.getInt16(r.take(2, "a short"));
    case 0x71:
      return v.getInt32(r.take(4, "an int"));
    case 0x81:
      return v.getBigInt64(r.take(8, "a long"));
    case 0x55:
      return BigInt(v.getInt8(r.take(1, "a smalllong")));
    case 0x72:
      return v.getFloat32(r.take(4, "a float"));
    case 0x82:
      return v.getFloat64(r.take(8, "a double"));
    case 0x74:
      return decimal(r.bytes.subarray(r.take(4, "a decimal32"), r.offset), DECIMAL32);
    case 0x84:
      return decimal(r.bytes.subarray(r.take(8, "a decimal64"), r.offset), DECIMAL64);
    case 0x94:
      return decimal(r.bytes.subarray(r.take(16, "a decimal128"), r.offset), DECIMAL128);
    case 0x73: {
      const point = v.getUint32(r.take(4, "a char"));
      if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) {
        throw new Amqp10Error(`a char is a Unicode scalar value, not 0x${point.toString(16)}`);
      }
      return new Amqp10Char(String.fromCodePoint(point));
    }
    case 0x83: {
      const ms = v.getBigInt64(r.take(8, "a timestamp"));
      return new Date(Number(ms));
    }
    case 0x98: {
      const at = r.take(16, "a uuid");
      const hex = Buffer.from(r.bytes.subarray(at, at + 16)).toString("hex");
      return new Amqp10Uuid(
        `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      );
    }
    case 0xa0:
    case 0xb0: {
      const size = code === 0xa0 ? r.u8("a vbin8 size") : r.u32("a vbin32 size");
      const at = r.take(size, "binary");
      // A copy, as a plain Uint8Array (a Buffer's slice would share the delivery's memory).
      return new Uint8Array(r.bytes.subarray(at, at + size));
    }
    case 0xa1:
    case 0xb1: {
      const size = code === 0xa1 ? r.u8("a str8 size") : r.u32("a str32 size");
      const at = r.take(size, "a string");
      try {
        return UTF8_VALUE.decode(r.bytes.subarray(at, at + size));
      } catch {
        throw new Amqp10Error(`the string at byte ${at} is not UTF-8`);
      }
    }
    case 0xa3:
    case 0xb3: {
      const size = code === 0xa3 ? r.u8("a sym8 size") : r.u32("a sym32 size");
      const at = r.take(size, "a symbol");
      const bytes = r.bytes.subarray(at, at + size);
      if (bytes.some((b) => b > 0x7f)) throw new Amqp10Error(`the symbol at byte ${at} is not ASCII`);
      return new Amqp10Symbol(Buffer.from(bytes).toString("latin1"));
    }
    case 0x45:
      return [];
    case 0xc0:
    case 0xd0:
    case 0xc1:
    case 0xd1: {
      const wide = code >= 0xd0;
      const kind = code === 0xc0 || code === 0xd0 ? "list" : "map";
      const size = wide ? r.u32(`a ${kind} size`) : r.u8(`a ${kind} size`);
      const start = r.take(size, `a ${kind}`);
      const inner = new Reader(r.bytes, start, start + size);
      const count = wide ? inner.u32(`a ${kind} count`) : inner.u8(`a ${kind} count`);
      // Every element takes at least one byte: a count past that is a lie, refused before any work.
      if (count > size) throw new Amqp10Error(`a ${kind} of ${size} bytes cannot hold ${count} elements`);
      if (depth >= MAX_DEPTH) throw new Amqp10Error(`values nested deeper than ${MAX_DEPTH}`);
      const items: Amqp10Value[] = [];
      for (let i = 0; i < count; i++) items.push(readValue(inner, depth + 1));
      if (inner.offset !== inner.end) {
        throw new Amqp10Error(
          `a ${kind} at byte ${start} says ${size} bytes but its elements take ${inner.offset - start}`,
        );
      }
      if (kind === "list") return items;
      if (count % 2 !== 0) throw new Amqp10Error(`a map at byte ${start} has an odd count (${count})`);
      const entries: [Amqp10Value, Amqp10Value][] = [];
      for (let i = 0; i < count; i += 2) entries.push([items[i] ?? null, items[i + 1] ?? null]);
      return new Amqp10Map(entries);
    }
    case 0xe0:
    case 0xf0: {
      const wide = code === 0xf0;
      const size = wide ? r.u32("an array size") : r.u8("an array size");
      const start = r.take(size, "an array");
      const inner = new Reader(r.bytes, start, start + size);
      const count = wide ? inner.u32("an array count") : inner.u8("an array count");
      if (depth >= MAX_DEPTH) throw new Amqp10Error(`values nested deeper than ${MAX_DEPTH}`);
      // One constructor for every element: a plain code, or a descriptor and a code.
      let element = inner.u8("an array's element constructor");
      let described = false;
      let descriptor: Amqp10Value = null;
      if (element === 0x00) {
        described = true;
        descriptor = readValue(inner, depth + 1);
        element = inner.u8("an array's element constructor");
      }
      if (element === 0x00) throw new Amqp10Error("an array's element constructor is described twice");
      // A zero-width element (null, true, false, uint0, ulong0, list0) takes no byte; any other at least one.
      const zeroWidth = [0x40, 0x41, 0x42, 0x43, 0x44, 0x45].includes(element);
      if (!zeroWidth && count > inner.end - inner.offset) {
        throw new Amqp10Error(`an array of ${size} bytes cannot hold ${count} elements`);
      }
      if (zeroWidth && count > 1_000_000) throw new Amqp10Error(`an array of ${count} empty elements is refused`);
      const items: Amqp10Value[] = [];
      for (let i = 0; i < count; i++) {
        const value = readEncoded(inner, element, depth + 1);
        items.push(described ? new Amqp10Described(descriptor, value) : value);
      }
      if (inner.offset !== inner.end) {
        throw new Amqp10Error(
          `an array at byte ${start} says ${size} bytes but its elements take ${inner.offset - start}`,
        );
      }
      return items;
    }
    default:
      throw new Amqp10Error(`0x${code.toString(16).padStart(2, "0")} at byte ${r.offset - 1} is no AMQP 1.0 type`);
  }
}

interface DecimalFormat {
  bytes: number;
  /** Bits of the biased exponent. */
  exponentBits: number;
  bias: number;
  /** Decimal digits of the coefficient: a larger coefficient is non-canonical and read as zero. */
  digits: number;
}

const DECIMAL32: DecimalFormat = { bytes: 4, exponentBits: 8, bias: 101, digits: 7 };
const DECIMAL64: DecimalFormat = { bytes: 8, exponentBits: 10, bias: 398, digits: 16 };
const DECIMAL128: DecimalFormat = { bytes: 16, exponentBits: 14, bias: 6176, digits: 34 };

/** IEEE 754-2008 decimal in the binary integer decimal (BID) encoding, as exact text. */
export function decimal(bytes: Uint8Array, f: DecimalFormat): Amqp10Decimal {
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  const width = BigInt(f.bytes * 8);
  const negative = (bits >> (width - 1n)) & 1n;
  const sign = negative ? "-" : "";
  const top5 = Number((bits >> (width - 6n)) & 0x1fn);
  if (top5 === 0x1e) return new Amqp10Decimal(`${sign}Infinity`, false);
  if (top5 === 0x1f) return new Amqp10Decimal("NaN", false);
  const e = BigInt(f.exponentBits);
  const trailing = width - 1n - e; // coefficient bits in the first form
  let exponent: bigint;
  let coefficient: bigint;
  if (((bits >> (width - 3n)) & 3n) !== 3n) {
    exponent = (bits >> trailing) & ((1n << e) - 1n);
    coefficient = bits & ((1n << trailing) - 1n);
  } else {
    // The second form: the exponent two bits lower, the coefficient's top bits an implied 100.
    exponent = (bits >> (trailing - 2n)) & ((1n << e) - 1n);
    coefficient = (0b100n << (trailing - 2n)) | (bits & ((1n << (trailing - 2n)) - 1n));
  }
  if (coefficient >= 10n ** BigInt(f.digits)) coefficient = 0n;
  return new Amqp10Decimal(`${sign}${scaled(coefficient, Number(exponent) - f.bias)}`, true);
}

/** coefficient × 10^exponent as plain decimal text, every digit kept (trailing zeros included). */
function scaled(coefficient: bigint, exponent: number): string {
  const digits = coefficient.toString();
  if (exponent >= 0) return coefficient === 0n ? "0" : `${digits}${"0".repeat(exponent)}`;
  const places = -exponent;
  // Past a few hundred places, exponent notation (still exact, still JSON).
  if (places > 400) return `${digits}E${exponent}`;
  const padded = digits.padStart(places + 1, "0");
  return `${padded.slice(0, -places)}.${padded.slice(-places)}`;
}

/** Decodes one whole buffer as exactly one value. */
export function decodeValue(bytes: Uint8Array): Amqp10Value {
  const r = new Reader(bytes);
  const value = readValue(r, 0);
  if (r.offset !== r.end) throw new Amqp10Error(`${r.end - r.offset} bytes follow the value`);
  return value;
}

/** Section descriptors of the message format (AMQP 1.0 part 3.2), by code and by symbolic name. */
const SECTIONS: Record<string, string> = {
  "112": "header",
  "113": "delivery-annotations",
  "114": "message-annotations",
  "115": "properties",
  "116": "application-properties",
  "117": "data",
  "118": "amqp-sequence",
  "119": "amqp-value",
  "120": "footer",
  "amqp:header:list": "header",
  "amqp:delivery-annotations:map": "delivery-annotations",
  "amqp:message-annotations:map": "message-annotations",
  "amqp:properties:list": "properties",
  "amqp:application-properties:map": "application-properties",
  "amqp:data:binary": "data",
  "amqp:amqp-sequence:list": "amqp-sequence",
  "amqp:amqp-value:*": "amqp-value",
  "amqp:footer:map": "footer",
};

function sectionName(value: Amqp10Value): string | undefined {
  if (!(value instanceof Amqp10Described)) return undefined;
  const d = value.descriptor;
  if (typeof d === "bigint") return SECTIONS[d.toString()];
  return d instanceof Amqp10Symbol ? SECTIONS[d.name] : undefined;
}

/** The sections of an encoded message (or of its body alone), in order. */
export function readSections(bytes: Uint8Array): { name: string; value: Amqp10Value }[] {
  const r = new Reader(bytes);
  const sections: { name: string; value: Amqp10Value }[] = [];
  while (r.offset < r.end) {
    const at = r.offset;
    const section = readValue(r, 0);
    const name = sectionName(section);
    if (name === undefined || !(section instanceof Amqp10Described)) {
      throw new Amqp10Error(`the value at byte ${at} is no message section`);
    }
    sections.push({ name, value: section.value });
  }
  return sections;
}

/** What the body of an AMQP 1.0 message is, as bytes, or why it cannot be bytes. */
export type Amqp10Body = { ok: true; bytes: Uint8Array; json: boolean } | { ok: false; reason: string };

/**
 * The body the producer meant, from the encoded sections RabbitMQ passed on:
 * data sections as their bytes (several, one after another); an amqp-value
 * string as its UTF-8 text, binary as itself, null as nothing, any other
 * value as JSON (`json: true`); amqp-sequence sections as one JSON array.
 */
export function amqp10Body(bytes: Uint8Array): Amqp10Body {
  let sections: { name: string; value: Amqp10Value }[];
  try {
    sections = readSections(bytes);
  } catch (err) {
    return { ok: false, reason: `the AMQP 1.0 body cannot be read: ${(err as Error).message}` };
  }
  const body = sections.filter((s) => s.name === "data" || s.name === "amqp-value" || s.name === "amqp-sequence");
  const kinds = new Set(body.map((s) => s.name));
  if (kinds.size > 1) return { ok: false, reason: `an AMQP 1.0 body mixes ${[...kinds].join(" and ")} sections` };
  const [first] = body;
  if (first === undefined) return { ok: true, bytes: new Uint8Array(), json: false };
  if (first.name === "amqp-value" && body.length > 1) {
    return { ok: false, reason: "an AMQP 1.0 body has one amqp-value section, not several" };
  }
  try {
    if (first.name === "data") {
      const parts = body.map((s) => {
        if (!(s.value instanceof Uint8Array)) throw new Amqp10Error("a data section holds binary");
        return s.value;
      });
      return { ok: true, bytes: Buffer.concat(parts), json: false };
    }
    if (first.name === "amqp-sequence") {
      const items = body.flatMap((s) => {
        if (!Array.isArray(s.value)) throw new Amqp10Error("an amqp-sequence section holds a list");
        return s.value;
      });
      return { ok: true, bytes: Buffer.from(jsonText(items, "the amqp-sequence")), json: true };
    }
    const value = first.value;
    if (value === null) return { ok: true, bytes: new Uint8Array(), json: false };
    if (typeof value === "string") return { ok: true, bytes: Buffer.from(value, "utf8"), json: false };
    if (value instanceof Uint8Array) return { ok: true, bytes: value, json: false };
    return { ok: true, bytes: Buffer.from(jsonText(value, "the amqp-value")), json: true };
  } catch (err) {
    return { ok: false, reason: `the AMQP 1.0 body has no JSON form: ${(err as Error).message}` };
  }
}

/**
 * A value as JSON text: integers of any width and decimals with their exact
 * digits, timestamps as RFC 3339, uuids, chars and symbols as strings,
 * binary as base64 (as the JSON event format writes bytes), maps as objects
 * whose keys are strings, symbols or numbers.
 */
export function jsonText(value: Amqp10Value, where: string): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Amqp10Error(`${where} is ${value}, which JSON has no number for`);
    return JSON.stringify(value);
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Amqp10Error(`${where} is a timestamp out of range`);
    return JSON.stringify(value.toISOString());
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString("base64"));
  if (value instanceof Amqp10Decimal) {
    if (!value.finite) throw new Amqp10Error(`${where} is the decimal ${value.text}, which JSON has no number for`);
    return value.text;
  }
  if (value instanceof Amqp10Symbol) return JSON.stringify(value.name);
  if (value instanceof Amqp10Uuid) return JSON.stringify(value.text);
  if (value instanceof Amqp10Char) return JSON.stringify(value.char);
  if (Array.isArray(value)) return `[${value.map((item, i) => jsonText(item, `${where}[${i}]`)).join(",")}]`;
  if (value instanceof Amqp10Map) {
    const seen = new Set<string>();
    const members = value.entries.map(([key, item]) => {
      const name = keyText(key, where);
      if (seen.has(name)) throw new Amqp10Error(`${where} has the key ${JSON.stringify(name)} twice`);
      seen.add(name);
      return `${JSON.stringify(name)}:${jsonText(item, `${where}.${name}`)}`;
    });
    return `{${members.join(",")}}`;
  }
  const d = value.descriptor;
  const descriptor = d instanceof Amqp10Symbol ? d.name : typeof d === "bigint" ? `0x${d.toString(16)}` : "reserved";
  throw new Amqp10Error(`${where} is a described value (${descriptor}), which has no JSON form`);
}

function keyText(key: Amqp10Value, where: string): string {
  if (typeof key === "string") return key;
  if (key instanceof Amqp10Symbol) return key.name;
  if (typeof key === "number" || typeof key === "bigint") return key.toString();
  if (key instanceof Amqp10Uuid) return key.text;
  throw new Amqp10Error(`${where} has a map key that is no string, symbol, number or uuid`);
}

/**
 * Application properties as header values: strings, numbers, booleans,
 * bigints, Dates and bytes as amqplib gives headers; other types as their
 * JSON text.
 */
export function appPropertiesHeaders(bytes: Uint8Array): Record<string, unknown> {
  const value = decodeValue(bytes);
  const map = value instanceof Amqp10Described && sectionName(value) === "application-properties" ? value.value : value;
  if (!(map instanceof Amqp10Map)) throw new Amqp10Error("the application properties are no map");
  const headers: Record<string, unknown> = {};
  for (const [key, item] of map.entries) {
    if (typeof key !== "string") throw new Amqp10Error("an application property's key is a string");
    headers[key] = headerValue(item, key);
  }
  return headers;
}

function headerValue(value: Amqp10Value, key: string): unknown {
  if (
    value === null ||
    typeof value === "boolean" ||
    typeof value === "number" ||
    typeof value === "bigint" ||
    typeof value === "string" ||
    value instanceof Date ||
    value instanceof Uint8Array
  ) {
    return value;
  }
  if (value instanceof Amqp10Symbol || value instanceof Amqp10Uuid || value instanceof Amqp10Decimal) {
    return value.toString();
  }
  if (value instanceof Amqp10Char) return value.char;
  return jsonText(value, `application property ${key}`);
}

/** What an AMQP 0-9-1 delivery of an AMQP 1.0 message becomes before the CloudEvents binding reads it. */
export type Amqp10Delivery =
  | { ok: true; contentType: string | undefined; headers: Record<string, unknown> | undefined; body: Uint8Array }
  | { ok: false; reason: string };

/**
 * Undoes what RabbitMQ leaves of the AMQP 1.0 encoding: the body of a
 * message typed `amqp-1.0`, and application properties in
 * `x-amqp-1.0-app-properties`. A message that has neither is returned as it is.
 */
export function fromAmqp10(
  type: string | undefined,
  contentType: string | undefined,
  headers: Record<string, unknown> | undefined,
  body: Uint8Array,
): Amqp10Delivery {
  let out = headers;
  const encoded = headers?.[APP_PROPERTIES_HEADER];
  if (encoded !== undefined) {
    const { [APP_PROPERTIES_HEADER]: _, ...rest } = headers ?? {};
    if (encoded instanceof Uint8Array) {
      let properties: Record<string, unknown>;
      try {
        properties = appPropertiesHeaders(encoded);
      } catch (err) {
        return { ok: false, reason: `the AMQP 1.0 application properties cannot be read: ${(err as Error).message}` };
      }
      // A header the broker also set keeps the broker's value.
      out = { ...properties, ...rest };
    } else if (typeof encoded === "string" && /cloudEvents[:_]specversion/.test(encoded)) {
      return {
        ok: false,
        reason:
          "a binary-mode CloudEvent sent over AMQP 1.0 reached this AMQP 0-9-1 consumer with its attributes " +
          `still encoded in the ${APP_PROPERTIES_HEADER} header, as RabbitMQ before 3.13 passes them on, ` +
          "and that header cannot be read back exactly. Fix: RabbitMQ 3.13 or later (it maps application " +
          "properties to headers), or send the event in structured mode (content type application/cloudevents+json)",
      };
    }
  }
  if (type !== AMQP10_TYPE) return { ok: true, contentType, headers: out, body };
  const read = amqp10Body(body);
  if (!read.ok) return read;
  // A value turned into JSON is sent on as JSON when the producer named no content type.
  return {
    ok: true,
    contentType: contentType ?? (read.json ? "application/json" : undefined),
    headers: out,
    body: read.bytes,
  };
}
