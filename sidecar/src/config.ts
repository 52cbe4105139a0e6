// Bootstrap configuration: the ONLY module that reads the environment.
// Names are part of the contract (README.md, Configuration). Everything else comes from
// Odoo's `sidecar_config` and is cached in the spool.
import { readFileSync } from "node:fs";
import { isIP, isIPv4 } from "node:net";
import { Redactor } from "./core/secrets.ts";

export interface BootstrapConfig {
  odooUrl: string;
  odooDb: string;
  odooUser: string;
  odooApiKey: string;
  /** Odoo's external API: JSON-RPC (Odoo 18, the default) or JSON-2 (Odoo 19 and later). */
  odooApi: OdooApi;
  connection: string;
  spoolDir: string;
  /** 0 turns the ops server off. */
  metricsPort: number;
  /** Address /metrics and /healthz listen on (loopback when absent). */
  metricsHost?: string;
  /** AES-256 key for the secrets of the configuration cached in the spool; without it they are not cached. */
  secretKey?: Buffer;
  /** Overrides of what Odoo says. */
  mqttUrl?: string;
  opcuaEndpoint?: string;
  /**
   * This sidecar's name in its Kafka/Redis consumer group, over backbone_consumer: for
   * several sidecars of one connection on one host, or hosts whose names change on restart.
   */
  backboneConsumer?: string;
  /** Port of the HTTP intake, when the connection has one. */
  httpPort?: number;
  /** The drop folder as this sidecar's machine mounts it, over the path Odoo names (historian import). */
  folderPath?: string;
}

export const BOOTSTRAP_KEYS = [
  "ODOO_URL",
  "ODOO_DB",
  "ODOO_USER",
  "ODOO_API_KEY",
  "ODOO_API",
  "ODOO_ALLOW_HTTP",
  "SHOPFLOOR_CONNECTION",
  "SHOPFLOOR_SPOOL_DIR",
  "SHOPFLOOR_SECRET_KEY",
  "SHOPFLOOR_SECRET_KEY_FILE",
  "METRICS_PORT",
  "METRICS_HOST",
  "MQTT_URL",
  "OPCUA_ENDPOINT",
  "BACKBONE_CONSUMER",
  "HTTP_PORT",
  "FOLDER_PATH",
] as const;
export type BootstrapKey = (typeof BOOTSTRAP_KEYS)[number];

export const DEFAULT_METRICS_PORT = 9464;
/** How long `run` drains in-flight work on SIGTERM before it exits anyway (a container's stop grace must cover it). */
export const GRACEFUL_STOP_MS = 30_000;
/** Loopback: /metrics and /healthz are not offered to the network unless METRICS_HOST says so. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

export const ODOO_APIS = ["jsonrpc", "json2"] as const;
export type OdooApi = (typeof ODOO_APIS)[number];

/** A bad or missing bootstrap setting; the CLI exits 2 with this message. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly key: string;
  constructor(key: string, message: string) {
    super(`${key}: ${message}`);
    this.key = key;
  }
}

/** Reads a --config file: JSON object, or KEY=VALUE lines (# comments, optional quotes). */
export function readConfigFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError("--config", `cannot read ${path}: ${(err as Error).message}`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ConfigError("--config", `${path} is not valid JSON: ${(err as Error).message}`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) out[k] = String(v);
    return out;
  }
  const out: Record<string, string> = {};
  trimmed.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Z0-9_]+)\s*=\s*(.*)$/.exec(l);
    if (!m) throw new ConfigError("--config", `${path} line ${i + 1} is not KEY=VALUE: ${l.slice(0, 80)}`);
    out[m[1] as string] = (m[2] as string).replace(/^(['"])(.*)\1$/, "$2");
  });
  return out;
}

/** URLs are quoted in errors without the password they may carry. */
const quote = (value: string) => `"${new Redactor().text(value)}"`;

