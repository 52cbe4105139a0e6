import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, isLoopbackHost, parseBootstrap, readConfigFile } from "./config.ts";

const complete = {
  ODOO_URL: "https://odoo:8069",
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
      odooUrl: "https://odoo:8069",
      odooDb: "prod",
      odooUser: "sidecar",
      odooApiKey: "k",
      odooApi: "jsonrpc",
      connection: "line1",
      spoolDir: "/var/lib/sidecar",
      metricsPort: 9464,
      metricsHost: "127.0.0.1",
      mqttUrl: undefined,
      opcuaEndpoint: undefined,
    });
    const withOverrides = parseBootstrap({
      ...complete,
      METRICS_PORT: "0",
      MQTT_URL: "mqtts://broker:8883",
      OPCUA_ENDPOINT: "opc.tcp://plc:4840",
      HTTP_PORT: "8443",
    });
    expect(withOverrides).toMatchObject({
      metricsPort: 0,
      mqttUrl: "mqtts://broker:8883",
      opcuaEndpoint: "opc.tcp://plc:4840",
      httpPort: 8443,
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
    ["HTTP_PORT", { ...complete, HTTP_PORT: "0" }],
    ["HTTP_PORT", { ...complete, HTTP_PORT: "80a" }],
    ["FOLDER_PATH", { ...complete, FOLDER_PATH: "exports" }],
  ])("names %s when it is missing or bad", (key, source) => {
    expect(keyOf(() => parseBootstrap(source))).toBe(key);
  });

  it("reads FOLDER_PATH, the drop folder as this machine mounts it (historian import)", () => {
    expect(parseBootstrap({ ...complete, FOLDER_PATH: "/mnt/exports" }).folderPath).toBe("/mnt/exports");
    expect(parseBootstrap(complete)).not.toHaveProperty("folderPath");
  });

  it("names the first missing key in the documented order", () => {
    expect(keyOf(() => parseBootstrap({}))).toBe("ODOO_URL");
  });
});

