// OPC UA values both ways, for the OPC UA source (a node's value as the rules
// want it) and the OPC UA floor writer (a queue field as a node's type takes
// it). node-opcua hands 64-bit integers over as two unsigned 32-bit words
// [high, low] — for Int64 too, the sign is the type's to apply — so both
// directions go through BigInt here rather than through a double.

import { DataType, type Variant, VariantArrayType } from "node-opcua";
import { UTF8_VALUE } from "../../core/bytes-text.ts";

/**
 * A node's value as the rules want it, JSON-faithful for every built-in type:
 * numbers (64-bit integers beyond 2^53 as bigint), text, booleans, dates. A
 * ByteString (a PLC's char array behind some gateways) is text when it is
 * UTF-8, without the NULs that pad it. LocalizedText is its text; NodeId,
 * ExpandedNodeId, Guid and XmlElement their text form; a QualifiedName
 * `ns:name` (its name alone in namespace 0); a StatusCode its name
 * (`BadOutOfRange`); a structure (ExtensionObject) a plain object of its
 * fields; a nested Variant its own value. Arrays are plain arrays of such
 * values (never typed arrays, which JSON writes as objects), and a matrix
 * nested arrays by its dimensions, row-major as OPC UA encodes it.
 */
export function plainValue(variant: Variant): unknown {
  const value: unknown = variant.value;
  if (variant.arrayType === VariantArrayType.Scalar) return scalarValue(variant.dataType, value);
  if (value === null || value === undefined) return [];
  const items = Array.from(value as ArrayLike<unknown>, (item) => scalarValue(variant.dataType, item));
  const dimensions = variant.dimensions;
  if (variant.arrayType === VariantArrayType.Matrix && dimensions && dimensions.length > 1) {
    return shaped(items, dimensions);
  }
  return items;
}

/** A flat row-major list as nested lists of `dimensions`; a list shorter than they say is cut where it ends. */
function shaped(items: unknown[], dimensions: readonly number[]): unknown[] {
  const [first = 0, ...rest] = dimensions;
  if (rest.length === 0) return items.slice(0, first);
  const size = rest.reduce((product, d) => product * d, 1);
  return Array.from({ length: first }, (_, i) => shaped(items.slice(i * size, (i + 1) * size), rest));
}

function scalarValue(type: DataType, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  switch (type) {
    case DataType.Int64:
    case DataType.UInt64: {
      if (!Array.isArray(value) || value.length !== 2) return value;
      const [high, low] = value as [number, number];
      const bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
      return safeNumber(type === DataType.Int64 ? BigInt.asIntN(64, bits) : bits);
    }
    case DataType.ByteString:
      return Buffer.isBuffer(value) ? (byteStringText(value) ?? value) : value;
    case DataType.LocalizedText:
      return typeof value === "object" && "text" in value ? ((value as { text: string | null }).text ?? "") : value;
    case DataType.QualifiedName: {
      const { namespaceIndex, name } = value as { namespaceIndex?: number; name?: string | null };
      return namespaceIndex ? `${namespaceIndex}:${name ?? ""}` : (name ?? "");
    }
    case DataType.NodeId:
    case DataType.ExpandedNodeId:
    case DataType.Guid:
    case DataType.XmlElement:
      return String(value);
    case DataType.StatusCode: {
      const { name, value: code } = value as { name?: string; value?: number };
      return name ?? `0x${((code ?? 0) >>> 0).toString(16).padStart(8, "0")}`;
    }
    case DataType.Variant:
      return value instanceof Object && "arrayType" in value ? plainValue(value as Variant) : value;
    case DataType.DataValue: {
      const inner = (value as { value?: Variant }).value;
      return inner ? plainValue(inner) : null;
    }
    case DataType.ExtensionObject:
    case DataType.DiagnosticInfo:
      return plainObject(value, 0);
    default:
      // Float32Array and the like hand over numbers already; Float stays its double.
      return value;
  }
}

/**
 * A structure as plain JSON-able data: node-opcua's classes through their
 * `toJSON`, typed arrays as arrays, Dates and scalars as they are.
 */
function plainObject(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object" || value instanceof Date || Buffer.isBuffer(value)) return value;
  if (depth > 16) return null;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map((item) => plainObject(item, depth + 1));
  const own = value as { toJSON?: () => unknown };
  const data =
    typeof own.toJSON === "function" && Object.getPrototypeOf(value) !== Object.prototype ? own.toJSON() : value;
  if (typeof data !== "object" || data === null) return data;
  if (data !== value) return plainObject(data, depth + 1);
  return Object.fromEntries(Object.entries(data).map(([key, item]) => [key, plainObject(item, depth + 1)]));
}

