// The port probes on local servers: a TLS server (node:tls, a throwaway CA),
// one that answers the Redis greeting in plain, one that accepts and says
// nothing, one that closes at once, and a port nobody listens on. The probes
// against the real brokers are in the sources' integration tests.
import { type AddressInfo, createServer, type Server } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../devstack/mqtt-pki.ts";
import { freePort } from "../../devstack/odoo.ts";
import {
  AMQP_HELLO,
  amqpUnderstood,
  answersPlain,
  answersTls,
  probeTarget,
  REDIS_HELLO,
  redisUnderstood,
} from "./port-probe.ts";

let ca: TestCa;
const servers: Server[] = [];
const ports: Record<"tls" | "tlsClientCert" | "redis" | "silent" | "closing", number> = {
  tls: 0,
  tlsClientCert: 0,
  redis: 0,
  silent: 0,
  closing: 0,
};

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  ca = createTestCa("sfb-probe-test-ca");
  const server = ca.server();
  ports.tls = await listen(createTlsServer({ cert: server.cert, key: server.key }, (s) => s.end()));
  // TLS 1.2 and a client certificate required: the server answers a hello without one with an alert.
  ports.tlsClientCert = await listen(
    createTlsServer(
      {
        cert: server.cert,
        key: server.key,
        ca: ca.cert,
        requestCert: true,
        rejectUnauthorized: true,
        maxVersion: "TLSv1.2",
      },
      (s) => s.end(),
    ),
  );
  ports.redis = await listen(
    createServer((s) => s.once("data", () => s.write("-NOAUTH Authentication required.\r\n"))),
  );
  ports.silent = await listen(createServer(() => {}));
  ports.closing = await listen(createServer((s) => s.destroy()));
});

afterAll(async () => {
  for (const server of servers) {
    server.close();
    // A silent server keeps its accepted sockets open: close() waits for them otherwise.
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  }
  ca?.destroy();
});

describe("answersTls", () => {
  it("is true for a TLS server, whether it completes the handshake or answers it with an alert", async () => {
    expect(await answersTls("127.0.0.1", ports.tls)).toBe(true);
    expect(await answersTls("127.0.0.1", ports.tlsClientCert)).toBe(true);
  });

  it("is false for a plain server, a silent one, one that closes, and a closed port", async () => {
    expect(await answersTls("127.0.0.1", ports.redis, 500)).toBe(false);
    expect(await answersTls("127.0.0.1", ports.silent, 300)).toBe(false);
    expect(await answersTls("127.0.0.1", ports.closing)).toBe(false);
    expect(await answersTls("127.0.0.1", await freePort())).toBe(false);
  });
});

describe("answersPlain", () => {
  it("is true when the reply is the protocol's own", async () => {
    expect(await answersPlain("127.0.0.1", ports.redis, REDIS_HELLO, redisUnderstood)).toBe(true);
  });

  it("is false for another protocol's reply, a TLS server, a silent one, one that closes, and a closed port", async () => {
    expect(await answersPlain("127.0.0.1", ports.redis, AMQP_HELLO, amqpUnderstood)).toBe(false);
    expect(await answersPlain("127.0.0.1", ports.tls, REDIS_HELLO, redisUnderstood)).toBe(false);
    expect(await answersPlain("127.0.0.1", ports.silent, REDIS_HELLO, redisUnderstood, 300)).toBe(false);
    expect(await answersPlain("127.0.0.1", ports.closing, REDIS_HELLO, redisUnderstood)).toBe(false);
    expect(await answersPlain("127.0.0.1", await freePort(), REDIS_HELLO, redisUnderstood)).toBe(false);
  });
});

describe("probeTarget", () => {
  it("is the URL's host, an IPv6 address without brackets, and its port or the default", () => {
    expect(probeTarget(new URL("mqtt://[::1]:1884"), 1883)).toEqual({ host: "::1", port: 1884 });
    expect(probeTarget(new URL("rediss://cache.plant.local/0"), 6379)).toEqual({
      host: "cache.plant.local",
      port: 6379,
    });
  });
});
