import { describe, expect, it } from "vitest";
import { metricAddress, parseTopic, SparkplugHostState, type SparkplugTopic } from "./host.ts";
import { type EncodableMetric, encodeSparkplug } from "./payload.ts";

const T = Date.parse("2026-11-22T06:00:00Z");
const at = (s: number) => new Date(T + s * 1000);

function topic(text: string): SparkplugTopic {
  const t = parseTopic(text);
  if (!t) throw new Error(`bad topic ${text}`);
  return t;
}

function msg(seq: number | undefined, metrics: EncodableMetric[], timestamp = T) {
  return encodeSparkplug(seq === undefined ? { timestamp, metrics } : { timestamp, seq, metrics });
}

function born(host: SparkplugHostState) {
  host.handle(
    topic("spBv1.0/Plant1/NBIRTH/Edge1"),
    msg(0, [
      { name: "bdSeq", type: "UInt64", value: 3 },
      { name: "Node Control/Rebirth", type: "Boolean", value: false },
      { name: "Line1/State", alias: 1, type: "Int32", value: 1 },
    ]),
    at(0),
  );
  return host.handle(
    topic("spBv1.0/Plant1/DBIRTH/Edge1/Press03"),
    msg(1, [
      { name: "GoodCount", alias: 10, type: "UInt32", value: 100, timestamp: T + 500 },
      { name: "ReasonCode", alias: 11, type: "String", value: "" },
    ]),
    at(0),
  );
}

describe("Sparkplug topics", () => {
  it("parses node and device topics and refuses others", () => {
    expect(parseTopic("spBv1.0/G/NDATA/E")).toEqual({ group: "G", type: "NDATA", edge: "E" });
    expect(parseTopic("spBv1.0/G/DDATA/E/D")).toEqual({ group: "G", type: "DDATA", edge: "E", device: "D" });
    expect(parseTopic("spBv1.0/STATE/host1")).toBeUndefined();
    expect(parseTopic("spBv1.0/G/DDATA/E")).toBeUndefined();
    expect(parseTopic("spBv1.0/G/NDATA/E/D")).toBeUndefined();
    expect(metricAddress("G", "E", undefined, "Line1/State")).toBe("G/E//Line1/State");
  });
});

