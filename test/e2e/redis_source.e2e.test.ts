// The Redis Streams source as a process between a real redis-server 7 and
// real Odoo 18: entries XACKed only after the spool commit, so a sidecar
// killed with SIGKILL loses nothing and stores nothing twice; a second
// sidecar of the group takes over a dead one's pending entries (XAUTOCLAIM);
// entries of fields alone, XADDed by redis-cli, are mapped into events.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { redisForTests } from "../../sidecar/devstack/redis.ts";
import { validEvent } from "../../sidecar/test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

const GROUP = "sidecars";

describe.runIf(moduleHasSidecarApi())("Redis Streams source (redis-server + sidecar process + Odoo 18)", () => {
  let odoo: OdooServer;
  // The broker is never stopped here: the shared instance of .ci/run when there is one.
  let broker: { url: string; destroy(): Promise<void> };
  let producer: Redis;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    broker = await redisForTests();
    odoo = await startOdoo({ db: `sfb_redis_e2e_${process.pid}` });
    producer = new Redis(broker.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    if (streams.length > 0) await producer?.del(...streams);
    producer?.disconnect();
    await broker?.destroy();
    await odoo?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A connection of kind redis on its own stream; `start(consumer)` runs one sidecar with its own spool. */
  async function setup(code: string) {
    const fixture = await makeOdooFixture(odoo, { code, batchSize: 50, batchWaitMs: 50 });
    const stream = `shopfloor:${code}:${process.pid}`;
    streams.push(stream);
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      {
        kind: "redis",
        backbone_url: broker.url,
        backbone_names: stream,
        backbone_group: GROUP,
        backbone_prefetch: 100,
        backbone_claim_idle_ms: 1_000,
      },
    ]);
    const spools = new Map<string, string>();
    /** `spoolCapacity`: a small spool fills, so the sidecar holds entries read and not yet acknowledged. */
    const start = async (consumer: string, spoolCapacity?: number) => {
      let spoolDir = spools.get(consumer);
      if (!spoolDir) {
        spoolDir = mkdtempSync(join(tmpdir(), `sfb-e2e-${code}-${consumer}-`));
        dirs.push(spoolDir);
        spools.set(consumer, spoolDir);
      }
      const p = spawnSidecar({
        env: {
          ODOO_URL: odoo.url,
          ODOO_DB: odoo.db,
          ODOO_USER: fixture.user,
          ODOO_API_KEY: fixture.password,
          SHOPFLOOR_CONNECTION: code,
          SHOPFLOOR_SPOOL_DIR: spoolDir,
          METRICS_PORT: String(await freePort()),
          BACKBONE_CONSUMER: consumer,
        },
        args: [
          "run",
          "--heartbeat-ms",
          "2000",
          ...(spoolCapacity ? ["--spool-capacity-events", String(spoolCapacity)] : []),
        ],
      });
      running.push(p);
      await p.waitForLog(/"msg":"source started"/);
      return p;
    };
    return { fixture, stream, start };
  }

  async function publish(stream: string, tag: string, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i += 100) {
      const batch = producer.pipeline();
      for (let j = i; j < Math.min(to, i + 100); j++)
        batch.xadd(stream, "*", "payload", JSON.stringify(validEvent(j, tag)));
      await batch.exec();
    }
  }

  const countOf = (fixture: OdooFixture, tag: string) =>
    fixture.countEvents([
      ["connection_id", "=", fixture.connectionId],
      ["source", "=", `${tag}/press-1`],
    ]);

  async function expectExactlyOnce(fixture: OdooFixture, tag: string, n: number): Promise<void> {
    const rows = await fixture.events(["event_uid"], [["source", "=", `${tag}/press-1`]]);
    const uids = rows.map((r) => r.event_uid as string);
    expect(uids.length).toBe(n);
    expect(new Set(uids).size).toBe(n);
    expect([...uids].sort()).toEqual(Array.from({ length: n }, (_, i) => `${tag}-${i}`).sort());
  }

  /** Entries of the group pending under `consumer` (read, not acknowledged). */
  async function pendingOf(stream: string, consumer: string): Promise<number> {
    const consumers = (await producer.xinfo("CONSUMERS", stream, GROUP)) as unknown[][];
    for (const info of consumers) {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
      if (fields.get("name") === consumer) return Number(fields.get("pending"));
    }
    return 0;
  }

  it("kill -9 mid-stream and restart: every entry is stored in Odoo exactly once", async () => {
    const { fixture, stream, start } = await setup("rkill9");
    // A full spool keeps entries read and unacknowledged: the kill lands while some are pending.
    const sidecar = await start("edge-1", 50);
    const N = 1_500;
    await publish(stream, "rkill9", 0, N);
    await expect.poll(() => countOf(fixture, "rkill9"), { timeout: 120_000, interval: 100 }).toBeGreaterThan(100);
    await expect.poll(() => pendingOf(stream, "edge-1"), { timeout: 30_000, interval: 50 }).toBeGreaterThan(0);
    expect(await sidecar.kill("SIGKILL")).toBe(-1);
    expect(await pendingOf(stream, "edge-1")).toBeGreaterThan(0);
    expect(await countOf(fixture, "rkill9")).toBeLessThan(N);
    const restarted = await start("edge-1");
    await expect.poll(() => countOf(fixture, "rkill9"), { timeout: 240_000, interval: 500 }).toBe(N);
    await expectExactlyOnce(fixture, "rkill9", N);
    // Everything acknowledged at the broker: nothing left pending for anyone.
    await expect.poll(() => pendingOf(stream, "edge-1"), { timeout: 30_000 }).toBe(0);
    expect(await restarted.kill("SIGTERM")).toBe(0);
  });

  it("a second sidecar of the group claims a killed one's pending entries (XAUTOCLAIM): exactly once in Odoo", async () => {
    const { fixture, stream, start } = await setup("rclaim");
    const first = await start("edge-a", 50);
    const N = 1_500;
    await publish(stream, "rclaim", 0, N);
    await expect.poll(() => countOf(fixture, "rclaim"), { timeout: 120_000, interval: 100 }).toBeGreaterThan(100);
    await expect.poll(() => pendingOf(stream, "edge-a"), { timeout: 30_000, interval: 50 }).toBeGreaterThan(0);
    expect(await first.kill("SIGKILL")).toBe(-1);
    // What edge-a read and did not acknowledge stays pending under its name.
    expect(await pendingOf(stream, "edge-a")).toBeGreaterThan(0);
    const second = await start("edge-b");
    // edge-b takes them over once idle past claim_idle_ms, and reads the rest of the stream.
    await expect.poll(() => pendingOf(stream, "edge-a"), { timeout: 60_000, interval: 250 }).toBe(0);
    // edge-a's machine comes back: its spool delivers what it had committed (and acknowledged).
    const back = await start("edge-a");
    await expect.poll(() => countOf(fixture, "rclaim"), { timeout: 240_000, interval: 500 }).toBe(N);
    await expectExactlyOnce(fixture, "rclaim", N);
    await expect.poll(() => pendingOf(stream, "edge-b"), { timeout: 30_000 }).toBe(0);
    expect(await second.kill("SIGTERM")).toBe(0);
    expect(await back.kill("SIGTERM")).toBe(0);
  });
  it("entries of fields alone (redis-cli XADD) are mapped into applied events; unmapped ones are rejected with their fields", async () => {
    const { fixture, stream, start } = await setup("rfields");
    await fixture.admin.execute("shopfloor.payload.map", "create", [
      {
        connection_id: fixture.connectionId,
        name: "Gauge fields",
        kind: "events",
        transport: "redis",
        match: stream,
        payload_format: "json",
        expression: `{
          'source': 'plant1/rfields/gauge-1',
          'type': 'quality.result',
          'time': at,
          'data': { 'characteristic': name, 'pass': ok = 'true', 'value': $number(v), 'unit': 'mm' }
        }`,
        id_fields: "source\ntime\ndata.characteristic",
      },
    ]);
    const sidecar = await start("edge-f");
    const { hostname, port } = new URL(broker.url);
    // Redis's own command-line client: the entries as a producer nobody here wrote sends them.
    const xadd = (key: string, ...pairs: string[]) =>
      execFileSync("redis-cli", ["-h", hostname, "-p", port || "6379", "XADD", key, "*", ...pairs], {
        encoding: "utf8",
      });
    xadd(stream, "name", "diameter", "ok", "true", "v", "10.02", "at", "2026-11-22T08:00:00Z");
    xadd(stream, "name", "length", "ok", "false", "v", "55.1", "at", "2026-11-22T08:00:01Z");
    const other = `${stream}:unmapped`;
    streams.push(other);
    const rows = () =>
      fixture.events(["state", "source", "error_message"], [["connection_id", "=", fixture.connectionId]]);
    await expect
      .poll(async () => (await rows()).filter((r) => r.state === "applied").length, { timeout: 120_000, interval: 500 })
      .toBe(2);
    const applied = await fixture.events(["data_json"], [["source", "=", "plant1/rfields/gauge-1"]]);
    const values = applied.map((r) => JSON.parse(String(r.data_json))).sort((a, b) => a.value - b.value);
    expect(values).toEqual([
      { characteristic: "diameter", pass: true, value: 10.02, unit: "mm" },
      { characteristic: "length", pass: false, value: 55.1, unit: "mm" },
    ]);
    expect(await sidecar.kill("SIGTERM")).toBe(0);

    // A second connection's worth of fields with no mapping: stored as rejected, the fields kept as JSON.
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { backbone_names: `${stream}\n${other}` },
    ]);
    const again = await start("edge-f");
    xadd(other, "tag", "Count", "value", "7");
    const rejected = async () => (await rows()).filter((r) => r.state === "rejected");
    await expect.poll(async () => (await rejected()).length, { timeout: 120_000, interval: 500 }).toBe(1);
    const [row] = await fixture.events(["raw_payload", "error_message"], [["state", "=", "rejected"]]);
    expect(String(row?.raw_payload)).toContain('{"tag":"Count","value":"7"}');
    expect(String(row?.error_message)).toMatch(/mapping/);
    expect(await again.kill("SIGTERM")).toBe(0);
  });
});
