// Sparkplug B conformance against an independent encoder: Eclipse Tahu's
// Java reference implementation (test/peers/tahu) builds NBIRTH, DBIRTH,
// NDATA and DDATA covering every datatype of the specification, writes what
// it encoded to a manifest, and publishes through a real Mosquitto into the
// SparkplugSource. Every metric must come out as the value Tahu states.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildTahuPeer,
  type ManifestMessage,
  type ManifestMetric,
  runTahuPeer,
  tahuPeerUnavailable,
} from "../../../../test/peers/tahu/peer.ts";
import { startMosquitto } from "../../../devstack/mosquitto.ts";
import { sleep } from "../../../simulator/simulation.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import type { MappingRule } from "../../core/contract.ts";
import { type HostOutcome, metricAddress, QUALITY_GOOD } from "./host.ts";
import { decodePayload, encodeSparkplug, type MetricValue, type PropertySet, type SparkplugMetric } from "./payload.ts";
import { SparkplugSource, type SparkplugSourceOptions } from "./source.ts";
import { WIRE_BYTES, WIRE_VARINT, WireReader } from "./wire.ts";

const unavailable = tahuPeerUnavailable();
if (unavailable) throw new Error(`the Sparkplug conformance suite needs the Tahu peer: ${unavailable}`);

const EDGE = "Edge1";
const DEVICE = "Press03";

// ------------------------------------------- the manifest's value form, ours

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

function canonValue(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "Int64":
    case "UInt64":
      return String(value);
    case "DateTime":
      return (value as Date).getTime();
    case "Bytes":
      return b64(value as Uint8Array);
    case "File": {
      const file = value as { fileName: string; bytes: Uint8Array };
      return { fileName: file.fileName, bytes: b64(file.bytes) };
    }
    case "DataSet": {
      const ds = value as { columns: string[]; types: string[]; rows: unknown[][] };
      return {
        columns: ds.columns,
        types: ds.types,
        rows: ds.rows.map((row) => row.map((cell, c) => canonValue(ds.types[c] as string, cell))),
      };
    }
    case "Template": {
      const t = value as {
        isDefinition: boolean;
        templateRef?: string;
        version?: string;
        metrics: SparkplugMetric[];
        parameters: { name: string; type: string; value: unknown }[];
      };
      return {
        isDefinition: t.isDefinition,
        templateRef: t.templateRef ?? null,
        version: t.version ?? null,
        metrics: t.metrics.map(canonMetric),
        parameters: t.parameters.map((p) => ({ name: p.name, type: p.type, value: canonValue(p.type, p.value) })),
      };
    }
    default:
      if (type.endsWith("Array")) return (value as unknown[]).map((v) => canonValue(type.slice(0, -5), v));
      return value;
  }
}

function canonProperties(set: PropertySet): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(set).map(([key, p]) => [
      key,
      {
        type: p.type,
        value:
          p.type === "PropertySet"
            ? canonProperties(p.value as PropertySet)
            : p.type === "PropertySetList"
              ? (p.value as PropertySet[]).map(canonProperties)
              : canonValue(p.type, p.value),
      },
    ]),
  );
}

function canonMetric(m: SparkplugMetric): ManifestMetric {
  const out: ManifestMetric = {
    name: m.name ?? null,
    alias: m.alias ?? null,
    type: m.type,
    timestamp: m.timestamp ?? null,
    value: canonValue(m.type, m.value as MetricValue),
  };
  if (m.isHistorical) out.isHistorical = true;
  if (m.isTransient) out.isTransient = true;
  if (m.properties) out.properties = canonProperties(m.properties) as ManifestMetric["properties"];
  return out;
}

// ------------------------- what the rules must see, from Tahu's manifest

function ruleForm(type: string, value: unknown): unknown {
  if (value === null) return null;
  if (type === "Int64" || type === "UInt64") {
    const big = BigInt(value as string);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : value;
  }
  if (type === "DateTime") return new Date(value as number).toISOString();
  if (type.endsWith("Array")) return (value as unknown[]).map((v) => ruleForm(type.slice(0, -5), v));
  return value;
}

interface Expected {
  current: Map<string, unknown>;
  historical: Map<string, unknown>;
  transient: Set<string>;
}

