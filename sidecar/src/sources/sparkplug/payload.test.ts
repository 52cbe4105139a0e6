import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { proto, rawCodec } from "../../../test/support/sparkplug/package-codec.ts";
import { queueMetrics } from "../../floor/sparkplug-writer.ts";
import {
  DATATYPES,
  decodePayload,
  decodeSparkplug,
  type EncodableMetric,
  encodeSparkplug,
  INFLATED_MAX_BYTES,
  SparkplugDecodeError,
  SparkplugEncodeError,
  type SparkplugTemplate,
} from "./payload.ts";

// Payloads encoded field by field with the protobuf classes of the
// `sparkplug-payload` package, to send exactly what a given edge sends.
function rawPayload(metrics: Record<string, unknown>[], extra: Record<string, unknown> = {}): Uint8Array {
  return proto.Payload.encode(
    proto.Payload.create({ metrics: metrics.map((m) => proto.Payload.Metric.create(m)), ...extra }),
  ).finish();
}

describe("Sparkplug payload decode", () => {
  it("reinterprets small signed ints as their datatype, whichever way the edge encoded them", () => {
    // Sparkplug 3.0: Int8 -1 is sent as 255; Tahu Java sends it sign-extended (4294967295).
    const spec = decodeSparkplug(
      rawPayload([
        { name: "i8", datatype: 1, intValue: 255 },
        { name: "i16", datatype: 2, intValue: 65236 },
        { name: "i32", datatype: 3, intValue: 4294967289 },
        { name: "u8", datatype: 5, intValue: 200 },
        { name: "u16", datatype: 6, intValue: 65535 },
        { name: "i8java", datatype: 1, intValue: 4294967295 },
        { name: "i16java", datatype: 2, intValue: 4294967000 },
      ]),
    );
    expect(spec.metrics.map((m) => m.value)).toEqual([-1, -300, -7, 200, 65535, -1, -296]);
    const ours = decodeSparkplug(
      encodeSparkplug({
        timestamp: 1,
        metrics: [
          { name: "a", type: "Int8", value: -128 },
          { name: "b", type: "Int16", value: -1 },
          { name: "c", type: "Int32", value: -2147483648 },
        ],
      }),
    );
    expect(ours.metrics.map((m) => m.value)).toEqual([-128, -1, -2147483648]);
  });

  it("keeps UInt32 above 2^31 unsigned from either value field", () => {
    const bytes = rawPayload([
      { name: "count", datatype: 7, longValue: 4294967295 },
      { name: "c", datatype: 7, intValue: 3000000000 },
    ]);
    expect(decodeSparkplug(bytes).metrics.map((m) => m.value)).toEqual([4294967295, 3000000000]);
  });

  it("turns timestamps, seq and 64-bit values into numbers, bigint past 2^53, DateTime into a Date", () => {
    const ts = Date.parse("2026-11-22T06:00:00.123Z");
    const bytes = rawCodec.encodePayload({
      timestamp: ts,
      seq: 255,
      metrics: [
        { name: "bdSeq", type: "UInt64", value: 7 },
        { name: "big", type: "UInt64", value: 2 ** 53 + 2 },
        { name: "neg", type: "Int64", value: -5 },
        { name: "when", type: "DateTime", value: ts, timestamp: ts + 1 },
      ],
    } as never);
    const p = decodeSparkplug(bytes);
    expect(p.timestamp).toBe(ts);
    expect(p.seq).toBe(255);
    expect(p.metrics.map((m) => m.value)).toEqual([7, 9007199254740994n, -5, new Date(ts)]);
    expect(p.metrics[3]?.timestamp).toBe(ts + 1);
  });

  it("a payload that is not protobuf fails the strict decoder with a clear error", () => {
    expect(() => decodeSparkplug(new TextEncoder().encode('{"not":"sparkplug"}'))).toThrow(SparkplugDecodeError);
    const partial = decodePayload(new TextEncoder().encode('{"not":"sparkplug"}'));
    expect(partial.metrics).toEqual([]);
    expect(partial.broken?.offset).toBe(0);
    expect(partial.broken?.reason).toMatch(/wire type/);
  });

  it("one undecodable metric is reported with its reason and bytes; every other metric is used", () => {
    const bytes = rawPayload([
      { name: "ok1", datatype: 3, intValue: 1 },
      { name: "future", datatype: 99, intValue: 1 },
      { name: "tooBig", datatype: 5, intValue: 300 },
      { name: "wrongField", datatype: 3, stringValue: "x" },
      { name: "brokenArray", datatype: 24, bytesValue: new Uint8Array([1, 2, 3]) },
      { name: "ok2", datatype: 12, stringValue: "fine" },
    ]);
    const p = decodePayload(bytes);
    expect(p.metrics.map((m) => [m.name, m.value])).toEqual([
      ["ok1", 1],
      ["ok2", "fine"],
    ]);
    expect(p.problems.map((x) => [x.index, x.name, x.reason])).toEqual([
      [1, "future", "unknown datatype 99"],
      [2, "tooBig", "UInt8 value 300 is out of range"],
      [3, "wrongField", "datatype Int32 cannot carry a string value (field 15)"],
      [4, "brokenArray", "Int32Array of 3 bytes is not a whole number of 4-byte values"],
    ]);
    // The bytes are the protobuf Metric message itself: decodable on its own.
    expect(proto.Payload.Metric.decode(p.problems[0]?.bytes).name).toBe("future");
  });

  it("a metric with invalid UTF-8 in its string fails alone", () => {
    const good = rawPayload([{ name: "a", datatype: 12, stringValue: "AB" }]);
    const bytes = rawPayload([
      { name: "a", datatype: 12, stringValue: "AB" },
      { name: "b", datatype: 3, intValue: 2 },
    ]);
    // Replace "AB" (0x41 0x42) in the first metric by an invalid UTF-8 sequence.
    const at = bytes.indexOf(0x41, good.indexOf(0x41));
    bytes[at] = 0xc3;
    bytes[at + 1] = 0x28;
    const p = decodePayload(bytes);
    expect(p.metrics.map((m) => m.name)).toEqual(["b"]);
    expect(p.problems[0]?.reason).toMatch(/UTF-8/);
  });

  it("regression: a byte-order mark at the start of a name or a string is kept, as the edge sent it", () => {
    // Encoded by the sparkplug-payload package; TextDecoder dropped the mark, so "\ufeffTemp" read as "Temp".
    const strings = Buffer.from("\ufeffA\0B\0", "utf8");
    const p = decodePayload(
      rawPayload([
        { name: "\ufeffTemp", datatype: 12, stringValue: "\ufeffRUN" },
        { name: "List", datatype: 33, bytesValue: strings },
      ]),
    );
    expect(p.problems).toEqual([]);
    expect(p.metrics.map((m) => [m.name, m.value])).toEqual([
      ["\ufeffTemp", "\ufeffRUN"],
      ["List", ["\ufeffA", "B"]],
    ]);
  });

  it("a truncated payload keeps the metrics before the break", () => {
    const bytes = rawPayload(
      [
        { name: "a", datatype: 3, intValue: 1 },
        { name: "b", datatype: 3, intValue: 2 },
      ],
      {},
    );
    const p = decodePayload(bytes.subarray(0, bytes.length - 3));
    expect(p.metrics.map((m) => m.name)).toEqual(["a"]);
    expect(p.broken?.reason).toMatch(/runs past the end/);
  });

  it("skips fields it does not know, of every wire type (extensions, later versions)", () => {
    // Regression: skipping a length-delimited field once landed inside it.
    const known = encodeSparkplug({ timestamp: 1, seq: 4, metrics: [{ name: "a", type: "Int32", value: 1 }] });
    const unknown = [
      0x32,
      0x03,
      0x01,
      0x02,
      0x03, // field 6, length-delimited
      0x38,
      0x96,
      0x01, // field 7, varint
      0x41,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 8, fixed64
      0x4d,
      1,
      2,
      3,
      4, // field 9, fixed32
    ];
    const p = decodeSparkplug(new Uint8Array([...unknown, ...known, ...unknown]));
    expect(p.seq).toBe(4);
    expect(p.metrics.map((m) => m.value)).toEqual([1]);
  });

  it("DATA without datatypes takes them from the BIRTH by name or alias", () => {
    const bytes = rawPayload([
      { alias: 7, intValue: 255 },
      { name: "x", longValue: 2 ** 40 },
      { alias: 99, intValue: 1 },
    ]);
    const p = decodePayload(bytes, (name, alias) => (alias === 7 ? 1 : name === "x" ? 8 : undefined));
    expect(p.metrics.map((m) => m.value)).toEqual([-1, 2 ** 40]);
    expect(p.problems[0]?.reason).toBe("no datatype (neither in the metric nor in its BIRTH)");
  });

  it("a property key __proto__ is a property like any other, not the object's prototype", () => {
    const properties = JSON.parse(
      '{"__proto__": {"type": "String", "value": "x"}, "Quality": {"type": "Int32", "value": 192}}',
    );
    const p = decodeSparkplug(
      encodeSparkplug({ timestamp: 1, metrics: [{ name: "m", type: "Int32", value: 1, properties }] }),
    );
    const decoded = p.metrics[0]?.properties as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(["__proto__", "Quality"]);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ type: "String", value: "x" });
  });

  it("DataSets accept packed and unpacked column types and type every cell", () => {
    const dataset = {
      numOfColumns: 2,
      columns: ["n", "s"],
      types: [3, 12],
      rows: [{ elements: [{ intValue: 4294967295 }, { stringValue: "a" }] }, { elements: [{}, { stringValue: "b" }] }],
    };
    const p = decodeSparkplug(rawPayload([{ name: "ds", datatype: 16, datasetValue: dataset }]));
    expect(p.metrics[0]?.value).toEqual({
      columns: ["n", "s"],
      types: ["Int32", "String"],
      rows: [
        [-1, "a"],
        [null, "b"],
      ],
    });
    const short = decodePayload(
      rawPayload([{ name: "ds", datatype: 16, datasetValue: { ...dataset, rows: [{ elements: [{ intValue: 1 }] }] } }]),
    );
    expect(short.problems[0]?.reason).toBe("DataSet row 0 has 1 of 2 cells");
  });

  it("a Template member that does not decode is reported under Instance/Member; the other members stay", () => {
    const bytes = encodeSparkplug({
      timestamp: 1,
      metrics: [
        {
          name: "Motor1",
          type: "Template",
          value: {
            templateRef: "Motor",
            metrics: [
              { name: "Speed", type: "Float", value: 1.5 },
              { name: "Starts", type: "UInt32", value: 3 },
            ],
          },
        },
      ],
    });
    // Corrupt the Starts member's datatype (7) into 77.
    const starts = bytes.indexOf(0x53, bytes.indexOf(0x53) + 1); // the "S" of "Starts"
    const datatypeAt = bytes.indexOf(0x20, starts) + 1; // field 4 tag (0x20), then the datatype
    expect(bytes[datatypeAt]).toBe(7);
    bytes[datatypeAt] = 77;
    const p = decodePayload(bytes);
    const motor = p.metrics[0]?.value as SparkplugTemplate;
    expect(motor.metrics.map((m) => m.name)).toEqual(["Speed"]);
    expect(p.problems.map((x) => [x.name, x.reason])).toEqual([["Motor1/Starts", "unknown datatype 77"]]);
  });

  it("decodes what the floor writer publishes (its encoder is the sparkplug-payload package)", () => {
    const metrics = queueMetrics({
      workcenter: "WC1",
      version: 2 ** 40,
      slots: [{ order: "MO/1", product: "P", qty: 2.5, priority: -3, start: "2026-01-01" }],
    } as never);
    const bytes = rawCodec.encodePayload({ timestamp: 1, seq: 0, metrics } as never);
    const decoded = decodeSparkplug(bytes).metrics.map((m) => [m.type, m.value]);
    expect(decoded).toEqual(metrics.map((m) => [m.type, m.value]));
  });
});

