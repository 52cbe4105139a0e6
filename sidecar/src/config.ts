// Bootstrap configuration: the ONLY module that reads the environment.
// Names are part of the contract (DESIGN.md). Everything else comes from
// Odoo's `sidecar_config` and is cached in the spool.
import { readFileSync } from "node:fs";

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
  /** Overrides of what Odoo says. */
  mqttUrl?: string;
  opcuaEndpoint?: string;
}

export const BOOTSTRAP_KEYS = [
  "ODOO_URL",
  "ODOO_DB",
  "ODOO_USER",
  "ODOO_API_KEY",
  "ODOO_API",
  "SHOPFLOOR_CONNECTION",
  "SHOPFLOOR_SPOOL_DIR",
  "METRICS_PORT",
  "MQTT_URL",
  "OPCUA_ENDPOINT",
] as const;
export type BootstrapKey = (typeof BOOTSTRAP_KEYS)[number];

export const DEFAULT_METRICS_PORT = 9464;

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

function url(key: string, value: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(key, `"${value}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(key, `"${value}" must start with ${protocols.map((p) => `${p}//`).join(" or ")}`);
  }
  return value;
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
  const odooUrl = url("ODOO_URL", required("ODOO_URL"), ["http:", "https:"]);
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
  const portText = optional("METRICS_PORT");
  const metricsPort = portText === undefined ? DEFAULT_METRICS_PORT : Number(portText);
  if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535) {
    throw new ConfigError("METRICS_PORT", `"${portText}" is not a port number (0-65535; 0 turns it off)`);
  }
  const mqttUrl = optional("MQTT_URL");
  const opcuaEndpoint = optional("OPCUA_ENDPOINT");
  return {
    odooUrl,
    odooDb,
    odooUser,
    odooApiKey,
    odooApi,
    connection,
    spoolDir,
    metricsPort,
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

/** The spool directory alone (for `spool stats|list`, which need no Odoo). */
export function loadSpoolDir(configFile?: string): string {
  const source = configFile
    ? { SHOPFLOOR_SPOOL_DIR: process.env.SHOPFLOOR_SPOOL_DIR, ...readConfigFile(configFile) }
    : process.env;
  const dir = source.SHOPFLOOR_SPOOL_DIR?.trim();
  if (!dir)
    throw new ConfigError("SHOPFLOOR_SPOOL_DIR", "is required (set it in the environment or the --config file)");
  return dir;
}

/** Log level (not a bootstrap key of the contract; LOG_LEVEL is read here so no other module reads env). */
export function logLevel(): string {
  return process.env.LOG_LEVEL || "info";
}
