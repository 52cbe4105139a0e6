// HTTPS for the intake: the connection's certificate chain and key, checked
// when the intake starts so a bad paste is a configuration error naming the
// field to fix, not a handshake that fails for every producer later.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { HttpIntakeConfig } from "../../core/contract.ts";

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

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** PEM as pasted into an Odoo text field: CRLF line ends, surrounding blanks. */
function normalizePem(text: string | undefined): string {
  return (text ?? "").replace(/\r\n?/g, "\n").trim();
}

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
  const blocks = [...cert.matchAll(PEM_BLOCK)];
  const certs = blocks.filter((b) => b[1] === "CERTIFICATE");
  if (certs.length === 0) {
    const holdsKey = blocks.some((b) => b[1]?.endsWith("PRIVATE KEY"));
    throw new HttpIntakeConfigError(
      "http_tls_cert",
      "http_tls_cert holds no PEM certificate (-----BEGIN CERTIFICATE-----)" +
        (holdsKey ? ": it holds a private key, which belongs in http_tls_key" : ""),
    );
  }
  const parsed = certs.map((block, index) => {
    try {
      return new X509Certificate(block[0]);
    } catch (err) {
      throw new HttpIntakeConfigError(
        "http_tls_cert",
        `http_tls_cert: certificate ${index + 1} of ${certs.length} does not parse (${(err as Error).message})`,
        { cause: err },
      );
    }
  });
  const leaf = parsed[0] as X509Certificate;
  const privateKey = parseKey(key);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new HttpIntakeConfigError(
      "http_tls_key",
      `http_tls_key does not belong to the first certificate of http_tls_cert (subject ${leaf.subject.replace(/\n/g, ", ")}): ` +
        "paste the key the certificate was issued for, and the server certificate first in the chain",
    );
  }
  return { cert, key, leaf };
}

function parseKey(pem: string): KeyObject {
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    throw new HttpIntakeConfigError(
      "http_tls_key",
      /-----BEGIN CERTIFICATE-----/.test(pem)
        ? "http_tls_key holds a certificate, not a private key (the certificate belongs in http_tls_cert)"
        : "http_tls_key holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
    );
  }
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_MISSING_PASSPHRASE" || /ENCRYPTED/.test(pem)) {
      throw new HttpIntakeConfigError(
        "http_tls_key",
        "http_tls_key is encrypted with a passphrase, which the sidecar cannot be given: " +
          "paste it unencrypted (openssl pkey -in key.pem -out key-plain.pem)",
        { cause: err },
      );
    }
    throw new HttpIntakeConfigError("http_tls_key", `http_tls_key does not parse (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Days until the certificate expires (negative once it has). */
export function daysLeft(leaf: X509Certificate, nowMs: number): number {
  return Math.floor((Date.parse(leaf.validTo) - nowMs) / 86_400_000);
}
