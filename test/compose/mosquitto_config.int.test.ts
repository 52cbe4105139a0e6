// The broker config shipped for docker-compose, run by a real Mosquitto:
// the sidecar's user gets in and reads its topics, anonymous clients do not.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

let broker: MosquittoBroker;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-compose-mqtt-"));
  copyFileSync(join(repoRoot, "sidecar/deploy/mosquitto.passwd"), join(dir, "passwd"));
  copyFileSync(join(repoRoot, "sidecar/deploy/mosquitto.acl"), join(dir, "acl"));
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
