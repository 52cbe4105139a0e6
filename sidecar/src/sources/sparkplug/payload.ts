// Sparkplug B 3.0 payloads, decoded and encoded here from the specification's
// `sparkplug_b.proto` and datatype table, every datatype of it. The decoder
// works metric by metric: a metric it cannot decode (unknown datatype, value
// out of its datatype's range, a broken array, invalid UTF-8, …) becomes a
// problem with its reason and its bytes, and every other metric of the
// payload is still used. A payload whose framing breaks keeps the metrics
// read before the break.
//
// Values per datatype (`MetricValue`):
// - Int8…Int32, UInt8…UInt32, Float, Double: number. Signed small ints are
//   accepted both the spec way (Int8 −1 as 255) and sign-extended (Tahu Java
//   sends it as 4294967295); anything else out of range is a problem.
// - Int64, UInt64: number when exact, bigint beyond 2^53.
// - DateTime: Date (ms since epoch). Boolean: boolean. String, Text, UUID: string.
// - Bytes: Uint8Array. File: { fileName, fileType?, bytes }.
// - DataSet: { columns, types, rows } with typed cells (null for an empty cell).
// - Template: { isDefinition, templateRef?, version?, parameters, metrics } (members decoded like metrics).
// - Arrays (Int8Array…DateTimeArray): arrays of the element values, from the
//   packed little-endian bytes the spec defines (BooleanArray: a UInt32 count,
//   then bits, most significant first; StringArray: NUL-terminated UTF-8).
// - `is_null`: null.
import { WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT, WireError, WireReader, WireWriter } from "./wire.ts";

export const DATATYPES = [
  "Unknown",
  "Int8",
  "Int16",
  "Int32",
  "Int64",
  "UInt8",
  "UInt16",
  "UInt32",
  "UInt64",
  "Float",
  "Double",
  "Boolean",
  "String",
  "DateTime",
  "Text",
  "UUID",
  "DataSet",
  "Bytes",
  "File",
  "Template",
  "PropertySet",
  "PropertySetList",
  "Int8Array",
  "Int16Array",
  "Int32Array",
  "Int64Array",
  "UInt8Array",
  "UInt16Array",
  "UInt32Array",
  "UInt64Array",
  "FloatArray",
  "DoubleArray",
  "BooleanArray",
  "StringArray",
  "DateTimeArray",
] as const;

export type DataTypeName = (typeof DATATYPES)[number];
const DATATYPE_CODES = new Map<string, number>(DATATYPES.map((name, code) => [name, code]));

export function datatypeCode(name: string): number | undefined {
  return DATATYPE_CODES.get(name);
}

export interface SparkplugFile {
  fileName: string;
  fileType?: string;
  bytes: Uint8Array;
}

export interface SparkplugDataSet {
  columns: string[];
  types: DataTypeName[];
  rows: ScalarValue[][];
}

export interface SparkplugTemplate {
  isDefinition: boolean;
  templateRef?: string;
  version?: string;
  parameters: { name: string; type: DataTypeName; value: ScalarValue }[];
  metrics: SparkplugMetric[];
}

export type ScalarValue = number | bigint | boolean | string | Date | null;

export type MetricValue =
  | ScalarValue
  | Uint8Array
  | SparkplugFile
  | SparkplugDataSet
  | SparkplugTemplate
  | (number | bigint | boolean | string | Date)[];

export interface PropertyValue {
  type: DataTypeName;
  value: ScalarValue | PropertySet | PropertySet[];
}
export type PropertySet = Record<string, PropertyValue>;

export interface MetricMetadata {
  isMultiPart?: boolean;
  contentType?: string;
  size?: number | bigint;
  seq?: number | bigint;
  fileName?: string;
  fileType?: string;
  md5?: string;
  description?: string;
}

export interface SparkplugMetric {
  name?: string;
  alias?: number;
  type: DataTypeName;
  value: MetricValue;
  /** ms since epoch */
  timestamp?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  properties?: PropertySet;
  metadata?: MetricMetadata;
}

/** One metric the decoder could not read, with why and its bytes (the protobuf Metric message). */
export interface MetricProblem {
  /** Position among the payload's metrics (template members: the instance's position). */
  index: number;
  /** The metric's name (template members: `Instance/Member`), when it could be read. */
  name?: string;
  alias?: number;
  reason: string;
  bytes: Uint8Array;
}

export interface SparkplugPayload {
  timestamp?: number;
  seq?: number;
  uuid?: string;
  body?: Uint8Array;
  metrics: SparkplugMetric[];
  /** Metrics that did not decode; the others are in `metrics`. */
  problems: MetricProblem[];
  /** The payload's framing broke here: what follows was not read. */
  broken?: { reason: string; offset: number; bytes: Uint8Array };
}

/** Datatype of a metric its message leaves out (DATA after BIRTH): from the BIRTH, by name or alias. */
export type DatatypeLookup = (name: string | undefined, alias: number | undefined) => number | undefined;

export class SparkplugDecodeError extends Error {
  override name = "SparkplugDecodeError";
}

export class SparkplugEncodeError extends Error {
  override name = "SparkplugEncodeError";
}

class MetricError extends Error {}

type ValueKind = "int" | "long" | "float" | "double" | "bool" | "string" | "bytes" | "message" | "extension";

