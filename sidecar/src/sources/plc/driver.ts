// The one interface every directly polled PLC protocol implements (Modbus TCP,
// Siemens S7, EtherNet/IP CIP). A driver knows its protocol's addresses and
// wire; the polled source (sources/plc/source.ts) owns the timing, the
// deadband, the rule engines, reconnects and what the dashboard shows.
import type { PlcConfig, PlcKind } from "../../core/contract.ts";

/** A value as the PLC holds it: numbers (64-bit integers as bigint), bits, strings. */
export type PlcValue = number | bigint | boolean | string;

/** One tag's answer to a read: its value, or why this tag (not the connection) failed. */
export type PlcRead = { ok: true; value: PlcValue } | { ok: false; error: string };

/**
 * An address this protocol cannot read: wrong syntax, a type it has no such
 * size for, an area out of range. `message` names the part that is wrong and
 * shows a valid example; it reaches the admin on the rule in Odoo.
 */
export class PlcAddressError extends Error {
  override name = "PlcAddressError";
  readonly address: string;
  constructor(address: string, message: string) {
    super(`${address}: ${message}`);
    this.address = address;
  }
}

/**
 * The PLC cannot be reached or stopped answering (refused, timed out, reset,
 * a protocol-level rejection of the session such as S7 PUT/GET disabled):
 * the source closes the driver and reconnects with backoff.
 */
export class PlcUnreachableError extends Error {
  override name = "PlcUnreachableError";
}

export interface PlcDriver<Tag = unknown> {
  readonly protocol: PlcKind;
  /** Parses one address; pure (no I/O). Throws PlcAddressError. */
  parse(address: string): Tag;
  /** Opens the connection (TCP, then the protocol's session). Throws PlcUnreachableError. */
  connect(): Promise<void>;
  /**
   * Reads every tag, in as few requests as the protocol allows (contiguous
   * registers, one S7 multi-var read, one CIP multiple-service packet);
   * answers in the same order. A tag the PLC refuses (no such DB, wrong type,
   * illegal address) is `{ ok: false }` and the others still read; a lost or
   * silent connection throws PlcUnreachableError.
   */
  read(tags: readonly Tag[]): Promise<PlcRead[]>;
  /** Writes one value (floor writers, tests). Throws PlcAddressError for a read-only area. */
  write(tag: Tag, value: PlcValue): Promise<void>;
  /** Closes the connection; safe to call twice or before connect. */
  close(): Promise<void>;
}

/** Makes a driver for one connection's PLC. */
export type PlcDriverFactory = (plc: PlcConfig) => PlcDriver;
