// Modbus TCP driver (modbus-serial's TCP client): the addresses of
// address.ts, read in as few requests as Modbus allows — tags of one area
// whose registers or bits touch or overlap share a request, up to 125
// registers or 2000 bits. A request the device refuses with an exception is
// read again tag by tag (and stays split for this connection), so one illegal
// address costs its own tag only. Anything but an exception (timeout, reset,
// a reply that does not parse) is the PLC being unreachable.
import modbusSerial from "modbus-serial";
import type { PlcConfig } from "../../../core/contract.ts";
import { PlcAddressError, type PlcDriver, type PlcRead, PlcUnreachableError, type PlcValue } from "../driver.ts";
import {
  MAX_READ_BITS,
  MAX_READ_REGISTERS,
  MAX_WRITE_REGISTERS,
  type ModbusArea,
  type ModbusTag,
  parseModbusAddress,
} from "./address.ts";
import { decodeRegisters, encodeRegisters } from "./codec.ts";

export const MODBUS_PORT = 502;

// modbus-serial is CommonJS with `module.exports.default = module.exports`: its typings see the class there.
const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

/** One request: a run of one area's registers or bits and the tags (by index) it answers. */
interface ReadGroup {
  area: ModbusArea;
  start: number;
  count: number;
  members: number[];
  /** The device refused the whole run once: its tags are read one by one from then on. */
  split: boolean;
}

/** Modbus exception codes (Modbus Application Protocol v1.1b3, 7). */
const EXCEPTIONS: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

const isBits = (area: ModbusArea) => area === "coil" || area === "di";

/** Groups tags of one area whose spans touch or overlap, within one request's limit. */
export function planReads(tags: readonly ModbusTag[]): ReadGroup[] {
  const order = tags.map((_, index) => index);
  order.sort((a, b) => {
    const ta = tags[a] as ModbusTag;
    const tb = tags[b] as ModbusTag;
    return ta.area.localeCompare(tb.area) || ta.offset - tb.offset;
  });
  const groups: ReadGroup[] = [];
  let group: ReadGroup | undefined;
  for (const index of order) {
    const tag = tags[index] as ModbusTag;
    const limit = isBits(tag.area) ? MAX_READ_BITS : MAX_READ_REGISTERS;
    const end = tag.offset + tag.length;
    if (group && group.area === tag.area && tag.offset <= group.start + group.count) {
      const newCount = Math.max(group.start + group.count, end) - group.start;
      if (newCount <= limit) {
        group.count = newCount;
        group.members.push(index);
        continue;
      }
    }
    group = { area: tag.area, start: tag.offset, count: tag.length, members: [index], split: false };
    groups.push(group);
  }
  return groups;
}

/** The code of a Modbus exception reply, or undefined for any other failure. */
function exceptionCode(err: unknown): number | undefined {
  const code = (err as { modbusCode?: unknown } | null)?.modbusCode;
  return typeof code === "number" ? code : undefined;
}

function describeException(code: number): string {
  return `Modbus exception ${code} (${EXCEPTIONS[code] ?? "unknown"})`;
}

export class ModbusDriver implements PlcDriver<ModbusTag> {
  readonly protocol = "modbus" as const;
  readonly #plc: PlcConfig;
  #client: ModbusClient | undefined;
  readonly #plans = new WeakMap<readonly ModbusTag[], ReadGroup[]>();

  constructor(plc: PlcConfig) {
    this.#plc = plc;
  }

