// mTLS from the connection form to /healthz, against real Odoo 18 and a real
// Mosquitto that requires client certificates: the CA, client certificate
// and key an admin enters on the connection reach the sidecar through
// sidecar_config and carry events into Odoo; a certificate the broker
// refuses shows on /healthz naming the field to fix, while the previous
// revision keeps ingesting.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../devstack/mosquitto.ts";
import { createTestCa, type TestCa } from "../devstack/mqtt-pki.ts";
import { type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../test/support/odoo/testing.ts";
import { Sidecar } from "./main.ts";
import { createLogger } from "./ops/log.ts";

describe.runIf(moduleHasSidecarApi())("mTLS configured in Odoo (in-process sidecar, Mosquitto, Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let ca: TestCa;
  let rogueCa: TestCa;
  let fixture: OdooFixture;
  let sidecar: Sidecar;
  let publisher: MqttClient;
  const dir = mkdtempSync(join(tmpdir(), "sfb-mqtt-tls-odoo-"));

  const bumpRevision = async (source: string) => {
    const [workcenterId] = (await fixture.admin.execute("mrp.workcenter", "search", [[]], { limit: 1 })) as number[];
    await fixture.admin.execute("shopfloor.source.map", "create", [
      { connection_id: fixture.connectionId, source, workcenter_id: workcenterId },
    ]);
  };
  const publish = (i: number, tag: string) =>
    publisher.publishAsync("shopfloor/tls/press-1", JSON.stringify(validEvent(i, tag)), { qos: 1 });
  const stateOf = async (uid: string) => (await fixture.events(["state"], [["event_uid", "=", uid]]))[0]?.state;

  beforeAll(async () => {
    ca = createTestCa("plant-ca");
    rogueCa = createTestCa("rogue-ca");
    const server = ca.server();
    broker = await startMosquitto({
      tls: { caFile: ca.certFile, certFile: server.certFile, keyFile: server.keyFile, requireCertificate: true },
    });
    odoo = await startOdoo({ db: `sfb_sidecar_mqtt_tls_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "tls", mqttUrl: broker.tlsUrl, topics: ["shopfloor/tls/#"] });
    const sidecarCert = ca.client("sidecar");
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { mqtt_ca: ca.cert, mqtt_client_cert: sidecarCert.cert, mqtt_client_key: sidecarCert.key },
    ]);
    sidecar = await Sidecar.start({
      boot: fixture.boot(join(dir, "spool")),
      log: createLogger("warn"),
      heartbeatMs: 300,
      odooTimeoutMs: 5_000,
    });
    const publisherCert = ca.client("publisher");
    publisher = await mqtt.connectAsync(broker.tlsUrl, {
      clientId: "tls-pub",
      ca: ca.cert,
      cert: publisherCert.cert,
      key: publisherCert.key,
    });
  }, 600_000);
  afterAll(async () => {
    await sidecar?.stop();
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    ca?.destroy();
    rogueCa?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ingests over mTLS with the CA, client certificate and key entered on the connection", async () => {
    expect(sidecar.config.mqtt).toMatchObject({ client_cert: expect.stringContaining("BEGIN CERTIFICATE") });
    await publish(0, "mtls");
    await expect.poll(() => stateOf("mtls-0"), { timeout: 60_000 }).toBe("applied");
    expect(sidecar.health()).toMatchObject({ ok: true, source_connected: true });
  });

  it("a client certificate the broker refuses: /healthz names mqtt_client_cert, the previous revision keeps ingesting", async () => {
    const stranger = rogueCa.client("stranger");
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { mqtt_client_cert: stranger.cert, mqtt_client_key: stranger.key },
    ]);
    await bumpRevision("tls/press-2");
    await expect.poll(() => sidecar.health().ok, { timeout: 30_000 }).toBe(false);
    const problems = sidecar.health().problems.join("\n");
    expect(problems).toMatch(/intake: revision \d+ could not start its source: mqtt_client_cert: /);
    expect(problems).toMatch(/refused the client certificate in mqtt_client_cert/);
    expect(problems).not.toContain("BEGIN");
    await publish(1, "still");
    await expect.poll(() => stateOf("still-1"), { timeout: 60_000 }).toBe("applied");
  });
});
