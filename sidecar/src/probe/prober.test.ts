// The probe loop's own logic and the pure parts of the handlers, without
// sockets: answers per question (a slow one never holds a quick one back),
// timeouts, answers owed after Odoo was unreachable, the pace Odoo names;
// values as JSON, node ids, status codes, PLC errors as answers. The real
// chain (Odoo → sidecar → OPC UA server → Odoo) runs in probe.int.test.ts.
import fc from "fast-check";
import { DataType, StatusCodes, Variant, VariantArrayType } from "node-opcua";
import { describe, expect, it } from "vitest";
import type { PlcConfig } from "../core/contract.ts";
import type { ProbeAnswer, ProbePull, ProbeRequest } from "../core/ports.ts";
import { plainValue } from "../sources/opcua/source.ts";
import { PlcAddressError, type PlcDriver, type PlcRead, PlcUnreachableError } from "../sources/plc/driver.ts";
import { jsonValue, parseNodeId, statusError } from "./opcua-probe.ts";
import { PlcProbe, plcTypeOf } from "./plc-probe.ts";
import { ProbeError, type ProbeHandler, Prober } from "./prober.ts";

/** Scripted Odoo: hands out pages of requests, records answers, can refuse answers for a while. */
function odooWith(pages: ProbeRequest[][], pollMs = 250) {
  const answers: ProbeAnswer[] = [];
  let refuse = 0;
  return {
    answers,
    refuseAnswers(n: number) {
      refuse = n;
    },
    probePull: async (): Promise<ProbePull> => ({ requests: pages.shift() ?? [], poll_ms: pollMs }),
    probeAnswer: async (batch: ProbeAnswer[]) => {
      if (refuse > 0) {
        refuse--;
        throw new Error("ECONNREFUSED");
      }
      answers.push(...batch);
      return true;
    },
  };
}

