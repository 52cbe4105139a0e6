import { generateKeyPairSync } from "node:crypto";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../ops/log.ts";
import { findSecrets, isSecretField, REDACTED, Redactor, restoreSecrets, stripSecrets } from "./secrets.ts";

const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const pemBody = pem.split("\n")[1] as string;

describe("what counts as a secret", () => {
  it("names secret fields, and not their neighbours", () => {
    for (const name of [
      "password",
      "mqtt_password",
      "client_key",
      "private_key",
      "user_private_key",
      "api_key",
      "token",
    ])
      expect(isSecretField(name), name).toBe(true);
    for (const name of ["username", "client_cert", "ca", "key_ms", "client_id", "reject_unauthorized", "keywords"])
      expect(isSecretField(name), name).toBe(false);
  });

  it("finds named fields, private keys elsewhere and URL passwords; strips and restores them", () => {
    const config = {
      mqtt: { url: "mqtt://u:p%40ss@h:1883", password: "pw", username: "u", client_key: pem, ca: "" },
      rules: [{ params: { note: `key ${pem}` } }],
      opcua: { password: "" },
    };
    expect(findSecrets(config).map((s) => [s.path.join("."), s.hidden])).toEqual([
      ["mqtt.url", "mqtt://u@h:1883"],
      ["mqtt.password", ""],
      ["mqtt.client_key", ""],
      ["rules.0.params.note", ""],
    ]);
    const { stripped, secrets } = stripSecrets(config);
    expect(JSON.stringify(stripped)).not.toMatch(/p%40ss|"pw"|PRIVATE KEY/);
    expect(restoreSecrets(stripped, secrets)).toEqual(config);
  });
});

describe("Redactor", () => {
  it("hides registered values (raw and JSON-escaped), private keys, URL passwords and secret JSON fields", () => {
    const redactor = new Redactor();
    redactor.add("odoo-api-key-0123456789");
    const text = redactor.text(
      [
        "calling with odoo-api-key-0123456789",
        JSON.stringify({ err: `bad key ${pem}` }),
        "connect mqtts://sidecar:broker-pass@broker:8883 failed",
        JSON.stringify({ mqtt: { password: "x1", username: "u" } }),
      ].join("\n"),
    );
    expect(text).not.toMatch(/odoo-api-key-0123456789|broker-pass|"x1"|BEGIN PRIVATE KEY-----\\nM/);
    expect(text).not.toContain(pemBody);
    expect(text).toContain(`mqtts://sidecar:${REDACTED}@broker:8883`);
    expect(text).toContain('"username":"u"');
  });

  it("registers a configuration's secrets: a URL's password alone is hidden too", () => {
    const redactor = new Redactor();
    redactor.addSecretsOf({
      mqtt: { url: "mqtt://u:long-url-password@h", client_key: pem, password: "broker-password-1" },
    });
    const out = redactor.text(`auth failed for long-url-password; broker-password-1; one line: ${pemBody}`);
    expect(out).toBe(`auth failed for ${REDACTED}; ${REDACTED}; one line: ${REDACTED}`);
  });

  it("does not search for short values (they would blank out ordinary words)", () => {
    const redactor = new Redactor();
    redactor.add("sidecar");
    expect(redactor.text("shopfloor-sidecar running")).toBe("shopfloor-sidecar running");
  });

  it("cleans every line the logger writes", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const redactor = new Redactor();
    const log = createLogger("info", sink, redactor);
    redactor.add("registered-after-the-logger");
    log.warn({ err: "connect to mqtt://a:b-pass@host refused", key: pem }, "registered-after-the-logger");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/b-pass|registered-after-the-logger/);
    expect(lines[0]).not.toContain(pemBody);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 40, msg: REDACTED });
  });
});
