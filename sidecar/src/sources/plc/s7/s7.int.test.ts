// The S7 driver against python-snap7's S7 server (an implementation nobody
// here wrote), started per file from test/peers/python/s7_server.py. Values
// are laid into the server's memory by python-snap7's own snap7.util setters
// and read back by its getters, so neither side of a comparison is our codec.
import { createServer, type Server, type Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S7PeerServer } from "../../../../devstack/s7-peer.ts";
import { FakeRefusingS7Cpu } from "../../../../test/support/peers/fake-refusing-s7-cpu.ts";
import type { PlcConfig } from "../../../core/contract.ts";
import { PlcAddressError, PlcUnreachableError, type PlcValue } from "../driver.ts";
import { parseS7Address, type S7Tag, type S7Type } from "./address.ts";
import { S7Driver } from "./driver.ts";

const DB_SIZE = 4096;
const server = new S7PeerServer([
  { area: "DB", index: 10, size: DB_SIZE },
  { area: "DB", index: 11, size: 64 },
  { area: "MK", index: 0, size: 256 },
  { area: "PE", index: 0, size: 64 },
  { area: "PA", index: 0, size: 64 },
]);

function plcConfig(port: number, overrides: Partial<PlcConfig> = {}): PlcConfig {
  return {
    host: "127.0.0.1",
    port,
    unit_id: 0,
    rack: 0,
    slot: 1,
    poll_interval_ms: 1000,
    timeout_ms: 2000,
    ...overrides,
  };
}

let driver: S7Driver;

beforeAll(async () => {
  await server.start();
  driver = new S7Driver(plcConfig(server.port));
  await driver.connect();
});

afterAll(async () => {
  await driver?.close();
  await server.stop();
});

const tag = (address: string): S7Tag => parseS7Address(address);

/** The letters each type is written with in a DB address, and a declared length for strings. */
const TYPE_WORDS: Record<S7Type, string> = {
  BOOL: "X",
  BYTE: "BYTE",
  CHAR: "CHAR",
  SINT: "SINT",
  INT: "INT",
  WORD: "WORD",
  UINT: "UINT",
  DINT: "DINT",
  DWORD: "DWORD",
  UDINT: "UDINT",
  REAL: "REAL",
  LREAL: "LREAL",
  LINT: "LINT",
  ULINT: "ULINT",
  STRING: "S",
  WSTRING: "WS",
};

const latin1Char = fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code));
// python-snap7's set_wstring takes the Basic Multilingual Plane only (no surrogates).
const bmpChar = fc
  .integer({ min: 0, max: 0xffff })
  .filter((code) => code < 0xd800 || code > 0xdfff)
  .map((code) => String.fromCharCode(code));

/** A value of each type, and (for strings) the declared length it is addressed with. */
function arbitraryValue(type: S7Type): fc.Arbitrary<{ value: PlcValue; length: number }> {
  const plain = (arbitrary: fc.Arbitrary<PlcValue>) => arbitrary.map((value) => ({ value, length: 0 }));
  switch (type) {
    case "BOOL":
      return plain(fc.boolean());
    case "BYTE":
      return plain(fc.integer({ min: 0, max: 0xff }));
    case "SINT":
      return plain(fc.integer({ min: -0x80, max: 0x7f }));
    case "CHAR":
      return plain(latin1Char);
    case "INT":
      return plain(fc.integer({ min: -0x8000, max: 0x7fff }));
    case "WORD":
    case "UINT":
      return plain(fc.integer({ min: 0, max: 0xffff }));
    case "DINT":
      return plain(fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }));
    case "DWORD":
    case "UDINT":
      return plain(fc.integer({ min: 0, max: 0xffff_ffff }));
    case "REAL":
      return plain(fc.float());
    case "LREAL":
      return plain(fc.double());
    case "LINT":
      return plain(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }));
    case "ULINT":
      return plain(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    case "STRING":
      return fc
        .integer({ min: 1, max: 254 })
        .chain((length) => fc.string({ unit: latin1Char, maxLength: length }).map((value) => ({ value, length })));
    case "WSTRING":
      return fc
        .integer({ min: 1, max: 300 })
        .chain((length) => fc.string({ unit: bmpChar, maxLength: length }).map((value) => ({ value, length })));
  }
}

const ALL_TYPES = Object.keys(TYPE_WORDS) as S7Type[];