/** A handler whose answers the test releases (a slow floor), or that never answers. */
class ScriptedHandler implements ProbeHandler {
  readonly #waits = new Map<string, { resolve: (value: unknown) => void; promise: Promise<unknown> }>();
  closed = false;
  #wait(target: string): Promise<unknown> {
    let entry = this.#waits.get(target);
    if (!entry) {
      let resolve!: (value: unknown) => void;
      const promise = new Promise<unknown>((r) => (resolve = r));
      entry = { resolve, promise };
      this.#waits.set(target, entry);
    }
    return entry.promise;
  }
  release(target: string, value: unknown): void {
    void this.#wait(target);
    this.#waits.get(target)?.resolve(value);
  }
  browse(target: string): Promise<unknown> {
    if (target === "bad") return Promise.reject(new ProbeError("unknown_node", "bad: no such node"));
    return this.#wait(target);
  }
  read(target: string): Promise<unknown> {
    if (target === "boom") return Promise.reject(new Error("socket hang up"));
    return this.#wait(target);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const request = (id: number, op: "browse" | "read", target: string): ProbeRequest => ({ id, op, target });

describe("Prober", () => {
  it("answers each question when it is done: a slow one does not hold a quick one back", async () => {
    const odoo = odooWith([[request(1, "browse", "slow"), request(2, "read", "quick")]]);
    const handler = new ScriptedHandler();
    const prober = new Prober({ odoo, connection: "c", handler });
    expect(await prober.tick()).toBe(250);
    handler.release("quick", 42);
    await expect.poll(() => odoo.answers).toEqual([{ id: 2, ok: true, result: 42 }]);
    handler.release("slow", { children: [] });
    await prober.settled();
    expect(odoo.answers.map((a) => a.id)).toEqual([2, 1]);
  });

  it("errors are answers with their code; anything else is `failed` with its message", async () => {
    const odoo = odooWith([
      [request(1, "browse", "bad"), request(2, "read", "boom"), request(3, "write" as "read", "x")],
    ]);
    const prober = new Prober({ odoo, connection: "c", handler: new ScriptedHandler() });
    await prober.tick();
    await prober.settled();
    expect(odoo.answers.sort((a, b) => a.id - b.id)).toEqual([
      { id: 1, ok: false, code: "unknown_node", error: "bad: no such node" },
      { id: 2, ok: false, code: "failed", error: "socket hang up" },
      { id: 3, ok: false, code: "unsupported", error: 'unknown probe operation "write"' },
    ]);
    expect(prober.stats).toMatchObject({ answered: 0, failed: 3 });
  });

  it("a floor that never answers is answered `timeout` in time", async () => {
    const odoo = odooWith([[request(7, "read", "never")]]);
    const prober = new Prober({ odoo, connection: "c", handler: new ScriptedHandler(), answerTimeoutMs: 50 });
    await prober.tick();
    await prober.settled();
    expect(odoo.answers).toEqual([
      { id: 7, ok: false, code: "timeout", error: "no answer from the floor within 0.05 s" },
    ]);
  });

  it("a connection without an address space says so for browse", async () => {
    const odoo = odooWith([[request(1, "browse", "")]]);
    const readOnly: ProbeHandler = { read: async () => 1, close: async () => {} };
    const prober = new Prober({ odoo, connection: "c", handler: readOnly });
    await prober.tick();
    await prober.settled();
    expect(odoo.answers).toEqual([
      { id: 1, ok: false, code: "unsupported", error: "this connection has no address space to browse" },
    ]);
  });

  it("answers Odoo did not take are sent again before the next pull", async () => {
    const odoo = odooWith([[request(1, "read", "a")], []]);
    const handler = new ScriptedHandler();
    const prober = new Prober({ odoo, connection: "c", handler });
    odoo.refuseAnswers(1);
    handler.release("a", 1);
    await prober.tick();
    await prober.settled();
    expect(odoo.answers).toEqual([]);
    await prober.tick();
    expect(odoo.answers).toEqual([{ id: 1, ok: true, result: 1 }]);
  });

  it("follows the pace Odoo names, and its own when Odoo names none", async () => {
    const handler = new ScriptedHandler();
    expect(await new Prober({ odoo: odooWith([], 1000), connection: "c", handler }).tick()).toBe(1000);
    const silent = {
      probePull: async () => ({ requests: [], poll_ms: 0 }),
      probeAnswer: async () => true,
    };
    expect(await new Prober({ odoo: silent, connection: "c", handler, pollIntervalMs: 700 }).tick()).toBe(700);
  });

  it("stop waits for the questions under way, then closes the handler", async () => {
    const odoo = odooWith([[request(1, "read", "later")]], 10);
    const handler = new ScriptedHandler();
    const prober = new Prober({ odoo, connection: "c", handler });
    prober.start();
    await expect.poll(() => odoo.answers.length === 0 && !handler.closed).toBe(true);
    setTimeout(() => handler.release("later", "v"), 20);
    await new Promise((r) => setTimeout(r, 30));
    await prober.stop();
    expect(odoo.answers).toEqual([{ id: 1, ok: true, result: "v" }]);
    expect(handler.closed).toBe(true);
  });
});

describe("jsonValue", () => {
  it("makes every OPC UA scalar type JSON that reads back the same", () => {
    const samples: [DataType, unknown, unknown][] = [
      [DataType.Boolean, true, true],
      [DataType.Double, 1.5, 1.5],
      [DataType.Float, Number.NaN, "NaN"],
      [DataType.Double, Number.POSITIVE_INFINITY, "Infinity"],
      [DataType.Int64, [0x7fffffff, 0xffffffff], "9223372036854775807"],
      [DataType.UInt64, [0, 5], 5],
      [DataType.String, "Ä\u0000b", "Ä\u0000b"],
      [DataType.DateTime, new Date("2026-12-02T08:00:00.000Z"), "2026-12-02T08:00:00.000Z"],
      // A ByteString is shown as the rules read it: UTF-8 text without its NUL
      // padding (a PLC's char array behind some gateways), else its bytes.
      [DataType.ByteString, Buffer.from("PRESS\u0000\u0000"), "PRESS"],
      [DataType.ByteString, Buffer.from([0xff, 0xfe, 0x01]), { base64: "//4B" }],
      [DataType.LocalizedText, { text: "Presse", locale: "de" }, "Presse"],
    ];
    for (const [dataType, value, expected] of samples) {
      const shown = jsonValue(plainValue(new Variant({ dataType, value, arrayType: VariantArrayType.Scalar })));
      expect(shown, DataType[dataType]).toEqual(expected);
      expect(JSON.parse(JSON.stringify(shown))).toEqual(expected);
    }
  });

  it("never throws and always yields JSON, whatever the value (property)", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withTypedArray: true, withMap: true }), (value) => {
        const shown = jsonValue(value);
        expect(() => JSON.stringify(shown)).not.toThrow();
      }),
    );
  });

  // Found by the property above: an own `toString` that is no function.
  it("an object whose toString is data, not a method", () => {
    expect(jsonValue({ toString: "" })).toEqual({ toString: "" });
    expect(jsonValue(Object.create(null))).toEqual({});
  });

  it("cuts long arrays", () => {
    expect(jsonValue(new Float64Array(500))).toHaveLength(100);
  });
});

