// Delivery's bisection against real Odoo 18. Real Odoo stores a batch
// event by event and does not raise for a whole call on any input the
// sidecar sends, so the whole-call fault comes from a proxy in front of it
// (the one stand-in: it answers an XML-RPC fault, as Odoo does for an
// exception, for any call carrying the poisoned event, and forwards the
// rest). Everything else — the halves, the set-aside record — is stored by
// real Odoo and read back from it.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { OffsetEstimator, SkewTracker } from "./core/clock.ts";
import type { SidecarConfig } from "./core/contract.ts";
import type { Intake } from "./core/ports.ts";
import { Delivery } from "./delivery.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "./odoo/testing.ts";
import { XmlRpcOdooClient } from "./odoo/xmlrpc-client.ts";
import { Pipeline } from "./pipeline.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";
import { validEvent } from "./testing/fuzz.ts";

/** Events as the MQTT source hands them over: raw JSON bytes from one topic. */
function rawIntakes(events: Record<string, unknown>[], origin: string): Intake[] {
  return events.map((e) => ({ kind: "raw", payload: Buffer.from(JSON.stringify(e)), origin, receivedAt: new Date() }));
}

const POISON = "poisoned-by-the-proxy";
const FAULT = "psycopg2.errors.NumericValueOutOfRange: integer out of range";

function faultResponse(message: string): string {
  return (
    '<?xml version="1.0"?><methodResponse><fault><value><struct>' +
    "<member><name>faultCode</name><value><int>1</int></value></member>" +
    `<member><name>faultString</name><value><string>${message}</string></value></member>` +
    "</struct></value></fault></methodResponse>"
  );
}

describe.runIf(moduleHasSidecarApi())("Delivery bisects a batch Odoo faults on as a whole (real Odoo 18)", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  let proxy: Server;
  let proxyUrl: string;
  let faults = 0;
  let dir: string;
  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_sidecar_bisect_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "bisect" });
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if (body.includes(POISON)) {
          faults++;
          res.writeHead(200, { "content-type": "text/xml" }).end(faultResponse(FAULT));
          return;
        }
        const forwarded = await fetch(`${odoo.url}${req.url}`, {
          method: "POST",
          headers: { "content-type": "text/xml; charset=utf-8" },
          body,
        });
        res.writeHead(forwarded.status, { "content-type": "text/xml" }).end(await forwarded.text());
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => proxy.listen(port, "127.0.0.1", () => r()));
    proxyUrl = `http://127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), "sfb-bisect-"));
  }, 600_000);
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    await odoo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stores the rest of the batch and the poisoned event as rejected input, with the fault as its reason", async () => {
    const spool = new SqliteSpool({ path: join(dir, "spool.db") });
    const config = {
      code: fixture.code,
      revision: 1,
      skew: { bound_ms: 0, correct: false },
      sources: [],
    } as unknown as SidecarConfig;
    const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
    const events = Array.from({ length: 9 }, (_, i) => validEvent(i, "bisect"));
    (events[5]?.data as Record<string, unknown>).characteristic = POISON;
    await pipeline.accept(rawIntakes(events, "shopfloor/bisect/press-1"));
    const errors: string[] = [];
    const odooClient = new XmlRpcOdooClient({
      url: proxyUrl,
      db: odoo.db,
      user: fixture.user,
      apiKey: fixture.password,
    });
    const delivery = new Delivery({
      spool,
      odoo: odooClient,
      batchSize: 100,
      batchWaitMs: 0,
      onError: (err) => errors.push(err.message),
    });
    delivery.start();
    try {
      await expect.poll(async () => (await spool.stats()).queued, { timeout: 60_000 }).toBe(0);
    } finally {
      await delivery.stop();
    }
    expect(errors).toEqual([]);
    expect(faults).toBeGreaterThanOrEqual(4); // the batch, the halves holding it, the event alone
    expect(delivery.counters).toMatchObject({ setAside: 1, delivered: 9 });

    const stored = await fixture.events(["event_uid", "source", "state", "error_message", "raw_b64"]);
    const byUid = new Map(stored.map((r) => [r.event_uid as string, r]));
    for (const [i, e] of events.entries()) {
      if (i === 5) expect(byUid.has(e.id as string)).toBe(false);
      else expect(byUid.get(e.id as string)?.state, `event ${e.id}`).not.toBe("rejected");
    }
    const setAside = stored.filter((r) => r.state === "rejected");
    expect(setAside).toHaveLength(1);
    const [record] = setAside as [Record<string, unknown>];
    expect(record.source).toBe("bisect/press-1");
    expect(record.error_message).toContain(FAULT);
    const raw = JSON.parse(Buffer.from(record.raw_b64 as string, "base64").toString("utf8"));
    expect(raw).toMatchObject({ id: "bisect-5", data: { characteristic: POISON }, connection: fixture.code });

    const [poisoned] = (await spool.list("delivered", 20)).filter((e) => e.eventId === "bisect-5");
    expect(poisoned?.st).toMatchObject({ state: "delivered", status: "rejected" });
    await spool.close();
  }, 120_000);

  it("delivers straight to Odoo when nothing faults: no split", async () => {
    const spool = new SqliteSpool({ path: join(dir, "plain.db") });
    const config = { code: fixture.code, revision: 1, skew: { bound_ms: 0, correct: false }, sources: [] };
    const pipeline = new Pipeline({
      spool,
      offset: new OffsetEstimator(),
      skew: new SkewTracker(),
      config: config as unknown as SidecarConfig,
    });
    const events = Array.from({ length: 5 }, (_, i) => validEvent(i, "plain"));
    await pipeline.accept(rawIntakes(events, "t"));
    const delivery = new Delivery({ spool, odoo: fixture.client(), batchSize: 100, batchWaitMs: 0 });
    delivery.start();
    try {
      await expect.poll(async () => (await spool.stats()).queued, { timeout: 60_000 }).toBe(0);
    } finally {
      await delivery.stop();
    }
    expect(delivery.counters).toMatchObject({ batches: 1, splits: 0, setAside: 0, delivered: 5 });
    expect(await fixture.countEvents([["source", "=", "plain/press-1"]])).toBe(5);
    await spool.close();
  }, 120_000);
});
