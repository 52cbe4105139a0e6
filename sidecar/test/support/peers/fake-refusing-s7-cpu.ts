// A FAKE S7 CPU for the two refusals python-snap7's server cannot play: it
// accepts any rack and slot and always answers PUT/GET. This one speaks just
// enough ISO-on-TCP (RFC 1006) to refuse: a connection request for another
// rack/slot than its own gets a COTP disconnect request (as a CPU or CP does
// for a TSAP it does not serve; refuseBy "close" drops the connection
// instead), and with `putGet: false` every read or
// write job gets the S7 header error 0x8104 an S7-1200/1500 answers while
// "Permit access with PUT/GET communication" is off. Everything else the
// driver does is tested against python-snap7's server.
import { createServer, type Server, type Socket } from "node:net";

export interface FakeRefusingS7CpuOptions {
  rack: number;
  slot: number;
  /** false: the S7-1200/1500 project does not permit PUT/GET. */
  putGet: boolean;
  /** How a connection request for another rack/slot is refused: a COTP disconnect request (the default) or a dropped connection. */
  refuseBy?: "disconnect-request" | "close";
}

const COTP_CR = 0xe0;
const COTP_DT = 0xf0;
const TSAP_CALLED = 0xc2;
const S7_JOB = 0x01;
const SETUP_COMMUNICATION = 0xf0;

export class FakeRefusingS7Cpu {
  readonly #opts: FakeRefusingS7CpuOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(opts: FakeRefusingS7CpuOptions) {
    this.#opts = opts;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    if (!address || typeof address === "string") throw new Error("the fake S7 CPU has no port");
    this.port = address.port;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // TPKT: version 3, reserved, 16-bit length of the whole packet.
      while (pending.length >= 4 && pending.length >= pending.readUInt16BE(2)) {
        const packet = pending.subarray(0, pending.readUInt16BE(2));
        pending = pending.subarray(packet.length);
        this.#answer(socket, packet.subarray(4));
      }
    });
  }

  #answer(socket: Socket, cotp: Buffer): void {
    const type = cotp[1];
    if (type === COTP_CR) {
      const called = calledTsap(cotp);
      const wanted = this.#opts.rack * 32 + this.#opts.slot;
      if (called === undefined || (called & 0xff) !== wanted) {
        if (this.#opts.refuseBy === "close") socket.destroy();
        // Disconnect request: destination and source reference, reason 0 (unspecified).
        else socket.end(tpkt(Buffer.of(6, 0x80, cotp[4] ?? 0, cotp[5] ?? 0, 0, 1, 0)));
        return;
      }
      const params = cotp.subarray(7);
      socket.write(
        tpkt(Buffer.concat([Buffer.of(6 + params.length, 0xd0, cotp[4] ?? 0, cotp[5] ?? 0, 0, 1, 0), params])),
      );
      return;
    }
    if (type !== COTP_DT) return;
    const s7 = cotp.subarray(3);
    if (s7[0] !== 0x32 || s7[1] !== S7_JOB) return;
    const sequence = s7.readUInt16BE(4);
    const functionCode = s7[10];
    if (functionCode === SETUP_COMMUNICATION) {
      const header = Buffer.of(0x32, 0x03, 0, 0, sequence >> 8, sequence & 0xff, 0, 8, 0, 0, 0, 0);
      const params = Buffer.of(SETUP_COMMUNICATION, 0, 0, 1, 0, 1, 0, 240);
      socket.write(tpkt(Buffer.concat([Buffer.of(2, COTP_DT, 0x80), header, params])));
      return;
    }
    // Every other job: ack without data, error class 0x81 code 0x04 (or 0x8500 to a PUT/GET-enabled fake).
    const [errorClass, errorCode] = this.#opts.putGet ? [0x85, 0x00] : [0x81, 0x04];
    const refusal = Buffer.of(0x32, 0x02, 0, 0, sequence >> 8, sequence & 0xff, 0, 0, 0, 0, errorClass, errorCode);
    socket.write(tpkt(Buffer.concat([Buffer.of(2, COTP_DT, 0x80), refusal])));
  }
}

function tpkt(payload: Buffer): Buffer {
  const header = Buffer.of(3, 0, 0, 0);
  header.writeUInt16BE(4 + payload.length, 2);
  return Buffer.concat([header, payload]);
}

/** The called TSAP of a COTP connection request (its parameters start at byte 7). */
function calledTsap(cotp: Buffer): number | undefined {
  let offset = 7;
  while (offset + 2 <= cotp.length) {
    const code = cotp[offset] as number;
    const length = cotp[offset + 1] as number;
    if (code === TSAP_CALLED && length === 2) return cotp.readUInt16BE(offset + 2);
    offset += 2 + length;
  }
  return undefined;
}
