// The CIP and EtherNet/IP encoding the Logix driver speaks, from the public
// specification (ODVA CIP Vol. 1 and 2) and Rockwell's Logix 5000 Data Access
// manual: the encapsulation header and common packet format, Forward Open /
// Forward Close, Read Tag (0x4C), Write Tag (0x4D) and the Multiple Service
// Packet (0x0A), the elementary data type codes and the Logix STRING
// structure. All little-endian. Pure: no I/O.
import type { PlcValue } from "../driver.ts";

// ── Encapsulation (EtherNet/IP) ─────────────────────────────────────────────
export const ENCAP_HEADER_BYTES = 24;
export const ENCAP = {
  registerSession: 0x0065,
  unregisterSession: 0x0066,
  sendRRData: 0x006f,
  sendUnitData: 0x0070,
} as const;

const ENCAP_STATUS: Record<number, string> = {
  1: "unsupported encapsulation command",
  2: "insufficient memory in the target",
  3: "malformed encapsulation data",
  100: "invalid session handle",
  101: "invalid encapsulation length",
  105: "unsupported encapsulation protocol revision",
};

export function encapStatusText(status: number): string {
  return `encapsulation status 0x${status.toString(16).padStart(4, "0")} ${ENCAP_STATUS[status] ?? "(unknown)"}`;
}

export interface EncapFrame {
  command: number;
  session: number;
  status: number;
  context: Buffer;
  data: Buffer;
}

export function encapsulate(command: number, session: number, context: Buffer, data: Buffer): Buffer {
  const header = Buffer.alloc(ENCAP_HEADER_BYTES);
  header.writeUInt16LE(command, 0);
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(session, 4);
  context.copy(header, 12, 0, 8);
  return Buffer.concat([header, data]);
}

/** The length of the first whole frame in `buffer`, or 0 while it is incomplete. */
export function frameLength(buffer: Buffer): number {
  if (buffer.length < ENCAP_HEADER_BYTES) return 0;
  const total = ENCAP_HEADER_BYTES + buffer.readUInt16LE(2);
  return buffer.length >= total ? total : 0;
}

export function parseFrame(frame: Buffer): EncapFrame {
  return {
    command: frame.readUInt16LE(0),
    session: frame.readUInt32LE(4),
    status: frame.readUInt32LE(8),
    context: frame.subarray(12, 20),
    data: frame.subarray(ENCAP_HEADER_BYTES),
  };
}

export function registerSessionData(): Buffer {
  const data = Buffer.alloc(4);
  data.writeUInt16LE(1, 0); // protocol version 1, options 0
  return data;
}

// ── Common packet format ────────────────────────────────────────────────────
export const CPF = {
  nullAddress: 0x0000,
  connectedAddress: 0x00a1,
  connectedData: 0x00b1,
  unconnectedData: 0x00b2,
} as const;

export interface CpfItem {
  type: number;
  data: Buffer;
}

/** SendRRData / SendUnitData body: interface handle 0, timeout 0, the items. */
export function commandData(items: CpfItem[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(items.length, 6);
  const parts: Buffer[] = [head];
  for (const item of items) {
    const itemHead = Buffer.alloc(4);
    itemHead.writeUInt16LE(item.type, 0);
    itemHead.writeUInt16LE(item.data.length, 2);
    parts.push(itemHead, item.data);
  }
  return Buffer.concat(parts);
}

export function parseCommandData(data: Buffer): CpfItem[] {
  if (data.length < 8) throw new CipFormatError("a command without its item count");
  const count = data.readUInt16LE(6);
  const items: CpfItem[] = [];
  let offset = 8;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > data.length) throw new CipFormatError(`item ${i + 1} of ${count} is missing`);
    const type = data.readUInt16LE(offset);
    const length = data.readUInt16LE(offset + 2);
    if (offset + 4 + length > data.length) throw new CipFormatError(`item ${i + 1} is cut short`);
    items.push({ type, data: data.subarray(offset + 4, offset + 4 + length) });
    offset += 4 + length;
  }
  return items;
}

// ── CIP messages ────────────────────────────────────────────────────────────
export const SERVICE = {
  multipleServicePacket: 0x0a,
  readTag: 0x4c,
  writeTag: 0x4d,
  forwardClose: 0x4e,
  forwardOpen: 0x54,
  largeForwardOpen: 0x5b,
} as const;

