// The HTTP intake against a real SQLite spool and the real pipeline: each
// CloudEvents content mode, each class of error (with what is stored and
// what is not), auth, TLS with a generated certificate, backpressure from a
// spool that fills, 2xx only after the commit, graceful stop, and the
// Source contract every source runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../../devstack/mqtt-pki.ts";
import { BATCHED, cloudEvent, post, STRUCTURED } from "../../../test/support/http/post.ts";
import { mapping, RECORDS_TO_EVENTS } from "../../../test/support/mapping/mapping.fixtures.ts";
import { RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import { OffsetEstimator, SkewTracker } from "../../core/clock.ts";
import type { HttpIntakeConfig, SidecarConfig } from "../../core/contract.ts";
import type { SourceSink } from "../../core/ports.ts";
import { spoolPressureOf } from "../../main.ts";
import { MappingStage } from "../../mapping/stage.ts";
import { Pipeline } from "../../pipeline.ts";
import type { SpoolEntry } from "../../spool/spool.ts";
import { SqliteSpool } from "../../spool/sqlite-spool.ts";
import { sha256Hex } from "./auth.ts";
import { HttpIntake, type HttpIntakeOptions } from "./intake.ts";
import { HttpIntakeConfigError } from "./tls.ts";

const TOKEN = "mes-token-0123456789abcdef";
const LIMITED_TOKEN = "line2-token-fedcba9876543210";

const httpConfig = (over: Partial<HttpIntakeConfig> = {}): HttpIntakeConfig => ({
  port: 0,
  bind: "127.0.0.1",
  tls_cert: "",
  tls_key: "",
  max_body_bytes: 64 * 1024,
  producers: [
    { name: "mes", token_sha256: sha256Hex(TOKEN), source_prefix: "" },
    { name: "line2", token_sha256: sha256Hex(LIMITED_TOKEN), source_prefix: "plant1/line2/" },
  ],
  ...over,
});

const sidecarConfig = {
  code: "c1",
  revision: 3,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-http-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rig {
  intake: HttpIntake;
  spool: SqliteSpool;
  url: string;
  logs: { level: string; fields: Record<string, unknown>; message: string }[];
  /** Every spooled row (queued: no delivery runs here). */
  rows(): Promise<SpoolEntry[]>;
  close(): Promise<void>;
}

let rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.map((r) => r.close()));
  rigs = [];
});

let spools = 0;
async function rig(
  over: Partial<HttpIntakeConfig> = {},
  opts: Partial<HttpIntakeOptions> & { capacityEvents?: number; sink?: (pipeline: Pipeline) => SourceSink } = {},
): Promise<Rig> {
  const spool = new SqliteSpool({ path: join(dir, `spool-${++spools}.db`), capacityEvents: opts.capacityEvents });
  const pipeline = new Pipeline({
    spool,
    offset: new OffsetEstimator(),
    skew: new SkewTracker(),
    config: sidecarConfig,
  });
  const logs: Rig["logs"] = [];
  const intake = new HttpIntake({
    connection: "c1",
    payloadMaps: [
      mapping({ id: 90, name: "kepware", transport: "http", match: "kepware/+" }),
      mapping({ id: 91, name: "uns", transport: "http", match: "uns/#" }),
    ],
    pressure: () => spoolPressureOf(spool),
    log: (level, fields, message) => logs.push({ level, fields, message }),
    ...opts,
    config: httpConfig(over),
  });
  await intake.start(opts.sink ? opts.sink(pipeline) : pipeline);
  const r: Rig = {
    intake,
    spool,
    logs,
    url: `${intake.scheme}://127.0.0.1:${intake.port}`,
    rows: () => spool.list("queued", 10_000),
    close: async () => {
      await intake.stop();
      await spool.close();
    },
  };
  rigs.push(r);
  return r;
}

const bodyOf = (row: SpoolEntry) => row.item as unknown as Record<string, unknown>;
const rawOf = (row: SpoolEntry) => Buffer.from(String(bodyOf(row).raw_b64), "base64").toString("utf8");

