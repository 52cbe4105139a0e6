import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  kepwarePayload,
  kepwareValuesMapping,
  mapping,
  payloadCounterRule,
  RECORDS_TO_EVENTS,
  T0,
} from "../../test/support/mapping/mapping.fixtures.ts";
import { MemorySpool } from "../../test/support/spool/memory-spool.ts";
import { OffsetEstimator, SkewTracker } from "../core/clock.ts";
import type { CloudEvent, IngestItem, PayloadMapping, RejectedInput, SidecarConfig } from "../core/contract.ts";
import type { AcceptReport, Intake, SourceSink } from "../core/ports.ts";
import { Pipeline } from "../pipeline.ts";
import { MappingStage } from "./stage.ts";

const COUNT = "Channel1.Device1.Count";
const TOPIC = "kepware/line1";

function config(maps: PayloadMapping[], rules = [payloadCounterRule(COUNT)], revision = 5): SidecarConfig {
  return {
    code: "line1",
    revision,
    skew: { bound_ms: 0, correct: false },
    sources: [],
    rules,
    payload_maps: maps,
  } as unknown as SidecarConfig;
}

function make(maps: PayloadMapping[], rules = [payloadCounterRule(COUNT)], spool = new MemorySpool()) {
  const pipeline = new Pipeline({
    spool,
    offset: new OffsetEstimator(),
    skew: new SkewTracker(),
    config: config(maps),
  });
  const stage = new MappingStage({ sink: pipeline, config: config(maps, rules) });
  return { spool, pipeline, stage };
}

function raw(payload: string | Uint8Array, origin = TOPIC, transport: "mqtt" | "http" = "mqtt"): Intake {
  const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
  return { kind: "raw", payload: bytes, origin, receivedAt: new Date(T0 + 1000), via: { transport } };
}

async function spooled(spool: MemorySpool): Promise<IngestItem[]> {
  return (await spool.queued(10_000)).map((entry) => entry.item);
}

const events = (items: IngestItem[]) => items.filter((i): i is CloudEvent => !("rejected" in i));
const rejected = (items: IngestItem[]) => items.filter((i): i is RejectedInput => "rejected" in i);

const cloudEvent = {
  specversion: "1.0",
  id: "ce-1",
  source: "plant1/line1/press-01",
  type: "downtime.started",
  time: "2026-11-22T06:00:00.000Z",
  data: { reason_code: "JAM" },
};

const recordsPayload = JSON.stringify({
  line: "line1",
  records: [
    { order: "WH/MO/00042", good: 5, at: T0 },
    { order: "WH/MO/00043", good: 2, at: T0 + 60_000 },
  ],
});

