// Delivery against real Odoo 18. Real Odoo stores a batch event by event and
// does not raise for a whole call on any input the sidecar sends, so the
// whole-call fault of the bisection test comes from a proxy in front of it
// (the one stand-in, FaultInjectingProxy: it answers a JSON-RPC error, as
// Odoo does for an exception, for any call carrying the poisoned event, and
// forwards the rest). Everything else — the halves, the set-aside record —
// is stored by real Odoo and read back from it. Load Odoo cannot take in one
// request is real: an Odoo with workers and a low time limit.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../test/support/odoo/testing.ts";
import { OffsetEstimator, SkewTracker } from "./core/clock.ts";
import type { SidecarConfig } from "./core/contract.ts";
import type { Intake } from "./core/ports.ts";
import { Delivery } from "./delivery.ts";
import { codeOf } from "./odoo/errors.ts";
import { JsonRpcOdooClient } from "./odoo/jsonrpc-client.ts";
import { Pipeline } from "./pipeline.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";

/** Events as the MQTT source hands them over: raw JSON bytes from one topic. */
function rawIntakes(events: Record<string, unknown>[], origin: string): Intake[] {
  return events.map((e) => ({ kind: "raw", payload: Buffer.from(JSON.stringify(e)), origin, receivedAt: new Date() }));
}

/** A spool at `path` holding `events` as the pipeline spools them for connection `code`. */
async function spoolWith(path: string, code: string, events: Record<string, unknown>[], origin: string) {
  const spool = new SqliteSpool({ path });
  const config = { code, revision: 1, skew: { bound_ms: 0, correct: false }, sources: [] };
  const pipeline = new Pipeline({
    spool,
    offset: new OffsetEstimator(),
    skew: new SkewTracker(),
    config: config as unknown as SidecarConfig,
  });
  await pipeline.accept(rawIntakes(events, origin));
  return spool;
}

/**
 * A valid event of about 16 KiB whose reading costs Odoo much CPU: 1,400
 * small fields in its data. (Four notes of 4 KiB made a batch of 1,000 cost
 * Odoo about the 2 s of CPU the test allows: on a fast day CI's batch went
 * through whole, and nothing was halved. 1,400 fields make 500 too many.)
 */
function heavyEvent(i: number, tag: string): Record<string, unknown> {
  const event = validEvent(i, tag);
  const fields: Record<string, number> = {};
  for (let k = 0; k < 1400; k++) fields[`f${k}`] = (i + k) % 10;
  return { ...event, data: { ...(event.data as object), ...fields } };
}

/** Calls `fn` until it does not fail with `busy` (a killed worker), at most `attempts` times. */
async function retryBusy<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || codeOf(err) !== "busy") throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const POISON = "poisoned-by-the-proxy";
const FAULT = "integer out of range";

