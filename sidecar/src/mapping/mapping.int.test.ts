// Payload mappings through a real broker: Mosquitto → MqttSource →
// MappingStage → Pipeline → SQLite spool, as the sidecar wires them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import {
  kepwarePayload,
  kepwareValuesMapping,
  mapping,
  payloadCounterRule,
  RECORDS_TO_EVENTS,
  T0,
} from "../../test/support/mapping/mapping.fixtures.ts";
import { OffsetEstimator, SkewTracker } from "../core/clock.ts";
import type { CloudEvent, RejectedInput, SidecarConfig } from "../core/contract.ts";
import type { SourceSink } from "../core/ports.ts";
import { Pipeline } from "../pipeline.ts";
import { MqttSource } from "../sources/mqtt.ts";
import { SqliteSpool } from "../spool/sqlite-spool.ts";
import { MappingStage } from "./stage.ts";
import { mqttSubscriptions } from "./subscriptions.ts";

const COUNT = "Channel1.Device1.Count";
const SCRAP = "Channel1.Device1.Scrap";

const maps = [
  kepwareValuesMapping({ id: 1, match: "kepware/+/values" }),
  mapping({
    id: 2,
    name: "mes records",
    match: "mes/records",
    expression: RECORDS_TO_EVENTS,
    id_fields: ["data.order", "time"],
  }),
  mapping({ id: 3, name: "looping", match: "loop/#", expression: "( $f := function($x){ $f($x) }; $f(1) )" }),
];

const config = {
  code: "line1",
  name: "line1",
  kind: "mqtt",
  revision: 9,
  skew: { bound_ms: 0, correct: false },
  sources: [{ source: "plant1/line1/press-01", workcenter: "WC-PRESS" }],
  rules: [
    payloadCounterRule(COUNT, { unit: "PCS" }),
    { ...payloadCounterRule(SCRAP, {}, 102), event_type: "scrap.reported" },
  ],
  payload_maps: maps,
} as unknown as SidecarConfig;