describe("Sparkplug payload decode: compressed payloads (SPBV1.0_COMPRESSED)", () => {
  const inner = encodeSparkplug({
    timestamp: 1_795_766_400_000,
    seq: 7,
    metrics: [
      { name: "Count", alias: 3, type: "Int64", value: 120 },
      { name: "State", type: "String", value: "RUN" },
    ],
  });
  const wrapper = (body: Uint8Array, algorithm?: string) =>
    encodeSparkplug({
      timestamp: 1_795_766_400_001,
      seq: 7,
      uuid: "SPBV1.0_COMPRESSED",
      body,
      metrics: algorithm === undefined ? [] : [{ name: "algorithm", type: "String", value: algorithm }],
    });

  it("is the payload inside, deflated (zlib or raw, the default) or gzipped as its algorithm metric says", () => {
    for (const [body, algorithm] of [
      [deflateSync(inner), undefined],
      [deflateSync(inner), "DEFLATE"],
      [deflateRawSync(inner), undefined],
      [gzipSync(inner), "GZIP"],
      [gzipSync(inner), "gzip"],
    ] as const) {
      const payload = decodePayload(wrapper(body, algorithm));
      expect(payload.broken).toBeUndefined();
      expect(payload.compressed).toBe(algorithm === undefined ? "DEFLATE" : algorithm.toUpperCase());
      expect(payload.seq).toBe(7);
      expect(payload.timestamp).toBe(1_795_766_400_000);
      // The wrapper's algorithm metric is no data.
      expect(payload.metrics.map((m) => [m.name, m.value])).toEqual([
        ["Count", 120],
        ["State", "RUN"],
      ]);
    }
  });

  it("one that does not inflate, names an unknown algorithm or expands past the bound is broken, with no metrics", () => {
    const cases: [Uint8Array, string | undefined, RegExp][] = [
      [inner, undefined, /compressed payload \(SPBV1\.0_COMPRESSED, DEFLATE\): the body does not inflate/],
      [deflateSync(inner), "LZ4", /the algorithm is not DEFLATE or GZIP/],
      [deflateSync(Buffer.alloc(INFLATED_MAX_BYTES + 1)), undefined, /expands past 33554432 bytes/],
      [gzipSync(wrapper(deflateSync(inner))), "GZIP", /holds another compressed payload/],
    ];
    for (const [body, algorithm, reason] of cases) {
      const payload = decodePayload(wrapper(body, algorithm));
      expect(payload.broken?.reason).toMatch(reason);
      expect(payload.metrics).toEqual([]);
      expect(payload.seq).toBe(7);
    }
  });
});