describe("MappingStage, events mappings", () => {
  it("turns a payload into events, stamped and spooled; the report counts them for the original item", async () => {
    const { spool, stage } = make([mapping({ match: "kepware/#", expression: RECORDS_TO_EVENTS })]);
    const report = await stage.accept([raw(recordsPayload)]);
    expect(report).toEqual({ items: [{ status: "events", count: 2 }], duplicates: 0 });
    const items = await spooled(spool);
    expect(events(items).map((e) => [e.source, e.data.order, e.connection, e.mappingrev])).toEqual([
      ["plant1/line1", "WH/MO/00042", "line1", 5],
      ["plant1/line1", "WH/MO/00043", "line1", 5],
    ]);
  });

  it("a resend of the same payload is a duplicate, not new events", async () => {
    const { spool, stage } = make([mapping({ expression: RECORDS_TO_EVENTS })]);
    await stage.accept([raw(recordsPayload)]);
    const again = await stage.accept([raw(recordsPayload)]);
    expect(again?.duplicates).toBe(2);
    expect(await spooled(spool)).toHaveLength(2);
  });

  it("a payload that yields no event is consumed: count 0, nothing spooled", async () => {
    const { spool, stage } = make([mapping({ expression: "records" })]);
    expect(await stage.accept([raw("{}")])).toEqual({ items: [{ status: "events", count: 0 }], duplicates: 0 });
    expect(await spooled(spool)).toEqual([]);
  });

  it.each([
    ["a mapping that throws", "$error('no such tag')", "failed: D3137 no such tag"],
    ["garbage output", "'hello'", 'yields a string ("hello")'],
    ["a loop", "( $f := function($x){ $f($x) }; $f(1) )", "exceeded"],
    [
      "an event that fails the schema",
      "{'source': 's', 'type': 'workorder.exploded', 'time': $receivedAt, 'data': {}}",
      "event 0 (workorder.exploded from s): schema: /type must be equal to one of the allowed values",
    ],
    [
      "an event whose data lacks a required field",
      "{'source': 's', 'type': 'production.reported', 'time': $receivedAt, 'data': {'qty_good': 1}}",
      "schema: /data must have required property 'order'",
    ],
  ])("%s: the payload is rejected with the mapping's reason and its bytes", async (_, expression, reason) => {
    const { spool, stage } = make([mapping({ name: "bad one", expression })]);
    const payload = '{"line":"line1"}';
    const report = await stage.accept([raw(payload)]);
    expect(report?.items[0]).toEqual({ status: "rejected", reason: expect.stringContaining(reason) });
    const [item] = rejected(await spooled(spool));
    expect(item?.reason).toContain('mapping "bad one" (id 1, revision 1)');
    expect(item?.reason).toContain(reason);
    expect(Buffer.from(item?.raw_b64 ?? "", "base64").toString()).toBe(payload);
    expect(item?.source).toBe(TOPIC);
  });

  it("one bad payload does not hold up the others of the same batch", async () => {
    const { spool, stage } = make([mapping({ expression: RECORDS_TO_EVENTS })]);
    const report = await stage.accept([raw("{oops"), raw(recordsPayload), raw('{"line":"x"}')]);
    expect(report?.items.map((i) => i.status)).toEqual(["rejected", "events", "events"]);
    expect(report?.items[2]).toEqual({ status: "events", count: 0 });
    const items = await spooled(spool);
    expect(events(items)).toHaveLength(2);
    expect(rejected(items)[0]?.reason).toContain("not JSON");
  });

  it("the first mapping whose transport and pattern match takes the payload", async () => {
    const first = mapping({ id: 1, name: "first", transport: "http", match: "#", expression: "$error('http one')" });
    const second = mapping({ id: 2, name: "second", match: "kepware/+", expression: RECORDS_TO_EVENTS });
    const third = mapping({ id: 3, name: "third", match: "#", expression: "$error('too late')" });
    const { stage } = make([first, second, third]);
    expect((await stage.accept([raw(recordsPayload)]))?.items[0]).toEqual({ status: "events", count: 2 });
    expect((await stage.accept([raw(recordsPayload, "other/topic")]))?.items[0]).toMatchObject({
      reason: expect.stringContaining('mapping "third"'),
    });
    expect((await stage.accept([raw(recordsPayload, "api/records", "http")]))?.items[0]).toMatchObject({
      reason: expect.stringContaining('mapping "first"'),
    });
  });
});

describe("MappingStage, pass-through", () => {
  it("a CloudEvent on a topic no mapping takes goes the CloudEvent path", async () => {
    const { spool, stage } = make([mapping({ match: "kepware/#", expression: "$error('no')" })]);
    const report = await stage.accept([raw(JSON.stringify(cloudEvent), "shopfloor/line1")]);
    expect(report).toEqual({ items: [{ status: "events", count: 1 }], duplicates: 0 });
    expect(events(await spooled(spool))[0]).toMatchObject({ id: "ce-1", connection: "line1" });
  });

  it("a payload no mapping takes and that is no CloudEvent is rejected, and the reason says no mapping matched", async () => {
    const { spool, stage } = make([mapping({ match: "kepware/#" })]);
    const report = await stage.accept([raw("120", "plant1/line1/GoodCount")]);
    expect(report?.items[0]).toMatchObject({ status: "rejected" });
    expect(rejected(await spooled(spool))[0]?.reason).toBe(
      'schema: (envelope) must be object (not a CloudEvent, and no payload mapping of this connection matches mqtt "plant1/line1/GoodCount")',
    );
  });

  it("input without a transport, events and rejected items pass unchanged with the sources' rule state", async () => {
    const received: { items: Intake[]; state?: Record<string, unknown> }[] = [];
    const sink: SourceSink = {
      accept: async (items, state) => {
        received.push({ items, state });
        return undefined;
      },
      loadState: async () => ({}),
    };
    const stage = new MappingStage({ sink, config: config([mapping()]) });
    const items: Intake[] = [
      { kind: "raw", payload: Buffer.from("{}"), origin: "x", receivedAt: new Date() },
      { kind: "event", event: cloudEvent as CloudEvent },
      { kind: "rejected", payload: Buffer.from("x"), origin: "y", receivedAt: new Date(), reason: "bad" },
    ];
    await stage.accept(items, { "opcua/line1/rule/1": { baseline: 4 } });
    expect(received).toEqual([{ items, state: { "opcua/line1/rule/1": { baseline: 4 } } }]);
  });
});

