// A connection's broker TLS settings (the backbone block: tls, ca,
// reject_unauthorized, client_cert, client_key) as Node's `tls.connect`
// options for amqplib, and a failed handshake read as the field to fix. The
// PEM reading is core/pem.ts's and the handshake codes are core/mqtt-tls.ts's,
// as the MQTT client uses them; only the field names differ.
import type { BackboneConfig } from "../../core/contract.ts";
import { BROKER_CERT_OUT_OF_DATE, BROKER_NOT_TRUSTED, CLIENT_CERT_REFUSED } from "../../core/mqtt-tls.ts";
import { normalizePem, type PemError, pemCertificates, pemPrivateKey } from "../../core/pem.ts";
import { BackboneConfigError, type BackboneField } from "../backbone-errors.ts";

export type AmqpTlsSettings = Partial<
  Pick<BackboneConfig, "tls" | "ca" | "reject_unauthorized" | "client_cert" | "client_key">
>;

export interface AmqpTlsOptions {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
}

const fail: PemError<BackboneField> = (field, message, cause) =>
  new BackboneConfigError(field, message, cause === undefined ? undefined : { cause });

/**
 * Node TLS options for a connection that uses TLS. Throws an BackboneConfigError
 * for settings that cannot work: a certificate without its key (or the
 * reverse), PEM that does not parse, a key that does not belong to the
 * certificate.
 */
export function amqpTlsOptions(settings: AmqpTlsSettings | undefined): AmqpTlsOptions {
  const ca = normalizePem(settings?.ca);
  const cert = normalizePem(settings?.client_cert);
  const key = normalizePem(settings?.client_key);
  const options: AmqpTlsOptions = { rejectUnauthorized: settings?.reject_unauthorized !== false };
  if (cert && !key) {
    throw fail(
      "backbone_client_key",
      "backbone_client_cert is set but backbone_client_key is empty: a client certificate needs its private key",
    );
  }
  if (key && !cert) {
    throw fail(
      "backbone_client_cert",
      "backbone_client_key is set but backbone_client_cert is empty: the private key needs its client certificate",
    );
  }
  if (ca) {
    const hint = "it holds a private key; paste the CA's certificate instead (never its key)";
    options.ca = pemCertificates(ca, "backbone_ca", hint, fail).map((c) => c.pem);
  }
  if (cert && key) {
    const hint = "it holds a private key, which belongs in backbone_client_key";
    const leaf = pemCertificates(cert, "backbone_client_cert", hint, fail)[0]?.parsed;
    const privateKey = pemPrivateKey(key, "backbone_client_key", "backbone_client_cert", fail);
    if (leaf && !leaf.checkPrivateKey(privateKey)) {
      throw fail(
        "backbone_client_key",
        `backbone_client_key does not belong to backbone_client_cert (subject ${leaf.subject.replace(/\n/g, ", ")}): ` +
          "paste the key the certificate was issued for",
      );
    }
    options.cert = cert;
    options.key = key;
  }
  return options;
}

/** Whether any TLS material is configured (it needs amqps:// or backbone_tls). */
export function tlsMaterialFields(settings: AmqpTlsSettings | undefined): BackboneField[] {
  const fields: BackboneField[] = [];
  if (normalizePem(settings?.ca)) fields.push("backbone_ca");
  if (normalizePem(settings?.client_cert)) fields.push("backbone_client_cert");
  if (normalizePem(settings?.client_key)) fields.push("backbone_client_key");
  return fields;
}

/**
 * The connection field to fix when the TLS handshake with the broker failed
 * because of the settings, as an BackboneConfigError; undefined for errors that
 * are not about TLS settings (a broker that is down, a refused login).
 */
export function describeAmqpTlsFailure(
  err: Error,
  where: string,
  settings: AmqpTlsSettings | undefined,
): BackboneConfigError | undefined {
  if (err instanceof BackboneConfigError) return err;
  const code = String((err as { code?: unknown }).code ?? "");
  const hasCa = normalizePem(settings?.ca) !== "";
  const hasCert = normalizePem(settings?.client_cert) !== "";
  const handshakeAlert = code === "EPROTO" && /alert handshake failure/.test(err.message);
  const failed = (field: BackboneField, message: string) =>
    new BackboneConfigError(field, `TLS to ${where} failed (${code || err.message}): ${message}`, { cause: err });
  if (BROKER_NOT_TRUSTED.has(code)) {
    return failed(
      "backbone_ca",
      `the broker's certificate is not signed by ${hasCa ? "the CA in backbone_ca" : "a CA of the system store (backbone_ca is empty)"}: ` +
        "set backbone_ca to the PEM of the CA that signed the broker's certificate " +
        "(turning off backbone_reject_unauthorized also connects, but then anyone can pose as the broker)",
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return failed(
      "backbone_url",
      "the broker's certificate does not carry the host name of backbone_url: connect by a name or address " +
        "its subjectAltName lists (or have the broker's certificate reissued for this name)",
    );
  }
  if (BROKER_CERT_OUT_OF_DATE.has(code)) {
    return failed(
      "backbone_reject_unauthorized",
      "the broker's certificate is outside its validity dates (renew it on the broker, or check this PC's clock); " +
        "backbone_reject_unauthorized off would skip the check",
    );
  }
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" || (handshakeAlert && !hasCert)) {
    return failed(
      "backbone_client_cert",
      hasCert
        ? "the broker asked for a client certificate and did not get one it accepts: check backbone_client_cert and backbone_client_key"
        : "the broker requires a client certificate and backbone_client_cert is empty: " +
            "set backbone_client_cert and backbone_client_key to a certificate the broker's CA issued and its key",
    );
  }
  if (CLIENT_CERT_REFUSED.has(code) || (handshakeAlert && hasCert)) {
    return failed(
      "backbone_client_cert",
      "the broker refused the client certificate in backbone_client_cert (not issued by a CA the broker trusts, " +
        "expired or revoked): set backbone_client_cert and backbone_client_key to a certificate the broker's CA issued",
    );
  }
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
    return failed(
      "backbone_url",
      "the port does not speak TLS: use the broker's TLS port (RabbitMQ: 5671) or amqp:// with backbone_tls off",
    );
  }
  return undefined;
}
