// docker-compose.yml cannot run here (no Docker engine): this keeps it honest
// by reading it against the code and the official images' documented settings
// (odoo:18: HOST/PORT/USER/PASSWORD[_FILE], ODOO_RC, /mnt/extra-addons;
// postgres:16: POSTGRES_PASSWORD_FILE; eclipse-mosquitto:2: /mosquitto/config,
// /docker-entrypoint.sh). The build steps and the init step run for real in
// build-bundle.int.test.ts and integration-user.int.test.ts.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
// The only environment the sidecar reads (its bootstrap names).
import { BOOTSTRAP_KEYS, GRACEFUL_STOP_MS, parseBootstrap } from "../../sidecar/src/config.ts";

interface Service {
  profiles?: string[];
  image?: string;
  user?: string;
  entrypoint?: string[];
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  /** Short syntax (the name) or long syntax (`source`, `target`). */
  secrets?: (string | { source: string; target?: string })[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  pull_policy?: string;
  stop_grace_period?: string;
}
// Merge keys (<<: *anchor) as Compose reads them.
const compose = parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
};
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`service ${name} missing`);
  return s;
};
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
const inProfile = (profile: string) =>
  Object.entries(compose.services).filter(([, s]) => !s.profiles || s.profiles.includes(profile));
const dockerfile = read("odoo_addon/Dockerfile");
const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith("FROM "));