describe("MappingStage, values mappings", () => {
  const counterPayload = (count: number, t = T0) => kepwarePayload([{ id: COUNT, v: count, t }], t);

  it("feed the payload rules; rule state commits with the events it produced", async () => {
    const { spool, stage } = make([kepwareValuesMapping()]);
    expect((await stage.accept([raw(counterPayload(100))]))?.items[0]).toEqual({ status: "events", count: 0 });
    const report = await stage.accept([raw(counterPayload(120, T0 + 5000))]);
    expect(report?.items[0]).toEqual({ status: "events", count: 1 });
    expect(events(await spooled(spool))[0]).toMatchObject({
      type: "production.reported",
      source: "plant1/line1/press-01",
      time: new Date(T0 + 5000).toISOString(),
      data: { order: "WH/MO/00042", qty_good: 20 },
    });
    expect(await spool.loadState("payload/line1/")).toEqual({
      "payload/line1/rule/101": { kind: "counter", baseline: 120 },
    });
  });

  it("a new stage on the same spool goes on from the committed baseline: no loss, no double count", async () => {
    const spool = new MemorySpool();
    const first = make([kepwareValuesMapping()], undefined, spool).stage;
    await first.accept([raw(counterPayload(100))]);
    await first.accept([raw(counterPayload(110, T0 + 1000))]);
    const second = make([kepwareValuesMapping()], undefined, spool).stage;
    await second.accept([raw(counterPayload(110, T0 + 1000))]); // redelivered
    await second.accept([raw(counterPayload(125, T0 + 2000))]);
    expect(events(await spooled(spool)).map((e) => e.data.qty_good)).toEqual([10, 15]);
  });

  it("values no rule reads are counted as dropped by scope", async () => {
    const { spool, stage } = make([kepwareValuesMapping()]);
    await stage.accept([raw(kepwarePayload([{ id: "Channel1.Device1.Temperature", v: 71.5 }]))]);
    expect(await spooled(spool)).toEqual([]);
    expect(stage.stats()).toMatchObject({ payload_mapped: 1, payload_values: 1, payload_unmapped_values: 1 });
  });

  it("a value a rule cannot use: the payload is kept as rejected with the rule's reason, the rest is used", async () => {
    const rules = [payloadCounterRule(COUNT), payloadCounterRule("Channel1.Device1.Scrap", {}, 102)];
    const { spool, stage } = make([kepwareValuesMapping()], rules);
    await stage.accept([
      raw(
        kepwarePayload([
          { id: COUNT, v: 1 },
          { id: "Channel1.Device1.Scrap", v: 0 },
        ]),
      ),
    ]);
    const payload = kepwarePayload([
      { id: COUNT, v: 4 },
      { id: "Channel1.Device1.Scrap", v: "lots" },
    ]);
    const report = await stage.accept([raw(payload)]);
    expect(report?.items[0]).toEqual({
      status: "rejected",
      reason:
        'mapping "kepware values" (id 11, revision 1): counter Channel1.Device1.Scrap: not a non-negative integer: lots',
    });
    const items = await spooled(spool);
    expect(events(items).map((e) => e.data.qty_good)).toEqual([3]);
    expect(Buffer.from(rejected(items)[0]?.raw_b64 ?? "", "base64").toString()).toBe(payload);
  });

  it("scale, offset and unit apply to payload rules", async () => {
    const rules = [payloadCounterRule(COUNT, { scale: 10, unit: "PCS" })];
    const { spool, stage } = make([kepwareValuesMapping()], rules);
    await stage.accept([raw(counterPayload(1))]);
    await stage.accept([raw(counterPayload(3, T0 + 1))]);
    expect(events(await spooled(spool))[0]?.data).toEqual({ order: "WH/MO/00042", qty_good: 20, uom: "PCS" });
  });

  it("counter windows close on flush when no further payload comes", async () => {
    const rules = [payloadCounterRule(COUNT, { window_ms: 60_000 })];
    const { spool, stage } = make([kepwareValuesMapping()], rules);
    await stage.accept([raw(counterPayload(0))]);
    await stage.accept([raw(counterPayload(7, T0 + 1000))]);
    expect(await spooled(spool)).toEqual([]);
    await stage.flush(new Date(Date.now() + 120_000));
    expect(events(await spooled(spool)).map((e) => e.data.qty_good)).toEqual([7]);
    expect(await spool.loadState("payload/line1/")).toEqual({
      "payload/line1/rule/101": { kind: "counter", baseline: 7 },
    });
    await stage.close();
  });

  it("a commit that failed is not counted in memory: the redelivered payload yields the events", async () => {
    const spool = new MemorySpool();
    const pipeline = new Pipeline({
      spool,
      offset: new OffsetEstimator(),
      skew: new SkewTracker(),
      config: config([]),
    });
    // A commit failure a real spool gives only on a broken disk: this sink fails one commit on purpose.
    let failNext = false;
    const sinkFailingOnce: SourceSink = {
      accept: (items, state) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("disk full (made to fail)"));
        }
        return pipeline.accept(items, state);
      },
      loadState: (prefix) => pipeline.loadState(prefix),
    };
    const stage = new MappingStage({ sink: sinkFailingOnce, config: config([kepwareValuesMapping()]) });
    await stage.accept([raw(counterPayload(100))]);
    failNext = true;
    await expect(stage.accept([raw(counterPayload(130, T0 + 1))])).rejects.toThrow("made to fail");
    await stage.accept([raw(counterPayload(130, T0 + 1))]); // the broker redelivers it
    expect(events(await spooled(spool)).map((e) => e.data.qty_good)).toEqual([30]);
    expect(stage.stats().payload_commit_errors).toBe(1);
  });
});

