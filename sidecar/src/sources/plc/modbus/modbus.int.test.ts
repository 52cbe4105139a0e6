// The Modbus driver against pymodbus's server (an implementation nobody here
// wrote): values the server encodes are read back equal, for every type and
// every word/byte order; values the driver writes are what pymodbus decodes;
// refused addresses cost their own tag only; a dead or unreachable PLC is a
// PlcUnreachableError.
import { type AddressInfo, createServer } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModbusPeer, startModbusPeer } from "../../../../devstack/modbus-peer.ts";
import { freePort } from "../../../../devstack/odoo.ts";
import type { PlcConfig } from "../../../core/contract.ts";
import { PlcAddressError, type PlcRead, PlcUnreachableError, type PlcValue } from "../driver.ts";
import { MODBUS_NUMBER_TYPES, MODBUS_ORDERS, type ModbusNumberType, type ModbusTag } from "./address.ts";
import { ModbusDriver } from "./driver.ts";

const plcOf = (port: number, extra: Partial<PlcConfig> = {}): PlcConfig => ({
  host: "127.0.0.1",
  port,
  unit_id: 1,
  rack: 0,
  slot: 0,
  poll_interval_ms: 1000,
  timeout_ms: 1000,
  ...extra,
});

const VALUES: Record<ModbusNumberType, fc.Arbitrary<number | bigint>> = {
  int16: fc.integer({ min: -0x8000, max: 0x7fff }),
  uint16: fc.integer({ min: 0, max: 0xffff }),
  int32: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
  uint32: fc.integer({ min: 0, max: 0xffff_ffff }),
  int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  uint64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  float32: fc.float(),
  float64: fc.double(),
};
const WIDTH: Record<ModbusNumberType, number> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
};

/** How a value travels to the Python server: text, so 64-bit integers and -0 arrive exact. */
function asText(value: number | bigint): string {
  if (typeof value === "number" && Object.is(value, -0)) return "-0.0";
  return String(value);
}