describe("Sparkplug host state", () => {
  it("BIRTH metrics are observations under their full address, with metric timestamps", () => {
    const host = new SparkplugHostState("Plant1");
    const out = born(host);
    expect(out.rebirth).toBeUndefined();
    expect(out.observations).toEqual([
      { address: "Plant1/Edge1/Press03/GoodCount", value: 100, sourceTime: new Date(T + 500), receivedAt: at(0) },
      { address: "Plant1/Edge1/Press03/ReasonCode", value: "", sourceTime: new Date(T), receivedAt: at(0) },
    ]);
    expect(host.node("Edge1")?.bdSeq).toBe(3);
  });

  it("DATA by alias resolves to the names of the BIRTH", () => {
    const host = new SparkplugHostState("Plant1");
    born(host);
    const n = host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(2, [{ alias: 1, type: "Int32", value: 3 }]), at(1));
    expect(n.observations.map((o) => [o.address, o.value])).toEqual([["Plant1/Edge1//Line1/State", 3]]);
    const d = host.handle(
      topic("spBv1.0/Plant1/DDATA/Edge1/Press03"),
      msg(3, [{ alias: 10, type: "UInt32", value: 4294967295 }]),
      at(2),
    );
    expect(d.observations.map((o) => [o.address, o.value])).toEqual([["Plant1/Edge1/Press03/GoodCount", 4294967295]]);
    expect(d.rebirth).toBeUndefined();
  });

  it("seq wraps from 255 to 0 without a gap", () => {
    const host = new SparkplugHostState("Plant1");
    host.handle(topic("spBv1.0/Plant1/NBIRTH/Edge1"), msg(254, [{ name: "bdSeq", type: "UInt64", value: 0 }]), at(0));
    for (const seq of [255, 0, 1]) {
      expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(seq, []), at(1)).rebirth).toBeUndefined();
    }
    expect(host.stats.seq_gaps).toBe(0);
  });

  it("a seq gap asks for a Rebirth once per hold time and still uses the values it can resolve", () => {
    const host = new SparkplugHostState("Plant1", 5_000);
    born(host);
    const gap = host.handle(
      topic("spBv1.0/Plant1/DDATA/Edge1/Press03"),
      msg(5, [{ alias: 10, type: "UInt32", value: 120 }]),
      at(1),
    );
    expect(gap.rebirth).toEqual({ group: "Plant1", edge: "Edge1", reason: "seq gap from Edge1: expected 2, got 5" });
    expect(gap.observations).toHaveLength(1);
    const again = host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(9, []), at(2));
    expect(again.rebirth).toBeUndefined();
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(20, []), at(7)).rebirth).toBeDefined();
    expect(host.stats.seq_gaps).toBe(3);
  });

  it("an unknown alias asks for a Rebirth and drops only that metric", () => {
    const host = new SparkplugHostState("Plant1");
    born(host);
    const out = host.handle(
      topic("spBv1.0/Plant1/DDATA/Edge1/Press03"),
      msg(2, [
        { alias: 99, type: "Int32", value: 1 },
        { alias: 11, type: "String", value: "JAM" },
      ]),
      at(1),
    );
    expect(out.rebirth?.reason).toBe("unknown alias 99 from Edge1/Press03");
    expect(out.observations.map((o) => o.value)).toEqual(["JAM"]);
    expect(host.stats.unknown_aliases).toBe(1);
  });

  it("data from a node never born (host restarted, BIRTHs are not retained) asks for a Rebirth; the BIRTH rebuilds it", () => {
    const host = new SparkplugHostState("Plant1");
    const out = host.handle(
      topic("spBv1.0/Plant1/DDATA/Edge1/Press03"),
      msg(42, [{ alias: 10, type: "UInt32", value: 7 }]),
      at(0),
    );
    expect(out.rebirth?.reason).toBe("DDATA from Edge1 before its NBIRTH");
    expect(out.observations).toEqual([]);
    born(host);
    expect(
      host.handle(topic("spBv1.0/Plant1/DDATA/Edge1/Press03"), msg(2, [{ alias: 10, type: "UInt32", value: 8 }]), at(1))
        .observations,
    ).toHaveLength(1);
  });

  it("NDEATH with the session's bdSeq takes the node offline; a stale NDEATH is ignored", () => {
    const host = new SparkplugHostState("Plant1");
    born(host);
    const stale = host.handle(
      topic("spBv1.0/Plant1/NDEATH/Edge1"),
      msg(undefined, [{ name: "bdSeq", type: "UInt64", value: 2 }]),
      at(1),
    );
    expect(stale.problem).toContain("stale NDEATH");
    expect(host.node("Edge1")?.online).toBe(true);
    host.handle(
      topic("spBv1.0/Plant1/NDEATH/Edge1"),
      msg(undefined, [{ name: "bdSeq", type: "UInt64", value: 3 }]),
      at(2),
    );
    expect(host.node("Edge1")?.online).toBe(false);
    // Data after death (a late QoS 0 message) is not trusted: Rebirth.
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(2, []), at(3)).rebirth).toBeDefined();
  });

  it("DDEATH takes the device offline: its data then asks for a Rebirth", () => {
    const host = new SparkplugHostState("Plant1");
    born(host);
    host.handle(topic("spBv1.0/Plant1/DDEATH/Edge1/Press03"), msg(2, []), at(1));
    const out = host.handle(
      topic("spBv1.0/Plant1/DDATA/Edge1/Press03"),
      msg(3, [{ alias: 10, type: "UInt32", value: 1 }]),
      at(2),
    );
    expect(out.rebirth?.reason).toBe("DDATA from Edge1/Press03 before its DBIRTH");
  });

  it("an undecodable payload is reported malformed and, from a live node, triggers a Rebirth", () => {
    const host = new SparkplugHostState("Plant1");
    born(host);
    const out = host.handle(topic("spBv1.0/Plant1/DDATA/Edge1/Press03"), new Uint8Array([0xff, 0xff, 0xff]), at(1));
    expect(out.malformed).toBe(true);
    expect(out.problem).toMatch(/not a Sparkplug B payload/);
    expect(out.rebirth).toBeDefined();
  });
});