describe("payload mappings through Mosquitto into the spool", () => {
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  const dir = mkdtempSync(join(tmpdir(), "sfb-mapping-"));
  let spool: SqliteSpool;

  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await mqtt.connectAsync(broker.url, { clientId: `sfb-mapping-pub-${process.pid}`, protocolVersion: 5 });
    spool = new SqliteSpool({ path: join(dir, "spool.db") });
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await broker?.destroy();
    await spool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The sidecar's chain on one spool; a second chain on the same spool is a
   * restarted sidecar. `frozen()` true makes commits hang for ever, as in a
   * process killed before its commit.
   */
  async function chain(frozen: () => boolean = () => false) {
    const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
    const sink: SourceSink = {
      accept: (items, state) => (frozen() ? new Promise(() => {}) : pipeline.accept(items, state)),
      loadState: (prefix) => pipeline.loadState(prefix),
    };
    const stage = new MappingStage({ sink, config });
    const source = new MqttSource({
      url: broker.url,
      topics: mqttSubscriptions(["shopfloor/#"], maps),
      clientId: `sfb-mapping-${process.pid}`,
      protocolVersion: 5,
    });
    await source.start(stage);
    return { pipeline, stage, source };
  }

  async function spooled() {
    const items = (await spool.queued(10_000)).map((entry) => entry.item);
    return {
      events: items.filter((i): i is CloudEvent => !("rejected" in i)),
      rejected: items.filter((i): i is RejectedInput => "rejected" in i),
    };
  }

  const publish = (topic: string, payload: string) => publisher.publishAsync(topic, payload, { qos: 1 });

  it("Kepware values drive counter rules, bad payloads are kept as rejected, and the chain keeps going", async () => {
    const { source, stage } = await chain();
    try {
      await publish(
        "kepware/line1/values",
        kepwarePayload(
          [
            { id: COUNT, v: 100 },
            { id: SCRAP, v: 3 },
          ],
          T0,
        ),
      );
      await publish(
        "kepware/line1/values",
        kepwarePayload(
          [
            { id: COUNT, v: 120 },
            { id: SCRAP, v: 4 },
          ],
          T0 + 60_000,
        ),
      );
      await publish("kepware/line1/values", "{oops"); // not JSON
      await publish("loop/line1", "{}"); // a mapping that never ends
      await publish("kepware/line1/values", kepwarePayload([{ id: COUNT, v: 150, q: true }], T0 + 120_000));
      await publish("plant1/line1/GoodCount", "7"); // no mapping, no subscription: never arrives
      const record = { order: "WH/MO/00042", good: 12, at: T0 + 130_000 };
      await publish("mes/records", JSON.stringify({ line: "line1", records: [record] }));
      await publish(
        "shopfloor/line1/events",
        JSON.stringify({
          specversion: "1.0",
          id: "ce-7",
          source: "plant1/line1/press-01",
          type: "downtime.started",
          time: new Date(T0 + 140_000).toISOString(),
          data: { reason_code: "JAM" },
        }),
      );
      await expect.poll(async () => (await spooled()).events.length, { timeout: 10_000 }).toBe(5);
      await expect.poll(async () => (await spooled()).rejected.length, { timeout: 10_000 }).toBe(2);
      const { events, rejected } = await spooled();
      // The spool gives them out per work center; in source time order here.
      events.sort((a, b) => a.time.localeCompare(b.time) || a.type.localeCompare(b.type));
      expect(events.map((e) => [e.type, e.data.qty_good ?? e.data.qty, e.data.uom ?? null])).toEqual([
        ["production.reported", 20, "PCS"],
        ["scrap.reported", 1, null],
        ["production.reported", 30, "PCS"],
        ["production.reported", 12, null],
        ["downtime.started", undefined, null],
      ]);
      expect(events.every((e) => e.connection === "line1" && e.mappingrev === 9)).toBe(true);
      expect(events[0]?.time).toBe(new Date(T0 + 60_000).toISOString());
      rejected.sort((a, b) => a.observedtime.localeCompare(b.observedtime));
      const reasons = rejected.map((r) => [r.source, r.reason]);
      expect(reasons[0]).toEqual(["kepware/line1/values", expect.stringContaining('mapping "kepware values"')]);
      expect(reasons[0]?.[1]).toContain("not JSON");
      expect(reasons[1]).toEqual(["loop/line1", expect.stringMatching(/mapping "looping" .* exceeded/)]);
      expect(Buffer.from(rejected[0]?.raw_b64 ?? "", "base64").toString()).toBe("{oops");
      expect(stage.stats()).toMatchObject({ payload_mapped: 6, payload_failures: 2 });
      expect(source.stats()).toMatchObject({ received: 7, acked: 7 });
      expect(await spool.loadState("payload/line1/")).toEqual({
        "payload/line1/rule/101": { kind: "counter", baseline: 150 },
        "payload/line1/rule/102": { kind: "counter", baseline: 4 },
      });
    } finally {
      await source.stop();
      await stage.close();
    }
  });

  it("a restarted chain goes on from the committed counters: a resend is no second count", async () => {
    const { source, stage } = await chain();
    try {
      const known = new Set((await spooled()).events.map((e) => e.id));
      await publish("kepware/line1/values", kepwarePayload([{ id: COUNT, v: 150 }], T0 + 120_000)); // resent
      await publish("kepware/line1/values", kepwarePayload([{ id: COUNT, v: 175 }], T0 + 180_000));
      await publish(
        "mes/records",
        JSON.stringify({ line: "line1", records: [{ order: "WH/MO/00042", good: 12, at: T0 + 130_000 }] }),
      );
      await expect.poll(() => source.stats().acked, { timeout: 10_000 }).toBe(3);
      const { events } = await spooled();
      expect(events.filter((e) => !known.has(e.id)).map((e) => e.data.qty_good)).toEqual([25]);
    } finally {
      await source.stop();
      await stage.close();
    }
  });

  it("killed between receive and commit, a mapped payload is redelivered and counted once", async () => {
    const state = await spool.loadState("payload/line1/");
    const baseline = (state["payload/line1/rule/101"] as { baseline: number }).baseline;
    let frozen = false;
    const first = await chain(() => frozen);
    const known = new Set((await spooled()).events.map((e) => e.id));
    const before = known.size;
    await publish("kepware/line1/values", kepwarePayload([{ id: COUNT, v: baseline + 10 }], T0 + 200_000));
    await expect.poll(() => first.source.stats().acked, { timeout: 10_000 }).toBe(1);
    frozen = true;
    await publish("kepware/line1/values", kepwarePayload([{ id: COUNT, v: baseline + 40 }], T0 + 260_000));
    await expect.poll(() => first.source.stats().received, { timeout: 10_000 }).toBe(2);
    await first.source.abort(); // no PUBACK for the second message: the broker keeps it
    const second = await chain();
    try {
      await expect.poll(async () => (await spooled()).events.length - before, { timeout: 10_000 }).toBe(2);
      await new Promise((r) => setTimeout(r, 300));
      const { events } = await spooled();
      const added = events.filter((e) => !known.has(e.id)).map((e) => e.data.qty_good);
      expect(added.sort((a, b) => Number(a) - Number(b))).toEqual([10, 30]);
      expect(second.source.stats()).toMatchObject({ received: 1, acked: 1 });
    } finally {
      await second.source.stop();
      await second.stage.close();
    }
  });
});
