// What counts as a secret in the sidecar, and how text is cleaned of secrets
// before it leaves the process (logs, CLI output, /healthz, /metrics) or
// reaches the disk (the spool's cached configuration). Pure: no I/O.

/**
 * Fields whose values are secrets wherever they occur in a configuration:
 * `mqtt.password`, `mqtt.client_key` (a PEM private key), `opcua.password`,
 * and any later `*_password`, `*_secret`, `*_token`, `*_private_key`.
 */
const SECRET_FIELD =
  /^(?:(?:[a-z0-9]+_)*(?:password|passwd|passphrase|secret|token|private_key)|client_key|api_key|user_key)$/i;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/** A PEM private key (any kind), whole or cut short; in raw or JSON-escaped text. */
const PRIVATE_KEY_PEM =
  /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----(?:[\s\S]*?-----END \1-----|[A-Za-z0-9+/=\s\\]*(?:-----)?)/g;

/** `scheme://user:password@`: the password part, in raw or JSON-escaped text. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/"'<>\\]*):([^\s@/"'<>\\]+)@/gi;

/** `"password": "…"` (and every secret field name) inside JSON text. */
const JSON_SECRET_FIELD =
  /("(?:(?:[a-z0-9]+_)*(?:password|passwd|passphrase|secret|token|private_key)|client_key|api_key|user_key)"\s*:\s*)"(?:[^"\\]|\\.)+"/gi;

export const REDACTED = "[redacted]";

export function containsPrivateKey(text: string): boolean {
  PRIVATE_KEY_PEM.lastIndex = 0;
  return PRIVATE_KEY_PEM.test(text);
}

/** The URL without the password of its user part ("" → unchanged); undefined when it has none. */
export function urlWithoutPassword(text: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*:[^/]*@/i.test(text)) return undefined;
  try {
    const url = new URL(text);
    if (!url.password) return undefined;
    url.password = "";
    return url.toString();
  } catch {
    return text.replace(URL_PASSWORD, "$1$2@");
  }
}

export type SecretPath = (string | number)[];

export interface FoundSecret {
  path: SecretPath;
  value: string;
  /** What stands in its place when the secret is taken out. */
  hidden: string;
}

/**
 * Every secret in a JSON value: non-empty fields named as secrets, private
 * keys (PEM) in any other string, and URLs carrying a password.
 */
export function findSecrets(value: unknown, path: SecretPath = []): FoundSecret[] {
  if (typeof value === "string") {
    const name = path[path.length - 1];
    if (!value) return [];
    if ((typeof name === "string" && isSecretField(name)) || containsPrivateKey(value)) {
      return [{ path, value, hidden: "" }];
    }
    const withoutPassword = urlWithoutPassword(value);
    return withoutPassword === undefined ? [] : [{ path, value, hidden: withoutPassword }];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => findSecrets(item, [...path, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => findSecrets(item, [...path, key]));
  }
  return [];
}

function setAt(target: unknown, path: SecretPath, value: string): boolean {
  let node = target as Record<string | number, unknown> | undefined;
  for (const step of path.slice(0, -1)) {
    node = node?.[step] as Record<string | number, unknown> | undefined;
    if (!node || typeof node !== "object") return false;
  }
  const last = path[path.length - 1];
  if (!node || last === undefined || typeof node[last] !== "string") return false;
  node[last] = value;
  return true;
}

/** A copy of `value` with its secrets taken out, and the secrets (path and value). */
export function stripSecrets<T>(value: T): { stripped: T; secrets: { path: SecretPath; value: string }[] } {
  const found = findSecrets(value);
  const stripped = structuredClone(value);
  for (const secret of found) setAt(stripped, secret.path, secret.hidden);
  return { stripped, secrets: found.map(({ path, value: secretValue }) => ({ path, value: secretValue })) };
}

/** Puts secrets back at their paths (a path the value no longer has is left out). */
export function restoreSecrets<T>(value: T, secrets: { path: SecretPath; value: string }[]): T {
  const out = structuredClone(value);
  for (const secret of secrets) setAt(out, secret.path, secret.value);
  return out;
}

export function pathName(path: SecretPath): string {
  return path.map((step) => (typeof step === "number" ? `[${step}]` : step)).join(".");
}

/**
 * Values shorter than this are not searched for in text: a weak password
 * such as "sidecar" would otherwise blank out every word equal to it. They
 * are still hidden where their form gives them away (URL user part, a
 * secret field in JSON).
 */
export const MIN_KNOWN_SECRET_LENGTH = 8;

/**
 * Cleans text of secrets before it leaves the process: known secret values
 * (the API key, the configuration's passwords and keys, as registered), and
 * whatever looks like one (a private key, a URL's password, a secret field
 * in JSON).
 */
export class Redactor {
  readonly #known = new Set<string>();

  /** Registers secret values to hide wherever they appear (raw or JSON-escaped). */
  add(...values: (string | undefined)[]): void {
    for (const value of values) {
      if (!value || value.length < MIN_KNOWN_SECRET_LENGTH) continue;
      this.#known.add(value);
      const escaped = JSON.stringify(value).slice(1, -1);
      if (escaped !== value) this.#known.add(escaped);
      // A PEM is also hidden line by line: an error may quote one line of it.
      for (const line of value.split(/\r?\n/)) {
        if (line.length >= 40 && !line.startsWith("-----")) this.#known.add(line);
      }
    }
  }

  /** Registers every secret of a configuration. */
  addSecretsOf(config: unknown): void {
    for (const secret of findSecrets(config)) {
      this.add(secret.value);
      // The password of a URL, on its own.
      const password = /^[a-z][a-z0-9+.-]*:\/\/[^/:@]*:([^/@]+)@/i.exec(secret.value)?.[1];
      if (password) this.add(password, safeDecode(password));
    }
  }

  text(text: string): string {
    let out = text;
    // Longest first: a value containing another is hidden whole.
    for (const value of [...this.#known].sort((a, b) => b.length - a.length)) {
      if (out.includes(value)) out = out.split(value).join(REDACTED);
    }
    PRIVATE_KEY_PEM.lastIndex = 0;
    out = out.replace(PRIVATE_KEY_PEM, `[private key ${REDACTED}]`);
    out = out.replace(URL_PASSWORD, `$1$2:${REDACTED}@`);
    out = out.replace(JSON_SECRET_FIELD, `$1"${REDACTED}"`);
    return out;
  }

  /** A copy of a JSON value with its secrets hidden (for printing a configuration). */
  value<T>(value: T): T {
    const out = structuredClone(value);
    for (const secret of findSecrets(value)) {
      setAt(out, secret.path, secret.hidden === "" ? REDACTED : this.text(secret.value));
    }
    return out;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
