// The CloudEvents AMQP protocol binding 1.0, read side, on AMQP 0-9-1 as
// RabbitMQ carries it: the message's `content_type` property and its header
// table (the binding's application properties). Pure: no sockets, no clock.
//
// - structured mode (`content_type: application/cloudevents+json`): the body is the event;
// - batched mode (`application/cloudevents-batch+json`): a JSON array, one item per element;
// - binary mode (a `cloudEvents:specversion` or `cloudEvents_specversion`
//   header, or `ce-specversion` as the RabbitMQ protocol binding writes it):
//   the event's JSON text is built from the attribute headers, `datacontenttype`
//   from `content_type`, and the body spliced in as `data` exactly as it
//   arrived, so its numbers stay exact;
// - anything else: the bytes as they came (a CloudEvent as JSON text, as MQTT
//   carries it, or a payload for the connection's amqp payload mappings).
//
// What is an event, but a bad one, becomes an item with the reason, stored in
// Odoo as rejected with its bytes. Unlike HTTP there is nobody to answer 415:
// a content type the sidecar does not take is such a reason too.
import { bytesText } from "../../core/bytes-text.ts";
import {
  arrayElementTexts,
  BATCH_TYPE,
  JSON_TYPE,
  parseMediaType,
  readJson,
  STRUCTURED_TYPE,
} from "../http/binding.ts";

/** One item a message became: bytes for the pipeline, or bytes with the reason they are rejected. */
export interface AmqpItem {
  payload: Uint8Array;
  problem?: string;
}

/** The AMQP binding's two spellings of the attribute prefix (`:` where the broker allows it, `_` where not). */
export const ATTRIBUTE_PREFIXES = ["cloudEvents:", "cloudEvents_"] as const;
/**
 * The RabbitMQ protocol binding's prefix (Knative Eventing's RabbitMQ broker,
 * the CloudEvents Python SDK's `rabbitmq` binding): `ce-` headers with string
 * values, the name matched case-insensitively as HTTP header names are.
 */
export const RABBITMQ_PREFIX = "ce-";
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

const encoder = new TextEncoder();

/**
 * An AMQP decimal (field type `D`): an unscaled 32-bit integer and the
 * number of decimal places. The unscaled value is signed, as the Java, .NET
 * and Python (pika) clients write and read it; amqplib reads it unsigned.
 */
export class AmqpDecimal {
  readonly places: number;
  readonly unscaled: number;

  constructor(places: number, unscaled: number) {
    this.places = places;
    this.unscaled = unscaled;
  }

