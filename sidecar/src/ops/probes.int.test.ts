// /livez and /readyz on the real sidecar process (bin shim, env contract)
// between real Mosquitto and real Odoo 18: not ready while the broker is
// down (the reason named), ready once the source connects, not ready again
// when the broker goes away; alive throughout. /metrics carries build_info,
// the Node process metrics, and source_connected and the last heartbeat
// following the same states.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi } from "../../test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../test/support/sidecar-process.ts";

describe.runIf(moduleHasSidecarApi())("/livez and /readyz (sidecar process, Mosquitto, Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let sidecar: SidecarProcess;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), "sfb-probes-"));

  const probe = async (path: string) => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; reasons?: string[] } };
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    // The broker is down when the sidecar starts.
    await broker.stop();
    odoo = await startOdoo({ db: `sfb_probes_${process.pid}` });
    const fixture = await makeOdooFixture(odoo, {
      code: "probes",
      mqttUrl: broker.url,
      topics: ["shopfloor/probes/#"],
    });
    const metricsPort = await freePort();
    base = `http://127.0.0.1:${metricsPort}`;
    sidecar = spawnSidecar({
      env: {
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: fixture.user,
        ODOO_API_KEY: fixture.password,
        SHOPFLOOR_CONNECTION: "probes",
        SHOPFLOOR_SPOOL_DIR: join(dir, "spool"),
        METRICS_PORT: String(metricsPort),
      },
      args: ["run", "--heartbeat-ms", "500"],
    });
    await sidecar.waitForLog(/"msg":"sidecar running"/);
  }, 600_000);
  afterAll(async () => {
    await sidecar?.kill("SIGTERM");
    await broker?.destroy();
    await odoo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is alive but not ready while the broker is down, naming the source", async () => {
    expect(await probe("/livez")).toEqual({ status: 200, body: { ok: true } });
    const ready = await probe("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.ok).toBe(false);
    expect(ready.body.reasons?.join("\n")).toMatch(/^source: .+ is not connected$/m);
    // The alerting rules' gauge says the same (ShopfloorSourceDisconnected).
    expect(await sidecar.metric("shopfloor_sidecar_source_connected", 'kind="mqtt"')).toBe(0);
  });

  it("is ready once the source connects, and not ready again when the broker goes away", async () => {
    await broker.start();
    await expect.poll(async () => (await probe("/readyz")).status, { timeout: 30_000, interval: 250 }).toBe(200);
    expect((await probe("/readyz")).body).toEqual({ ok: true, reasons: [] });
    expect(await sidecar.metric("shopfloor_sidecar_source_connected", 'kind="mqtt"')).toBe(1);
    // Odoo answered a heartbeat lately (ShopfloorHeartbeatStale reads this).
    const lastHeartbeat = await sidecar.metric("shopfloor_sidecar_last_heartbeat_ok_timestamp_seconds");
    expect(Date.now() / 1000 - lastHeartbeat).toBeLessThan(30);
    await broker.stop();
    await expect.poll(async () => (await probe("/readyz")).status, { timeout: 30_000, interval: 250 }).toBe(503);
    expect(await sidecar.metric("shopfloor_sidecar_source_connected", 'kind="mqtt"')).toBe(0);
    expect((await probe("/readyz")).body.reasons?.join("\n")).toMatch(/^source: .+ is not connected$/m);
    expect((await probe("/livez")).status).toBe(200);
    // /healthz still answers its own question beside them.
    expect(await sidecar.health()).toMatchObject({ source_connected: false, spool_open: true });
  });

  it("/metrics carries build_info with the version and the Node process metrics", async () => {
    expect(await sidecar.metric("shopfloor_sidecar_build_info", 'version="0.1.0"')).toBe(1);
    expect(await sidecar.metric("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(await sidecar.metric("shopfloor_sidecar_spool_depth")).toBe(0);
  });
});
