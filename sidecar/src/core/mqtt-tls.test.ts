import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type PemPair, type TestCa } from "../../devstack/mqtt-pki.ts";
import { describeMqttTlsFailure, MqttTlsError, type MqttTlsSettings, mqttTlsOptions } from "./mqtt-tls.ts";

const TLS_URL = "mqtts://broker.plant:8883";

/** The MqttTlsError `run` throws, so a test can look at its field and message. */
function refusal(run: () => unknown): MqttTlsError {
  try {
    run();
  } catch (err) {
    if (err instanceof MqttTlsError) return err;
    throw err;
  }
  throw new Error("expected an MqttTlsError, nothing was thrown");
}

describe("mqttTlsOptions", () => {
  let ca: TestCa;
  let other: TestCa;
  let client: PemPair;
  let stranger: PemPair;
  let encryptedKey: string;
  beforeAll(() => {
    ca = createTestCa("unit-ca");
    other = createTestCa("unit-other-ca");
    client = ca.client("sidecar");
    stranger = other.client("stranger");
    const encrypted = join(ca.dir, "encrypted.key");
    execFileSync("openssl", ["pkey", "-in", client.keyFile, "-aes256", "-passout", "pass:secret", "-out", encrypted]);
    encryptedKey = readFileSync(encrypted, "utf8");
  });
  afterAll(() => {
    ca?.destroy();
    other?.destroy();
  });

  it("verifies the broker by default, with the system store when no CA is given", () => {
    expect(mqttTlsOptions("mqtt://127.0.0.1:1883", undefined)).toEqual({ rejectUnauthorized: true });
    expect(mqttTlsOptions(TLS_URL, {})).toEqual({ rejectUnauthorized: true });
    expect(mqttTlsOptions(TLS_URL, { ca: "", reject_unauthorized: true, client_cert: "", client_key: "" })).toEqual({
      rejectUnauthorized: true,
    });
  });

  it("passes the connection's CA, and turns verification off only when told", () => {
    expect(mqttTlsOptions(TLS_URL, { ca: ca.cert, reject_unauthorized: true })).toEqual({
      rejectUnauthorized: true,
      ca: [ca.cert.trim()],
    });
    expect(mqttTlsOptions(TLS_URL, { ca: ca.cert, reject_unauthorized: false }).rejectUnauthorized).toBe(false);
    expect(mqttTlsOptions(TLS_URL, { reject_unauthorized: false })).toEqual({ rejectUnauthorized: false });
  });

  it("reads an older Odoo's mqtt block (no client_cert / client_key keys) as no client certificate", () => {
    const olderOdoo = JSON.parse(JSON.stringify({ ca: ca.cert, reject_unauthorized: true })) as MqttTlsSettings;
    const options = mqttTlsOptions(TLS_URL, olderOdoo);
    expect(options.cert).toBeUndefined();
    expect(options.key).toBeUndefined();
    expect(options.ca).toHaveLength(1);
  });

  it("takes a CA bundle of several certificates, and PEM pasted with CRLF line ends", () => {
    const bundle = `${ca.cert}\n${other.cert}`.replace(/\n/g, "\r\n");
    const options = mqttTlsOptions(TLS_URL, { ca: bundle });
    expect(options.ca).toEqual([ca.cert.trim(), other.cert.trim()]);
  });

  it("passes a client certificate with its key (mTLS), on every TLS scheme", () => {
    for (const url of [TLS_URL, "tls://h:8883", "ssl://h:8883", "wss://h/mqtt"]) {
      const options = mqttTlsOptions(url, { ca: ca.cert, client_cert: client.cert, client_key: client.key });
      expect(options).toEqual({
        rejectUnauthorized: true,
        ca: [ca.cert.trim()],
        cert: client.cert.trim(),
        key: client.key.trim(),
      });
    }
    // A client certificate alone (the broker's certificate checked against the system store).
    expect(mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: client.key }).cert).toBe(client.cert.trim());
  });

  it("refuses a client certificate without its key, and a key without its certificate", () => {
    const noKey = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: "" }));
    expect(noKey.field).toBe("mqtt_client_key");
    expect(noKey.message).toMatch(/mqtt_client_cert is set but mqtt_client_key is empty/);
    const noCert = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: "  ", client_key: client.key }));
    expect(noCert.field).toBe("mqtt_client_cert");
    expect(noCert.message).toMatch(/mqtt_client_key is set but mqtt_client_cert is empty/);
  });

  it("refuses PEM that does not parse, naming the field", () => {
    const garbage = refusal(() => mqttTlsOptions(TLS_URL, { ca: "not a certificate" }));
    expect(garbage.field).toBe("mqtt_ca");
    expect(garbage.message).toMatch(/mqtt_ca holds no PEM certificate/);

    const damaged = ca.cert.replace(/\n[A-Za-z0-9+/]{20}/, "\n!!!!!!!!!!!!!!!!!!!!");
    const broken = refusal(() => mqttTlsOptions(TLS_URL, { ca: damaged }));
    expect(broken.field).toBe("mqtt_ca");
    expect(broken.message).toMatch(/mqtt_ca: certificate 1 of 1 does not parse/);

    const badCert = refusal(() =>
      mqttTlsOptions(TLS_URL, {
        client_cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        client_key: client.key,
      }),
    );
    expect(badCert.field).toBe("mqtt_client_cert");
    expect(badCert.message).toMatch(/mqtt_client_cert: certificate 1 of 1 does not parse/);

    const badKey = refusal(() =>
      mqttTlsOptions(TLS_URL, {
        client_cert: client.cert,
        client_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
      }),
    );
    expect(badKey.field).toBe("mqtt_client_key");
    expect(badKey.message).toMatch(/mqtt_client_key does not parse/);
  });

  it("says which field PEM pasted into the wrong field belongs to", () => {
    const keyAsCa = refusal(() => mqttTlsOptions(TLS_URL, { ca: client.key }));
    expect(keyAsCa.field).toBe("mqtt_ca");
    expect(keyAsCa.message).toMatch(/holds a private key; paste the CA's certificate instead/);
    const swapped = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.key, client_key: client.cert }));
    expect(swapped.field).toBe("mqtt_client_cert");
    expect(swapped.message).toMatch(/holds a private key, which belongs in mqtt_client_key/);
    const certAsKey = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: client.cert }));
    expect(certAsKey.field).toBe("mqtt_client_key");
    expect(certAsKey.message).toMatch(/holds a certificate, not a private key/);
  });

  it("refuses a passphrase-protected key, and a key that is not the certificate's", () => {
    const encrypted = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: encryptedKey }));
    expect(encrypted.field).toBe("mqtt_client_key");
    expect(encrypted.message).toMatch(/encrypted with a passphrase/);
    const mismatch = refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: stranger.key }));
    expect(mismatch.field).toBe("mqtt_client_key");
    expect(mismatch.message).toMatch(/mqtt_client_key does not belong to mqtt_client_cert \(subject CN=sidecar\)/);
  });

  it("refuses certificates on a plain URL: TLS needs mqtts://", () => {
    for (const url of ["mqtt://127.0.0.1:1883", "tcp://h:1883", "ws://h/mqtt"]) {
      const withCa = refusal(() => mqttTlsOptions(url, { ca: ca.cert }));
      expect(withCa.field).toBe("mqtt_url");
      expect(withCa.message).toMatch(
        /mqtt_url .* is plain MQTT, but the connection has mqtt_ca set: TLS needs mqtts:\/\//,
      );
    }
    const floorTarget = refusal(() =>
      mqttTlsOptions("mqtt://hmi:1883", { client_cert: client.cert, client_key: client.key }, "the floor target's url"),
    );
    expect(floorTarget.message).toMatch(
      /the floor target's url mqtt:\/\/hmi:1883 is plain MQTT, but the connection has mqtt_client_cert, mqtt_client_key set/,
    );
    // Verification off without certificates means nothing on a plain URL: no reason to refuse.
    expect(mqttTlsOptions("mqtt://127.0.0.1:1883", { reject_unauthorized: false })).toEqual({
      rejectUnauthorized: false,
    });
  });

  it("never puts PEM text or key material in a message", () => {
    const errors = [
      refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.cert, client_key: stranger.key })),
      refusal(() => mqttTlsOptions(TLS_URL, { client_cert: client.key, client_key: client.cert })),
      refusal(() => mqttTlsOptions("mqtt://h", { client_cert: client.cert, client_key: client.key })),
    ];
    const bodyLines = [client.cert, client.key, stranger.key].flatMap((pem) =>
      pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----")),
    );
    for (const err of errors) for (const line of bodyLines) expect(err.message).not.toContain(line);
  });
});