describe("node ids and status codes", () => {
  it("empty is the Objects folder; a malformed id is bad_address with an example", () => {
    expect(parseNodeId("").toString()).toBe("ns=0;i=85");
    expect(parseNodeId(" ns=2;s=[default]Line1 ").toString()).toBe("ns=2;s=[default]Line1");
    expect(() => parseNodeId("ns=2;q=x")).toThrow(/"ns=2;q=x" identifier type "q" is none of .*e\.g\. ns=2;s=/);
    // Read strictly, not by node-opcua's unanchored patterns (which find ns=1;i=5 inside the string).
    expect(parseNodeId("ns=2;s=Bay;ns=1;i=5").toString()).toBe("ns=2;s=Bay;ns=1;i=5");
    expect(() => parseNodeId("ns=2;i=12abc")).toThrow(/numeric identifier "12abc" is not a whole number/);
    try {
      parseNodeId("ns=2;q=x");
    } catch (err) {
      expect((err as ProbeError).code).toBe("bad_address");
    }
  });

  it("an unknown node, a refused read and any other status, each said as such", () => {
    expect(statusError("ns=2;s=X", StatusCodes.BadNodeIdUnknown)).toMatchObject({
      code: "unknown_node",
      message: "ns=2;s=X: the server has no such node (BadNodeIdUnknown)",
    });
    expect(statusError("ns=2;s=X", StatusCodes.BadUserAccessDenied).code).toBe("access_denied");
    expect(statusError("", StatusCodes.BadTimeout)).toMatchObject({
      code: "failed",
      message: /^Objects: .*BadTimeout/,
    });
  });
});

/** A driver for the failure classes of the PlcDriver interface (the real drivers are other branches' work). */
class ScriptedPlcDriver implements PlcDriver<{ address: string; type: string }> {
  readonly protocol = "modbus" as const;
  closed = 0;
  readonly script: { connect?: Error; read?: PlcRead[] | Error };
  constructor(script: { connect?: Error; read?: PlcRead[] | Error }) {
    this.script = script;
  }
  parse(address: string) {
    if (!/^HR\d+$/.test(address)) throw new PlcAddressError(address, "expected HR<n>, e.g. HR100");
    return { address, type: "INT16" };
  }
  async connect(): Promise<void> {
    if (this.script.connect) throw this.script.connect;
  }
  async read(): Promise<PlcRead[]> {
    if (this.script.read instanceof Error) throw this.script.read;
    return this.script.read ?? [];
  }
  async write(): Promise<void> {}
  async close(): Promise<void> {
    this.closed++;
  }
}

const plc: PlcConfig = {
  host: "10.0.0.5",
  port: 502,
  unit_id: 1,
  rack: 0,
  slot: 0,
  poll_interval_ms: 1000,
  timeout_ms: 500,
};

describe("PlcProbe", () => {
  const probeWith = (script: ConstructorParameters<typeof ScriptedPlcDriver>[0]) => {
    const driver = new ScriptedPlcDriver(script);
    return { driver, probe: new PlcProbe(plc, () => driver) };
  };

  it("reads once: value, the tag's PLC type, and closes the connection", async () => {
    const { driver, probe } = probeWith({ read: [{ ok: true, value: -12 }] });
    expect(await probe.read(" HR100 ")).toMatchObject({
      address: "HR100",
      value: -12,
      data_type: "INT16",
      protocol: "modbus",
    });
    expect(driver.closed).toBe(1);
  });

  it("64-bit values cross as text", async () => {
    const { probe } = probeWith({ read: [{ ok: true, value: 2n ** 63n - 1n }] });
    expect((await probe.read("HR1")).value).toBe("9223372036854775807");
  });

  it("each failure class is an answer with its code and the driver's message", async () => {
    const cases: [ConstructorParameters<typeof ScriptedPlcDriver>[0], string, string, RegExp][] = [
      [{}, "DB1.X", "bad_address", /^DB1\.X: expected HR<n>, e\.g\. HR100$/],
      [
        { connect: new PlcUnreachableError("connect ECONNREFUSED") },
        "HR1",
        "unreachable",
        /^PLC 10\.0\.0\.5:502: connect ECONNREFUSED$/,
      ],
      [
        { read: [{ ok: false, error: "illegal data address" }] },
        "HR9",
        "unknown_node",
        /HR9: the PLC refused the read: illegal data address/,
      ],
      [{ read: new Error("protocol confusion") }, "HR1", "failed", /protocol confusion/],
    ];
    for (const [script, address, code, message] of cases) {
      const { driver, probe } = probeWith(script);
      const failure = await probe.read(address).catch((err: unknown) => err);
      expect(failure, address).toBeInstanceOf(ProbeError);
      expect((failure as ProbeError).code).toBe(code);
      expect((failure as ProbeError).message).toMatch(message);
      expect(driver.closed).toBe(1);
    }
  });

  it("names the PLC type where the parsed tag carries one", () => {
    expect(plcTypeOf({ dataType: "REAL" }, 1.5)).toBe("REAL");
    expect(plcTypeOf({ area: "DB" }, true)).toBe("boolean");
    expect(plcTypeOf("opaque", 1n)).toBe("bigint");
  });
});