describe("Sparkplug payload encode", () => {
  it("refuses values their datatype cannot carry, naming the metric", () => {
    expect(() => encodeSparkplug({ timestamp: 1, metrics: [{ name: "m", type: "UInt8", value: 256 }] })).toThrow(
      new SparkplugEncodeError("metric m: 256 is out of range for UInt8"),
    );
    expect(() => encodeSparkplug({ timestamp: 1, metrics: [{ name: "m", type: "Nope", value: 1 }] })).toThrow(
      /unknown datatype Nope/,
    );
    expect(() => encodeSparkplug({ timestamp: 1, metrics: [{ name: "m", type: "PropertySet", value: {} }] })).toThrow(
      /for properties/,
    );
  });

  it("BooleanArray: a little-endian count, then bits most significant first (spec example)", () => {
    const bytes = encodeSparkplug({
      timestamp: 1,
      metrics: [{ name: "b", type: "BooleanArray", value: [false, false, true, false, true, true, false, true, true] }],
    });
    const metric = proto.Payload.decode(bytes).metrics[0];
    expect([...metric.bytesValue]).toEqual([9, 0, 0, 0, 0b00101101, 0b10000000]);
  });
});

// ------------------------------------------------------- property tests

const int = (bits: number, signed: boolean) =>
  signed
    ? fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 })
    : fc.integer({ min: 0, max: 2 ** bits - 1 });