describe("MappingStage, order and reload", () => {
  it("accepts reach the sink in the order they were made, a slow mapping first or not", async () => {
    const order: string[] = [];
    const sink: SourceSink = {
      accept: async (items) => {
        for (const item of items) order.push(item.kind === "event" ? item.event.source : item.kind);
        return undefined;
      },
      loadState: async () => ({}),
    };
    const slow = mapping({
      match: "slow",
      expression:
        "( $sum([1..50000]); {'source': 'slow', 'type': 'scrap.reported', 'time': $receivedAt, 'data': {'qty': 1}} )",
    });
    const stage = new MappingStage({ sink, config: config([slow]) });
    await Promise.all([
      stage.accept([raw("{}", "slow")]),
      stage.accept([{ kind: "event", event: { ...cloudEvent, source: "fast" } as CloudEvent }]),
    ]);
    expect(order).toEqual(["slow", "fast"]);
  });

  it("setConfig: the new mappings apply to what arrives next", async () => {
    const { spool, stage } = make([mapping({ expression: "$error('old')" })]);
    await stage.accept([raw(recordsPayload)]);
    stage.setConfig(config([mapping({ revision: 6, expression: RECORDS_TO_EVENTS })], [], 6));
    expect((await stage.accept([raw(recordsPayload)]))?.items[0]).toEqual({ status: "events", count: 2 });
    expect(rejected(await spooled(spool))[0]?.reason).toContain("old");
  });

  it("a mapping that loops does not stall the stage: the next payload is mapped at once", async () => {
    const loop = mapping({ id: 1, match: "loop", expression: "( $f := function($x){ $f($x) }; $f(1) )" });
    const good = mapping({ id: 2, match: "kepware/#", expression: RECORDS_TO_EVENTS });
    const { stage } = make([loop, good]);
    const started = Date.now();
    const reports = await Promise.all([stage.accept([raw("{}", "loop")]), stage.accept([raw(recordsPayload)])]);
    expect(reports.map((r) => r?.items[0]?.status)).toEqual(["rejected", "events"]);
    // Two tries of at most 100 ms for the loop (a time limit is tried twice), then the good one.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("a mapping that keeps running out of time is paused, its payloads kept as rejected, then tried again", async () => {
    let now = T0;
    const loop = mapping({ id: 1, match: "loop", expression: "( $f := function($x){ $f($x) }; $f(1) )" });
    const spool = new MemorySpool();
    const pipeline = new Pipeline({
      spool,
      offset: new OffsetEstimator(),
      skew: new SkewTracker(),
      config: config([]),
    });
    const stage = new MappingStage({
      sink: pipeline,
      config: config([loop]),
      limits: { timeoutMs: 20 },
      now: () => now,
    });
    const started = Date.now();
    for (let i = 0; i < 6; i++) await stage.accept([raw(`{"n":${i}}`, "loop")]);
    const reasons = rejected(await spooled(spool)).map((r) => r.reason);
    expect(reasons).toHaveLength(6);
    expect(reasons.slice(0, 3).every((r) => r.includes("exceeded 20 ms"))).toBe(true);
    expect(reasons[3]).toContain("not run: it exceeded the time limit on its last 3 payloads");
    expect(stage.stats()).toMatchObject({ payload_time_retries: 3, payload_skipped_slow: 3, payload_failures: 6 });
    // Three payloads ran (two tries each), three did not.
    expect(Date.now() - started).toBeLessThan(6 * 2 * 20 + 2_000);
    now += 61_000;
    await stage.accept([raw('{"n":6}', "loop")]);
    expect(stage.stats()).toMatchObject({ payload_time_retries: 4, payload_skipped_slow: 3 });
    // A new revision runs at once.
    stage.setConfig(config([{ ...loop, revision: 2, expression: RECORDS_TO_EVENTS }], [], 6));
    expect((await stage.accept([raw(recordsPayload, "loop")]))?.items[0]).toEqual({ status: "events", count: 2 });
  });

  it("an invalid topic filter takes nothing and is said once in the log", () => {
    const logged: string[] = [];
    const sink: SourceSink = { accept: async () => undefined, loadState: async () => ({}) };
    const bad = mapping({ match: "a/#/b" });
    const stage = new MappingStage({ sink, config: config([bad]), log: (_, message) => logged.push(message) });
    stage.setConfig(config([bad]));
    expect(logged).toEqual([
      'mapping "test mapping" (id 1, revision 1) takes nothing: "#" must be a whole level and the last one: a/#/b',
    ]);
  });
});

