// Evaluates a payload mapping (shopfloor.payload.map) over one payload: the
// JSONata expression runs with the payload's topic/route, headers, receive
// time and connection bound, under time, depth and size limits, and what it
// yields is completed into CloudEvents (kind `events`) or observations for the
// rule engine (kind `values`).
//
// Browser-safe on purpose: the mapping form's "try it" panel bundles this
// same file, so what an admin sees there is what the sidecar does. It imports
// only `jsonata`, types and core/rfc3339.ts (which imports nothing); hashing
// comes in as a function (node:crypto in the sidecar, crypto.subtle in the
// browser). The schema check of the events is the caller's (the sidecar's
// MappingStage; Odoo for the browser).
import jsonata from "jsonata";
import type { CloudEvent, PayloadMapping } from "../core/contract.ts";
import { codePoint, unsendable } from "../core/mqtt-text.ts";
import { RFC3339, readShaped } from "../core/rfc3339.ts";
import { hostZone, LOCAL_ISO, readLocal, readZoned, ZONED_ISO, type Zone, zoneOf } from "../core/wall-time.ts";
import { BAIL, compileFastPath, type FastProgram } from "./fastpath.ts";

export interface MappingInput {
  /** The bytes as received, or text pasted into the form. */
  payload: Uint8Array | string;
  /** MQTT topic or HTTP route. */
  topic: string;
  /** HTTP headers (lower-case names) or MQTT 5 user properties. */
  headers?: Record<string, string>;
  receivedAt: Date;
  /** Connection code. */
  connection: string;
  /** Mapping revision of the connection in force (the events' `mappingrev`). */
  revision: number;
}

/** One value of one address, as a `values` mapping yields it. */
export interface MappedObservation {
  address: string;
  value: unknown;
  time: Date;
}

export type MappingOutcome =
  | { ok: true; events: CloudEvent[]; observations: MappedObservation[] }
  | {
      ok: false;
      reason: string;
      /** Set when a limit stopped the mapping: which one (`time` may be a busy machine, not the mapping). */
      limit?: MappingLimitName;
    };

export type MappingLimitName = "time" | "depth" | "sequence" | "items" | "payload";

export interface MappingLimits {
  /** Wall-clock time one evaluation may take. */
  timeoutMs: number;
  /** JSONata evaluation depth: nested expression frames, recursion. */
  maxDepth: number;
  /** Longest sequence an expression may build (a range, a $map over a long array). */
  maxSequence: number;
  /** Events or observations one payload may yield. */
  maxItems: number;
  /** Largest payload a mapping takes, in bytes. */
  maxPayloadBytes: number;
}

export const DEFAULT_MAPPING_LIMITS: Readonly<MappingLimits> = {
  timeoutMs: 100,
  maxDepth: 200,
  maxSequence: 100_000,
  maxItems: 1000,
  maxPayloadBytes: 1024 * 1024,
};

/** Largest serialized event, as the event contract counts it (MAX_EVENT_BYTES in core/contract.ts). */
const MAX_EVENT_BYTES = 256 * 1024;

/** Prefix of the ids this file derives, and the version of what goes into their hash. */
export const MAPPED_ID_PREFIX = "sfb-m-";
const ID_HASH_VERSION = "sfb-m/1";

export type CompiledMapping =
  | {
      ok: true;
      expression: jsonata.Expression;
      /** The same expression in plain JavaScript when its shape allows (fastpath.ts); JSONata otherwise. */
      fast?: FastProgram;
    }
  | { ok: false; reason: string };

type MappingKey = Pick<PayloadMapping, "id" | "name" | "revision" | "expression">;

const CACHE_SIZE = 256;
const compiled = new Map<string, CompiledMapping>();

/**
 * The expression compiled once per (id, revision, expression, limits): a
 * mapping edited in Odoo gets a new revision, so a stale compilation is
 * never used. A syntax error is kept too, so a broken mapping costs one parse.
 */
