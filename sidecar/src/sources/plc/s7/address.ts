// S7 addresses in the syntax of nodes7 and STEP 7 (absolute addressing):
// DB10,INT4 · DB10,X0.3 · DB10,S20.30 · DB10.DBW4 · MW10 · M0.1 · IB0 · QD4.
// Pure: no I/O. The wire layout of every type lives here too, so the reader,
// the planner and the codec agree on how many bytes a tag is.
import { PlcAddressError } from "../driver.ts";

/** Memory areas a client may read with PUT/GET: data blocks, inputs, outputs, merkers. */
export type S7Area = "DB" | "I" | "Q" | "M";

export type S7Type =
  | "BOOL"
  | "BYTE"
  | "CHAR"
  | "SINT"
  | "INT"
  | "WORD"
  | "UINT"
  | "DINT"
  | "DWORD"
  | "UDINT"
  | "REAL"
  | "LREAL"
  | "LINT"
  | "ULINT"
  | "STRING"
  | "WSTRING";

export interface S7Tag {
  /** The address as the admin wrote it (trimmed): the tag's name in errors and logs. */
  readonly address: string;
  readonly area: S7Area;
  /** The DB number; 0 outside data blocks. */
  readonly db: number;
  /** First byte of the value in its area. */
  readonly byte: number;
  /** BOOL: the bit in that byte (0–7); 0 otherwise. */
  readonly bit: number;
  readonly type: S7Type;
  /** STRING: max characters (1–254); WSTRING: max characters (1–16382); 0 otherwise. */
  readonly maxLength: number;
  /** Bytes the value occupies in the PLC, headers included. */
  readonly size: number;
}

/** The S7 area codes (ISO-on-TCP read/write items). */
export const AREA_CODE: Record<S7Area, number> = { I: 0x81, Q: 0x82, M: 0x83, DB: 0x84 };

const FIXED_SIZE: Record<Exclude<S7Type, "STRING" | "WSTRING">, number> = {
  BOOL: 1,
  BYTE: 1,
  CHAR: 1,
  SINT: 1,
  INT: 2,
  WORD: 2,
  UINT: 2,
  DINT: 4,
  DWORD: 4,
  UDINT: 4,
  REAL: 4,
  LREAL: 8,
  LINT: 8,
  ULINT: 8,
};

/** The type words of the DB syntax (nodes7's spellings and their long forms). */
const DB_TYPE_WORDS: Record<string, S7Type> = {
  X: "BOOL",
  B: "BYTE",
  BYTE: "BYTE",
  C: "CHAR",
  CHAR: "CHAR",
  SINT: "SINT",
  USINT: "BYTE",
  I: "INT",
  INT: "INT",
  W: "WORD",
  WORD: "WORD",
  UINT: "UINT",
  DI: "DINT",
  DINT: "DINT",
  DW: "DWORD",
  DWORD: "DWORD",
  UDINT: "UDINT",
  R: "REAL",
  REAL: "REAL",
  LR: "LREAL",
  LREAL: "LREAL",
  LI: "LINT",
  LINT: "LINT",
  ULI: "ULINT",
  ULINT: "ULINT",
  S: "STRING",
  STRING: "STRING",
  WS: "WSTRING",
  WSTRING: "WSTRING",
};

/** Size letters after an I/Q/M area, and after DBX/DBB/DBW/DBD (STEP 7). */
const SIZE_LETTER_TYPES: Record<string, S7Type> = {
  X: "BOOL",
  B: "BYTE",
  C: "CHAR",
  W: "WORD",
  I: "INT",
  D: "DWORD",
  DW: "DWORD",
  DI: "DINT",
  R: "REAL",
};

const AREA_LETTERS: Record<string, Exclude<S7Area, "DB">> = { I: "I", E: "I", Q: "Q", A: "Q", M: "M" };

/** Largest byte offset an S7 item address holds (24 bits of bit address). */
const MAX_BYTE = (1 << 21) - 1;
const MAX_DB = 65_535;
const STRING_MAX = 254;
const WSTRING_MAX = 16_382;

const EXAMPLES =
  "examples: DB10,INT4 · DB10,X0.3 · DB10,REAL8 · DB10,S20.30 (STRING[30]) · DB10,WS40.10 · DB10.DBW4 · MW10 · M0.1 · IB0 · QD4";

