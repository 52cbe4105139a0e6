// PEM text as an admin pastes it into an Odoo field (a CA, a certificate
// chain, a private key), read into what node:tls takes, with an error that
// names the field to fix. Used for the MQTT client's TLS (core/mqtt-tls.ts)
// and the HTTP intake's HTTPS (sources/http/tls.ts); each passes its own
// error class and field names.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";

/** Makes the caller's error for `field` (its class carries the field name). */
export type PemError<F extends string> = (field: F, message: string, cause?: unknown) => Error;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** PEM as pasted into an Odoo text field: CRLF line ends, surrounding blanks. */
export function normalizePem(text: string | undefined): string {
  return (text ?? "").replace(/\r\n?/g, "\n").trim();
}

/**
 * Each certificate block of `pem`, as pasted and parsed. None, or one that
 * does not parse, throws for `field`; `keyHint` ends the message when the
 * field holds a private key instead (where that key belongs).
 */
export function pemCertificates<F extends string>(
  pem: string,
  field: F,
  keyHint: string,
  fail: PemError<F>,
): { pem: string; parsed: X509Certificate }[] {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const certs = blocks.filter((block) => block[1] === "CERTIFICATE");
  if (certs.length === 0) {
    const found = blocks.map((block) => block[1]);
    const holdsKey = found.some((label) => label?.endsWith("PRIVATE KEY"));
    throw fail(
      field,
      `${field} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` +
        (holdsKey ? `: ${keyHint}` : found.length > 0 ? `: found ${found.join(", ")}` : ""),
    );
  }
  return certs.map((block, index) => {
    try {
      return { pem: block[0], parsed: new X509Certificate(block[0]) };
    } catch (err) {
      throw fail(
        field,
        `${field}: certificate ${index + 1} of ${certs.length} does not parse (${(err as Error).message})`,
        err,
      );
    }
  });
}

/**
 * The unencrypted private key in `pem`. A certificate pasted there (it
 * belongs in `certField`), an encrypted key (the sidecar is given no
 * passphrase) or text that does not parse throws for `field`.
 */
export function pemPrivateKey<F extends string>(
  pem: string,
  field: F,
  certField: string,
  fail: PemError<F>,
): KeyObject {
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    throw fail(
      field,
      /-----BEGIN CERTIFICATE-----/.test(pem)
        ? `${field} holds a certificate, not a private key (the certificate belongs in ${certField})`
        : `${field} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_MISSING_PASSPHRASE" || /ENCRYPTED/.test(pem)) {
      throw fail(
        field,
        `${field} is encrypted with a passphrase, which the sidecar cannot be given: ` +
          "paste it unencrypted (openssl pkey -in key.pem -out key-plain.pem)",
        err,
      );
    }
    throw fail(field, `${field} does not parse (${(err as Error).message})`, err);
  }
}