export function compileMapping(mapping: MappingKey, limits: MappingLimits = DEFAULT_MAPPING_LIMITS): CompiledMapping {
  const key = [
    mapping.id,
    mapping.revision,
    limits.timeoutMs,
    limits.maxDepth,
    limits.maxSequence,
    mapping.expression,
  ].join("\u0000");
  const hit = compiled.get(key);
  if (hit) {
    // Most recently used last: the oldest entry is the one evicted.
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  const made = compile(mapping, limits);
  compiled.set(key, made);
  if (compiled.size > CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  return made;
}

function compile(mapping: MappingKey, limits: MappingLimits): CompiledMapping {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(mapping.expression, {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
    });
  } catch (err) {
    return { ok: false, reason: `${mappingLabel(mapping)}: the expression does not compile: ${jsonataMessage(err)}` };
  }
  registerHelpers(expression);
  return { ok: true, expression, fast: compileFastPath(expression.ast()) };
}

/**
 * Helpers for floor data besides JSONata's own ($fromMillis, $toMillis,
 * $number, $split, $lookup…). `$isoTime(t[, zone])`: a source timestamp as the
 * event's `time` — a number is milliseconds since the epoch (Kepware,
 * Ignition), a string a date-time with its zone (ISO 8601 from HighByte, MES
 * systems), or an ISO 8601 date and time without one (a historian's local
 * time) read in `zone` (Europe/Berlin, +01:00), else in the sidecar host's
 * zone; the result is ISO 8601 in UTC. See `textTime`.
 */
function registerHelpers(expression: jsonata.Expression): void {
  expression.registerFunction(
    "isoTime",
    (value: unknown, zoneName?: string) => {
      if (value === undefined) return undefined;
      let zone: Zone | undefined;
      if (zoneName !== undefined) {
        const named = zoneOf(zoneName);
        if (typeof named === "string") throw new Error(`$isoTime: zone ${named}`);
        zone = named;
      }
      const ms = typeof value === "number" ? value : typeof value === "string" ? textTime(value, zone) : Number.NaN;
      if (typeof ms === "string") throw new Error(`$isoTime: ${JSON.stringify(value)} ${ms}`);
      if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
        throw new Error(`$isoTime: ${JSON.stringify(value)} is not a time (milliseconds or an ISO 8601 date-time)`);
      }
      return new Date(ms).toISOString();
    },
    "<(ns)s?:s>",
  );
}

/**
 * A date-time text in ms since the epoch, or why it is none. RFC 3339 (with its zone) is read
 * with its calendar checked (`readShaped`: 30 February is an error, not 2 March), and so is an
 * ISO 8601 date-time with its offset in a looser shape (`readZoned`: 2026-01-02 03:04+0100). An ISO 8601
 * date and time without a zone (`2026-03-29 02:30:00`) is read in `zone`, else in the host's
 * zone as it always was, with the same checks and the wall times the zone skips refused
 * (`readLocal`). With no zone given, any other form is read as `Date.parse` reads it (NaN when it
 * cannot); with a zone given, another form is an error rather than a reading that ignores it.
 */
export function textTime(text: string, zone?: Zone): number | string {
  if (RFC3339.test(text)) return readShaped(text);
  if (ZONED_ISO.test(text)) return readZoned(text);
  if (LOCAL_ISO.test(text)) return readLocal(text, zone ?? hostZone());
  if (zone === undefined) return Date.parse(text);
  return "is not an ISO 8601 date and time such as 2026-01-02 03:04:05 that a zone could be given to";
}

/** How reasons and logs name a mapping. */
export function mappingLabel(mapping: Pick<PayloadMapping, "id" | "name" | "revision">): string {
  return `mapping "${mapping.name}" (id ${mapping.id}, revision ${mapping.revision})`;
}

/** JSONata errors are objects with a code, a message and a position in the expression. */
function jsonataMessage(err: unknown): string {
  const failure = err as { code?: unknown; message?: unknown; position?: unknown };
  const message = typeof failure?.message === "string" && failure.message ? failure.message : String(err);
  const code = typeof failure?.code === "string" ? `${failure.code} ` : "";
  const at = typeof failure?.position === "number" ? ` (at character ${failure.position})` : "";
  return `${code}${message}${at}`;
}