function url(key: string, value: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(key, `${quote(value)} is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(key, `${quote(value)} must start with ${protocols.map((p) => `${p}//`).join(" or ")}`);
  }
  return value;
}

/** localhost, 127.0.0.0/8 and ::1 (also written as an IPv4-mapped address): traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  return /^::ffff:(?:127\.|7f[0-9a-f]{2}:)/.test(host);
}

function flag(key: BootstrapKey, value: string | undefined): boolean {
  if (value === undefined || ["0", "false", "no"].includes(value.toLowerCase())) return false;
  if (["1", "true", "yes"].includes(value.toLowerCase())) return true;
  throw new ConfigError(key, `"${value}" is not 1 or 0`);
}

/** ODOO_URL carries the API key: https:// unless ODOO_ALLOW_HTTP=1 or Odoo is on this machine. */
function odooUrlOf(value: string, allowHttp: boolean): string {
  const parsed = new URL(url("ODOO_URL", value, ["http:", "https:"]));
  if (parsed.username || parsed.password) {
    throw new ConfigError(
      "ODOO_URL",
      "must not carry a user or password (user:password@): set ODOO_USER and ODOO_API_KEY",
    );
  }
  if (parsed.protocol === "http:" && !allowHttp && !isLoopbackHost(parsed.hostname)) {
    throw new ConfigError(
      "ODOO_URL",
      `${quote(value)} would send the API key in clear: use https://, or set ODOO_ALLOW_HTTP=1 to accept ` +
        "http:// on a network you trust (http:// to localhost, 127.0.0.0/8 or ::1 is always accepted)",
    );
  }
  return value;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function metricsHostOf(value: string | undefined): string {
  if (value === undefined) return DEFAULT_METRICS_HOST;
  if (isIP(value) === 0 && !HOSTNAME.test(value)) {
    throw new ConfigError(
      "METRICS_HOST",
      `"${value}" is not an address to listen on (an IP address such as 127.0.0.1 or 0.0.0.0, or a host name)`,
    );
  }
  return value;
}

const KEY_FORMAT =
  "a 32-byte key written as 64 hex digits or 44 base64 characters (make one with: openssl rand -base64 32)";

/** A 32-byte key from hex or base64 text; the error never quotes the text (it is meant to be a secret). */
export function parseSecretKey(key: string, text: string, where = "is not"): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || /^[A-Za-z0-9_-]{43}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, /[_-]/.test(trimmed) ? "base64url" : "base64");
    if (bytes.length === 32) return bytes;
  }
  throw new ConfigError(key, `${where} ${KEY_FORMAT}; it has ${trimmed.length} characters`);
}