describe("describeMqttTlsFailure", () => {
  const failure = (code: string | number | undefined, message = "handshake") =>
    Object.assign(new Error(message), code === undefined ? {} : { code });
  const withCa: MqttTlsSettings = { ca: "-----BEGIN CERTIFICATE-----", client_cert: "", client_key: "" };
  const withCert: MqttTlsSettings = { ca: "", client_cert: "-----BEGIN CERTIFICATE-----", client_key: "k" };

  it("an untrusted broker certificate: fix mqtt_ca", () => {
    for (const code of [
      "SELF_SIGNED_CERT_IN_CHAIN",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
    ]) {
      const err = describeMqttTlsFailure(failure(code), TLS_URL, withCa);
      expect(err?.field).toBe("mqtt_ca");
      expect(err?.message).toMatch(/not signed by the CA in mqtt_ca/);
    }
    expect(describeMqttTlsFailure(failure("SELF_SIGNED_CERT_IN_CHAIN"), TLS_URL, {})?.message).toMatch(
      /a CA of the system store \(mqtt_ca is empty\)/,
    );
    // MQTT.js's own error when Node did not authorize the broker.
    expect(describeMqttTlsFailure(failure(undefined, "TLS not authorized"), TLS_URL, withCa)?.field).toBe("mqtt_ca");
  });

  it("a broker certificate for another name, or out of date", () => {
    expect(describeMqttTlsFailure(failure("ERR_TLS_CERT_ALTNAME_INVALID"), TLS_URL, withCa)?.field).toBe("mqtt_url");
    expect(describeMqttTlsFailure(failure("CERT_HAS_EXPIRED"), TLS_URL, withCa)?.field).toBe(
      "mqtt_reject_unauthorized",
    );
  });

  it("a broker refusing the client: fix mqtt_client_cert", () => {
    const missing = describeMqttTlsFailure(failure("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"), TLS_URL, withCa);
    expect(missing?.field).toBe("mqtt_client_cert");
    expect(missing?.message).toMatch(/requires a client certificate and mqtt_client_cert is empty/);
    const tls12 = describeMqttTlsFailure(
      failure("EPROTO", "write EPROTO ...:ssl/tls alert handshake failure:..."),
      TLS_URL,
      withCa,
    );
    expect(tls12?.field).toBe("mqtt_client_cert");
    for (const code of ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"]) {
      const refused = describeMqttTlsFailure(failure(code), TLS_URL, withCert);
      expect(refused?.field).toBe("mqtt_client_cert");
      expect(refused?.message).toMatch(/refused the client certificate in mqtt_client_cert/);
    }
  });

  it("leaves errors that are not about TLS settings alone", () => {
    expect(describeMqttTlsFailure(failure("ECONNREFUSED"), TLS_URL, withCa)).toBeUndefined();
    expect(describeMqttTlsFailure(failure("ECONNRESET"), TLS_URL, withCa)).toBeUndefined();
    expect(
      describeMqttTlsFailure(failure("EPROTO", "write EPROTO wrong version number"), TLS_URL, withCa),
    ).toBeUndefined();
    expect(describeMqttTlsFailure(failure(5, "Connection refused: Not authorized"), TLS_URL, withCa)).toBeUndefined();
  });
});
