import { describe, expect, it } from "vitest";
import type { BootstrapConfig } from "./config.ts";
import { ConfigError } from "./config.ts";
import { PLC_KINDS, type PlcConfig, type PlcKind, type SidecarConfig } from "./core/contract.ts";
import {
  asConfigError,
  createProtocolSource,
  createSources,
  sourceErrorStats,
  sourceWarningStats,
  withOverrides,
} from "./main.ts";
import { knownKinds, PlcDriverMissingError, plcDriverFactory } from "./sources/plc/drivers.ts";
import { PlcSource } from "./sources/plc/source.ts";

const boot: BootstrapConfig = {
  odooUrl: "http://odoo",
  odooDb: "db",
  odooUser: "u",
  odooApiKey: "k",
  odooApi: "jsonrpc",
  connection: "line1",
  spoolDir: "/tmp/x",
  metricsPort: 0,
};
const fromOdoo = {
  code: "line1",
  kind: "mqtt",
  revision: 3,
  mqtt: {
    url: "mqtt://odoo-says:1883",
    topics: [],
    client_id: "c",
    protocol_version: 5,
    username: "",
    password: "",
    ca: "",
    reject_unauthorized: true,
  },
  opcua: false,
} as unknown as SidecarConfig;

describe("withOverrides", () => {
  it("keeps Odoo's values without overrides, defaulting empty topic filters to shopfloor/#", () => {
    const c = withOverrides(fromOdoo, boot);
    expect(c.mqtt).toMatchObject({ url: "mqtt://odoo-says:1883", topics: ["shopfloor/#"] });
    expect(fromOdoo.mqtt).toMatchObject({ topics: [] });
  });

  it("lets MQTT_URL and OPCUA_ENDPOINT win over what Odoo says", () => {
    expect(withOverrides(fromOdoo, { ...boot, mqttUrl: "mqtts://local:8883" }).mqtt).toMatchObject({
      url: "mqtts://local:8883",
    });
    const opcua = { ...fromOdoo, kind: "opcua", mqtt: false, opcua: { endpoint: "opc.tcp://a:4840" } } as SidecarConfig;
    expect(withOverrides(opcua, { ...boot, opcuaEndpoint: "opc.tcp://b:4840" }).opcua).toMatchObject({
      endpoint: "opc.tcp://b:4840",
    });
  });

  it("lets BACKBONE_CONSUMER name this sidecar in its consumer group", () => {
    const backbone = { url: "redis://r:6379/0", names: ["s"], group: "g", consumer: "from-odoo" };
    const redis = { ...fromOdoo, kind: "redis", backbone } as SidecarConfig;
    expect(withOverrides(redis, { ...boot, backboneConsumer: "edge-2" }).backbone).toMatchObject({
      consumer: "edge-2",
    });
    expect(withOverrides(redis, boot).backbone).toMatchObject({ consumer: "from-odoo" });
  });

  it("lets FOLDER_PATH point the drop folder where this machine mounts it", () => {
    const folder = {
      path: "/srv/exports",
      pattern: "*.csv",
      encoding: "utf-8",
      delimiter: "auto",
      settle_ms: 0,
      poll_interval_ms: 100,
    };
    const config = { ...fromOdoo, kind: "folder", mqtt: false, folder } as SidecarConfig;
    expect(withOverrides(config, { ...boot, folderPath: "/mnt/exports" }).folder).toMatchObject({
      path: "/mnt/exports",
    });
    expect(withOverrides(config, boot).folder).toMatchObject({ path: "/srv/exports" });
  });

  it("lets HTTP_PORT move the HTTP intake, and adds none where Odoo configured none", () => {
    const http = { port: 8080, bind: "", tls_cert: "", tls_key: "", max_body_bytes: 1, producers: [] };
    expect(withOverrides({ ...fromOdoo, http }, { ...boot, httpPort: 9090 }).http).toMatchObject({ port: 9090 });
    expect(withOverrides({ ...fromOdoo, http: false }, { ...boot, httpPort: 9090 }).http).toBe(false);
  });
});