/** The outcome of a failed evaluation: the limits say which one was hit, in words. */
function evaluationFailure(
  mapping: PayloadMapping,
  err: unknown,
  limits: MappingLimits,
): Extract<MappingOutcome, { ok: false }> {
  const code = (err as { code?: unknown })?.code;
  const name = mappingLabel(mapping);
  if (code === "D1012") {
    return {
      ok: false,
      limit: "time",
      reason: `${name} exceeded ${limits.timeoutMs} ms: stopped (a loop that does not end?)`,
    };
  }
  if (code === "D1011") {
    const reason = `${name} exceeded the evaluation depth of ${limits.maxDepth}: stopped (recursion that does not end?)`;
    return { ok: false, limit: "depth", reason };
  }
  if (code === "D2015") {
    return {
      ok: false,
      limit: "sequence",
      reason: `${name} built a sequence longer than ${limits.maxSequence} items: stopped`,
    };
  }
  if (err instanceof RangeError)
    return { ok: false, limit: "depth", reason: `${name} ran out of stack: stopped (${err.message})` };
  return { ok: false, reason: `${name} failed: ${jsonataMessage(err)}` };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Runs one mapping over one payload. Never throws for anything the payload or
 * the expression does: every failure is `{ok: false, reason}` with a reason
 * that names the mapping, for the dead-letter screen.
 */
export async function runMapping(
  mapping: PayloadMapping,
  input: MappingInput,
  sha256hex: (text: string) => Promise<string>,
  limits: MappingLimits = DEFAULT_MAPPING_LIMITS,
): Promise<MappingOutcome> {
  const size = typeof input.payload === "string" ? utf8Length(input.payload) : input.payload.byteLength;
  if (size > limits.maxPayloadBytes) {
    const reason = `${mappingLabel(mapping)}: payload of ${size} bytes exceeds ${limits.maxPayloadBytes}`;
    return { ok: false, limit: "payload", reason };
  }
  let text: string;
  if (typeof input.payload === "string") text = input.payload;
  else {
    try {
      text = utf8.decode(input.payload);
    } catch {
      return { ok: false, reason: `${mappingLabel(mapping)}: payload is not valid UTF-8` };
    }
  }
  let document: unknown = text;
  if (mapping.payload_format === "json") {
    try {
      document = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `${mappingLabel(mapping)}: not JSON: ${(err as Error).message}` };
    }
  }
  const program = compileMapping(mapping, limits);
  if (!program.ok) return program;
  const bindings = {
    topic: input.topic,
    headers: input.headers ?? {},
    receivedAt: input.receivedAt.toISOString(),
    connection: input.connection,
  };
  let result = program.fast ? program.fast(document, bindings) : BAIL;
  if (result === BAIL) {
    try {
      result = await program.expression.evaluate(document, bindings);
    } catch (err) {
      return evaluationFailure(mapping, err, limits);
    }
  }
  const items = outputItems(result);
  if (typeof items === "string") return { ok: false, reason: `${mappingLabel(mapping)} yields ${items}` };
  if (items.length > limits.maxItems) {
    const reason = `${mappingLabel(mapping)} yields ${items.length} items, more than the limit of ${limits.maxItems}`;
    return { ok: false, limit: "items", reason };
  }
  if (mapping.kind === "values") {
    const observations = toObservations(items, input.receivedAt);
    return typeof observations === "string"
      ? { ok: false, reason: `${mappingLabel(mapping)}: ${observations}` }
      : { ok: true, events: [], observations };
  }
  // Values are checked one by one (single values only); events go to Odoo whole, so all of each must be JSON.
  for (const [index, item] of items.entries()) {
    const problem = nonJson(item, `item ${index}`, 0);
    if (problem) return { ok: false, reason: `${mappingLabel(mapping)} yields ${problem}` };
  }
  const events = await toEvents(mapping, items, input, text, sha256hex);
  return typeof events === "string"
    ? { ok: false, reason: `${mappingLabel(mapping)}: ${events}` }
    : { ok: true, events, observations: [] };
}

/** The objects an expression yielded, or what is wrong with its result. */
function outputItems(result: unknown): Record<string, unknown>[] | string {
  if (result === undefined) return [];
  const list = Array.isArray(result) ? result : [result];
  for (const [index, item] of list.entries()) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      const what = Array.isArray(result) ? `item ${index} of its result as` : "";
      return `${what} ${describeValue(item)}, not an object or an array of objects`.trim();
    }
  }
  return list as Record<string, unknown>[];
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return `a string (${JSON.stringify(value.slice(0, 60))})`;
  if (typeof value === "object") return "an object";
  return `a ${typeof value} (${String(value)})`;
}

