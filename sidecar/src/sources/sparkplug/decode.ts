// Decodes a Sparkplug B payload metric by metric from the protobuf wire
// format (see payload.ts for what each datatype becomes). A metric that does
// not decode becomes a problem with its reason and bytes; the others are
// used; a payload whose framing breaks keeps what came before the break.
import { UTF8_VALUE } from "../../core/bytes-text.ts";

import { inflate } from "../../core/inflate.ts";
import {
  ARRAY_WIDTH,
  DATATYPES,
  type DataTypeName,
  type DatatypeLookup,
  type MetricMetadata,
  type MetricProblem,
  type MetricValue,
  type PropertySet,
  type PropertyValue,
  type ScalarValue,
  type SparkplugDataSet,
  SparkplugDecodeError,
  type SparkplugFile,
  type SparkplugMetric,
  type SparkplugPayload,
  type SparkplugTemplate,
} from "./datatypes.ts";
import { WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT, WireError, WireReader } from "./wire.ts";

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

function exact(big: bigint): number | bigint {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

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
        out.push(UTF8_VALUE.decode(bytes.subarray(start, i)));
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

/** The uuid of a compressed payload (Eclipse Tahu, Ignition's MQTT Transmission with compression on). */
export const COMPRESSED_UUID = "SPBV1.0_COMPRESSED";
/** The most a compressed payload may expand to: larger is refused, not inflated into memory. */
export const INFLATED_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Decodes what can be decoded. Never throws: metrics that fail are in
 * `problems`, a broken framing in `broken`.
 *
 * A compressed payload — uuid SPBV1.0_COMPRESSED, the whole encoded payload
 * as `body`, deflated (zlib; the default) or gzipped as its `algorithm`
 * metric says — is the payload inside it, with `compressed` set. Tahu and
 * Ignition's MQTT Transmission send them so. One that does not inflate is
 * `broken` with the reason, and has no metrics: the wrapper's own
 * `algorithm` metric is no data.
 */
export function decodePayload(bytes: Uint8Array, lookup?: DatatypeLookup): SparkplugPayload {
  const outer = decodeFrame(bytes, lookup);
  if (outer.uuid !== COMPRESSED_UUID || outer.broken) return outer;
  const named = outer.metrics.find((m) => m.name === "algorithm")?.value;
  const algorithm = typeof named === "string" ? named.trim().toUpperCase() : "DEFLATE";
  const unreadable = (reason: string): SparkplugPayload => ({
    ...(outer.seq === undefined ? {} : { seq: outer.seq }),
    ...(outer.timestamp === undefined ? {} : { timestamp: outer.timestamp }),
    metrics: [],
    problems: [],
    broken: { reason: `compressed payload (${COMPRESSED_UUID}, ${algorithm}): ${reason}`, offset: 0, bytes },
  });
  if (algorithm !== "DEFLATE" && algorithm !== "GZIP") return unreadable("the algorithm is not DEFLATE or GZIP");
  if (!outer.body) return unreadable("it has no body");
  const decoded = inflate(algorithm === "GZIP" ? "gzip" : "deflate", outer.body, INFLATED_MAX_BYTES);
  if (!decoded.ok)
    return unreadable(decoded.tooLarge ? decoded.reason : `the body does not inflate (${decoded.reason})`);
  const inflated = decoded.bytes;
  const inner = decodeFrame(inflated, lookup);
  if (inner.uuid === COMPRESSED_UUID) return unreadable("it holds another compressed payload");
  // Tahu puts the seq on both; the inner one is what the edge node sent.
  if (inner.seq === undefined && outer.seq !== undefined) inner.seq = outer.seq;
  if (inner.timestamp === undefined && outer.timestamp !== undefined) inner.timestamp = outer.timestamp;
  inner.compressed = algorithm;
  return inner;
}

function decodeFrame(bytes: Uint8Array, lookup?: DatatypeLookup): SparkplugPayload {
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
