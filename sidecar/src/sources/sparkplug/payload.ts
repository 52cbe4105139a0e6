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
export * from "./datatypes.ts";
export { COMPRESSED_UUID, decodePayload, decodeSparkplug, INFLATED_MAX_BYTES } from "./decode.ts";
export {
  type EncodableDataSet,
  type EncodableMetric,
  type EncodablePayload,
  type EncodableTemplate,
  encodeSparkplug,
} from "./encode.ts";
