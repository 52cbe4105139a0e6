// The sidecar as a process (bin shim, env contract) between real Mosquitto
// and real Odoo 18: each reliability promise of the issue, automated.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { hostileCorpus, validEvent } from "../../sidecar/test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

describe.runIf(moduleHasSidecarApi())("sidecar reliability (Mosquitto + sidecar process + Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    // 10 MB hostile payloads must reach the sidecar: allow packets up to 16 MB explicitly.
    broker = await startMosquitto({ extraConfig: ["message_size_limit 16777216"] });
    odoo = await startOdoo({ db: `sfb_sidecar_e2e_${process.pid}` });
    publisher = await mqtt.connectAsync(broker.url, { clientId: `e2e-pub-${process.pid}` });
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup(code: string, extra: { batchSize?: number; batchWaitMs?: number } = {}) {
    const fixture = await makeOdooFixture(odoo, {
      code,
      mqttUrl: broker.url,
      topics: [`shopfloor/${code}/#`],
      ...extra,
    });
    const spoolDir = mkdtempSync(join(tmpdir(), `sfb-e2e-${code}-`));
    dirs.push(spoolDir);
    const metricsPort = await freePort();
    const env = {
      ODOO_URL: odoo.url,
      ODOO_DB: odoo.db,
      ODOO_USER: fixture.user,
      ODOO_API_KEY: fixture.password,
      SHOPFLOOR_CONNECTION: code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: String(metricsPort),
    };
    const start = async (args: string[] = ["run", "--heartbeat-ms", "2000"]) => {
      const p = spawnSidecar({ env, args });
      running.push(p);
      await p.waitForLog(/"msg":"source started"/);
      return p;
    };
    return { fixture, env, start, spoolDir };
  }

  async function publishEvents(code: string, from: number, to: number, tag = code): Promise<void> {
    for (let i = from; i < to; i++) {
      await publisher.publishAsync(`shopfloor/${code}/press-1`, JSON.stringify(validEvent(i, tag)), { qos: 1 });
    }
  }

  async function expectExactlyOnce(fixture: OdooFixture, tag: string, n: number): Promise<void> {
    const rows = await fixture.events(["event_uid"], [["source", "=", `${tag}/press-1`]]);
    const uids = rows.map((r) => r.event_uid as string);
    expect(uids.length).toBe(n);
    expect(new Set(uids).size).toBe(n);
    const expected = Array.from({ length: n }, (_, i) => `${tag}-${i}`).sort();
    expect([...uids].sort()).toEqual(expected);
  }

  const countOf = (fixture: OdooFixture, tag: string) =>
    fixture.countEvents([
      ["connection_id", "=", fixture.connectionId],
      ["source", "=", `${tag}/press-1`],
    ]);

  it("kill -9 mid-batch and restart: every published event is stored in Odoo exactly once", async () => {
    const { fixture, start, env } = await setup("kill9", { batchSize: 50, batchWaitMs: 50 });
    const sidecar = await start();
    const N = 1_500;
    const publishing = publishEvents("kill9", 0, N);
    await expect.poll(() => countOf(fixture, "kill9"), { timeout: 120_000, interval: 100 }).toBeGreaterThan(100);
    expect(await sidecar.kill("SIGKILL")).toBe(-1);
    const atKill = await countOf(fixture, "kill9");
    await publishing;
    expect(atKill).toBeLessThan(N);
    const restarted = await start();
    await expect.poll(() => countOf(fixture, "kill9"), { timeout: 240_000, interval: 500 }).toBe(N);
    await expectExactlyOnce(fixture, "kill9", N);

    // Resent duplicates change nothing: same rows, same states.
    const before = await fixture.events(["event_uid", "state", "write_date"], [["source", "=", "kill9/press-1"]]);
    // What the broker sent again after the kill (spooled, not yet acked when it died) already counts.
    const redelivered = await restarted.metric("shopfloor_sidecar_duplicates_in_total");
    await publishEvents("kill9", 0, 200);
    // The spool still holds them (retention): recognised there and not sent again.
    await expect
      .poll(() => restarted.metric("shopfloor_sidecar_duplicates_in_total"), { timeout: 60_000 })
      .toBe(redelivered + 200);
    expect(await restarted.kill("SIGTERM")).toBe(0);
    // A sidecar with an empty spool sends them to Odoo, which answers duplicate and changes nothing.
    const freshSpool = mkdtempSync(join(tmpdir(), "sfb-e2e-kill9-fresh-"));
    dirs.push(freshSpool);
    const fresh = spawnSidecar({
      env: { ...env, SHOPFLOOR_SPOOL_DIR: freshSpool },
      args: ["run", "--heartbeat-ms", "2000"],
    });
    running.push(fresh);
    await fresh.waitForLog(/"msg":"source started"/);
    await publishEvents("kill9", 0, 200);
    await expect
      .poll(() => fresh.metric("shopfloor_sidecar_events_out_total", 'status="duplicate"'), { timeout: 60_000 })
      .toBe(200);
    const after = await fixture.events(["event_uid", "state", "write_date"], [["source", "=", "kill9/press-1"]]);
    expect(after).toEqual(before);
    expect(await fresh.kill("SIGTERM")).toBe(0);
  });

  it("Odoo stopped for a while: nothing lost, the spool holds the backlog and drains after", async () => {
    const { fixture, start } = await setup("odoodown", { batchSize: 200, batchWaitMs: 50 });
    const sidecar = await start();
    await publishEvents("odoodown", 0, 50);
    await expect.poll(() => countOf(fixture, "odoodown"), { timeout: 60_000 }).toBe(50);
    await odoo.stop();
    try {
      await publishEvents("odoodown", 50, 650);
      await expect.poll(() => sidecar.metric("shopfloor_sidecar_spool_depth"), { timeout: 60_000 }).toBe(600);
      await expect.poll(() => sidecar.metric("shopfloor_sidecar_odoo_up"), { timeout: 60_000 }).toBe(0);
      expect((await sidecar.health()).odoo_up).toBe(false);
    } finally {
      await odoo.start();
    }
    await expect.poll(() => countOf(fixture, "odoodown"), { timeout: 180_000, interval: 500 }).toBe(650);
    await expectExactlyOnce(fixture, "odoodown", 650);
    await expect.poll(() => sidecar.metric("shopfloor_sidecar_spool_depth"), { timeout: 30_000 }).toBe(0);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
  });

  it("broker restarted: the persistent session delivers what was published while the sidecar was away", async () => {
    const { fixture, start } = await setup("brokerrestart");
    const first = await start();
    await publishEvents("brokerrestart", 0, 100);
    await expect.poll(() => countOf(fixture, "brokerrestart"), { timeout: 60_000 }).toBe(100);
    expect(await first.kill("SIGTERM")).toBe(0);
    await publishEvents("brokerrestart", 100, 400);
    await publisher.endAsync();
    await broker.stop("SIGTERM");
    await broker.start();
    publisher = await mqtt.connectAsync(broker.url, { clientId: `e2e-pub-${process.pid}` });
    const second = await start();
    // And a restart while it runs: it reconnects to the same session.
    await broker.stop("SIGTERM");
    await broker.start();
    await publisher.endAsync();
    publisher = await mqtt.connectAsync(broker.url, { clientId: `e2e-pub-${process.pid}` });
    await publishEvents("brokerrestart", 400, 500);
    await expect.poll(() => countOf(fixture, "brokerrestart"), { timeout: 180_000, interval: 500 }).toBe(500);
    await expectExactlyOnce(fixture, "brokerrestart", 500);
    expect(await second.kill("SIGTERM")).toBe(0);
  });

  it("spool full: the sidecar stops acking (backpressure), the broker keeps the rest, nothing is dropped", async () => {
    const { fixture, start } = await setup("spoolfull", { batchSize: 100, batchWaitMs: 50 });
    // A first run caches Odoo's configuration in the spool...
    const first = await start();
    expect(await first.kill("SIGTERM")).toBe(0);
    await odoo.stop();
    let sidecar: SidecarProcess | undefined;
    try {
      // ...so a restart while Odoo is down ingests with it.
      sidecar = await start(["run", "--spool-capacity-events", "100", "--heartbeat-ms", "2000"]);
      expect(sidecar.output()).toMatch(/Odoo unreachable: using cached config/);
      await publishEvents("spoolfull", 0, 600);
      await expect.poll(() => sidecar?.metric("shopfloor_sidecar_spool_depth"), { timeout: 60_000 }).toBe(100);
      await expect
        .poll(() => sidecar?.metric("shopfloor_sidecar_spool_waiting_appends"), { timeout: 30_000 })
        .toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await sidecar.metric("shopfloor_sidecar_spool_depth")).toBe(100);
      expect((await sidecar.health()).backpressure).toBe(true);
    } finally {
      await odoo.start();
    }
    await expect.poll(() => countOf(fixture, "spoolfull"), { timeout: 240_000, interval: 500 }).toBe(600);
    await expectExactlyOnce(fixture, "spoolfull", 600);
    expect(await sidecar?.kill("SIGTERM")).toBe(0);
  });

  it("1,000 malformed and hostile messages: all visible in Odoo as rejected, the sidecar never crashes", async () => {
    const { fixture, start } = await setup("hostile", { batchSize: 500, batchWaitMs: 50 });
    const sidecar = await start();
    const corpus = hostileCorpus(1_000).map((c) => ({
      ...c,
      topic: c.topic.replace("shopfloor/hostile", "shopfloor/hostile/x"),
    }));
    for (const c of corpus) await publisher.publishAsync(c.topic, c.payload, { qos: 1 });
    // A valid event after the storm still goes through.
    await publisher.publishAsync("shopfloor/hostile/ok", JSON.stringify(validEvent(0, "hostile-ok")), { qos: 1 });
    const rejected = () =>
      fixture.countEvents([
        ["connection_id", "=", fixture.connectionId],
        ["state", "=", "rejected"],
      ]);
    await expect.poll(rejected, { timeout: 240_000, interval: 1_000 }).toBe(1_000);
    await expect.poll(() => countOf(fixture, "hostile-ok"), { timeout: 60_000 }).toBe(1);
    const rows = await fixture.events(
      ["source", "raw_size", "raw_truncated", "error_message"],
      [["state", "=", "rejected"]],
    );
    const topics = new Set(rows.map((r) => r.source));
    for (const c of corpus) expect(topics.has(c.topic)).toBe(true);
    const huge = rows.find((r) => r.raw_size === 10 * 1024 * 1024);
    expect(huge?.raw_truncated).toBe(true);
    expect(huge?.error_message).toMatch(/oversize/);
    for (const r of rows) expect(String(r.error_message ?? "")).not.toBe("");
    expect(sidecar.child.exitCode).toBeNull();
    expect((await sidecar.health()).ok).toBe(true);
    expect(await sidecar.metric("shopfloor_sidecar_events_rejected_total")).toBe(1_000);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
  });
});
