// Modbus tag addresses (the syntax is documented in sources/plc/README.md):
//
//   hr100:float32:CDAB   holding register 100 (0-based) and 101, a float, words swapped
//   ir7:int16            input register 7
//   hr12.3               bit 3 (0 = least significant) of holding register 12
//   coil5  di0           a coil, a discrete input
//   hr200:string10       a string of 10 registers (20 bytes)
//   40101:float32:CDAB   the classic 1-based notation of hr100:float32:CDAB
//
// Pure: no I/O. Every refusal is a PlcAddressError naming what is wrong and
// showing a valid address.
import { PlcAddressError } from "../driver.ts";

export const MODBUS_AREAS = ["hr", "ir", "coil", "di"] as const;
export type ModbusArea = (typeof MODBUS_AREAS)[number];

export const MODBUS_NUMBER_TYPES = [
  "int16",
  "uint16",
  "int32",
  "uint32",
  "float32",
  "int64",
  "uint64",
  "float64",
] as const;
export type ModbusNumberType = (typeof MODBUS_NUMBER_TYPES)[number];
export type ModbusType = "bool" | ModbusNumberType | "string";

/**
 * Where each byte of a value sits, named by the big-endian value's bytes
 * A B C D: ABCD as they come (Modbus' own order), CDAB words swapped,
 * BADC bytes of each word swapped, DCBA both. For 64-bit values the word
 * order is all four words reversed; for 16-bit values only the byte order
 * counts; for strings only the byte order (the characters of each register).
 */
export const MODBUS_ORDERS = ["ABCD", "CDAB", "BADC", "DCBA"] as const;
export type ModbusOrder = (typeof MODBUS_ORDERS)[number];

/** Most registers one read (function 3/4) carries, and most bits one read (function 1/2). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
/** Most registers one write (function 16) carries. */
export const MAX_WRITE_REGISTERS = 123;

export interface ModbusTag {
  /** As the rule wrote it. */
  address: string;
  area: ModbusArea;
  /** 0-based protocol address of the first register or bit. */
  offset: number;
  /** Registers (hr, ir) or bits (coil, di) the value spans. */
  length: number;
  type: ModbusType;
  /** The bit (0 = least significant) of a register read as a bool. */
  bit?: number;
  order: ModbusOrder;
}

const WORDS: Record<ModbusNumberType, number> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
};

const AREA_NAMES: Record<string, ModbusArea> = {
  hr: "hr",
  holding: "hr",
  ir: "ir",
  input: "ir",
  coil: "coil",
  co: "coil",
  di: "di",
  discrete: "di",
};

/** The classic notation's leading digit: 0xxxx coils, 1xxxx discrete inputs, 3xxxx input, 4xxxx holding registers. */
const CLASSIC_AREAS: Record<string, ModbusArea> = { "0": "coil", "1": "di", "3": "ir", "4": "hr" };

const EXAMPLE = "e.g. hr100:float32:CDAB, ir7:int16, hr12.3, coil5, hr200:string10 or 40101:float32";

function refuse(address: string, message: string): never {
  throw new PlcAddressError(address, `${message} (${EXAMPLE})`);
}

export function parseModbusAddress(address: string): ModbusTag {
  const text = address.trim();
  const [location = "", typeText, orderText, ...rest] = text.split(":");
  if (rest.length > 0) refuse(address, "at most AREA+OFFSET, a type and a byte order, separated by ':'");
  const { area, offset, bit } = parseLocation(address, location.trim().toLowerCase());
  const isBitArea = area === "coil" || area === "di";
  const typeName = typeText?.trim().toLowerCase();
  let type: ModbusType;
  let length: number;
  if (isBitArea || bit !== undefined) {
    if (typeName !== undefined && typeName !== "bool") {
      refuse(address, `${isBitArea ? `area ${area}` : "a register bit"} holds a bool, not ${typeName}`);
    }
    if (orderText !== undefined) refuse(address, "a bool has no byte order");
    type = "bool";
    length = 1;
  } else if (typeName === undefined || typeName === "") {
    type = "uint16";
    length = 1;
  } else if (typeName.startsWith("string")) {
    const count = Number(typeName.slice("string".length));
    if (!Number.isInteger(count) || count < 1 || count > MAX_READ_REGISTERS) {
      refuse(address, `a string is string<N> with N its registers, 1 to ${MAX_READ_REGISTERS} (2 bytes each)`);
    }
    type = "string";
    length = count;
  } else if ((MODBUS_NUMBER_TYPES as readonly string[]).includes(typeName)) {
    type = typeName as ModbusNumberType;
    length = WORDS[type];
  } else {
    refuse(
      address,
      `unknown type ${JSON.stringify(typeName)}: one of bool, ${MODBUS_NUMBER_TYPES.join(", ")}, string<N>`,
    );
  }
  let order: ModbusOrder = "ABCD";
  if (orderText !== undefined) {
    const upper = orderText.trim().toUpperCase();
    if (!(MODBUS_ORDERS as readonly string[]).includes(upper)) {
      refuse(address, `unknown byte order ${JSON.stringify(orderText)}: one of ${MODBUS_ORDERS.join(", ")}`);
    }
    order = upper as ModbusOrder;
  }
  if (offset + length - 1 > 0xffff) {
    refuse(address, `${length} ${isBitArea ? "bits" : "registers"} from ${offset} run past address 65535`);
  }
  const tag: ModbusTag = { address, area, offset, length, type, order };
  if (bit !== undefined) tag.bit = bit;
  return tag;
}

function parseLocation(address: string, location: string): { area: ModbusArea; offset: number; bit?: number } {
  const [place = "", bitText, ...more] = location.split(".");
  if (more.length > 0) refuse(address, "one '.' at most, before the bit number");
  let area: ModbusArea | undefined;
  let offset: number;
  const classic = /^([0134])(\d{4,5})$/.exec(place);
  if (classic) {
    // 5 digits: 40001–49999; 6 digits: 400001–465536. Register numbers count from 1.
    area = CLASSIC_AREAS[classic[1] as string];
    const number = Number(classic[2]);
    if (number < 1 || number > 65536)
      refuse(address, "a classic register number runs from 1 (40001) to 65536 (465536)");
    offset = number - 1;
  } else {
    const match = /^([a-z]+)(\d+)$/.exec(place);
    if (!match) refuse(address, "expected an area (hr, ir, coil, di) and a 0-based offset, or a classic 4xxxx number");
    area = AREA_NAMES[match[1] as string];
    if (!area) refuse(address, `unknown area ${JSON.stringify(match[1])}: one of hr, ir, coil, di`);
    offset = Number(match[2]);
    if (offset > 0xffff) refuse(address, `offset ${offset} is past 65535`);
  }
  if (bitText === undefined) return { area: area as ModbusArea, offset };
  if (area === "coil" || area === "di") refuse(address, `area ${area} is bits already: no '.bit'`);
  if (!/^\d{1,2}$/.test(bitText) || Number(bitText) > 15) refuse(address, "a register bit is 0 to 15");
  return { area: area as ModbusArea, offset, bit: Number(bitText) };
}
