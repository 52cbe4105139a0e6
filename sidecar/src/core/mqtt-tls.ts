// The one place where a connection's MQTT TLS settings (sidecar_config's
// mqtt block: ca, reject_unauthorized, client_cert, client_key) become
// MQTT.js options. Every MQTT client of the sidecar — the JSON source, the
// Sparkplug host, the MQTT and Sparkplug floor writers — spreads its result
// into its connect options, and reads a failed handshake through
// `describeMqttTlsFailure`, so the admin is told which connection field to fix.
//
// The server name is left to MQTT.js: it sends the URL's host name as SNI
// and Node checks the broker's certificate against it (for an IP address,
// against the certificate's IP subjectAltName).
import type { SidecarConfig } from "./contract.ts";
import { normalizePem, type PemError, pemCertificates, pemPrivateKey } from "./pem.ts";
import { answersPlain, answersTls, MQTT_HELLO, mqttUnderstood, probeTarget } from "./port-probe.ts";

export type MqttConnectionBlock = Exclude<SidecarConfig["mqtt"], false>;

/** The TLS fields of the mqtt block; any may be missing (an older Odoo sends no client_cert / client_key). */
export type MqttTlsSettings = Partial<
  Pick<MqttConnectionBlock, "ca" | "reject_unauthorized" | "client_cert" | "client_key">
>;

/** The connection fields an admin edits in Odoo (shopfloor.connection). */
export type MqttTlsField = "mqtt_ca" | "mqtt_client_cert" | "mqtt_client_key" | "mqtt_reject_unauthorized" | "mqtt_url";

/** TLS options in MQTT.js's (and Node's `tls.connect`) terms. */
export interface MqttTlsClientOptions {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
}

/** TLS set up wrongly or refused; `field` names the connection field to fix. */
export class MqttTlsError extends Error {
  override name = "MqttTlsError";
  readonly field: MqttTlsField;

  constructor(field: MqttTlsField, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.field = field;
  }
}

const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:", "wss:", "wxs:", "alis:"]);

/**
 * MQTT.js options for `url` with the connection's TLS settings. Throws an
 * MqttTlsError for settings that cannot work: a certificate without its key
 * (or the reverse), PEM that does not parse, a key that does not belong to
 * the certificate, certificates configured for a plain (mqtt://) URL.
 * `urlField` names where the URL came from, for that last message.
 */
export function mqttTlsOptions(
  url: string,
  settings: MqttTlsSettings | undefined,
  urlField = "mqtt_url",
): MqttTlsClientOptions {
  const ca = normalizePem(settings?.ca);
  const cert = normalizePem(settings?.client_cert);
  const key = normalizePem(settings?.client_key);
  const options: MqttTlsClientOptions = { rejectUnauthorized: settings?.reject_unauthorized !== false };

  const configured = [ca && "mqtt_ca", cert && "mqtt_client_cert", key && "mqtt_client_key"].filter(Boolean);
  if (configured.length > 0 && !TLS_SCHEMES.has(schemeOf(url))) {
    throw new MqttTlsError(
      "mqtt_url",
      `${urlField} ${url} is plain MQTT, but the connection has ${configured.join(", ")} set: ` +
        `TLS needs mqtts:// (change ${urlField} to mqtts://host:8883, or clear ${configured.join(", ")})`,
    );
  }
  if (cert && !key) {
    throw new MqttTlsError(
      "mqtt_client_key",
      "mqtt_client_cert is set but mqtt_client_key is empty: a client certificate needs its private key",
    );
  }
  if (key && !cert) {
    throw new MqttTlsError(
      "mqtt_client_cert",
      "mqtt_client_key is set but mqtt_client_cert is empty: the private key needs its client certificate",
    );
  }
  if (ca) {
    const hint = "it holds a private key; paste the CA's certificate instead (never its key)";
    options.ca = pemCertificates(ca, "mqtt_ca", hint, fail).map((c) => c.pem);
  }
  if (cert && key) {
    const hint = "it holds a private key, which belongs in mqtt_client_key";
    const leaf = pemCertificates(cert, "mqtt_client_cert", hint, fail)[0]?.parsed;
    const privateKey = pemPrivateKey(key, "mqtt_client_key", "mqtt_client_cert", fail);
    if (leaf && !leaf.checkPrivateKey(privateKey)) {
      throw new MqttTlsError(
        "mqtt_client_key",
        `mqtt_client_key does not belong to mqtt_client_cert (subject ${leaf.subject.replace(/\n/g, ", ")}): ` +
          "paste the key the certificate was issued for",
      );
    }
    options.cert = cert;
    options.key = key;
  }
  return options;
}

/** Node's TLS error codes (and OpenSSL alerts) of a handshake the settings, not the network, made fail. */
export const BROKER_NOT_TRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
export const BROKER_CERT_OUT_OF_DATE = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
export const CLIENT_CERT_REFUSED = new Set([
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
]);