function safeNumber(big: bigint): number | bigint {
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
}

function byteStringText(bytes: Buffer): string | undefined {
  try {
    return UTF8_VALUE.decode(bytes).replace(/\0+$/, "");
  } catch {
    return undefined;
  }
}

/** OPC UA's "no date" (DateTime 0). */
export const NO_DATE = new Date(Date.UTC(1601, 0, 1));

const INTEGER_RANGES: Partial<Record<DataType, [bigint, bigint]>> = {
  [DataType.SByte]: [-128n, 127n],
  [DataType.Byte]: [0n, 255n],
  [DataType.Int16]: [-32768n, 32767n],
  [DataType.UInt16]: [0n, 65535n],
  [DataType.Int32]: [-2147483648n, 2147483647n],
  [DataType.UInt32]: [0n, 4294967295n],
  [DataType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [DataType.UInt64]: [0n, 2n ** 64n - 1n],
};

/** What a write sends (`value`, as node-opcua's Variant takes it) and what reading it back must give (`plain`). */
export type NodeValue = { value: unknown; plain: unknown } | { refused: string };

/**
 * A queue field (text, number, ISO date, "" for an empty slot) as a node of
 * `type` takes it — or why it cannot: an order ref that is not a number for
 * an Int32 node, a quantity with decimals for an integer node, a number out
 * of the type's range, a type the writer does not write. Nothing is
 * truncated or defaulted behind the planner's back.
 */
export function nodeValue(value: unknown, type: DataType): NodeValue {
  const name = DataType[type] ?? `DataType ${type}`;
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  const range = INTEGER_RANGES[type];
  if (range) {
    const big = integerOf(value);
    if (big === undefined) return { refused: `${shown} is not an integer, and the node is ${name}` };
    if (big < range[0] || big > range[1]) return { refused: `${shown} is out of the range of ${name}` };
    if (type === DataType.Int64 || type === DataType.UInt64) {
      const bits = BigInt.asUintN(64, big);
      return { value: [Number(bits >> 32n), Number(bits & 0xffffffffn)], plain: safeNumber(big) };
    }
    return { value: Number(big), plain: Number(big) };
  }
  switch (type) {
    case DataType.Float:
    case DataType.Double: {
      const number = value === "" ? 0 : typeof value === "number" ? value : Number(value);
      if (typeof value === "boolean" || !Number.isFinite(number)) {
        return { refused: `${shown} is not a number, and the node is ${name}` };
      }
      const stored = type === DataType.Float ? Math.fround(number) : number;
      return { value: stored, plain: stored };
    }
    case DataType.Boolean:
      if (typeof value === "boolean") return { value, plain: value };
      if (value === 0 || value === 1) return { value: value === 1, plain: value === 1 };
      return { refused: `${shown} is not a boolean (true, false, 0 or 1), and the node is Boolean` };
    case DataType.DateTime: {
      if (value === "" || value === null || value === undefined) return { value: NO_DATE, plain: NO_DATE };
      const date = new Date(String(value));
      if (typeof value !== "string" || Number.isNaN(date.getTime())) {
        return { refused: `${shown} is not a date, and the node is DateTime` };
      }
      return { value: date, plain: date };
    }
    case DataType.String:
    case DataType.LocalizedText: {
      const text = typeof value === "string" ? value : String(value);
      return { value: type === DataType.String ? text : { text }, plain: text };
    }
    case DataType.ByteString: {
      const text = typeof value === "string" ? value : String(value);
      return { value: Buffer.from(text, "utf8"), plain: text };
    }
    case DataType.Null:
      return { refused: "the node has no value and a data type that is not built in (an enumeration, a structure)" };
    default:
      return { refused: `the node is ${name}, which the floor writer does not write` };
  }
}

function integerOf(value: unknown): bigint | undefined {
  if (value === "") return 0n;
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value === "bigint") return value;
  if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return BigInt(value.trim());
  return undefined;
}

/** Did reading back give what was written? Floats within their precision; dates to the millisecond. */
export function sameValue(want: unknown, got: unknown): boolean {
  if (want instanceof Date) {
    const gotTime = got instanceof Date ? got.getTime() : Number.NaN;
    return (
      gotTime === want.getTime() ||
      (want.getTime() <= NO_DATE.getTime() && (got === null || gotTime <= NO_DATE.getTime()))
    );
  }
  if (typeof want === "number" && typeof got === "number") {
    return got === want || Math.abs(got - want) <= Math.abs(want) * 1e-6;
  }
  return want === got;
}