/** The first value in `value` that JSON cannot carry (a function, a non-finite number), or undefined. */
function nonJson(value: unknown, path: string, depth: number): string | undefined {
  if (depth > 64) return `${path}: nested deeper than 64 levels`;
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${path}: ${value} is not a JSON number`;
  if (Array.isArray(value)) {
    for (const [index, element] of value.entries()) {
      const problem = nonJson(element, `${path}[${index}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === "object") {
    if (isJsonataFunction(value)) return `${path}: a JSONata function is not JSON`;
    for (const [key, element] of Object.entries(value)) {
      if (element === undefined) continue;
      const problem = nonJson(element, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${path}: ${typeof value === "function" ? "a function" : typeof value} is not JSON`;
}

/** JSONata's lambdas and native functions are objects, not JS functions. */
function isJsonataFunction(value: object): boolean {
  const marked = value as { _jsonata_lambda?: unknown; _jsonata_function?: unknown };
  return marked._jsonata_lambda === true || marked._jsonata_function === true;
}

function toObservations(items: Record<string, unknown>[], receivedAt: Date): MappedObservation[] | string {
  const out: MappedObservation[] = [];
  for (const [index, item] of items.entries()) {
    const { address, value, time } = item;
    if (typeof address !== "string" || address === "") {
      return `value ${index} has no address (a non-empty string): ${JSON.stringify(item).slice(0, 200)}`;
    }
    if (value === undefined || value === null) return `value ${index} (${address}) has no value`;
    if (typeof value === "object") return `value ${index} (${address}) is ${describeValue(value)}, not a single value`;
    let at = receivedAt;
    if (time !== undefined && time !== null) {
      const ms = typeof time === "number" ? time : typeof time === "string" ? textTime(time) : Number.NaN;
      if (typeof ms === "string") return `value ${index} (${address}): time ${JSON.stringify(time)} ${ms}`;
      if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
        return `value ${index} (${address}): time ${JSON.stringify(time)} is not a time (milliseconds or ISO 8601)`;
      }
      at = new Date(ms);
    }
    out.push({ address, value, time: at });
  }
  return out;
}

async function toEvents(
  mapping: PayloadMapping,
  items: Record<string, unknown>[],
  input: MappingInput,
  payloadText: string,
  sha256hex: (text: string) => Promise<string>,
): Promise<CloudEvent[] | string> {
  const events: CloudEvent[] = [];
  const positionOfId = new Map<string, number>();
  for (const [index, item] of items.entries()) {
    const event: Record<string, unknown> = { ...item };
    if (event.specversion === undefined) event.specversion = "1.0";
    else if (event.specversion !== "1.0") {
      return `event ${index}: specversion ${JSON.stringify(event.specversion)} is not "1.0"`;
    }
    if (event.datacontenttype === undefined) event.datacontenttype = "application/json";
    for (const field of ["source", "type"]) {
      if (typeof event[field] !== "string" || event[field] === "") {
        return `event ${index} has no ${field} (a non-empty string)`;
      }
    }
    if (event.time === undefined) {
      return `event ${index} has no time: take it from the payload, or write time: $receivedAt to use the receive time`;
    }
    if (typeof event.time !== "string" || Number.isNaN(Date.parse(event.time))) {
      return `event ${index}: time ${JSON.stringify(event.time)} is not an ISO 8601 date-time (see $isoTime)`;
    }
    if (event.id === undefined) {
      const made = await mappedEventId(mapping.id_fields, event, input.connection, payloadText, index, sha256hex);
      if (!made.ok) return `event ${index}: ${made.reason}`;
      event.id = made.id;
    } else if (typeof event.id !== "string" || event.id === "") {
      return `event ${index}: id ${JSON.stringify(event.id)} is not a non-empty string`;
    }
    const key = `${event.source}\u0000${event.id}`;
    const earlier = positionOfId.get(key);
    if (earlier !== undefined) {
      // The second would be taken for a resend of the first and dropped as a duplicate.
      const fields = mapping.id_fields.length > 0 ? `id_fields [${mapping.id_fields.join(", ")}]` : "its id";
      return `events ${earlier} and ${index} get the same id from ${fields}: add a field that tells them apart`;
    }
    positionOfId.set(key, index);
    event.connection = input.connection;
    event.mappingrev = input.revision;
    const serialized = JSON.stringify(event);
    // A UTF-16 unit is at most 3 UTF-8 bytes: count exactly only when it may matter.
    if (serialized.length * 3 > MAX_EVENT_BYTES && utf8Length(serialized) > MAX_EVENT_BYTES) {
      return `event ${index} is larger than ${MAX_EVENT_BYTES} bytes serialized`;
    }
    // Plain objects (JSONata builds some without a prototype), exactly what is sent.
    events.push(JSON.parse(serialized) as CloudEvent);
  }
  return events;
}

/**
 * The deterministic id of a mapped event that carries none: `sfb-m-` and the
 * first 40 hex digits of SHA-256 over the JSON text of
 * `["sfb-m/1", connection, source, type, v1, v2, …]` with the values of
 * `id_fields` in order (a missing one is an error: it would give different
 * events the same id). With no id_fields, `["sfb-m/1", connection, source,
 * type, "payload", <payload text>, <index of the event>]`. Nothing of the
 * mapping itself (its id, name, revision or expression) goes in, so a
 * re-created or edited mapping gives a resent payload the same ids.
 */
export async function mappedEventId(
  idFields: readonly string[],
  event: Record<string, unknown>,
  connection: string,
  payloadText: string,
  index: number,
  sha256hex: (text: string) => Promise<string>,
): Promise<{ ok: true; id: string } | { ok: false; reason: string }> {
  const parts: unknown[] = [ID_HASH_VERSION, connection, event.source, event.type];
  if (idFields.length === 0) parts.push("payload", payloadText, index);
  for (const path of idFields) {
    const value = valueAt(event, path);
    if (value === undefined || value === null) {
      return { ok: false, reason: `id field ${path} is missing: the id cannot be derived` };
    }
    parts.push(value);
  }
  return { ok: true, id: `${MAPPED_ID_PREFIX}${(await sha256hex(JSON.stringify(parts))).slice(0, 40)}` };
}

/** The value at a dotted path (`data.order`) of an object. */
export function valueAt(root: Record<string, unknown>, path: string): unknown {
  let at: unknown = root;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = Object.hasOwn(at, key) ? (at as Record<string, unknown>)[key] : undefined;
  }
  return at;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/**
 * MQTT topic-filter matching (MQTT 3.1.1 §4.7, 5.0 §4.7): `+` is one level,
 * `#` (last level only) the parent level and any below it, and a wildcard
 * first level never matches a topic starting with `$` (`$SYS/…`). HTTP routes
 * are matched by the same rules. An invalid filter or topic matches nothing
 * (`topicFilterProblem` says why a filter is invalid).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic === "" || topic.includes("+") || topic.includes("#") || topicFilterProblem(filter) !== undefined) {
    return false;
  }
  const wanted = filter.split("/");
  const levels = topic.split("/");
  if (topic.startsWith("$") && (wanted[0] === "+" || wanted[0] === "#")) return false;
  for (let i = 0; i < wanted.length; i++) {
    const level = wanted[i];
    if (level === "#") return true;
    if (i >= levels.length) return false;
    if (level !== "+" && level !== levels[i]) return false;
  }
  return wanted.length === levels.length;
}

/** Why a topic filter (or HTTP route pattern) is not valid, or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === "") return "a topic filter cannot be empty";
  const levels = filter.split("/");
  for (const [index, level] of levels.entries()) {
    if (level.includes("#") && (level !== "#" || index !== levels.length - 1)) {
      return `"#" must be a whole level and the last one: ${filter}`;
    }
    if (level.includes("+") && level !== "+") return `"+" must be a whole level: ${filter}`;
  }
  return undefined;
}

/**
 * Why an MQTT topic filter is one no broker need take, or undefined when it is valid: the
 * wildcards of `topicFilterProblem`, and what `unsendable` finds.
 */
export function mqttFilterProblem(filter: string): string | undefined {
  const point = unsendable(filter);
  if (point !== undefined) {
    return (
      `a topic filter may not hold a control character, a Unicode non-character or a lone surrogate ` +
      `(here ${codePoint(point)}): MQTT lets a broker refuse it, and Mosquitto drops the connection: ${JSON.stringify(filter)}`
    );
  }
  return topicFilterProblem(filter);
}

/** The first mapping of `maps` (in their order) for this transport whose pattern matches the topic or route. */
export function findMapping(
  maps: readonly PayloadMapping[],
  transport: PayloadMapping["transport"],
  topic: string,
): PayloadMapping | undefined {
  return maps.find((map) => map.transport === transport && topicMatches(map.match, topic));
}
