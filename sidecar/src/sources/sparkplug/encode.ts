// Encodes a Sparkplug B payload, every datatype, the way decode.ts reads it:
// small signed ints as their unsigned two's complement in `int_value`, UInt32
// in `int_value`, 64-bit and DateTime in `long_value`, arrays packed
// little-endian, File with its name in the metadata. A value its datatype
// cannot carry is refused with SparkplugEncodeError naming the metric.
import {
  ARRAY_WIDTH,
  DATATYPES,
  datatypeCode,
  type MetricMetadata,
  SparkplugEncodeError,
  type SparkplugFile,
} from "./datatypes.ts";
import { WireWriter } from "./wire.ts";

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
  const code = datatypeCode(type);
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
