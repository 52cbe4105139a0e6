// /healthz tells the truth, against real Mosquitto (with passwords) and real
// Odoo 18: a reload whose source cannot start leaves intake degraded (the
// previous revision's source keeps ingesting, the new one is retried), a
// backlog that makes no progress turns it unhealthy, parked rows too; and
// a degraded state is logged once when it begins and once when it ends.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../test/support/odoo/testing.ts";
import { Sidecar } from "./main.ts";
import { createLogger } from "./ops/log.ts";

describe.runIf(moduleHasSidecarApi())("/healthz (in-process sidecar, Mosquitto with passwords, Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let fixture: OdooFixture;
  let sidecar: Sidecar;
  let publisher: MqttClient;
  const lines: Record<string, unknown>[] = [];
  const dir = mkdtempSync(join(tmpdir(), "sfb-health-"));

  const bumpRevision = async (source: string) => {
    const [workcenterId] = (await fixture.admin.execute("mrp.workcenter", "search", [[]], { limit: 1 })) as number[];
    await fixture.admin.execute("shopfloor.source.map", "create", [
      { connection_id: fixture.connectionId, source, workcenter_id: workcenterId },
    ]);
  };
  const logged = (msg: string) => lines.filter((l) => l.msg === msg);

  beforeAll(async () => {
    const passwd = join(dir, "passwd");
    execFileSync("mosquitto_passwd", ["-b", "-c", passwd, "sidecar", "right-password"]);
    execFileSync("mosquitto_passwd", ["-b", passwd, "publisher", "publisher-password"]);
    broker = await startMosquitto({ allowAnonymous: false, extraConfig: [`password_file ${passwd}`] });
    odoo = await startOdoo({ db: `sfb_sidecar_health_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "health", mqttUrl: broker.url, topics: ["shopfloor/health/#"] });
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { mqtt_username: "sidecar", mqtt_password: "right-password" },
    ]);
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line));
        done();
      },
    });
    sidecar = await Sidecar.start({
      boot: fixture.boot(join(dir, "spool")),
      log: createLogger("debug", sink),
      heartbeatMs: 300,
      stallMs: 1_500,
      odooTimeoutMs: 5_000,
    });
    publisher = await mqtt.connectAsync(broker.url, {
      clientId: "health-pub",
      username: "publisher",
      password: "publisher-password",
    });
  }, 600_000);
  afterAll(async () => {
    await sidecar?.stop();
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = (i: number, tag: string) =>
    publisher.publishAsync("shopfloor/health/press-1", JSON.stringify(validEvent(i, tag)), { qos: 1 });
  const stateOf = async (uid: string) => (await fixture.events(["state"], [["event_uid", "=", uid]]))[0]?.state;

  it("is healthy while input flows", async () => {
    await publish(0, "flow");
    await expect.poll(() => stateOf("flow-0"), { timeout: 60_000 }).toBe("applied");
    expect(sidecar.health()).toMatchObject({ ok: true, problems: [] });
  });

  it("says intake is degraded when a reload's source cannot start, keeps the previous one ingesting, and recovers", async () => {
    const before = sidecar.config.revision;
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { mqtt_password: "wrong-password" },
    ]);
    await bumpRevision("health/press-2");
    await expect.poll(() => sidecar.health().ok, { timeout: 30_000 }).toBe(false);
    const health = sidecar.health();
    expect(health.problems.join()).toMatch(/intake: revision \d+ could not start its source/);
    // The revision the sidecar says is in force is still the old one, and its source still ingests.
    expect(sidecar.config.revision).toBe(before);
    await publish(1, "degraded");
    await expect.poll(() => stateOf("degraded-1"), { timeout: 60_000 }).toBe("applied");
    // Fixed in Odoo: the next heartbeat reloads, and health is green again.
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { mqtt_password: "right-password" },
    ]);
    await bumpRevision("health/press-3");
    await expect.poll(() => sidecar.health().ok, { timeout: 30_000 }).toBe(true);
    expect(sidecar.config.revision).toBeGreaterThan(before);
    expect(logged("reload failed").length).toBeGreaterThanOrEqual(1);
  });

  it("turns unhealthy when delivery makes no progress while items wait, logs that once, and recovers", async () => {
    await odoo.stop();
    try {
      for (let i = 0; i < 3; i++) await publish(i, "stalled");
      await expect.poll(() => sidecar.health().ok, { timeout: 30_000, interval: 200 }).toBe(false);
      expect(sidecar.health().problems.join()).toMatch(/delivery: no progress for \d+ s with \d+ items waiting/);
      // Several retries happened; the failure was logged as a warning once.
      await expect.poll(() => sidecar.delivery.counters.failures, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
      expect(logged("delivery to Odoo failed; batch kept").filter((l) => l.level === 40)).toHaveLength(1);
    } finally {
      await odoo.start();
    }
    await expect.poll(() => sidecar.health().ok, { timeout: 120_000, interval: 500 }).toBe(true);
    await expect.poll(() => stateOf("stalled-2"), { timeout: 60_000 }).toBe("applied");
    expect(logged("delivery to Odoo recovered")).toHaveLength(1);
  });

  it("turns unhealthy while items are parked, and healthy once they are unparked and delivered", async () => {
    await odoo.stop();
    let seq = 0;
    try {
      await publish(0, "parked");
      await expect.poll(() => sidecar.spool.depth.queued, { timeout: 30_000 }).toBe(1);
      const [entry] = await sidecar.spool.queued(1);
      seq = entry?.seq ?? 0;
      await sidecar.spool.park([seq], "held back by the health test", "health test");
      expect(sidecar.health().problems.join()).toMatch(/spool: 1 items parked/);
      expect(sidecar.health().ok).toBe(false);
    } finally {
      await odoo.start();
    }
    // Parked items stay out of delivery even with Odoo back.
    expect(sidecar.health().ok).toBe(false);
    await sidecar.spool.unpark([seq], "released by the health test", "health test");
    sidecar.delivery.notify();
    await expect.poll(() => stateOf("parked-0"), { timeout: 60_000 }).toBe("applied");
    await expect.poll(() => sidecar.health().ok, { timeout: 30_000 }).toBe(true);
  });

  it("names a source its configuration cannot make, on /healthz and in the heartbeat Odoo's dashboard shows", async () => {
    // The connection loses its broker URL: the reload makes no MQTT source. Before, /healthz said
    // "no source runs (see the log)" and the heartbeat said nothing: Odoo showed a healthy sidecar.
    await fixture.admin.execute("shopfloor.connection", "write", [[fixture.connectionId], { mqtt_url: false }]);
    await bumpRevision("plant1/health/no-url");
    const why = "the connection has no MQTT URL (set it in Odoo or MQTT_URL)";
    await expect
      .poll(() => sidecar.health().problems.join(), { timeout: 30_000, interval: 200 })
      .toContain(`intake: no mqtt source runs: ${why}`);
    await expect
      .poll(
        async () => {
          const [row] = (await fixture.admin.execute("shopfloor.connection", "read", [[fixture.connectionId]], {
            fields: ["stats_json"],
          })) as { stats_json: string }[];
          const stats = JSON.parse(row?.stats_json || "{}") as Record<string, unknown>;
          return [stats.source_connected, stats.source_error];
        },
        { timeout: 30_000, interval: 300 },
      )
      .toEqual([0, why]);
    // A reload of the same configuration: while it runs, no source runs either, and /healthz says so.
    // Before, a reload hid the reason and /healthz was green for its duration (a CI run caught it).
    const again = sidecar.reload();
    expect(sidecar.health().problems).toContain(`intake: no mqtt source runs: ${why}`);
    await again;
    expect(sidecar.health().problems).toContain(`intake: no mqtt source runs: ${why}`);
    // The URL back: the source runs, and the reason is gone from both.
    await fixture.admin.execute("shopfloor.connection", "write", [[fixture.connectionId], { mqtt_url: broker.url }]);
    await bumpRevision("plant1/health/url-back");
    await expect.poll(() => sidecar.health().ok, { timeout: 60_000, interval: 300 }).toBe(true);
    expect(sidecar.stats().source_error).toBeUndefined();
  });
});