/** The ConfigError's message, or "" when none is thrown. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "";
}

describe("ODOO_URL must be https:// (the API key travels with every call)", () => {
  it("refuses http:// to another machine, naming ODOO_URL and the way out", () => {
    const message = messageOf(() => parseBootstrap({ ...complete, ODOO_URL: "http://odoo:8069" }));
    expect(message).toMatch(/^ODOO_URL: "http:\/\/odoo:8069" would send the API key in clear: use https:\/\//);
    expect(message).toMatch(/set ODOO_ALLOW_HTTP=1/);
    expect(keyOf(() => parseBootstrap({ ...complete, ODOO_URL: "http://10.0.0.5", ODOO_ALLOW_HTTP: "0" }))).toBe(
      "ODOO_URL",
    );
  });

  it.each(["1", "true", "yes"])("accepts http:// to another machine with ODOO_ALLOW_HTTP=%s", (allow) => {
    expect(parseBootstrap({ ...complete, ODOO_URL: "http://odoo:8069", ODOO_ALLOW_HTTP: allow }).odooUrl).toBe(
      "http://odoo:8069",
    );
  });

  it("names ODOO_ALLOW_HTTP when it is neither 1 nor 0", () => {
    expect(messageOf(() => parseBootstrap({ ...complete, ODOO_ALLOW_HTTP: "maybe" }))).toBe(
      'ODOO_ALLOW_HTTP: "maybe" is not 1 or 0',
    );
  });

  it.each([
    "http://localhost:8069",
    "http://LOCALHOST",
    "http://127.0.0.1:8069",
    "http://127.1.2.3",
    "http://127.1",
    "http://[::1]:8069",
    "http://[0:0:0:0:0:0:0:1]",
    "http://[::ffff:127.0.0.1]",
  ])("always accepts http:// over loopback: %s", (odooUrl) => {
    expect(parseBootstrap({ ...complete, ODOO_URL: odooUrl }).odooUrl).toBe(odooUrl);
  });

  it.each([
    "http://128.0.0.1",
    "http://0.0.0.0:8069",
    "http://localhost.example.com",
    "http://127.0.0.1.example.com",
    "http://[::2]",
    "http://192.168.1.10",
  ])("refuses http:// to what is not loopback: %s", (odooUrl) => {
    expect(keyOf(() => parseBootstrap({ ...complete, ODOO_URL: odooUrl }))).toBe("ODOO_URL");
  });

  it("accepts https:// anywhere, and refuses a user or password in the URL without quoting it", () => {
    expect(parseBootstrap({ ...complete, ODOO_URL: "https://10.0.0.5:8443" }).odooUrl).toBe("https://10.0.0.5:8443");
    const message = messageOf(() => parseBootstrap({ ...complete, ODOO_URL: "https://me:hunter2-odoo@odoo" }));
    expect(message).toMatch(/^ODOO_URL: must not carry a user or password .*set ODOO_USER and ODOO_API_KEY/);
    expect(message).not.toContain("hunter2-odoo");
  });

  it("tells loopback hosts from the rest", () => {
    expect(["localhost", "127.0.0.1", "127.255.255.254", "[::1]", "::1"].every(isLoopbackHost)).toBe(true);
    expect(
      ["128.0.0.1", "10.0.0.1", "::", "0.0.0.0", "example.com", "localhost.example.com"].some(isLoopbackHost),
    ).toBe(false);
  });
});

describe("METRICS_HOST", () => {
  it("is loopback by default and takes any address or host name", () => {
    expect(parseBootstrap(complete).metricsHost).toBe("127.0.0.1");
    for (const host of ["0.0.0.0", "::", "::1", "10.1.2.3", "sidecar.plant1.local", "localhost"]) {
      expect(parseBootstrap({ ...complete, METRICS_HOST: host }).metricsHost).toBe(host);
    }
  });

  it.each(["http://0.0.0.0", "[::]", "0.0.0.0:9464", "two words"])("names METRICS_HOST for %s", (host) => {
    expect(messageOf(() => parseBootstrap({ ...complete, METRICS_HOST: host }))).toMatch(
      /^METRICS_HOST: ".*" is not an address to listen on/,
    );
  });
});

describe("SHOPFLOOR_SECRET_KEY / SHOPFLOOR_SECRET_KEY_FILE", () => {
  const key = randomBytes(32);

  it("is absent unless given", () => {
    expect(parseBootstrap(complete).secretKey).toBeUndefined();
  });

  it.each([
    ["hex", key.toString("hex")],
    ["HEX", key.toString("hex").toUpperCase()],
    ["base64", key.toString("base64")],
    ["base64 without padding", key.toString("base64").replace(/=$/, "")],
    ["base64url", key.toString("base64url")],
    ["with a trailing newline", `${key.toString("base64")}\n`],
  ])("reads a 32-byte key written in %s", (_format, text) => {
    expect(parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY: text }).secretKey).toEqual(key);
  });

  it.each([
    ["too short", randomBytes(16).toString("hex")],
    ["too long", randomBytes(48).toString("base64")],
    ["a passphrase", "correct horse battery staple and more"],
    ["hex with a stray character", `${key.toString("hex").slice(0, 63)}g`],
  ])("names SHOPFLOOR_SECRET_KEY for a key %s, without quoting it", (_what, text) => {
    const message = messageOf(() => parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY: text }));
    expect(message).toMatch(/^SHOPFLOOR_SECRET_KEY: is not a 32-byte key written as 64 hex digits or 44 base64/);
    expect(message).toMatch(/openssl rand -base64 32/);
    expect(message).not.toContain(text);
  });

  it("reads the key from SHOPFLOOR_SECRET_KEY_FILE, and names it when the file is missing or wrong", () => {
    const good = join(dir, "secret.key");
    writeFileSync(good, `${key.toString("base64")}\n`);
    expect(parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY_FILE: good }).secretKey).toEqual(key);
    expect(messageOf(() => parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY_FILE: join(dir, "nope") }))).toMatch(
      /^SHOPFLOOR_SECRET_KEY_FILE: cannot read .*nope/,
    );
    const bad = join(dir, "bad.key");
    writeFileSync(bad, "not a key\n");
    expect(messageOf(() => parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY_FILE: bad }))).toMatch(
      /^SHOPFLOOR_SECRET_KEY_FILE: .*bad\.key does not hold a 32-byte key/,
    );
  });

  it("refuses both at once", () => {
    const file = join(dir, "both.key");
    writeFileSync(file, key.toString("hex"));
    expect(
      messageOf(() =>
        parseBootstrap({ ...complete, SHOPFLOOR_SECRET_KEY: key.toString("hex"), SHOPFLOOR_SECRET_KEY_FILE: file }),
      ),
    ).toBe("SHOPFLOOR_SECRET_KEY: and SHOPFLOOR_SECRET_KEY_FILE are both set: give one of them");
  });
});

describe("URLs in configuration errors", () => {
  it("are quoted without their password", () => {
    const message = messageOf(() => parseBootstrap({ ...complete, MQTT_URL: "http://user:s3cret-broker@broker" }));
    expect(message).toMatch(/^MQTT_URL: "http:\/\/user:\[redacted\]@broker" must start with mqtt:\/\//);
    expect(message).not.toContain("s3cret-broker");
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