describe("HTTP intake: CloudEvents content modes", () => {
  it("structured mode: 200 after the commit, the event spooled as sent and stamped", async () => {
    const r = await rig();
    const event = cloudEvent({ data: { order: "WH/MO/00042", qty_good: 120, qty_scrap: 3.0 } });
    const answer = await post(`${r.url}/events`, JSON.stringify(event), { token: TOKEN, headers: STRUCTURED });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 200, accepted: 1, rejected: 0, duplicates: 0 });
    expect(answer.body.items).toEqual([{ index: 0, id: event.id, source: event.source, outcome: "accepted" }]);
    const rows = await r.rows();
    expect(rows).toHaveLength(1);
    expect(bodyOf(rows[0] as SpoolEntry)).toMatchObject({ id: event.id, connection: "c1", mappingrev: 3 });
  });

  it("structured mode: a resend of the same event is answered duplicate and stored once", async () => {
    const r = await rig();
    const text = JSON.stringify(cloudEvent());
    expect((await post(`${r.url}/events`, text, { token: TOKEN, headers: STRUCTURED })).status).toBe(200);
    const again = await post(`${r.url}/events`, text, { token: TOKEN, headers: STRUCTURED });
    expect(again.status).toBe(200);
    expect(again.body.duplicates).toBe(1);
    expect(again.body.items?.[0]?.outcome).toBe("duplicate");
    expect(await r.rows()).toHaveLength(1);
  });

  it("binary mode: the event is built from ce-* headers (percent-decoded) and the body, numbers exact", async () => {
    const r = await rig();
    const body = '{"order":"WH/MO/00042","qty_good":120,"qty_scrap":3.0,"uom":"Units"}';
    const answer = await post(`${r.url}/events`, body, {
      token: TOKEN,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-id": "bin-1",
        "ce-source": "plant1/line3/press-03",
        "ce-type": "workorder.completed",
        "ce-time": "2026-11-22T08:15:03.120Z",
        "ce-subject": "WH/MO/00042%20%E2%82%AC",
        "ce-shift": '"night"',
      },
    });
    expect(answer.status, answer.text).toBe(200);
    const [row] = await r.rows();
    const stored = JSON.parse(storedText(row as SpoolEntry));
    expect(stored).toMatchObject({
      id: "bin-1",
      source: "plant1/line3/press-03",
      subject: "WH/MO/00042 €",
      shift: "night",
      datacontenttype: "application/json",
      data: { order: "WH/MO/00042", qty_good: 120, uom: "Units" },
    });
    // 3.0 stays 3.0 on its way to Odoo (Python tells it from 3).
    expect(storedText(row as SpoolEntry)).toContain('"qty_scrap":3.0');
  });

  it("binary mode: a body that is not JSON is stored rejected (data in base64) and answered 400", async () => {
    const r = await rig();
    const answer = await post(`${r.url}/events`, "{qty:1", {
      token: TOKEN,
      headers: {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "bin-bad",
        "ce-source": "plant1/line3/press-03",
        "ce-type": "production.reported",
        "ce-time": "2026-11-22T08:15:03Z",
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.reason).toMatch(/binary mode: the body \(data\): not JSON/);
    const [row] = await r.rows();
    expect(bodyOf(row as SpoolEntry)).toMatchObject({ rejected: true, source: "http:mes" });
    expect(JSON.parse(rawOf(row as SpoolEntry))).toMatchObject({
      id: "bin-bad",
      data_base64: Buffer.from("{qty:1").toString("base64"),
    });
  });

  it("binary mode: data that is not JSON is refused 415 and nothing is stored", async () => {
    const r = await rig();
    const answer = await post(`${r.url}/events`, "<qty>1</qty>", {
      token: TOKEN,
      headers: {
        "Content-Type": "application/xml",
        "ce-specversion": "1.0",
        "ce-id": "x",
        "ce-source": "s",
        "ce-type": "t",
      },
    });
    expect(answer.status).toBe(415);
    expect(answer.body.reason).toMatch(/event data is JSON/);
    expect(await r.rows()).toHaveLength(0);
  });

  it("batched mode: every element is one item; a batch with a bad one is 422 listing it, the others stored", async () => {
    const r = await rig();
    const good = [cloudEvent(), cloudEvent(), cloudEvent()];
    const ok = await post(`${r.url}/events`, JSON.stringify(good), { token: TOKEN, headers: BATCHED });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ accepted: 3, rejected: 0 });
    const mixed = [cloudEvent(), cloudEvent({ type: "coffee.brewed" }), cloudEvent()];
    const answer = await post(`${r.url}/events`, JSON.stringify(mixed), { token: TOKEN, headers: BATCHED });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(answer.body.items?.[1]).toMatchObject({ index: 1, id: mixed[1]?.id, outcome: "rejected" });
    expect(String(answer.body.items?.[1]?.reason)).toMatch(/schema: \/type/);
    const rows = await r.rows();
    expect(rows).toHaveLength(6);
    expect(rows.filter((row) => bodyOf(row).rejected === true)).toHaveLength(1);
  });

  it("batched mode: an empty batch is 200 with no items; a body that is no array is stored rejected, 400", async () => {
    const r = await rig();
    const empty = await post(`${r.url}/events`, "[]", { token: TOKEN, headers: BATCHED });
    expect(empty.status).toBe(200);
    expect(empty.body.items).toEqual([]);
    const object = await post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: BATCHED });
    expect(object.status).toBe(400);
    expect(object.body.reason).toMatch(
      /not a JSON array of events \(send one event with Content-Type application\/cloudevents\+json/,
    );
    expect(await r.rows()).toHaveLength(1);
  });
});