interface RawValue {
  kind: ValueKind;
  /** Field number, for messages (DataSet 17, Template 18 in a Metric; PropertySet 9, list 10 in a PropertyValue). */
  field: number;
  lo: number;
  hi: number;
  num: number;
  text: string;
  bytes: Uint8Array;
}

const METRIC_VALUES: Record<number, ValueKind> = {
  10: "int",
  11: "long",
  12: "float",
  13: "double",
  14: "bool",
  15: "string",
  16: "bytes",
  17: "message",
  18: "message",
  19: "extension",
};
const PROPERTY_VALUES: Record<number, ValueKind> = {
  3: "int",
  4: "long",
  5: "float",
  6: "double",
  7: "bool",
  8: "string",
  9: "message",
  10: "message",
  11: "extension",
};
const PARAMETER_VALUES: Record<number, ValueKind> = {
  3: "int",
  4: "long",
  5: "float",
  6: "double",
  7: "bool",
  8: "string",
  9: "extension",
};
const CELL_VALUES: Record<number, ValueKind> = {
  1: "int",
  2: "long",
  3: "float",
  4: "double",
  5: "bool",
  6: "string",
  7: "extension",
};

const WIRE_OF: Record<ValueKind, number> = {
  int: WIRE_VARINT,
  long: WIRE_VARINT,
  bool: WIRE_VARINT,
  float: WIRE_FIXED32,
  double: WIRE_FIXED64,
  string: WIRE_BYTES,
  bytes: WIRE_BYTES,
  message: WIRE_BYTES,
  extension: WIRE_BYTES,
};

function readValue(reader: WireReader, kind: ValueKind, field: number, wireType: number): RawValue {
  reader.expect(WIRE_OF[kind], wireType, `value field ${field}`);
  const raw: RawValue = { kind, field, lo: 0, hi: 0, num: 0, text: "", bytes: EMPTY };
  if (wireType === WIRE_VARINT) {
    reader.varint();
    raw.lo = reader.lo;
    raw.hi = reader.hi;
  } else if (kind === "float") raw.num = reader.float();
  else if (kind === "double") raw.num = reader.double();
  else if (kind === "string") raw.text = reader.string();
  else raw.bytes = reader.bytesField();
  return raw;
}

const EMPTY = new Uint8Array(0);
const MAX_DATE_MS = 8.64e15;

function typeName(code: number): DataTypeName {
  const name = DATATYPES[code];
  if (name === undefined || code === 0) throw new MetricError(`unknown datatype ${code}`);
  return name;
}

function wrongKind(type: string, raw: RawValue): MetricError {
  return new MetricError(`datatype ${type} cannot carry a ${raw.kind} value (field ${raw.field})`);
}

function signedSmall(type: string, raw: RawValue, bits: number): number {
  if (raw.kind !== "int" && raw.kind !== "long") throw wrongKind(type, raw);
  const { lo, hi } = raw;
  const limit = 2 ** bits;
  const half = limit / 2;
  // The spec's form (Int8 −1 as 255), or the two's complement in 32 or 64 bits.
  if (hi === 0 && lo < limit) return lo >= half ? lo - limit : lo;
  if ((hi === 0 || hi === 0xffffffff) && lo >= 2 ** 32 - half) return lo | 0;
  if (bits === 32 && hi === 0xffffffff && lo >= 0x80000000) return lo | 0;
  throw new MetricError(`${type} value ${String((BigInt(hi) << 32n) | BigInt(lo))} is out of range`);
}

function unsignedSmall(type: string, raw: RawValue, bits: number): number {
  if (raw.kind !== "int" && raw.kind !== "long") throw wrongKind(type, raw);
  if (raw.hi !== 0 || raw.lo >= 2 ** bits) {
    throw new MetricError(`${type} value ${String((BigInt(raw.hi) << 32n) | BigInt(raw.lo))} is out of range`);
  }
  return raw.lo;
}

