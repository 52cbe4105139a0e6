// The part of node-snap7's S7Client the driver uses, typed, and snap7's
// error numbers sorted into what the driver decides on. node-snap7 ships no
// types; the shapes below follow its doc/client.md (version pinned in
// package.json). Loaded on first use, so a sidecar without S7 connections
// never loads the native addon.
import { createRequire } from "node:module";

export interface Snap7Item {
  Area: number;
  WordLen: number;
  DBNumber: number;
  Start: number;
  Amount: number;
}

export interface Snap7Client {
  readonly RemotePort: number;
  readonly PingTimeout: number;
  readonly SendTimeout: number;
  readonly RecvTimeout: number;
  readonly S7WLBit: number;
  readonly S7WLByte: number;
  SetParam(param: number, value: number): boolean;
  ConnectTo(ip: string, rack: number, slot: number, done: (code: number | null) => void): void;
  ReadMultiVars(
    items: Snap7Item[],
    done: (code: number | null, result: { Result: number; Data: Buffer | null }[]) => void,
  ): void;
  ReadArea(
    area: number,
    db: number,
    start: number,
    amount: number,
    wordLen: number,
    done: (code: number | null, data: Buffer | null) => void,
  ): void;
  WriteArea(
    area: number,
    db: number,
    start: number,
    amount: number,
    wordLen: number,
    data: Buffer,
    done: (code: number | null) => void,
  ): void;
  PDULength(): number | false;
  ErrorText(code: number): string;
  Disconnect(): boolean;
}

let module: { S7Client: new () => Snap7Client } | undefined;

/** A new snap7 client; throws an Error that says how to rebuild the addon when it cannot load. */
export function snap7Client(): Snap7Client {
  if (!module) {
    try {
      module = createRequire(import.meta.url)("node-snap7") as { S7Client: new () => Snap7Client };
    } catch (error) {
      throw new Error(
        `the S7 driver needs the native addon node-snap7, which did not load (${(error as Error).message.split("\n")[0]}); ` +
          "rebuild it for this Node.js: npm rebuild node-snap7 --nodedir=<Node's own headers> (see sidecar/src/sources/plc/README.md)",
      );
    }
  }
  return new module.S7Client();
}

/** snap7's error numbers (s7_micro_client.h, s7_isotcp.h) the driver tells apart. */
export const SNAP7_CODES = {
  invalidPlcAnswer: 0x0080_0000,
  addressOutOfRange: 0x0090_0000,
  invalidTransportSize: 0x00a0_0000,
  writeDataSizeMismatch: 0x00b0_0000,
  itemNotAvailable: 0x00c0_0000,
  invalidValue: 0x00d0_0000,
  functionNotAvailable: 0x0140_0000,
  needPassword: 0x01d0_0000,
  functionRefused: 0x0230_0000,
  negotiatingPdu: 0x0010_0000,
} as const;

const ITEM_CODES: ReadonlySet<number> = new Set([
  SNAP7_CODES.addressOutOfRange,
  SNAP7_CODES.invalidTransportSize,
  SNAP7_CODES.writeDataSizeMismatch,
  SNAP7_CODES.itemNotAvailable,
  SNAP7_CODES.invalidValue,
  // An item return code snap7 has no name for, e.g. 0x03 "object access not allowed".
  SNAP7_CODES.functionRefused,
]);

/**
 * What a snap7 error means for the driver. `item`: the CPU refused this
 * address (no such DB, past its end, access denied); the session is fine.
 * `refused`: the CPU refuses the service itself (PUT/GET disabled on an
 * S7-1200/1500, a protection level that needs a password). `iso`: the
 * ISO-on-TCP session was not set up or broke (a wrong rack/slot is refused
 * here). `connection`: TCP refused, reset or silent.
 */
export function snap7ErrorKind(code: number): "item" | "refused" | "iso" | "connection" {
  const client = code & 0xfff0_0000;
  if (client !== 0) {
    if (ITEM_CODES.has(client)) return "item";
    if (client === SNAP7_CODES.functionNotAvailable || client === SNAP7_CODES.needPassword) return "refused";
    if (client === SNAP7_CODES.negotiatingPdu) return "iso";
    return "connection";
  }
  if ((code & 0x000f_0000) !== 0) return "iso";
  return "connection";
}
