// The broker config shipped for docker-compose, run by a real Mosquitto:
// the sidecar's user gets in and reads its topics, anonymous clients do not.
// The password and ACL files reach the broker the way the compose service's
// entrypoint wrapper (sidecar/deploy/mosquitto-start.sh) puts them in place.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

let broker: MosquittoBroker;
let dir: string;
const WRAPPER = join(repoRoot, "sidecar/deploy/mosquitto-start.sh");
const owner = `${process.getuid?.()}:${process.getgid?.()}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-compose-mqtt-"));
  // As mounted from a clean clone: world-readable.
  const deploy = join(dir, "deploy");
  mkdirSync(deploy);
  copyFileSync(join(repoRoot, "sidecar/deploy/mosquitto.passwd"), join(deploy, "passwd"));
  copyFileSync(join(repoRoot, "sidecar/deploy/mosquitto.acl"), join(deploy, "acl"));
  for (const f of ["passwd", "acl"]) chmodSync(join(deploy, f), 0o644);
  // The wrapper with no command only puts the files in place (here owned by this test's user).
  execFileSync("sh", [WRAPPER], {
    env: { ...process.env, MOSQUITTO_DEPLOY_DIR: deploy, MOSQUITTO_CONFIG_DIR: dir, MOSQUITTO_FILE_OWNER: owner },
  });
  const shipped = readFileSync(join(repoRoot, "sidecar/deploy/mosquitto.conf"), "utf8");
  expect(shipped).toMatch(/^password_file \/mosquitto\/config\/passwd$/m);
  expect(shipped).toMatch(/^acl_file \/mosquitto\/config\/acl$/m);
  // Same users and ACL as the container, at this machine's paths.
  broker = await startMosquitto({
    allowAnonymous: false,
    extraConfig: [`password_file ${join(dir, "passwd")}`, `acl_file ${join(dir, "acl")}`],
  });
});
afterAll(async () => {
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it("puts the password and ACL files in place readable by the broker's user alone", () => {
  for (const f of ["passwd", "acl"]) {
    const st = statSync(join(dir, f));
    expect(st.mode & 0o777, f).toBe(0o600);
    expect(`${st.uid}:${st.gid}`, f).toBe(owner);
    expect(readFileSync(join(dir, f), "utf8")).toBe(
      readFileSync(join(repoRoot, `sidecar/deploy/mosquitto.${f}`), "utf8"),
    );
  }
  const missing = spawnSync("sh", [WRAPPER], {
    env: { ...process.env, MOSQUITTO_DEPLOY_DIR: join(dir, "nowhere"), MOSQUITTO_CONFIG_DIR: dir },
    encoding: "utf8",
  });
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(
    /nowhere\/passwd is missing or empty \(mount sidecar\/deploy\/mosquitto\.passwd there\)/,
  );
});

it("lets the sidecar read what the simulator publishes, and refuses anonymous clients", async () => {
  const sidecar = await mqtt.connectAsync(broker.url, {
    username: "sidecar",
    password: "sidecar",
    clientId: "c-sidecar",
  });
  await sidecar.subscribeAsync("shopfloor/#", { qos: 1 });
  const got = new Promise<string>((resolve) => sidecar.once("message", (_t, p) => resolve(p.toString())));
  const sim = await mqtt.connectAsync(broker.url, { username: "simulator", password: "simulator", clientId: "c-sim" });
  await sim.publishAsync("shopfloor/plant1/line1", "hello", { qos: 1 });
  expect(await got).toBe("hello");
  await Promise.all([sidecar.endAsync(), sim.endAsync()]);

  await expect(
    mqtt.connectAsync(broker.url, { clientId: "c-anon", reconnectPeriod: 0, connectTimeout: 3000 }),
  ).rejects.toThrow(/Not authorized|Connection refused/);
});