describe("asConfigError", () => {
  const opcua = {
    code: "line1",
    kind: "opcua",
    opcua: { endpoint: "opc.tcp://plc:4840", auth: "username" },
  } as unknown as SidecarConfig;
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });

  it("turns an OPC UA login refusal into bad configuration naming the login keys", () => {
    const err = asConfigError(named("OpcUaLoginError", "refused the username login"), opcua, boot);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("opcua_username / opcua_password");
    expect((err as Error).message).toContain("connection line1 in Odoo");
    const cert = { ...opcua, opcua: { endpoint: "opc.tcp://plc:4840", auth: "certificate" } } as SidecarConfig;
    expect((asConfigError(named("OpcUaLoginError", "x"), cert, boot) as ConfigError).key).toBe("opcua_auth");
  });

  it("names the endpoint for an untrusted server certificate, the bootstrap key when it overrides Odoo", () => {
    expect((asConfigError(named("OpcUaTrustError", "not trusted"), opcua, boot) as ConfigError).key).toBe(
      "opcua_endpoint",
    );
    const overridden = { ...boot, opcuaEndpoint: "opc.tcp://other:4840" };
    expect((asConfigError(named("OpcUaTrustError", "not trusted"), opcua, overridden) as ConfigError).key).toBe(
      "OPCUA_ENDPOINT",
    );
  });

  it("names the HTTP intake's field for its certificate, key or port; HTTP_PORT when it overrode the port", () => {
    const httpError = (field: string) => Object.assign(named("HttpIntakeConfigError", "bad"), { field });
    expect((asConfigError(httpError("http_tls_key"), opcua, boot) as ConfigError).key).toBe("http_tls_key");
    expect((asConfigError(httpError("http_port"), opcua, boot) as ConfigError).key).toBe("http_port");
    expect((asConfigError(httpError("http_port"), opcua, { ...boot, httpPort: 8080 }) as ConfigError).key).toBe(
      "HTTP_PORT",
    );
  });

  it("names the backbone field for a message-queue setting that cannot work", () => {
    const backboneError = Object.assign(named("BackboneConfigError", "refused the login"), {
      field: "backbone_password",
    });
    const err = asConfigError(backboneError, opcua, boot) as ConfigError;
    expect(err.key).toBe("backbone_password");
    expect(err.message).toBe("backbone_password: (connection line1 in Odoo) refused the login");
  });

  it("names the RabbitMQ connection's field to fix (backbone_*)", async () => {
    const { BackboneConfigError } = await import("./sources/backbone-errors.ts");
    const amqp = { code: "rmq1", kind: "amqp" } as unknown as SidecarConfig;
    const err = asConfigError(new BackboneConfigError("backbone_password", "refused the login"), amqp, boot);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("backbone_password");
    expect((err as Error).message).toBe("backbone_password: (connection rmq1 in Odoo) refused the login");
  });

  it("names the PLC connection's field to fix (plc_*), from the real plc block check", async () => {
    const { plcConfigOf } = await import("./sources/plc/config.ts");
    const modbus = { code: "press4", kind: "modbus", plc: { host: "plc4", unit_id: 300 } } as unknown as SidecarConfig;
    let thrown: unknown;
    try {
      plcConfigOf(modbus);
    } catch (caught) {
      thrown = caught;
    }
    const err = asConfigError(thrown, modbus, boot);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("plc_unit_id");
    expect((err as Error).message).toBe(
      "plc_unit_id: (connection press4 in Odoo) connection press4 (modbus): unit_id 300 is not a Modbus unit id (0 to 255)",
    );
  });

  it("names the historian field to fix (folder_path, or FOLDER_PATH when it overrode it; sql_query)", async () => {
    const { FolderConfigError } = await import("./sources/folder/source.ts");
    const { SqlConfigError } = await import("./sources/sql/source.ts");
    const folder = { code: "hist1", kind: "folder" } as unknown as SidecarConfig;
    const missing = new FolderConfigError("folder_path", "/srv/x: ENOENT");
    expect((asConfigError(missing, folder, boot) as ConfigError).key).toBe("folder_path");
    expect((asConfigError(missing, folder, { ...boot, folderPath: "/srv/x" }) as ConfigError).key).toBe("FOLDER_PATH");
    const sql = { code: "hist2", kind: "sql" } as unknown as SidecarConfig;
    const err = asConfigError(new SqlConfigError("sql_query", "the query has no :last"), sql, boot) as ConfigError;
    expect(err.message).toBe("sql_query: (connection hist2 in Odoo) the query has no :last");
  });

  it("leaves other errors as they are (exit 1)", () => {
    const other = new Error("ECONNREFUSED");
    expect(asConfigError(other, opcua, boot)).toBe(other);
  });
});

