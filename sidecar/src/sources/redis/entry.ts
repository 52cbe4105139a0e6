// What one Redis stream entry hands to the pipeline. Redis has no CloudEvents
// binding, so the sidecar defines the entry format (README.md, "Entry format"):
//
// - `payload`: the bytes — a CloudEvent as JSON (structured mode),
//   a JSON array of CloudEvents when `content-type` is
//   application/cloudevents-batch+json (batched), the event's data in binary
//   mode, or anything a payload mapping of transport `redis` takes;
// - `content-type` (optional): as the Kafka binding's header of that name;
// - `ce_<attribute>` fields (binary mode, told by `ce_specversion`): the
//   context attributes, verbatim (no header encoding: entry values are
//   binary-safe), the payload being `data` (JSON);
// - every other field reaches payload mappings as `$headers`;
// - an entry with no `payload` (and not binary mode) is fields alone, the
//   common Redis Streams idiom (`XADD s * temp 21.5 state RUN`): it becomes
//   one JSON object of its fields, a payload for the mappings.
//
// Binary and batched mode go through the HTTP binding's reader, so the three
// modes read exactly as they do over HTTP. Pure: no sockets, no clock.
import { bytesText, UTF8_VALUE } from "../../core/bytes-text.ts";
import type { Intake, IntakeVia } from "../../core/ports.ts";
import { decodeEvents, JSON_TYPE } from "../http/binding.ts";

export const PAYLOAD_FIELD = "payload";
export const CONTENT_TYPE_FIELD = "content-type";
const ATTRIBUTE_FIELD = /^ce_(.*)$/s;

const PAYLOAD_BYTES = Buffer.from(PAYLOAD_FIELD, "latin1");

function isPayloadName(name: Uint8Array): boolean {
  return name.byteLength === PAYLOAD_BYTES.byteLength && PAYLOAD_BYTES.equals(name);
}

/** An entry as XREADGROUP returns it: field/value pairs, in order, as bytes. */
export type EntryFields = readonly Uint8Array[];

/**
 * The intakes one entry becomes: one, or one per element of a batch. An entry
 * whose fields are not UTF-8, or that names a CloudEvents content type with
 * no `payload`, is handed over as rejected (stored in Odoo with its fields and
 * the reason), never dropped.
 */
