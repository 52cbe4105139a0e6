// The EtherNet/IP driver against cpppo's Logix simulator (a CIP
// implementation nobody on this project wrote): values set in cpppo's own tag
// store are read by the driver, values the driver writes are read back from
// cpppo's store and by cpppo's own client over the wire.
import { createServer, type Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CpppoLogix } from "../../../../devstack/cpppo-peer.ts";
import { freePort } from "../../../../devstack/odoo.ts";
import type { PlcConfig } from "../../../core/contract.ts";
import { PlcUnreachableError, type PlcValue } from "../driver.ts";
import { EnipDriver, EnipWriteError } from "./driver.ts";

function plcAt(port: number, overrides: Partial<PlcConfig> = {}): PlcConfig {
  return {
    host: "127.0.0.1",
    port,
    unit_id: 0,
    rack: 0,
    slot: 0,
    poll_interval_ms: 1000,
    timeout_ms: 2000,
    ...overrides,
  };
}

/** Every type cpppo serves, the values fast-check draws for it, and both text forms. */
interface TypeCase {
  tag: string;
  type: string;
  values: fc.Arbitrary<PlcValue>;
  /** The value as cpppo_logix.py reads and writes it. */
  text: (value: PlcValue) => string;
  /** What a value reads back as (REAL rounds to float32). */
  expected?: (value: PlcValue) => PlcValue;
}

const int = (bits: number, signed: boolean): fc.Arbitrary<PlcValue> => {
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return fc.integer({ min, max });
};
const float64Text = (value: PlcValue) => {
  const number = value as number;
  if (Number.isNaN(number)) return "nan";
  if (number === Number.POSITIVE_INFINITY) return "inf";
  if (number === Number.NEGATIVE_INFINITY) return "-inf";
  return Object.is(number, -0) ? "-0.0" : String(number);
};
const latin1 = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength });

const TYPES: TypeCase[] = [
  { tag: "ABool", type: "BOOL", values: fc.boolean(), text: (v) => String(v) },
  { tag: "ASint", type: "SINT", values: int(8, true), text: String },
  { tag: "AUsint", type: "USINT", values: int(8, false), text: String },
  { tag: "AInt", type: "INT", values: int(16, true), text: String },
  { tag: "AUint", type: "UINT", values: int(16, false), text: String },
  { tag: "ADint", type: "DINT", values: int(32, true), text: String },
  { tag: "AUdint", type: "UDINT", values: int(32, false), text: String },
  { tag: "ALint", type: "LINT", values: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), text: String },
  { tag: "AUlint", type: "ULINT", values: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), text: String },
  {
    tag: "AReal",
    type: "REAL",
    values: fc.float(),
    text: float64Text,
    expected: (v) => Math.fround(v as number),
  },
  { tag: "ALreal", type: "LREAL", values: fc.double(), text: float64Text },
  { tag: "AShort", type: "SSTRING", values: latin1(80), text: String },
  { tag: "ACipString", type: "STRING", values: latin1(200), text: String },
  { tag: "ALogixString", type: "LOGIX_STRING", values: latin1(82), text: String },
];

/** cpppo's text of a value back into the value the driver answers. */
function fromText(type: string, text: string): PlcValue {
  if (type === "BOOL") return text === "true";
  if (type === "LINT" || type === "ULINT") return BigInt(text);
  if (["SINT", "USINT", "INT", "UINT", "DINT", "UDINT"].includes(type)) return Number(text);
  if (type === "REAL" || type === "LREAL") return Number(text.replace("inf", "Infinity").replace("nan", "NaN"));
  return text;
}

const SERVED = {
  ...Object.fromEntries(TYPES.map((each) => [each.tag, each.type])),
  Counter: "DINT",
  Counts: "DINT[700]",
  Names: "LOGIX_STRING[20]",
  "Program:MainProgram.Counter": "DINT",
  "Line.Good": "DINT",
  "Line.State": "INT",
  Flags: "DINT",
};

