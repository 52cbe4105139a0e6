// One EtherNet/IP session with a Logix controller: TCP, RegisterSession, and
// a class 3 (explicit messaging) connection opened with Forward Open, over
// which every request travels as SendUnitData. One request is in flight at a
// time; a refused session, a connection the controller will not open, a reset
// socket or a request with no answer within `timeoutMs` is a
// PlcUnreachableError, after which the session is dead until reopened.
import { randomBytes, randomInt } from "node:crypto";
import { Socket } from "node:net";
import { PlcUnreachableError } from "../driver.ts";
import {
  type ConnectionIdentity,
  CPF,
  type CpfItem,
  commandData,
  ENCAP,
  type EncapFrame,
  encapStatusText,
  encapsulate,
  forwardCloseRequest,
  forwardOpenRequest,
  frameLength,
  parseCommandData,
  parseForwardOpenData,
  parseFrame,
  parseReply,
  registerSessionData,
  statusText,
} from "./cip.ts";

export const EIP_PORT = 44818;
/** Connection sizes tried in turn: a Large Forward Open (ControlLogix / CompactLogix firmware 20+), then the classic limit. */
const CONNECTION_SIZES = [
  { large: true, size: 4002 },
  { large: false, size: 504 },
] as const;
/** Any number outside ODVA's registered vendor ids would do; the controller only compares it on Forward Close. */
const ORIGINATOR_VENDOR = 0x5342;
/** How long close() waits for the Forward Close to be answered. */
const CLOSE_WAIT_MS = 500;

export interface SessionOptions {
  host: string;
  port: number;
  slot: number;
  timeoutMs: number;
}

interface Waiter {
  accepts: (frame: EncapFrame) => boolean;
  resolve: (frame: EncapFrame) => void;
  reject: (error: Error) => void;
}

export class CipSession {
  readonly #opts: SessionOptions;
  #socket: Socket | undefined;
  #received = Buffer.alloc(0);
  #session = 0;
  #waiter: Waiter | undefined;
  #dead: PlcUnreachableError | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #identity: ConnectionIdentity = { serial: 0, vendor: ORIGINATOR_VENDOR, originatorSerial: 0 };
  #toTargetId: number | undefined;
  #sequence = 0;
  /** Bytes one connected message may carry (request or reply), once open. */
  connectionSize = 0;

  constructor(opts: SessionOptions) {
    this.#opts = opts;
  }

