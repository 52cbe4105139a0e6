// docker-compose.yml cannot run here (no Docker engine): this keeps it honest
// by reading it against the code and the official images' documented settings.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
// The only environment the sidecar reads (its bootstrap names).
import { BOOTSTRAP_KEYS, GRACEFUL_STOP_MS, parseBootstrap } from "../../sidecar/src/config.ts";

interface Service {
  image?: string;
  entrypoint?: string[];
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  pull_policy?: string;
  stop_grace_period?: string;
}
const compose = parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8")) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`service ${name} missing`);
  return s;
};

describe("docker-compose.yml", () => {
  it("builds the images it names instead of pulling them (no registry holds them)", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.image?.startsWith("shopfloor-bridge/")) continue;
      expect(service.build, `${name} builds its image`).toBeDefined();
      expect(service.pull_policy, `${name} pull_policy`).toBe("build");
    }
  });

  it("gives the sidecar the time its graceful stop drains for", () => {
    const grace = /^(\d+)s$/.exec(svc("sidecar").stop_grace_period ?? "");
    expect(grace, "stop_grace_period in seconds").not.toBeNull();
    expect(Number(grace?.[1]) * 1000).toBeGreaterThan(GRACEFUL_STOP_MS);
  });

  it("has the five services of the design, each long-running one with a healthcheck", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["mosquitto", "odoo", "postgres", "sidecar", "simulator"]);
    for (const name of ["postgres", "odoo", "mosquitto", "sidecar"]) expect(svc(name).healthcheck?.test).toBeDefined();
  });

  it("starts services only once what they need is healthy", () => {
    expect(svc("odoo").depends_on?.postgres?.condition).toBe("service_healthy");
    expect(svc("sidecar").depends_on?.odoo?.condition).toBe("service_healthy");
    expect(svc("sidecar").depends_on?.mosquitto?.condition).toBe("service_healthy");
  });

  it("declares every named volume it mounts, and mounts files that exist", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const [from] = v.split(":");
        if (!from) throw new Error(`${name}: empty volume`);
        if (from.startsWith(".")) expect(existsSync(join(repoRoot, from)), `${name} mounts ${from}`).toBe(true);
        else expect(compose.volumes, `${name} uses volume ${from}`).toHaveProperty(from);
      }
    }
  });

  it("gives Odoo the official image's settings and the module as an addon", () => {
    const odoo = svc("odoo");
    // odoo:18 entrypoint reads HOST/PORT/USER/PASSWORD; addons under /mnt/extra-addons.
    expect(Object.keys(odoo.environment ?? {}).sort()).toEqual(["HOST", "PASSWORD", "PORT", "USER"]);
    expect(odoo.environment?.USER).toBe(svc("postgres").environment?.POSTGRES_USER);
    expect(odoo.environment?.PASSWORD).toBe(svc("postgres").environment?.POSTGRES_PASSWORD);
    expect(odoo.volumes).toContain("./odoo_addon:/mnt/extra-addons:ro");
    expect(odoo.command?.slice(0, 1)).toEqual(["odoo"]);
    expect(odoo.command).toContain("shopfloor_bridge");
    expect(readFileSync(join(repoRoot, "odoo_addon/Dockerfile"), "utf8")).toMatch(/^FROM odoo:18$/m);
    expect(odoo.ports).toContain("8069:8069");
  });

  it("configures the sidecar with exactly the bootstrap names the sidecar reads", () => {
    const env = svc("sidecar").environment ?? {};
    for (const key of Object.keys(env)) expect(BOOTSTRAP_KEYS as readonly string[]).toContain(key);
    for (const key of ["ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY", "SHOPFLOOR_CONNECTION"]) {
      expect(env).toHaveProperty(key);
    }
    expect(env.ODOO_URL).toBe("http://odoo:8069");
    expect(env.ODOO_DB).toBe("shopfloor");
    expect(svc("sidecar").ports).toContain(`${env.METRICS_PORT}:${env.METRICS_PORT}`);
    // The sidecar accepts it: http:// to odoo knowingly (ODOO_ALLOW_HTTP), /healthz offered beyond loopback.
    const boot = parseBootstrap(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));
    expect(boot.metricsHost).toBe("0.0.0.0");
    expect(readFileSync(join(repoRoot, "sidecar/Dockerfile"), "utf8")).toMatch(/^ENV METRICS_HOST=0\.0\.0\.0$/m);
  });

  it("points the sidecar at the broker user the Mosquitto config allows", () => {
    const mqttUrl = new URL(svc("sidecar").environment?.MQTT_URL ?? "");
    expect(mqttUrl.hostname).toBe("mosquitto");
    const passwd = readFileSync(join(repoRoot, "sidecar/deploy/mosquitto.passwd"), "utf8");
    expect(passwd).toMatch(new RegExp(`^${mqttUrl.username}:\\$7\\$`, "m"));
    const acl = readFileSync(join(repoRoot, "sidecar/deploy/mosquitto.acl"), "utf8");
    expect(acl).toMatch(new RegExp(`^user ${mqttUrl.username}\\ntopic read shopfloor/#`, "m"));
  });

  it("runs the demo shift in the simulator service, as the broker's simulator user", () => {
    const sim = svc("simulator");
    expect(sim.image).toBe(svc("sidecar").image);
    const script = sim.entrypoint?.[1] ?? "";
    expect(existsSync(join(repoRoot, script)), script).toBe(true);
    const args = Object.fromEntries((sim.command ?? []).map((a) => a.replace(/^--/, "").split("=", 2)));
    expect(args["odoo-url"]).toBe("http://odoo:8069");
    expect(args.db).toBe(svc("sidecar").environment?.ODOO_DB);
    expect(new URL(args["mqtt-url"] ?? "").username).toBe("simulator");
    // The options the script accepts.
    const source = readFileSync(join(repoRoot, script), "utf8");
    for (const key of Object.keys(args)) expect(source).toMatch(new RegExp(`\\s"?${key}"?: \\{ type: "string"`));
  });

  it("raises Mosquitto's silent per-session cap of 1000 queued messages", () => {
    const conf = readFileSync(join(repoRoot, "sidecar/deploy/mosquitto.conf"), "utf8");
    const queued = Number(/^max_queued_messages (\d+)$/m.exec(conf)?.[1]);
    expect(queued).toBeGreaterThanOrEqual(100_000);
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(conf).toMatch(/^persistence true$/m);
  });
});
