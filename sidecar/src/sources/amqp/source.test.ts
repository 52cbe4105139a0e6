// The RabbitMQ source's settings, read without a broker: the URL into an
// endpoint (vhost, port, credentials, TLS) and sidecar_config into options.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { amqpEndpoint, amqpOptionsFromConfig, amqpUriQuery, DEFAULT_PREFETCH } from "./source.ts";

describe("amqpEndpoint", () => {
  it("reads vhost, port and credentials as the AMQP URI spec says", () => {
    expect(amqpEndpoint({ url: "amqp://rabbit" }).connect).toMatchObject({
      protocol: "amqp",
      hostname: "rabbit",
      port: 5672,
      vhost: "/",
      username: "guest",
      password: "guest",
    });
    expect(amqpEndpoint({ url: "amqp://u:p%40ss@rabbit:5673/plant%2Fone" }).connect).toMatchObject({
      port: 5673,
      vhost: "plant/one",
      username: "u",
      password: "p@ss",
    });
    expect(amqpEndpoint({ url: "amqp://rabbit/%2F" }).connect.vhost).toBe("/");
    // The Odoo fields win over credentials in the URL.
    expect(amqpEndpoint({ url: "amqp://u:p@rabbit", username: "sidecar", password: "s3cret" }).connect).toMatchObject({
      username: "sidecar",
      password: "s3cret",
    });
    expect(amqpEndpoint({ url: "amqp://[::1]:5672" }).connect.hostname).toBe("::1");
  });

  it("uses TLS for amqps:// and for backbone_tls, on 5671 unless a port is given", () => {
    expect(amqpEndpoint({ url: "amqps://rabbit" })).toMatchObject({
      tls: true,
      connect: { protocol: "amqps", port: 5671 },
    });
    expect(amqpEndpoint({ url: "amqp://rabbit", tls: { tls: true } })).toMatchObject({
      tls: true,
      connect: { protocol: "amqps", port: 5671 },
    });
    expect(amqpEndpoint({ url: "amqp://rabbit:5672" }).tls).toBe(false);
  });

  it("refuses URLs that cannot work, naming backbone_url", () => {
    for (const url of ["", "rabbit:5672", "http://rabbit", "mqtt://rabbit:1883"]) {
      const err = (() => {
        try {
          amqpEndpoint({ url });
        } catch (e) {
          return e;
        }
      })();
      expect(err, url).toBeInstanceOf(BackboneConfigError);
      expect(err).toMatchObject({ field: "backbone_url" });
    }
  });
});

describe("the AMQP URI's query (RabbitMQ's URI query parameters)", () => {
  const refusal = (url: string) => {
    try {
      amqpEndpoint({ url });
    } catch (e) {
      expect(e).toBeInstanceOf(BackboneConfigError);
      expect(e).toMatchObject({ field: "backbone_url" });
      return (e as Error).message;
    }
    throw new Error(`${url} was taken`);
  };

  it("reads heartbeat, connection_timeout, channel_max and frame_max; none given, the defaults", () => {
    const plain = amqpEndpoint({ url: "amqp://rabbit/plant" }, 15);
    expect(plain.connect.heartbeat).toBe(15);
    expect(plain.connectionTimeoutMs).toBe(10_000);
    expect(plain.connect).not.toHaveProperty("channelMax");
    const set = amqpEndpoint(
      { url: "amqp://rabbit/plant?heartbeat=5&connection_timeout=2500&channel_max=64&frame_max=131072" },
      15,
    );
    expect(set.connect).toMatchObject({ heartbeat: 5, channelMax: 64, frameMax: 131072, vhost: "plant" });
    expect(set.connectionTimeoutMs).toBe(2_500);
    // A cluster's node list, and amqps://, take the same query.
    const nodes = amqpEndpoint({ url: "amqps://n1:5671,n2/plant?heartbeat=30" });
    expect(nodes.connect.heartbeat).toBe(30);
    expect(nodes.nodes.map((n) => n.where)).toEqual(["n1:5671/plant", "n2:5671/plant"]);
    expect(amqpEndpoint({ url: "amqp://rabbit?frame_max=0&channel_max=0" }).connect).toMatchObject({
      frameMax: 0,
      channelMax: 0,
    });
  });

  it("refuses what it would not read, naming backbone_url and what to do instead", () => {
    expect(refusal("amqp://rabbit/plant?heartbeat=0")).toContain(
      "heartbeat=0: heartbeat is a whole number of seconds from 1 to 65535 (0 would turn heartbeats off",
    );
    expect(refusal("amqp://rabbit?heartbeat=65536")).toContain("heartbeat=65536");
    expect(refusal("amqp://rabbit?heartbeat=5s")).toContain("heartbeat=5s");
    expect(refusal("amqp://rabbit?heartbeat=")).toContain("heartbeat=:");
    expect(refusal("amqp://rabbit?heartbeat")).toContain("heartbeat=:");
    expect(refusal("amqp://rabbit?heartbeat=5&heartbeat=6")).toContain("the query names heartbeat twice");
    expect(refusal("amqp://rabbit?frame_max=1024")).toContain("frame_max=1024");
    expect(refusal("amqp://rabbit?connection_timeout=0")).toContain("milliseconds from 1 to 3600000");
    expect(refusal("amqp://rabbit?heartbeats=5")).toContain(
      '"heartbeats" is no query parameter the sidecar reads (heartbeat, connection_timeout, channel_max, frame_max)',
    );
    expect(refusal("amqps://rabbit?cacertfile=/etc/ca.pem")).toContain(
      'the query parameter "cacertfile" is not read here: TLS is set on the connection',
    );
    expect(refusal("amqp://rabbit?auth_mechanism=external")).toContain("Queue user and Queue password");
  });

  it("any query is read or refused with a BackboneConfigError, never anything else (fast-check)", () => {
    const name = fc.constantFrom("heartbeat", "connection_timeout", "channel_max", "frame_max", "verify", "x", "");
    const value = fc.oneof(fc.nat({ max: 5_000_000_000 }).map(String), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 4 }), (pairs) => {
        const query = pairs.map(([k, v]) => `${k}=${v}`).join("&");
        try {
          const read = amqpUriQuery("amqp://rabbit", query);
          for (const v of Object.values(read)) expect(Number.isSafeInteger(v)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(BackboneConfigError);
        }
      }),
    );
  });
});