function expectedObservations(msg: ManifestMessage, names: Map<number, string>): Expected {
  const [, group, , edge, device] = msg.topic.split("/") as [string, string, string, string, string | undefined];
  const out: Expected = { current: new Map(), historical: new Map(), transient: new Set() };
  const visit = (m: ManifestMetric, name: string, historical: boolean, transient: boolean) => {
    const quality = m.properties?.Quality?.value;
    if (typeof quality === "number" && quality !== QUALITY_GOOD) return;
    if (m.value === null) return;
    if (m.type === "Template") {
      const t = m.value as { isDefinition: boolean; metrics: ManifestMetric[] };
      if (t.isDefinition) return;
      for (const member of t.metrics) visit(member, `${name}/${member.name}`, historical, transient);
      return;
    }
    const put = (path: string, value: unknown) => {
      const address = metricAddress(group, edge, device, path);
      (historical ? out.historical : out.current).set(address, value);
      if (transient && !historical) out.transient.add(address);
    };
    if (m.type === "DataSet") {
      const ds = m.value as { columns: string[]; types: string[]; rows: unknown[][] };
      ds.rows.forEach((row, r) => {
        row.forEach((cell, c) => {
          if (cell !== null) put(`${name}/${r}/${ds.columns[c]}`, ruleForm(ds.types[c] as string, cell));
        });
      });
      return;
    }
    put(name, ruleForm(m.type, m.value));
  };
  for (const m of msg.metrics) {
    const name = m.name ?? names.get(m.alias as number);
    if (name === undefined) throw new Error(`manifest metric with unknown alias ${m.alias}`);
    if (name === "bdSeq" || name.startsWith("Node Control/") || name.startsWith("_types_/")) continue;
    visit(m, name, m.isHistorical === true, m.isTransient === true);
  }
  return out;
}

function aliasNames(messages: ManifestMessage[]): Map<string, Map<number, string>> {
  const byScope = new Map<string, Map<number, string>>();
  for (const msg of messages) {
    const parts = msg.topic.split("/");
    if (parts[2] !== "NBIRTH" && parts[2] !== "DBIRTH") continue;
    const names = new Map<number, string>();
    for (const m of msg.metrics) if (m.alias !== null && m.name !== null) names.set(m.alias, m.name);
    byScope.set(parts.slice(3).join("/"), names);
  }
  return byScope;
}

function observed(outcome: HostOutcome): Expected {
  return {
    current: new Map(outcome.observations.map((o) => [o.address, o.value])),
    historical: new Map(outcome.historical.map((o) => [o.address, o.value])),
    transient: new Set(outcome.observations.filter((o) => o.transient).map((o) => o.address)),
  };
}

/** Byte offset of the datatype varint of the metric at `index` of a payload, found by walking the wire format. */
function datatypeOffset(bytes: Uint8Array, index: number): number {
  const reader = new WireReader(bytes);
  for (let n = 0; !reader.done; ) {
    const { field, wireType } = reader.tag();
    if (field !== 2 || wireType !== WIRE_BYTES) {
      reader.skip(wireType);
      continue;
    }
    const metricBytes = reader.bytesField();
    if (n++ !== index) continue;
    const inner = new WireReader(bytes, metricBytes.byteOffset - bytes.byteOffset, reader.pos);
    while (!inner.done) {
      const tag = inner.tag();
      if (tag.field === 4 && tag.wireType === WIRE_VARINT) return inner.pos;
      inner.skip(tag.wireType);
    }
  }
  throw new Error(`metric ${index} has no datatype`);
}

// ------------------------------------------------------------------- suite

