// Turns bytes from the floor into a CloudEvent or a RejectedInput. Nothing
// is dropped here: anything that is not a valid event becomes a
// RejectedInput that carries the raw bytes (truncated past the size limit)
// and a reason a person can act on in Odoo's dead-letter screen.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { CloudEvent, RejectedInput } from "./contract.ts";
import { MAX_EVENT_BYTES, MAX_STRING_CHARS } from "./contract.ts";
import { readTime } from "./rfc3339.ts";

const SCHEMA_URL = new URL("../../../odoo_addon/shopfloor_bridge/schemas/cloudevent.schema.json", import.meta.url);

// ajv-formats ships CommonJS with a default export; under Node ESM it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
  options: { mode: "fast" | "full" },
) => void;

type Schema = Record<string, unknown> & { allOf?: unknown[]; $defs?: Record<string, unknown> };

/** The per-type data rule of one `allOf` branch: `if type is T then data must match $defs/X`. */
function typeBranch(branch: unknown): { type: string; ref: string } | undefined {
  const b = branch as {
    if?: { properties?: { type?: { const?: unknown } }; required?: unknown };
    then?: { required?: unknown; properties?: { data?: { $ref?: unknown } } };
  };
  const type = b.if?.properties?.type?.const;
  const ref = b.then?.properties?.data?.$ref;
  const shaped =
    Object.keys(b).length === 2 &&
    JSON.stringify(b.if?.required) === '["type"]' &&
    JSON.stringify(b.then?.required) === '["data"]' &&
    Object.keys(b.then ?? {}).length === 2;
  return shaped && typeof type === "string" && typeof ref === "string" ? { type, ref } : undefined;
}

/** The ajv instance the schema is compiled with (the tests compile their reference with it too). */
export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  // Fast mode checks a date-time's shape with one regular expression; full
  // mode's calendar checks took as long as the rest of the schema (0.7 µs of
  // 1.4 per event). checkEvent then reads the time itself (readTime), with
  // the calendar checks the module's parse_time makes.
  addFormats(ajv, { mode: "fast" });
  return ajv;
}

export interface SchemaCheck {
  (candidate: unknown): candidate is CloudEvent;
  errors?: ErrorObject[] | null;
}

/**
 * Compiles the shared schema. Its `allOf` holds one `if type is T then data
 * must match $defs/…` branch per event type; ajv evaluates all sixteen for
 * every event, which took a third of the validation time. When every branch
 * has that shape, the envelope (the schema without `allOf`) and each type's
 * data rule are compiled apart and the data rule is picked by `type` — the
 * same verdicts (a unit test checks them against the whole schema), data
 * errors reported under `/data`. Any other shape compiles the schema whole.
 */
export function compileSchema(schema: Schema = JSON.parse(readFileSync(SCHEMA_URL, "utf8"))): SchemaCheck {
  const ajv = newAjv();
  const { allOf, ...envelope } = schema;
  const branches = (allOf ?? []).map(typeBranch);
  if (!allOf || branches.some((b) => b === undefined)) return ajv.compile<CloudEvent>(schema) as SchemaCheck;
  const checkEnvelope = ajv.compile<CloudEvent>(envelope);
  const dataRules = new Map<string, ReturnType<Ajv2020["compile"]>>();
  for (const b of branches as { type: string; ref: string }[]) {
    dataRules.set(b.type, ajv.compile({ $defs: schema.$defs, $ref: b.ref }));
  }
  const check: SchemaCheck = (candidate: unknown): candidate is CloudEvent => {
    if (!checkEnvelope(candidate)) {
      check.errors = checkEnvelope.errors;
      return false;
    }
    const rule = dataRules.get(candidate.type);
    if (rule === undefined) {
      check.errors = null;
      return true;
    }
    if (candidate.data === undefined) {
      check.errors = [
        {
          instancePath: "",
          schemaPath: "#/allOf/then/required",
          keyword: "required",
          params: { missingProperty: "data" },
          message: "must have required property 'data'",
        },
      ];
      return false;
    }
    if (!rule(candidate.data)) {
      check.errors = (rule.errors ?? []).map((e) => ({ ...e, instancePath: `/data${e.instancePath}` }));
      return false;
    }
    check.errors = null;
    return true;
  };
  return check;
}

/** Compiled once per process: the one schema the module enforces too. */
const validateSchema = compileSchema();

const utf8 = new TextDecoder("utf-8", { fatal: true });

export type Validated =
  | {
      ok: true;
      event: CloudEvent;
      bytes: number;
      /** The decoded JSON text the event was parsed from. */
      text: string;
      /** `time` in ms since the epoch. */
      timeMs: number;
    }
  | { ok: false; rejected: RejectedInput };

export interface Origin {
  /** Connection code. */
  connection: string;
  /** Topic / node / metric the bytes came from. */
  origin: string;
  receivedAt: Date;
}