const dateArb = fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms));
const float32 = fc.float({ noNaN: true }).map((x) => Math.fround(x));
const double = fc.double({ noNaN: true });

const scalarArbs: Record<string, fc.Arbitrary<unknown>> = {
  Int8: int(8, true),
  Int16: int(16, true),
  Int32: int(32, true),
  Int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  UInt8: int(8, false),
  UInt16: int(16, false),
  UInt32: int(32, false),
  UInt64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  Float: float32,
  Double: double,
  Boolean: fc.boolean(),
  String: fc.string({ unit: "grapheme" }),
  Text: fc.string(),
  UUID: fc.uuid(),
  DateTime: dateArb,
};

function arrayArb(type: string): fc.Arbitrary<unknown> | undefined {
  const element = type.slice(0, -"Array".length);
  if (element === "String") return fc.array(fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\u0000")));
  const arb = scalarArbs[element];
  return arb ? fc.array(arb, { maxLength: 20 }) : undefined;
}

/** What the decoder gives back for an encoded value: 64-bit values as number when exact. */
function normalized(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(normalized);
  return value;
}

const DATASET_TYPES = Object.keys(scalarArbs).filter((t) => t !== "UUID");
const dataSetArb = fc
  .array(fc.record({ name: fc.string({ maxLength: 8 }), type: fc.constantFrom(...DATASET_TYPES) }), {
    minLength: 1,
    maxLength: 5,
  })
  .chain((columns) =>
    fc
      .array(fc.tuple(...columns.map((c) => fc.option(scalarArbs[c.type] as fc.Arbitrary<unknown>))), { maxLength: 6 })
      .map((rows) => ({ columns: columns.map((c) => c.name), types: columns.map((c) => c.type), rows })),
  );

const propertyScalarTypes = Object.keys(scalarArbs).filter((t) => t !== "UUID");
const propertySetArb: fc.Arbitrary<Record<string, { type: string; value: unknown }>> = fc.letrec((tie) => ({
  set: fc.dictionary(fc.string({ maxLength: 6 }), tie("value") as fc.Arbitrary<{ type: string; value: unknown }>, {
    maxKeys: 4,
  }),
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc
      .constantFrom(...propertyScalarTypes)
      .chain((type) =>
        fc.option(scalarArbs[type] as fc.Arbitrary<unknown>).map((value) => ({ type, value: value ?? null })),
      ),
    tie("set").map((value) => ({ type: "PropertySet", value })),
    fc.array(tie("set"), { maxLength: 2 }).map((value) => ({ type: "PropertySetList", value })),
  ),
})).set;