describe("EtherNet/IP driver against cpppo's Logix simulator", () => {
  let plc: CpppoLogix;
  let driver: EnipDriver;

  beforeAll(async () => {
    plc = await CpppoLogix.start(SERVED);
    driver = new EnipDriver(plcAt(plc.port));
    await driver.connect();
    expect(driver.connectionSize).toBe(4002);
  });
  afterAll(async () => {
    await driver?.close();
    await plc?.stop();
  });

  it("reads every served type as cpppo holds it (fast-check values, one grouped read)", async () => {
    const tags = TYPES.map((each) => driver.parse(each.tag));
    await fc.assert(
      fc.asyncProperty(fc.tuple(...TYPES.map((each) => each.values)), async (values) => {
        for (const [i, each] of TYPES.entries()) await plc.set(each.tag, each.text(values[i] as PlcValue));
        const reads = await driver.read(tags);
        for (const [i, each] of TYPES.entries()) {
          const value = values[i] as PlcValue;
          expect(reads[i], each.type).toEqual({ ok: true, value: each.expected ? each.expected(value) : value });
        }
      }),
      { numRuns: 40 },
    );
  });

  it("writes every served type so that cpppo's store holds it (fast-check values)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(...TYPES.map((each) => each.values)), async (values) => {
        for (const [i, each] of TYPES.entries()) {
          const value = values[i] as PlcValue;
          await driver.write(driver.parse(each.tag), value);
          const held = fromText(each.type, await plc.get(each.tag));
          expect(held, each.type).toEqual(each.expected ? each.expected(value) : value);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("writes what cpppo's own client reads over the wire", async () => {
    const written: Record<string, PlcValue> = {
      ABool: true,
      ASint: -128,
      AUsint: 255,
      AInt: -32768,
      AUint: 65535,
      ADint: -2147483648,
      AUdint: 4294967295,
      ALint: -(2n ** 63n),
      AUlint: 2n ** 64n - 1n,
      AReal: 1.5,
      ALreal: -1e300,
      AShort: "short, ÿ",
      ACipString: "odd",
      ALogixString: "Logix STRING: LEN + DATA[82]",
      "Counts[42]": 4242,
      "Names[3]": "third",
      "Program:MainProgram.Counter": 7,
      "Line.Good": 99,
    };
    for (const [address, value] of Object.entries(written)) await driver.write(driver.parse(address), value);
    const types: Record<string, string> = {
      ...Object.fromEntries(TYPES.map((each) => [each.tag, each.type])),
      "Counts[42]": "DINT",
      "Names[3]": "LOGIX_STRING",
      "Program:MainProgram.Counter": "DINT",
      "Line.Good": "DINT",
    };
    const seen = await plc.readWithCpppoClient(types);
    for (const [address, value] of Object.entries(written)) {
      const type = (types[address] ?? "").replace(/\[.*$/, "");
      expect(fromText(type, seen[address] ?? ""), address).toEqual(value);
    }
  });

  it("reads program tags, array elements, UDT members and bits of an integer", async () => {
    await plc.set("Program:MainProgram.Counter", "11");
    await plc.set("Counter", "22");
    await plc.set("Counts", "33", 699);
    await plc.set("Names", "nineteen", 19);
    await plc.set("Line.Good", "44");
    await plc.set("Line.State", "-5");
    await plc.set("Flags", String(0b1010));
    const addresses = [
      "Program:MainProgram.Counter",
      "Counter",
      "Counts[699]",
      "Names[19]",
      "Line.Good",
      "Line.State",
      "Flags.1",
      "Flags.2",
      "Flags.3",
      "Line.State.15",
    ];
    expect(await driver.read(addresses.map((a) => driver.parse(a)))).toEqual(
      [11, 22, 33, "nineteen", 44, -5, true, false, true, true].map((value) => ({ ok: true, value })),
    );
  });

  it("answers a missing tag, member or element with its CIP status while the rest of the group still reads", async () => {
    await plc.set("Counter", "5");
    await plc.set("Counts", "6", 1);
    const reads = await driver.read(
      ["Counter", "NoSuchTag", "Counts[1]", "Program:Other.Counter", "Counts[700]", "Line.Missing", "AReal.3"].map(
        (a) => driver.parse(a),
      ),
    );
    expect(reads[0]).toEqual({ ok: true, value: 5 });
    expect(reads[1]).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^CIP status 0x05 path destination unknown/),
    });
    expect(reads[2]).toEqual({ ok: true, value: 6 });
    expect(reads[3]).toMatchObject({ ok: false, error: expect.stringMatching(/^CIP status 0x05/) });
    expect(reads[4]).toMatchObject({ ok: false, error: expect.stringContaining("0x2105 element beyond the end") });
    expect(reads[5]).toMatchObject({ ok: false, error: expect.stringMatching(/^CIP status 0x05/) });
    expect(reads[6]).toMatchObject({
      ok: false,
      error: expect.stringContaining("bit 3 of REAL: only the bits of an integer"),
    });
  });

  it("reads more tags than one packet carries, in order (700 DINTs and 20 STRINGs)", async () => {
    for (let i = 0; i < 700; i += 97) await plc.set("Counts", String(i * 1000 - 7), i);
    for (let i = 0; i < 20; i += 3) await plc.set("Names", `name ${i} `.repeat(6), i);
    const addresses = [
      ...Array.from({ length: 700 }, (_, i) => `Counts[${i}]`),
      ...Array.from({ length: 20 }, (_, i) => `Names[${i}]`),
    ];
    const expected = await Promise.all(
      addresses.map(async (address) => {
        const [, tag = "", index = "0"] = /^(\w+)\[(\d+)\]$/.exec(address) ?? [];
        const text = await plc.get(tag, Number(index));
        return { ok: true, value: tag === "Counts" ? Number(text) : text };
      }),
    );
    expect(await driver.read(addresses.map((a) => driver.parse(a)))).toEqual(expected);
  });

  it("refuses a value the tag's type cannot hold, naming both, and leaves the tag as it was", async () => {
    await plc.set("Counter", "17");
    const counter = driver.parse("Counter");
    await expect(driver.write(counter, "seventeen")).rejects.toThrow(
      new EnipWriteError(
        "Counter",
        'the tag is DINT: it takes a whole number from -2147483648 to 2147483647, not "seventeen"',
      ),
    );
    await expect(driver.write(counter, 2 ** 31)).rejects.toThrow(/not number 2147483648/);
    await expect(driver.write(counter, 1.5)).rejects.toThrow(/whole number/);
    await expect(driver.write(driver.parse("ALogixString"), "x".repeat(83))).rejects.toThrow(/at most 82 Latin-1/);
    await expect(driver.write(driver.parse("ALogixString"), "€")).rejects.toThrow(/Latin-1/);
    await expect(driver.write(driver.parse("ABool"), 1)).rejects.toThrow(/true or false/);
    await expect(driver.write(driver.parse("Flags.3"), true)).rejects.toThrow(/write the whole integer/);
    await expect(driver.write(driver.parse("NoSuchTag"), 1)).rejects.toThrow(/NoSuchTag: CIP status 0x05/);
    expect(await plc.get("Counter")).toBe("17");
  });
});