/** Deterministic id of a rejected input, so a redelivery is a duplicate in Odoo. */
export function rejectedId(connection: string, origin: string, payload: Uint8Array): string {
  const hash = createHash("sha256");
  hash.update(connection);
  hash.update("\0");
  hash.update(origin);
  hash.update("\0");
  hash.update(payload);
  return `rej-${hash.digest("hex").slice(0, 40)}`;
}

export function reject(payload: Uint8Array, where: Origin, reason: string): RejectedInput {
  const truncated = payload.byteLength > MAX_EVENT_BYTES;
  const kept = truncated ? payload.subarray(0, MAX_EVENT_BYTES) : payload;
  return {
    rejected: true,
    id: rejectedId(where.connection, where.origin, payload),
    source: where.origin.slice(0, 256),
    connection: where.connection,
    raw_b64: Buffer.from(kept.buffer, kept.byteOffset, kept.byteLength).toString("base64"),
    raw_size: payload.byteLength,
    truncated,
    reason: reason.slice(0, 4096),
    observedtime: where.receivedAt.toISOString(),
  };
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "does not match the event schema";
  return errors
    .slice(0, 5)
    .map((e) => {
      const at = e.instancePath || "(envelope)";
      const extra =
        e.keyword === "additionalProperties" || e.keyword === "propertyNames"
          ? ` ${JSON.stringify(e.params)}`
          : e.keyword === "enum"
            ? ` (allowed: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")})`
            : "";
      return `${at} ${e.message ?? e.keyword}${extra}`;
    })
    .join("; ");
}

/**
 * What the module refuses besides the schema, found in one walk in document order:
 * a number JSON text overflowed to ±Infinity (1e400: JSON.parse reads it so, Python as
 * inf), or, with `texts`, a text (value or key) longer than MAX_STRING_CHARS characters.
 */
function beyondSchema(value: unknown, path: string, texts: boolean): string | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value)
      ? undefined
      : `${path} is ${value}: JSON has no NaN or Infinity, send a finite number`;
  }
  if (typeof value === "string") {
    return texts && longerThan(value, MAX_STRING_CHARS)
      ? `string at ${path} is over the ${MAX_STRING_CHARS}-character limit`
      : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = beyondSchema(value[i], `${path}[${i}]`, texts);
      if (found) return found;
    }
  } else if (value !== null && typeof value === "object") {
    for (const key in value) {
      if (texts && longerThan(key, MAX_STRING_CHARS)) {
        return `string at ${path} (a key) is over the ${MAX_STRING_CHARS}-character limit`;
      }
      const found = beyondSchema((value as Record<string, unknown>)[key], `${path}.${key}`, texts);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Whether `text` has more than `limit` characters as Python (the module) counts them: a
 * pair of UTF-16 surrogates is one. Counted only when its UTF-16 length is over the limit.
 */
export function longerThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let n = 0;
  for (const _ of text) if (++n > limit) return true;
  return false;
}

/**
 * Schema check of an already-parsed event (derived events from rules go through here too),
 * then what the module checks besides the schema: the time (`readTime`), no number that
 * overflowed to Infinity, no text over MAX_STRING_CHARS (`serializedSize`, when the caller
 * knows it, skips the texts of an event too small to hold one). The years the module applies
 * are left to it: a source's clock may be corrected here first (`stampEvent`).
 */
export function checkEvent(
  candidate: unknown,
  serializedSize?: number,
): { ok: true; event: CloudEvent; timeMs: number } | { ok: false; reason: string } {
  if (!validateSchema(candidate)) return { ok: false, reason: `schema: ${describeErrors(validateSchema.errors)}` };
  const timeMs = readTime(candidate.time);
  if (typeof timeMs === "string") return { ok: false, reason: `time: ${JSON.stringify(candidate.time)} ${timeMs}` };
  const problem = beyondSchema(candidate, "$", serializedSize === undefined || serializedSize > MAX_STRING_CHARS);
  if (problem) return { ok: false, reason: problem };
  return { ok: true, event: candidate, timeMs };
}

/** Validates received bytes: size, UTF-8, JSON, then the shared schema. */
export function validatePayload(payload: Uint8Array, where: Origin): Validated {
  if (payload.byteLength > MAX_EVENT_BYTES) {
    return {
      ok: false,
      rejected: reject(payload, where, `oversize: ${payload.byteLength} bytes > limit ${MAX_EVENT_BYTES}`),
    };
  }
  if (payload.byteLength === 0) return { ok: false, rejected: reject(payload, where, "empty payload") };
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { ok: false, rejected: reject(payload, where, "payload is not valid UTF-8") };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, rejected: reject(payload, where, `not JSON: ${(err as Error).message}`) };
  }
  const checked = checkEvent(parsed, payload.byteLength);
  if (!checked.ok) return { ok: false, rejected: reject(payload, where, checked.reason) };
  return { ok: true, event: checked.event, bytes: payload.byteLength, text, timeMs: checked.timeMs };
}

/** Serialized size of an event, as the 256 KiB limit (`MAX_EVENT_BYTES`) counts it. */
export function serializedSize(event: unknown): number {
  return Buffer.byteLength(JSON.stringify(event), "utf8");
}
