// HTTPS for the intake: the connection's certificate chain and key, checked
// when the intake starts so a bad paste is a configuration error naming the
// field to fix, not a handshake that fails for every producer later.
import type { X509Certificate } from "node:crypto";
import type { HttpIntakeConfig } from "../../core/contract.ts";
import { normalizePem, type PemError, pemCertificates, pemPrivateKey } from "../../core/pem.ts";

/** The connection fields an admin edits in Odoo (contract: http.tls_cert / http.tls_key). */
export type HttpConfigField = "http_tls_cert" | "http_tls_key" | "http_port" | "http_bind";

/** HTTP intake settings that cannot work; `field` names the connection field to fix. */
export class HttpIntakeConfigError extends Error {
  override name = "HttpIntakeConfigError";
  readonly field: HttpConfigField;

  constructor(field: HttpConfigField, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.field = field;
  }
}

export interface HttpTlsOptions {
  cert: string;
  key: string;
  /** The leaf certificate, for the log (subject, expiry). */
  leaf: X509Certificate;
}

/** A configuration error for the connection field to fix. */
const fail: PemError<HttpConfigField> = (field, message, cause) =>
  new HttpIntakeConfigError(field, message, cause === undefined ? undefined : { cause });

/**
 * The TLS options of the intake, or undefined for plain HTTP (neither field
 * set). Throws HttpIntakeConfigError for a certificate without its key (or
 * the reverse), PEM that does not parse, an encrypted key, or a key that
 * does not belong to the certificate.
 */
export function httpTlsOptions(config: Pick<HttpIntakeConfig, "tls_cert" | "tls_key">): HttpTlsOptions | undefined {
  const cert = normalizePem(config.tls_cert);
  const key = normalizePem(config.tls_key);
  if (!cert && !key) return undefined;
  if (!key) {
    throw new HttpIntakeConfigError(
      "http_tls_key",
      "http_tls_cert is set but http_tls_key is empty: HTTPS needs the certificate's private key",
    );
  }
  if (!cert) {
    throw new HttpIntakeConfigError(
      "http_tls_cert",
      "http_tls_key is set but http_tls_cert is empty: HTTPS needs the certificate (chain) the key belongs to",
    );
  }
  const hint = "it holds a private key, which belongs in http_tls_key";
  // pemCertificates returns at least one certificate or throws.
  const leaf = pemCertificates(cert, "http_tls_cert", hint, fail)[0]?.parsed as X509Certificate;
  const privateKey = pemPrivateKey(key, "http_tls_key", "http_tls_cert", fail);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new HttpIntakeConfigError(
      "http_tls_key",
      `http_tls_key does not belong to the first certificate of http_tls_cert (subject ${leaf.subject.replace(/\n/g, ", ")}): ` +
        "paste the key the certificate was issued for, and the server certificate first in the chain",
    );
  }
  return { cert, key, leaf };
}

/** Days until the certificate expires (negative once it has). */
export function daysLeft(leaf: X509Certificate, nowMs: number): number {
  return Math.floor((Date.parse(leaf.validTo) - nowMs) / 86_400_000);
}