function long(raw: RawValue, signed: boolean, type: string): number | bigint {
  if (raw.kind !== "int" && raw.kind !== "long") throw wrongKind(type, raw);
  const big = (BigInt(raw.hi) << 32n) | BigInt(raw.lo);
  const value = signed ? BigInt.asIntN(64, big) : big;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function dateOf(ms: number | bigint, type: string): Date {
  if (typeof ms === "bigint" || Math.abs(ms) > MAX_DATE_MS) {
    throw new MetricError(`${type} ${String(ms)} ms is outside the range of dates`);
  }
  return new Date(ms);
}

/** A scalar (Int8…Text, UUID) from its protobuf field. */
function scalar(code: number, raw: RawValue): ScalarValue {
  const type = typeName(code);
  switch (type) {
    case "Int8":
      return signedSmall(type, raw, 8);
    case "Int16":
      return signedSmall(type, raw, 16);
    case "Int32":
      return signedSmall(type, raw, 32);
    case "UInt8":
      return unsignedSmall(type, raw, 8);
    case "UInt16":
      return unsignedSmall(type, raw, 16);
    case "UInt32":
      return unsignedSmall(type, raw, 32);
    case "Int64":
      return long(raw, true, type);
    case "UInt64":
      return long(raw, false, type);
    case "DateTime":
      return dateOf(long(raw, true, type), type);
    case "Float":
      if (raw.kind !== "float") throw wrongKind(type, raw);
      return raw.num;
    case "Double":
      if (raw.kind !== "double") throw wrongKind(type, raw);
      return raw.num;
    case "Boolean":
      if (raw.kind !== "bool") throw wrongKind(type, raw);
      return raw.lo !== 0 || raw.hi !== 0;
    case "String":
    case "Text":
    case "UUID":
      if (raw.kind !== "string") throw wrongKind(type, raw);
      return raw.text;
    default:
      throw new MetricError(`datatype ${type} is not a scalar here`);
  }
}

const ARRAY_WIDTH: Record<string, number> = {
  Int8Array: 1,
  Int16Array: 2,
  Int32Array: 4,
  Int64Array: 8,
  UInt8Array: 1,
  UInt16Array: 2,
  UInt32Array: 4,
  UInt64Array: 8,
  FloatArray: 4,
  DoubleArray: 8,
  DateTimeArray: 8,
};

function exact(big: bigint): number | bigint {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeArray(type: DataTypeName, bytes: Uint8Array): (number | bigint | boolean | string | Date)[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === "BooleanArray") {
    if (bytes.length < 4) throw new MetricError(`BooleanArray of ${bytes.length} bytes has no count`);
    const count = view.getUint32(0, true);
    if (bytes.length - 4 < Math.ceil(count / 8)) {
      throw new MetricError(`BooleanArray says ${count} values but carries ${bytes.length - 4} bytes of bits`);
    }
    const out: boolean[] = [];
    for (let i = 0; i < count; i++) out.push(((bytes[4 + (i >> 3)] as number) & (0x80 >> (i & 7))) !== 0);
    return out;
  }
  if (type === "StringArray") {
    if (bytes.length === 0) return [];
    if (bytes[bytes.length - 1] !== 0) throw new MetricError("StringArray does not end with a NUL");
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0) continue;
      try {
        out.push(utf8.decode(bytes.subarray(start, i)));
      } catch {
        throw new MetricError(`StringArray element ${out.length} is not valid UTF-8`);
      }
      start = i + 1;
    }
    return out;
  }
  const width = ARRAY_WIDTH[type] as number;
  if (bytes.length % width !== 0) {
    throw new MetricError(`${type} of ${bytes.length} bytes is not a whole number of ${width}-byte values`);
  }
  const out: (number | bigint | Date)[] = [];
  for (let at = 0; at < bytes.length; at += width) {
    switch (type) {
      case "Int8Array":
        out.push(view.getInt8(at));
        break;
      case "Int16Array":
        out.push(view.getInt16(at, true));
        break;
      case "Int32Array":
        out.push(view.getInt32(at, true));
        break;
      case "Int64Array":
        out.push(exact(view.getBigInt64(at, true)));
        break;
      case "UInt8Array":
        out.push(view.getUint8(at));
        break;
      case "UInt16Array":
        out.push(view.getUint16(at, true));
        break;
      case "UInt32Array":
        out.push(view.getUint32(at, true));
        break;
      case "UInt64Array":
        out.push(exact(view.getBigUint64(at, true)));
        break;
      case "FloatArray":
        out.push(view.getFloat32(at, true));
        break;
      case "DoubleArray":
        out.push(view.getFloat64(at, true));
        break;
      case "DateTimeArray":
        out.push(dateOf(exact(view.getBigInt64(at, true)), type));
        break;
    }
  }
  return out;
}

function decodeDataSet(bytes: Uint8Array): SparkplugDataSet {
  const reader = new WireReader(bytes);
  let declared: number | bigint | undefined;
  const columns: string[] = [];
  const typeCodes: number[] = [];
  const rowBytes: Uint8Array[] = [];
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WIRE_VARINT) {
      reader.varint();
      declared = reader.uint64();
    } else if (field === 2 && wireType === WIRE_BYTES) columns.push(reader.string());
    else if (field === 3 && wireType === WIRE_VARINT) {
      reader.varint();
      typeCodes.push(reader.lo);
    } else if (field === 3 && wireType === WIRE_BYTES) {
      // packed
      const packed = new WireReader(reader.bytesField());
      while (!packed.done) {
        packed.varint();
        typeCodes.push(packed.lo);
      }
    } else if (field === 4 && wireType === WIRE_BYTES) rowBytes.push(reader.bytesField());
    else reader.skip(wireType);
  }
  const width = declared === undefined ? columns.length : Number(declared);
  if (columns.length !== width || typeCodes.length !== width) {
    throw new MetricError(
      `DataSet declares ${String(declared)} columns but names ${columns.length} and types ${typeCodes.length}`,
    );
  }
  const types = typeCodes.map((code) => {
    if (code < 1 || code > 14) throw new MetricError(`DataSet column type ${code} is not a DataSet datatype`);
    return typeName(code);
  });
  const rows = rowBytes.map((row, rowIndex) => {
    const cells: ScalarValue[] = [];
    const rowReader = new WireReader(row);
    while (!rowReader.done) {
      const { field, wireType } = rowReader.tag();
      if (field !== 1) {
        rowReader.skip(wireType);
        continue;
      }
      rowReader.expect(WIRE_BYTES, wireType, "DataSet element");
      const cellReader = new WireReader(rowReader.bytesField());
      let raw: RawValue | undefined;
      while (!cellReader.done) {
        const tag = cellReader.tag();
        const kind = CELL_VALUES[tag.field];
        if (kind) raw = readValue(cellReader, kind, tag.field, tag.wireType);
        else cellReader.skip(tag.wireType);
      }
      const column = cells.length;
      if (column >= width) throw new MetricError(`DataSet row ${rowIndex} has more than ${width} cells`);
      try {
        cells.push(raw === undefined ? null : scalar(typeCodes[column] as number, raw));
      } catch (err) {
        throw new MetricError(`DataSet row ${rowIndex}, column ${columns[column]}: ${(err as Error).message}`);
      }
    }
    if (cells.length !== width) throw new MetricError(`DataSet row ${rowIndex} has ${cells.length} of ${width} cells`);
    return cells;
  });
  return { columns, types, rows };
}

