// The Siemens S7 driver: S7-300/400/1200/1500 over ISO-on-TCP (RFC 1006,
// port 102) through snap7's client (npm node-snap7, a native binding). The
// driver owns the addresses, the byte layout of every type, and how a poll
// becomes multi-variable requests; snap7 owns the wire.
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";
import type { PlcConfig } from "../../../core/contract.ts";
import {
  PlcAddressError,
  type PlcDriver,
  type PlcDriverFactory,
  type PlcRead,
  PlcUnreachableError,
  type PlcValue,
} from "../driver.ts";
import { AREA_CODE, areaName, parseS7Address, type S7Tag } from "./address.ts";
import { decodeS7, encodeS7 } from "./codec.ts";
import { planReads, type ReadItem } from "./plan.ts";
import { SNAP7_CODES, type Snap7Client, snap7Client, snap7ErrorKind } from "./snap7.ts";

export const S7_DEFAULT_PORT = 102;

/** What an S7-1200/1500 needs before any PUT/GET client (this one) may read it. */
export const PUT_GET_PREREQUISITE =
  'on an S7-1200/1500, enable "Permit access with PUT/GET communication from remote partner" (CPU properties > Protection & Security > Connection mechanisms) ' +
  'and switch "Optimized block access" off in the properties of every DB read (then download the hardware configuration and the DBs)';

