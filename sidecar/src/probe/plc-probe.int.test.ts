// "Read once" of a PLC address against servers nobody here wrote — pymodbus's
// Modbus TCP server, python-snap7's S7 server, cpppo's EtherNet/IP Logix
// simulator — through the sidecar's driver registry as main.ts wires it: the
// value the server holds, with its type; a bad address with the driver's
// message; an address the PLC refuses; a PLC that is gone. Answers as the
// prober sends them to Odoo.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CpppoLogix } from "../../devstack/cpppo-peer.ts";
import { type ModbusPeer, startModbusPeer } from "../../devstack/modbus-peer.ts";
import { freePort } from "../../devstack/odoo.ts";
import { S7PeerServer } from "../../devstack/s7-peer.ts";
import type { PlcConfig, PlcKind, SidecarConfig } from "../core/contract.ts";
import type { ProbeAnswer } from "../core/ports.ts";
import { PlcDriverMissingError, plcDriverFactory } from "../sources/plc/drivers.ts";
import { parseS7Address } from "../sources/plc/s7/address.ts";
import { Prober } from "./prober.ts";
import { probeHandlerFor } from "./start.ts";

const plcOf = (port: number): PlcConfig => ({
  host: "127.0.0.1",
  port,
  unit_id: 1,
  rack: 0,
  slot: 0,
  poll_interval_ms: 1000,
  timeout_ms: 1000,
});

function configOf(kind: PlcKind, plc: PlcConfig): SidecarConfig {
  return { code: "plc-probe", kind, plc } as unknown as SidecarConfig;
}

describe("read once from a Modbus PLC (pymodbus)", () => {
  let peer: ModbusPeer;
  let prober: Prober;

  beforeAll(async () => {
    peer = await startModbusPeer({ size: 200, holes: ["hr:150-159"] });
    const handler = await probeHandlerFor({
      odoo: { probePull: async () => ({ requests: [], poll_ms: 1000 }), probeAnswer: async () => true },
      config: configOf("modbus", plcOf(peer.port)),
      pkiDir: "/nonexistent",
      plcDriver: plcDriverFactory,
    });
    prober = new Prober({
      odoo: { probePull: async () => ({ requests: [], poll_ms: 1000 }), probeAnswer: async () => true },
      connection: "plc-probe",
      handler,
    });
  }, 60_000);

  afterAll(async () => {
    await prober?.stop();
    await peer?.kill();
  });

  const readOnce = (address: string): Promise<ProbeAnswer> => prober.answerOf({ id: 1, op: "read", target: address });

  it("reads the value pymodbus holds, with its type, in every word and byte order", async () => {
    for (const order of ["ABCD", "CDAB", "BADC", "DCBA"]) {
      await peer.put("hr", 10, "float32", order, "-12.5");
      expect(await readOnce(`hr10:float32:${order}`)).toEqual({
        id: 1,
        ok: true,
        result: expect.objectContaining({
          address: `hr10:float32:${order}`,
          value: -12.5,
          data_type: "float32",
          protocol: "modbus",
        }),
      });
    }
    await peer.put("hr", 20, "int64", "ABCD", "-9223372036854775808");
    expect(await readOnce("hr20:int64")).toMatchObject({ ok: true, result: { value: "-9223372036854775808" } });
    await peer.setBits("coil", 3, [true]);
    expect(await readOnce("coil3")).toMatchObject({ ok: true, result: { value: true, data_type: "bool" } });
  });

  it("a bad address is `bad_address` with the driver's message", async () => {
    const answer = await readOnce("hr70000");
    expect(answer).toMatchObject({ ok: false, code: "bad_address" });
    expect((answer as { error: string }).error).toMatch(/^hr70000: /);
  });

  it("an address the PLC refuses is `unknown_node` with the Modbus exception", async () => {
    const answer = await readOnce("hr155");
    expect(answer).toMatchObject({ ok: false, code: "unknown_node" });
    expect((answer as { error: string }).error).toMatch(/illegal data address/);
  });

  it("a PLC that is gone is `unreachable`, in time", async () => {
    await peer.kill();
    const started = Date.now();
    const answer = await readOnce("hr10");
    expect(answer).toMatchObject({ ok: false, code: "unreachable" });
    expect((answer as { error: string }).error).toContain(`127.0.0.1:${peer.port}`);
    expect(Date.now() - started).toBeLessThan(10_000);
    await peer.start();
    await peer.put("hr", 10, "uint16", "ABCD", "7");
    expect(await readOnce("hr10")).toMatchObject({ ok: true, result: { value: 7 } });
  });

  it("a kind this sidecar has no driver for answers so", async () => {
    // A sidecar built without one protocol's driver (its registry entry left out).
    const withoutS7 = async (kind: PlcKind) => {
      if (kind === "s7") throw new PlcDriverMissingError(kind);
      return plcDriverFactory(kind);
    };
    const handler = await probeHandlerFor({
      odoo: { probePull: async () => ({ requests: [], poll_ms: 1000 }), probeAnswer: async () => true },
      config: configOf("s7", plcOf(await freePort())),
      pkiDir: "/nonexistent",
      plcDriver: withoutS7,
    });
    await expect(handler.read("DB1,INT0")).rejects.toMatchObject({
      code: "unsupported",
      message: expect.stringMatching(/no driver for PLC kind "s7"/),
    });
  });
});