  toString(): string {
    const digits = Math.abs(this.unscaled)
      .toString()
      .padStart(this.places + 1, "0");
    const cut = digits.length - this.places;
    const sign = this.unscaled < 0 ? "-" : "";
    return this.places > 0 ? `${sign}${digits.slice(0, cut)}.${digits.slice(cut)}` : `${sign}${digits}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * A header value with amqplib's wrappers taken off. amqplib hands two AMQP
 * field types over as `{"!": type, value}`: timestamps (`T`, seconds since
 * the epoch) become a Date, decimals (`D`) an AmqpDecimal. Anything else is
 * returned as it is.
 */
export function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== "object" || !Object.hasOwn(value, "!")) return value;
  const { "!": type, value: inner } = value as { "!": unknown; value: unknown };
  if (type === "timestamp" && (typeof inner === "number" || typeof inner === "bigint")) {
    return new Date(Number(inner) * 1000);
  }
  if (type === "decimal" && inner !== null && typeof inner === "object") {
    const { places, digits } = inner as { places?: unknown; digits?: unknown };
    // ToInt32: the 32 bits amqplib read unsigned, as the signed integer they are.
    if (typeof places === "number" && typeof digits === "number") return new AmqpDecimal(places, digits | 0);
  }
  return value;
}

/** A Date as RFC 3339 text, or undefined when out of JavaScript's range (a timestamp no clock gives). */
function dateText(date: Date): string | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A timestamp header as text: RFC 3339, or, past JavaScript's dates, its count as sent. */
function timestampText(date: Date, raw: unknown): string {
  return dateText(date) ?? String(raw instanceof Date ? raw.getTime() : (raw as { value: unknown }).value);
}

/** The header value as the binding maps AMQP types to CloudEvents attribute types, or why it cannot be one. */
function attributeValue(
  header: unknown,
): { ok: true; value: string | number | boolean } | { ok: false; reason: string } {
  const value = plainValue(header);
  if (typeof value === "string" || typeof value === "boolean") return { ok: true, value };
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? { ok: true, value }
      : { ok: false, reason: `${value} is no integer (CloudEvents attributes take integers)` };
  }
  if (typeof value === "bigint") return { ok: true, value: value.toString() };
  if (value instanceof Date) {
    const text = dateText(value);
    return text === undefined ? { ok: false, reason: "the timestamp is out of range" } : { ok: true, value: text };
  }
  if (value instanceof AmqpDecimal) {
    return value.places === 0
      ? { ok: true, value: value.unscaled }
      : { ok: false, reason: `${value} is no integer (CloudEvents attributes take integers)` };
  }
  // Binary attribute values are carried base64-encoded in the JSON format.
  if (Buffer.isBuffer(value) || value instanceof Uint8Array)
    return { ok: true, value: Buffer.from(value).toString("base64") };
  return {
    ok: false,
    reason: `a ${value === null ? "void" : Array.isArray(value) ? "array" : typeof value} value is no CloudEvents attribute type`,
  };
}

/** The attribute name a header carries, when it carries one. */
function attributeOf(header: string): string | undefined {
  for (const prefix of ATTRIBUTE_PREFIXES) if (header.startsWith(prefix)) return header.slice(prefix.length);
  if (
    header.length > RABBITMQ_PREFIX.length &&
    header.slice(0, RABBITMQ_PREFIX.length).toLowerCase() === RABBITMQ_PREFIX
  ) {
    return header.slice(RABBITMQ_PREFIX.length).toLowerCase();
  }
  return undefined;
}

/** Whether the headers say the message is a binary-mode CloudEvent. */
export function isBinaryMode(headers: Record<string, unknown> | undefined): boolean {
  if (!headers) return false;
  for (const [header, value] of Object.entries(headers)) {
    if (value !== undefined && attributeOf(header) === "specversion") return true;
  }
  return false;
}

/**
 * The event a binary-mode message carries, as JSON text. A header that cannot
 * be an attribute, or a body that is not the JSON the event schema takes as
 * `data`, makes the item rejected: its bytes are kept in the stored event
 * (`data_base64`), the reason lists every problem.
 */
export function binaryEvent(
  contentType: string | undefined,
  headers: Record<string, unknown>,
  body: Uint8Array,
): AmqpItem {
  const attributes: Record<string, string | number | boolean> = {};
  const problems: string[] = [];
  let declared: { header: string; value: string } | undefined;
  for (const [header, raw] of Object.entries(headers)) {
    const attribute = attributeOf(header);
    if (attribute === undefined || raw === undefined) continue;
    if (!ATTRIBUTE_NAME.test(attribute)) {
      problems.push(`header ${header}: an attribute name is 1 to 20 lower-case letters or digits`);
      continue;
    }
    if (attribute === "datacontenttype") {
      // The content_type property is the datacontenttype in binary mode; the
      // same value sent again as a header is taken, a different one is a reason.
      const value = attributeValue(raw);
      if (!value.ok) problems.push(`header ${header}: ${value.reason}`);
      else declared = { header, value: String(value.value) };
      continue;
    }
    if (attribute === "data" || attribute === "data_base64") {
      problems.push(`header ${header}: data is the message body in binary mode, not a header`);
      continue;
    }
    if (Object.hasOwn(attributes, attribute)) {
      problems.push(`attribute ${attribute} is sent twice (in two headers: cloudEvents:, cloudEvents_ or ce-)`);
      continue;
    }
    const value = attributeValue(raw);
    if (value.ok) attributes[attribute] = value.value;
    else problems.push(`header ${header}: ${value.reason}`);
  }
  let media = parseMediaType(contentType);
  if (declared !== undefined) {
    const own = parseMediaType(declared.value);
    if (media.type === "") media = own;
    else if (own.type !== media.type) {
      problems.push(
        `header ${declared.header} says ${declared.value} but the content_type property says ${media.type}: in binary mode the content_type property is the datacontenttype`,
      );
    }
  }
  if (body.byteLength === 0) {
    const payload = encoder.encode(JSON.stringify(attributes));
    return problems.length > 0 ? { payload, problem: binaryProblem(problems) } : { payload };
  }
  // No content_type: the data is taken for JSON, the one type the event schema allows.
  const jsonType = media.type === "" || media.type === JSON_TYPE;
  const charset = media.params.charset?.toLowerCase();
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    problems.push(`content_type charset=${media.params.charset} is not taken: JSON is sent as UTF-8`);
  }
  const json = jsonType ? readJson(body) : undefined;
  if (!jsonType) problems.push(`content_type ${media.type} is not taken: event data is JSON (${JSON_TYPE})`);
  else if (json && !json.ok) problems.push(`the body (data): ${json.reason}`);
  if (!json?.ok || problems.length > 0) {
    // Stored as the event with its data in base64, as the JSON event format writes non-JSON data.
    const stored: Record<string, string | number | boolean> = { ...attributes };
    if (media.type) stored.datacontenttype = media.type;
    stored.data_base64 = Buffer.from(body).toString("base64");
    return { payload: encoder.encode(JSON.stringify(stored)), problem: binaryProblem(problems) };
  }
  attributes.datacontenttype = JSON_TYPE;
  const head = JSON.stringify(attributes);
  // The body's own text goes in as `data`, numbers exactly as sent.
  return { payload: encoder.encode(`${head.slice(0, -1)},"data":${json.text.trim()}}`) };
}

function binaryProblem(problems: string[]): string {
  return `binary mode: ${problems.join("; ")}`;
}

/**
 * What one AMQP message becomes, by the binding's content modes: structured
 * and batched by `content_type`, binary by a specversion header, anything
 * else the bytes as they came.
 */
export function amqpItems(
  contentType: string | undefined,
  headers: Record<string, unknown> | undefined,
  body: Uint8Array,
): AmqpItem[] {
  const media = parseMediaType(contentType);
  const charset = media.params.charset?.toLowerCase();
  const charsetProblem =
    charset !== undefined && charset !== "utf-8" && charset !== "utf8"
      ? `charset=${media.params.charset} is not taken: JSON is sent as UTF-8 (charset=utf-8, or no charset)`
      : undefined;
  if (media.type.startsWith("application/cloudevents-batch")) {
    if (media.type !== BATCH_TYPE) {
      return [{ payload: body, problem: `${media.type}: only the JSON batch format (${BATCH_TYPE}) is taken` }];
    }
    if (charsetProblem) return [{ payload: body, problem: `batched mode: ${charsetProblem}` }];
    return batchItems(body);
  }
  if (media.type.startsWith("application/cloudevents")) {
    if (media.type !== STRUCTURED_TYPE) {
      return [{ payload: body, problem: `${media.type}: only the JSON event format (${STRUCTURED_TYPE}) is taken` }];
    }
    if (charsetProblem) return [{ payload: body, problem: `structured mode: ${charsetProblem}` }];
    // The pipeline validates it, as it does an MQTT payload.
    return [{ payload: body }];
  }
  if (headers && isBinaryMode(headers)) return [binaryEvent(contentType, headers, body)];
  return [{ payload: body }];
}

/** The batch's elements, each as its own JSON text; a body that is no JSON array is one rejected item. */
function batchItems(body: Uint8Array): AmqpItem[] {
  const json = readJson(body);
  if (!json.ok) return [{ payload: body, problem: `batched mode: ${json.reason}` }];
  if (!Array.isArray(json.value)) {
    const what = json.value === null ? "null" : typeof json.value === "object" ? "a JSON object" : typeof json.value;
    return [{ payload: body, problem: `batched mode: the body is ${what}, not a JSON array of events` }];
  }
  // Each element's own text, cut from the body: its numbers and bytes exactly as sent.
  return arrayElementTexts(json.text).map((text) => ({ payload: encoder.encode(text) }));
}

/**
 * The message's headers as payload mappings see them: strings, a repeated or
 * array value joined by ", " (as HTTP and MQTT 5 do), bytes as UTF-8 text,
 * nested tables as JSON; `content-type` from the property when it is set.
 */
export function mappingHeaders(
  contentType: string | undefined,
  headers: Record<string, unknown> | undefined,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[name] = headerText(value);
  }
  if (contentType) out["content-type"] = contentType;
  return Object.keys(out).length > 0 ? out : undefined;
}

function headerText(header: unknown): string {
  const value = plainValue(header);
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return bytesText(value);
  if (value instanceof Date) return timestampText(value, header);
  if (Array.isArray(value)) return value.map(headerText).join(", ");
  if (value instanceof AmqpDecimal) return value.toString();
  if (typeof value === "object" && value !== null) {
    // AMQP tables may carry 64-bit integers, which JSON.stringify refuses as bigint, and
    // amqplib's wrapped timestamps and decimals, written as their text.
    return JSON.stringify(value, (_key, inner: unknown) => {
      if (typeof inner === "bigint") return inner.toString();
      const plain = plainValue(inner);
      if (plain instanceof Date) return timestampText(plain, inner);
      return plain instanceof AmqpDecimal ? plain.toString() : plain;
    });
  }
  return String(value);
}
