import { describe, expect, it } from "vitest";
import { BackboneConfigError } from "../backbone-errors.ts";
import { redisTlsOptions, wantsTls } from "./tls.ts";

const fieldOf = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    if (err instanceof BackboneConfigError) return err.field;
    throw err;
  }
  return "(none)";
};

describe("Redis TLS settings", () => {
  it("is plain TCP for redis:// without backbone_tls, TLS for rediss:// or backbone_tls", () => {
    expect(redisTlsOptions("redis://h:6379/0", {})).toBeUndefined();
    expect(wantsTls("rediss://h:6380/0", {})).toBe(true);
    expect(wantsTls("rediss+cluster://n1,n2", {})).toBe(true);
    expect(wantsTls("redis+cluster://n1,n2", {})).toBe(false);
    expect(wantsTls("redis+cluster://n1,n2", { tls: true })).toBe(true);
    expect(wantsTls("rediss+sentinel://s1/m", {})).toBe(true);
    expect(wantsTls("redis+sentinel://s1/m", {})).toBe(false);
    expect(redisTlsOptions("redis://h:6379/0", { tls: true })).toEqual({ rejectUnauthorized: true });
    expect(redisTlsOptions("rediss://h:6380/0", { reject_unauthorized: false })).toEqual({ rejectUnauthorized: false });
  });

  it("names the field to fix for settings that cannot work", () => {
    expect(fieldOf(() => redisTlsOptions("redis://h:6379/0", { ca: "-----BEGIN CERTIFICATE-----" }))).toBe(
      "backbone_tls",
    );
    expect(fieldOf(() => redisTlsOptions("rediss://h/0", { client_cert: "x" }))).toBe("backbone_client_key");
    expect(fieldOf(() => redisTlsOptions("rediss://h/0", { client_key: "x" }))).toBe("backbone_client_cert");
    expect(fieldOf(() => redisTlsOptions("rediss://h/0", { ca: "not a certificate" }))).toBe("backbone_ca");
    expect(() => redisTlsOptions("rediss://h/0", { ca: "not a certificate" })).toThrow(
      /backbone_ca holds no PEM certificate/,
    );
  });
});