/**
 * The connection field to fix when a connection to `url` failed in its TLS
 * handshake, as an MqttTlsError; undefined for other errors (a broker that is
 * down, a refused CONNACK), which are not about TLS settings.
 */
export function describeMqttTlsFailure(
  err: Error,
  url: string,
  settings: MqttTlsSettings | undefined,
): MqttTlsError | undefined {
  if (err instanceof MqttTlsError) return err;
  const code = String((err as { code?: unknown }).code ?? "");
  const hasCa = normalizePem(settings?.ca) !== "";
  const hasCert = normalizePem(settings?.client_cert) !== "";
  const detail = `${code || err.message}`;
  // TLS 1.2 brokers answer a missing or refused client certificate with a bare
  // handshake-failure alert, which Node reports as EPROTO with OpenSSL's text only.
  const handshakeAlert = code === "EPROTO" && /alert handshake failure/.test(err.message);
  const fail = (field: MqttTlsField, message: string) =>
    new MqttTlsError(field, `TLS to ${url} failed (${detail}): ${message}`, { cause: err });

  // MQTT.js's own words when Node accepted the handshake but did not authorize the peer.
  if (BROKER_NOT_TRUSTED.has(code) || (!code && err.message === "TLS not authorized")) {
    return fail(
      "mqtt_ca",
      `the broker's certificate is not signed by ${hasCa ? "the CA in mqtt_ca" : "a CA of the system store (mqtt_ca is empty)"}: ` +
        "set mqtt_ca to the PEM of the CA that signed the broker's certificate " +
        "(turning off mqtt_reject_unauthorized also connects, but then anyone can pose as the broker)",
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return fail(
      "mqtt_url",
      "the broker's certificate does not carry the host name of mqtt_url: connect by a name or address " +
        "its subjectAltName lists (or have the broker's certificate reissued for this name)",
    );
  }
  if (BROKER_CERT_OUT_OF_DATE.has(code)) {
    return fail(
      "mqtt_reject_unauthorized",
      "the broker's certificate is outside its validity dates (renew it on the broker, or check this PC's clock); " +
        "mqtt_reject_unauthorized off would skip the check",
    );
  }
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" || (handshakeAlert && !hasCert)) {
    return fail(
      "mqtt_client_cert",
      hasCert
        ? "the broker asked for a client certificate and did not get one it accepts: check mqtt_client_cert and mqtt_client_key"
        : "the broker requires a client certificate and mqtt_client_cert is empty: " +
            "set mqtt_client_cert and mqtt_client_key to a certificate the broker's CA issued and its key",
    );
  }
  if (CLIENT_CERT_REFUSED.has(code) || (handshakeAlert && hasCert)) {
    return fail(
      "mqtt_client_cert",
      "the broker refused the client certificate in mqtt_client_cert (not issued by a CA the broker trusts, " +
        "expired or revoked): set mqtt_client_cert and mqtt_client_key to a certificate the broker's CA issued",
    );
  }
  return undefined;
}

function schemeOf(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return "";
  }
}

/** A configuration error for the connection field to fix. */
const fail: PemError<MqttTlsField> = (field, message, cause) =>
  new MqttTlsError(field, message, cause === undefined ? undefined : { cause });

/**
 * An MQTT connection the broker's port reset at once: a TLS port asked in plain MQTT, or
 * a plain port asked in TLS, does so (a broker going down too). The port is asked once
 * what it speaks (a TLS hello; an MQTT CONNECT in plain); a mix-up names mqtt_url.
 * WebSocket URLs are left alone (a web server in front answers either way).
 */
export async function mqttPortMixup(url: string, err: Error | undefined): Promise<MqttTlsError | undefined> {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "ECONNRESET" && code !== "EPIPE") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  const tls = scheme === "mqtts" || scheme === "ssl" || scheme === "tls";
  if (!tls && scheme !== "mqtt" && scheme !== "tcp") return undefined;
  const { host, port } = probeTarget(parsed, tls ? 8883 : 1883);
  const where = `${host}:${port}`;
  if (!tls) {
    if (!(await answersTls(host, port))) return undefined;
    return new MqttTlsError(
      "mqtt_url",
      `${where} speaks TLS, and mqtt_url is plain ${scheme}://: use mqtts:// for this port (8883 by default), ` +
        `or the broker's plain MQTT port (1883 by default) (${err?.message})`,
      { cause: err },
    );
  }
  if (!(await answersPlain(host, port, MQTT_HELLO, mqttUnderstood))) return undefined;
  return new MqttTlsError(
    "mqtt_url",
    `${where} speaks plain MQTT, without TLS, and mqtt_url is ${scheme}://: use mqtt:// for this port, ` +
      `or the broker's TLS port (8883 by default) (${err?.message})`,
    { cause: err },
  );
}
