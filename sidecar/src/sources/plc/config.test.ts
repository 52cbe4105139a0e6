import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PLC_KINDS, type PlcConfig, type PlcKind, type SidecarConfig } from "../../core/contract.ts";
import {
  isPlcKind,
  PLC_DEFAULT_PORTS,
  PLC_DEFAULTS,
  PlcConfigError,
  plcBlock,
  plcConfigOf,
  plcPort,
} from "./config.ts";

function connection(kind: string, plc?: unknown): SidecarConfig {
  const config = { code: "line4", kind, revision: 1, rules: [] } as unknown as SidecarConfig;
  if (plc !== undefined) (config as { plc?: unknown }).plc = plc;
  return config;
}

/** What the module sends for a valid connection (odoo_addon/shopfloor_bridge/plc.py ranges). */
const validBlock = fc.record({
  host: fc.constantFrom("192.168.0.10", "plc1.plant", "fd00::10", "localhost"),
  port: fc.integer({ min: 0, max: 65_535 }),
  unit_id: fc.integer({ min: 0, max: 255 }),
  rack: fc.integer({ min: 0, max: 7 }),
  slot: fc.integer({ min: 0, max: 31 }),
  poll_interval_ms: fc.integer({ min: 50, max: 86_400_000 }),
  timeout_ms: fc.integer({ min: 100, max: 600_000 }),
});
const plcKind = fc.constantFrom(...PLC_KINDS);

function refusal(run: () => unknown): PlcConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof PlcConfigError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("plcConfigOf", () => {
  it("passes every block the module sends through unchanged", () => {
    fc.assert(
      fc.property(plcKind, validBlock, (kind, block) => {
        expect(plcConfigOf(connection(kind, block))).toEqual(block);
      }),
    );
  });

  it("reads a missing or null number as the module's default", () => {
    expect(plcConfigOf(connection("modbus", { host: " plc1 " }))).toEqual({ host: "plc1", ...PLC_DEFAULTS });
    expect(plcConfigOf(connection("s7", { host: "plc1", slot: null, rack: 1 }))).toEqual({
      host: "plc1",
      ...PLC_DEFAULTS,
      rack: 1,
    });
  });

  it("names the field of every number out of its range, for the kinds that read it", () => {
    const cases: [PlcKind, Partial<PlcConfig>, string][] = [
      ["modbus", { port: 65_536 }, "plc_port"],
      ["enip", { port: -1 }, "plc_port"],
      ["modbus", { unit_id: 256 }, "plc_unit_id"],
      ["s7", { rack: 8 }, "plc_rack"],
      ["s7", { slot: 32 }, "plc_slot"],
      ["enip", { slot: -1 }, "plc_slot"],
      ["modbus", { poll_interval_ms: 49 }, "plc_poll_interval_ms"],
      ["s7", { timeout_ms: 99 }, "plc_timeout_ms"],
      ["enip", { timeout_ms: 600_001 }, "plc_timeout_ms"],
    ];
    for (const [kind, values, field] of cases) {
      const err = refusal(() => plcConfigOf(connection(kind, { host: "plc1", ...values })));
      expect(err.field).toBe(field);
      expect(err.message).toMatch(/^connection line4 \((modbus|s7|enip)\): \w+ -?\d+ is not .+ \(-?\d+ to \d+\)$/);
    }
    // A Modbus connection has no rack: what another protocol reads is passed on, not refused.
    expect(plcConfigOf(connection("modbus", { host: "plc1", rack: 99, slot: 99 }))).toMatchObject({ rack: 99 });
    expect(plcConfigOf(connection("s7", { host: "plc1", unit_id: 999 }))).toMatchObject({ unit_id: 999 });
  });

  it("refuses any number that is not whole, with its field", () => {
    fc.assert(
      fc.property(
        plcKind,
        fc.constantFrom("port", "unit_id", "rack", "slot", "poll_interval_ms", "timeout_ms"),
        fc.oneof(fc.double({ noInteger: true }), fc.string(), fc.boolean()),
        (kind, key, value) => {
          const err = refusal(() => plcConfigOf(connection(kind, { host: "plc1", [key]: value })));
          expect(err.field).toBe(`plc_${key}`);
          expect(err.message).toContain("is not a whole number");
        },
      ),
    );
  });

  it("refuses a missing host, or one with a port or a scheme in it", () => {
    for (const host of [undefined, "", "  ", 7, "10.0.0.1:502", "tcp://10.0.0.1", "plc one"]) {
      expect(refusal(() => plcConfigOf(connection("modbus", { host }))).field).toBe("plc_host");
    }
  });

  it("reads an older Odoo's missing plc block as false, and says to upgrade the module", () => {
    const old = connection("modbus");
    expect(plcBlock(old)).toBe(false);
    const err = refusal(() => plcConfigOf(old));
    expect(err.field).toBe("plc_host");
    expect(err.message).toContain("Odoo sent no plc block");
    expect(err.message).toContain("upgrade it to 18.0.0.3.0");
    expect(refusal(() => plcConfigOf(connection("s7", false))).message).toContain("no plc block");
  });

  it("knows which kinds poll a PLC", () => {
    expect(PLC_KINDS.every(isPlcKind)).toBe(true);
    for (const kind of ["mqtt", "sparkplug", "opcua", "amqp", "kafka", "redis"]) {
      expect(isPlcKind(kind)).toBe(false);
      expect(plcBlock(connection(kind, false))).toBe(false);
      expect(refusal(() => plcConfigOf(connection(kind, { host: "x" }))).message).toContain("polls no PLC");
    }
  });
});

describe("plcPort", () => {
  it("is the connection's port, or the protocol's own for 0", () => {
    expect(PLC_DEFAULT_PORTS).toEqual({ modbus: 502, s7: 102, enip: 44818 });
    for (const kind of PLC_KINDS) {
      expect(plcPort(kind, { port: 0 })).toBe(PLC_DEFAULT_PORTS[kind]);
      expect(plcPort(kind, { port: 1502 })).toBe(1502);
    }
  });
});
