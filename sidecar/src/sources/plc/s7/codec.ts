// Values to and from the bytes an S7 CPU holds: big-endian, IEEE 754 reals,
// STRING as [max length, current length, Latin-1 bytes], WSTRING as
// [max, current] (16-bit each) + UTF-16BE. Pure.
import type { PlcValue } from "../driver.ts";
import { PlcAddressError } from "../driver.ts";
import type { S7Tag } from "./address.ts";

/** Reads a tag's value from its bytes (`bytes` holds exactly `tag.size` bytes). Throws Error naming what is wrong. */
export function decodeS7(tag: S7Tag, bytes: Uint8Array): PlcValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (tag.type) {
    case "BOOL":
      return ((bytes[0] as number) >> tag.bit) % 2 === 1;
    case "BYTE":
      return view.getUint8(0);
    case "SINT":
      return view.getInt8(0);
    case "CHAR":
      return String.fromCharCode(view.getUint8(0));
    case "INT":
      return view.getInt16(0);
    case "WORD":
    case "UINT":
      return view.getUint16(0);
    case "DINT":
      return view.getInt32(0);
    case "DWORD":
    case "UDINT":
      return view.getUint32(0);
    case "REAL":
      return view.getFloat32(0);
    case "LREAL":
      return view.getFloat64(0);
    case "LINT":
      return view.getBigInt64(0);
    case "ULINT":
      return view.getBigUint64(0);
    case "STRING": {
      const declared = view.getUint8(0);
      const current = view.getUint8(1);
      checkHeader(tag, declared, current);
      return String.fromCharCode(...bytes.subarray(2, 2 + current));
    }
    case "WSTRING": {
      const declared = view.getUint16(0);
      const current = view.getUint16(2);
      checkHeader(tag, declared, current);
      const units: number[] = [];
      for (let index = 0; index < current; index++) units.push(view.getUint16(4 + 2 * index));
      return String.fromCharCode(...units);
    }
  }
}

// A header that disagrees with the address is a wrong address (or not a
// string at all): reading past it would show the next variable's bytes.
function checkHeader(tag: S7Tag, declared: number, current: number): void {
  if (current > declared || current > tag.maxLength) {
    throw new Error(
      `${tag.address}: the ${tag.type} header says ${current} of max ${declared} characters, but the address reads at most ${tag.maxLength}: ` +
        `is ${tag.type}[${tag.maxLength}] at byte ${tag.byte} the right declaration?`,
    );
  }
}

const INTEGER_RANGES: Partial<Record<S7Tag["type"], readonly [number, number]>> = {
  BYTE: [0, 0xff],
  SINT: [-0x80, 0x7f],
  INT: [-0x8000, 0x7fff],
  WORD: [0, 0xffff],
  UINT: [0, 0xffff],
  DINT: [-0x8000_0000, 0x7fff_ffff],
  DWORD: [0, 0xffff_ffff],
  UDINT: [0, 0xffff_ffff],
};

/** The bytes a value takes in the PLC (`tag.size` of them). Throws PlcAddressError when the value does not fit the type. */
export function encodeS7(tag: S7Tag, value: PlcValue): Uint8Array {
  const bytes = new Uint8Array(tag.size);
  const view = new DataView(bytes.buffer);
  const refuse = (expected: string): never => {
    throw new PlcAddressError(tag.address, `a ${tag.type} takes ${expected}, not ${describe(value)}`);
  };
  switch (tag.type) {
    case "BOOL":
      if (typeof value !== "boolean") refuse("true or false");
      // The byte as the CPU holds it; the driver writes the bit alone.
      bytes[0] = value ? 1 << tag.bit : 0;
      return bytes;
    case "CHAR": {
      if (typeof value !== "string" || value.length !== 1 || value.charCodeAt(0) > 0xff)
        refuse("one Latin-1 character");
      bytes[0] = (value as string).charCodeAt(0);
      return bytes;
    }
    case "REAL":
    case "LREAL":
      if (typeof value !== "number") refuse("a number");
      if (tag.type === "REAL") view.setFloat32(0, value as number);
      else view.setFloat64(0, value as number);
      return bytes;
    case "LINT":
    case "ULINT": {
      const big =
        typeof value === "bigint"
          ? value
          : typeof value === "number" && Number.isInteger(value)
            ? BigInt(value)
            : undefined;
      const [low, high] = tag.type === "LINT" ? [-(1n << 63n), (1n << 63n) - 1n] : [0n, (1n << 64n) - 1n];
      if (big === undefined || big < low || big > high) refuse(`an integer from ${low} to ${high}`);
      if (tag.type === "LINT") view.setBigInt64(0, big as bigint);
      else view.setBigUint64(0, big as bigint);
      return bytes;
    }
    case "STRING": {
      if (typeof value !== "string" || value.length > tag.maxLength || !isLatin1(value)) {
        refuse(`at most ${tag.maxLength} Latin-1 characters`);
      }
      const text = value as string;
      bytes[0] = tag.maxLength;
      bytes[1] = text.length;
      for (let index = 0; index < text.length; index++) bytes[2 + index] = text.charCodeAt(index);
      return bytes;
    }
    case "WSTRING": {
      if (typeof value !== "string" || value.length > tag.maxLength)
        refuse(`at most ${tag.maxLength} UTF-16 code units`);
      const text = value as string;
      view.setUint16(0, tag.maxLength);
      view.setUint16(2, text.length);
      for (let index = 0; index < text.length; index++) view.setUint16(4 + 2 * index, text.charCodeAt(index));
      return bytes;
    }
    default: {
      const [low, high] = INTEGER_RANGES[tag.type] as readonly [number, number];
      if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) {
        refuse(`an integer from ${low} to ${high}`);
      }
      const integer = value as number;
      if (tag.size === 1) view.setUint8(0, integer & 0xff);
      else if (tag.size === 2) view.setUint16(0, integer & 0xffff);
      else view.setUint32(0, integer >>> 0);
      return bytes;
    }
  }
}

function isLatin1(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0xff) return false;
  return true;
}

function describe(value: PlcValue): string {
  return typeof value === "string"
    ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    : `${String(value)} (${typeof value})`;
}
