// The HTTP intake against producers nobody here wrote: the CloudEvents
// project's own JavaScript SDK (`cloudevents` on npm) encodes the requests,
// in binary and in structured mode, and sends them with its own HTTP
// transport; its Python SDK (in .venv-peers) encodes them too, with the
// percent-encoded header values the HTTP binding asks for, and Python's
// standard library posts them. What it sends must be taken as the same events, stored once,
// with every attribute and extension the SDK put on the wire.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPeer } from "../../../devstack/python-peers.ts";
import { OffsetEstimator, SkewTracker } from "../../core/clock.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import { Pipeline } from "../../pipeline.ts";
import type { SpoolEntry } from "../../spool/spool.ts";
import { SqliteSpool } from "../../spool/sqlite-spool.ts";
import { sha256Hex } from "./auth.ts";
import { HttpIntake } from "./intake.ts";

const TOKEN = "sdk-peer-token-0123456789";
const AUTH = { headers: { authorization: `Bearer ${TOKEN}` } };

let dir: string;
let spool: SqliteSpool;
let intake: HttpIntake;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-http-sdk-"));
  spool = new SqliteSpool({ path: join(dir, "spool.db") });
  const pipeline = new Pipeline({
    spool,
    offset: new OffsetEstimator(),
    skew: new SkewTracker(),
    config: { code: "c1", revision: 7, skew: { bound_ms: 0, correct: false }, sources: [] } as unknown as SidecarConfig,
  });
  intake = new HttpIntake({
    connection: "c1",
    config: {
      port: 0,
      bind: "127.0.0.1",
      tls_cert: "",
      tls_key: "",
      max_body_bytes: 64 * 1024,
      producers: [{ name: "mes", token_sha256: sha256Hex(TOKEN), source_prefix: "" }],
    },
  });
  await intake.start(pipeline);
  url = `http://127.0.0.1:${intake.port}/events`;
});

afterAll(async () => {
  await intake?.stop();
  await spool?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The spooled item of (source, id), as the pipeline stored it. */
async function stored(source: string, id: string): Promise<Record<string, unknown>[]> {
  const rows: SpoolEntry[] = await spool.list("queued", 10_000);
  return rows
    .map((row) => row.item as unknown as Record<string, unknown>)
    .filter((item) => item.source === source && item.id === id);
}

function sdkEvent(id: string, extra: Record<string, unknown> = {}): CloudEvent<Record<string, unknown>> {
  return new CloudEvent<Record<string, unknown>>({
    id,
    source: "plant1/line1/press-01",
    type: "production.reported",
    time: "2026-12-02T06:00:00.250Z",
    subject: "WH/MO/00042",
    datacontenttype: "application/json",
    data: { order: "WH/MO/00042", operation: "Pressing", qty_good: 12, qty_scrap: 1, uom: "Units" },
    ...extra,
  });
}

describe("HTTP intake with the CloudEvents JavaScript SDK as the producer", () => {
  for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
    it(`${mode} mode: the SDK's emitter is answered 200 and the event is stored with its attributes`, async () => {
      const emit = emitterFor(httpTransport(url), { mode });
      const event = sdkEvent(`sdk-${mode}-1`, { shift: "early" });
      const answer = (await emit(event, AUTH)) as { body: string };
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 200, accepted: 1, rejected: 0 });
      const [item, ...more] = await stored(event.source, event.id);
      expect(more).toHaveLength(0);
      expect(item).toMatchObject({
        specversion: "1.0",
        type: "production.reported",
        time: "2026-12-02T06:00:00.250Z",
        subject: "WH/MO/00042",
        data: { order: "WH/MO/00042", operation: "Pressing", qty_good: 12, qty_scrap: 1, uom: "Units" },
        shift: "early",
        connection: "c1",
        mappingrev: 7,
      });
    });
  }

  it("binary mode: a resend of the SDK's message is a duplicate, stored once", async () => {
    const event = sdkEvent("sdk-binary-resend");
    const message = HTTP.binary(event);
    for (const expected of ["accepted", "duplicate"]) {
      const answer = await fetch(url, {
        method: "POST",
        headers: { ...(message.headers as Record<string, string>), ...AUTH.headers },
        body: message.body as string,
      });
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as { items: { outcome: string }[] };
      expect(body.items[0]?.outcome).toBe(expected);
    }
    expect(await stored(event.source, event.id)).toHaveLength(1);
  });

  it("the SDK's event of a type the contract does not know is answered 4xx and stored rejected", async () => {
    const emit = emitterFor(httpTransport(url), { mode: Mode.STRUCTURED });
    const event = sdkEvent("sdk-unknown-type", { type: "com.example.sensor.reading" });
    const answer = (await emit(event, AUTH)) as { body: string };
    const body = JSON.parse(answer.body) as { status: number; rejected: number; items: { reason?: string }[] };
    expect(body.status).toBeGreaterThanOrEqual(400);
    expect(body.status).toBeLessThan(500);
    expect(body.rejected).toBe(1);
    expect(body.items[0]?.reason).toMatch(/type/);
    const rows = (await spool.list("queued", 10_000)).map((row) => row.item as unknown as Record<string, unknown>);
    const rejected = rows.filter(
      (item) =>
        item.rejected === true &&
        /com\.example\.sensor\.reading/.test(
          String(item.reason) + Buffer.from(String(item.raw_b64), "base64").toString("utf8"),
        ),
    );
    expect(rejected).toHaveLength(1);
  });
});

describe("HTTP intake with the CloudEvents Python SDK as the producer", () => {
  it("binary (percent-encoded ce- headers) and structured: both stored as the same event, every attribute intact", async () => {
    const attributes = {
      source: "plant1/line1/presse-01",
      type: "production.reported",
      time: "2026-12-02T06:00:00.250000+00:00",
      subject: 'Drücken 100% "fertig" – Linie 1',
      datacontenttype: "application/json",
      werk: "Köln",
    };
    const data = { order: "WH/MO/00042", qty_good: 12, qty_scrap: 1 };
    const lines = ["binary", "structured"].map((mode) => ({
      attributes: { ...attributes, id: `py-${mode}` },
      data,
      mode,
    }));
    const { code, stdout, stderr } = await runPeer("ce_http_post.py", [url, TOKEN], lines);
    expect(code, stderr.slice(-2_000)).toBe(0);
    const answers = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { status: number; body: unknown });
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    for (const mode of ["binary", "structured"]) {
      const [item, ...more] = await stored(attributes.source, `py-${mode}`);
      expect(more).toHaveLength(0);
      expect(item).toMatchObject({
        specversion: "1.0",
        type: "production.reported",
        // As the SDK wrote it (microseconds): the event's time is kept as sent.
        time: "2026-12-02T06:00:00.250000Z",
        subject: 'Drücken 100% "fertig" – Linie 1',
        werk: "Köln",
        data,
      });
    }
  });
});
