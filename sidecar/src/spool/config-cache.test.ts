import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { configWithSecrets, TEST_BROKER_PASSWORD } from "../../test/support/spool/spool.contract.ts";
import { isClearFormat, keyId, openConfig, sealConfig } from "./config-cache.ts";

describe("config-cache", () => {
  const key = randomBytes(32);

  it("seals with a fresh nonce each time, and names the key only by a hash", () => {
    const one = sealConfig(configWithSecrets(), key);
    const two = sealConfig(configWithSecrets(), key);
    expect(one).not.toBe(two);
    expect(one).not.toContain(TEST_BROKER_PASSWORD);
    expect(one).toContain(keyId(key));
    expect(one).not.toContain(key.toString("hex").slice(0, 16));
    expect(isClearFormat(one)).toBe(false);
    expect(isClearFormat(JSON.stringify(configWithSecrets()))).toBe(true);
  });

  it("treats damaged secrets as absent, with the reason, never throwing", () => {
    const envelope = JSON.parse(sealConfig(configWithSecrets(), key));
    envelope.sealed.data = Buffer.from("tampered").toString("base64");
    const opened = openConfig(JSON.stringify(envelope), key);
    expect(opened.missingSecrets).toHaveLength(4);
    expect(opened.why).toMatch(/cannot be decrypted/);
  });

  it("binds the secrets to their connection: moved under another code they do not open", () => {
    const envelope = JSON.parse(sealConfig(configWithSecrets(), key));
    envelope.config.code = "line2";
    expect(openConfig(JSON.stringify(envelope), key).why).toMatch(/cannot be decrypted/);
  });

  it("reads an earlier version's clear text as it is (the spool migrates it on open)", () => {
    expect(openConfig(JSON.stringify(configWithSecrets()), key)).toEqual({
      config: configWithSecrets(),
      missingSecrets: [],
      why: "",
    });
  });
});
