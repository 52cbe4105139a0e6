// Property: whatever a producer sends — any method, path, token, content
// type, ce-* headers and body — the intake answers a status with a reason
// (JSON) and loses nothing: every item of an authenticated request it took
// is in the spool (new, or a duplicate of what was), and a request it
// refused (401, 404 path, 405, 413, 415, 429, 503) stored nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../../../test/support/http/post.ts";
import { mapping } from "../../../test/support/mapping/mapping.fixtures.ts";
import { OffsetEstimator, SkewTracker } from "../../core/clock.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import { spoolPressureOf } from "../../main.ts";
import { Pipeline } from "../../pipeline.ts";
import { SqliteSpool } from "../../spool/sqlite-spool.ts";
import { sha256Hex } from "./auth.ts";
import { HttpIntake } from "./intake.ts";

const TOKEN = "prop-token-one";
const LIMITED = "prop-token-two";
const MAX_BODY = 8 * 1024;

let dir: string;
let spool: SqliteSpool;
let intake: HttpIntake;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-http-prop-"));
  spool = new SqliteSpool({ path: join(dir, "spool.db") });
  const config = {
    code: "p",
    revision: 1,
    skew: { bound_ms: 0, correct: false },
    sources: [],
  } as unknown as SidecarConfig;
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
  intake = new HttpIntake({
    connection: "p",
    payloadMaps: [mapping({ transport: "http", match: "mapped/+" })],
    pressure: () => spoolPressureOf(spool),
    config: {
      port: 0,
      bind: "127.0.0.1",
      tls_cert: "",
      tls_key: "",
      max_body_bytes: MAX_BODY,
      producers: [
        { name: "one", token_sha256: sha256Hex(TOKEN), source_prefix: "" },
        { name: "two", token_sha256: sha256Hex(LIMITED), source_prefix: "plant1/" },
      ],
    },
  });
  await intake.start(pipeline);
  url = `http://127.0.0.1:${intake.port}`;
});

afterAll(async () => {
  await intake?.stop();
  await spool?.close();
  rmSync(dir, { recursive: true, force: true });
});

