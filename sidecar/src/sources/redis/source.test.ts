import { describe, expect, it } from "vitest";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import {
  DEFAULT_CLAIM_IDLE_MS,
  DEFAULT_GROUP,
  DEFAULT_PREFETCH,
  defaultConsumer,
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
