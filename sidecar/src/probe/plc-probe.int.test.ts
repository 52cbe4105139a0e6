// "Read once" of a PLC address against pymodbus's Modbus TCP server (an
// implementation nobody here wrote), through the sidecar's driver registry as
// main.ts wires it: the value pymodbus encoded, in every byte order; a bad
// address with the driver's message; an address the PLC refuses; a PLC that
// is gone. Answers as the prober sends them to Odoo. (Odoo's side of a PLC
// connection comes with the PLC connection kinds of the module.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModbusPeer, startModbusPeer } from "../../devstack/modbus-peer.ts";
import { freePort } from "../../devstack/odoo.ts";
import type { PlcConfig, SidecarConfig } from "../core/contract.ts";
import type { ProbeAnswer } from "../core/ports.ts";
import { plcDriverFactory } from "../sources/plc/drivers.ts";
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

function configOf(kind: "modbus" | "s7", plc: PlcConfig): SidecarConfig {
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
    const handler = await probeHandlerFor({
      odoo: { probePull: async () => ({ requests: [], poll_ms: 1000 }), probeAnswer: async () => true },
      config: configOf("s7", plcOf(await freePort())),
      pkiDir: "/nonexistent",
      plcDriver: plcDriverFactory,
    });
    await expect(handler.read("DB1,INT0")).rejects.toMatchObject({
      code: "unsupported",
      message: expect.stringMatching(/no driver for PLC kind "s7"/),
    });
  });
});
