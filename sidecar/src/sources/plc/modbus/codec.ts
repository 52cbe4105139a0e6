// Registers ↔ values for one Modbus tag: its type and its word/byte order
// (address.ts). Registers are 16-bit numbers as the wire carries them.
import type { PlcValue } from "../driver.ts";
import type { ModbusOrder, ModbusTag } from "./address.ts";

const wordsSwapped = (order: ModbusOrder) => order === "CDAB" || order === "DCBA";
const bytesSwapped = (order: ModbusOrder) => order === "BADC" || order === "DCBA";
const swap16 = (word: number) => ((word & 0xff) << 8) | (word >> 8);

/** The value's big-endian bytes from the registers as the PLC holds them. */
function bigEndian(tag: ModbusTag, words: readonly number[]): Buffer {
  const reverse = tag.type !== "string" && wordsSwapped(tag.order);
  const swap = bytesSwapped(tag.order);
  const bytes = Buffer.alloc(words.length * 2);
  for (let i = 0; i < words.length; i++) {
    const word = words[reverse ? words.length - 1 - i : i] as number;
    bytes.writeUInt16BE(swap ? swap16(word) : word, i * 2);
  }
  return bytes;
}

/** The registers the PLC holds for the value's big-endian bytes. */
function registers(tag: ModbusTag, bytes: Buffer): number[] {
  const reverse = tag.type !== "string" && wordsSwapped(tag.order);
  const swap = bytesSwapped(tag.order);
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    const word = bytes.readUInt16BE(i);
    words.push(swap ? swap16(word) : word);
  }
  return reverse ? words.reverse() : words;
}

const utf8 = new TextDecoder("utf-8");

/** The tag's value from its registers (exactly `tag.length` of them; a register-bit tag: one). */
export function decodeRegisters(tag: ModbusTag, words: readonly number[]): PlcValue {
  if (tag.bit !== undefined) return ((words[0] as number) >> tag.bit) % 2 === 1;
  const bytes = bigEndian(tag, words);
  switch (tag.type) {
    case "int16":
      return bytes.readInt16BE(0);
    case "uint16":
      return bytes.readUInt16BE(0);
    case "int32":
      return bytes.readInt32BE(0);
    case "uint32":
      return bytes.readUInt32BE(0);
    case "float32":
      return bytes.readFloatBE(0);
    case "int64":
      return bytes.readBigInt64BE(0);
    case "uint64":
      return bytes.readBigUInt64BE(0);
    case "float64":
      return bytes.readDoubleBE(0);
    case "string": {
      // The text ends at the first NUL; the rest of the registers is padding.
      const end = bytes.indexOf(0);
      return utf8.decode(end < 0 ? bytes : bytes.subarray(0, end));
    }
    default:
      throw new Error(`${tag.address}: type ${tag.type} is not held in registers`);
  }
}

const INTEGER_RANGES = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x8000_0000, 0x7fff_ffff],
  uint32: [0, 0xffff_ffff],
} as const;

const BIGINT_RANGES = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
} as const;

/** A value the tag cannot hold: the wrong kind, out of range, too long. */
export class ModbusValueError extends Error {
  override name = "ModbusValueError";
}

/** The registers that hold `value` in the tag's type and order. Throws ModbusValueError. */
export function encodeRegisters(tag: ModbusTag, value: PlcValue): number[] {
  const refuse = (why: string): never => {
    throw new ModbusValueError(`${tag.address}: ${why}`);
  };
  const bytes = Buffer.alloc(tag.length * 2);
  switch (tag.type) {
    case "int16":
    case "uint16":
    case "int32":
    case "uint32": {
      const [low, high] = INTEGER_RANGES[tag.type];
      const number = typeof value === "bigint" ? Number(value) : value;
      if (typeof number !== "number" || !Number.isInteger(number) || number < low || number > high) {
        refuse(`${tag.type} holds integers ${low} to ${high}, not ${String(value)}`);
      }
      const n = number as number;
      if (tag.type === "int16") bytes.writeInt16BE(n);
      else if (tag.type === "uint16") bytes.writeUInt16BE(n);
      else if (tag.type === "int32") bytes.writeInt32BE(n);
      else bytes.writeUInt32BE(n);
      break;
    }
    case "int64":
    case "uint64": {
      const [low, high] = BIGINT_RANGES[tag.type];
      const big =
        typeof value === "bigint"
          ? value
          : typeof value === "number" && Number.isSafeInteger(value)
            ? BigInt(value)
            : null;
      if (big === null || big < low || big > high)
        refuse(`${tag.type} holds integers ${low} to ${high}, not ${String(value)}`);
      if (tag.type === "int64") bytes.writeBigInt64BE(big as bigint);
      else bytes.writeBigUInt64BE(big as bigint);
      break;
    }
    case "float32":
    case "float64":
      if (typeof value !== "number") refuse(`${tag.type} holds numbers, not ${typeof value}`);
      if (tag.type === "float32") bytes.writeFloatBE(value as number);
      else bytes.writeDoubleBE(value as number);
      break;
    case "string": {
      if (typeof value !== "string") refuse(`a string tag holds text, not ${typeof value}`);
      const text = Buffer.from(value as string, "utf8");
      if (text.includes(0)) refuse("a string tag cannot hold a NUL character (it ends the text)");
      if (text.length > bytes.length) refuse(`${text.length} bytes do not fit in ${tag.length} registers`);
      text.copy(bytes);
      break;
    }
    default:
      refuse(`type ${tag.type} is not held in registers`);
  }
  return registers(tag, bytes);
}