function decodePropertySet(bytes: Uint8Array): PropertySet {
  const reader = new WireReader(bytes);
  const keys: string[] = [];
  const values: PropertyValue[] = [];
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WIRE_BYTES) keys.push(reader.string());
    else if (field === 2 && wireType === WIRE_BYTES) values.push(decodePropertyValue(reader.bytesField()));
    else reader.skip(wireType);
  }
  if (keys.length !== values.length) {
    throw new MetricError(`PropertySet has ${keys.length} keys for ${values.length} values`);
  }
  const out: PropertySet = {};
  keys.forEach((key, i) => {
    // An own property whatever the key: a key "__proto__" must not become the object's prototype.
    Object.defineProperty(out, key, { value: values[i], enumerable: true, writable: true, configurable: true });
  });
  return out;
}

function decodePropertyValue(bytes: Uint8Array): PropertyValue {
  const reader = new WireReader(bytes);
  let code: number | undefined;
  let isNull = false;
  let raw: RawValue | undefined;
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WIRE_VARINT) {
      reader.varint();
      code = reader.lo;
    } else if (field === 2 && wireType === WIRE_VARINT) {
      reader.varint();
      isNull = reader.lo !== 0;
    } else {
      const kind = PROPERTY_VALUES[field];
      if (kind) raw = readValue(reader, kind, field, wireType);
      else reader.skip(wireType);
    }
  }
  if (code === undefined) throw new MetricError("property value without a type");
  const type = typeName(code);
  if (isNull || raw === undefined) {
    if (!isNull) throw new MetricError(`property of type ${type} has no value and is not null`);
    return { type, value: null };
  }
  if (type === "PropertySet") {
    if (raw.kind !== "message" || raw.field !== 9) throw wrongKind(type, raw);
    return { type, value: decodePropertySet(raw.bytes) };
  }
  if (type === "PropertySetList") {
    if (raw.kind !== "message" || raw.field !== 10) throw wrongKind(type, raw);
    const list: PropertySet[] = [];
    const listReader = new WireReader(raw.bytes);
    while (!listReader.done) {
      const tag = listReader.tag();
      if (tag.field === 1 && tag.wireType === WIRE_BYTES) list.push(decodePropertySet(listReader.bytesField()));
      else listReader.skip(tag.wireType);
    }
    return { type, value: list };
  }
  return { type, value: scalar(code, raw) };
}

function decodeMetadata(bytes: Uint8Array): MetricMetadata {
  const reader = new WireReader(bytes);
  const out: MetricMetadata = {};
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (wireType === WIRE_VARINT && (field === 1 || field === 3 || field === 4)) {
      reader.varint();
      if (field === 1) out.isMultiPart = reader.lo !== 0;
      else if (field === 3) out.size = reader.uint64();
      else out.seq = reader.uint64();
    } else if (wireType === WIRE_BYTES && field >= 2 && field <= 8 && field !== 3 && field !== 4) {
      const text = reader.string();
      if (field === 2) out.contentType = text;
      else if (field === 5) out.fileName = text;
      else if (field === 6) out.fileType = text;
      else if (field === 7) out.md5 = text;
      else out.description = text;
    } else reader.skip(wireType);
  }
  return out;
}

interface MetricContext {
  lookup: DatatypeLookup | undefined;
  problems: MetricProblem[];
  index: number;
  /** Name prefix of template members (`Instance/`). */
  prefix: string;
}

function decodeTemplate(bytes: Uint8Array, ctx: MetricContext): SparkplugTemplate {
  const reader = new WireReader(bytes);
  const out: SparkplugTemplate = { isDefinition: false, parameters: [], metrics: [] };
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WIRE_BYTES) out.version = reader.string();
    else if (field === 2 && wireType === WIRE_BYTES) {
      const member = decodeMetricOrProblem(reader.bytesField(), { ...ctx, lookup: undefined });
      if (member) out.metrics.push(member);
    } else if (field === 3 && wireType === WIRE_BYTES) out.parameters.push(decodeParameter(reader.bytesField()));
    else if (field === 4 && wireType === WIRE_BYTES) out.templateRef = reader.string();
    else if (field === 5 && wireType === WIRE_VARINT) {
      reader.varint();
      out.isDefinition = reader.lo !== 0;
    } else reader.skip(wireType);
  }
  return out;
}

