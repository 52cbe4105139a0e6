import { describe, expect, it } from "vitest";
import { MemorySpool } from "../test/support/spool/memory-spool.ts";
import { OffsetEstimator, SkewTracker } from "./core/clock.ts";
import type { RejectedInput, SidecarConfig } from "./core/contract.ts";
import { Pipeline, stampedText } from "./pipeline.ts";

const config = {
  code: "line1",
  revision: 4,
  skew: { bound_ms: 1_000, correct: false },
  sources: [{ source: "press-1", workcenter: "WC-PRESS" }],
} as SidecarConfig;

function make() {
  const spool = new MemorySpool();
  const offset = new OffsetEstimator();
  offset.add({ sentAt: 1_000, receivedAt: 1_000, serverTime: 3_000 }); // Odoo 2 s ahead
  return { spool, pipeline: new Pipeline({ spool, offset, skew: new SkewTracker(), config }) };
}

const event = {
  specversion: "1.0",
  id: "e1",
  source: "press-1",
  type: "downtime.started",
  time: "2026-11-22T08:00:00.000Z",
  data: { reason_code: "JAM" },
};

describe("Pipeline", () => {
  it("stamps valid events with canonical observed time, connection, revision, skew and workcenter", async () => {
    const { spool, pipeline } = make();
    const receivedAt = new Date("2026-11-22T08:00:00.500Z");
    await pipeline.accept([{ kind: "raw", payload: Buffer.from(JSON.stringify(event)), origin: "t", receivedAt }]);
    const [entry] = await spool.queued(10);
    expect(entry?.workcenter).toBe("WC-PRESS");
    expect(entry?.timeMs).toBe(Date.parse(event.time));
    expect(entry?.item).toMatchObject({
      id: "e1",
      observedtime: "2026-11-22T08:00:02.500Z",
      connection: "line1",
      mappingrev: 4,
      skewms: 2_500,
      clockflag: true,
    });
    expect(pipeline.counters).toEqual({ events: 1, rejected: 0, duplicates: 0 });
  });

  it("spools bad input as RejectedInput, and a resend as a duplicate", async () => {
    const { spool, pipeline } = make();
    const bad = { kind: "raw" as const, payload: Buffer.from("{oops"), origin: "shopfloor/x", receivedAt: new Date() };
    await pipeline.accept([bad]);
    await pipeline.accept([{ ...bad, receivedAt: new Date(Date.now() + 5_000) }]);
    const queued = await spool.queued(10);
    expect(queued).toHaveLength(1);
    const item = queued[0]?.item as RejectedInput;
    expect(item.rejected).toBe(true);
    expect(item.connection).toBe("line1");
    expect(item.reason).toMatch(/not JSON/);
    expect(pipeline.counters).toEqual({ events: 0, rejected: 2, duplicates: 1 });
  });

  it("spools input a source rejected with the source's reason, the bytes kept, the origin as the source", async () => {
    const { spool, pipeline } = make();
    const payload = Buffer.from([0x08, 0xff, 0x01, 0x12]);
    const receivedAt = new Date("2026-11-22T08:00:00.000Z");
    const reason = "not a Sparkplug B payload: index out of range";
    await pipeline.accept([{ kind: "rejected", payload, origin: "spBv1.0/P/DDATA/Line1/Press03", receivedAt, reason }]);
    const [entry] = await spool.queued(10);
    const item = entry?.item as RejectedInput;
    expect(item).toMatchObject({
      rejected: true,
      reason,
      source: "spBv1.0/P/DDATA/Line1/Press03",
      connection: "line1",
    });
    expect(Buffer.from(item.raw_b64, "base64")).toEqual(payload);
    expect(item.observedtime).toBe("2026-11-22T08:00:02.000Z");
    expect(pipeline.counters).toEqual({ events: 0, rejected: 1, duplicates: 0 });
  });

  it("checks derived events against the schema and rejects a bad one visibly", async () => {
    const { spool, pipeline } = make();
    await pipeline.accept(
      [
        { kind: "event", event: { ...event, id: "ok" } as never },
        { kind: "event", event: { ...event, id: "bad", data: {} } as never },
      ],
      { "rule:1": { baseline: 5 } },
    );
    const queued = await spool.queued(10);
    expect(queued.map((e) => ("rejected" in e.item ? "rejected" : e.item.id))).toEqual(["ok", "rejected"]);
    expect(await pipeline.loadState("rule:")).toEqual({ "rule:1": { baseline: 5 } });
  });

  it("keeps the received text of a valid event as its spooled JSON, stamps appended, equal to the stamped event", () => {
    const corrected = { ...config, skew: { bound_ms: 1_000, correct: true } } as SidecarConfig;
    const cases: [string, string, SidecarConfig][] = [
      ["plain", JSON.stringify(event), config],
      [
        "whitespace and escapes",
        ` {\n "specversion" : "1.0", "id":"e\\u00e9", "source":"press-1",\n"type":"downtime.started","time":"2026-11-22T08:00:00.000Z","data":{"reason_code":"J\\"AM"}}\n\t`,
        config,
      ],
      [
        "sender's own observedtime",
        JSON.stringify({ ...event, id: "e2", observedtime: "2026-01-01T00:00:00Z" }),
        config,
      ],
      ["corrected time", JSON.stringify({ ...event, id: "e3" }), corrected],
    ];
    for (const [name, text, cfg] of cases) {
      const { pipeline } = make();
      pipeline.setConfig(cfg);
      const receivedAt = new Date("2026-11-22T08:00:00.500Z");
      const record = pipeline.toRecord({ kind: "raw", payload: Buffer.from(text), origin: "t", receivedAt });
      expect("rejected" in record.item, name).toBe(false);
      expect(record.body, name).toBeDefined();
      expect(JSON.parse(record.body as string), name).toEqual(JSON.parse(JSON.stringify(record.item)));
      expect(Object.keys(JSON.parse(record.body as string)), name).toEqual(Object.keys(record.item));
    }
  });

  it("stampedText serializes in full when the stamps replace what the sender wrote", () => {
    const received = { ...event, connection: "theirs" } as never;
    const stamped = { ...event, connection: "line1", mappingrev: 4 } as never;
    expect(stampedText(JSON.stringify(received), received, stamped)).toBe(JSON.stringify(stamped));
  });

  it("stampedText keeps numbers as they arrived, also when it writes the event again whole (time corrected)", () => {
    const text = JSON.stringify({ ...event, connection: "theirs" }).replace(
      /}$/,
      ',"count":9007199254740993,"peak":1e400,"qty":5.0}',
    );
    const received = JSON.parse(text) as never;
    const stamped = {
      ...(received as object),
      connection: "line1",
      mappingrev: 4,
      time: "2026-11-22T08:00:00.000Z",
    } as never;
    const body = stampedText(text, received, stamped);
    expect(body).toContain('"count":9007199254740993,"peak":1e400,"qty":5.0');
    expect(JSON.parse(body)).toMatchObject({ connection: "line1", mappingrev: 4, time: "2026-11-22T08:00:00.000Z" });
  });
});