export class S7Driver implements PlcDriver<S7Tag> {
  readonly protocol = "s7" as const;
  readonly #plc: PlcConfig;
  #client: Snap7Client | undefined;
  #pdu = 0;
  /** Tags that failed alone before: read as their own items, so a bad one costs its neighbours nothing. */
  readonly #loners = new Set<string>();
  /** snap7 runs one job per client at a time; calls queue here. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(plc: PlcConfig) {
    this.#plc = plc;
  }

  parse(address: string): S7Tag {
    return parseS7Address(address);
  }

  get #where(): string {
    return `S7 PLC ${this.#plc.host}:${this.#plc.port || S7_DEFAULT_PORT} (rack ${this.#plc.rack}, slot ${this.#plc.slot})`;
  }

  async connect(): Promise<void> {
    await this.close();
    const ip = await this.#resolve();
    const client = snap7Client();
    const timeout = Math.max(100, this.#plc.timeout_ms);
    client.SetParam(client.RemotePort, this.#plc.port || S7_DEFAULT_PORT);
    client.SetParam(client.PingTimeout, timeout);
    client.SetParam(client.SendTimeout, timeout);
    client.SetParam(client.RecvTimeout, timeout);
    const code = await new Promise<number | null>((resolve) =>
      client.ConnectTo(ip, this.#plc.rack, this.#plc.slot, resolve),
    );
    if (code) {
      client.Disconnect();
      throw this.#unreachable(client, code, "connect");
    }
    this.#client = client;
    this.#pdu = client.PDULength() || 240;
  }

  async #resolve(): Promise<string> {
    if (isIPv4(this.#plc.host)) return this.#plc.host;
    try {
      return (await lookup(this.#plc.host, { family: 4 })).address;
    } catch (error) {
      throw new PlcUnreachableError(
        `${this.#where}: cannot resolve ${this.#plc.host} to an IPv4 address (${(error as Error).message})`,
      );
    }
  }

  read(tags: readonly S7Tag[]): Promise<PlcRead[]> {
    return this.#serial(() => this.#read(tags));
  }

  async #read(tags: readonly S7Tag[]): Promise<PlcRead[]> {
    const client = this.#connected();
    const results: PlcRead[] = new Array(tags.length);
    const alone = new Set<number>();
    tags.forEach((tag, index) => {
      if (this.#loners.has(tag.address)) alone.add(index);
    });
    let plan = planReads(tags, this.#pdu, alone);
    // A merged item the CPU refuses is re-read tag by tag, once, so the
    // refusal lands on the tag that caused it and the others still read.
    for (let round = 0; round < 2; round++) {
      const retry = new Set<number>();
      for (const request of plan.requests) {
        const answers = await this.#call<{ Result: number; Data: Buffer | null }[]>(client, "read", (done) =>
          client.ReadMultiVars(
            request.map((item) => ({
              Area: AREA_CODE[item.area],
              WordLen: client.S7WLByte,
              DBNumber: item.db,
              Start: item.start,
              Amount: item.length,
            })),
            done,
          ),
        );
        request.forEach((item, position) => {
          const answer = answers[position];
          this.#settle(
            tags,
            item,
            answer?.Result ?? SNAP7_CODES.invalidPlcAnswer,
            answer?.Data ?? null,
            results,
            retry,
            round,
          );
        });
      }
      for (const item of plan.large) {
        const [code, data] = await this.#callArea(client, item);
        this.#settle(tags, item, code, data, results, retry, round);
      }
      if (retry.size === 0) break;
      plan = planSubset(tags, [...retry], this.#pdu);
    }
    return results;
  }

  #settle(
    tags: readonly S7Tag[],
    item: ReadItem,
    code: number,
    data: Buffer | null,
    results: PlcRead[],
    retry: Set<number>,
    round: number,
  ): void {
    if (code === 0 && data) {
      for (const index of item.members) {
        const tag = tags[index] as S7Tag;
        const offset = tag.byte - item.start;
        try {
          results[index] = { ok: true, value: decodeS7(tag, data.subarray(offset, offset + tag.size)) };
        } catch (error) {
          results[index] = { ok: false, error: (error as Error).message };
        }
      }
      return;
    }
    if (item.members.length > 1 && round === 0) {
      for (const index of item.members) retry.add(index);
      return;
    }
    for (const index of item.members) {
      const tag = tags[index] as S7Tag;
      this.#loners.add(tag.address);
      results[index] = { ok: false, error: `${tag.address}: ${this.#refusal(tag, code)}` };
    }
  }

  /** Why the CPU refused one tag, in words an admin can act on. */
  #refusal(tag: S7Tag, code: number, operation: "read" | "write" = "read"): string {
    const area = areaName(tag);
    const text = this.#client ? this.#client.ErrorText(code) : `snap7 error 0x${code.toString(16)}`;
    const optimized =
      tag.area === "DB"
        ? ` (on an S7-1200/1500 also when ${area} has "Optimized block access" on: switch it off and download the DB)`
        : "";
    if (code === SNAP7_CODES.itemNotAvailable) return `the CPU has no ${area}${optimized} [${text}]`;
    if (code === SNAP7_CODES.addressOutOfRange) {
      return `bytes ${tag.byte}–${tag.byte + tag.size - 1} are past the end of ${area}${optimized} [${text}]`;
    }
    return `the CPU refused the ${operation} of ${area}${optimized} [${text}]`;
  }

  async write(tag: S7Tag, value: PlcValue): Promise<void> {
    const bytes = encodeS7(tag, value);
    await this.#serial(async () => {
      const client = this.#connected();
      const code = await new Promise<number | null>((resolve) => {
        if (tag.type === "BOOL") {
          // A bit write, so the CPU sets one bit and leaves its neighbours (which the PLC program may be changing) alone.
          client.WriteArea(
            AREA_CODE[tag.area],
            tag.db,
            tag.byte * 8 + tag.bit,
            1,
            client.S7WLBit,
            Buffer.of(value ? 1 : 0),
            resolve,
          );
        } else {
          client.WriteArea(
            AREA_CODE[tag.area],
            tag.db,
            tag.byte,
            tag.size,
            client.S7WLByte,
            Buffer.from(bytes),
            resolve,
          );
        }
      });
      if (!code) return;
      if (snap7ErrorKind(code) !== "item") throw this.#unreachable(client, code, "write");
      throw new PlcAddressError(tag.address, this.#refusal(tag, code, "write"));
    });
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#pdu = 0;
    if (client) {
      // Let a job in flight end first: snap7 frees its buffers when it does.
      await this.#queue.catch(() => undefined);
      client.Disconnect();
    }
  }

  /** The negotiated PDU size (0 before connect). */
  get pduSize(): number {
    return this.#pdu;
  }

  #connected(): Snap7Client {
    if (!this.#client) throw new PlcUnreachableError(`${this.#where}: not connected`);
    return this.#client;
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Runs one snap7 job; a failure of the whole job (not of an item) means the connection is gone or refused. */
  #call<T>(
    client: Snap7Client,
    what: string,
    start: (done: (code: number | null, result: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      start((code, result) => {
        if (code) reject(this.#unreachable(client, code, what));
        else resolve(result);
      });
    });
  }

  #callArea(client: Snap7Client, item: ReadItem): Promise<[number, Buffer | null]> {
    return new Promise((resolve, reject) => {
      client.ReadArea(AREA_CODE[item.area], item.db, item.start, item.length, client.S7WLByte, (code, data) => {
        if (!code) resolve([0, data]);
        else if (snap7ErrorKind(code) === "item") resolve([code, null]);
        else reject(this.#unreachable(client, code, "read"));
      });
    });
  }

  #unreachable(client: Snap7Client, code: number, what: string): PlcUnreachableError {
    const text = client.ErrorText(code);
    const kind = snap7ErrorKind(code);
    if (kind === "refused") {
      return new PlcUnreachableError(`${this.#where} refused the ${what} [${text}]: ${PUT_GET_PREREQUISITE}`);
    }
    if (kind === "iso") {
      return new PlcUnreachableError(
        `${this.#where}: the ISO-on-TCP session failed [${text}]; check rack and slot (S7-300: 0/2, S7-1200/1500: 0/1, S7-400: from the hardware configuration) and that the CPU accepts PUT/GET: ${PUT_GET_PREREQUISITE}`,
      );
    }
    return new PlcUnreachableError(`${this.#where}: ${what} failed [${text}]`);
  }
}

/** A plan for some of the tags, each its own item, with members indexing the full list. */
function planSubset(tags: readonly S7Tag[], indexes: readonly number[], pdu: number) {
  const plan = planReads(
    indexes.map((index) => tags[index] as S7Tag),
    pdu,
    new Set(indexes.keys()),
  );
  const remap = (item: ReadItem): ReadItem => ({
    ...item,
    members: item.members.map((member) => indexes[member] as number),
  });
  return { requests: plan.requests.map((request) => request.map(remap)), large: plan.large.map(remap) };
}

export const s7Driver: PlcDriverFactory = (plc) => new S7Driver(plc);