it("a sink that reports nothing gets no report made up for it", async () => {
  const sink: SourceSink = { accept: async () => undefined, loadState: async () => ({}) };
  const stage = new MappingStage({ sink, config: config([mapping({ expression: RECORDS_TO_EVENTS })]) });
  const report: AcceptReport | undefined = await stage.accept([raw(recordsPayload)]);
  expect(report).toBeUndefined();
});

describe("MappingStage, nothing dropped", () => {
  const COUNTER_TAGS = ["Channel1.Device1.Count", "Channel1.Device1.Scrap"];
  const maps = [
    mapping({ id: 1, name: "records", match: "mes/+/records", expression: RECORDS_TO_EVENTS }),
    kepwareValuesMapping({ id: 2, match: "kepware/#" }),
    mapping({ id: 3, name: "broken", match: "broken/#", expression: "$error('broken')" }),
    mapping({ id: 4, name: "garbage", match: "garbage/#", expression: "[1, 'two', {'x': 3}]" }),
  ];
  const rules = COUNTER_TAGS.map((tag, i) => payloadCounterRule(tag, {}, 200 + i));
  const input = fc.oneof(
    fc
      .array(fc.record({ order: fc.constantFrom("WH/MO/1", "WH/MO/2"), good: fc.nat(50) }), { maxLength: 3 })
      .map((rows) => ({ topic: "mes/line1/records", body: (n: number) => recordsOf(rows, n) })),
    fc.constant({ topic: "kepware/line1", body: (n: number) => counterMessage(n) }),
    fc.constant({ topic: "broken/x", body: (n: number) => `{"n":${n}}` }),
    fc.constant({ topic: "garbage/x", body: (n: number) => `{"n":${n}}` }),
    fc.constant({ topic: "mes/line1/records", body: (n: number) => `{oops ${n}` }),
    fc.constant({ topic: "shopfloor/line1", body: (n: number) => JSON.stringify({ ...cloudEvent, id: `ce-${n}` }) }),
    fc.constant({ topic: "shopfloor/line1", body: (n: number) => `plain text ${n}` }),
  );
  function recordsOf(rows: { order: string; good: number }[], n: number): string {
    return JSON.stringify({ line: "line1", records: rows.map((r, i) => ({ ...r, at: T0 + n * 1000 + i })) });
  }
  /** Counters only rise: every Kepware message is a change of both. */
  function counterMessage(n: number): string {
    return kepwarePayload(
      COUNTER_TAGS.map((id) => ({ id, v: n + 1 })),
      T0 + n * 1000,
    );
  }

  it("every input item is reported, and the spool holds exactly what the reports say", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(input, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }),
        async (batches) => {
          const { spool, stage } = make(maps, rules);
          let n = 0;
          let expectedEvents = 0;
          let expectedRejected = 0;
          const reports = await Promise.all(
            batches.map((batch) =>
              stage.accept(batch.map((one) => raw(one.body(n++), one.topic))).then((report) => ({ batch, report })),
            ),
          );
          let firstKepware = true;
          for (const { batch, report } of reports) {
            expect(report?.items).toHaveLength(batch.length);
            for (const [i, item] of (report?.items ?? []).entries()) {
              if (item.status === "rejected") expectedRejected++;
              else expectedEvents += item.count;
              // The first Kepware message only sets the counters' baselines.
              if (batch[i]?.topic === "kepware/line1") {
                expect(item).toEqual({ status: "events", count: firstKepware ? 0 : COUNTER_TAGS.length });
                firstKepware = false;
              }
            }
          }
          const items = await spooled(spool);
          expect(events(items)).toHaveLength(expectedEvents);
          expect(rejected(items)).toHaveLength(expectedRejected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