function decodeParameter(bytes: Uint8Array): SparkplugTemplate["parameters"][number] {
  const reader = new WireReader(bytes);
  let name = "";
  let code: number | undefined;
  let raw: RawValue | undefined;
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WIRE_BYTES) name = reader.string();
    else if (field === 2 && wireType === WIRE_VARINT) {
      reader.varint();
      code = reader.lo;
    } else {
      const kind = PARAMETER_VALUES[field];
      if (kind) raw = readValue(reader, kind, field, wireType);
      else reader.skip(wireType);
    }
  }
  if (code === undefined) throw new MetricError(`template parameter ${name} has no type`);
  try {
    return { name, type: typeName(code), value: raw === undefined ? null : scalar(code, raw) };
  } catch (err) {
    throw new MetricError(`template parameter ${name}: ${(err as Error).message}`);
  }
}

interface MetricFields {
  name?: string;
  alias?: number;
  timestamp?: number;
  code?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  metadata?: Uint8Array;
  properties?: Uint8Array;
  raw?: RawValue;
}

function readMetricFields(bytes: Uint8Array, into: MetricFields): void {
  const reader = new WireReader(bytes);
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    switch (field) {
      case 1:
        reader.expect(WIRE_BYTES, wireType, "name");
        into.name = reader.string();
        break;
      case 2:
      case 3: {
        reader.expect(WIRE_VARINT, wireType, field === 2 ? "alias" : "timestamp");
        reader.varint();
        const value = reader.uint64();
        if (typeof value !== "number")
          throw new MetricError(`${field === 2 ? "alias" : "timestamp"} ${value} too large`);
        if (field === 2) into.alias = value;
        else into.timestamp = value;
        break;
      }
      case 4:
        reader.expect(WIRE_VARINT, wireType, "datatype");
        reader.varint();
        into.code = reader.hi === 0 ? reader.lo : -1;
        break;
      case 5:
      case 6:
      case 7:
        reader.expect(WIRE_VARINT, wireType, "flag");
        reader.varint();
        if (field === 5) into.isHistorical = reader.lo !== 0;
        else if (field === 6) into.isTransient = reader.lo !== 0;
        else into.isNull = reader.lo !== 0;
        break;
      case 8:
        reader.expect(WIRE_BYTES, wireType, "metadata");
        into.metadata = reader.bytesField();
        break;
      case 9:
        reader.expect(WIRE_BYTES, wireType, "properties");
        into.properties = reader.bytesField();
        break;
      default: {
        const kind = METRIC_VALUES[field];
        if (kind) into.raw = readValue(reader, kind, field, wireType);
        else reader.skip(wireType);
      }
    }
  }
}

