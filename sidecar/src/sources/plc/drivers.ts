// Which driver polls a PLC of each connection kind. A driver is loaded only
// when a connection uses it, so a sidecar that reads no PLC never loads a
// protocol library. Each protocol adds its own entry (on its own line, so
// the entries of the three protocols merge without touching each other).
import type { PlcConfig, PlcKind } from "../../core/contract.ts";
import type { PlcDriver, PlcDriverFactory } from "./driver.ts";

/** A connection kind whose driver this sidecar lacks: a configuration fault, said with the kind. */
export class PlcDriverMissingError extends Error {
  override name = "PlcDriverMissingError";
  readonly kind: PlcKind;
  constructor(kind: PlcKind) {
    super(`this sidecar has no driver for PLC kind ${JSON.stringify(kind)} (known: ${knownKinds().join(", ")})`);
    this.kind = kind;
  }
}

type DriverLoader = () => Promise<PlcDriverFactory>;

const LOADERS: Record<PlcKind, DriverLoader | undefined> = {
  // Modbus TCP (modbus-serial): sources/plc/modbus/.
  modbus: async () => (await import("./modbus/driver.ts")).modbusDriver,

  // Siemens S7 (node-snap7, native): sources/plc/s7/.
  s7: async () => (await import("./s7/driver.ts")).s7Driver,

  // EtherNet/IP CIP for Allen-Bradley Logix (the driver's own CIP encoding): sources/plc/enip/.
  enip: async () => (await import("./enip/driver.ts")).enipDriver,
};

/** The kinds this sidecar can poll. */
export function knownKinds(): PlcKind[] {
  return (Object.keys(LOADERS) as PlcKind[]).filter((kind) => LOADERS[kind] !== undefined);
}

/** The factory of a kind's driver; throws PlcDriverMissingError when this sidecar has none. */
export async function plcDriverFactory(kind: PlcKind): Promise<PlcDriverFactory> {
  const load = LOADERS[kind];
  if (!load) throw new PlcDriverMissingError(kind);
  return load();
}

/** A driver for one connection's PLC. */
export async function createPlcDriver(kind: PlcKind, plc: PlcConfig): Promise<PlcDriver> {
  return (await plcDriverFactory(kind))(plc);
}