describe("HTTP intake: errors, each with its reason", () => {
  it("malformed JSON: 400, stored as rejected with the bytes", async () => {
    const r = await rig();
    const answer = await post(`${r.url}/events`, '{"specversion":"1.0",', { token: TOKEN, headers: STRUCTURED });
    expect(answer.status).toBe(400);
    expect(answer.body.reason).toMatch(/structured mode: not JSON/);
    const [row] = await r.rows();
    expect(rawOf(row as SpoolEntry)).toBe('{"specversion":"1.0",');
  });

  it("schema violation: 422, stored as rejected with the schema's reason", async () => {
    const r = await rig();
    const answer = await post(`${r.url}/events`, JSON.stringify(cloudEvent({ data: { qty_good: 1 } })), {
      token: TOKEN,
      headers: STRUCTURED,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.reason).toMatch(/order/);
    expect(bodyOf((await r.rows())[0] as SpoolEntry).rejected).toBe(true);
  });

  it("a source outside the producer's prefix: 403, stored as rejected with that reason", async () => {
    const r = await rig();
    const inside = cloudEvent({ source: "plant1/line2/press-07" });
    const outside = cloudEvent({ source: "plant1/line1/press-01" });
    const answer = await post(`${r.url}/events`, JSON.stringify([inside, outside]), {
      token: LIMITED_TOKEN,
      headers: BATCHED,
    });
    expect(answer.status).toBe(403);
    expect(answer.body.items?.[0]).toMatchObject({ outcome: "accepted" });
    expect(answer.body.items?.[1]?.reason).toBe(
      'source "plant1/line1/press-01" is outside producer "line2"\'s source prefix "plant1/line2/"',
    );
    const rows = await r.rows();
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => bodyOf(row).rejected)?.item).toMatchObject({ source: "http:line2" });
  });

  it("401 without a token or with an unknown one, WWW-Authenticate: Bearer, nothing stored, logged rate-limited", async () => {
    const r = await rig();
    const text = JSON.stringify(cloudEvent());
    const missing = await post(`${r.url}/events`, text, { headers: STRUCTURED });
    expect(missing.status).toBe(401);
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="shopfloor"');
    const unknown = await post(`${r.url}/events`, text, { token: "not-a-producer", headers: STRUCTURED });
    expect(unknown.status).toBe(401);
    expect(unknown.headers["www-authenticate"]).toBe('Bearer realm="shopfloor", error="invalid_token"');
    expect(unknown.body.reason).toMatch(/belongs to no producer/);
    expect(await r.rows()).toHaveLength(0);
    expect(r.intake.stats().auth_failures).toBe(2);
    const lines = r.logs.filter((l) => /refused a request/.test(l.message));
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(r.logs)).not.toContain("not-a-producer");
  });

  it("413 past max_body_bytes, declared or chunked, and nothing stored", async () => {
    const r = await rig({ max_body_bytes: 1024 });
    const big = JSON.stringify([cloudEvent({ data: { order: "x".repeat(2000), qty_good: 1 } })]);
    const declared = await post(`${r.url}/events`, big, { token: TOKEN, headers: BATCHED });
    expect(declared.status).toBe(413);
    expect(declared.body.reason).toMatch(/1024 bytes, max_body_bytes/);
    const chunked = await post(`${r.url}/events`, big, { token: TOKEN, headers: BATCHED, chunked: true });
    expect(chunked.status).toBe(413);
    expect(await r.rows()).toHaveLength(0);
  });

  it("405 for another method, 404 for another path, 415 for a content type that is no CloudEvents mode", async () => {
    const r = await rig();
    const get = await post(`${r.url}/events`, "", { token: TOKEN, method: "GET" });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
    expect((await post(`${r.url}/nothing`, "{}", { token: TOKEN })).status).toBe(404);
    const plain = await post(`${r.url}/events`, JSON.stringify(cloudEvent()), {
      token: TOKEN,
      headers: { "Content-Type": "application/json" },
    });
    expect(plain.status).toBe(415);
    expect(plain.body.reason).toMatch(/application\/cloudevents\+json/);
    const avro = await post(`${r.url}/events`, "x", {
      token: TOKEN,
      headers: { "Content-Type": "application/cloudevents+avro" },
    });
    expect(avro.status).toBe(415);
    const latin1 = await post(`${r.url}/events`, "{}", {
      token: TOKEN,
      headers: { "Content-Type": "application/cloudevents+json; charset=iso-8859-1" },
    });
    expect(latin1.status).toBe(415);
    expect(await r.rows()).toHaveLength(0);
  });
});