describe("Sparkplug host: every kind of metric into rules", () => {
  function birthWith(host: SparkplugHostState, metrics: EncodableMetric[]) {
    return host.handle(
      topic("spBv1.0/Plant1/NBIRTH/Edge1"),
      msg(0, [{ name: "bdSeq", type: "Int64", value: 1 }, ...metrics]),
      at(0),
    );
  }
  const motor = (speed: number, state: string) => ({
    templateRef: "Motor",
    metrics: [
      { name: "Speed", type: "Float", value: speed },
      { name: "State", type: "String", value: state },
    ],
  });

  it("Template members are metrics under Instance/Member; definitions are not observed", () => {
    const host = new SparkplugHostState("Plant1");
    const out = birthWith(host, [
      { name: "_types_/Motor", type: "Template", value: { isDefinition: true, ...motor(0, "") } },
      { name: "Motor1", alias: 5, type: "Template", value: motor(1.5, "Running") },
    ]);
    expect(out.observations.map((o) => [o.address, o.value])).toEqual([
      ["Plant1/Edge1//Motor1/Speed", 1.5],
      ["Plant1/Edge1//Motor1/State", "Running"],
    ]);
    expect(host.node("Edge1")?.templates.has("Motor")).toBe(true);
    const data = host.handle(
      topic("spBv1.0/Plant1/NDATA/Edge1"),
      msg(1, [
        {
          alias: 5,
          type: "Template",
          value: { templateRef: "Motor", metrics: [{ name: "State", type: "String", value: "Stopped" }] },
        },
      ]),
      at(1),
    );
    expect(data.observations.map((o) => [o.address, o.value])).toEqual([["Plant1/Edge1//Motor1/State", "Stopped"]]);
  });

  it("an instance of a template the BIRTH never defined is still used, and said", () => {
    const host = new SparkplugHostState("Plant1");
    const out = birthWith(host, [{ name: "Motor1", type: "Template", value: motor(2, "Idle") }]);
    expect(out.observations).toHaveLength(2);
    expect(out.problem).toMatch(/instance of Motor, which no _types_\/ definition/);
    expect(host.stats.undefined_templates).toBe(1);
  });

  it("DataSet cells are metrics under DataSet/row/column; empty cells are skipped", () => {
    const host = new SparkplugHostState("Plant1");
    const out = birthWith(host, [
      {
        name: "Recipe",
        type: "DataSet",
        value: {
          columns: ["Step", "Setpoint"],
          types: ["Int32", "UInt64"],
          rows: [
            [1, 2n ** 60n],
            [2, null],
          ],
        },
      },
    ]);
    expect(out.observations.map((o) => [o.address, o.value])).toEqual([
      ["Plant1/Edge1//Recipe/0/Step", 1],
      ["Plant1/Edge1//Recipe/0/Setpoint", "1152921504606846976"],
      ["Plant1/Edge1//Recipe/1/Step", 2],
    ]);
  });

  it("values reach rules JSON-safe: bigint as decimal text, DateTime as ISO, bytes as base64", () => {
    const host = new SparkplugHostState("Plant1");
    const out = birthWith(host, [
      { name: "Big", type: "UInt64", value: 2n ** 64n - 1n },
      { name: "When", type: "DateTime", value: new Date(T) },
      { name: "Raw", type: "Bytes", value: new Uint8Array([1, 2, 255]) },
      { name: "Bits", type: "BooleanArray", value: [true, false] },
      { name: "Longs", type: "Int64Array", value: [-(2n ** 63n), 5n] },
    ]);
    expect(out.observations.map((o) => o.value)).toEqual([
      "18446744073709551615",
      "2026-11-22T06:00:00.000Z",
      "AQL/",
      [true, false],
      ["-9223372036854775808", 5],
    ]);
    expect(() => JSON.stringify(out.observations)).not.toThrow();
  });

  it("bad Quality and null values are not observed; historical values are kept apart with their own time", () => {
    const host = new SparkplugHostState("Plant1");
    const out = birthWith(host, [
      { name: "Good", type: "Int32", value: 1, properties: { Quality: { type: "Int32", value: 192 } } },
      { name: "Bad", type: "Int32", value: 2, properties: { Quality: { type: "Int32", value: 0 } } },
      { name: "Stale", type: "Int32", value: 3, properties: { Quality: { type: "Int32", value: 500 } } },
      { name: "Nothing", type: "Int32", value: null },
      { name: "Late", type: "UInt32", value: 90, timestamp: T - 60_000, isHistorical: true },
      { name: "Blip", type: "UInt32", value: 7, isTransient: true },
    ]);
    expect(out.observations.map((o) => [o.address, o.value, (o as { transient?: boolean }).transient])).toEqual([
      ["Plant1/Edge1//Good", 1, undefined],
      ["Plant1/Edge1//Blip", 7, true],
    ]);
    expect(out.historical.map((o) => [o.address, o.value, o.sourceTime])).toEqual([
      ["Plant1/Edge1//Late", 90, new Date(T - 60_000)],
    ]);
    expect(host.stats).toMatchObject({ bad_quality: 2, null_values: 1, historical_metrics: 1 });
  });

  it("an undecodable metric is reported once per session with its bytes, without a Rebirth; the rest is used", () => {
    const host = new SparkplugHostState("Plant1");
    const bytes = msg(0, [
      { name: "bdSeq", type: "Int64", value: 1 },
      { name: "A", alias: 1, type: "Int32", value: 1 },
      { name: "B", alias: 2, type: "Int32", value: 2 },
    ]);
    // Make B's datatype (3) unknown (63): the byte after B's datatype tag.
    const nameAt = bytes.lastIndexOf(0x42); // "B"
    const typeAt = bytes.indexOf(0x20, nameAt) + 1;
    bytes[typeAt] = 63;
    const out = host.handle(topic("spBv1.0/Plant1/NBIRTH/Edge1"), bytes, at(0));
    expect(out.observations.map((o) => o.address)).toEqual(["Plant1/Edge1//A"]);
    expect(out.rebirth).toBeUndefined();
    expect(out.undecoded).toHaveLength(1);
    expect(out.undecoded[0]?.reason).toBe("metric B (position 2) of NBIRTH Edge1 does not decode: unknown datatype 63");
    // The same metric broken the same way in DATA: counted, not reported again.
    const data = msg(1, [{ name: "B", type: "Int32", value: 5 }]);
    data[data.indexOf(0x20, data.lastIndexOf(0x42)) + 1] = 63;
    const again = host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), data, at(1));
    expect(again.undecoded).toEqual([]);
    expect(host.stats.undecodable_metrics).toBe(2);
  });

  it("a payload broken mid-way keeps the metrics before the break and asks a Rebirth, backing off while asked often", () => {
    const host = new SparkplugHostState("Plant1", 1_000);
    born(host);
    const whole = msg(2, [
      { alias: 1, type: "Int32", value: 4 },
      { alias: 1, type: "Int32", value: 5 },
    ]);
    const cut = whole.subarray(0, whole.length - 4);
    const out = host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), cut, at(1));
    expect(out.observations.map((o) => o.value)).toEqual([4]);
    expect(out.rebirth?.reason).toMatch(/NDATA Edge1 breaks at byte \d+/);
    expect(out.undecoded).toHaveLength(1);
    // The answering NBIRTH is broken too: asked again only after a doubled hold.
    const brokenBirth = msg(0, [
      { name: "bdSeq", type: "Int64", value: 4 },
      { name: "X", type: "Int32", value: 1 },
    ]);
    const brokenCut = brokenBirth.subarray(0, brokenBirth.length - 3);
    const times = [2, 2.5, 3.5, 4.5, 6.5];
    const asked = times.map(
      (s) => host.handle(topic("spBv1.0/Plant1/NBIRTH/Edge1"), brokenCut, at(s)).rebirth !== undefined,
    );
    // Asked at 1 s (the broken NDATA), then after a 1 s hold (2 s), a 2 s hold (4.5 s), then 4 s.
    expect(asked).toEqual([true, false, false, true, false]);
    expect(host.node("Edge1")?.rebirthRequests).toHaveLength(3);
    // A BIRTH that decodes whole does not reset it (it may not cure the cause); ten quiet minutes do.
    host.handle(topic("spBv1.0/Plant1/NBIRTH/Edge1"), brokenBirth, at(7));
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(9, []), at(8)).rebirth).toBeUndefined();
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(20, []), at(8.6)).rebirth).toBeDefined();
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(40, []), at(620)).rebirth).toBeDefined();
    expect(host.handle(topic("spBv1.0/Plant1/NDATA/Edge1"), msg(60, []), at(621.5)).rebirth).toBeDefined();
  });

  it("a passive host follows births and seq and reports gaps but never asks for a Rebirth", () => {
    const host = new SparkplugHostState("Plant1", { requestRebirths: false });
    born(host);
    const gap = host.handle(
      topic("spBv1.0/Plant1/NDATA/Edge1"),
      msg(9, [{ alias: 1, type: "Int32", value: 2 }]),
      at(1),
    );
    expect(gap.rebirth).toBeUndefined();
    expect(gap.problem).toBe("seq gap from Edge1: expected 2, got 9 (passive host: waiting for the next BIRTH)");
    expect(gap.observations).toHaveLength(1);
    const unborn = host.handle(topic("spBv1.0/Plant1/NDATA/Edge2"), msg(3, []), at(1));
    expect(unborn.rebirth).toBeUndefined();
    expect(host.stats).toMatchObject({
      seq_gaps: 1,
      unborn_data: 1,
      rebirths_requested: 0,
      rebirths_left_to_primary: 2,
    });
  });
});
