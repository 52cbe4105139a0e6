// How the spool keeps the last `sidecar_config` (so the sidecar starts while
// Odoo is down) without its secrets in clear: the configuration is stored
// with its secrets taken out, and the secrets beside it encrypted with
// AES-256-GCM under SHOPFLOOR_SECRET_KEY — or, with no key, not at all.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { SidecarConfig } from "../core/contract.ts";
import { pathName, restoreSecrets, type SecretPath, stripSecrets } from "../core/secrets.ts";

const FORMAT = "sfb-config/1";
const NO_KEY = "no SHOPFLOOR_SECRET_KEY is set";

interface Sealed {
  alg: "aes-256-gcm";
  /** Which key sealed it (a hash, not the key): tells "another key" from "damaged". */
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

interface Envelope {
  format: typeof FORMAT;
  /** The configuration with its secrets taken out. */
  config: SidecarConfig;
  /** Where its secrets were (names only, no values). */
  secret_paths: SecretPath[];
  /** The secrets, encrypted; null when they were not cached (no key). */
  sealed: Sealed | null;
}

/** A cached configuration as loaded: complete, or with the secrets it could not restore named. */
export interface CachedConfig {
  config: SidecarConfig;
  /** Secret fields the saved configuration had and this one lacks (empty when complete). */
  missingSecrets: string[];
  /** Why they are missing ("" when none are). */
  why: string;
}

/** Names a key without revealing it. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update("shopfloor-sidecar spool key id\0").update(key).digest("hex").slice(0, 16);
}

function aad(config: SidecarConfig): Buffer {
  return Buffer.from(`${FORMAT}\0${config.code}`);
}

/** The text the spool stores for `config`: secrets encrypted under `key`, or left out without one. */
export function sealConfig(config: SidecarConfig, key?: Buffer): string {
  const { stripped, secrets } = stripSecrets(config);
  let sealed: Sealed | null = null;
  if (key && secrets.length > 0) {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(aad(stripped));
    const data = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
    sealed = {
      alg: "aes-256-gcm",
      kid: keyId(key),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    };
  }
  const envelope: Envelope = {
    format: FORMAT,
    config: stripped,
    secret_paths: secrets.map((s) => s.path),
    sealed,
  };
  return JSON.stringify(envelope);
}

/** True for text an earlier version stored: the configuration as it came, secrets in clear. */
export function isClearFormat(text: string): boolean {
  return (JSON.parse(text) as { format?: unknown }).format !== FORMAT;
}

/** Reads what `sealConfig` stored (or an earlier version's clear text); never throws for a wrong key. */
export function openConfig(text: string, key?: Buffer): CachedConfig {
  const parsed = JSON.parse(text) as Envelope | SidecarConfig;
  if ((parsed as Envelope).format !== FORMAT) return { config: parsed as SidecarConfig, missingSecrets: [], why: "" };
  const envelope = parsed as Envelope;
  const missing = envelope.secret_paths.map(pathName);
  if (missing.length === 0) return { config: envelope.config, missingSecrets: [], why: "" };
  const absent = (why: string): CachedConfig => ({ config: envelope.config, missingSecrets: missing, why });
  const sealed = envelope.sealed;
  if (!sealed) {
    return absent(
      key
        ? "the configuration was cached without its secrets (no SHOPFLOOR_SECRET_KEY was set when it was saved)"
        : `the configuration is cached without its secrets (${NO_KEY})`,
    );
  }
  if (!key) return absent(`the cached secrets are encrypted and ${NO_KEY}`);
  if (sealed.kid !== keyId(key)) {
    return absent(
      `the cached secrets were encrypted with another key (key id ${sealed.kid}; ` +
        `SHOPFLOOR_SECRET_KEY has key id ${keyId(key)}): they are ignored until Odoo sends the configuration again`,
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
    decipher.setAAD(aad(envelope.config));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    const clear = Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]);
    const secrets = JSON.parse(clear.toString("utf8")) as { path: SecretPath; value: string }[];
    return { config: restoreSecrets(envelope.config, secrets), missingSecrets: [], why: "" };
  } catch (err) {
    return absent(
      `the cached secrets cannot be decrypted (${(err as Error).message}): ` +
        "they are ignored until Odoo sends the configuration again",
    );
  }
}