  get #where(): string {
    return `${this.#opts.host}:${this.#opts.port}`;
  }

  async open(): Promise<void> {
    await this.#connectTcp();
    try {
      const registered = await this.#exchange(
        encapsulate(ENCAP.registerSession, 0, Buffer.alloc(8), registerSessionData()),
        (frame) => frame.command === ENCAP.registerSession,
      );
      if (registered.status !== 0) {
        this.#fail(`the controller refused the session: ${encapStatusText(registered.status)}`);
      }
      this.#session = registered.session;
      await this.#forwardOpen();
    } catch (error) {
      if (error instanceof PlcUnreachableError) throw error;
      this.#fail(`the controller's answer does not parse: ${(error as Error).message}`);
    }
  }

  /** Sends one CIP request over the connection; answers the CIP reply. */
  request(message: Buffer): Promise<Buffer> {
    const next = this.#queue.then(() => this.#connected(message));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    if (!this.#dead) {
      try {
        if (this.#toTargetId !== undefined) {
          // a short wait: a controller that stopped answering must not hold up a stop or a reconnect
          await this.#unconnected(
            forwardCloseRequest(this.#identity, this.#opts.slot),
            Math.min(CLOSE_WAIT_MS, this.#opts.timeoutMs),
          );
        }
        socket.write(encapsulate(ENCAP.unregisterSession, this.#session, Buffer.alloc(8), Buffer.alloc(0)));
      } catch {
        // closing anyway: the controller drops the connection when its timer runs out
      }
    }
    this.#toTargetId = undefined;
    this.#die("the session was closed");
    socket.destroy();
    this.#socket = undefined;
  }

  async #forwardOpen(): Promise<void> {
    let refusal = "";
    for (const { large, size } of CONNECTION_SIZES) {
      this.#identity = { serial: randomInt(0x10000), vendor: ORIGINATOR_VENDOR, originatorSerial: randomInt(2 ** 32) };
      const fromTargetId = randomInt(2 ** 32);
      const reply = parseReply(
        await this.#unconnected(
          forwardOpenRequest({
            large,
            size,
            toConnectionId: fromTargetId,
            identity: this.#identity,
            slot: this.#opts.slot,
          }),
        ),
      );
      if (reply.status === 0) {
        this.#toTargetId = parseForwardOpenData(reply.data).toTargetId;
        this.connectionSize = size;
        return;
      }
      refusal = statusText(reply.status, reply.extended);
    }
    this.#fail(`the controller refused a connection (Forward Open): ${refusal}`);
  }

  async #connected(message: Buffer): Promise<Buffer> {
    if (this.#dead) throw this.#dead;
    if (this.#toTargetId === undefined) throw new PlcUnreachableError(`${this.#where}: no connection is open`);
    this.#sequence = (this.#sequence + 1) & 0xffff;
    const sequence = this.#sequence;
    const address = Buffer.alloc(4);
    address.writeUInt32LE(this.#toTargetId, 0);
    const data = Buffer.alloc(2 + message.length);
    data.writeUInt16LE(sequence, 0);
    message.copy(data, 2);
    const frame = encapsulate(
      ENCAP.sendUnitData,
      this.#session,
      Buffer.alloc(8),
      commandData([
        { type: CPF.connectedAddress, data: address },
        { type: CPF.connectedData, data },
      ]),
    );
    const reply = await this.#exchange(frame, (candidate) => {
      if (candidate.command !== ENCAP.sendUnitData) return false;
      if (candidate.status !== 0) return true;
      const item = parseCommandData(candidate.data).find((each) => each.type === CPF.connectedData);
      return item !== undefined && item.data.length >= 2 && item.data.readUInt16LE(0) === sequence;
    });
    if (reply.status !== 0) this.#fail(`the controller dropped the connection: ${encapStatusText(reply.status)}`);
    const item = parseCommandData(reply.data).find((each) => each.type === CPF.connectedData);
    return (item?.data ?? Buffer.alloc(2)).subarray(2);
  }

  /** A SendRRData request (Forward Open / Close), matched by its sender context. */
  async #unconnected(message: Buffer, timeoutMs = this.#opts.timeoutMs): Promise<Buffer> {
    const context = randomBytes(8);
    const frame = encapsulate(
      ENCAP.sendRRData,
      this.#session,
      context,
      commandData([
        { type: CPF.nullAddress, data: Buffer.alloc(0) },
        { type: CPF.unconnectedData, data: message },
      ]),
    );
    const reply = await this.#exchange(
      frame,
      (c) => c.command === ENCAP.sendRRData && c.context.equals(context),
      timeoutMs,
    );
    if (reply.status !== 0) this.#fail(`the controller rejected a request: ${encapStatusText(reply.status)}`);
    let item: CpfItem | undefined;
    try {
      item = parseCommandData(reply.data).find((each) => each.type === CPF.unconnectedData);
    } catch {
      this.#fail("the controller sent a malformed reply");
    }
    if (!item) this.#fail("the controller answered without data");
    return item.data;
  }

  #connectTcp(): Promise<void> {
    const { host, port, timeoutMs } = this.#opts;
    this.#dead = undefined;
    this.#received = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      this.#socket = socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PlcUnreachableError(`${this.#where}: no TCP connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve();
      });
      // a socket this session replaced (a reopen) may still report; only the current one counts
      const current = () => this.#socket === socket;
      socket.on("data", (chunk) => current() && this.#onData(chunk));
      socket.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = `${this.#where}: ${error.code ?? error.message}`;
        if (current()) this.#die(why);
        reject(new PlcUnreachableError(why));
      });
      socket.on("close", () => current() && this.#die(`${this.#where}: the controller closed the connection`));
      socket.connect({ host, port });
    });
  }

  #onData(chunk: Buffer): void {
    this.#received = Buffer.concat([this.#received, chunk]);
    for (let length = frameLength(this.#received); length > 0; length = frameLength(this.#received)) {
      const frame = parseFrame(Buffer.from(this.#received.subarray(0, length)));
      this.#received = this.#received.subarray(length);
      const waiter = this.#waiter;
      let accepted = false;
      try {
        accepted = waiter?.accepts(frame) ?? false;
      } catch {
        // a frame whose items do not parse: nothing more on this connection can be trusted
        this.#die(`${this.#where}: the controller sent a malformed frame`);
        this.#socket?.destroy();
        return;
      }
      if (waiter && accepted) {
        this.#waiter = undefined;
        waiter.resolve(frame);
      }
    }
  }

  #exchange(
    frame: Buffer,
    accepts: (frame: EncapFrame) => boolean,
    timeoutMs = this.#opts.timeoutMs,
  ): Promise<EncapFrame> {
    const socket = this.#socket;
    if (this.#dead) return Promise.reject(this.#dead);
    if (!socket) return Promise.reject(new PlcUnreachableError(`${this.#where}: not connected`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#die(`${this.#where}: no answer within ${timeoutMs} ms`);
        socket.destroy();
      }, timeoutMs);
      this.#waiter = {
        accepts,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      socket.write(frame);
    });
  }

  /** Marks the session dead; the request in flight fails with the reason. */
  #die(why: string): void {
    this.#dead ??= new PlcUnreachableError(why);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#dead);
  }

  #fail(why: string): never {
    this.#die(`${this.#where}: ${why}`);
    this.#socket?.destroy();
    throw this.#dead ?? new PlcUnreachableError(why);
  }
}