/** Class 0x02 (Message Router) instance 1: where a Multiple Service Packet goes. */
const MESSAGE_ROUTER_PATH = Buffer.from([0x20, 0x02, 0x24, 0x01]);
/** Class 0x06 (Connection Manager) instance 1: Forward Open / Close. */
const CONNECTION_MANAGER_PATH = Buffer.from([0x20, 0x06, 0x24, 0x01]);

export function request(service: number, path: Buffer, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([service, path.length / 2]), path, data]);
}

export interface CipReply {
  service: number;
  status: number;
  extended: number[];
  data: Buffer;
}

export function parseReply(reply: Buffer): CipReply {
  if (reply.length < 4) throw new CipFormatError(`a CIP reply of ${reply.length} bytes (at least 4 expected)`);
  const extendedWords = reply[3] ?? 0;
  const extended: number[] = [];
  for (let i = 0; i < extendedWords; i++) extended.push(reply.readUInt16LE(4 + 2 * i));
  return {
    service: reply[0] ?? 0,
    status: reply[2] ?? 0,
    extended,
    data: reply.subarray(4 + 2 * extendedWords),
  };
}

/** A reply the driver cannot make sense of (truncated, an unknown type): the tag's error, not the connection's. */
export class CipFormatError extends Error {
  override name = "CipFormatError";
}

const GENERAL_STATUS: Record<number, string> = {
  1: "connection failure",
  2: "resource unavailable",
  3: "invalid parameter value",
  4: "path segment error (the controller cannot parse this tag name)",
  5: "path destination unknown (no such tag, member or program)",
  6: "partial transfer (the value is larger than one reply)",
  7: "connection lost",
  8: "service not supported",
  9: "invalid attribute value",
  10: "attribute list error",
  12: "object state conflict",
  14: "attribute not settable",
  15: "privilege violation",
  16: "device state conflict (key switch or mode)",
  17: "reply data too large",
  19: "not enough data",
  20: "attribute not supported",
  21: "too much data",
  22: "object does not exist",
  26: "routing failure: request too large",
  27: "routing failure: reply too large",
  30: "embedded service error",
  31: "vendor specific error",
  32: "invalid parameter",
  38: "path size invalid",
  255: "general error",
};

const LOGIX_EXTENDED: Record<number, string> = {
  8452: "offset beyond the end of the tag",
  8453: "element beyond the end of the tag (array index out of range)",
  8455: "data type does not match the tag's type",
};

const CONNECTION_EXTENDED: Record<number, string> = {
  256: "connection in use or duplicate Forward Open",
  262: "ownership conflict",
  265: "invalid connection size",
  273: "invalid RPI",
  275: "out of connections",
  276: "vendor id or product code mismatch",
  515: "connection timed out",
  516: "unconnected request timed out",
  785: "invalid port in the route (is `slot` right?)",
  786: "invalid link address in the route (is `slot` right?)",
  789: "invalid segment in the connection path",
};

