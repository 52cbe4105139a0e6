// What a broker's port speaks, asked only after a connection failed in a way
// that a server being down and a TLS / plain mix-up both give (a reset, a
// close, a timeout): one TLS hello, or one greeting in the broker's own plain
// protocol. The answer turns "not reachable yet, retrying" into the setting
// to fix (amqps:// or amqp://, rediss:// or redis://, backbone_tls).
import { isIP, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

const PROBE_TIMEOUT_MS = 2_000;

/** What a probe connects to for `url`: its host (an IPv6 address without brackets), its port or `defaultPort`. */
export function probeTarget(url: URL, defaultPort: number): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || defaultPort) };
}

/**
 * True when host:port answers a TLS hello as a TLS server does: the handshake
 * completes (no certificate is checked: only the protocol is asked), or the
 * server answers it with a TLS alert (it wants a client certificate, say).
 */
export function answersTls(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      rejectUnauthorized: false,
      ...(isIP(host) ? {} : { servername: host }),
    });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("secureConnect", () => done(true));
    // An alert is a TLS record: ERR_SSL_SSL/TLS_ALERT_…, ERR_SSL_TLSV13_ALERT_… (OpenSSL 3), or EPROTO with its text.
    socket.once("error", (err: NodeJS.ErrnoException) =>
      done(/^ERR_SSL_.*ALERT/.test(err.code ?? "") || (err.code === "EPROTO" && /alert/i.test(err.message))),
    );
    socket.once("close", () => done(false));
  });
}

/**
 * True when host:port, sent `hello` in plain TCP, answers with bytes `understood`
 * accepts (the protocol's own first reply); false for anything else, a close or
 * silence.
 */
export function answersPlain(
  host: string,
  port: number,
  hello: Uint8Array,
  understood: (first: Buffer) => boolean,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    let got = Buffer.alloc(0);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(got.length > 0 && understood(got)), timeoutMs);
    socket.once("connect", () => socket.write(hello));
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 8 || understood(got)) done(understood(got));
    });
    socket.once("error", () => done(false));
    socket.once("close", () => done(got.length > 0 && understood(got)));
  });
}

/** Redis: PING, answered "+PONG" or an error reply ("-NOAUTH …") by any Redis-speaking server. */
export const REDIS_HELLO = Buffer.from("PING\r\n");
export const redisUnderstood = (first: Buffer): boolean => first[0] === 0x2b || first[0] === 0x2d;

/** AMQP 0-9-1: the protocol header, answered by connection.start (a method frame) or the header it speaks. */
export const AMQP_HELLO = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
export const amqpUnderstood = (first: Buffer): boolean =>
  first[0] === 0x01 || first.subarray(0, 4).toString("latin1") === "AMQP";

/** Kafka: ApiVersions v0 (correlation id 1, no client id), answered with a response of that correlation id. */
export const KAFKA_HELLO = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
export const kafkaUnderstood = (first: Buffer): boolean => first.length >= 8 && first.readInt32BE(4) === 1;

/** MQTT 3.1.1: a CONNECT (clean session, no client id: the broker assigns one), answered by a CONNACK. */
export const MQTT_HELLO = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 0]);
export const mqttUnderstood = (first: Buffer): boolean => first[0] === 0x20;
