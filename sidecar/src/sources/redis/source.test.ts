import { describe, expect, it } from "vitest";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import {
  DEFAULT_CLAIM_IDLE_MS,
  DEFAULT_GROUP,
  DEFAULT_PREFETCH,
  defaultConsumer,
  layoutFailure,
  RedisStreamSource,
  redisOptionsFromConfig,
} from "./source.ts";

const backbone: BackboneConfig = {
  url: "redis://redis.plant:6379/2",
  names: ["plant:line1", "plant:line2"],
  group: "sidecars",
  consumer: "edge-1",
  username: "sfb",
  password: "secret",
  tls: false,
  ca: "",
  reject_unauthorized: true,
  client_cert: "",
  client_key: "",
  prefetch: 200,
  sasl_mechanism: "",
  claim_idle_ms: 30_000,
};
const config = (over: Partial<BackboneConfig> | false) =>
  ({ code: "PLANT1", kind: "redis", backbone: over === false ? false : { ...backbone, ...over } }) as SidecarConfig;

describe("redisOptionsFromConfig", () => {
  it("takes every backbone field the Redis source uses", () => {
    const opts = redisOptionsFromConfig(config({}));
    expect(opts).toMatchObject({
      connection: "PLANT1",
      url: "redis://redis.plant:6379/2",
      streams: ["plant:line1", "plant:line2"],
      group: "sidecars",
      consumer: "edge-1",
      username: "sfb",
      password: "secret",
      prefetch: 200,
      claimIdleMs: 30_000,
    });
    expect(opts.tls).toMatchObject({ tls: false, reject_unauthorized: true });
  });

  it("defaults what an older or sparse configuration leaves empty", () => {
    const opts = redisOptionsFromConfig(
      config({ group: "", consumer: "", prefetch: 0, claim_idle_ms: 0, username: "" }),
    );
    expect(opts.group).toBe(DEFAULT_GROUP);
    expect(opts.consumer).toBe(defaultConsumer("PLANT1"));
    expect(opts.prefetch).toBe(DEFAULT_PREFETCH);
    expect(opts.claimIdleMs).toBe(DEFAULT_CLAIM_IDLE_MS);
    expect(opts).not.toHaveProperty("username");
  });

  it("refuses a connection without backbone settings, naming backbone_url", () => {
    expect(() => redisOptionsFromConfig(config(false))).toThrow(BackboneConfigError);
    expect(() => redisOptionsFromConfig(config(false))).toThrow(/kind redis needs the backbone settings/);
  });
});

describe("a Redis URL's query", () => {
  it("is refused at start, naming backbone_url, before any connection: ioredis would take it for its own options", async () => {
    for (const url of [
      "redis://127.0.0.1:1/0?socketTimeout=0",
      "rediss://cache.example:6380?ssl_cert_reqs=required",
      "redis://127.0.0.1:1/0#x",
    ]) {
      const source = new RedisStreamSource({ connection: "Q", url, streams: ["s"], group: "g", consumer: "c" });
      const refused = await source.start({} as never).catch((err: unknown) => err);
      expect(refused, url).toBeInstanceOf(BackboneConfigError);
      expect(refused).toMatchObject({ field: "backbone_url" });
      expect((refused as Error).message).toContain("a Redis URL here has no ?query or #fragment (redis://host:6379/0)");
    }
  });
});

describe("layoutFailure", () => {
  const url = "redis://redis.plant:6379";
  const streams = ["line1", "line2"];
  const said = (message: string) => layoutFailure(new Error(message), url, streams);

  it("names backbone_url for a replica and for a cluster node that does not serve a stream", () => {
    expect(said("READONLY You can't write against a read only replica.")).toMatchObject({
      field: "backbone_url",
      message: expect.stringMatching(/^redis redis:\/\/redis\.plant:6379 is a read-only replica \(READONLY/),
    });
    for (const reply of ["MOVED 15224 10.0.0.7:6379", "ASK 15224 10.0.0.7:6379"]) {
      expect(said(reply)).toMatchObject({
        field: "backbone_url",
        message: expect.stringContaining("slot 15224 is on 10.0.0.7:6379"),
      });
    }
  });

  it("names backbone_names for streams in different slots, listing them", () => {
    const err = said("CROSSSLOT Keys in request don't hash to the same slot");
    expect(err).toBeInstanceOf(BackboneConfigError);
    expect(err?.field).toBe("backbone_names");
    expect(err?.message).toContain('"line1", "line2"');
  });

  it("leaves every other reply to the caller", () => {
    for (const reply of [
      "CLUSTERDOWN The cluster is down",
      "LOADING Redis is loading",
      "NOGROUP No such key",
      "ERR x",
    ]) {
      expect(said(reply)).toBeUndefined();
    }
  });
});