/** SHOPFLOOR_SECRET_KEY, or the key in the file SHOPFLOOR_SECRET_KEY_FILE names; undefined when neither is set. */
function secretKeyOf(source: Record<string, string | undefined>): Buffer | undefined {
  const inline = source.SHOPFLOOR_SECRET_KEY?.trim() || undefined;
  const file = source.SHOPFLOOR_SECRET_KEY_FILE?.trim() || undefined;
  if (inline && file) {
    throw new ConfigError("SHOPFLOOR_SECRET_KEY", "and SHOPFLOOR_SECRET_KEY_FILE are both set: give one of them");
  }
  if (inline) return parseSecretKey("SHOPFLOOR_SECRET_KEY", inline);
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError("SHOPFLOOR_SECRET_KEY_FILE", `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseSecretKey("SHOPFLOOR_SECRET_KEY_FILE", text, `${file} does not hold`);
}

/** Validates the bootstrap keys from `source` (environment merged with the --config file). */
export function parseBootstrap(source: Record<string, string | undefined>): BootstrapConfig {
  const required = (key: BootstrapKey): string => {
    const v = source[key]?.trim();
    if (!v) throw new ConfigError(key, "is required (set it in the environment or the --config file)");
    return v;
  };
  const optional = (key: BootstrapKey): string | undefined => source[key]?.trim() || undefined;
  // Checked in the documented order, so the first missing key is the one named.
  const odooUrl = odooUrlOf(required("ODOO_URL"), flag("ODOO_ALLOW_HTTP", optional("ODOO_ALLOW_HTTP")));
  const odooDb = required("ODOO_DB");
  const odooUser = required("ODOO_USER");
  const odooApiKey = required("ODOO_API_KEY");
  const odooApi = (optional("ODOO_API") ?? "jsonrpc") as OdooApi;
  if (!ODOO_APIS.includes(odooApi)) {
    throw new ConfigError(
      "ODOO_API",
      `"${odooApi}" is not ${ODOO_APIS.join(" or ")} (jsonrpc for Odoo 18, json2 for Odoo 19+)`,
    );
  }
  const connection = required("SHOPFLOOR_CONNECTION");
  if (connection.length > 64) throw new ConfigError("SHOPFLOOR_CONNECTION", "is longer than 64 characters");
  const spoolDir = required("SHOPFLOOR_SPOOL_DIR");
  const secretKey = secretKeyOf(source);
  const portText = optional("METRICS_PORT");
  const metricsPort = portText === undefined ? DEFAULT_METRICS_PORT : Number(portText);
  if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535) {
    throw new ConfigError("METRICS_PORT", `"${portText}" is not a port number (0-65535; 0 turns it off)`);
  }
  const metricsHost = metricsHostOf(optional("METRICS_HOST"));
  const mqttUrl = optional("MQTT_URL");
  const opcuaEndpoint = optional("OPCUA_ENDPOINT");
  const backboneConsumer = optional("BACKBONE_CONSUMER")?.trim();
  const httpPortText = optional("HTTP_PORT");
  const httpPort = httpPortText === undefined ? undefined : Number(httpPortText);
  if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 1 && httpPort <= 65_535)) {
    throw new ConfigError("HTTP_PORT", `"${httpPortText}" is not a port number (1-65535)`);
  }
  // Historian import: the drop folder's path on this machine.
  const folderPath = optional("FOLDER_PATH");
  if (folderPath !== undefined && !folderPath.startsWith("/")) {
    throw new ConfigError("FOLDER_PATH", `"${folderPath}" is not an absolute path`);
  }
  return {
    odooUrl,
    odooDb,
    odooUser,
    odooApiKey,
    odooApi,
    connection,
    spoolDir,
    metricsPort,
    metricsHost,
    ...(secretKey ? { secretKey } : {}),
    ...(httpPort !== undefined ? { httpPort } : {}),
    ...(backboneConsumer ? { backboneConsumer } : {}),
    ...(folderPath ? { folderPath } : {}),
    mqttUrl: mqttUrl && url("MQTT_URL", mqttUrl, ["mqtt:", "mqtts:", "tcp:", "ssl:", "ws:", "wss:"]),
    opcuaEndpoint: opcuaEndpoint && url("OPCUA_ENDPOINT", opcuaEndpoint, ["opc.tcp:"]),
  };
}

/** The process environment, overridden by the --config file's keys when one is given. */
export function loadBootstrap(configFile?: string): BootstrapConfig {
  const fromEnv: Record<string, string | undefined> = {};
  for (const key of BOOTSTRAP_KEYS) fromEnv[key] = process.env[key];
  return parseBootstrap(configFile ? { ...fromEnv, ...readConfigFile(configFile) } : fromEnv);
}

/** The spool directory and its key alone (for `spool stats|list`, which need no Odoo). */
export function loadSpoolSettings(configFile?: string): { spoolDir: string; secretKey?: Buffer } {
  const fromEnv = {
    SHOPFLOOR_SPOOL_DIR: process.env.SHOPFLOOR_SPOOL_DIR,
    SHOPFLOOR_SECRET_KEY: process.env.SHOPFLOOR_SECRET_KEY,
    SHOPFLOOR_SECRET_KEY_FILE: process.env.SHOPFLOOR_SECRET_KEY_FILE,
  };
  const source: Record<string, string | undefined> = configFile
    ? { ...fromEnv, ...readConfigFile(configFile) }
    : fromEnv;
  const dir = source.SHOPFLOOR_SPOOL_DIR?.trim();
  if (!dir)
    throw new ConfigError("SHOPFLOOR_SPOOL_DIR", "is required (set it in the environment or the --config file)");
  const secretKey = secretKeyOf(source);
  return secretKey ? { spoolDir: dir, secretKey } : { spoolDir: dir };
}

/** Log level (not a bootstrap key of the contract; LOG_LEVEL is read here so no other module reads env). */
export function logLevel(): string {
  return process.env.LOG_LEVEL || "info";
}
