// Read one PLC address once, for the "Read once" button of a tag rule in
// Odoo: parse → connect → read → close, through the connection's PlcDriver,
// so the admin sees the value (or why there is none) before saving the rule.
// A fresh connection each time: the polled source's own connection keeps its
// pace and its backoff, and a read once must not disturb either.
import type { PlcConfig } from "../core/contract.ts";
import {
  PlcAddressError,
  type PlcDriver,
  type PlcDriverFactory,
  PlcUnreachableError,
  type PlcValue,
} from "../sources/plc/driver.ts";
import { ProbeError, type ProbeHandler } from "./prober.ts";

export interface PlcReadAnswer {
  address: string;
  value: string | number | boolean;
  /** What the value is in JavaScript (number, bigint, boolean, string) and, where the parsed tag names it, the PLC type. */
  data_type: string;
  protocol: string;
  read_ms: number;
}

/** The PLC's type where the driver's parsed tag carries one (`type`, `dataType`, `datatype`), else the value's kind. */
export function plcTypeOf(tag: unknown, value: PlcValue): string {
  if (tag && typeof tag === "object") {
    for (const key of ["type", "dataType", "datatype"]) {
      const named = (tag as Record<string, unknown>)[key];
      if (typeof named === "string" && named) return named;
    }
  }
  return typeof value;
}

export class PlcProbe implements ProbeHandler {
  readonly #plc: PlcConfig;
  readonly #driverOf: PlcDriverFactory;

  constructor(plc: PlcConfig, driverOf: PlcDriverFactory) {
    this.#plc = plc;
    this.#driverOf = driverOf;
  }

  async read(target: string): Promise<PlcReadAnswer> {
    const address = target.trim();
    const started = Date.now();
    let driver: PlcDriver | undefined;
    try {
      driver = this.#driverOf(this.#plc);
      const tag = driver.parse(address);
      await driver.connect();
      const [read] = await driver.read([tag]);
      if (!read) throw new ProbeError("failed", `${address}: the driver answered nothing`);
      if (!read.ok) throw new ProbeError("unknown_node", `${address}: the PLC refused the read: ${read.error}`);
      const value = read.value;
      return {
        address,
        value: typeof value === "bigint" ? value.toString() : value,
        data_type: plcTypeOf(tag, value),
        protocol: driver.protocol,
        read_ms: Date.now() - started,
      };
    } catch (err) {
      if (err instanceof ProbeError) throw err;
      if (err instanceof PlcAddressError) throw new ProbeError("bad_address", err.message);
      const where = `${this.#plc.host}${this.#plc.port ? `:${this.#plc.port}` : ""}`;
      if (err instanceof PlcUnreachableError) throw new ProbeError("unreachable", `PLC ${where}: ${err.message}`);
      throw new ProbeError("failed", `PLC ${where}: ${(err as Error).message}`);
    } finally {
      await driver?.close().catch(() => {});
    }
  }

  async close(): Promise<void> {}
}