/** A prober answering for a connection of `kind` on `plc`, as main.ts starts it. */
async function proberFor(kind: PlcKind, plc: PlcConfig): Promise<Prober> {
  const odoo = { probePull: async () => ({ requests: [], poll_ms: 1000 }), probeAnswer: async () => true };
  const handler = await probeHandlerFor({
    odoo,
    config: configOf(kind, plc),
    pkiDir: "/nonexistent",
    plcDriver: plcDriverFactory,
  });
  return new Prober({ odoo, connection: "plc-probe", handler });
}

describe("read once from a Siemens S7 PLC (python-snap7)", () => {
  let server: S7PeerServer;
  let prober: Prober;
  beforeAll(async () => {
    server = new S7PeerServer([{ area: "DB", index: 10, size: 64 }]);
    await server.start();
    prober = await proberFor("s7", { ...plcOf(server.port), slot: 1 });
  }, 60_000);
  afterAll(async () => {
    await prober?.stop();
    await server?.stop();
  });
  const readOnce = (address: string) => prober.answerOf({ id: 2, op: "read", target: address });

  it("reads the values python-snap7 holds, with their S7 types", async () => {
    await server.put(parseS7Address("DB10,REAL4"), -12.5);
    await server.put(parseS7Address("DB10,DINT8"), -70000);
    await server.put(parseS7Address("DB10,S20.10"), "PRESS-3");
    expect(await readOnce("DB10,REAL4")).toMatchObject({ ok: true, result: { value: -12.5, protocol: "s7" } });
    expect(await readOnce("DB10,DINT8")).toMatchObject({ ok: true, result: { value: -70000 } });
    expect(await readOnce("DB10,S20.10")).toMatchObject({ ok: true, result: { value: "PRESS-3" } });
  });

  it("a bad address is `bad_address`, a DB the PLC lacks is refused with the PLC's reason", async () => {
    expect(await readOnce("DB10,FLOAT4")).toMatchObject({ ok: false, code: "bad_address" });
    const missing = await readOnce("DB99,INT0");
    expect(missing).toMatchObject({ ok: false });
    expect((missing as { error: string }).error).toMatch(/DB99|address|not found|exist/i);
  });
});

describe("read once from an Allen-Bradley Logix controller (cpppo)", () => {
  let peer: CpppoLogix;
  let prober: Prober;
  beforeAll(async () => {
    peer = await CpppoLogix.start({ Count: "DINT", Ratio: "REAL" });
    prober = await proberFor("enip", plcOf(peer.port));
  }, 60_000);
  afterAll(async () => {
    await prober?.stop();
    await peer?.stop();
  });
  const readOnce = (address: string) => prober.answerOf({ id: 3, op: "read", target: address });

  it("reads the tags cpppo holds, with their CIP types", async () => {
    await peer.set("Count", "42");
    await peer.set("Ratio", "0.5");
    expect(await readOnce("Count")).toMatchObject({ ok: true, result: { value: 42, protocol: "enip" } });
    expect(await readOnce("Ratio")).toMatchObject({ ok: true, result: { value: 0.5 } });
  });

  it("a tag the controller lacks is refused with the CIP reason", async () => {
    const answer = await readOnce("NoSuchTag");
    expect(answer).toMatchObject({ ok: false });
    expect((answer as { error: string }).error).toMatch(/NoSuchTag/);
  });
});