export function entryIntakes(stream: string, id: string, fields: EntryFields, receivedAt: Date): Intake[] {
  // The stream name, as an MQTT topic or an HTTP route: payload mappings match it, Odoo shows it.
  const origin = stream;
  // The common entry, `payload` alone: no header to read.
  if (fields.length === 2 && isPayloadName(fields[0] as Uint8Array)) {
    return [
      { kind: "raw", payload: fields[1] as Uint8Array, origin, receivedAt, via: { transport: "redis", headers: {} } },
    ];
  }
  let payload: Uint8Array | undefined;
  // Pairs first: Object.fromEntries keeps a field named "__proto__" as a header, an assignment would not.
  const pairs: [string, string][] = [];
  const problems: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1] as Uint8Array;
    if (payload === undefined && isPayloadName(fields[i] as Uint8Array)) {
      payload = value;
      continue;
    }
    try {
      pairs.push([UTF8_VALUE.decode(fields[i] as Uint8Array), UTF8_VALUE.decode(value)]);
    } catch {
      problems.push(`field ${JSON.stringify(bytesText(fields[i] as Uint8Array))}: name or value is not UTF-8`);
    }
  }
  if (fields.length % 2 !== 0) problems.push("odd number of field/value items");
  const others: Record<string, string> = Object.fromEntries(pairs);
  const binary = Object.hasOwn(others, "ce_specversion");
  const contentType = Object.hasOwn(others, CONTENT_TYPE_FIELD) ? others[CONTENT_TYPE_FIELD] : undefined;
  const claimsEvent = contentType?.toLowerCase().startsWith("application/cloudevents") ?? false;
  if (payload === undefined && !binary && problems.length === 0) {
    if (!claimsEvent) {
      // Fields alone (XADD line1 * temp 21.5 state RUN), the common Redis Streams
      // idiom: the entry is one JSON object of them, for a payload mapping.
      const data = fieldsObject(pairs);
      return [{ kind: "raw", payload: data, origin, receivedAt, via: { transport: "redis", headers: {} } }];
    }
    problems.push(`content-type ${contentType} names a CloudEvent but the entry has no "${PAYLOAD_FIELD}" field`);
  }
  if (problems.length > 0) {
    const reason = `redis entry ${id} of stream ${JSON.stringify(stream)}: ${problems.join("; ")}`;
    return [{ kind: "rejected", payload: entryAsJson(stream, id, fields), origin, receivedAt, reason }];
  }
  // Binary mode without a payload field: an event without data, as with an empty one.
  payload ??= new Uint8Array();
  const via: IntakeVia = { transport: "redis", headers: others };
  if (!binary && !claimsEvent) {
    // Structured mode or a payload for the mappings: the pipeline tells which.
    return [{ kind: "raw", payload, origin, receivedAt, via }];
  }
  const decoded = decodeEvents(bindingHeaders(others, binary), payload);
  if (!decoded.ok) {
    return [{ kind: "rejected", payload, origin, receivedAt, reason: `redis entry ${id}: ${decoded.reason}` }];
  }
  return decoded.items.map(
    (item): Intake =>
      item.problem
        ? {
            kind: "rejected",
            payload: item.payload,
            origin,
            receivedAt,
            reason: `redis entry ${id}: ${item.problem.reason}`,
          }
        : { kind: "raw", payload: item.payload, origin, receivedAt, via },
  );
}

/**
 * An entry of fields alone as one JSON object: each field's value as a
 * string (Redis keeps no types), in the entry's order; a field given more
 * than once has the array of its values.
 */
export function fieldsObject(pairs: readonly (readonly [string, string])[]): Uint8Array {
  const object = new Map<string, string | string[]>();
  for (const [name, value] of pairs) {
    const had = object.get(name);
    object.set(name, had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]);
  }
  // From a Map: a field named "__proto__" is a member like any other.
  return Buffer.from(JSON.stringify(Object.fromEntries(object)), "utf8");
}

/**
 * The entry's fields as the HTTP binding's headers: `ce_x` → `ce-x`, the
 * value escaped so the binding's header decoding (unquoting, trimming,
 * percent-decoding) gives it back verbatim. In binary mode a missing
 * content type means JSON (the one data type events carry), and
 * `ce_datacontenttype` is taken as the content type.
 */
export function bindingHeaders(fields: Record<string, string>, binary: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    const attribute = ATTRIBUTE_FIELD.exec(name);
    if (!attribute) continue;
    if (attribute[1] === "datacontenttype") continue;
    headers[`ce-${attribute[1]}`] = escapeHeaderValue(value);
  }
  const contentType = fields[CONTENT_TYPE_FIELD] ?? fields.ce_datacontenttype;
  if (contentType !== undefined) headers["content-type"] = contentType;
  else if (binary) headers["content-type"] = JSON_TYPE;
  return headers;
}

/** Percent-encodes what the binding's header decoding would change: `%`, `"` and white space. */
export function escapeHeaderValue(value: string): string {
  return value.replace(/[%"\s]/g, (char) =>
    [...Buffer.from(char, "utf8")].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/**
 * A rejected entry as stored in Odoo: its stream, id and every field, so
 * nothing is lost (values that are not UTF-8 as base64).
 */
export function entryAsJson(stream: string, id: string, fields: EntryFields): Uint8Array {
  const pairs: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    pairs.push([bytesText(fields[i] as Uint8Array), bytesText(fields[i + 1] ?? new Uint8Array())]);
  }
  return Buffer.from(JSON.stringify({ stream, id, fields: pairs }), "utf8");
}
