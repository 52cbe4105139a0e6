// The protobuf wire format (varints, fixed 32/64, length-delimited) read and
// written by hand, so a Sparkplug payload can be decoded metric by metric:
// a metric whose bytes are wrong fails alone instead of taking the whole
// payload with it. 64-bit varints come back as a number when exact, else a
// bigint; nothing is rounded.
import { UTF8_VALUE } from "../../core/bytes-text.ts";

export class WireError extends Error {
  override name = "WireError";
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;
const utf8Encoder = new TextEncoder();

export class WireReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;
  /** Low and high 32 bits (unsigned) of the last varint read. */
  lo = 0;
  hi = 0;
  #view: DataView | undefined;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  #byte(): number {
    if (this.pos >= this.end) throw new WireError(`truncated at byte ${this.pos}`);
    return this.bytes[this.pos++] as number;
  }

  /** Reads a varint into `lo`/`hi`. */
  varint(): void {
    let lo = 0;
    let hi = 0;
    let byte = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      byte = this.#byte();
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    byte = this.#byte();
    lo |= (byte & 0x7f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
        byte = this.#byte();
        hi |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  tag(): { field: number; wireType: number } {
    this.varint();
    if (this.hi !== 0 || this.lo >>> 3 === 0) throw new WireError(`invalid field tag at byte ${this.pos}`);
    return { field: this.lo >>> 3, wireType: this.lo & 7 };
  }

  /** The last varint as an unsigned 64-bit value. */
  uint64(): number | bigint {
    return this.hi < 0x200000 ? this.hi * TWO_32 + this.lo : (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** The last varint as a signed (two's complement) 64-bit value. */
  int64(): number | bigint {
    if (this.hi < 0x80000000) return this.uint64();
    const big = BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
    return big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
  }

  length(): number {
    this.varint();
    const len = this.hi === 0 ? this.lo : Number.POSITIVE_INFINITY;
    if (len > this.end - this.pos) throw new WireError(`length ${len} runs past the end at byte ${this.pos}`);
    return len;
  }

  /** A length-delimited field as a view (not a copy) of the payload. */
  bytesField(): Uint8Array {
    const len = this.length();
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    const bytes = this.bytesField();
    try {
      return UTF8_VALUE.decode(bytes);
    } catch {
      throw new WireError(`string is not valid UTF-8 at byte ${this.pos - bytes.length}`);
    }
  }

  #dataView(): DataView {
    this.#view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.#view;
  }

  float(): number {
    if (this.end - this.pos < 4) throw new WireError(`truncated float at byte ${this.pos}`);
    const value = this.#dataView().getFloat32(this.pos, true);
    this.pos += 4;
    return value;
  }

  double(): number {
    if (this.end - this.pos < 8) throw new WireError(`truncated double at byte ${this.pos}`);
    const value = this.#dataView().getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        if (this.end - this.pos < 8) throw new WireError(`truncated at byte ${this.pos}`);
        this.pos += 8;
        return;
      case WIRE_BYTES: {
        // Not `this.pos += this.length()`: that adds to the position from before the length was read.
        const len = this.length();
        this.pos += len;
        return;
      }
      case WIRE_FIXED32:
        if (this.end - this.pos < 4) throw new WireError(`truncated at byte ${this.pos}`);
        this.pos += 4;
        return;
      default:
        throw new WireError(`unsupported wire type ${wireType} at byte ${this.pos}`);
    }
  }

  expect(wireType: number, actual: number, what: string): void {
    if (wireType !== actual) throw new WireError(`${what} has wire type ${actual}, expected ${wireType}`);
  }
}

/** A growable protobuf writer. */
export class WireWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** An unsigned varint of up to 64 bits (number or bigint; negatives as their 64-bit two's complement). */
  varint(value: number | bigint): void {
    this.#room(10);
    if (typeof value === "number" && value >= 0 && Number.isSafeInteger(value)) {
      // `& 0x7f` keeps the low 7 bits even past 2^32 (ToInt32 is modulo 2^32).
      let v = value;
      while (v > 0x7f) {
        this.#buf[this.#pos++] = (v & 0x7f) | 0x80;
        v = Math.floor(v / 128);
      }
      this.#buf[this.#pos++] = v;
      return;
    }
    let big = BigInt.asUintN(64, BigInt(value));
    while (big > 0x7fn) {
      this.#buf[this.#pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.#buf[this.#pos++] = Number(big);
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(bytes.length);
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  string(field: number, text: string): void {
    this.bytes(field, utf8Encoder.encode(text));
  }

  uint(field: number, value: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    this.#room(4);
    this.#view.setFloat32(this.#pos, value, true);
    this.#pos += 4;
  }

  double(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.#room(8);
    this.#view.setFloat64(this.#pos, value, true);
    this.#pos += 8;
  }

  /** A nested message written by `body` into its own writer. */
  message(field: number, body: (writer: WireWriter) => void): void {
    const inner = new WireWriter();
    body(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }
}
