// The sidecar process with its secrets cached or not (SHOPFLOOR_SECRET_KEY),
// Odoo unreachable, a real Mosquitto that requires a password; and where its
// ops server listens (METRICS_HOST).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../devstack/mosquitto.ts";
import { freePort } from "../devstack/odoo.ts";
import { type SidecarProcess, spawnSidecar } from "../test/support/sidecar-process.ts";
import { configWithSecrets } from "../test/support/spool/spool.contract.ts";
import type { SidecarConfig } from "./core/contract.ts";
import { NO_SECRET_KEY, spoolPath } from "./main.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";

const BROKER_USER = "sidecar";
const BROKER_PASSWORD = `broker-${randomBytes(6).toString("hex")}`;

/** This machine's first address that is not loopback (the ops server must not answer there by default). */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && address.family === "IPv4" && !address.internal)?.address;

const dir = mkdtempSync(join(tmpdir(), "sfb-secrets-"));
let broker: MosquittoBroker;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  const passwd = join(dir, "mosquitto.passwd");
  execFileSync("mosquitto_passwd", ["-c", "-b", passwd, BROKER_USER, BROKER_PASSWORD]);
  broker = await startMosquitto({ allowAnonymous: false, extraConfig: [`password_file ${passwd}`] });
});
afterAll(async () => {
  for (const p of running) await p.kill("SIGKILL");
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** Odoo is unreachable (nothing listens on port 1): the sidecar has only what the spool cached. */
async function start(
  env: Record<string, string>,
  seed?: { secretKey?: Buffer },
): Promise<SidecarProcess & { port: string }> {
  const spoolDir = join(dir, `spool${n++}`);
  if (seed) {
    const spool = new SqliteSpool({ path: spoolPath(spoolDir), secretKey: seed.secretKey });
    await spool.saveConfig(brokerConfig());
    await spool.close();
  }
  const port = String(await freePort());
  const p = spawnSidecar({
    env: {
      ODOO_URL: "http://127.0.0.1:1",
      ODOO_DB: "db",
      ODOO_USER: "u",
      ODOO_API_KEY: "odoo-api-key-not-used",
      SHOPFLOOR_CONNECTION: "line1",
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: port,
      ...env,
    },
    args: ["run", "--heartbeat-ms", "500"],
  });
  running.push(p);
  return Object.assign(p, { port });
}

function brokerConfig(): SidecarConfig {
  const config = configWithSecrets();
  return {
    ...config,
    opcua: false,
    mqtt: {
      ...(config.mqtt as Exclude<SidecarConfig["mqtt"], false>),
      url: broker.url,
      username: BROKER_USER,
      password: BROKER_PASSWORD,
      ca: "",
      client_cert: "",
      client_key: "",
    },
  };
}

async function reaches(host: string, port: string): Promise<boolean> {
  try {
    await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(3_000) });
    return true;
  } catch {
    return false;
  }
}

const anonymousFallback = () => ({ MQTT_URL: `mqtt://${BROKER_USER}:${BROKER_PASSWORD}@127.0.0.1:${broker.port}` });

describe.runIf(outside)("the ops server's address (METRICS_HOST)", () => {
  it("listens on 127.0.0.1 only by default: the machine's other address is refused", async () => {
    const p = await start(anonymousFallback());
    await p.waitForLog(/"msg":"sidecar running"/);
    expect(await reaches("127.0.0.1", p.port)).toBe(true);
    expect(await reaches(outside as string, p.port)).toBe(false);
    await p.kill("SIGTERM");
  }, 60_000);

  it("listens where METRICS_HOST says: 0.0.0.0 answers on every address, the other address alone only there", async () => {
    const everywhere = await start({ ...anonymousFallback(), METRICS_HOST: "0.0.0.0" });
    await everywhere.waitForLog(/"msg":"sidecar running"/);
    expect(await reaches("127.0.0.1", everywhere.port)).toBe(true);
    expect(await reaches(outside as string, everywhere.port)).toBe(true);
    await everywhere.kill("SIGTERM");
    const there = await start({ ...anonymousFallback(), METRICS_HOST: outside as string });
    await there.waitForLog(/"msg":"sidecar running"/);
    expect(await reaches(outside as string, there.port)).toBe(true);
    expect(await reaches("127.0.0.1", there.port)).toBe(false);
    await there.kill("SIGTERM");
  }, 60_000);
});

describe("starting from the cached configuration while Odoo is down", () => {
  it("with the key the secrets were cached under: the source logs in to the broker", async () => {
    const secretKey = randomBytes(32);
    const p = await start({ SHOPFLOOR_SECRET_KEY: secretKey.toString("hex") }, { secretKey });
    await p.waitForLog(/"msg":"source started"/);
    // The ops server (/healthz) listens from "sidecar running" on, after every start step.
    await p.waitForLog(/"msg":"sidecar running"/);
    const health = await p.health();
    expect(health).toMatchObject({ source_connected: true, secrets_cache: "encrypted with SHOPFLOOR_SECRET_KEY" });
    expect(p.output()).not.toContain(NO_SECRET_KEY);
    await p.kill("SIGTERM");
  }, 60_000);

  it("without a key: it starts, says once that the sources wait for Odoo, and /healthz says why", async () => {
    const p = await start({}, {});
    await p.waitForLog(/"msg":"sidecar running"/);
    // Several heartbeats fail meanwhile: the process stays up, the message is not repeated.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(p.child.exitCode).toBeNull();
    const said = (text: string) => p.logs().filter((l) => typeof l.msg === "string" && l.msg.includes(text));
    expect(said(NO_SECRET_KEY)).toHaveLength(1);
    expect(said("waiting for Odoo: the cached configuration lacks its secrets (mqtt.password)")).toHaveLength(1);
    expect(p.output()).not.toMatch(/"msg":"source started"/);
    const response = await fetch(`http://127.0.0.1:${p.port}/healthz`);
    expect(response.status).toBe(503);
    const health = (await response.json()) as { problems: string[]; secrets_cache: string };
    expect(health.secrets_cache).toBe(NO_SECRET_KEY);
    expect(health.problems.join("\n")).toMatch(
      /intake: waiting for Odoo: the cached configuration lacks its secrets \(mqtt\.password\): .*no SHOPFLOOR_SECRET_KEY/,
    );
    await p.kill("SIGTERM");
  }, 60_000);

  it("with another key than the cache's: a clear error, the secrets treated as absent, no crash", async () => {
    const p = await start({ SHOPFLOOR_SECRET_KEY: randomBytes(32).toString("base64") }, { secretKey: randomBytes(32) });
    await p.waitForLog(/"msg":"sidecar running"/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(p.child.exitCode).toBeNull();
    const errors = p.logs().filter((l) => l.level === 50);
    expect(errors.map((l) => l.msg)).toEqual([
      expect.stringMatching(/lacks its secrets \(mqtt\.password\): the cached secrets were encrypted with another key/),
    ]);
    expect((await p.health()).problems).toEqual([expect.stringMatching(/^intake: waiting for Odoo/)]);
    await p.kill("SIGTERM");
  }, 60_000);

  it("exits 2 naming SHOPFLOOR_SECRET_KEY when the key is malformed, without printing it", async () => {
    const p = await start({ SHOPFLOOR_SECRET_KEY: "short-and-wrong-key" });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/bad configuration: SHOPFLOOR_SECRET_KEY: is not a 32-byte key/);
    expect(p.output()).not.toContain("short-and-wrong-key");
  }, 30_000);
});