/** A DB address of `type` at `byte` (bit or declared length after the dot). */
function dbAddress(db: number, type: S7Type, byte: number, bitOrLength: number): string {
  const dotted = type === "BOOL" || type === "STRING" || type === "WSTRING" ? `.${bitOrLength}` : "";
  return `DB${db},${TYPE_WORDS[type]}${byte}${dotted}`;
}

/** Tags of random types, laid one after the other in DB10 with random gaps, with their values. */
const layout = fc
  .array(
    fc.record({
      type: fc.constantFrom(...ALL_TYPES),
      gap: fc.integer({ min: 0, max: 40 }),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .chain((slots) => fc.tuple(fc.constant(slots), fc.tuple(...slots.map((slot) => arbitraryValue(slot.type)))))
  .map(([slots, values]) => {
    const tags: { tag: S7Tag; value: PlcValue }[] = [];
    let byte = 0;
    slots.forEach((slot, index) => {
      const { value, length } = values[index] as { value: PlcValue; length: number };
      byte += slot.gap;
      const candidate = tag(dbAddress(10, slot.type, byte, slot.type === "BOOL" ? slot.bit : length));
      if (candidate.byte + candidate.size > DB_SIZE) return;
      tags.push({ tag: candidate, value });
      byte += candidate.size;
    });
    return tags;
  });

function expectSame(tagged: S7Tag, got: PlcValue, want: PlcValue): void {
  if (tagged.type === "REAL") {
    expect(Object.is(got, Math.fround(want as number)), `${tagged.address}: ${String(got)} vs ${String(want)}`).toBe(
      true,
    );
  } else if (tagged.type === "LREAL") {
    expect(Object.is(got, want), `${tagged.address}: ${String(got)} vs ${String(want)}`).toBe(true);
  } else {
    expect(got, tagged.address).toEqual(want);
  }
}

describe("S7 driver against python-snap7's server", () => {
  it("negotiates a PDU size with the server", () => {
    expect(driver.pduSize).toBeGreaterThanOrEqual(240);
  });

  it("reads every type the server holds, many tags in one read (python-snap7 writes, the driver reads)", async () => {
    await fc.assert(
      fc.asyncProperty(layout, async (tags) => {
        await server.set("DB", 10, 0, new Uint8Array(DB_SIZE));
        for (const { tag: tagged, value } of tags) await server.put(tagged, value);
        const results = await driver.read(tags.map(({ tag: tagged }) => tagged));
        tags.forEach(({ tag: tagged, value }, index) => {
          const result = results[index];
          expect(
            result?.ok,
            `${tagged.address}: ${JSON.stringify(result, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
          ).toBe(true);
          if (result?.ok) expectSame(tagged, result.value, value);
        });
      }),
      { numRuns: 40 },
    );
  });

  it("writes every type (the driver writes, python-snap7 reads)", async () => {
    const writable = ALL_TYPES.filter((type) => type !== "BOOL");
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...writable)
          .chain((type) => fc.tuple(fc.constant(type), arbitraryValue(type), fc.integer({ min: 0, max: 2000 }))),
        async ([type, { value, length }, byte]) => {
          const tagged = tag(dbAddress(10, type, byte, length));
          await driver.write(tagged, value);
          expectSame(tagged, await server.take(tagged), value);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("writes a BOOL as a bit write (python-snap7's server stores the bit's byte: see README, so bit 0 only)", async () => {
    for (const value of [true, false, true]) {
      await server.set("DB", 10, 100, Uint8Array.of(0));
      await driver.write(tag("DB10,X100.0"), value);
      expect(await server.take(tag("DB10,X100.0"))).toBe(value);
    }
  });

  it("reads each bit of a byte on its own", async () => {
    await server.set("DB", 10, 7, Uint8Array.of(0b1010_0101));
    const bits = await driver.read([0, 1, 2, 3, 4, 5, 6, 7].map((bit) => tag(`DB10,X7.${bit}`)));
    expect(bits.map((bit) => (bit.ok ? bit.value : bit.error))).toEqual([
      true,
      false,
      true,
      false,
      false,
      true,
      false,
      true,
    ]);
  });

  it("reads the I, Q and M areas in absolute addressing", async () => {
    await server.set("MK", 0, 10, Uint8Array.of(0x12, 0x34, 0b0000_0010));
    await server.set("PE", 0, 0, Uint8Array.of(0xff, 0xfe));
    await server.set("PA", 0, 4, Uint8Array.of(0x7f));
    await server.put(tag("MD20"), 0xdead_beef);
    await server.put(tag("MR24"), 1.5);
    const results = await driver.read(["MW10", "M12.1", "M12.0", "IW0", "QB4", "MD20", "MR24", "E0.0"].map(tag));
    expect(results).toEqual([
      { ok: true, value: 0x1234 },
      { ok: true, value: true },
      { ok: true, value: false },
      { ok: true, value: 0xfffe },
      { ok: true, value: 0x7f },
      { ok: true, value: 0xdead_beef },
      { ok: true, value: 1.5 },
      { ok: true, value: true },
    ]);
    await driver.write(tag("MW30"), 4321);
    expect(await server.take(tag("MW30"))).toBe(4321);
  });

  it("reads a STRING by its header and refuses a header that disagrees with the address", async () => {
    await server.set("DB", 11, 0, Uint8Array.of(10, 3, 0x61, 0x62, 0xe9, 0x7a, 0x7a));
    await server.set("DB", 11, 20, Uint8Array.of(10, 12));
    const [declared, tooLong, shortAddress] = await driver.read([
      tag("DB11,S0.10"),
      tag("DB11,S20.10"),
      tag("DB11,S0.2"),
    ]);
    expect(declared).toEqual({ ok: true, value: "abé" });
    expect(tooLong?.ok).toBe(false);
    expect(tooLong?.ok ? "" : tooLong?.error).toMatch(/header says 12 of max 10 characters/);
    expect(shortAddress?.ok ? "" : shortAddress?.error).toMatch(/STRING\[2\] at byte 0 the right declaration/);

    await driver.write(tag("DB11,S40.8"), "hé");
    expect([...(await server.get("DB", 11, 40, 4))]).toEqual([8, 2, 0x68, 0xe9]);
    await expect(driver.write(tag("DB11,S40.8"), "more than eight")).rejects.toThrow(/at most 8 Latin-1 characters/);
    await expect(driver.write(tag("DB11,S40.8"), "中")).rejects.toThrow(PlcAddressError);
  });

  it("reads a WSTRING larger than one PDU (the client splits it)", async () => {
    const text = "Ünïcødé ".repeat(40);
    const long = tag(`DB10,WS3000.${text.length}`);
    expect(long.size).toBeGreaterThan(driver.pduSize);
    await server.put(long, text);
    const [result, neighbour] = await driver.read([long, tag("DB10,INT2990")]);
    expect(result).toEqual({ ok: true, value: text });
    expect(neighbour?.ok).toBe(true);
  });

  it("a missing DB or an address past a DB's end fails that tag only, merged neighbours included", async () => {
    await server.put(tag("DB10,INT0"), 1111);
    await server.put(tag("DB11,INT60"), 2222);
    await server.put(tag("DB11,INT56"), 3333);
    const addresses = [
      "DB10,INT0",
      "DB99,INT0",
      "DB11,INT60",
      "DB11,DINT62",
      "DB11,INT56",
      "DB10,X4095.7",
      "DB10,INT4095",
    ];
    for (let poll = 0; poll < 2; poll++) {
      const results = await driver.read(addresses.map(tag));
      expect(results[0]).toEqual({ ok: true, value: 1111 });
      expect(results[1]?.ok ? "" : results[1]?.error).toMatch(/DB99,INT0: the CPU has no DB99/);
      expect(results[2]).toEqual({ ok: true, value: 2222 });
      expect(results[3]?.ok ? "" : results[3]?.error).toMatch(/DB11,DINT62: bytes 62–65 are past the end of DB11/);
      expect(results[4]).toEqual({ ok: true, value: 3333 });
      expect(results[5]?.ok).toBe(true);
      expect(results[6]?.ok ? "" : results[6]?.error).toMatch(/past the end of DB10/);
    }
    await expect(driver.write(tag("DB99,INT0"), 1)).rejects.toThrow(/DB99,INT0: the CPU refused the write of DB99/);
    await expect(driver.write(tag("DB11,DINT62"), 1)).rejects.toThrow(PlcAddressError);
  });

  it("reads hundreds of tags in one call, packed into requests that fit the PDU", async () => {
    const values = Array.from({ length: 600 }, (_, index) => (index * 7919) % 0x8000);
    const bytes = new Uint8Array(values.length * 2);
    values.forEach((value, index) => {
      new DataView(bytes.buffer).setInt16(index * 2, value);
    });
    await server.set("DB", 10, 0, bytes);
    // Every other INT, so neighbours merge over gaps and items are many.
    const tags = values.map((_, index) => tag(`DB10,INT${index * 2}`)).filter((_, index) => index % 2 === 0);
    const results = await driver.read(tags);
    expect(results.map((result) => (result.ok ? result.value : result.error))).toEqual(
      values.filter((_, index) => index % 2 === 0),
    );
  });
});

describe("S7 driver when the PLC goes away", () => {
  it("a killed server is PlcUnreachableError; after a restart on the same port the driver reconnects and reads", async () => {
    const peer = new S7PeerServer([{ area: "DB", index: 1, size: 16 }]);
    await peer.start();
    const own = new S7Driver(plcConfig(peer.port, { timeout_ms: 1000 }));
    try {
      await own.connect();
      await peer.put(tag("DB1,DINT0"), 42);
      expect(await own.read([tag("DB1,DINT0")])).toEqual([{ ok: true, value: 42 }]);
      await peer.kill();
      await expect(own.read([tag("DB1,DINT0")])).rejects.toThrow(PlcUnreachableError);
      await expect(own.connect()).rejects.toThrow(/S7 PLC 127\.0\.0\.1:\d+ \(rack 0, slot 1\): connect failed/);
      await peer.start();
      await own.connect();
      await peer.put(tag("DB1,DINT0"), 43);
      expect(await own.read([tag("DB1,DINT0")])).toEqual([{ ok: true, value: 43 }]);
    } finally {
      await own.close();
      await peer.stop();
    }
  });

  it("a refused port and a host that never answers are PlcUnreachableError within the timeout", async () => {
    const closed = await unusedPort();
    const refused = new S7Driver(plcConfig(closed, { timeout_ms: 1000 }));
    await expect(refused.connect()).rejects.toThrow(PlcUnreachableError);

    // A TCP listener that accepts and never speaks ISO-on-TCP: a hung CPU or
    // a wrong device on port 102, which the S7 server cannot play.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    const silentPort = await listen(silent);
    const hung = new S7Driver(plcConfig(silentPort, { timeout_ms: 800 }));
    const started = Date.now();
    await expect(hung.connect()).rejects.toThrow(PlcUnreachableError);
    expect(Date.now() - started).toBeLessThan(5000);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));

    const nowhere = new S7Driver(plcConfig(102, { host: "plc.invalid", timeout_ms: 500 }));
    await expect(nowhere.connect()).rejects.toThrow(/cannot resolve plc\.invalid/);
    await expect(nowhere.read([tag("DB1,INT0")])).rejects.toThrow(/not connected/);
    await nowhere.close();
    await nowhere.close();
  });
});

// python-snap7's server accepts any rack/slot and always permits PUT/GET: these two refusals come from a fake.
describe("S7 driver against a CPU that refuses (FakeRefusingS7Cpu)", () => {
  it("a CPU without PUT/GET permitted is PlcUnreachableError naming the TIA Portal settings", async () => {
    const cpu = new FakeRefusingS7Cpu({ rack: 0, slot: 1, putGet: false });
    await cpu.start();
    const refused = new S7Driver(plcConfig(cpu.port));
    try {
      await refused.connect();
      const failure = refused.read([tag("DB1,INT0"), tag("MW0")]);
      await expect(failure).rejects.toThrow(PlcUnreachableError);
      await expect(failure).rejects.toThrow(/Permit access with PUT\/GET communication from remote partner/);
      await expect(failure).rejects.toThrow(/Optimized block access/);
      await expect(refused.write(tag("DB1,INT0"), 1)).rejects.toThrow(
        /refused the write .*Permit access with PUT\/GET/,
      );
    } finally {
      await refused.close();
      await cpu.stop();
    }
  });

  it.each([["disconnect-request"], ["close"]] as const)(
    "a wrong rack or slot (refused by %s) is PlcUnreachableError naming rack and slot",
    async (refuseBy) => {
      const cpu = new FakeRefusingS7Cpu({ rack: 0, slot: 2, putGet: true, refuseBy });
      await cpu.start();
      try {
        const wrong = new S7Driver(plcConfig(cpu.port, { rack: 0, slot: 1 }));
        await expect(wrong.connect()).rejects.toThrow(PlcUnreachableError);
        await expect(wrong.connect()).rejects.toThrow(/\(rack 0, slot 1\).*check rack and slot \(S7-300: 0\/2/);
        const right = new S7Driver(plcConfig(cpu.port, { rack: 0, slot: 2 }));
        await right.connect();
        expect(right.pduSize).toBe(240);
        await right.close();
      } finally {
        await cpu.stop();
      }
    },
  );
});

async function listen(target: Server): Promise<number> {
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  const address = target.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function unusedPort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