/** `bytes` compressed by a command-line tool (GNU gzip, zstd): encoders nobody here wrote. */
function compressedBy(tool: string, args: string[], bytes: string): Buffer {
  const run = spawnSync(tool, args, { input: bytes });
  if (run.status !== 0) throw new Error(`${tool} failed: ${run.stderr}`);
  return run.stdout;
}

describe("HTTP intake: compressed bodies (Content-Encoding)", () => {
  it("takes gzip (GNU gzip), zstd (the zstd tool), deflate, raw deflate and br: stored as if sent plain", async () => {
    const r = await rig();
    const sent: Record<string, unknown>[] = [];
    const encoders: [string, (text: string) => Uint8Array][] = [
      ["gzip", (text) => compressedBy("gzip", ["-c", "-9"], text)],
      ["x-gzip", (text) => compressedBy("gzip", ["-c"], text)],
      ["zstd", (text) => compressedBy("zstd", ["-c", "-q"], text)],
      ["deflate", (text) => deflateSync(text)],
      ["deflate", (text) => deflateRawSync(text)],
      ["br", (text) => brotliCompressSync(text)],
      // Several codings, listed in the order they were applied.
      ["deflate, gzip", gzipOfDeflate],
    ];
    for (const [coding, encode] of encoders) {
      const event = cloudEvent({ data: { order: "WH/MO/00042", qty_good: 120.5, note: "Drücken" } });
      sent.push(event);
      const text = JSON.stringify(event);
      const body = encode(text);
      const answer = await post(`${r.url}/events`, body, {
        token: TOKEN,
        headers: { ...STRUCTURED, "Content-Encoding": coding },
      });
      expect(answer.status, `${coding}: ${answer.text}`).toBe(200);
    }
    const rows = await r.rows();
    expect(rows.map((row) => bodyOf(row).id)).toEqual(sent.map((event) => event.id));
    expect(rows.map((row) => bodyOf(row).data)).toEqual(sent.map((event) => event.data));
    // A mapped route gets the decoded bytes too.
    const sink = new RecordingSink();
    const mapped = await rig({}, { sink: () => sink });
    const payload = '{"timestamp":1,"values":[{"id":"Channel1.Device1.Count","v":120,"q":true,"t":1}]}';
    const answer = await post(`${mapped.url}/routes/kepware/line1`, compressedBy("gzip", ["-c"], payload), {
      token: TOKEN,
      headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
    });
    expect(answer.status).toBe(200);
    const intake = sink.committed[0];
    expect(intake?.kind === "raw" && Buffer.from(intake.payload).toString("utf8")).toBe(payload);
  });

  it("a body that expands past max_body_bytes is 413, stopped at the limit; nothing stored", async () => {
    const r = await rig({ max_body_bytes: 64 * 1024 });
    // 20 MB of one event's worth of padding, about 20 kB on the wire.
    const bomb = gzipSync(JSON.stringify([cloudEvent({ data: { order: "x".repeat(20_000_000), qty_good: 1 } })]));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const answer = await post(`${r.url}/events`, bomb, {
      token: TOKEN,
      headers: { ...BATCHED, "Content-Encoding": "gzip" },
    });
    expect(answer.status).toBe(413);
    expect(answer.body.reason).toMatch(
      /decoded \(Content-Encoding gzip\) is larger than the intake takes \(65536 bytes/,
    );
    expect(await r.rows()).toHaveLength(0);
  });

  it("an unknown coding is 415 with Accept-Encoding; a body that is not what it claims is 400; nothing stored", async () => {
    const r = await rig();
    const text = JSON.stringify(cloudEvent());
    const unknown = await post(`${r.url}/events`, text, {
      token: TOKEN,
      headers: { ...STRUCTURED, "Content-Encoding": "compress" },
    });
    expect(unknown.status).toBe(415);
    expect(unknown.body.error).toBe("unsupported_content_encoding");
    expect(unknown.body.reason).toMatch(/Content-Encoding compress is not taken \(gzip, deflate, br/);
    expect(unknown.headers["accept-encoding"]).toMatch(/^gzip, deflate, br/);
    const plain = await post(`${r.url}/events`, text, {
      token: TOKEN,
      headers: { ...STRUCTURED, "Content-Encoding": "gzip" },
    });
    expect(plain.status).toBe(400);
    expect(plain.body.error).toBe("bad_content_encoding");
    expect(plain.body.reason).toMatch(/the body is not valid gzip \(Content-Encoding\)/);
    const identity = await post(`${r.url}/events`, text, {
      token: TOKEN,
      headers: { ...STRUCTURED, "Content-Encoding": "identity" },
    });
    expect(identity.status).toBe(200);
    expect(await r.rows()).toHaveLength(1);
  });
});

/** gzip (GNU gzip) of zlib's deflate of `text`: Content-Encoding "deflate, gzip". */
function gzipOfDeflate(text: string): Buffer {
  const run = spawnSync("gzip", ["-c"], { input: deflateSync(text) });
  if (run.status !== 0) throw new Error(`gzip failed: ${run.stderr}`);
  return run.stdout;
}

describe("HTTP intake: mapped routes", () => {
  it("a mapped route hands the raw bytes over with the route as origin and the headers, never the token", async () => {
    const sink = new RecordingSink();
    const r = await rig({}, { sink: () => sink });
    const payload = '{"timestamp":1,"values":[{"id":"Channel1.Device1.Count","v":120,"q":true,"t":1}]}';
    const answer = await post(`${r.url}/routes/kepware/line1`, payload, {
      token: TOKEN,
      headers: { "Content-Type": "application/json", "X-Gateway": "kep-01" },
    });
    expect(answer.status).toBe(200);
    expect(sink.committed).toHaveLength(1);
    const intake = sink.committed[0];
    expect(intake).toMatchObject({ kind: "raw", origin: "kepware/line1", via: { transport: "http" } });
    if (intake?.kind !== "raw") throw new Error("raw intake expected");
    expect(Buffer.from(intake.payload).toString("utf8")).toBe(payload);
    expect(intake.via?.headers?.["x-gateway"]).toBe("kep-01");
    expect(intake.via?.headers?.authorization).toBeUndefined();
  });

  it("a route no mapping takes: 404 with the reason, and the bytes stored as rejected to make a mapping from", async () => {
    const r = await rig();
    const answer = await post(`${r.url}/routes/ignition/tags`, '{"tag":"Count","value":1}', { token: TOKEN });
    expect(answer.status).toBe(404);
    expect(answer.body.error).toBe("no_mapping");
    expect(answer.body.reason).toMatch(/no payload mapping \(transport http\) matches the route "ignition\/tags"/);
    const [row] = await r.rows();
    expect(bodyOf(row as SpoolEntry)).toMatchObject({ rejected: true, source: "ignition/tags" });
    expect(rawOf(row as SpoolEntry)).toBe('{"tag":"Count","value":1}');
  });
});

describe("HTTP intake with the payload mapping stage", () => {
  const maps = [
    mapping({
      id: 1,
      name: "MES records",
      transport: "http",
      match: "mes/+",
      expression: RECORDS_TO_EVENTS,
      id_fields: ["source", "data.order", "time"],
    }),
    mapping({
      id: 2,
      name: "throws",
      transport: "http",
      match: "broken",
      expression: '$error("no line in this payload")',
    }),
    // Takes every route, and must never take what comes to /events.
    mapping({ id: 3, name: "catch-all", transport: "http", match: "#", expression: "[]" }),
  ];
  const withMaps = { ...sidecarConfig, rules: [], payload_maps: maps } as SidecarConfig;
  const staged = async () =>
    rig(
      {},
      {
        payloadMaps: maps,
        sink: (pipeline) => new MappingStage({ sink: pipeline, config: withMaps }),
      },
    );
  const records = JSON.stringify({
    line: "line4",
    records: [
      { order: "WH/MO/00042", good: 10, at: "2026-11-22T08:00:00Z" },
      { order: "WH/MO/00043", good: 12, at: "2026-11-22T08:05:00Z" },
    ],
  });

  it("a mapped route's payload becomes the events its mapping makes; the answer says how many", async () => {
    const r = await staged();
    const answer = await post(`${r.url}/routes/mes/line4`, records, {
      token: TOKEN,
      headers: { "Content-Type": "application/json" },
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.items).toEqual([{ index: 0, outcome: "accepted", events: 2 }]);
    const rows = await r.rows();
    expect(rows.map((row) => bodyOf(row).source)).toEqual(["plant1/line4", "plant1/line4"]);
    // The same payload again: the deterministic ids make it a duplicate.
    const again = await post(`${r.url}/routes/mes/line4`, records, {
      token: TOKEN,
      headers: { "Content-Type": "application/json" },
    });
    expect(again.body.duplicates).toBe(2);
    expect(await r.rows()).toHaveLength(2);
  });

  it("a producer with a source prefix: a payload whose mapping makes sources outside it is 403 and stored rejected", async () => {
    const r = await staged();
    const outside = await post(`${r.url}/routes/mes/line4`, records, { token: LIMITED_TOKEN });
    expect(outside.status).toBe(403);
    expect(outside.body.reason).toMatch(
      /mapping "MES records" \(id 1, revision 1\) made an event with source "plant1\/line4", outside producer "line2"'s source prefix "plant1\/line2\/"/,
    );
    expect(bodyOf((await r.rows())[0] as SpoolEntry)).toMatchObject({ rejected: true, source: "mes/line4" });
    const inside = await post(`${r.url}/routes/mes/line2`, records.replace('"line4"', '"line2/press-7"'), {
      token: LIMITED_TOKEN,
    });
    expect(inside.status, inside.text).toBe(200);
    expect(inside.body.items).toEqual([{ index: 0, outcome: "accepted", events: 2 }]);
  });

  it("a mapping that fails: 422 with the mapping's reason, the payload stored as rejected", async () => {
    const r = await staged();
    const answer = await post(`${r.url}/routes/broken`, "{}", { token: TOKEN });
    expect(answer.status).toBe(422);
    expect(answer.body.reason).toMatch(/no line in this payload/);
    expect(bodyOf((await r.rows())[0] as SpoolEntry)).toMatchObject({ rejected: true, source: "broken" });
  });

  it("CloudEvents posted to /events pass the stage untouched, even with a catch-all HTTP mapping", async () => {
    const r = await staged();
    const event = cloudEvent();
    const answer = await post(`${r.url}/events`, JSON.stringify(event), { token: TOKEN, headers: STRUCTURED });
    expect(answer.status, answer.text).toBe(200);
    expect(bodyOf((await r.rows())[0] as SpoolEntry)).toMatchObject({ id: event.id, source: event.source });
  });
});

describe("HTTP intake: acknowledgement, backpressure, stop", () => {
  it("answers only after the commit: nothing while the sink holds the accept", async () => {
    const sink = new RecordingSink();
    sink.block();
    const r = await rig({}, { sink: () => sink });
    let answered = false;
    const pending = post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED }).then(
      (a) => {
        answered = true;
        return a;
      },
    );
    await expect.poll(() => sink.accepting).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    sink.release();
    expect((await pending).status).toBe(200);
  });

  it("429 with Retry-After when a producer is over its concurrency, nothing of it stored", async () => {
    const sink = new RecordingSink();
    sink.block();
    const r = await rig({}, { sink: () => sink, maxInFlightPerProducer: 1, retryAfterBusyS: 2 });
    const first = post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED });
    await expect.poll(() => sink.accepting).toBe(1);
    const second = await post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED });
    expect(second.status).toBe(429);
    expect(second.headers["retry-after"]).toBe("2");
    // Another producer is not held back by this one.
    const other = post(`${r.url}/events`, JSON.stringify(cloudEvent({ source: "plant1/line2/x" })), {
      token: LIMITED_TOKEN,
      headers: STRUCTURED,
    });
    await expect.poll(() => sink.accepting).toBe(2);
    sink.release();
    expect((await first).status).toBe(200);
    expect((await other).status).toBe(200);
    expect(sink.committed).toHaveLength(2);
  });

  it("503 with Retry-After while the bodies held for their commit reach the bound; nothing of it stored", async () => {
    const sink = new RecordingSink();
    sink.block();
    const r = await rig({}, { sink: () => sink, maxHeldBytes: 1_000, retryAfterBusyS: 3 });
    const big = () => JSON.stringify(cloudEvent({ data: { order: "x".repeat(600), qty_good: 1 } }));
    const first = post(`${r.url}/events`, big(), { token: TOKEN, headers: STRUCTURED });
    await expect.poll(() => sink.accepting).toBe(1);
    expect(r.intake.stats().held_bytes).toBeGreaterThan(600);
    const second = await post(`${r.url}/events`, big(), { token: LIMITED_TOKEN, headers: STRUCTURED });
    expect(second.status).toBe(503);
    expect(second.headers["retry-after"]).toBe("3");
    expect(second.body.reason).toMatch(/bytes of requests waiting for their commit/);
    sink.release();
    expect((await first).status).toBe(200);
    expect(sink.committed).toHaveLength(1);
    expect(r.intake.stats().held_bytes).toBe(0);
  });

  it("503 with Retry-After once the spool reaches its high-water mark; nothing of the refused request stored", async () => {
    const r = await rig({}, { capacityEvents: 10, highWater: 0.5, retryAfterFullS: 7 });
    const batch = Array.from({ length: 5 }, () => cloudEvent());
    expect((await post(`${r.url}/events`, JSON.stringify(batch), { token: TOKEN, headers: BATCHED })).status).toBe(200);
    const refused = await post(`${r.url}/events`, JSON.stringify([cloudEvent(), cloudEvent()]), {
      token: TOKEN,
      headers: BATCHED,
    });
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("7");
    expect(refused.body.reason).toMatch(/spool is 50% full/);
    expect(await r.rows()).toHaveLength(5);
    expect(r.intake.stats().refused_full).toBe(1);
  });

  it("Expect: 100-continue: refused before the body is sent, or asked for it once the checks pass", async () => {
    const r = await rig();
    const exchange = async (token: string, body: string): Promise<string[]> => {
      const socket = connect(r.intake.port, "127.0.0.1");
      const seen: string[] = [];
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        for (const line of text.split("\r\n").filter((l) => l.startsWith("HTTP/1.1 "))) {
          if (!seen.includes(line)) seen.push(line);
        }
        if (seen.some((line) => line.startsWith("HTTP/1.1 100")) && !socket.writableEnded && seen.length === 1) {
          socket.end(body);
        }
      });
      socket.write(
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nExpect: 100-continue\r\n" +
          `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
      );
      await new Promise((resolve) => socket.once("close", resolve));
      return seen;
    };
    const body = JSON.stringify(cloudEvent());
    expect(await exchange("wrong", body)).toEqual(["HTTP/1.1 401 Unauthorized"]);
    expect(await exchange(TOKEN, body)).toEqual(["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]);
    expect(await r.rows()).toHaveLength(1);
  });

  it("a producer that hangs up mid-body: nothing stored, nothing answered, the intake carries on", async () => {
    const r = await rig();
    const socket = connect(r.intake.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n" +
        `Authorization: Bearer ${TOKEN}\r\nContent-Length: 1000\r\n\r\n{"specversion":"1.0",`,
    );
    await expect.poll(() => r.intake.stats().in_flight).toBe(1);
    socket.destroy();
    await expect.poll(() => r.intake.stats().in_flight).toBe(0);
    expect(await r.rows()).toHaveLength(0);
    expect(
      (await post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED })).status,
    ).toBe(200);
  });

  it("a commit that fails is answered 500 with the reason and a plea to resend, never 2xx", async () => {
    const r = await rig();
    await r.spool.close();
    const answer = await post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED });
    expect(answer.status).toBe(500);
    expect(answer.body.reason).toMatch(/^not acknowledged: .+; send the same events again$/);
  });

  it("stop() lets the request under way commit and be answered, then refuses connections", async () => {
    const sink = new RecordingSink();
    sink.block();
    const r = await rig({}, { sink: () => sink });
    const pending = post(`${r.url}/events`, JSON.stringify(cloudEvent()), { token: TOKEN, headers: STRUCTURED });
    await expect.poll(() => sink.accepting).toBe(1);
    let stopped = false;
    const stopping = r.intake.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stopped).toBe(false);
    sink.release();
    expect((await pending).status).toBe(200);
    await stopping;
    await expect(post(`${r.url}/events`, "{}", { token: TOKEN, headers: STRUCTURED, agent: false })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});

describe("HTTP intake over TLS", () => {
  let ca: TestCa;
  beforeAll(() => {
    ca = createTestCa("sfb-http-ca");
  });
  afterAll(() => ca?.destroy());

  it("serves HTTPS with the configured certificate; a producer trusting the CA posts", async () => {
    const server = ca.server();
    const r = await rig({ tls_cert: server.cert, tls_key: server.key });
    expect(r.url).toMatch(/^https:/);
    const answer = await post(`${r.url}/events`, JSON.stringify(cloudEvent()), {
      token: TOKEN,
      headers: STRUCTURED,
      ca: ca.cert,
    });
    expect(answer.status).toBe(200);
    await expect(post(`${r.url}/events`, "{}", { token: TOKEN, headers: STRUCTURED })).rejects.toThrow(/certificate/);
  });

  it.each([
    [
      "a certificate without its key",
      () => ({ tls_cert: ca.server().cert, tls_key: "" }),
      "http_tls_key",
      /needs the certificate's private key/,
    ],
    [
      "a key without its certificate",
      () => ({ tls_cert: "", tls_key: ca.server().key }),
      "http_tls_cert",
      /needs the certificate/,
    ],
    [
      "a key that is not the certificate's",
      () => ({ tls_cert: ca.server().cert, tls_key: ca.client("other").key }),
      "http_tls_key",
      /does not belong/,
    ],
    [
      "a key pasted as the certificate",
      () => ({ tls_cert: ca.server().key, tls_key: ca.server().key }),
      "http_tls_cert",
      /belongs in http_tls_key/,
    ],
    [
      "garbage as the certificate",
      () => ({ tls_cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", tls_key: ca.server().key }),
      "http_tls_cert",
      /does not parse/,
    ],
  ])("refuses to start with %s, naming the field", async (_what, tls, field, message) => {
    const intake = new HttpIntake({ connection: "c1", config: httpConfig(tls()) });
    const failure = await intake.start(new RecordingSink()).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(HttpIntakeConfigError);
    expect((failure as HttpIntakeConfigError).field).toBe(field);
    expect((failure as Error).message).toMatch(message);
  });

  it("refuses a port in use, naming http_port", async () => {
    const first = await rig();
    const intake = new HttpIntake({ connection: "c1", config: httpConfig({ port: first.intake.port }) });
    const failure = await intake.start(new RecordingSink()).catch((err: unknown) => err);
    expect((failure as HttpIntakeConfigError).field).toBe("http_port");
  });
});

/** The row's event as delivery sends it (the spool reads numbers back exactly as they came). */
function storedText(row: SpoolEntry): string {
  return JSON.stringify(row.item);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("HTTP intake as a Source", async () => {
  const port = await freePort();
  sourceContract(
    "HttpIntake",
    async () => new HttpIntake({ connection: "c1", config: httpConfig({ port }) }),
    async (marker) => {
      // Fire and return once sent: the answer waits for the commit, which the contract may hold.
      void post(`http://127.0.0.1:${port}/events`, JSON.stringify(cloudEvent({ id: marker })), {
        token: TOKEN,
        headers: STRUCTURED,
        // A new connection each time: the previous test's source closed the ones it had.
        agent: false,
      }).catch(() => {});
    },
  );
});