  /** One request's limit (and the TCP connect's); 0 in the configuration: 3 s. */
  get #timeoutMs(): number {
    return this.#plc.timeout_ms > 0 ? this.#plc.timeout_ms : 3_000;
  }

  get #where(): string {
    return `${this.#plc.host}:${this.#plc.port || MODBUS_PORT} unit ${this.#plc.unit_id}`;
  }

  parse(address: string): ModbusTag {
    return parseModbusAddress(address);
  }

  async connect(): Promise<void> {
    await this.close();
    const client = new ModbusRTU();
    const timeoutMs = this.#timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A host that drops SYNs would hold the connect for minutes: bound it by the request timeout.
      await Promise.race([
        client.connectTCP(this.#plc.host, { port: this.#plc.port || MODBUS_PORT }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no TCP connection within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      client.destroy(() => {});
      throw new PlcUnreachableError(`Modbus ${this.#where}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    client.setID(this.#plc.unit_id);
    client.setTimeout(timeoutMs);
    this.#client = client;
  }

  async read(tags: readonly ModbusTag[]): Promise<PlcRead[]> {
    let plan = this.#plans.get(tags);
    if (!plan) {
      plan = planReads(tags);
      this.#plans.set(tags, plan);
    }
    const out: PlcRead[] = new Array(tags.length);
    for (const group of plan) {
      if (!group.split) {
        try {
          const values = await this.#request(group.area, group.start, group.count);
          for (const index of group.members) out[index] = this.#answer(tags[index] as ModbusTag, values, group.start);
          continue;
        } catch (err) {
          const code = exceptionCode(err);
          if (code === undefined) throw this.#unreachable(err);
          if (group.members.length === 1) {
            out[group.members[0] as number] = { ok: false, error: describeException(code) };
            continue;
          }
          group.split = true;
        }
      }
      for (const index of group.members) {
        const tag = tags[index] as ModbusTag;
        try {
          out[index] = this.#answer(tag, await this.#request(tag.area, tag.offset, tag.length), tag.offset);
        } catch (err) {
          const code = exceptionCode(err);
          if (code === undefined) throw this.#unreachable(err);
          out[index] = { ok: false, error: describeException(code) };
        }
      }
    }
    return out;
  }

  async write(tag: ModbusTag, value: PlcValue): Promise<void> {
    if (tag.area === "ir" || tag.area === "di") {
      throw new PlcAddressError(tag.address, `area ${tag.area} is read-only (write to hr or coil)`);
    }
    const client = this.#live();
    try {
      if (tag.area === "coil") {
        if (typeof value !== "boolean") throw new TypeError(`${tag.address}: a coil holds a bool, not ${typeof value}`);
        await client.writeCoil(tag.offset, value);
      } else if (tag.bit !== undefined) {
        if (typeof value !== "boolean") throw new TypeError(`${tag.address}: a register bit holds a bool`);
        // Read-modify-write: not atomic against the PLC's own program writing the same register.
        const [word = 0] = (await client.readHoldingRegisters(tag.offset, 1)).data;
        const mask = 1 << tag.bit;
        await client.writeRegister(tag.offset, value ? word | mask : word & ~mask);
      } else {
        const words = encodeRegisters(tag, value);
        if (words.length > MAX_WRITE_REGISTERS) {
          throw new PlcAddressError(tag.address, `one write carries at most ${MAX_WRITE_REGISTERS} registers`);
        }
        if (words.length === 1) await client.writeRegister(tag.offset, words[0] as number);
        else await client.writeRegisters(tag.offset, words);
      }
    } catch (err) {
      const code = exceptionCode(err);
      if (code !== undefined)
        throw new PlcAddressError(tag.address, `the device refused the write: ${describeException(code)}`);
      if (err instanceof TypeError || err instanceof PlcAddressError || (err as Error).name === "ModbusValueError")
        throw err;
      throw this.#unreachable(err);
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    // destroy, not close: a socket the device already dropped never reports a graceful close.
    if (client) await new Promise<void>((resolve) => client.destroy(() => resolve()));
  }

  #live(): ModbusClient {
    if (!this.#client?.isOpen) throw new PlcUnreachableError(`Modbus ${this.#where}: not connected`);
    return this.#client;
  }

  async #request(area: ModbusArea, start: number, count: number): Promise<readonly (number | boolean)[]> {
    const client = this.#live();
    switch (area) {
      case "hr":
        return (await client.readHoldingRegisters(start, count)).data;
      case "ir":
        return (await client.readInputRegisters(start, count)).data;
      case "coil":
        return (await client.readCoils(start, count)).data;
      case "di":
        return (await client.readDiscreteInputs(start, count)).data;
    }
  }

  #answer(tag: ModbusTag, values: readonly (number | boolean)[], start: number): PlcRead {
    const at = tag.offset - start;
    if (values.length < at + tag.length) {
      return { ok: false, error: `the device answered ${values.length} values where ${at + tag.length} were asked` };
    }
    if (isBits(tag.area)) return { ok: true, value: values[at] === true };
    return { ok: true, value: decodeRegisters(tag, values.slice(at, at + tag.length) as number[]) };
  }

  #unreachable(err: unknown): PlcUnreachableError {
    if (err instanceof PlcUnreachableError) return err;
    const message = (err as Error).message ?? String(err);
    const timedOut = (err as { errno?: unknown }).errno === "ETIMEDOUT";
    return new PlcUnreachableError(
      `Modbus ${this.#where}: ${timedOut ? `no answer within ${this.#timeoutMs} ms` : message}`,
    );
  }
}

export const modbusDriver = (plc: PlcConfig): ModbusDriver => new ModbusDriver(plc);
