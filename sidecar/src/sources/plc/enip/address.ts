// Logix tag addresses as an admin writes them in Odoo, parsed into the CIP
// request path a controller resolves: one ANSI extended symbolic segment per
// name (0x91, length, Latin-1 bytes, a pad byte to an even length) and one
// member segment per array index (0x28 / 0x29 / 0x2A for an 8, 16 or 32-bit
// index). Pure: no I/O.
import { PlcAddressError } from "../driver.ts";

/** One Logix tag to read: the address as written, its request path, and the bit it names inside an integer. */
export interface EnipTag {
  readonly address: string;
  /** The CIP request path (an even number of bytes). */
  readonly path: Buffer;
  /** `Flags.3`: bit 3 of the integer `Flags`; undefined for a whole value. */
  readonly bit?: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Logix names are at most 40 characters. */
const MAX_NAME = 40;
const MAX_DIMENSIONS = 3;
const MAX_INDEX = 0xffff_ffff;
const EXAMPLES =
  "Counter, Program:MainProgram.Counter, Counts[3], Grid[1,2], Line.Good, Line.Stations[2].Good, Flags.3";

function fail(address: string, why: string): never {
  throw new PlcAddressError(address, `${why} (examples: ${EXAMPLES})`);
}

function symbolSegment(name: string): Buffer {
  const bytes = Buffer.from(name, "latin1");
  const padded = Buffer.alloc(2 + bytes.length + (bytes.length % 2));
  padded[0] = 0x91;
  padded[1] = bytes.length;
  bytes.copy(padded, 2);
  return padded;
}

function elementSegment(index: number): Buffer {
  if (index <= 0xff) return Buffer.from([0x28, index]);
  if (index <= 0xffff) {
    const segment = Buffer.alloc(4);
    segment[0] = 0x29;
    segment.writeUInt16LE(index, 2);
    return segment;
  }
  const segment = Buffer.alloc(6);
  segment[0] = 0x2a;
  segment.writeUInt32LE(index, 2);
  return segment;
}

function checkName(address: string, name: string, what: string): void {
  if (!NAME.test(name)) fail(address, `${what} "${name}" is not a Logix name (a letter or _, then letters, digits, _)`);
  if (name.length > MAX_NAME) fail(address, `${what} "${name}" is longer than ${MAX_NAME} characters`);
}

/** `Counts[3]`, `Grid[1,2]`, `Line`: a name and its indices. */
function parsePart(address: string, part: string): Buffer[] {
  const open = part.indexOf("[");
  const name = open < 0 ? part : part.slice(0, open);
  checkName(address, name, "name");
  const segments = [symbolSegment(name)];
  if (open < 0) return segments;
  if (!part.endsWith("]")) fail(address, `"${part}" has no closing ]`);
  const indices = part.slice(open + 1, -1).split(",");
  if (indices.length > MAX_DIMENSIONS) fail(address, `"${part}" has more than ${MAX_DIMENSIONS} dimensions`);
  for (const text of indices) {
    const trimmed = text.trim();
    if (!/^\d+$/.test(trimmed) || Number(trimmed) > MAX_INDEX) {
      fail(address, `index "${text}" in "${part}" is not a whole number from 0 to ${MAX_INDEX}`);
    }
    segments.push(elementSegment(Number(trimmed)));
  }
  return segments;
}

/** Parses a Logix tag address; throws PlcAddressError naming the wrong part. */
export function parseEnipAddress(address: string): EnipTag {
  const text = address.trim();
  if (text === "") fail(address, "the address is empty");
  const segments: Buffer[] = [];
  let rest = text;
  const program = /^Program:([^.]*)\.(.*)$/i.exec(text);
  if (text.toLowerCase().startsWith("program:")) {
    if (!program) fail(address, "a program tag is Program:<program>.<tag>");
    const [, programName = "", tagPart = ""] = program;
    checkName(address, programName, "program");
    segments.push(symbolSegment(`Program:${programName}`));
    rest = tagPart;
  }
  // Dots inside brackets do not occur (indices are numbers), so a plain split finds the members.
  const parts = rest.split(".");
  let bit: number | undefined;
  const last = parts.at(-1) ?? "";
  if (parts.length > 1 && /^\d+$/.test(last)) {
    bit = Number(last);
    if (bit > 63) fail(address, `bit ${last} is beyond 63 (the widest Logix integer, LINT, has bits 0 to 63)`);
    parts.pop();
  }
  for (const part of parts) {
    if (part === "") fail(address, "an empty name between dots");
    segments.push(...parsePart(address, part));
  }
  const path = Buffer.concat(segments);
  return bit === undefined ? { address, path } : { address, path, bit };
}