describe("EtherNet/IP driver when the controller is gone, silent, refusing or changed", () => {
  it("throws PlcUnreachableError for a port nobody listens on", async () => {
    const driver = new EnipDriver(plcAt(await freePort()));
    await expect(driver.connect()).rejects.toThrow(PlcUnreachableError);
    await expect(driver.connect()).rejects.toThrow(/ECONNREFUSED/);
    await expect(driver.read([driver.parse("Counter")])).rejects.toThrow(/not connected/);
    await driver.close();
  });

  it("throws PlcUnreachableError for a controller that stops answering (cpppo frozen with SIGSTOP), and reconnects once it answers", async () => {
    const plc = await CpppoLogix.start({ Counter: "DINT" });
    const driver = new EnipDriver(plcAt(plc.port, { timeout_ms: 400 }));
    try {
      await driver.connect();
      const counter = driver.parse("Counter");
      plc.freeze();
      const started = Date.now();
      await expect(driver.read([counter])).rejects.toThrow(/no answer within 400 ms/);
      expect(Date.now() - started).toBeLessThan(1500);
      await expect(driver.read([counter])).rejects.toThrow(PlcUnreachableError);
      await expect(driver.connect()).rejects.toThrow(/no answer within 400 ms/);
      plc.thaw();
      await driver.connect();
      expect(await driver.read([counter])).toEqual([{ ok: true, value: 0 }]);
    } finally {
      await driver.close();
      await plc.stop();
    }
  });

  it("closes at once from a controller that stopped answering, whatever timeout_ms says", async () => {
    const plc = await CpppoLogix.start({ Counter: "DINT" });
    const driver = new EnipDriver(plcAt(plc.port, { timeout_ms: 10_000 }));
    try {
      await driver.connect();
      plc.freeze();
      const started = Date.now();
      await driver.close();
      expect(Date.now() - started).toBeLessThan(1_500);
      await driver.close();
    } finally {
      await plc.stop();
    }
  });

  it("throws PlcUnreachableError for frames that do not parse (a garbage-sending fake: cpppo never sends one)", async () => {
    // answers RegisterSession properly, then a SendRRData that announces two items and carries none
    const sockets: Socket[] = [];
    const fake = createServer((socket) => {
      sockets.push(socket);
      socket.on("data", (frame) => {
        const command = frame.readUInt16LE(0);
        const reply = Buffer.alloc(command === 0x65 ? 28 : 32);
        frame.copy(reply, 0, 0, 24);
        reply.writeUInt16LE(reply.length - 24, 2);
        reply.writeUInt32LE(0x1234, 4);
        if (command === 0x6f) reply.writeUInt16LE(2, 24 + 6);
        socket.write(reply);
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const address = fake.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const driver = new EnipDriver(plcAt(port, { timeout_ms: 1_000 }));
      await expect(driver.connect()).rejects.toThrow(PlcUnreachableError);
      await expect(driver.connect()).rejects.toThrow(/malformed reply/);
      await driver.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it("throws PlcUnreachableError naming the refusal when no controller is in the configured slot (a refusal cpppo_logix.py injects)", async () => {
    const plc = await CpppoLogix.start({ Counter: "DINT" }, 0, ["--controller-slot", "3"]);
    try {
      const wrongSlot = new EnipDriver(plcAt(plc.port, { slot: 0 }));
      expect(wrongSlot.connectionSize).toBe(0);
      await expect(wrongSlot.connect()).rejects.toThrow(
        /refused a connection \(Forward Open\): CIP status 0x01 connection failure, extended 0x0312 invalid link address/,
      );
      await expect(wrongSlot.read([wrongSlot.parse("Counter")])).rejects.toThrow(PlcUnreachableError);
      await wrongSlot.close();
      const rightSlot = new EnipDriver(plcAt(plc.port, { slot: 3 }));
      await rightSlot.connect();
      expect(await rightSlot.read([rightSlot.parse("Counter")])).toEqual([{ ok: true, value: 0 }]);
      await rightSlot.close();
    } finally {
      await plc.stop();
    }
  });

  it("opens a classic 504-byte connection when the controller refuses the Large Forward Open, and packs reads to fit it", async () => {
    const tags = { Counts: "DINT[300]", Names: "LOGIX_STRING[10]" };
    const plc = await CpppoLogix.start(tags, 0, ["--large-forward-open", "no"]);
    const driver = new EnipDriver(plcAt(plc.port));
    try {
      await driver.connect();
      expect(driver.connectionSize).toBe(504);
      for (let i = 0; i < 300; i += 7) await plc.set("Counts", String(i + 1), i);
      for (let i = 0; i < 10; i++) await plc.set("Names", "n".repeat(70 + i), i);
      const addresses = [
        ...Array.from({ length: 300 }, (_, i) => `Counts[${i}]`),
        ...Array.from({ length: 10 }, (_, i) => `Names[${i}]`),
      ];
      const reads = await driver.read(addresses.map((a) => driver.parse(a)));
      expect(reads.slice(0, 300)).toEqual(
        Array.from({ length: 300 }, (_, i) => ({ ok: true, value: i % 7 ? 0 : i + 1 })),
      );
      expect(reads.slice(300)).toEqual(Array.from({ length: 10 }, (_, i) => ({ ok: true, value: "n".repeat(70 + i) })));
    } finally {
      await driver.close();
      await plc.stop();
    }
  });

  it("survives the simulator killed and restarted on the same port: unreachable while down, values from the new process after", async () => {
    let plc = await CpppoLogix.start({ Counter: "DINT", Name: "LOGIX_STRING" });
    const port = plc.port;
    const driver = new EnipDriver(plcAt(port, { timeout_ms: 1000 }));
    try {
      await driver.connect();
      await plc.set("Counter", "41");
      const tags = [driver.parse("Counter"), driver.parse("Name")];
      expect(await driver.read(tags)).toEqual([
        { ok: true, value: 41 },
        { ok: true, value: "" },
      ]);
      await plc.kill();
      await expect(driver.read(tags)).rejects.toThrow(PlcUnreachableError);
      await expect(driver.connect()).rejects.toThrow(PlcUnreachableError);
      plc = await CpppoLogix.start({ Counter: "DINT", Name: "LOGIX_STRING" }, port);
      await driver.connect();
      // cpppo keeps nothing over a restart: the counter starts again from 0
      expect(await driver.read(tags)).toEqual([
        { ok: true, value: 0 },
        { ok: true, value: "" },
      ]);
      await driver.write(tags[1] ?? driver.parse("Name"), "after restart");
      expect(await plc.get("Name")).toBe("after restart");
    } finally {
      await driver.close();
      await plc.stop();
    }
  });

  it("follows a tag whose type changed (restarted as REAL, then as DINT): reads the new type, writes encode it", async () => {
    let plc = await CpppoLogix.start({ Counter: "DINT" });
    const port = plc.port;
    const driver = new EnipDriver(plcAt(port));
    const counter = driver.parse("Counter");
    try {
      await driver.connect();
      await driver.write(counter, 12);
      expect(await driver.read([counter])).toEqual([{ ok: true, value: 12 }]);

      await plc.kill();
      plc = await CpppoLogix.start({ Counter: "REAL" }, port);
      await driver.connect();
      // the driver still thinks DINT: 2.5 does not fit, so it asks the controller again before refusing
      await driver.write(counter, 2.5);
      expect(await plc.get("Counter")).toBe("2.5");
      expect(await driver.read([counter])).toEqual([{ ok: true, value: 2.5 }]);

      await plc.kill();
      plc = await CpppoLogix.start({ Counter: "DINT" }, port);
      await driver.connect();
      // the driver now thinks REAL; the controller refuses REAL data for a DINT (0xFF / 0x2107) and the driver retries as DINT
      await driver.write(counter, 7);
      expect(await plc.get("Counter")).toBe("7");
      await expect(driver.write(counter, 7.5)).rejects.toThrow(/the tag is DINT/);
    } finally {
      await driver.close();
      await plc.stop();
    }
  });
});