describe("docker-compose.yml", () => {
  it("builds the images it names instead of pulling them (no registry holds them)", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.image?.startsWith("shopfloor-bridge/")) continue;
      expect(service.build, `${name} builds its image`).toBeDefined();
      expect(service.pull_policy, `${name} pull_policy`).toBe("build");
    }
  });

  it("has a demo and a production profile, the brokers of a backbone profile and Prometheus and Grafana of an observability profile; only what all use has no profile", () => {
    const names = (profile: string) =>
      inProfile(profile)
        .map(([n]) => n)
        .sort();
    expect(names("demo")).toEqual(["mosquitto", "odoo-demo", "postgres-demo", "sidecar-demo", "simulator"]);
    expect(names("production")).toEqual(["mosquitto", "odoo", "odoo-init", "postgres", "sidecar"]);
    expect(names("backbone")).toEqual(["kafka", "mosquitto", "rabbitmq", "redis"]);
    expect(names("observability")).toEqual(["grafana", "mosquitto", "prometheus"]);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.profiles ?? [])
        expect(["demo", "production", "backbone", "observability"], `${name} profile`).toContain(p);
    }
    expect(svc("mosquitto").profiles).toBeUndefined();
  });

  it("gives each sidecar the time its graceful stop drains for", () => {
    for (const name of ["sidecar", "sidecar-demo"]) {
      const grace = /^(\d+)s$/.exec(svc(name).stop_grace_period ?? "");
      expect(grace, `${name} stop_grace_period in seconds`).not.toBeNull();
      expect(Number(grace?.[1]) * 1000).toBeGreaterThan(GRACEFUL_STOP_MS);
    }
  });

  it("checks every long-running service's health; the sidecars' by /readyz", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (name === "simulator" || name === "odoo-init") continue;
      expect(s.healthcheck?.test, name).toBeDefined();
    }
    for (const name of ["sidecar", "sidecar-demo"]) {
      expect(svc(name).healthcheck?.test.join(" ")).toContain("http://127.0.0.1:9464/readyz");
    }
    expect(read("sidecar/README.md")).toMatch(/`\/readyz` answers 200 only when/);
  });

  it("starts services only once what they need is healthy or done", () => {
    expect(svc("odoo-demo").depends_on?.["postgres-demo"]?.condition).toBe("service_healthy");
    expect(svc("sidecar-demo").depends_on?.["odoo-demo"]?.condition).toBe("service_healthy");
    expect(svc("sidecar-demo").depends_on?.mosquitto?.condition).toBe("service_healthy");
    expect(svc("simulator").depends_on?.["sidecar-demo"]?.condition).toBe("service_healthy");
    expect(svc("odoo-init").depends_on?.postgres?.condition).toBe("service_healthy");
    expect(svc("odoo").depends_on?.["odoo-init"]?.condition).toBe("service_completed_successfully");
    expect(svc("sidecar").depends_on?.["odoo-init"]?.condition).toBe("service_completed_successfully");
    expect(svc("sidecar").depends_on?.odoo?.condition).toBe("service_healthy");
    expect(svc("sidecar").depends_on?.mosquitto?.condition).toBe("service_healthy");
    // Within a profile, a service depends only on services of that profile.
    for (const profile of ["demo", "production"]) {
      const names = new Set(inProfile(profile).map(([n]) => n));
      for (const [name, s] of inProfile(profile)) {
        for (const dep of Object.keys(s.depends_on ?? {}))
          expect(names, `${name} → ${dep} (${profile})`).toContain(dep);
      }
    }
  });

  it("declares every named volume and secret it uses, and mounts files that exist", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const [from] = v.split(":");
        if (!from) throw new Error(`${name}: empty volume`);
        if (from.startsWith(".")) expect(existsSync(join(repoRoot, from)), `${name} mounts ${from}`).toBe(true);
        else expect(compose.volumes, `${name} uses volume ${from}`).toHaveProperty(from);
      }
      for (const secret of s.secrets ?? []) {
        const source = typeof secret === "string" ? secret : secret.source;
        expect(compose.secrets, `${name} secret`).toHaveProperty(source);
      }
    }
  });

  it("uses secrets in production only, and no bind mount of the source there", () => {
    for (const [name, s] of inProfile("demo")) expect(s.secrets, `${name} (demo) needs no secret file`).toBeUndefined();
    for (const [name, s] of inProfile("production")) {
      if (name === "mosquitto") continue;
      for (const v of s.volumes ?? []) expect(v, `${name} mounts a named volume`).toMatch(/^[a-z][\w-]*:/);
      for (const key of Object.keys(s.environment ?? {})) {
        if (/PASSWORD|API_KEY/.test(key)) expect(key, `${name}: a password in clear`).toMatch(/_FILE$/);
      }
    }
    // The module reaches Odoo through the image (neither profile mounts it).
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) expect(v, name).not.toMatch(/odoo_addon|extra-addons/);
    }
    for (const { file } of Object.values(compose.secrets)) expect(file).toMatch(/^\.\/secrets\/\w+$/);
    // Never committed.
    expect(read(".gitignore")).toMatch(/^\/secrets\/$/m);
  });

  it("runs the backbone brokers by their official images' documented settings, durable and without a password in clear", () => {
    for (const [name, s] of inProfile("backbone")) {
      if (name === "mosquitto") continue;
      for (const v of s.volumes ?? []) {
        const [from, to] = v.split(":");
        if (!from?.startsWith("."))
          expect(compose.volumes, `${name}: data on a named volume`).toHaveProperty(from ?? "");
        expect(to, `${name} mounts into the image's paths`).toMatch(/^\/(var\/lib|etc\/rabbitmq|data)/);
      }
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASS|SECRET|API_KEY/.test(key)) expect(key, `${name}: a password in clear`).toMatch(/_FILE$/);
        expect(String(value), `${name}.${key}`).not.toMatch(/password/i);
      }
    }
    // rabbitmq:3.13 reads no users from the environment (3.9 dropped RABBITMQ_DEFAULT_USER/PASS):
    // a conf.d file, here a secret; a fixed host name keeps the node name of its data volume.
    const rabbit = svc("rabbitmq");
    expect(rabbit.image).toMatch(/^rabbitmq:3\.13/);
    expect((rabbit as { hostname?: string }).hostname).toBe("rabbitmq");
    expect(rabbit.volumes).toContain("rabbitmq-data:/var/lib/rabbitmq");
    expect(rabbit.secrets).toContainEqual({
      source: "rabbitmq_users_conf",
      target: "/etc/rabbitmq/conf.d/20-users.conf",
    });
    const rabbitConf = rabbit.volumes?.find((v) => v.startsWith("./"))?.split(":") ?? [];
    expect(rabbitConf[1]).toMatch(/^\/etc\/rabbitmq\/conf\.d\/\w[\w-]*\.conf$/);
    expect(read(rabbitConf[0] ?? "")).toMatch(/^default_queue_type = quorum$/m);
    // apache/kafka: one KRaft node (broker and controller), its log on the volume, not the image's /tmp default.
    const kafka = svc("kafka");
    const env = kafka.environment ?? {};
    expect(kafka.image).toMatch(/^apache\/kafka:4\./);
    expect(env.KAFKA_PROCESS_ROLES).toBe("broker,controller");
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
    expect(env.KAFKA_LISTENERS).toContain("CONTROLLER://:9093");
    expect(env.KAFKA_CONTROLLER_LISTENER_NAMES).toBe("CONTROLLER");
    for (const listener of (env.KAFKA_LISTENERS ?? "").split(",")) {
      expect(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP, listener).toContain(`${listener.split(":")[0]}:`);
    }
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe("1");
    expect(kafka.volumes).toContain(`kafka-data:${env.KAFKA_LOG_DIRS}`);
    // redis:7: streams survive a restart only with the append-only file; users from an ACL file (a secret).
    const redis = svc("redis");
    const args = (redis.command ?? []).join(" ");
    expect(args).toContain("--appendonly yes");
    expect(args).toContain("--aclfile /run/secrets/redis_users_acl");
    expect(redis.secrets).toContain("redis_users_acl");
    expect(redis.volumes).toContain("redis-data:/data");
  });

  it("runs Prometheus and Grafana by their official images' documented paths, provisioned from sidecar/deploy", () => {
    // Within the profile, Grafana waits for Prometheus.
    expect(svc("grafana").depends_on).toEqual({ prometheus: { condition: "service_healthy" } });
    const mounts = (name: string) =>
      Object.fromEntries((svc(name).volumes ?? []).map((v) => v.split(":")).map(([from, to]) => [to, from]));
    // prom/prometheus reads /etc/prometheus/prometheus.yml and keeps its data in /prometheus.
    const prometheus = svc("prometheus");
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    const pm = mounts("prometheus");
    expect(pm["/etc/prometheus/prometheus.yml"]).toBe("./sidecar/deploy/prometheus/prometheus.yml");
    expect(pm["/prometheus"]).toBe("prometheus-data");
    // Every rule file the config names (relative to the config's directory) is mounted there.
    const promConfig = parse(read("sidecar/deploy/prometheus/prometheus.yml")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    for (const file of promConfig.rule_files) {
      const inImage = file.startsWith("/") ? file : `/etc/prometheus/${file}`;
      expect(pm[inImage], `rule file ${file} mounted`).toBe(`./sidecar/deploy/prometheus/${file.split("/").pop()}`);
    }
    // It scrapes both profiles' sidecars on their METRICS_PORT, which they open beyond loopback.
    const job = promConfig.scrape_configs.find((j) => j.job_name === "shopfloor-sidecar");
    const sd = job?.dns_sd_configs?.[0];
    expect(sd?.names.slice().sort()).toEqual(["sidecar", "sidecar-demo"]);
    for (const name of ["sidecar", "sidecar-demo"]) {
      expect(svc(name).environment?.METRICS_PORT).toBe(String(sd?.port));
      expect(svc(name).environment?.METRICS_HOST).toBe("0.0.0.0");
    }
    // grafana/grafana: provisioning under /etc/grafana/provisioning/{datasources,dashboards}, data in /var/lib/grafana.
    const grafana = svc("grafana");
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    const gm = mounts("grafana");
    expect(gm["/etc/grafana/provisioning/datasources"]).toBe("./sidecar/deploy/grafana/provisioning/datasources");
    expect(gm["/etc/grafana/provisioning/dashboards"]).toBe("./sidecar/deploy/grafana/provisioning/dashboards");
    expect(gm["/var/lib/grafana"]).toBe("grafana-data");
    // The dashboard provider's path holds the mounted dashboard.
    const providers = parse(read("sidecar/deploy/grafana/provisioning/dashboards/shopfloor.yml")) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(providers.providers[0]?.type).toBe("file");
    const dashboardPath = Object.keys(gm).find((to) => to.endsWith("/shopfloor-sidecar.json")) ?? "";
    expect(dashboardPath.startsWith(`${providers.providers[0]?.options.path}/`), dashboardPath).toBe(true);
    expect(gm[dashboardPath]).toBe("./sidecar/deploy/grafana/shopfloor-sidecar.json");
    // The datasource is this Prometheus, under the uid every panel of the dashboard names.
    const datasources = parse(read("sidecar/deploy/grafana/provisioning/datasources/prometheus.yml")) as {
      datasources: { type: string; uid: string; url: string }[];
    };
    const ds = datasources.datasources[0];
    expect(ds?.type).toBe("prometheus");
    expect(ds?.url).toBe(`http://prometheus:${prometheus.ports?.[0]?.split(":")[1]}`);
    const dashboard = JSON.parse(read("sidecar/deploy/grafana/shopfloor-sidecar.json")) as {
      panels: { datasource?: { uid?: string } }[];
    };
    for (const panel of dashboard.panels) expect(panel.datasource?.uid).toBe(ds?.uid);
    // The admin password from a secret file, never in clear.
    expect(grafana.environment).toEqual({ GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/secrets/grafana_admin_password" });
    expect(grafana.secrets).toEqual(["grafana_admin_password"]);
  });

  it("builds the Odoo image from the repository: the bundle in a Node stage, the module copied into the odoo stage", () => {
    for (const name of ["odoo", "odoo-init", "odoo-demo"]) {
      expect(svc(name).build).toEqual({ context: ".", dockerfile: "odoo_addon/Dockerfile" });
      expect(svc(name).image).toBe("shopfloor-bridge/odoo:18");
    }
    expect(stages.map((s) => s.split("\n")[0])).toEqual(["FROM node:24-bookworm-slim AS bundle", "FROM odoo:18"]);
    expect(stages[0]).toMatch(/^RUN sh odoo_addon\/docker\/build-bundle\.sh$/m);
    expect(stages[1]).toMatch(
      /^COPY --from=bundle --chown=odoo:odoo \/src\/odoo_addon\/shopfloor_bridge \/mnt\/extra-addons\/shopfloor_bridge$/m,
    );
    expect(stages[1]).toMatch(/^USER odoo$/m);
    // Every file the odoo stage copies from the context exists.
    for (const m of stages[1]?.matchAll(/^COPY (?!--from)(\S+) \S+$/gm) ?? []) {
      expect(existsSync(join(repoRoot, m[1] ?? "")), m[1]).toBe(true);
    }
  });

  it("gives demo Odoo the official image's settings and demo data", () => {
    const odoo = svc("odoo-demo");
    expect(Object.keys(odoo.environment ?? {}).sort()).toEqual(["HOST", "PASSWORD", "PORT", "USER"]);
    expect(odoo.environment?.HOST).toBe("postgres-demo");
    expect(odoo.environment?.USER).toBe(svc("postgres-demo").environment?.POSTGRES_USER);
    expect(odoo.environment?.PASSWORD).toBe(svc("postgres-demo").environment?.POSTGRES_PASSWORD);
    expect(odoo.command?.slice(0, 1)).toEqual(["odoo"]);
    expect(odoo.command).toContain("shopfloor_bridge");
    expect(odoo.command).not.toContain("--without-demo=all");
    expect(odoo.ports).toContain("8069:8069");
  });

  it("runs production without demo data, with the database manager off and passwords from secret files", () => {
    const pg = svc("postgres");
    expect(pg.environment?.POSTGRES_PASSWORD).toBeUndefined();
    expect(pg.environment?.POSTGRES_PASSWORD_FILE).toBe("/run/secrets/postgres_password");
    expect(pg.secrets).toEqual(["postgres_password"]);

    const init = svc("odoo-init");
    expect(init.user).toBe("root");
    expect(init.entrypoint).toEqual(["/usr/local/bin/sfb-init"]);
    expect(init.environment?.PASSWORD_FILE).toBe("/run/secrets/postgres_password");
    expect(init.environment?.ODOO_ADMIN_PASSWORD_FILE).toBe("/run/secrets/odoo_admin_password");
    expect(init.environment?.ADMIN_USER_PASSWORD_FILE).toBe("/run/secrets/admin_user_password");
    expect(init.secrets?.sort()).toEqual(["admin_user_password", "odoo_admin_password", "postgres_password"]);
    expect(dockerfile).toMatch(/^COPY odoo_addon\/docker\/sfb-init\.sh \/usr\/local\/bin\/sfb-init$/m);
    const script = read("odoo_addon/docker/sfb-init.sh");
    expect(script).toMatch(/echo "admin_passwd = \$\(<"\$ODOO_ADMIN_PASSWORD_FILE"\)"/);
    expect(script).toMatch(/echo "list_db = False"/);
    expect(script).toMatch(/echo "db_password = \$\(<"\$PASSWORD_FILE"\)"/);
    expect(script).toMatch(/-i shopfloor_bridge --without-demo=all --stop-after-init/);
    expect(script).toMatch(
      /SFB_ADMIN_USER_PASSWORD="\$\(<"\$ADMIN_USER_PASSWORD_FILE"\)" \\\n\s+runuser -u odoo -- \/entrypoint\.sh odoo shell/,
    );
    expect(script).toMatch(
      /odoo shell -d "\$SFB_DB" --no-http <\/usr\/local\/share\/shopfloor\/create_integration_user\.py/,
    );

    const odoo = svc("odoo");
    expect(odoo.secrets, "odoo reads the config file odoo-init wrote, not the secrets").toBeUndefined();
    expect(odoo.environment?.ODOO_RC).toBe(init.environment?.ODOO_RC);
    const rcDir = (odoo.environment?.ODOO_RC ?? "").replace(/\/[^/]+$/, "");
    expect(odoo.volumes).toContain(`odoo-config:${rcDir}:ro`);
    expect(init.volumes).toContain(`odoo-config:${rcDir}`);
    expect(odoo.command).toContain("--without-demo=all");
    expect(odoo.command).not.toContain("-i");
  });

  it("hands the sidecar its integration user and API key through the file odoo-init writes", () => {
    const init = svc("odoo-init");
    const sidecar = svc("sidecar");
    const file = init.environment?.SFB_SIDECAR_ENV_FILE ?? "";
    expect(sidecar.command).toEqual(["--config", file, "run"]);
    const dir = file.replace(/\/[^/]+$/, "");
    expect(sidecar.volumes).toContain(`sidecar-credentials:${dir}:ro`);
    expect(init.volumes).toContain(`sidecar-credentials:${dir}`);
    // What the file gives, the environment does not.
    for (const key of ["ODOO_USER", "ODOO_API_KEY", "SHOPFLOOR_CONNECTION"]) {
      expect(sidecar.environment, key).not.toHaveProperty(key);
    }
    expect(read("odoo_addon/docker/create_integration_user.py")).toMatch(
      /f"ODOO_USER=\{login\}\\nODOO_API_KEY=\{key\}\\nSHOPFLOOR_CONNECTION=\{code\}\\n"/,
    );
    // The sidecar image's user owns the file.
    expect(read("sidecar/Dockerfile")).toMatch(/^USER node$/m);
    expect(init.environment?.SFB_SIDECAR_UID).toBe("1000");
  });

  it("configures the sidecars with exactly the bootstrap names the sidecar reads", () => {
    const fromFile = { ODOO_USER: "u", ODOO_API_KEY: "k", SHOPFLOOR_CONNECTION: "c" };
    for (const [name, extra] of [
      ["sidecar-demo", {}],
      ["sidecar", fromFile],
    ] as const) {
      const env = svc(name).environment ?? {};
      for (const key of Object.keys(env)) expect(BOOTSTRAP_KEYS as readonly string[]).toContain(key);
      expect(env.ODOO_DB).toBe("shopfloor");
      expect(svc(name).ports).toContain(`${env.METRICS_PORT}:${env.METRICS_PORT}`);
      // The HTTP intake's port is pinned by HTTP_PORT and published as such.
      expect(svc(name).ports).toContain(`${env.HTTP_PORT}:${env.HTTP_PORT}`);
      // The sidecar accepts it: http:// to odoo knowingly (ODOO_ALLOW_HTTP), probes beyond loopback.
      const boot = parseBootstrap({
        ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
        ...extra,
      });
      expect(boot.metricsHost).toBe("0.0.0.0");
      expect(boot.httpPort).toBe(8088);
    }
    expect(svc("sidecar-demo").environment?.ODOO_URL).toBe("http://odoo-demo:8069");
    expect(svc("sidecar").environment?.ODOO_URL).toBe("http://odoo:8069");
    for (const key of ["ODOO_USER", "ODOO_API_KEY", "SHOPFLOOR_CONNECTION"]) {
      expect(svc("sidecar-demo").environment).toHaveProperty(key);
    }
    expect(read("sidecar/Dockerfile")).toMatch(/^ENV METRICS_HOST=0\.0\.0\.0$/m);
  });

  it("points the sidecars at the broker user the Mosquitto config allows", () => {
    for (const name of ["sidecar", "sidecar-demo"]) {
      const mqttUrl = new URL(svc(name).environment?.MQTT_URL ?? "");
      expect(mqttUrl.hostname).toBe("mosquitto");
      expect(read("sidecar/deploy/mosquitto.passwd")).toMatch(new RegExp(`^${mqttUrl.username}:\\$7\\$`, "m"));
      expect(read("sidecar/deploy/mosquitto.acl")).toMatch(
        new RegExp(`^user ${mqttUrl.username}\\ntopic read shopfloor/#`, "m"),
      );
    }
  });

  it("copies Mosquitto's password and ACL files into place before the image's entrypoint starts it", () => {
    const m = svc("mosquitto");
    expect(m.entrypoint).toEqual(["/bin/sh", "/mosquitto/deploy/mosquitto-start.sh"]);
    expect(m.command).toEqual(["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]);
    expect(m.volumes).toContain("./sidecar/deploy/mosquitto-start.sh:/mosquitto/deploy/mosquitto-start.sh:ro");
    expect(m.volumes).toContain("./sidecar/deploy/mosquitto.passwd:/mosquitto/deploy/passwd:ro");
    expect(m.volumes).toContain("./sidecar/deploy/mosquitto.acl:/mosquitto/deploy/acl:ro");
    // Nothing mounted over the files the wrapper writes.
    for (const v of m.volumes ?? []) expect(v).not.toMatch(/:\/mosquitto\/config\/(passwd|acl)(:|$)/);
    const script = read("sidecar/deploy/mosquitto-start.sh");
    expect(script).toMatch(/OWNER="\$\{MOSQUITTO_FILE_OWNER:-mosquitto:mosquitto\}"/);
    expect(script).toMatch(/chmod 0600 /);
    expect(script).toMatch(/exec "\$\{MOSQUITTO_ENTRYPOINT:-\/docker-entrypoint\.sh\}" "\$@"/);
    const conf = read("sidecar/deploy/mosquitto.conf");
    expect(conf).toMatch(/^password_file \/mosquitto\/config\/passwd$/m);
    expect(conf).toMatch(/^acl_file \/mosquitto\/config\/acl$/m);
    // The shipped files themselves stay readable for the copy (a clean clone's mode).
    expect(statSync(join(repoRoot, "sidecar/deploy/mosquitto.passwd")).size).toBeGreaterThan(0);
  });

  it("runs the demo shift in the simulator service, as the broker's simulator user", () => {
    const sim = svc("simulator");
    expect(sim.image).toBe(svc("sidecar-demo").image);
    const script = sim.entrypoint?.[1] ?? "";
    expect(existsSync(join(repoRoot, script)), script).toBe(true);
    const args = Object.fromEntries((sim.command ?? []).map((a) => a.replace(/^--/, "").split("=", 2)));
    expect(args["odoo-url"]).toBe("http://odoo-demo:8069");
    expect(args.db).toBe(svc("sidecar-demo").environment?.ODOO_DB);
    expect(new URL(args["mqtt-url"] ?? "").username).toBe("simulator");
    // The options the script accepts.
    const source = read(script);
    for (const key of Object.keys(args)) expect(source).toMatch(new RegExp(`\\s"?${key}"?: \\{ type: "string"`));
  });

  it("raises Mosquitto's silent per-session cap of 1000 queued messages", () => {
    const conf = read("sidecar/deploy/mosquitto.conf");
    const queued = Number(/^max_queued_messages (\d+)$/m.exec(conf)?.[1]);
    expect(queued).toBeGreaterThanOrEqual(100_000);
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(conf).toMatch(/^persistence true$/m);
  });
});
