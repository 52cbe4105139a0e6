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
