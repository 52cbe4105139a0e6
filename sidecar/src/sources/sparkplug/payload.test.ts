import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { decodeSparkplug, encodeSparkplug, int64, rawCodec, SparkplugDecodeError } from "./payload.ts";

// The protobuf classes, to encode exactly what a spec-conformant (Tahu Java) edge sends.
const require = createRequire(import.meta.url);
const proto = require("sparkplug-payload/lib/sparkplugPayloadProto.js").org.eclipse.tahu.protobuf;

function rawPayload(metrics: Record<string, unknown>[], extra: Record<string, unknown> = {}): Uint8Array {
  return proto.Payload.encode(
    proto.Payload.create({ metrics: metrics.map((m) => proto.Payload.Metric.create(m)), ...extra }),
  ).finish();
}

describe("Sparkplug payload decode", () => {
  it("reinterprets small signed ints as their datatype, whichever way the edge encoded them", () => {
    // Tahu Java / Sparkplug 3.0: Int8 -1 is sent as 255, Int16 -300 as 65236, Int32 -7 as 4294967289.
    const spec = decodeSparkplug(
      rawPayload([
        { name: "i8", datatype: 1, intValue: 255 },
        { name: "i16", datatype: 2, intValue: 65236 },
        { name: "i32", datatype: 3, intValue: 4294967289 },
        { name: "u8", datatype: 5, intValue: 200 },
        { name: "u16", datatype: 6, intValue: 65535 },
      ]),
    );
    expect(spec.metrics.map((m) => m.value)).toEqual([-1, -300, -7, 200, 65535]);
    // The package itself returns 255 for that Int8: the pitfall we correct.
    const pkg = rawCodec.decodePayload(rawPayload([{ name: "i8", datatype: 1, intValue: 255 }]));
    expect(pkg.metrics?.[0]?.value).toBe(255);
    // Our own encoder writes the spec form and round-trips.
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

  it("keeps UInt32 values above 2^31 unsigned (the package hands back a Long or a negative int)", () => {
    const bytes = rawPayload([{ name: "count", datatype: 7, longValue: 4294967295 }]);
    const pkgValue = rawCodec.decodePayload(bytes).metrics?.[0]?.value;
    expect(typeof pkgValue).not.toBe("number"); // a Long object, not a number
    expect(decodeSparkplug(bytes).metrics[0]?.value).toBe(4294967295);
    expect(decodeSparkplug(rawPayload([{ name: "c", datatype: 7, longValue: 3000000000 }])).metrics[0]?.value).toBe(
      3000000000,
    );
  });

  it("turns Long timestamps, seq and 64-bit values into numbers, and bigint past 2^53", () => {
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
    const raw = rawCodec.decodePayload(bytes);
    expect(typeof raw.timestamp).toBe("object"); // the package's Long
    const p = decodeSparkplug(bytes);
    expect(p.timestamp).toBe(ts);
    expect(p.seq).toBe(255);
    expect(p.metrics.map((m) => m.value)).toEqual([7, 9007199254740994n, -5, ts]);
    expect(p.metrics[3]?.timestamp).toBe(ts + 1);
  });

  it("int64 handles plain numbers and bigints too", () => {
    expect(int64(-1, false)).toBe(18446744073709551615n);
    expect(int64(-1, true)).toBe(-1);
    expect(int64(5n, true)).toBe(5);
    expect(int64("x", true)).toBeUndefined();
  });

  it("a payload that is not protobuf fails with a clear error", () => {
    expect(() => decodeSparkplug(new TextEncoder().encode('{"not":"sparkplug"}'))).toThrow(SparkplugDecodeError);
  });
});
