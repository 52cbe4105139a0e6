// Which prober a connection gets: OPC UA connections browse and read, PLC
// connections (modbus, s7, enip) read once; other kinds have nothing to
// probe (Odoo refuses to ask them). Loaded only for those kinds.
import type { ClientSession } from "node-opcua";
import { isProbeable, type PlcKind, type SidecarConfig } from "../core/contract.ts";
import type { OdooClient } from "../core/ports.ts";
import { opcuaSecurityFromConfig } from "../sources/opcua/security.ts";
import type { PlcDriverFactory } from "../sources/plc/driver.ts";
import { OpcuaProbe } from "./opcua-probe.ts";
import { PlcProbe } from "./plc-probe.ts";
import { ProbeError, type ProbeHandler, Prober, type ProberLogger } from "./prober.ts";

export interface StartProberOptions {
  odoo: Pick<OdooClient, "probePull" | "probeAnswer">;
  config: SidecarConfig;
  pkiDir: string;
  /** The OPC UA source's session while it is live. */
  liveSession?: () => ClientSession | undefined;
  /** Loads the driver of a protocol (sources/plc/drivers.ts); rejects when this sidecar has none. */
  plcDriver?: (kind: PlcKind) => Promise<PlcDriverFactory>;
  pollIntervalMs?: number;
  answerTimeoutMs?: number;
  log?: ProberLogger;
}

/** Answers every question with the same failure: a configuration the admin must fix first. */
class RefusingProbe implements ProbeHandler {
  readonly #error: ProbeError;
  constructor(error: ProbeError) {
    this.#error = error;
  }
  browse(): Promise<never> {
    return Promise.reject(this.#error);
  }
  read(): Promise<never> {
    return Promise.reject(this.#error);
  }
  async close(): Promise<void> {}
}

export async function probeHandlerFor(options: StartProberOptions): Promise<ProbeHandler> {
  const { config } = options;
  if (config.kind === "opcua") {
    const block = config.opcua || undefined;
    if (!block?.endpoint) {
      return new RefusingProbe(
        new ProbeError("unreachable", `connection ${config.code} has no OPC UA endpoint (opcua_endpoint in Odoo)`),
      );
    }
    try {
      return new OpcuaProbe({
        endpoint: block.endpoint,
        security: opcuaSecurityFromConfig(block, options.pkiDir),
        pkiDir: options.pkiDir,
        liveSession: options.liveSession,
      });
    } catch (err) {
      return new RefusingProbe(new ProbeError("unreachable", `connection ${config.code}: ${(err as Error).message}`));
    }
  }
  const kind = config.kind as PlcKind;
  const plc = config.plc;
  if (!plc) {
    return new RefusingProbe(new ProbeError("unreachable", `connection ${config.code} has no PLC settings in Odoo`));
  }
  if (!options.plcDriver) {
    return new RefusingProbe(new ProbeError("unsupported", `this sidecar has no ${kind} driver`));
  }
  try {
    return new PlcProbe(plc, await options.plcDriver(kind));
  } catch (err) {
    return new RefusingProbe(new ProbeError("unsupported", (err as Error).message));
  }
}

/** Starts answering, or returns undefined for a kind with nothing to probe. */
export async function startProber(options: StartProberOptions): Promise<Prober | undefined> {
  if (!isProbeable(options.config.kind)) return undefined;
  const prober = new Prober({
    odoo: options.odoo,
    connection: options.config.code,
    handler: await probeHandlerFor(options),
    pollIntervalMs: options.pollIntervalMs,
    answerTimeoutMs: options.answerTimeoutMs,
    log: options.log,
  });
  prober.start();
  return prober;
}
