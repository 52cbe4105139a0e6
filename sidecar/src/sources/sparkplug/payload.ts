// Sparkplug B payloads through the maintained `sparkplug-payload` package
// (Eclipse Tahu), with its number pitfalls corrected:
// - 64-bit fields (timestamps, seq, bdSeq, Int64/UInt64/DateTime values) come
//   back as `Long` objects, not numbers;
// - UInt32 values come back through `Long.toInt()`, i.e. signed: 4294967295 → -1;
// - Int8/Int16 are sign-extended only from 32 bits: a spec-conformant encoder
//   (Sparkplug 3.0, Tahu Java) sends Int8 -1 as 255, which the package returns as 255;
// - UInt8/UInt16 are returned unmasked.
// Values are reinterpreted per declared datatype here; 64-bit integers beyond
// 2^53 become bigint instead of silently losing digits.
import { createRequire } from "node:module";
import type { UMetric, UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";

const require = createRequire(import.meta.url);
const sparkplug = (require("sparkplug-payload") as typeof import("sparkplug-payload")).get("spBv1.0");
if (!sparkplug) throw new Error("sparkplug-payload does not provide spBv1.0");
const codec = sparkplug;

export type MetricValue = number | bigint | boolean | string | Uint8Array | null | Record<string, unknown> | unknown[];

export interface SparkplugMetric {
  name?: string;
  alias?: number;
  type: string;
  value: MetricValue;
  /** ms since epoch */
  timestamp?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
}

export interface SparkplugPayload {
  timestamp?: number;
  seq?: number;
  metrics: SparkplugMetric[];
}

export class SparkplugDecodeError extends Error {
  override name = "SparkplugDecodeError";
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toString(radix?: number): string;
}

function isLong(value: unknown): value is LongLike {
  return typeof value === "object" && value !== null && "low" in value && "high" in value && "unsigned" in value;
}

/** A protobuf 64-bit value as a number when exact, else a bigint. */
export function int64(value: unknown, signed: boolean): number | bigint | undefined {
  let big: bigint;
  if (isLong(value)) {
    big = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
    if (signed) big = BigInt.asIntN(64, big);
  } else if (typeof value === "number" && Number.isFinite(value)) {
    big = BigInt(Math.trunc(value));
    big = signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big);
  } else if (typeof value === "bigint") {
    big = signed ? BigInt.asIntN(64, value) : BigInt.asUintN(64, value);
  } else {
    return undefined;
  }
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** Timestamps and counters that must be plain numbers (ms since epoch, seq, bdSeq). */
export function safeNumber(value: unknown): number | undefined {
  const n = int64(value, false);
  return typeof n === "number" ? n : undefined;
}

export function normalizeValue(type: string, value: unknown): MetricValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "Int8":
      return ((Number(value) << 24) >> 24) as number;
    case "Int16":
      return ((Number(value) << 16) >> 16) as number;
    case "Int32":
      return Number(value) | 0;
    case "UInt8":
      return Number(value) & 0xff;
    case "UInt16":
      return Number(value) & 0xffff;
    case "UInt32":
      return isLong(value) ? Number(int64(value, false)) >>> 0 : Number(value) >>> 0;
    case "Int64":
      return int64(value, true) ?? null;
    case "UInt64":
    case "DateTime":
      return int64(value, false) ?? null;
    default:
      return value as MetricValue;
  }
}

function normalizeMetric(m: UMetric): SparkplugMetric {
  const out: SparkplugMetric = { type: m.type, value: normalizeValue(m.type, m.value) };
  if (typeof m.name === "string") out.name = m.name;
  const alias = safeNumber(m.alias);
  if (alias !== undefined) out.alias = alias;
  const timestamp = safeNumber(m.timestamp);
  if (timestamp !== undefined) out.timestamp = timestamp;
  if (m.isHistorical) out.isHistorical = true;
  if (m.isTransient) out.isTransient = true;
  return out;
}

export function decodeSparkplug(bytes: Uint8Array): SparkplugPayload {
  let raw: UPayload;
  try {
    raw = codec.decodePayload(bytes);
  } catch (err) {
    throw new SparkplugDecodeError(`not a Sparkplug B payload: ${(err as Error).message}`);
  }
  const out: SparkplugPayload = { metrics: (raw.metrics ?? []).map(normalizeMetric) };
  const timestamp = safeNumber(raw.timestamp);
  if (timestamp !== undefined) out.timestamp = timestamp;
  const seq = safeNumber(raw.seq);
  if (seq !== undefined) out.seq = seq;
  return out;
}

export interface EncodableMetric {
  name?: string;
  alias?: number;
  type: string;
  value: unknown;
  timestamp?: number;
}

/** Encodes as the spec wants: signed small ints as their unsigned two's complement. */
export function encodeSparkplug(payload: { timestamp: number; seq?: number; metrics: EncodableMetric[] }): Uint8Array {
  const metrics = payload.metrics.map((m) => {
    let value = m.value;
    if (typeof value === "number") {
      if (m.type === "Int8") value = value & 0xff;
      else if (m.type === "Int16") value = value & 0xffff;
      else if (m.type === "Int32") value = value >>> 0;
    }
    return { ...m, value } as UMetric;
  });
  const encodable: UPayload = { timestamp: payload.timestamp, metrics };
  if (payload.seq !== undefined) encodable.seq = payload.seq;
  return codec.encodePayload(encodable);
}

/** The raw package codec, for tests that encode the way other publishers do. */
export const rawCodec = codec;