const printable = fc.stringMatching(/^[\x21-\x7e]{0,24}$/);
const sources = fc.constantFrom("plant1/line1/press-01", "plant2/line1/oven", "plant1/", "");
const event = fc.record(
  {
    specversion: fc.constantFrom("1.0", "0.3", 1),
    id: fc.oneof(printable, fc.constantFrom("dup-1", "dup-2")),
    source: sources,
    type: fc.constantFrom("production.reported", "scrap.reported", "unknown.type"),
    time: fc.constantFrom("2026-11-22T08:15:03Z", "yesterday", "2026-02-30T00:00:00Z"),
    data: fc.oneof(fc.constant({ order: "WH/MO/1", qty_good: 1 }), fc.constant({ qty: 2 }), fc.jsonValue()),
    ext: fc.oneof(fc.string(), fc.integer()),
  },
  { requiredKeys: [] },
);
const bodies = fc.oneof(
  event.map((e) => JSON.stringify(e)),
  fc.array(event, { maxLength: 6 }).map((list) => JSON.stringify(list)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constant("x".repeat(MAX_BODY + 10)),
);
const contentTypes = fc.option(
  fc.constantFrom(
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "application/cloudevents+json; charset=utf-8",
    "application/cloudevents+json; charset=latin1",
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/cloudevents+xml",
  ),
  { nil: undefined },
);
const ceHeaders = fc.option(
  fc.record(
    {
      "ce-specversion": fc.constantFrom("1.0", "0.3", "%ZZ", "%C0%A0"),
      "ce-id": printable,
      "ce-source": fc.oneof(
        sources.filter((s) => s !== ""),
        printable,
      ),
      "ce-type": fc.constantFrom("production.reported", "nope"),
      "ce-time": fc.constantFrom("2026-11-22T08:15:03Z", "bad"),
      "ce-subject": printable,
      "ce-datacontenttype": fc.constant("application/json"),
      "ce-Bad_Name": printable,
    },
    { requiredKeys: ["ce-specversion"] },
  ),
  { nil: undefined },
);
/** Any combination: mostly refused or rejected. */
const chaotic = fc.record({
  method: fc.constantFrom("POST", "POST", "POST", "POST", "PUT", "GET"),
  path: fc.constantFrom("/events", "/events", "/events", "/routes/mapped/a", "/routes/unmapped", "/routes/a//b", "/x"),
  token: fc.constantFrom<string | undefined>(TOKEN, TOKEN, LIMITED, "wrong-token", undefined),
  contentType: contentTypes,
  ce: ceHeaders,
  body: bodies,
});

/** What a producer that means well sends: a valid token and a content mode that fits its body. */
const VALID = { specversion: "1.0", type: "production.reported", time: "2026-11-22T08:15:03Z" };
const goodEvent = fc
  .record({
    id: fc.oneof(fc.uuid(), fc.constantFrom("dup-1", "dup-2")),
    source: sources.filter((s) => s !== ""),
    data: fc.record({ order: fc.constantFrom("WH/MO/1", "WH/MO/2"), qty_good: fc.nat(1000) }),
  })
  .map((e) => ({ ...VALID, ...e }));
const mostlyGood = fc.oneof({ weight: 4, arbitrary: goodEvent }, { weight: 1, arbitrary: event });
const wellMeant = fc.oneof(
  fc
    .record({
      token: fc.constantFrom(TOKEN, LIMITED),
      e: mostlyGood,
    })
    .map(({ token, e }) => ({
      method: "POST",
      path: "/events",
      token,
      contentType: "application/cloudevents+json",
      ce: undefined,
      body: JSON.stringify(e),
    })),
  fc
    .record({ token: fc.constantFrom(TOKEN, LIMITED), list: fc.array(mostlyGood, { maxLength: 8 }) })
    .map(({ token, list }) => ({
      method: "POST",
      path: "/events",
      token,
      contentType: "application/cloudevents-batch+json",
      ce: undefined,
      body: JSON.stringify(list),
    })),
  fc.record({ token: fc.constantFrom(TOKEN, LIMITED), e: goodEvent }).map(({ token, e }) => ({
    method: "POST",
    path: "/events",
    token,
    contentType: "application/json",
    ce: { "ce-specversion": "1.0", "ce-id": e.id, "ce-source": e.source, "ce-type": e.type, "ce-time": e.time },
    body: JSON.stringify(e.data),
  })),
);
const requests = fc.oneof(chaotic, wellMeant);

/** Statuses that store nothing, and those after which every item is in the spool. */
const REFUSED = new Set([401, 404, 405, 413, 415, 429, 503]);
const TAKEN = new Set([200, 400, 403, 404, 422]);

describe("HTTP intake: any request is answered with a reason and nothing is lost", () => {
  it("holds for generated requests", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        const before = spool.depth.queued;
        const headers: Record<string, string> = { ...(request.ce ?? {}) };
        if (request.contentType) headers["Content-Type"] = request.contentType;
        const answer = await post(`${url}${request.path}`, request.body, {
          token: request.token,
          headers,
          method: request.method,
          agent: false,
        });
        const added = spool.depth.queued - before;
        seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
        expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
        expect(answer.body.status).toBe(answer.status);
        if (answer.status !== 200) expect(String(answer.body.reason ?? "")).not.toBe("");
        const items = answer.body.items;
        if (items) {
          expect(TAKEN.has(answer.status), `status ${answer.status} with items`).toBe(true);
          // Every item is in the spool: added now, or already there under the same (source, id).
          expect(added + Number(answer.body.duplicates)).toBe(items.length);
          for (const item of items) {
            expect(["accepted", "duplicate", "rejected"]).toContain(item.outcome);
            if (item.outcome === "rejected") expect(String(item.reason)).not.toBe("");
          }
          expect(request.token === TOKEN || request.token === LIMITED).toBe(true);
        } else {
          expect(REFUSED.has(answer.status), `status ${answer.status}: ${answer.text}`).toBe(true);
          expect(added).toBe(0);
        }
        if (request.token !== TOKEN && request.token !== LIMITED && !["/x", "/events"].includes(request.path)) {
          // Unauthenticated: refused before anything else about the route is said (other than a wrong method).
          expect([401, 404, 405]).toContain(answer.status);
        }
      }),
      { numRuns: 300 },
    );
    // The generators reach every answer the property speaks of (it would hold vacuously otherwise).
    for (const status of [200, 400, 401, 403, 404, 405, 413, 415, 422])
      expect(seen.get(status), `status ${status}`).toBeGreaterThan(0);
  });
});