/** What pymodbus answered, as the driver's kind of value. */
function fromText(type: ModbusNumberType, text: string): number | bigint {
  if (type === "int64" || type === "uint64") return BigInt(text);
  if (text === "inf") return Number.POSITIVE_INFINITY;
  if (text === "-inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function values(reads: PlcRead[]): PlcValue[] {
  return reads.map((read) => {
    if (!read.ok) throw new Error(`unexpected refusal: ${read.error}`);
    return read.value;
  });
}

function same(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (typeof a === "bigint" && a === b);
}

describe("Modbus driver against pymodbus", () => {
  let peer: ModbusPeer;
  let driver: ModbusDriver;

  beforeAll(async () => {
    peer = await startModbusPeer({ size: 4000, holes: ["hr:3000-3009", "ir:3000-3000"] });
    driver = new ModbusDriver(plcOf(peer.port));
    await driver.connect();
  });
  afterAll(async () => {
    await driver?.close();
    await peer?.destroy();
  });

  const combos = MODBUS_NUMBER_TYPES.flatMap((type) =>
    (["hr", "ir"] as const).flatMap((area) => MODBUS_ORDERS.map((order) => [type, area, order] as const)),
  );

  it.each(combos)("reads %s from %s in order %s as pymodbus wrote it", async (type, area, order) => {
    await fc.assert(
      fc.asyncProperty(fc.array(VALUES[type], { minLength: 1, maxLength: 12 }), async (written) => {
        const tags: ModbusTag[] = [];
        for (const [i, value] of written.entries()) {
          const offset = 100 + i * WIDTH[type];
          await peer.put(area, offset, type, order, asText(value));
          tags.push(driver.parse(`${area}${offset}:${type}:${order}`));
        }
        const read = values(await driver.read(tags));
        expect(read.length).toBe(written.length);
        read.forEach((value, i) => {
          if (!same(value, written[i])) throw new Error(`${tags[i]?.address}: read ${value}, wrote ${written[i]}`);
        });
      }),
      { numRuns: 12 },
    );
  });

  it.each(MODBUS_NUMBER_TYPES.flatMap((type) => MODBUS_ORDERS.map((order) => [type, order] as const)))(
    "writes %s in order %s as pymodbus decodes it",
    async (type, order) => {
      await fc.assert(
        fc.asyncProperty(VALUES[type], async (value) => {
          const tag = driver.parse(`hr500:${type}:${order}`);
          await driver.write(tag, value);
          const decoded = fromText(type, await peer.get("hr", 500, type, order));
          if (!same(decoded, value)) throw new Error(`wrote ${value}, pymodbus decoded ${decoded}`);
        }),
        { numRuns: 15 },
      );
    },
  );

  const strings = (registers: number) =>
    fc
      .string({ unit: "binary", maxLength: 2 * registers })
      .filter((text) => !text.includes("\u0000") && Buffer.byteLength(text, "utf8") <= 2 * registers);

  it.each(MODBUS_ORDERS.map((order) => [order]))("reads and writes UTF-8 strings in order %s", async (order) => {
    const sized = fc
      .integer({ min: 1, max: 20 })
      .chain((registers) => fc.tuple(fc.constant(registers), strings(registers)));
    await fc.assert(
      fc.asyncProperty(sized, async ([registers, text]) => {
        await peer.put("ir", 700, `string${registers}`, order, text);
        const [read] = values(await driver.read([driver.parse(`ir700:string${registers}:${order}`)]));
        expect(read).toBe(text);
        await driver.write(driver.parse(`hr700:string${registers}:${order}`), text);
        expect(await peer.get("hr", 700, `string${registers}`, order)).toBe(text);
      }),
      { numRuns: 20 },
    );
  });

  it("reads coils, discrete inputs and register bits, and writes coils and register bits", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 0xffff }),
        async (bits, word) => {
          await peer.setBits("coil", 1200, bits);
          await peer.setBits(
            "di",
            1200,
            bits.map((b) => !b),
          );
          await peer.setWords("ir", 1200, [word]);
          const tags = [
            ...bits.map((_, i) => driver.parse(`coil${1200 + i}`)),
            ...bits.map((_, i) => driver.parse(`di${1200 + i}`)),
            ...Array.from({ length: 16 }, (_, bit) => driver.parse(`ir1200.${bit}`)),
          ];
          const read = values(await driver.read(tags));
          expect(read).toEqual([
            ...bits,
            ...bits.map((b) => !b),
            ...Array.from({ length: 16 }, (_, bit) => ((word >> bit) & 1) === 1),
          ]);
          await driver.write(driver.parse("coil1300"), !bits[0]);
          expect(values(await driver.read([driver.parse("coil1300")]))).toEqual([!bits[0]]);
          await peer.setWords("hr", 1300, [word]);
          await driver.write(driver.parse("hr1300.7"), !((word >> 7) & 1));
          expect(await peer.words("hr", 1300, 1)).toEqual([word ^ (1 << 7)]);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("reads more tags than one request carries, across request limits", async () => {
    const words = Array.from({ length: 300 }, (_, i) => (i * 7919) % 65536);
    await peer.setWords("hr", 1500, words);
    const bits = Array.from({ length: 2100 }, (_, i) => i % 3 === 0);
    await peer.setBits("di", 0, bits);
    const tags = [...words.map((_, i) => driver.parse(`hr${1500 + i}`)), ...bits.map((_, i) => driver.parse(`di${i}`))];
    expect(values(await driver.read(tags))).toEqual([...words, ...bits]);
  });

  it("gives each refused address its Modbus exception while the tags around it read", async () => {
    await peer.setWords("hr", 2990, [11, 12]);
    await peer.setWords("hr", 3010, [13]);
    const tags = [
      driver.parse("hr2990"),
      driver.parse("hr2991"),
      driver.parse("hr2992:string10"),
      driver.parse("hr3005:int32"),
      driver.parse("hr3010"),
      driver.parse("ir3000"),
      driver.parse("ir3999:int32"),
      driver.parse("coil3999:bool"),
      driver.parse("coil4000"),
      driver.parse("hr9000"),
    ];
    for (let poll = 0; poll < 2; poll++) {
      const reads = await driver.read(tags);
      expect(reads[0]).toEqual({ ok: true, value: 11 });
      expect(reads[1]).toEqual({ ok: true, value: 12 });
      expect(reads[2]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
      expect(reads[3]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
      expect(reads[4]).toEqual({ ok: true, value: 13 });
      expect(reads[5]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
      expect(reads[6]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
      expect(reads[7]).toEqual({ ok: true, value: false });
      expect(reads[8]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
      expect(reads[9]).toEqual({ ok: false, error: "Modbus exception 2 (illegal data address)" });
    }
  });

  it("refuses writes to read-only areas, and values a tag cannot hold", async () => {
    await expect(driver.write(driver.parse("ir1"), 1)).rejects.toThrow(PlcAddressError);
    await expect(driver.write(driver.parse("di1"), true)).rejects.toThrow("area di is read-only");
    await expect(driver.write(driver.parse("hr1:int16"), 40000)).rejects.toThrow("int16 holds integers");
    await expect(driver.write(driver.parse("hr3001"), 1)).rejects.toThrow("Modbus exception 2");
  });
});

describe("Modbus driver when the PLC is gone", () => {
  it("says a closed port is unreachable", async () => {
    const driver = new ModbusDriver(plcOf(await freePort()));
    await expect(driver.connect()).rejects.toThrow(PlcUnreachableError);
    await expect(driver.read([driver.parse("hr0")])).rejects.toThrow(PlcUnreachableError);
    await driver.close();
    await driver.close();
  });

  it("gives up on a host that never answers within the timeout", async () => {
    // TEST-NET-1 (RFC 5737): routed nowhere, so the SYN is never answered or refused.
    const driver = new ModbusDriver({ ...plcOf(502), host: "192.0.2.1", timeout_ms: 500 });
    const started = Date.now();
    const error = await driver.connect().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PlcUnreachableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    await driver.close();
  });

  it("says a device that takes the connection and never answers is unreachable after the timeout", async () => {
    // Fake for a fault pymodbus cannot be made to produce: a TCP peer that accepts and stays silent.
    const silentServerFake = createServer((socket) => socket.on("data", () => {}));
    await new Promise<void>((resolve) => silentServerFake.listen(0, "127.0.0.1", resolve));
    const { port } = silentServerFake.address() as AddressInfo;
    const driver = new ModbusDriver(plcOf(port, { timeout_ms: 300 }));
    try {
      await driver.connect();
      const started = Date.now();
      const error = await driver.read([driver.parse("hr0")]).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(PlcUnreachableError);
      expect((error as Error).message).toContain("no answer within 300 ms");
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await driver.close();
      silentServerFake.close();
    }
  });

  it("says a server killed mid-session is unreachable, and reads again once it is back", async () => {
    const peer = await startModbusPeer({ size: 100, retentive: true });
    const driver = new ModbusDriver(plcOf(peer.port, { timeout_ms: 500 }));
    try {
      await peer.setWords("hr", 0, [42]);
      await driver.connect();
      const tags = [driver.parse("hr0")];
      expect(await driver.read(tags)).toEqual([{ ok: true, value: 42 }]);
      await peer.kill();
      await expect(driver.read(tags)).rejects.toThrow(PlcUnreachableError);
      await peer.start();
      await driver.connect();
      expect(await driver.read(tags)).toEqual([{ ok: true, value: 42 }]);
    } finally {
      await driver.close();
      await peer.destroy();
    }
  });
});
