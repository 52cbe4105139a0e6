import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseBootstrap, readConfigFile } from "./config.ts";

const complete = {
  ODOO_URL: "http://odoo:8069",
  ODOO_DB: "prod",
  ODOO_USER: "sidecar",
  ODOO_API_KEY: "k",
  SHOPFLOOR_CONNECTION: "line1",
  SHOPFLOOR_SPOOL_DIR: "/var/lib/sidecar",
};
const dir = mkdtempSync(join(tmpdir(), "sfb-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.key;
    throw err;
  }
  return undefined;
}

describe("parseBootstrap", () => {
  it("takes ODOO_API jsonrpc (Odoo 18, the default) or json2 (Odoo 19+), and names the key for anything else", () => {
    expect(parseBootstrap({ ...complete, ODOO_API: "json2" }).odooApi).toBe("json2");
    expect(() => parseBootstrap({ ...complete, ODOO_API: "xmlrpc" })).toThrow(
      /ODOO_API: "xmlrpc" is not jsonrpc or json2/,
    );
  });

  it("reads the contract's keys with defaults", () => {
    expect(parseBootstrap(complete)).toEqual({
      odooUrl: "http://odoo:8069",
      odooDb: "prod",
      odooUser: "sidecar",
      odooApiKey: "k",
      odooApi: "jsonrpc",
      connection: "line1",
      spoolDir: "/var/lib/sidecar",
      metricsPort: 9464,
      mqttUrl: undefined,
      opcuaEndpoint: undefined,
    });
    const withOverrides = parseBootstrap({
      ...complete,
      METRICS_PORT: "0",
      MQTT_URL: "mqtts://broker:8883",
      OPCUA_ENDPOINT: "opc.tcp://plc:4840",
    });
    expect(withOverrides).toMatchObject({
      metricsPort: 0,
      mqttUrl: "mqtts://broker:8883",
      opcuaEndpoint: "opc.tcp://plc:4840",
    });
  });

  it.each([
    ["ODOO_URL", { ...complete, ODOO_URL: undefined }],
    ["ODOO_URL", { ...complete, ODOO_URL: "odoo:8069" }],
    ["ODOO_URL", { ...complete, ODOO_URL: "ftp://odoo" }],
    ["ODOO_DB", { ...complete, ODOO_DB: "  " }],
    ["ODOO_API_KEY", { ...complete, ODOO_API_KEY: "" }],
    ["SHOPFLOOR_CONNECTION", { ...complete, SHOPFLOOR_CONNECTION: undefined }],
    ["SHOPFLOOR_SPOOL_DIR", { ...complete, SHOPFLOOR_SPOOL_DIR: undefined }],
    ["METRICS_PORT", { ...complete, METRICS_PORT: "http" }],
    ["METRICS_PORT", { ...complete, METRICS_PORT: "70000" }],
    ["MQTT_URL", { ...complete, MQTT_URL: "http://broker" }],
    ["OPCUA_ENDPOINT", { ...complete, OPCUA_ENDPOINT: "tcp://plc" }],
  ])("names %s when it is missing or bad", (key, source) => {
    expect(keyOf(() => parseBootstrap(source))).toBe(key);
  });

  it("names the first missing key in the documented order", () => {
    expect(keyOf(() => parseBootstrap({}))).toBe("ODOO_URL");
  });
});

describe("readConfigFile", () => {
  it("reads KEY=VALUE lines with comments, export and quotes", () => {
    const path = join(dir, "sidecar.env");
    writeFileSync(path, "# comment\nexport ODOO_URL=\"http://x:1\"\nODOO_DB=prod\n\nODOO_USER='me'\n");
    expect(readConfigFile(path)).toEqual({ ODOO_URL: "http://x:1", ODOO_DB: "prod", ODOO_USER: "me" });
  });

  it("reads a JSON object", () => {
    const path = join(dir, "sidecar.json");
    writeFileSync(path, JSON.stringify({ ODOO_DB: "prod", METRICS_PORT: 9100 }));
    expect(readConfigFile(path)).toEqual({ ODOO_DB: "prod", METRICS_PORT: "9100" });
  });

  it("names --config for an unreadable or malformed file", () => {
    expect(keyOf(() => readConfigFile(join(dir, "missing")))).toBe("--config");
    const bad = join(dir, "bad.env");
    writeFileSync(bad, "this is not a key\n");
    expect(keyOf(() => readConfigFile(bad))).toBe("--config");
  });
});