describe("amqpEndpoint with several nodes (a RabbitMQ cluster)", () => {
  it("reads every node, each with the scheme's port unless it names one, and one vhost and login for all", () => {
    const endpoint = amqpEndpoint({ url: "amqp://u:p%40ss@node1:5673,node2,[::1]:5674/plant%2Fone" });
    expect(endpoint.nodes).toEqual([
      { hostname: "node1", port: 5673, where: "node1:5673/plant%2Fone" },
      { hostname: "node2", port: 5672, where: "node2:5672/plant%2Fone" },
      { hostname: "::1", port: 5674, where: "[::1]:5674/plant%2Fone" },
    ]);
    expect(endpoint.connect).toMatchObject({
      hostname: "node1",
      port: 5673,
      vhost: "plant/one",
      username: "u",
      password: "p@ss",
    });
    expect(endpoint.where).toBe("node1:5673,node2:5672,[::1]:5674/plant%2Fone");
    expect(amqpEndpoint({ url: "amqps://a,b:5999" }).nodes.map((n) => n.port)).toEqual([5671, 5999]);
    // One host is one node.
    expect(amqpEndpoint({ url: "amqp://rabbit" }).nodes).toEqual([
      { hostname: "rabbit", port: 5672, where: "rabbit:5672/" },
    ]);
  });

  it("refuses a node list with an empty entry, a port out of range or a stray character, naming backbone_url", () => {
    for (const url of [
      "amqp://a,,b/v",
      "amqp://a,b,/v",
      "amqp://,a/v",
      "amqp://a,b:70000/v",
      "amqp://a,b:0/v",
      "amqp://a,b:x/v",
      "amqp://a,[::1/v",
      "amqp://a, b/v",
    ]) {
      expect(() => amqpEndpoint({ url }), url).toThrow(BackboneConfigError);
      expect(() => amqpEndpoint({ url }), url).toThrow(/backbone_url/);
    }
  });

  it("reads back any node list it is given (fast-check)", () => {
    const host = fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    );
    const node = fc.record({ host, port: fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(node, { minLength: 2, maxLength: 5 }), fc.boolean(), (nodes, tls) => {
        const list = nodes.map((n) => (n.port === undefined ? n.host : `${n.host}:${n.port}`)).join(",");
        const endpoint = amqpEndpoint({ url: `${tls ? "amqps" : "amqp"}://${list}/plant` });
        expect(endpoint.tls).toBe(tls);
        expect(endpoint.connect.vhost).toBe("plant");
        expect(endpoint.nodes.map((n) => [n.hostname, n.port])).toEqual(
          nodes.map((n) => [n.host.replace(/^\[|\]$/g, ""), n.port ?? (tls ? 5671 : 5672)]),
        );
      }),
    );
  });
});

describe("amqpOptionsFromConfig", () => {
  const backbone: BackboneConfig = {
    url: "amqp://rabbit/plant",
    names: ["line1", "line2"],
    group: "",
    consumer: "",
    username: "sidecar",
    password: "pw",
    tls: false,
    ca: "",
    reject_unauthorized: true,
    client_cert: "",
    client_key: "",
    prefetch: 0,
    sasl_mechanism: "",
    claim_idle_ms: 30_000,
  };

  it("takes the backbone block; prefetch 0 means the default", () => {
    const opts = amqpOptionsFromConfig({ code: "RMQ", backbone } as unknown as SidecarConfig);
    expect(opts).toMatchObject({
      connection: "RMQ",
      url: "amqp://rabbit/plant",
      queues: ["line1", "line2"],
      username: "sidecar",
      password: "pw",
      prefetch: DEFAULT_PREFETCH,
    });
  });

  it("a connection without the backbone block is a configuration error", () => {
    expect(() => amqpOptionsFromConfig({ code: "RMQ", backbone: false } as unknown as SidecarConfig)).toThrow(
      BackboneConfigError,
    );
  });
});