/** `0x05 path destination unknown (no such tag, member or program)`, with the extended status when there is one. */
export function statusText(status: number, extended: readonly number[] = []): string {
  const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, "0")}`;
  let text = `CIP status ${hex(status, 2)} ${GENERAL_STATUS[status] ?? "(unknown)"}`;
  for (const word of extended) {
    const meaning = status === 0x01 ? CONNECTION_EXTENDED[word] : LOGIX_EXTENDED[word];
    text += `, extended ${hex(word, 4)}${meaning ? ` ${meaning}` : ""}`;
  }
  return text;
}

export function multipleServiceRequest(requests: readonly Buffer[]): Buffer {
  const table = Buffer.alloc(2 + 2 * requests.length);
  table.writeUInt16LE(requests.length, 0);
  let offset = table.length;
  requests.forEach((each, i) => {
    table.writeUInt16LE(offset, 2 + 2 * i);
    offset += each.length;
  });
  return request(SERVICE.multipleServicePacket, MESSAGE_ROUTER_PATH, Buffer.concat([table, ...requests]));
}

/** The embedded replies of a Multiple Service Packet reply's data. */
export function parseMultipleServiceData(data: Buffer): Buffer[] {
  if (data.length < 2) throw new CipFormatError("a Multiple Service Packet reply without a count");
  const count = data.readUInt16LE(0);
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(data.readUInt16LE(2 + 2 * i));
  return offsets.map((start, i) => data.subarray(start, offsets[i + 1] ?? data.length));
}

/** Bytes of a Multiple Service Packet around its embedded requests / replies. */
export const MSP_REQUEST_OVERHEAD = 2 + MESSAGE_ROUTER_PATH.length + 2;
export const MSP_REPLY_OVERHEAD = 4 + 2;
export const MSP_PER_SERVICE = 2;

export function readTagRequest(path: Buffer): Buffer {
  return request(SERVICE.readTag, path, Buffer.from([1, 0])); // one element
}

export function writeTagRequest(path: Buffer, type: TagType, value: Buffer): Buffer {
  const head = Buffer.alloc(type.handle === undefined ? 4 : 6);
  head.writeUInt16LE(type.code, 0);
  if (type.handle !== undefined) head.writeUInt16LE(type.handle, 2);
  head.writeUInt16LE(1, head.length - 2); // one element
  return request(SERVICE.writeTag, path, Buffer.concat([head, value]));
}

// ── Forward Open / Close (class 3 connection to the controller's Message Router) ──
export interface ConnectionIdentity {
  serial: number;
  vendor: number;
  originatorSerial: number;
}

/** Backplane port 1, the controller's slot, then the Message Router. */
export function connectionPath(slot: number): Buffer {
  return Buffer.concat([Buffer.from([0x01, slot]), MESSAGE_ROUTER_PATH]);
}

/**
 * A Forward Open for an explicit-messaging connection of `size` bytes
 * (large: up to 65,535 with the 32-bit parameters of service 0x5B; small: up
 * to 511). RPI 2 s with multiplier ×32: the controller drops the connection
 * after about 64 s without a request.
 */
export function forwardOpenRequest(opts: {
  large: boolean;
  size: number;
  toConnectionId: number;
  identity: ConnectionIdentity;
  slot: number;
}): Buffer {
  const path = connectionPath(opts.slot);
  const paramBytes = opts.large ? 4 : 2;
  const body = Buffer.alloc(32 + 2 * paramBytes + path.length);
  let at = 0;
  body[at++] = 0x0a; // priority / time tick
  body[at++] = 0x0e; // timeout ticks
  body.writeUInt32LE(0, at); // O→T connection id: the target picks it
  body.writeUInt32LE(opts.toConnectionId, at + 4);
  body.writeUInt16LE(opts.identity.serial, at + 8);
  body.writeUInt16LE(opts.identity.vendor, at + 10);
  body.writeUInt32LE(opts.identity.originatorSerial, at + 12);
  at += 16;
  body[at] = 0x03; // timeout multiplier ×32
  at += 4; // and three reserved bytes
  const rpiMicroseconds = 2_000_000;
  for (let direction = 0; direction < 2; direction++) {
    body.writeUInt32LE(rpiMicroseconds, at);
    at += 4;
    // point-to-point, low priority, variable size
    if (opts.large) body.writeUInt32LE((0x4200 << 16) | opts.size, at);
    else body.writeUInt16LE(0x4200 | opts.size, at);
    at += paramBytes;
  }
  body[at++] = 0xa3; // class 3, application trigger, server
  body[at++] = path.length / 2;
  path.copy(body, at);
  return request(opts.large ? SERVICE.largeForwardOpen : SERVICE.forwardOpen, CONNECTION_MANAGER_PATH, body);
}

/** The O→T connection id the target assigned (what our SendUnitData requests carry). */
export function parseForwardOpenData(data: Buffer): { toTargetId: number } {
  if (data.length < 8) throw new CipFormatError("a Forward Open reply shorter than its connection ids");
  return { toTargetId: data.readUInt32LE(0) };
}

export function forwardCloseRequest(identity: ConnectionIdentity, slot: number): Buffer {
  const path = connectionPath(slot);
  const body = Buffer.alloc(12 + path.length);
  body[0] = 0x0a;
  body[1] = 0x0e;
  body.writeUInt16LE(identity.serial, 2);
  body.writeUInt16LE(identity.vendor, 4);
  body.writeUInt32LE(identity.originatorSerial, 6);
  body[10] = path.length / 2;
  path.copy(body, 12);
  return request(SERVICE.forwardClose, CONNECTION_MANAGER_PATH, body);
}

// ── Data types and values ───────────────────────────────────────────────────
export const STRUCT_TYPE = 0x02a0;
/** The structure handle Logix gives its predefined STRING type. */
export const LOGIX_STRING_HANDLE = 0x0fce;
/** LEN DINT + DATA SINT[82] + 2 pad bytes. */
export const LOGIX_STRING_BYTES = 88;
export const LOGIX_STRING_CAPACITY = 82;

/** A tag's type as the controller names it in a Read Tag reply: a type code, and a structure handle for 0x02A0. */
export interface TagType {
  code: number;
  handle?: number;
}

interface Atomic {
  name: string;
  bytes: number;
  whole?: boolean;
  read: (data: Buffer) => PlcValue;
  write: (value: PlcValue, data: Buffer) => void;
  /** What the type takes, for the error a wrong value gets. */
  takes: string;
}

function integer(name: string, bytes: number, signed: boolean): Atomic {
  const bits = BigInt(bytes * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const wide = bytes === 8;
  return {
    name,
    bytes,
    whole: true,
    takes: `a whole number from ${min} to ${max}`,
    read: (data) => {
      if (wide) return signed ? data.readBigInt64LE(0) : data.readBigUInt64LE(0);
      return signed ? data.readIntLE(0, bytes) : data.readUIntLE(0, bytes);
    },
    write: (value, data) => {
      const whole =
        typeof value === "bigint"
          ? value
          : typeof value === "number" && Number.isSafeInteger(value)
            ? BigInt(value)
            : undefined;
      if (whole === undefined || whole < min || whole > max) throw new RangeError("out of range");
      if (wide) {
        if (signed) data.writeBigInt64LE(whole, 0);
        else data.writeBigUInt64LE(whole, 0);
      } else if (signed) data.writeIntLE(Number(whole), 0, bytes);
      else data.writeUIntLE(Number(whole), 0, bytes);
    },
  };
}

function float(name: string, bytes: 4 | 8): Atomic {
  return {
    name,
    bytes,
    takes: "a number",
    read: (data) => (bytes === 4 ? data.readFloatLE(0) : data.readDoubleLE(0)),
    write: (value, data) => {
      if (typeof value !== "number") throw new RangeError("not a number");
      if (bytes === 4) data.writeFloatLE(value, 0);
      else data.writeDoubleLE(value, 0);
    },
  };
}

const ATOMIC: Record<number, Atomic> = {
  193: {
    name: "BOOL",
    bytes: 1,
    takes: "true or false",
    read: (data) => data[0] !== 0,
    write: (value, data) => {
      if (typeof value !== "boolean") throw new RangeError("not a boolean");
      data[0] = value ? 1 : 0;
    },
  },
  194: integer("SINT", 1, true),
  195: integer("INT", 2, true),
  196: integer("DINT", 4, true),
  197: integer("LINT", 8, true),
  198: integer("USINT", 1, false),
  199: integer("UINT", 2, false),
  200: integer("UDINT", 4, false),
  201: integer("ULINT", 8, false),
  202: float("REAL", 4),
  203: float("LREAL", 8),
  209: integer("BYTE", 1, false),
  210: integer("WORD", 2, false),
  211: integer("DWORD", 4, false),
  212: integer("LWORD", 8, false),
};

interface TextType {
  name: string;
  lengthBytes: number;
  capacity: number;
  /** The Logix STRING always carries all its 88 bytes. */
  fixedBytes?: number;
  /** The CIP STRING pads its characters to an even count. */
  padEven?: boolean;
}

/** Text types: the CIP STRING (0xD0, UINT length), SHORT_STRING (0xDA, USINT length), the Logix STRING structure. */
const TEXT: Record<number, TextType> = {
  208: { name: "STRING", lengthBytes: 2, capacity: 0xffff, padEven: true },
  218: { name: "SHORT_STRING", lengthBytes: 1, capacity: 0xff },
};
const LOGIX_STRING: TextType = {
  name: "STRING (Logix)",
  lengthBytes: 4,
  capacity: LOGIX_STRING_CAPACITY,
  fixedBytes: LOGIX_STRING_BYTES,
};

function textType(type: TagType): TextType | undefined {
  if (type.code === STRUCT_TYPE) return type.handle === LOGIX_STRING_HANDLE ? LOGIX_STRING : undefined;
  return TEXT[type.code];
}

export function typeName(type: TagType): string {
  const known = ATOMIC[type.code]?.name ?? textType(type)?.name;
  if (known) return known;
  if (type.code === STRUCT_TYPE) return `structure 0x${(type.handle ?? 0).toString(16).padStart(4, "0")}`;
  return `type 0x${type.code.toString(16).padStart(4, "0")}`;
}

/** Splits a Read Tag reply's data into the type and the value's bytes. */
export function splitTypedData(data: Buffer): { type: TagType; value: Buffer } {
  if (data.length < 2) throw new CipFormatError("a Read Tag reply without a data type");
  const code = data.readUInt16LE(0);
  if (code !== STRUCT_TYPE) return { type: { code }, value: data.subarray(2) };
  if (data.length < 4) throw new CipFormatError("a structure reply without its handle");
  return { type: { code, handle: data.readUInt16LE(2) }, value: data.subarray(4) };
}

/** Bytes of an integer type (SINT to LINT, USINT to ULINT, BYTE to LWORD); undefined for every other type. */
export function integerBytes(type: TagType): number | undefined {
  const atomic = ATOMIC[type.code];
  return atomic?.whole ? atomic.bytes : undefined;
}

/** Bytes a value of this type takes in a reply, where the type has a fixed size. */
export function valueBytes(type: TagType): number | undefined {
  const text = textType(type);
  return ATOMIC[type.code]?.bytes ?? text?.fixedBytes;
}

export function decodeValue(type: TagType, data: Buffer): PlcValue {
  const atomic = ATOMIC[type.code];
  if (atomic) {
    if (data.length < atomic.bytes)
      throw new CipFormatError(`${atomic.name} with ${data.length} of ${atomic.bytes} bytes`);
    return atomic.read(data);
  }
  const text = textType(type);
  if (text) {
    if (data.length < text.lengthBytes) throw new CipFormatError(`${text.name} without its length`);
    const length = data.readUIntLE(0, text.lengthBytes);
    const room = Math.min(data.length - text.lengthBytes, text.capacity);
    if (length < 0 || length > room) throw new CipFormatError(`${text.name} of length ${length} in ${room} bytes`);
    return data.toString("latin1", text.lengthBytes, text.lengthBytes + length);
  }
  if (type.code === STRUCT_TYPE) {
    throw new CipFormatError(`the tag is a ${typeName(type)} (a UDT): address one of its members, e.g. Tag.Member`);
  }
  throw new CipFormatError(`the controller answered with ${typeName(type)}, which this driver does not decode`);
}

/** What a value of this type looks like, for the error a wrong value gets. */
export function typeTakes(type: TagType): string {
  const text = textType(type);
  return (
    ATOMIC[type.code]?.takes ??
    (text ? `text of at most ${text.capacity} Latin-1 characters` : "nothing (not writable)")
  );
}

/** Encodes a value for a Write Tag of this type; throws RangeError when the value does not fit. */
export function encodeValue(type: TagType, value: PlcValue): Buffer {
  const atomic = ATOMIC[type.code];
  if (atomic) {
    const data = Buffer.alloc(atomic.bytes);
    atomic.write(value, data);
    return data;
  }
  const text = textType(type);
  if (!text) throw new RangeError(`${typeName(type)} is not writable`);
  if (typeof value !== "string") throw new RangeError("not text");
  const bytes = Buffer.from(value, "latin1");
  if (bytes.toString("latin1") !== value || bytes.length > text.capacity)
    throw new RangeError("not Latin-1 or too long");
  const used = text.lengthBytes + bytes.length;
  const data = Buffer.alloc(text.fixedBytes ?? (text.padEven ? used + (used % 2) : used));
  data.writeUIntLE(bytes.length, 0, text.lengthBytes);
  bytes.copy(data, text.lengthBytes);
  return data;
}