const DB_FORM = /^DB(\d+),([A-Z]+)(\d+)(?:\.(\d+))?$/;
const STEP7_DB_FORM = /^DB(\d+)\.DB([XBWD])(\d+)(?:\.(\d+))?$/;
const AREA_FORM = /^([IEQAM])(X|B|C|W|I|DW|DI|D|R)?(\d+)(?:\.(\d+))?$/;

/** Parses one S7 address; throws PlcAddressError naming what is wrong. */
export function parseS7Address(input: string): S7Tag {
  const address = input.trim();
  const text = address.toUpperCase().replace(/\s+/g, "");
  const db = DB_FORM.exec(text);
  if (db) {
    const type = DB_TYPE_WORDS[db[2] as string];
    if (!type) {
      throw new PlcAddressError(
        address,
        `unknown type ${db[2]} (${Object.keys(DB_TYPE_WORDS).join(", ")}); ${EXAMPLES}`,
      );
    }
    return build(address, "DB", Number(db[1]), type, Number(db[3]), db[4]);
  }
  const step7 = STEP7_DB_FORM.exec(text);
  if (step7) {
    const type = SIZE_LETTER_TYPES[step7[2] as string] as S7Type;
    return build(address, "DB", Number(step7[1]), type, Number(step7[3]), step7[4]);
  }
  const area = AREA_FORM.exec(text);
  if (area) {
    const letter = area[2];
    // A bare area with a dot is a bit (M0.1); without one it is not an address.
    const type = letter ? (SIZE_LETTER_TYPES[letter] as S7Type) : area[4] !== undefined ? "BOOL" : undefined;
    if (!type) {
      throw new PlcAddressError(
        address,
        `a bit needs its number (M0.1), a byte/word a size letter (MB0, MW0, MD0); ${EXAMPLES}`,
      );
    }
    return build(address, AREA_LETTERS[area[1] as string] as S7Area, 0, type, Number(area[3]), area[4]);
  }
  throw new PlcAddressError(address, `not an S7 address; ${EXAMPLES}`);
}

function build(
  address: string,
  area: S7Area,
  db: number,
  type: S7Type,
  byte: number,
  dotted: string | undefined,
): S7Tag {
  if (area === "DB" && (db < 1 || db > MAX_DB)) {
    throw new PlcAddressError(address, `DB number must be 1–${MAX_DB}`);
  }
  let bit = 0;
  let maxLength = 0;
  if (type === "BOOL") {
    if (dotted === undefined)
      throw new PlcAddressError(address, "a BOOL needs its bit: byte.bit, e.g. DB10,X0.3 or M0.1");
    bit = Number(dotted);
    if (bit > 7) throw new PlcAddressError(address, `bit ${bit} does not exist: bits are 0–7`);
  } else if (type === "STRING" || type === "WSTRING") {
    const limit = type === "STRING" ? STRING_MAX : WSTRING_MAX;
    if (dotted === undefined) {
      throw new PlcAddressError(
        address,
        `a ${type} needs its declared length: byte.length, e.g. DB10,S20.30 for ${type}[30]`,
      );
    }
    maxLength = Number(dotted);
    if (maxLength < 1 || maxLength > limit) {
      throw new PlcAddressError(address, `a ${type} holds 1–${limit} characters, not ${maxLength}`);
    }
  } else if (dotted !== undefined) {
    throw new PlcAddressError(address, `a ${type} has no .${dotted} part (only BOOL bits and string lengths do)`);
  }
  const size = type === "STRING" ? 2 + maxLength : type === "WSTRING" ? 4 + 2 * maxLength : FIXED_SIZE[type];
  if (byte + size - 1 > MAX_BYTE) {
    throw new PlcAddressError(address, `byte ${byte} is beyond what an S7 address reaches (${MAX_BYTE})`);
  }
  return { address, area, db, byte, bit, type, maxLength, size };
}

/** The area as an admin reads it: "DB10", "M", "I", "Q". */
export function areaName(tag: Pick<S7Tag, "area" | "db">): string {
  return tag.area === "DB" ? `DB${tag.db}` : tag.area;
}
