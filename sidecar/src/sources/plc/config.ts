// The `plc` block of sidecar_config, checked before a driver connects. What
// is wrong is named by the Odoo connection field an admin fixes (`plc_host`,
// `plc_port`, …): main.ts's asConfigError turns a PlcConfigError into exit 2
// with that field, as it does for the message queues. The ranges are the
// ones the module checks on save (odoo_addon/shopfloor_bridge/plc.py), so
// only a configuration Odoo never sent (a hand-edited cache, an older or
// patched module) is refused here.
import { PLC_KINDS, type PlcConfig, type PlcKind, type SidecarConfig } from "../../core/contract.ts";

/** The connection fields of a polled PLC (shopfloor.connection, `plc_*`). */
export type PlcField =
  | "plc_host"
  | "plc_port"
  | "plc_unit_id"
  | "plc_rack"
  | "plc_slot"
  | "plc_poll_interval_ms"
  | "plc_timeout_ms";

export class PlcConfigError extends Error {
  override name = "PlcConfigError";
  readonly field: PlcField;
  constructor(field: PlcField, message: string) {
    super(message);
    this.field = field;
  }
}

/** The TCP port of each protocol, used when the connection says 0. */
export const PLC_DEFAULT_PORTS: Readonly<Record<PlcKind, number>> = { modbus: 502, s7: 102, enip: 44818 };

/** What a missing number means (the module's defaults). */
export const PLC_DEFAULTS: Readonly<Omit<PlcConfig, "host">> = {
  port: 0,
  unit_id: 1,
  rack: 0,
  slot: 0,
  poll_interval_ms: 1000,
  timeout_ms: 2000,
};

interface NumberRule {
  field: PlcField;
  min: number;
  max: number;
  /** The kinds that read it; the others pass it on unchecked. */
  kinds: readonly PlcKind[];
  what: string;
}

const NUMBERS: Readonly<Record<keyof Omit<PlcConfig, "host">, NumberRule>> = {
  port: { field: "plc_port", min: 0, max: 65_535, kinds: PLC_KINDS, what: "a TCP port (0: the protocol's own)" },
  unit_id: { field: "plc_unit_id", min: 0, max: 255, kinds: ["modbus"], what: "a Modbus unit id" },
  rack: { field: "plc_rack", min: 0, max: 7, kinds: ["s7"], what: "an S7 rack" },
  slot: { field: "plc_slot", min: 0, max: 31, kinds: ["s7", "enip"], what: "a slot" },
  poll_interval_ms: {
    field: "plc_poll_interval_ms",
    min: 50,
    max: 86_400_000,
    kinds: PLC_KINDS,
    what: "a poll interval in ms",
  },
  timeout_ms: { field: "plc_timeout_ms", min: 100, max: 600_000, kinds: PLC_KINDS, what: "a timeout in ms" },
};

export function isPlcKind(kind: string): kind is PlcKind {
  return (PLC_KINDS as readonly string[]).includes(kind);
}

/** The `plc` block as sent: false for the kinds that poll no PLC, and when an older Odoo sends none. */
export function plcBlock(config: SidecarConfig): PlcConfig | false {
  return config.plc ?? false;
}

/**
 * The PLC a connection of kind modbus, s7 or enip polls, checked and with
 * every missing number at its default. Throws PlcConfigError naming the
 * field to fix.
 */
export function plcConfigOf(config: SidecarConfig): PlcConfig {
  const where = `connection ${config.code} (${config.kind})`;
  if (!isPlcKind(config.kind)) throw new PlcConfigError("plc_host", `${where} polls no PLC`);
  const block = plcBlock(config);
  if (!block || typeof block !== "object") {
    throw new PlcConfigError(
      "plc_host",
      `${where}: Odoo sent no plc block: its shopfloor_bridge module is older than this sidecar (upgrade it to 18.0.0.3.0 or later)`,
    );
  }
  const kind = config.kind;
  const host = typeof block.host === "string" ? block.host.trim() : "";
  if (!host) throw new PlcConfigError("plc_host", `${where}: the PLC host is missing`);
  if (/[\s/]/.test(host) || (host.includes(":") && !host.includes("::") && host.split(":").length === 2)) {
    throw new PlcConfigError("plc_host", `${where}: ${JSON.stringify(host)} is not a host name or IP address alone`);
  }
  const out: PlcConfig = { host, ...PLC_DEFAULTS };
  for (const [key, rule] of Object.entries(NUMBERS) as [keyof typeof NUMBERS, NumberRule][]) {
    const value: unknown = block[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new PlcConfigError(rule.field, `${where}: ${key} ${JSON.stringify(value)} is not a whole number`);
    }
    if (rule.kinds.includes(kind) && (value < rule.min || value > rule.max)) {
      throw new PlcConfigError(
        rule.field,
        `${where}: ${key} ${value} is not ${rule.what} (${rule.min} to ${rule.max})`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** The TCP port to connect to: the connection's, or the protocol's own when it says 0. */
export function plcPort(kind: PlcKind, plc: Pick<PlcConfig, "port">): number {
  return plc.port || PLC_DEFAULT_PORTS[kind];
}
