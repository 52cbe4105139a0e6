// The RabbitMQ source's settings, read without a broker: the URL into an
// endpoint (vhost, port, credentials, TLS) and sidecar_config into options.
import { describe, expect, it } from "vitest";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { amqpEndpoint, amqpOptionsFromConfig, DEFAULT_PREFETCH } from "./source.ts";

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