const scalarMetricArb = fc
  .constantFrom(...Object.keys(scalarArbs))
  .chain((type) => (scalarArbs[type] as fc.Arbitrary<unknown>).map((value) => ({ type, value })));

const templateArb = fc.record({
  isDefinition: fc.boolean(),
  version: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
  templateRef: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
  parameters: fc.array(
    fc
      .record({ name: fc.string({ maxLength: 6 }), type: fc.constantFrom(...propertyScalarTypes) })
      .chain((p) => (scalarArbs[p.type] as fc.Arbitrary<unknown>).map((value) => ({ ...p, value }))),
    { maxLength: 3 },
  ),
  metrics: fc.array(
    fc.tuple(fc.string({ maxLength: 6 }), scalarMetricArb).map(([name, m]) => ({ name, ...m })),
    { maxLength: 4 },
  ),
});

const metricArb: fc.Arbitrary<EncodableMetric> = fc.oneof(
  ...Object.entries(scalarArbs).map(([type, arb]) => arb.map((value) => ({ name: type, type, value }))),
  ...DATATYPES.filter((t) => t.endsWith("Array")).map((type) =>
    (arrayArb(type) as fc.Arbitrary<unknown>).map((value) => ({ name: type, type, value })),
  ),
  fc.uint8Array({ maxLength: 64 }).map((value) => ({ name: "Bytes", type: "Bytes", value })),
  fc.constantFrom(...Object.keys(scalarArbs)).map((type) => ({ name: `null ${type}`, type, value: null })),
);

/** What decoding gives back for an encoded structured value (DataSet, Template, properties). */
function normalizedDeep(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === "DataSet") {
    const ds = value as { columns: string[]; types: string[]; rows: unknown[][] };
    return { ...ds, rows: ds.rows.map((row) => row.map((cell) => (cell === null ? null : normalized(cell)))) };
  }
  if (type === "Template") {
    const t = value as {
      isDefinition: boolean;
      version?: string;
      templateRef?: string;
      parameters: { name: string; type: string; value: unknown }[];
      metrics: { name: string; type: string; value: unknown }[];
    };
    const out: Record<string, unknown> = {
      isDefinition: t.isDefinition,
      parameters: t.parameters.map((p) => ({ ...p, value: normalized(p.value) })),
      metrics: t.metrics.map((m) => ({ name: m.name, type: m.type, value: normalized(m.value) })),
    };
    if (t.version !== undefined) out.version = t.version;
    if (t.templateRef !== undefined) out.templateRef = t.templateRef;
    return out;
  }
  return normalized(value);
}

function normalizedProperties(set: Record<string, { type: string; value: unknown }>): unknown {
  return Object.fromEntries(
    Object.entries(set).map(([key, p]) => [
      key,
      {
        type: p.type,
        value:
          p.type === "PropertySet"
            ? normalizedProperties(p.value as Record<string, { type: string; value: unknown }>)
            : p.type === "PropertySetList"
              ? (p.value as Record<string, { type: string; value: unknown }>[]).map(normalizedProperties)
              : p.value === null
                ? null
                : normalized(p.value),
      },
    ]),
  );
}