/** What Odoo 18's JSON-RPC answers for an exception raised in a method (odoo.http.serialize_exception). */
function faultResponse(message: string): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    error: {
      code: 200,
      message: "Odoo Server Error",
      data: {
        name: "psycopg2.errors.NumericValueOutOfRange",
        message,
        arguments: [message],
        context: {},
        debug: "Traceback (most recent call last): …",
      },
    },
  });
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
          res.writeHead(200, { "content-type": "application/json" }).end(faultResponse(FAULT));
          return;
        }
        const forwarded = await fetch(`${odoo.url}${req.url}`, {
          method: "POST",
          headers: { "content-type": "application/json; charset=utf-8" },
          body,
        });
        res.writeHead(forwarded.status, { "content-type": "application/json" }).end(await forwarded.text());
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
    const events = Array.from({ length: 9 }, (_, i) => validEvent(i, "bisect"));
    (events[5]?.data as Record<string, unknown>).characteristic = POISON;
    const spool = await spoolWith(join(dir, "spool.db"), fixture.code, events, "shopfloor/bisect/press-1");
    const errors: string[] = [];
    const odooClient = new JsonRpcOdooClient({
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
    const events = Array.from({ length: 5 }, (_, i) => validEvent(i, "plain"));
    const spool = await spoolWith(join(dir, "plain.db"), fixture.code, events, "t");
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

describe.runIf(moduleHasSidecarApi())(
  "Delivery against an Odoo that cannot take a batch in one request (real Odoo 18, workers, time limits)",
  () => {
    let odoo: OdooServer | undefined;
    let fixture: OdooFixture;
    let dir: string;
    let db: string;
    let port: number;
    /**
     * Serves the fixture's database by two prefork workers killed past `cpu`
     * seconds of CPU or `real` seconds of wall time, replacing the Odoo that
     * served it: each test states the limits its claim depends on.
     */
    const serveWithLimits = async (cpu: number, real: number) => {
      await odoo?.stop();
      odoo = await startOdoo({
        db,
        fromTemplate: false,
        port,
        workers: 2,
        extraArgs: [`--limit-time-cpu=${cpu}`, `--limit-time-real=${real}`, `--gevent-port=${await freePort()}`],
      });
    };
    beforeAll(async () => {
      // The fixture is made on an Odoo without limits (a fresh worker's first
      // requests can take seconds on a loaded machine), then the same database
      // is served by prefork workers with limits: a request past them is
      // killed by Odoo itself.
      db = `sfb_sidecar_limits_${process.pid}`;
      const setup = await startOdoo({ db });
      fixture = await makeOdooFixture(setup, { code: "limits" });
      port = setup.port;
      await setup.stop();
      await serveWithLimits(5, 10);
      dir = mkdtempSync(join(tmpdir(), "sfb-limits-"));
    }, 600_000);
    afterAll(async () => {
      await odoo?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // A fresh worker (one replaces each killed one) may itself be killed warming up: try again.
    const setBudget = (ms: number) =>
      retryBusy(() =>
        fixture.admin.execute("ir.config_parameter", "set_param", [
          "shopfloor_bridge.ingest_apply_budget_ms",
          String(ms),
        ]),
      );

    it("halves a batch Odoo kills for its time limit until it fits, then grows back; every event stored once", async () => {
      // Two seconds of CPU: a fresh worker (its registry loaded before the
      // fork) builds its routing map on its first request, about a second of
      // CPU on a slow machine, and still takes a small batch; 1,000 events of
      // 16 KiB (the 16 MiB a batch may carry) take more. With one second,
      // every fresh worker was killed building its routing map and nothing
      // got through (a CI run left 985 of 1,000 events queued after 5
      // minutes). Odoo gives a request int(CPU used so far + limit) seconds
      // of the worker's CPU (odoo/service/server.py, check_limits), so 1 to 2
      // s here. The CPU limit is the one that kills: a real-time limit of 2 s
      // also killed workers on a machine busy with other work.
      await serveWithLimits(2, 10);
      // No apply budget to speak of: the whole batch is applied in the request, past Odoo's limits.
      await setBudget(600_000);
      const events = Array.from({ length: 1000 }, (_, i) => heavyEvent(i, "heavy"));
      const spool = await spoolWith(join(dir, "heavy.db"), fixture.code, events, "shopfloor/limits/heavy");
      const codes: string[] = [];
      const sizes: number[] = [];
      const delivery = new Delivery({
        spool,
        odoo: fixture.client(),
        batchSize: 1000,
        batchWaitMs: 0,
        backoff: { baseMs: 50, maxMs: 500 },
        onError: (_err, _attempt, _retryIn, code) => codes.push(code),
        onResize: (size) => sizes.push(size),
      });
      delivery.start();
      try {
        await expect.poll(async () => (await spool.stats()).queued, { timeout: 300_000, interval: 1_000 }).toBe(0);
      } finally {
        await delivery.stop();
      }
      expect(codes.length).toBeGreaterThan(0);
      expect(
        codes.every((c) => c === "busy"),
        codes.join(),
      ).toBe(true);
      expect(sizes[0]).toBe(500);
      expect((await spool.stats()).parked).toBe(0);
      const rows = await retryBusy(() => fixture.events(["event_uid"], [["source", "=", "heavy/press-1"]]));
      const uids = rows.map((r) => r.event_uid);
      expect(uids).toHaveLength(1000);
      expect(new Set(uids).size).toBe(1000);
      await spool.close();
    }, 400_000);

    it("with Odoo's apply budget, a batch goes in one call: all stored, what the budget did not cover left pending", async () => {
      // Limits a loaded 2-core machine stores 1,000 light events within, with
      // room to spare; the budget, not the limits, is what stops the apply.
      await serveWithLimits(5, 10);
      await setBudget(200);
      // Light events: storing them fits Odoo's limits, applying them all does not fit the budget.
      const events = Array.from({ length: 1000 }, (_, i) => validEvent(i, "budget"));
      const spool = await spoolWith(join(dir, "budget.db"), fixture.code, events, "shopfloor/limits/budget");
      const codes: string[] = [];
      const delivery = new Delivery({
        spool,
        odoo: fixture.client(),
        batchSize: 1000,
        batchWaitMs: 0,
        onError: (_err, _attempt, _retryIn, code) => codes.push(code),
      });
      delivery.start();
      try {
        await expect.poll(async () => (await spool.stats()).queued, { timeout: 120_000, interval: 500 }).toBe(0);
      } finally {
        await delivery.stop();
      }
      expect(codes).toEqual([]);
      expect(delivery.counters).toMatchObject({ batches: 1, shrinks: 0, delivered: 1000 });
      const byStatus = (await spool.stats()).byStatus;
      expect(byStatus.pending ?? 0).toBeGreaterThan(0);
      expect(await retryBusy(() => fixture.countEvents([["source", "=", "budget/press-1"]]))).toBe(1000);
      await spool.close();
    }, 300_000);
  },
);

describe.runIf(moduleHasSidecarApi())("Delivery with two partitions in flight (real Odoo 18 with 2 workers)", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  let dir: string;
  beforeAll(async () => {
    const db = `sfb_sidecar_partitions_${process.pid}`;
    const setup = await startOdoo({ db });
    fixture = await makeOdooFixture(setup, { code: "parts" });
    await setup.stop();
    odoo = await startOdoo({
      db,
      fromTemplate: false,
      port: setup.port,
      workers: 2,
      extraArgs: [`--gevent-port=${await freePort()}`],
    });
    dir = mkdtempSync(join(tmpdir(), "sfb-partitions-"));
  }, 600_000);
  afterAll(async () => {
    await odoo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("has two calls in Odoo at once, never one work center in both, and stores each work center's events in order", async () => {
    // Four presses (four work center keys), their events interleaved as they arrive.
    const presses = ["p1", "p2", "p3", "p4"];
    const events = Array.from({ length: 160 }, (_, i) => {
      const press = presses[i % presses.length] as string;
      return { ...validEvent(i, `parts-${press}`), source: `parts/${press}` };
    });
    const spool = await spoolWith(join(dir, "parts.db"), fixture.code, events, "shopfloor/parts");
    const client = fixture.client();
    const calls: { start: number; end: number; sources: Set<string> }[] = [];
    let inOdoo = 0;
    let mostInOdoo = 0;
    const overlaps: string[] = [];
    const open = new Set<string>();
    const ingest = client.ingest.bind(client);
    client.ingest = async (items) => {
      const call = { start: Date.now(), end: 0, sources: new Set(items.map((i) => i.source)) };
      for (const s of call.sources) {
        if (open.has(s)) overlaps.push(s);
        open.add(s);
      }
      mostInOdoo = Math.max(mostInOdoo, ++inOdoo);
      try {
        return await ingest(items);
      } finally {
        inOdoo--;
        for (const s of call.sources) open.delete(s);
        call.end = Date.now();
        calls.push(call);
      }
    };
    const codes: string[] = [];
    const delivery = new Delivery({
      spool,
      odoo: client,
      batchSize: 10,
      batchWaitMs: 0,
      partitions: 2,
      onError: (_err, _attempt, _retryIn, code) => codes.push(code),
    });
    delivery.start();
    try {
      await expect.poll(async () => (await spool.stats()).queued, { timeout: 120_000, interval: 200 }).toBe(0);
    } finally {
      await delivery.stop();
    }
    expect(codes).toEqual([]);
    expect(mostInOdoo).toBe(2);
    expect(delivery.counters.maxInFlight).toBe(2);
    expect(overlaps).toEqual([]);
    // Calls really overlapped in time (Odoo's two workers took one each).
    const overlapping = calls.filter((a) => calls.some((b) => b !== a && b.start < a.end && a.start < b.end));
    expect(overlapping.length).toBeGreaterThan(0);
    // Odoo numbers rows as it inserts them: per work center, in the events' order.
    const rows = await fixture.events(["id", "event_uid", "source", "state"]);
    expect(rows).toHaveLength(160);
    expect(new Set(rows.map((r) => r.event_uid)).size).toBe(160);
    for (const press of presses) {
      const mine = rows
        .filter((r) => r.source === `parts/${press}`)
        .sort((a, b) => (a.id as number) - (b.id as number));
      const order = mine.map((r) => Number(String(r.event_uid).split("-").pop()));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(order).toHaveLength(40);
    }
    expect(rows.every((r) => r.state === "applied")).toBe(true);
    await spool.close();
  }, 300_000);
});
