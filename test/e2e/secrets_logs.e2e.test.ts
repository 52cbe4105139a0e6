// No secret reaches a log: the real chain (Mosquitto with mTLS and a
// password, Odoo 18, the sidecar process) runs with distinctive secrets —
// the broker password, the MQTT client key, the Odoo API key, the spool key —
// through events, a reload, a reload that fails on a bad client key, the CLI,
// /healthz and /metrics; then every byte those wrote is searched for them.
import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { createTestCa, type TestCa } from "../../sidecar/devstack/mqtt-pki.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { validEvent } from "../../sidecar/test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { SIDECAR_BIN, type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

const CODE = "seclog";
const mark = (what: string) => `${what}MARK${randomBytes(8).toString("hex")}`;
const BROKER_PASSWORD = mark("brokerpw");
const ODOO_API_KEY = mark("odookey");
const SECRET_KEY = randomBytes(32);
const PUBLISHER_PASSWORD = "publisher-password";

/**
 * Every form of a secret a log could carry: the whole value and each line of
 * a PEM body — but not a line that is public too (a key's line may encode
 * only its public half, which its certificate carries as well).
 */
function forms(secret: string, publicText = ""): string[] {
  const lines = secret
    .split("\n")
    .filter((line) => line.length >= 16 && !line.startsWith("-----") && !publicText.includes(line));
  return [secret.trim(), ...lines];
}

/** A private key's secret scalar (JWK `d`), as base64url and hex. */
function privateScalar(pem: string): string[] {
  const d = createPrivateKey(pem).export({ format: "jwk" }).d as string;
  return [d, Buffer.from(d, "base64url").toString("hex")];
}

describe.runIf(moduleHasSidecarApi())("no secret in any log of a real run (Mosquitto mTLS + Odoo 18 + sidecar)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let ca: TestCa;
  let fixture: OdooFixture;
  let publisher: MqttClient;
  let sidecar: SidecarProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "sfb-e2e-secrets-"));

  beforeAll(async () => {
    ca = createTestCa("plant-ca");
    const server = ca.server();
    const passwd = join(dir, "mosquitto.passwd");
    execFileSync("mosquitto_passwd", ["-c", "-b", passwd, "sidecar", BROKER_PASSWORD]);
    execFileSync("mosquitto_passwd", ["-b", passwd, "publisher", PUBLISHER_PASSWORD]);
    broker = await startMosquitto({
      allowAnonymous: false,
      extraConfig: [`password_file ${passwd}`],
      tls: { caFile: ca.certFile, certFile: server.certFile, keyFile: server.keyFile, requireCertificate: true },
    });
    odoo = await startOdoo({ db: `sfb_secrets_logs_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: CODE, mqttUrl: broker.tlsUrl, topics: [`shopfloor/${CODE}/#`] });
    publisher = await mqtt.connectAsync(broker.url, {
      clientId: `e2e-secrets-pub-${process.pid}`,
      username: "publisher",
      password: PUBLISHER_PASSWORD,
    });
  }, 600_000);
  afterAll(async () => {
    await sidecar?.kill("SIGKILL");
    await publisher?.endAsync();
    await broker?.destroy();
    await odoo?.destroy();
    ca?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const bumpRevision = async (source: string) => {
    const [workcenterId] = (await fixture.admin.execute("mrp.workcenter", "search", [[]], { limit: 1 })) as number[];
    await fixture.admin.execute("shopfloor.source.map", "create", [
      { connection_id: fixture.connectionId, source, workcenter_id: workcenterId },
    ]);
  };
  const setConnection = (values: Record<string, unknown>) =>
    fixture.admin.execute("shopfloor.connection", "write", [[fixture.connectionId], values]);
  const publish = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      await publisher.publishAsync(`shopfloor/${CODE}/press-1`, JSON.stringify(validEvent(i, CODE)), { qos: 1 });
    }
  };
  const waitForEvents = async (n: number) => {
    const deadline = Date.now() + 60_000;
    while ((await fixture.events(["id"])).length < n) {
      if (Date.now() > deadline)
        throw new Error(`fewer than ${n} events reached Odoo:\n${sidecar?.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, "g"))?.length ?? 0;

  it("drives events, reloads and the CLI; none of the secrets appears in any output", async () => {
    const clientCert = ca.client("sidecar");
    const otherCert = ca.client("not-this-one");
    const otherKey = otherCert.key;
    // The integration user's secret as its API key (a password works where a key does).
    const [userId] = (await fixture.admin.execute("res.users", "search", [[["login", "=", fixture.user]]])) as number[];
    await fixture.admin.execute("res.users", "write", [[userId], { password: ODOO_API_KEY }]);
    await setConnection({
      mqtt_username: "sidecar",
      mqtt_password: BROKER_PASSWORD,
      mqtt_ca: ca.cert,
      mqtt_client_cert: clientCert.cert,
      mqtt_client_key: clientCert.key,
    });
    const odooLogFrom = statSync(odoo.logFile).size;

    const metricsPort = String(await freePort());
    const env = {
      ODOO_URL: odoo.url,
      ODOO_DB: odoo.db,
      ODOO_USER: fixture.user,
      ODOO_API_KEY,
      SHOPFLOOR_CONNECTION: CODE,
      SHOPFLOOR_SPOOL_DIR: join(dir, "spool"),
      SHOPFLOOR_SECRET_KEY: SECRET_KEY.toString("base64"),
      METRICS_PORT: metricsPort,
      LOG_LEVEL: "debug",
    };
    sidecar = spawnSidecar({ env, args: ["run", "--heartbeat-ms", "500"] });
    await sidecar.waitForLog(/"msg":"source started"/);

    // Events through mTLS, the broker password and the API key.
    await publish(0, 20);
    await waitForEvents(20);

    // A reload that works (the configuration, secrets included, fetched again)…
    await bumpRevision(`${CODE}/reload-1`);
    await sidecar.waitForLog(/"msg":"configuration reloaded"/);
    // …one that fails on a client key that does not match the certificate (its error is logged)…
    await setConnection({ mqtt_client_key: otherKey });
    await bumpRevision(`${CODE}/reload-2`);
    await sidecar.waitForLog(/"msg":"reload failed"/);
    // …one that fails on a plain mqtt:// URL carrying the password (the error quotes the URL; /healthz too)…
    const failures = () => count(sidecar?.output() ?? "", /"msg":"reload failed"/);
    const before = failures();
    await setConnection({
      mqtt_client_key: clientCert.key,
      mqtt_url: `mqtt://sidecar:${BROKER_PASSWORD}@127.0.0.1:${broker.port}`,
    });
    await bumpRevision(`${CODE}/reload-3`);
    await sidecar.waitForLog(/is plain MQTT/);
    expect(failures()).toBeGreaterThan(before);
    const failingHealth = await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).text();
    // …and the fix.
    await setConnection({ mqtt_url: broker.tlsUrl });
    await bumpRevision(`${CODE}/reload-4`);
    const reloaded = () => count(sidecar?.output() ?? "", /"msg":"configuration reloaded"/);
    const deadline = Date.now() + 30_000;
    while (reloaded() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(reloaded()).toBe(2);
    await publish(20, 30);
    await waitForEvents(30);

    const health = await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).text();
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const cli = (args: string[], extra: Record<string, string> = {}) => {
      const r = spawnSync(process.execPath, [SIDECAR_BIN, ...args], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env, ...extra },
        encoding: "utf8",
        timeout: 60_000,
      });
      return `${r.stdout}${r.stderr}`;
    };
    const cliOutput = [
      cli(["spool", "stats"]),
      cli(["spool", "list", "--state", "delivered", "--limit", "5"]),
      // A bad setting's message: the CLI quotes a URL it refuses.
      cli(["--config", "/nonexistent", "spool", "stats"]),
      cli(["run"], { MQTT_URL: `http://sidecar:${BROKER_PASSWORD}@127.0.0.1:${broker.port}` }),
    ].join("\n");

    expect(await sidecar.kill("SIGTERM")).toBe(0);
    const sidecarOutput = sidecar.output();
    const odooLog = readFileSync(odoo.logFile, "utf8").slice(odooLogFrom);
    const brokerLog = existsSync(join(broker.dir, "mosquitto.log"))
      ? readFileSync(join(broker.dir, "mosquitto.log"), "utf8")
      : "";

    // The outputs are real and cover what was driven (the test can fail).
    expect(count(sidecarOutput, /\n/)).toBeGreaterThan(5);
    expect(sidecarOutput).toMatch(/"msg":"source started"/);
    expect(sidecarOutput).toMatch(/"msg":"reload failed"/);
    expect(odooLog).toMatch(/POST \/jsonrpc/);
    expect(health).toMatch(/"connection":"seclog"/);
    expect(failingHealth).toMatch(/intake: revision \d+ could not start its source: .*is plain MQTT/);
    expect(cliOutput).toMatch(
      /bad configuration: MQTT_URL: "http:\/\/sidecar:\[redacted\]@127\.0\.0\.1:\d+" must start/,
    );
    expect(metrics).toMatch(/shopfloor_sidecar_events_in_total/);
    expect(cliOutput).toMatch(/"queued": 0/);
    expect(cliOutput).toMatch(/"status":"applied"|"status":"failed"|"status":"rejected"/);

    const secrets: [string, string[]][] = [
      ["broker password", forms(BROKER_PASSWORD)],
      ["MQTT client key", [...forms(clientCert.key, clientCert.cert), ...privateScalar(clientCert.key)]],
      ["the other client key", [...forms(otherKey, otherCert.cert), ...privateScalar(otherKey)]],
      ["Odoo API key", forms(ODOO_API_KEY)],
      ["spool key", [SECRET_KEY.toString("base64"), SECRET_KEY.toString("hex")]],
    ];
    const outputs: [string, string][] = [
      ["sidecar stdout/stderr", sidecarOutput],
      ["Odoo log", odooLog],
      ["Mosquitto log", brokerLog],
      ["/healthz", health],
      ["/healthz while a reload failed", failingHealth],
      ["/metrics", metrics],
      ["CLI", cliOutput],
      ["spool.db", readFileSync(join(dir, "spool", "spool.db")).toString("latin1")],
    ];
    const found: string[] = [];
    for (const [secretName, values] of secrets) {
      for (const [outputName, text] of outputs) {
        const value = values.find((candidate) => text.includes(candidate));
        if (value === undefined) continue;
        // Where, so a failure shows what wrote it (these secrets are made for this test).
        const at = text.indexOf(value);
        found.push(`${secretName} in ${outputName}: …${text.slice(Math.max(0, at - 300), at + 80)}…`);
      }
    }
    expect(found).toEqual([]);
    // A control: the same search does find a secret where one is.
    expect(forms(clientCert.key, clientCert.cert).length).toBeGreaterThan(1);
    expect(forms(clientCert.key).every((value) => readFileSync(clientCert.keyFile, "utf8").includes(value))).toBe(true);
  }, 300_000);

  it("without SHOPFLOOR_SECRET_KEY, a start while Odoo is down waits for Odoo, then starts the source", async () => {
    const code = "seclog2";
    const second = await makeOdooFixture(odoo, { code, mqttUrl: broker.url, topics: [`shopfloor/${code}/#`] });
    await second.admin.execute("shopfloor.connection", "write", [
      [second.connectionId],
      { mqtt_username: "sidecar", mqtt_password: BROKER_PASSWORD },
    ]);
    const spoolDir = join(dir, "spool-nokey");
    const env = (odooUrl: string) => ({
      ODOO_URL: odooUrl,
      ODOO_DB: odoo.db,
      ODOO_USER: second.user,
      ODOO_API_KEY: second.password,
      SHOPFLOOR_CONNECTION: code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: "0",
    });
    // First run with Odoo up: the configuration is cached, without its password.
    const first = spawnSidecar({ env: env(odoo.url), args: ["run", "--heartbeat-ms", "500"] });
    await first.waitForLog(/"msg":"source started"/);
    expect(await first.kill("SIGTERM")).toBe(0);
    expect(readFileSync(join(spoolDir, "spool.db")).includes(BROKER_PASSWORD)).toBe(false);

    // Second run through a forwarding proxy to the real Odoo that is not listening yet: Odoo is down.
    const proxyPort = await freePort();
    const odooPort = Number(new URL(odoo.url).port);
    const metricsPort = String(await freePort());
    const again = spawnSidecar({
      env: { ...env(`http://127.0.0.1:${proxyPort}`), METRICS_PORT: metricsPort },
      args: ["run", "--heartbeat-ms", "500"],
    });
    try {
      await again.waitForLog(/"msg":"sidecar running"/);
      await again.waitForLog(/waiting for Odoo: the cached configuration lacks its secrets \(mqtt\.password\)/);
      const waiting = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      expect(waiting.status).toBe(503);
      expect(again.output()).not.toMatch(/"msg":"source started"/);
      const proxy = createServer((client) => {
        const upstream = connect(odooPort, "127.0.0.1");
        client.pipe(upstream).pipe(client);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(proxyPort, "127.0.0.1", resolve));
      try {
        // The next heartbeat reaches Odoo, the configuration (with its password) is fetched, the source logs in.
        await again.waitForLog(/"msg":"source started"/, 30_000);
        await publisher.publishAsync(`shopfloor/${code}/press-1`, JSON.stringify(validEvent(1, code)), { qos: 1 });
        const deadline = Date.now() + 30_000;
        while ((await second.events(["id"])).length < 1 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(await second.events(["event_uid"])).toEqual([expect.objectContaining({ event_uid: `${code}-1` })]);
        const healthy = (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).json()) as {
          problems: string[];
        };
        expect(healthy.problems).toEqual([]);
        expect(await again.kill("SIGTERM")).toBe(0);
      } finally {
        proxy.close();
      }
    } finally {
      await again.kill("SIGKILL");
    }
  }, 180_000);
});