describe("Sparkplug payload properties", () => {
  it("every datatype round-trips through encode and decode exactly", () => {
    fc.assert(
      fc.property(fc.array(metricArb, { maxLength: 12 }), fc.nat({ max: 255 }), (metrics, seq) => {
        const decoded = decodeSparkplug(encodeSparkplug({ timestamp: 1_700_000_000_000, seq, metrics }));
        expect(decoded.seq).toBe(seq);
        expect(decoded.metrics.map((m) => [m.name, m.type, m.value])).toEqual(
          metrics.map((m) => [m.name, m.type, m.value === null ? null : normalized(m.value)]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("DataSets, Templates and PropertySets round-trip exactly, nested and with nulls", () => {
    fc.assert(
      fc.property(dataSetArb, templateArb, propertySetArb, (dataSet, template, properties) => {
        const decoded = decodeSparkplug(
          encodeSparkplug({
            timestamp: 1,
            metrics: [
              { name: "ds", type: "DataSet", value: dataSet },
              { name: "tpl", type: "Template", value: template },
              { name: "p", type: "Int32", value: 1, properties },
            ],
          }),
        );
        const [ds, tpl, withProps] = decoded.metrics;
        expect(ds?.value).toEqual(normalizedDeep("DataSet", dataSet));
        const decodedTemplate = tpl?.value as SparkplugTemplate;
        expect({
          ...decodedTemplate,
          metrics: decodedTemplate.metrics.map((m) => ({ name: m.name, type: m.type, value: m.value })),
        }).toEqual(normalizedDeep("Template", template));
        expect(withProps?.properties).toEqual(normalizedProperties(properties));
      }),
      { numRuns: 300 },
    );
  });

  it("the package decodes our scalars to the same values (cross-check of the encoder)", () => {
    const comparable = ["Int32", "UInt8", "UInt16", "Float", "Double", "Boolean", "String", "Text", "UUID"];
    fc.assert(
      fc.property(
        fc
          .constantFrom(...comparable)
          .chain((type) => (scalarArbs[type] as fc.Arbitrary<unknown>).map((value) => ({ type, value }))),
        ({ type, value }) => {
          const bytes = encodeSparkplug({ timestamp: 1, metrics: [{ name: "m", type, value }] });
          const theirs = rawCodec.decodePayload(bytes).metrics?.[0]?.value;
          const expected = type === "Int32" ? (value as number) >>> 0 : value; // the package returns Int32 unsigned
          expect(typeof theirs === "number" && type === "Int32" ? theirs >>> 0 : theirs).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("decodePayload never throws, whatever the bytes, and never invents metrics past a break", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const p = decodePayload(bytes);
        expect(p.metrics.length + p.problems.length).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it("any byte of a valid payload changed: decodePayload still never throws", () => {
    fc.assert(
      fc.property(
        fc.array(metricArb, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.nat({ max: 255 }),
        (metrics, pick, byte) => {
          const bytes = encodeSparkplug({ timestamp: 1, seq: 1, metrics });
          bytes[pick % bytes.length] = byte;
          const p = decodePayload(bytes);
          expect(p.metrics.length + p.problems.length).toBeLessThanOrEqual(metrics.length + 1);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("flipping a byte inside one metric never loses the metrics in front of it", () => {
    fc.assert(
      fc.property(
        fc.array(metricArb, { minLength: 2, maxLength: 6 }),
        fc.nat(),
        fc.nat({ max: 255 }),
        (metrics, pick, byte) => {
          const bytes = encodeSparkplug({ timestamp: 1, metrics });
          const last = encodeSparkplug({ timestamp: 1, metrics: metrics.slice(0, -1) });
          // A byte inside the last metric's message: the first ones must survive.
          const from = last.length;
          const at = from + (pick % (bytes.length - from));
          const corrupted = bytes.slice();
          corrupted[at] = byte;
          const p = decodePayload(corrupted);
          expect(p.metrics.slice(0, metrics.length - 1).map((m) => m.name)).toEqual(
            metrics.slice(0, -1).map((m) => m.name),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
