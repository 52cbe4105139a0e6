// The Sparkplug B 3.0 datatypes (the specification's table, codes 0–34) and
// the shapes a decoded payload takes. `decode.ts` reads them, `encode.ts`
// writes them; `payload.ts` is the entry point for both.

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
  /** It came compressed (uuid SPBV1.0_COMPRESSED): the algorithm; the rest is what was inside. */
  compressed?: "DEFLATE" | "GZIP";
}

/** Datatype of a metric its message leaves out (DATA after BIRTH): from the BIRTH, by name or alias. */
export type DatatypeLookup = (name: string | undefined, alias: number | undefined) => number | undefined;

export class SparkplugDecodeError extends Error {
  override name = "SparkplugDecodeError";
}

export class SparkplugEncodeError extends Error {
  override name = "SparkplugEncodeError";
}

/** Bytes per element of the fixed-width array datatypes (packed little-endian). */
export const ARRAY_WIDTH: Record<string, number> = {
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
