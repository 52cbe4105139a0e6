// The composition root in-process against real Mosquitto and real Odoo 18:
// events applied with the sidecar's stamps, heartbeat stats in Odoo, hot
// reload on a mapping change, and `replay` from the CLI.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { registerHooks } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../test/support/odoo/testing.ts";
import { SIDECAR_BIN } from "../test/support/sidecar-process.ts";
import { Sidecar } from "./main.ts";
import { createLogger } from "./ops/log.ts";

// Every module of the OPC UA stack this process resolves from here on.
const opcuaModules: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.includes("/node_modules/node-opcua")) opcuaModules.push(resolved.url);
    return resolved;
  },
});

describe.runIf(moduleHasSidecarApi())("Sidecar (in-process) with Mosquitto and Odoo 18", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let fixture: OdooFixture;
  let sidecar: Sidecar;
  let publisher: MqttClient;
  const spoolDir = mkdtempSync(join(tmpdir(), "sfb-main-int-"));
  const env = () => ({
    ODOO_URL: odoo.url,
    ODOO_DB: odoo.db,
    ODOO_USER: fixture.user,
    ODOO_API_KEY: fixture.password,
    SHOPFLOOR_CONNECTION: fixture.code,
    SHOPFLOOR_SPOOL_DIR: spoolDir,
  });

  beforeAll(async () => {
    broker = await startMosquitto();
    odoo = await startOdoo({ db: `sfb_sidecar_main_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "mainint", mqttUrl: broker.url, topics: ["shopfloor/mainint/#"] });
    sidecar = await Sidecar.start({
      boot: fixture.boot(spoolDir),
      log: createLogger("warn"),
      heartbeatMs: 500,
    });
    publisher = await mqtt.connectAsync(broker.url, { clientId: "mainint-pub" });
  });
  afterAll(async () => {
    await sidecar?.stop();
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it("delivers an event that Odoo applies, stamped with connection, revision and observed time", async () => {
    const event = validEvent(1, "mainint");
    await publisher.publishAsync("shopfloor/mainint/press-1", JSON.stringify(event), { qos: 1 });
    await expect
      .poll(async () => (await fixture.events(["event_uid", "state"], [["event_uid", "=", "mainint-1"]]))[0]?.state, {
        timeout: 60_000,
      })
      .toBe("applied");
    const [row] = await fixture.events(
      ["mapping_revision", "observed_time", "skew_ms", "connection_id"],
      [["event_uid", "=", "mainint-1"]],
    );
    expect(row?.mapping_revision).toBe(sidecar.config.revision);
    expect(row?.observed_time).toBeTruthy();
    expect(Array.isArray(row?.connection_id) && row.connection_id[0]).toBe(fixture.connectionId);
  });

  it("checkpoints its spool on a thread of its own: the event's commit was copied off the main thread", async () => {
    await expect.poll(() => sidecar.spool.checkpoints?.rounds ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(sidecar.spool.checkpoints?.failed).toBeUndefined();
  });

  it("loads no OPC UA stack: an MQTT connection has nothing to probe", () => {
    // The prober is for OPC UA and PLC connections; loading it for others cost
    // seconds before /metrics answered, and the memory of node-opcua.
    expect(sidecar.config.kind).toBe("mqtt");
    expect(opcuaModules.slice(0, 3)).toEqual([]);
  });

  it("reports heartbeats with stats to the connection in Odoo", async () => {
    await expect
      .poll(
        async () => {
          const [c] = (await fixture.admin.execute("shopfloor.connection", "read", [[fixture.connectionId]], {
            fields: ["last_seen", "sidecar_version", "stats_json"],
          })) as { last_seen: string | false; sidecar_version: string; stats_json: string | false }[];
          return c?.sidecar_version && c.last_seen && JSON.parse(c.stats_json || "{}").events_in >= 1;
        },
        { timeout: 30_000 },
      )
      .toBe(true);
  });

  it("takes the connection's delivery partitions, send-at size and catch-up settings on reload; its heartbeat and Odoo's tile say so", async () => {
    const before = sidecar.config.revision;
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { delivery_partitions: 3, batch_send_at: 40, catchup_backlog: 50_000, catchup_batch_size: 1000 },
    ]);
    await expect.poll(() => sidecar.config.revision, { timeout: 30_000 }).toBeGreaterThan(before);
    expect(sidecar.config.batch).toMatchObject({
      send_at: 40,
      partitions: 3,
      catchup_backlog: 50_000,
      catchup_size: 1000,
    });
    expect(sidecar.delivery.partitions).toBe(3);
    expect(sidecar.delivery.batchSendAt).toBe(40);
    const stats = sidecar.stats();
    expect(stats).toMatchObject({ catchup: false, delivery_partitions: 3 });
    expect(typeof stats.backlog).toBe("number");
    await expect
      .poll(
        async () => {
          const { tiles } = (await fixture.admin.execute("shopfloor.dashboard", "get_dashboard", [])) as {
            tiles: { code: string; catchup: boolean; catchup_backlog: number; drain_eta_s: number | false }[];
          };
          const [c] = (await fixture.admin.execute("shopfloor.connection", "read", [[fixture.connectionId]], {
            fields: ["stats_json"],
          })) as { stats_json: string | false }[];
          const sent = JSON.parse(c?.stats_json || "{}");
          return sent.delivery_partitions === 3 ? tiles.find((t) => t.code === fixture.code) : undefined;
        },
        { timeout: 30_000 },
      )
      .toMatchObject({ catchup: false, catchup_backlog: 0 });
  });

  it("reloads its configuration when a mapping change bumps the revision in Odoo", async () => {
    const before = sidecar.config.revision;
    const [workcenterId] = (await fixture.admin.execute("mrp.workcenter", "search", [[]], { limit: 1 })) as number[];
    await fixture.admin.execute("shopfloor.source.map", "create", [
      { connection_id: fixture.connectionId, source: "mainint/press-1", workcenter_id: workcenterId },
    ]);
    await expect.poll(() => sidecar.config.revision, { timeout: 30_000 }).toBeGreaterThan(before);
    expect(sidecar.config.sources.map((s) => s.source)).toContain("mainint/press-1");
    // The source restarted on the new revision and still ingests.
    await publisher.publishAsync("shopfloor/mainint/press-1", JSON.stringify(validEvent(2, "mainint")), { qos: 1 });
    await expect
      .poll(
        async () =>
          (await fixture.events(["mapping_revision"], [["event_uid", "=", "mainint-2"]]))[0]?.mapping_revision,
        {
          timeout: 60_000,
        },
      )
      .toBe(sidecar.config.revision);
  });

  it("replay sends a time range again from the CLI; Odoo answers duplicate", async () => {
    await sidecar.stop();
    const r = spawnSync(
      process.execPath,
      [
        SIDECAR_BIN,
        "replay",
        "--from",
        "2026-11-22T00:00:00Z",
        "--to",
        "2026-11-23T00:00:00Z",
        "--source",
        "mainint/press-1",
      ],
      { env: { PATH: process.env.PATH ?? "", ...env() }, encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop() as string)).toEqual({
      replayed: 2,
      statuses: { duplicate: 2 },
    });
  });
});
