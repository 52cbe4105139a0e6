// The EtherNet/IP driver for Allen-Bradley Logix controllers (ControlLogix,
// CompactLogix): tags by name, read in Multiple Service Packets that fill the
// connection, each value typed by the controller's own reply.
import type { PlcConfig } from "../../../core/contract.ts";
import { PlcAddressError, type PlcDriver, type PlcRead, PlcUnreachableError, type PlcValue } from "../driver.ts";
import { type EnipTag, parseEnipAddress } from "./address.ts";
import {
  CipFormatError,
  decodeValue,
  encodeValue,
  integerBytes,
  LOGIX_STRING_BYTES,
  MSP_PER_SERVICE,
  MSP_REPLY_OVERHEAD,
  MSP_REQUEST_OVERHEAD,
  multipleServiceRequest,
  parseMultipleServiceData,
  parseReply,
  readTagRequest,
  splitTypedData,
  statusText,
  type TagType,
  typeName,
  typeTakes,
  writeTagRequest,
} from "./cip.ts";
import { CipSession, EIP_PORT } from "./session.ts";

/** A write the controller refused, or a value that does not fit the tag's type. */
export class EnipWriteError extends Error {
  override name = "EnipWriteError";
  readonly address: string;
  constructor(address: string, message: string) {
    super(`${address}: ${message}`);
    this.address = address;
  }
}

/** Reply bytes of one Read Tag around its value: service, status, type, structure handle. */
const READ_REPLY_OVERHEAD = 8;
/** The sequence count every connected message starts with. */
const SEQUENCE_BYTES = 2;
const TYPE_MISMATCH = 0x2107;

function show(value: PlcValue): string {
  return typeof value === "string" ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}

export class EnipDriver implements PlcDriver<EnipTag> {
  readonly protocol = "enip" as const;
  readonly #plc: PlcConfig;
  #session: CipSession | undefined;
  /** The type each address last answered with, so a write encodes it. Kept over reconnects; a mismatch refreshes it. */
  readonly #types = new Map<string, TagType>();
  /** The size of each address's last reply, to pack the next read. */
  readonly #replyBytes = new Map<string, number>();

  constructor(plc: PlcConfig) {
    this.#plc = plc;
  }

  /** Bytes one message may carry on the open connection (4002 after a Large Forward Open, 504 after a classic one); 0 when closed. */
  get connectionSize(): number {
    return this.#session?.connectionSize ?? 0;
  }

  parse(address: string): EnipTag {
    return parseEnipAddress(address);
  }

  async connect(): Promise<void> {
    await this.close();
    const session = new CipSession({
      host: this.#plc.host,
      port: this.#plc.port || EIP_PORT,
      slot: this.#plc.slot,
      timeoutMs: this.#plc.timeout_ms,
    });
    try {
      await session.open();
    } catch (error) {
      await session.close();
      throw error;
    }
    this.#session = session;
  }