function metricValue(
  type: DataTypeName,
  code: number,
  raw: RawValue | undefined,
  fields: MetricFields,
  ctx: MetricContext,
): MetricValue {
  if (raw === undefined) throw new MetricError(`${type} metric has no value and is not marked is_null`);
  if (raw.kind === "extension") throw new MetricError(`${type} metric carries only an extension value`);
  switch (type) {
    case "Bytes":
      if (raw.kind !== "bytes") throw wrongKind(type, raw);
      return raw.bytes.slice();
    case "File": {
      if (raw.kind !== "bytes") throw wrongKind(type, raw);
      const meta = fields.metadata ? decodeMetadata(fields.metadata) : {};
      const file: SparkplugFile = { fileName: meta.fileName ?? "", bytes: raw.bytes.slice() };
      if (meta.fileType !== undefined) file.fileType = meta.fileType;
      return file;
    }
    case "DataSet":
      if (raw.kind !== "message" || raw.field !== 17) throw wrongKind(type, raw);
      return decodeDataSet(raw.bytes);
    case "Template":
      if (raw.kind !== "message" || raw.field !== 18) throw wrongKind(type, raw);
      return decodeTemplate(raw.bytes, { ...ctx, prefix: `${ctx.prefix}${fields.name ?? `#${fields.alias}`}/` });
    case "PropertySet":
    case "PropertySetList":
      throw new MetricError(`datatype ${type} is for properties, not metric values`);
    default:
      if (type.endsWith("Array")) {
        if (raw.kind !== "bytes") throw wrongKind(type, raw);
        return decodeArray(type, raw.bytes);
      }
      return scalar(code, raw);
  }
}

function decodeMetric(bytes: Uint8Array, ctx: MetricContext, fields: MetricFields): SparkplugMetric {
  readMetricFields(bytes, fields);
  const code = fields.code ?? ctx.lookup?.(fields.name, fields.alias);
  if (code === undefined) throw new MetricError("no datatype (neither in the metric nor in its BIRTH)");
  const type = typeName(code);
  const metric: SparkplugMetric = {
    type,
    value: fields.isNull ? null : metricValue(type, code, fields.raw, fields, ctx),
  };
  if (fields.name !== undefined) metric.name = fields.name;
  if (fields.alias !== undefined) metric.alias = fields.alias;
  if (fields.timestamp !== undefined) metric.timestamp = fields.timestamp;
  if (fields.isHistorical) metric.isHistorical = true;
  if (fields.isTransient) metric.isTransient = true;
  if (fields.isNull) metric.isNull = true;
  if (fields.properties) metric.properties = decodePropertySet(fields.properties);
  if (fields.metadata) metric.metadata = decodeMetadata(fields.metadata);
  return metric;
}

function decodeMetricOrProblem(bytes: Uint8Array, ctx: MetricContext): SparkplugMetric | undefined {
  const fields: MetricFields = {};
  try {
    return decodeMetric(bytes, ctx, fields);
  } catch (err) {
    // Whatever a metric's bytes make go wrong stays with that metric.
    const reason =
      err instanceof MetricError || err instanceof WireError ? err.message : `decoder error: ${String(err)}`;
    const problem: MetricProblem = { index: ctx.index, reason, bytes: bytes.slice() };
    if (fields.name !== undefined) problem.name = `${ctx.prefix}${fields.name}`;
    if (fields.alias !== undefined) problem.alias = fields.alias;
    ctx.problems.push(problem);
    return undefined;
  }
}

/**
 * Decodes what can be decoded. Never throws: metrics that fail are in
 * `problems`, a broken framing in `broken`.
 */
export function decodePayload(bytes: Uint8Array, lookup?: DatatypeLookup): SparkplugPayload {
  const out: SparkplugPayload = { metrics: [], problems: [] };
  const reader = new WireReader(bytes);
  let index = 0;
  while (!reader.done) {
    const start = reader.pos;
    try {
      const { field, wireType } = reader.tag();
      if (field === 2 && wireType === WIRE_BYTES) {
        const metricBytes = reader.bytesField();
        const metric = decodeMetricOrProblem(metricBytes, { lookup, problems: out.problems, index, prefix: "" });
        if (metric) out.metrics.push(metric);
        index++;
      } else if ((field === 1 || field === 3) && wireType === WIRE_VARINT) {
        reader.varint();
        const value = reader.uint64();
        if (typeof value !== "number") throw new WireError(`${field === 1 ? "timestamp" : "seq"} ${value} too large`);
        if (field === 1) out.timestamp = value;
        else out.seq = value;
      } else if (field === 4 && wireType === WIRE_BYTES) out.uuid = reader.string();
      else if (field === 5 && wireType === WIRE_BYTES) out.body = reader.bytesField().slice();
      else reader.skip(wireType);
    } catch (err) {
      const reason =
        err instanceof WireError || err instanceof MetricError ? err.message : `decoder error: ${String(err)}`;
      out.broken = { reason, offset: start, bytes: bytes.slice(start) };
      break;
    }
  }
  return out;
}

/** All or nothing: throws SparkplugDecodeError unless every metric decodes (for tools and tests). */
export function decodeSparkplug(bytes: Uint8Array, lookup?: DatatypeLookup): SparkplugPayload {
  const payload = decodePayload(bytes, lookup);
  if (payload.broken) throw new SparkplugDecodeError(`not a Sparkplug B payload: ${payload.broken.reason}`);
  const first = payload.problems[0];
  if (first) throw new SparkplugDecodeError(`metric ${first.name ?? `#${first.index}`}: ${first.reason}`);
  return payload;
}

// ---------------------------------------------------------------- encoding

export interface EncodableMetric {
  name?: string;
  alias?: number;
  type: string;
  value: unknown;
  timestamp?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  /** Also implied by a value of null or undefined. */
  isNull?: boolean;
  properties?: Record<string, { type: string; value: unknown }>;
  metadata?: MetricMetadata;
}

export interface EncodableTemplate {
  isDefinition?: boolean;
  templateRef?: string;
  version?: string;
  parameters?: { name: string; type: string; value: unknown }[];
  metrics: EncodableMetric[];
}

export interface EncodableDataSet {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

export interface EncodablePayload {
  timestamp: number;
  seq?: number;
  uuid?: string;
  body?: Uint8Array;
  metrics: EncodableMetric[];
}

function encodeCode(type: string, what: string): number {
  const code = DATATYPE_CODES.get(type);
  if (code === undefined || code === 0) throw new SparkplugEncodeError(`${what}: unknown datatype ${type}`);
  return code;
}

/** An integer as a number while exact (the fast path), else a bigint. */
function integer(value: unknown, what: string): number | bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return Number.isSafeInteger(value) ? value : BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  if (typeof value === "boolean") return value ? 1n : 0n;
  throw new SparkplugEncodeError(`${what}: ${String(value)} is not an integer`);
}

function inRange(value: number | bigint, min: bigint, max: bigint, what: string, type: string): number | bigint {
  if (value < min || value > max) throw new SparkplugEncodeError(`${what}: ${value} is out of range for ${type}`);
  return value;
}

function millis(value: unknown, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number(value);
  if (!Number.isFinite(ms)) throw new SparkplugEncodeError(`${what}: ${String(value)} is not a date`);
  return Math.trunc(ms);
}

/**
 * Writes a scalar into the message's value fields (`fields`: int, long,
 * float, double, bool, string field numbers). Small ints go the spec's way:
 * their unsigned two's complement in `int_value`.
 */
function writeScalar(
  writer: WireWriter,
  code: number,
  value: unknown,
  fields: [number, number, number, number, number, number],
  what: string,
): void {
  const [intField, longField, floatField, doubleField, boolField, stringField] = fields;
  const type = DATATYPES[code] as string;
  switch (type) {
    case "Int8":
      writer.uint(intField, Number(inRange(integer(value, what), -128n, 127n, what, type)) & 0xff);
      return;
    case "Int16":
      writer.uint(intField, Number(inRange(integer(value, what), -32768n, 32767n, what, type)) & 0xffff);
      return;
    case "Int32":
      writer.uint(intField, Number(inRange(integer(value, what), -(2n ** 31n), 2n ** 31n - 1n, what, type)) >>> 0);
      return;
    case "UInt8":
      writer.uint(intField, inRange(integer(value, what), 0n, 255n, what, type));
      return;
    case "UInt16":
      writer.uint(intField, inRange(integer(value, what), 0n, 65535n, what, type));
      return;
    case "UInt32":
      writer.uint(intField, inRange(integer(value, what), 0n, 2n ** 32n - 1n, what, type));
      return;
    case "Int64":
      writer.uint(longField, inRange(integer(value, what), -(2n ** 63n), 2n ** 63n - 1n, what, type));
      return;
    case "UInt64":
      writer.uint(longField, inRange(integer(value, what), 0n, 2n ** 64n - 1n, what, type));
      return;
    case "DateTime":
      writer.uint(longField, millis(value, what));
      return;
    case "Float":
      writer.float(floatField, Number(value));
      return;
    case "Double":
      writer.double(doubleField, Number(value));
      return;
    case "Boolean":
      writer.bool(boolField, value === true || value === 1 || value === "true");
      return;
    case "String":
    case "Text":
    case "UUID":
      writer.string(stringField, String(value));
      return;
    default:
      throw new SparkplugEncodeError(`${what}: ${type} is not a scalar`);
  }
}

function encodeArray(type: string, value: unknown, what: string): Uint8Array {
  if (!Array.isArray(value)) throw new SparkplugEncodeError(`${what}: ${type} needs an array`);
  if (type === "BooleanArray") {
    const bytes = new Uint8Array(4 + Math.ceil(value.length / 8));
    new DataView(bytes.buffer).setUint32(0, value.length, true);
    value.forEach((bit, i) => {
      if (bit === true) bytes[4 + (i >> 3)] = (bytes[4 + (i >> 3)] as number) | (0x80 >> (i & 7));
    });
    return bytes;
  }
  if (type === "StringArray") {
    const parts = value.map((text) => new TextEncoder().encode(String(text)));
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length + 1, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length + 1;
    }
    return bytes;
  }
  const width = ARRAY_WIDTH[type];
  if (width === undefined) throw new SparkplugEncodeError(`${what}: ${type} is not an array type`);
  const bytes = new Uint8Array(value.length * width);
  const view = new DataView(bytes.buffer);
  value.forEach((element, i) => {
    const at = i * width;
    const item = `${what}[${i}]`;
    switch (type) {
      case "Int8Array":
        view.setInt8(at, Number(inRange(integer(element, item), -128n, 127n, item, type)));
        break;
      case "Int16Array":
        view.setInt16(at, Number(inRange(integer(element, item), -32768n, 32767n, item, type)), true);
        break;
      case "Int32Array":
        view.setInt32(at, Number(inRange(integer(element, item), -(2n ** 31n), 2n ** 31n - 1n, item, type)), true);
        break;
      case "Int64Array":
        view.setBigInt64(at, BigInt(inRange(integer(element, item), -(2n ** 63n), 2n ** 63n - 1n, item, type)), true);
        break;
      case "UInt8Array":
        view.setUint8(at, Number(inRange(integer(element, item), 0n, 255n, item, type)));
        break;
      case "UInt16Array":
        view.setUint16(at, Number(inRange(integer(element, item), 0n, 65535n, item, type)), true);
        break;
      case "UInt32Array":
        view.setUint32(at, Number(inRange(integer(element, item), 0n, 2n ** 32n - 1n, item, type)), true);
        break;
      case "UInt64Array":
        view.setBigUint64(at, BigInt(inRange(integer(element, item), 0n, 2n ** 64n - 1n, item, type)), true);
        break;
      case "FloatArray":
        view.setFloat32(at, Number(element), true);
        break;
      case "DoubleArray":
        view.setFloat64(at, Number(element), true);
        break;
      case "DateTimeArray":
        view.setBigInt64(at, BigInt(millis(element, item)), true);
        break;
    }
  });
  return bytes;
}

function writePropertySet(
  writer: WireWriter,
  set: Record<string, { type: string; value: unknown }>,
  what: string,
): void {
  const entries = Object.entries(set);
  for (const [key] of entries) writer.string(1, key);
  for (const [key, property] of entries) {
    writer.message(2, (inner) => writePropertyValue(inner, property, `${what}.${key}`));
  }
}

function writePropertyValue(writer: WireWriter, property: { type: string; value: unknown }, what: string): void {
  const code = encodeCode(property.type, what);
  writer.uint(1, code);
  if (property.value === null || property.value === undefined) {
    writer.bool(2, true);
    return;
  }
  if (property.type === "PropertySet") {
    writer.message(9, (inner) =>
      writePropertySet(inner, property.value as Record<string, { type: string; value: unknown }>, what),
    );
  } else if (property.type === "PropertySetList") {
    writer.message(10, (inner) => {
      for (const set of property.value as Record<string, { type: string; value: unknown }>[]) {
        inner.message(1, (setWriter) => writePropertySet(setWriter, set, what));
      }
    });
  } else writeScalar(writer, code, property.value, [3, 4, 5, 6, 7, 8], what);
}

function writeMetadata(writer: WireWriter, meta: MetricMetadata): void {
  if (meta.isMultiPart !== undefined) writer.bool(1, meta.isMultiPart);
  if (meta.contentType !== undefined) writer.string(2, meta.contentType);
  if (meta.size !== undefined) writer.uint(3, meta.size);
  if (meta.seq !== undefined) writer.uint(4, meta.seq);
  if (meta.fileName !== undefined) writer.string(5, meta.fileName);
  if (meta.fileType !== undefined) writer.string(6, meta.fileType);
  if (meta.md5 !== undefined) writer.string(7, meta.md5);
  if (meta.description !== undefined) writer.string(8, meta.description);
}

function writeDataSet(writer: WireWriter, dataSet: EncodableDataSet, what: string): void {
  const codes = dataSet.types.map((type) => encodeCode(type, what));
  if (codes.length !== dataSet.columns.length) {
    throw new SparkplugEncodeError(`${what}: ${dataSet.columns.length} columns but ${codes.length} types`);
  }
  writer.uint(1, dataSet.columns.length);
  for (const column of dataSet.columns) writer.string(2, column);
  for (const code of codes) writer.uint(3, code);
  dataSet.rows.forEach((row, r) => {
    if (row.length !== codes.length) {
      throw new SparkplugEncodeError(`${what}: row ${r} has ${row.length} of ${codes.length} cells`);
    }
    writer.message(4, (rowWriter) => {
      row.forEach((cell, c) => {
        rowWriter.message(1, (cellWriter) => {
          if (cell !== null && cell !== undefined) {
            writeScalar(cellWriter, codes[c] as number, cell, [1, 2, 3, 4, 5, 6], `${what}[${r}][${c}]`);
          }
        });
      });
    });
  });
}

function writeTemplate(writer: WireWriter, template: EncodableTemplate, what: string): void {
  if (template.version !== undefined) writer.string(1, template.version);
  for (const member of template.metrics) writer.message(2, (inner) => writeMetric(inner, member, what));
  for (const parameter of template.parameters ?? []) {
    writer.message(3, (inner) => {
      inner.string(1, parameter.name);
      const code = encodeCode(parameter.type, `${what} parameter ${parameter.name}`);
      inner.uint(2, code);
      if (parameter.value !== null && parameter.value !== undefined) {
        writeScalar(inner, code, parameter.value, [3, 4, 5, 6, 7, 8], `${what} parameter ${parameter.name}`);
      }
    });
  }
  if (template.templateRef !== undefined) writer.string(4, template.templateRef);
  writer.bool(5, template.isDefinition === true);
}

function writeMetric(writer: WireWriter, metric: EncodableMetric, parent = ""): void {
  const what = `metric ${parent}${metric.name ?? `alias ${metric.alias}`}`;
  const code = encodeCode(metric.type, what);
  if (metric.name !== undefined) writer.string(1, metric.name);
  if (metric.alias !== undefined) writer.uint(2, metric.alias);
  if (metric.timestamp !== undefined) writer.uint(3, metric.timestamp);
  writer.uint(4, code);
  if (metric.isHistorical) writer.bool(5, true);
  if (metric.isTransient) writer.bool(6, true);
  const value = metric.value;
  const isNull = metric.isNull === true || value === null || value === undefined;
  if (isNull) writer.bool(7, true);
  let metadata = metric.metadata;
  if (!isNull && metric.type === "File") {
    const file = value as SparkplugFile;
    metadata = { ...metadata, fileName: file.fileName };
    if (file.fileType !== undefined) metadata.fileType = file.fileType;
  }
  if (metadata) writer.message(8, (inner) => writeMetadata(inner, metadata));
  if (metric.properties) {
    const properties = metric.properties;
    writer.message(9, (inner) => writePropertySet(inner, properties, what));
  }
  if (isNull) return;
  const type = metric.type;
  if (type === "Bytes") {
    if (!(value instanceof Uint8Array)) throw new SparkplugEncodeError(`${what}: Bytes needs a Uint8Array`);
    writer.bytes(16, value);
  } else if (type === "File") writer.bytes(16, (value as SparkplugFile).bytes);
  else if (type === "DataSet") writer.message(17, (inner) => writeDataSet(inner, value as EncodableDataSet, what));
  else if (type === "Template") {
    writer.message(18, (inner) => writeTemplate(inner, value as EncodableTemplate, `${what}/`));
  } else if (type.endsWith("Array")) writer.bytes(16, encodeArray(type, value, what));
  else if (type === "PropertySet" || type === "PropertySetList") {
    throw new SparkplugEncodeError(`${what}: ${type} is for properties, not metric values`);
  } else writeScalar(writer, code, value, [10, 11, 12, 13, 14, 15], what);
}

/** Encodes every datatype of the spec; throws SparkplugEncodeError naming the metric for a value its type cannot carry. */
export function encodeSparkplug(payload: EncodablePayload): Uint8Array {
  const writer = new WireWriter();
  writer.uint(1, payload.timestamp);
  for (const metric of payload.metrics) writer.message(2, (inner) => writeMetric(inner, metric));
  if (payload.seq !== undefined) writer.uint(3, payload.seq);
  if (payload.uuid !== undefined) writer.string(4, payload.uuid);
  if (payload.body !== undefined) writer.bytes(5, payload.body);
  return writer.finish();
}
