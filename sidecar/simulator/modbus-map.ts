// Where the simulated line's PLC keeps each machine's tags over Modbus: one
// block of 100 addresses per machine, mixing areas, types and byte orders as
// a real register map does. The rules (rules.ts) read these addresses; the
// Modbus output (devstack/sim-modbus-plc.ts) writes them.
import type { TagName } from "./line.ts";

/** Addresses per machine; machine `index` starts at index × MODBUS_BLOCK. */
export const MODBUS_BLOCK = 100;

export function modbusTagAddress(index: number, tag: TagName): string {
  const base = index * MODBUS_BLOCK;
  switch (tag) {
    case "State":
      return `hr${base}:int32`;
    case "GoodCount":
      return `hr${base + 2}:uint32:CDAB`;
    case "ScrapCount":
      return `ir${base + 4}:uint32:DCBA`;
    case "ReasonCode":
      return `hr${base + 10}:string8`;
    case "CurrentOrder":
      return `hr${base + 20}:string16`;
    case "Operation":
      return `ir${base + 40}:string32:BADC`;
    case "Started":
      return `coil${base}`;
    case "Completed":
      return `di${base}`;
  }
}