describe("what a source says of itself in the heartbeat", () => {
  it("sends a source's error and warning only when it has one, as Odoo's dashboard tile shows them", () => {
    const source = (fields: Record<string, unknown>) => fields as unknown as Parameters<typeof sourceWarningStats>[0];
    expect(sourceWarningStats(source({ warning: "1 topic filter is not subscribed: x" }))).toEqual({
      source_warning: "1 topic filter is not subscribed: x",
    });
    expect(sourceErrorStats(source({ lastError: "cannot connect" }))).toEqual({ source_error: "cannot connect" });
    for (const quiet of [undefined, source({}), source({ warning: "", lastError: "" }), source({ warning: 3 })]) {
      expect({ ...sourceWarningStats(quiet), ...sourceErrorStats(quiet) }).toEqual({});
    }
  });
});

describe("createSources", () => {
  const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Parameters<typeof createSources>[1];
  const backbone = {
    url: "",
    names: ["line1"],
    group: "sfb",
    consumer: "sidecar-a",
    username: "",
    password: "",
    tls: false,
    ca: "",
    reject_unauthorized: true,
    client_cert: "",
    client_key: "",
    prefetch: 100,
    sasl_mechanism: "",
    claim_idle_ms: 30_000,
  };
  const urls = { amqp: "amqp://127.0.0.1:5672", kafka: "127.0.0.1:9092", redis: "redis://127.0.0.1:6379/0" };

  // Regression: a merge dropped the amqp branch, and an amqp connection fell through
  // to the OPC UA source ("kind opcua needs the opcua block"); only the e2e noticed.
  it.each(["amqp", "kafka", "redis"] as const)("gives a %s connection its message-queue source", async (kind) => {
    const config = {
      code: "q1",
      kind,
      revision: 1,
      rules: [],
      backbone: { ...backbone, url: urls[kind] },
    } as unknown as SidecarConfig;
    const [source, ...others] = await createSources(config, silent, "/nonexistent");
    expect(others).toEqual([]);
    expect(source?.name.startsWith(`${kind}:`)).toBe(true);
  });

  it("gives a folder connection its drop-folder source and an sql connection its polling source", async () => {
    const folder = {
      code: "h1",
      kind: "folder",
      revision: 1,
      rules: [],
      folder: {
        path: "/srv/x",
        pattern: "*.csv",
        encoding: "utf-8",
        delimiter: "auto",
        settle_ms: 0,
        poll_interval_ms: 100,
      },
    } as unknown as SidecarConfig;
    const sql = {
      code: "h2",
      kind: "sql",
      revision: 1,
      rules: [],
      sql: {
        driver: "postgresql",
        host: "h",
        port: 0,
        database: "d",
        username: "u",
        password: "",
        query: "SELECT 1 WHERE x >= :last ORDER BY x",
        watermark_column: "x",
        initial_watermark: "0",
        interval_ms: 100,
      },
    } as unknown as SidecarConfig;
    expect((await createSources(folder, silent, "/nonexistent")).map((s) => s.name)).toEqual(["folder"]);
    expect((await createSources(sql, silent, "/nonexistent")).map((s) => s.name)).toEqual(["sql"]);
    // An older Odoo without the block: no source, an error naming the field.
    const errors: string[] = [];
    const log = { ...silent, error: (fields: { err?: string }) => errors.push(String(fields.err)) };
    const old = { code: "h3", kind: "folder", revision: 1, rules: [] } as unknown as SidecarConfig;
    expect(await createSources(old, log as typeof silent, "/nonexistent")).toEqual([]);
    expect(errors).toEqual(["connection has no folder block (an older Odoo?)"]);
  });

  it("says why it made no source of the connection's kind, for /healthz and the heartbeat", async () => {
    const notMade: string[] = [];
    const context = { onSourceNotMade: (reason: string) => notMade.push(reason) };
    const sparkplug = {
      code: "spb1",
      kind: "sparkplug",
      revision: 1,
      rules: [],
      mqtt: { url: "mqtt://127.0.0.1:1883", topics: [], client_id: "", protocol_version: 4 },
      sparkplug: { group_id: "", host_id: "sfb-spb1", role: "primary" },
    } as unknown as SidecarConfig;
    expect(await createSources(sparkplug, silent, "/nonexistent", context)).toEqual([]);
    const noUrl = { code: "m1", kind: "mqtt", revision: 1, rules: [], mqtt: { url: "" } } as unknown as SidecarConfig;
    expect(await createSources(noUrl, silent, "/nonexistent", context)).toEqual([]);
    const noPings = {
      code: "m2",
      kind: "mqtt",
      revision: 1,
      rules: [],
      payload_maps: [],
      mqtt: { url: "mqtt://127.0.0.1:1883", topics: ["a/#"], client_id: "", protocol_version: 5, keepalive_s: 0 },
    } as unknown as SidecarConfig;
    expect(await createSources(noPings, silent, "/nonexistent", context)).toEqual([]);
    const elsewhere = {
      ...noPings,
      mqtt: { url: "mqtt://127.0.0.1:1883?clientId=other", topics: ["a/#"], client_id: "", protocol_version: 5 },
    } as unknown as SidecarConfig;
    expect(await createSources(elsewhere, silent, "/nonexistent", context)).toEqual([]);
    expect(notMade).toEqual([
      'the Sparkplug group id "" must be set, without / + # (Sparkplug B topic levels): set it on the connection in Odoo',
      "the connection has no MQTT URL (set it in Odoo or MQTT_URL)",
      "the MQTT keepalive 0 is not a whole number of seconds from 1 to 65535: set Keepalive (s) on the connection in Odoo",
      'the MQTT broker URL "mqtt://127.0.0.1:1883?clientId=other": MQTT over TCP has no ?query (the client would ' +
        "read ?clientId= over the connection's MQTT client id): set Broker URL on the connection in Odoo (or MQTT_URL)",
    ]);
  });

  it("names a kind it has no source for instead of taking it for OPC UA", async () => {
    const config = { code: "q1", kind: "profinet", revision: 1, rules: [] } as unknown as SidecarConfig;
    const errors: string[] = [];
    const log = { ...silent, error: (fields: { err?: string }) => errors.push(String(fields.err)) };
    expect(await createSources(config, log as typeof silent, "/nonexistent")).toEqual([]);
    expect(errors).toEqual(['connection q1: this sidecar has no source for kind "profinet"']);
  });

  const plc: PlcConfig = {
    host: "127.0.0.1",
    port: 0,
    unit_id: 1,
    rack: 0,
    slot: 1,
    poll_interval_ms: 1000,
    timeout_ms: 1000,
  };

  it.each(PLC_KINDS.map((kind) => [kind]))(
    "gives a %s connection the polled PLC source, or names the missing driver",
    async (kind) => {
      const config = { code: "p1", kind, revision: 1, rules: [], plc } as unknown as SidecarConfig;
      if (knownKinds().includes(kind)) {
        const source = await createProtocolSource(config, silent, "/nonexistent");
        expect(source).toBeInstanceOf(PlcSource);
        expect(source.name).toBe(`${kind}:p1`);
      } else {
        await expect(createProtocolSource(config, silent, "/nonexistent")).rejects.toThrow(PlcDriverMissingError);
      }
    },
  );

  it("names a PLC kind without a driver, and a PLC connection without its plc block", async () => {
    await expect(plcDriverFactory("profinet" as PlcKind)).rejects.toThrow(
      /no driver for PLC kind "profinet" \(known: modbus/,
    );
    const config = { code: "p1", kind: "modbus", revision: 1, rules: [], plc: false } as unknown as SidecarConfig;
    await expect(createProtocolSource(config, silent, "/nonexistent")).rejects.toThrow(
      "connection p1: kind modbus needs the plc block of sidecar_config",
    );
  });
});