  async read(tags: readonly EnipTag[]): Promise<PlcRead[]> {
    const session = this.#open();
    const results: PlcRead[] = [];
    const limit = session.connectionSize - SEQUENCE_BYTES;
    for (const group of packReads(tags, limit, (tag) => this.#replyBytes.get(tag.address))) {
      const replies = await this.#readGroup(session, group);
      group.forEach((tag, i) => {
        results.push(this.#answer(tag, replies[i]));
      });
    }
    return results;
  }

  async write(tag: EnipTag, value: PlcValue): Promise<void> {
    const session = this.#open();
    if (tag.bit !== undefined) {
      throw new PlcAddressError(tag.address, "one bit of an integer cannot be written here: write the whole integer");
    }
    // The type may be unknown (never read) or stale (the program was changed): learn it, and learn it again once on a mismatch.
    for (let attempt = 0; ; attempt++) {
      const known = this.#types.get(tag.address);
      const type = known ?? (await this.#learnType(tag));
      let data: Buffer;
      try {
        data = encodeValue(type, value);
      } catch {
        if (known && attempt === 0) {
          this.#types.delete(tag.address);
          continue;
        }
        throw new EnipWriteError(
          tag.address,
          `the tag is ${typeName(type)}: it takes ${typeTakes(type)}, not ${show(value)}`,
        );
      }
      const reply = parseReply(await session.request(writeTagRequest(tag.path, type, data)));
      if (reply.status === 0) return;
      if (reply.extended.includes(TYPE_MISMATCH) && known && attempt === 0) {
        this.#types.delete(tag.address);
        continue;
      }
      throw new EnipWriteError(
        tag.address,
        `the controller refused the write: ${statusText(reply.status, reply.extended)}`,
      );
    }
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.close();
  }

  #open(): CipSession {
    if (!this.#session) throw new PlcUnreachableError(`${this.#plc.host}: not connected`);
    return this.#session;
  }

  async #learnType(tag: EnipTag): Promise<TagType> {
    const [read] = await this.read([tag]);
    const type = this.#types.get(tag.address);
    if (!read?.ok || !type)
      throw new EnipWriteError(tag.address, read && !read.ok ? read.error : "no type in the reply");
    return type;
  }

  /** One reply per tag: a Read Tag for one, a Multiple Service Packet for more (each tag alone if the packet fails as a whole). */
  async #readGroup(session: CipSession, group: readonly EnipTag[]): Promise<Buffer[]> {
    const requests = group.map((tag) => readTagRequest(tag.path));
    const [single] = requests;
    if (requests.length === 1 && single) return [await session.request(single)];
    const raw = await session.request(multipleServiceRequest(requests));
    try {
      const reply = parseReply(raw);
      const embeddedErrors = 0x1e;
      if (reply.status === 0 || reply.status === embeddedErrors) {
        const replies = parseMultipleServiceData(reply.data);
        if (replies.length === group.length) return replies;
      }
    } catch (error) {
      if (!(error instanceof CipFormatError)) throw error;
    }
    // refused or garbled as a whole: each tag alone, so each gets its own answer
    const replies: Buffer[] = [];
    for (const each of requests) replies.push(await session.request(each));
    return replies;
  }

  #answer(tag: EnipTag, raw: Buffer | undefined): PlcRead {
    if (!raw) return { ok: false, error: "the controller sent no reply for this tag" };
    try {
      const reply = parseReply(raw);
      if (reply.status !== 0) return { ok: false, error: statusText(reply.status, reply.extended) };
      this.#replyBytes.set(tag.address, raw.length);
      const { type, value: bytes } = splitTypedData(reply.data);
      this.#types.set(tag.address, type);
      const value = decodeValue(type, bytes);
      return { ok: true, value: tag.bit === undefined ? value : this.#bitOf(tag, type, value) };
    } catch (error) {
      if (error instanceof CipFormatError) return { ok: false, error: error.message };
      throw error;
    }
  }

  #bitOf(tag: EnipTag, type: TagType, value: PlcValue): boolean {
    const bit = tag.bit ?? 0;
    const bytes = integerBytes(type);
    if (bytes === undefined || (typeof value !== "number" && typeof value !== "bigint")) {
      throw new CipFormatError(`bit ${bit} of ${typeName(type)}: only the bits of an integer can be read`);
    }
    const width = bytes * 8;
    if (bit >= width) throw new CipFormatError(`bit ${bit} of ${typeName(type)}: it has bits 0 to ${width - 1}`);
    return ((BigInt(value) >> BigInt(bit)) & 1n) === 1n;
  }
}

/**
 * Splits tags, in order, into groups whose Multiple Service Packet request
 * and reply both fit `limit` bytes. A tag's reply size is what it answered
 * last time, or a Logix STRING's (the largest value a Read Tag of one element
 * of an atomic or string type returns) before its first read. A tag too large
 * for any packet goes alone, as a plain Read Tag.
 */
export function packReads(
  tags: readonly EnipTag[],
  limit: number,
  lastReplyBytes: (tag: EnipTag) => number | undefined,
): EnipTag[][] {
  const groups: EnipTag[][] = [];
  let group: EnipTag[] = [];
  let requestBytes = MSP_REQUEST_OVERHEAD;
  let replyBytes = MSP_REPLY_OVERHEAD;
  for (const tag of tags) {
    const request = MSP_PER_SERVICE + readTagRequest(tag.path).length;
    const reply = MSP_PER_SERVICE + (lastReplyBytes(tag) ?? READ_REPLY_OVERHEAD + LOGIX_STRING_BYTES);
    if (group.length > 0 && (requestBytes + request > limit || replyBytes + reply > limit)) {
      groups.push(group);
      group = [];
      requestBytes = MSP_REQUEST_OVERHEAD;
      replyBytes = MSP_REPLY_OVERHEAD;
    }
    group.push(tag);
    requestBytes += request;
    replyBytes += reply;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

export const enipDriver = (plc: PlcConfig): EnipDriver => new EnipDriver(plc);