describe("Sparkplug B conformance with Eclipse Tahu (Java) as the edge node", () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let dir: string;
  let manifest: ManifestMessage[];
  const groups: string[] = [];
  let watcher: MqttClient;
  const seen: { topic: string; payload: Buffer; retain: boolean }[] = [];

  beforeAll(async () => {
    buildTahuPeer();
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), "sfb-tahu-"));
    runTahuPeer(["publish", "-", "Plant1", EDGE, DEVICE, dir]);
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as ManifestMessage[];
    watcher = await mqtt.connectAsync(broker.url, { clientId: "conformance-watcher" });
    watcher.on("message", (topic, payload, packet) => seen.push({ topic, payload, retain: packet.retain }));
    await watcher.subscribeAsync(["spBv1.0/STATE/#", "spBv1.0/+/NCMD/#"], { qos: 1 });
  }, 600_000);

  afterAll(async () => {
    await watcher?.endAsync();
    await broker?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bin = (msg: ManifestMessage) => new Uint8Array(readFileSync(join(dir, msg.file)));

  it("Tahu's payloads cover every datatype of the specification", () => {
    const types = new Set<string>();
    const walk = (m: ManifestMetric) => {
      types.add(m.type);
      if (m.type === "Template") for (const member of (m.value as { metrics: ManifestMetric[] }).metrics) walk(member);
      if (m.type === "DataSet") for (const t of (m.value as { types: string[] }).types) types.add(`DataSet:${t}`);
      walkProperties(m.properties ?? {});
    };
    const walkProperties = (set: Record<string, { type: string; value: unknown }>) => {
      for (const p of Object.values(set)) {
        types.add(`Property:${p.type}`);
        if (p.type === "PropertySet") walkProperties(p.value as Record<string, { type: string; value: unknown }>);
        if (p.type === "PropertySetList") {
          for (const item of p.value as Record<string, { type: string; value: unknown }>[]) walkProperties(item);
        }
      }
    };
    for (const msg of manifest) for (const m of msg.metrics) walk(m);
    const scalars = ["Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float", "Double"];
    const all = [...scalars, "Boolean", "String", "DateTime", "Text"];
    for (const t of [...all, "UUID", "DataSet", "Bytes", "File", "Template"]) expect(types).toContain(t);
    for (const t of [...scalars, "Boolean", "String", "DateTime"]) expect(types).toContain(`${t}Array`);
    for (const t of all) expect(types).toContain(`DataSet:${t}`);
    for (const t of ["Int32", "String", "Double", "PropertySet", "PropertySetList"])
      expect(types).toContain(`Property:${t}`);
    const flags = manifest.flatMap((msg) => msg.metrics);
    expect(flags.some((m) => m.isHistorical)).toBe(true);
    expect(flags.some((m) => m.isTransient)).toBe(true);
    expect(flags.some((m) => m.value === null)).toBe(true);
    expect(flags.some((m) => m.type === "UInt64" && BigInt(m.value as string) > 2n ** 53n)).toBe(true);
  });

  it("every metric of every message decodes to exactly what Tahu says it encoded", () => {
    for (const msg of manifest) {
      const payload = decodePayload(bin(msg));
      expect(payload.problems, msg.file).toEqual([]);
      expect(payload.broken, msg.file).toBeUndefined();
      expect(payload.seq).toBe(msg.seq);
      expect(payload.timestamp).toBe(msg.timestamp);
      expect(JSON.parse(JSON.stringify(payload.metrics.map(canonMetric))), msg.file).toEqual(msg.metrics);
    }
  });

  it("payloads Tahu compressed (its PayloadUtil's DEFLATE, and GZIP with an algorithm metric) decode to the same metrics", () => {
    for (const how of ["deflate", "gzip"]) {
      const compressedDir = join(dir, how);
      runTahuPeer(["publish", "-", "Plant1", EDGE, DEVICE, compressedDir, how]);
      // Its own manifest: Tahu stamps metrics without a timestamp with the time it built them.
      const sent = JSON.parse(readFileSync(join(compressedDir, "manifest.json"), "utf8")) as ManifestMessage[];
      expect(sent.map((msg) => msg.file)).toEqual(manifest.map((msg) => msg.file));
      for (const msg of sent) {
        const bytes = new Uint8Array(readFileSync(join(compressedDir, msg.file)));
        // Compressed as Tahu sends it: no metric name of the payload is readable on the wire.
        expect(Buffer.from(bytes).includes(Buffer.from("Node Control/Rebirth"))).toBe(false);
        const payload = decodePayload(bytes);
        expect(payload.compressed, `${how} ${msg.file}`).toBe(how.toUpperCase());
        expect(payload.broken, `${how} ${msg.file}`).toBeUndefined();
        expect(payload.problems).toEqual([]);
        expect(payload.seq).toBe(msg.seq);
        expect(payload.timestamp).toBe(msg.timestamp);
        expect(JSON.parse(JSON.stringify(payload.metrics.map(canonMetric))), `${how} ${msg.file}`).toEqual(msg.metrics);
      }
    }
  });

  it("Tahu's decoder reads the sidecar's encoding of the same metrics as it reads its own", () => {
    // Our encoder, fed what we decoded from Tahu: Tahu's decoder must see the same payload both ways.
    const files: string[] = [];
    for (const msg of manifest) {
      const decoded = decodePayload(bin(msg));
      const ours = join(dir, `ours-${msg.file}`);
      writeFileSync(
        ours,
        encodeSparkplug({
          timestamp: decoded.timestamp as number,
          seq: decoded.seq as number,
          metrics: decoded.metrics.map((m) => ({ ...m, value: m.value as unknown })),
        }),
      );
      files.push(join(dir, msg.file), ours);
    }
    const read = JSON.parse(runTahuPeer(["decode", ...files])) as { seq: number; metrics: ManifestMetric[] }[];
    manifest.forEach((msg, i) => {
      const [theirs, again] = [read[2 * i], read[2 * i + 1]] as { seq: number; metrics: ManifestMetric[] }[];
      expect(again?.seq).toBe(msg.seq);
      expect(again?.metrics, msg.file).toEqual(theirs?.metrics);
      expect(again?.metrics.length).toBe(msg.metrics.length);
    });
  });

  function hostOptions(group: string, extra: Partial<SparkplugSourceOptions> = {}): SparkplugSourceOptions {
    const at = (device: string | undefined, metric: string) => metricAddress(group, EDGE, device, metric);
    const base = { protocol: "sparkplug" as const, source: "Plant1/Line1/Press03" };
    const rules: MappingRule[] = [
      {
        ...base,
        id: 1,
        kind: "counter",
        address: at(undefined, "Counter"),
        event_type: "production.reported",
        params: { order_address: at(DEVICE, "Order"), window_ms: 0 },
      },
      {
        ...base,
        id: 2,
        kind: "counter",
        address: at(undefined, "Scrap"),
        event_type: "scrap.reported",
        params: { order_address: at(DEVICE, "Order"), window_ms: 0 },
      },
      {
        ...base,
        id: 3,
        kind: "counter",
        address: at(DEVICE, "GoodCount"),
        event_type: "production.reported",
        params: { order_address: at(DEVICE, "Order"), window_ms: 0 },
      },
      // A Template member drives the state, a DataSet cell gives the reason.
      {
        ...base,
        id: 4,
        kind: "state",
        address: at(undefined, "Motor1/State"),
        event_type: "",
        params: {
          value_map: { Running: "running", Stopped: "down" },
          reason_address: at(undefined, "Recipe/0/cString"),
          order_address: at(DEVICE, "Order"),
        },
      },
    ];
    groups.push(group);
    return {
      connection: "tahu-spb",
      revision: 1,
      url: broker.url,
      groupId: group,
      hostId: `host-${group}`,
      clientId: `host-${group}`,
      rules,
      rebirthHoldMs: 500,
      flushIntervalMs: 100,
      ...extra,
    };
  }

  it("through Mosquitto into the SparkplugSource: every metric observed as Tahu encoded it, rules fed by Template members and DataSet cells", async () => {
    const outcomes: { topic: string; outcome: HostOutcome }[] = [];
    const sink = new MemorySink();
    const host = new SparkplugSource(
      hostOptions("Conf1", { onOutcome: (topic, outcome) => outcomes.push({ topic, outcome }) }),
    );
    await host.start(sink);
    try {
      runTahuPeer(["publish", broker.url, "Conf1", EDGE, DEVICE, join(dir, "conf1")]);
      const sent = JSON.parse(readFileSync(join(dir, "conf1", "manifest.json"), "utf8")) as ManifestMessage[];
      await expect.poll(() => outcomes.length, { timeout: 10_000 }).toBe(sent.length);
      const names = aliasNames(sent);
      sent.forEach((msg, i) => {
        const got = outcomes[i] as { topic: string; outcome: HostOutcome };
        expect(got.topic).toBe(msg.topic);
        expect(got.outcome.undecoded).toEqual([]);
        expect(got.outcome.rebirth).toBeUndefined();
        const scope = msg.topic.split("/").slice(3).join("/");
        const birthScope = msg.topic.includes("/NDATA/") ? EDGE : scope;
        const expected = expectedObservations(msg, names.get(birthScope) ?? new Map());
        expect(observed(got.outcome), msg.file).toEqual(expected);
      });
      // Historical values keep their own time.
      const historical = outcomes[2]?.outcome.historical[0];
      expect(historical?.sourceTime.getTime()).toBe(sent[2]?.metrics.find((m) => m.isHistorical)?.timestamp);

      // Counter 1000 → 1010 (the historical 990 is not counted), GoodCount 500 → 512, the
      // transient Scrap 50 moves nothing, Motor1/State Stopped → down with the DataSet cell's reason.
      await sink.waitFor(() => sink.ofType("downtime.started").length === 1, 10_000, "downtime");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 22, 10_000, "22 parts");
      expect(sink.ofType("production.reported").map((e) => [e.data.qty_good, e.data.order])).toEqual([
        [10, "WH/MO/00042"],
        [12, "WH/MO/00042"],
      ]);
      expect(sink.ofType("downtime.started")[0]?.data.reason_code).toBe("MATERIAL");
      expect(sink.ofType("scrap.reported")).toEqual([]);
      const stats = host.stats();
      expect(stats).toMatchObject({
        births: 2,
        seq_gaps: 0,
        malformed: 0,
        undecodable_metrics: 0,
        bad_quality: 1,
        historical_metrics: 1,
        transient_not_counted: 1,
        rebirth_commands_sent: 0,
      });
      expect(stats.null_values).toBeGreaterThanOrEqual(3);
      expect(sink.raw).toEqual([]);
    } finally {
      await host.stop();
    }
  });

  it("one metric made undecodable: the rest of the NBIRTH is used, that metric is rejected with its bytes, no Rebirth", async () => {
    const outcomes: HostOutcome[] = [];
    const sink = new MemorySink();
    const host = new SparkplugSource(hostOptions("Plant1", { onOutcome: (_t, outcome) => outcomes.push(outcome) }));
    await host.start(sink);
    const edge = await mqtt.connectAsync(broker.url, { clientId: "corrupting-edge" });
    try {
      const nbirth = manifest[0] as ManifestMessage;
      const index = nbirth.metrics.findIndex((m) => m.name === "Scalars/Int16");
      const bytes = bin(nbirth);
      const at = datatypeOffset(bytes, index);
      expect(bytes[at]).toBe(2); // Int16
      bytes[at] = 99;
      const ncmdBefore = seen.filter((s) => s.topic.includes("/NCMD/")).length;
      await edge.publishAsync(nbirth.topic, Buffer.from(bytes));
      await sink.waitFor(() => sink.raw.length === 1, 10_000, "the rejected metric");
      const [rejected] = sink.raw;
      expect(rejected?.kind).toBe("rejected");
      expect(rejected?.origin).toBe(nbirth.topic);
      expect(rejected?.kind === "rejected" && rejected.reason).toBe(
        `metric Scalars/Int16 (position ${index}) of NBIRTH ${EDGE} does not decode: unknown datatype 99`,
      );
      // The bytes are that metric's protobuf message: its name is in them.
      expect(Buffer.from(rejected?.payload ?? []).includes("Scalars/Int16")).toBe(true);
      const expected = expectedObservations(nbirth, new Map());
      expected.current.delete(metricAddress("Plant1", EDGE, undefined, "Scalars/Int16"));
      expect(observed(outcomes[0] as HostOutcome).current).toEqual(expected.current);
      await expect.poll(() => host.stats().undecodable_reported, { timeout: 5_000 }).toBe(1);
      expect(host.stats()).toMatchObject({ undecodable_metrics: 1, rebirth_commands_sent: 0 });
      await sleep(500);
      expect(seen.filter((s) => s.topic.includes("/NCMD/")).length).toBe(ncmdBefore);
    } finally {
      await edge.endAsync();
      await host.stop();
    }
  });

  it("a passive host publishes no STATE and asks no Rebirth, yet follows births and seq and reports the gap", async () => {
    const sink = new MemorySink();
    const options = hostOptions("Passive1", { role: "passive", hostId: "passive-host" });
    const host = new SparkplugSource(options);
    await host.start(sink);
    const edge = await mqtt.connectAsync(broker.url, { clientId: "passive-test-edge" });
    try {
      // Data before any BIRTH (a primary host would ask for a Rebirth here).
      const ndata = manifest[2] as ManifestMessage;
      await edge.publishAsync(`spBv1.0/Passive1/NDATA/${EDGE}`, Buffer.from(bin(ndata)));
      await expect.poll(() => host.stats().unborn_data, { timeout: 5_000 }).toBe(1);
      runTahuPeer(["publish", broker.url, "Passive1", EDGE, DEVICE, join(dir, "passive")]);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 22, 10_000, "22 parts");
      // A seq gap: the NDATA again (seq 2 after 3).
      await edge.publishAsync(`spBv1.0/Passive1/NDATA/${EDGE}`, Buffer.from(bin(ndata)));
      await expect.poll(() => host.stats().seq_gaps, { timeout: 5_000 }).toBe(1);
      await sleep(500);
      expect(host.stats()).toMatchObject({
        births: 2,
        rebirths_requested: 0,
        rebirths_left_to_primary: 2,
        rebirth_commands_sent: 0,
        state_published: 0,
      });
      expect(seen.filter((s) => s.topic === "spBv1.0/STATE/passive-host")).toEqual([]);
      expect(seen.filter((s) => s.topic.startsWith("spBv1.0/Passive1/NCMD/"))).toEqual([]);
    } finally {
      await edge.endAsync();
      await host.stop();
    }
    // Stopping publishes no offline STATE either.
    await sleep(300);
    expect(seen.filter((s) => s.topic === "spBv1.0/STATE/passive-host")).toEqual([]);
  });

  it("the primary host on the same broker does publish its STATE (the watcher sees it)", () => {
    expect(seen.some((s) => s.topic === "spBv1.0/STATE/host-Conf1")).toBe(true);
    expect(groups).toContain("Passive1");
  });
});
