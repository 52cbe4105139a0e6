// The CloudEvents HTTP protocol binding 1.0, read side: a POST to /events
// becomes the items the pipeline validates, exactly as if they had come by
// MQTT (one CloudEvent as JSON text each). Pure: no sockets, no clock.
//
// - structured mode (`Content-Type: application/cloudevents+json`): the body is the event;
// - binary mode (`ce-*` headers, the body is `data`): the event's JSON text is
//   built from the headers (quoted-string and percent decoding, as the binding
//   says) and the body, spliced in as it arrived so its numbers stay exact;
// - batched mode (`application/cloudevents-batch+json`): a JSON array, one item per element.
//
// What cannot be an event at all (a content type we do not take) is refused
// before anything is stored. What is an event, but a bad one (JSON that does
// not parse, a `source` outside the producer's prefix), becomes an item that
// carries the reason and is stored as rejected, so a person sees it in Odoo.
import { UTF8_VALUE } from "../../core/bytes-text.ts";

/** What a decoded request asks to store, item by item. */
export interface DecodedItem {
  /** The event as JSON text (or the bytes as they came, when they are not JSON). */
  payload: Uint8Array;
  /** The `id` and `source` the item says it has, when it says (for the answer). */
  id?: string;
  source?: string;
  /**
   * Set when the intake already knows the item is invalid: it is stored as
   * rejected with `reason`, and the request is answered `status`.
   */
  problem?: { status: ItemProblemStatus; reason: string };
}

/** 400: the bytes are not what the content type says (syntax); 403: outside the producer's source prefix. */
export type ItemProblemStatus = 400 | 403;

export type ContentMode = "structured" | "binary" | "batched";

export type Decoded =
  | { ok: true; mode: ContentMode; items: DecodedItem[] }
  /** Refused as a whole, nothing stored: the producer must change its request. */
  | { ok: false; status: 415; reason: string };

export const STRUCTURED_TYPE = "application/cloudevents+json";
export const BATCH_TYPE = "application/cloudevents-batch+json";
/** The one `datacontenttype` the event schema allows. */
export const JSON_TYPE = "application/json";

/** A media type split into its lower-case type and parameters. */
export interface MediaType {
  type: string;
  params: Record<string, string>;
}

export function parseMediaType(header: string | undefined): MediaType {
  const [head = "", ...rest] = (header ?? "").split(";");
  const params: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
    if (name) params[name] = value;
  }
  return { type: head.trim().toLowerCase(), params };
}

/** JSON text is UTF-8 (RFC 8259): a charset parameter may say so and nothing else. */
function charsetProblem(media: MediaType): string | undefined {
  const charset = media.params.charset?.toLowerCase();
  if (charset === undefined || charset === "utf-8" || charset === "utf8") return undefined;
  return `charset=${media.params.charset} is not taken: JSON is sent as UTF-8 (charset=utf-8, or no charset)`;
}

// A body's leading byte-order mark is dropped, as JSON readers may; attribute values keep it (UTF8_VALUE).
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The body as text and its JSON value, or why it is neither. */
export function readJson(body: Uint8Array): { ok: true; text: string; value: unknown } | { ok: false; reason: string } {
  if (body.byteLength === 0) return { ok: false, reason: "empty body" };
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, reason: "body is not valid UTF-8" };
  }
  try {
    return { ok: true, text, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
}

/** `id` and `source` of a parsed value, when it is an object carrying them as strings. */
function identity(value: unknown): { id?: string; source?: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const { id, source } = value as { id?: unknown; source?: unknown };
  return {
    ...(typeof id === "string" ? { id } : {}),
    ...(typeof source === "string" ? { source } : {}),
  };
}

/**
 * Reverses the binding's header encoding: an RFC 7230 quoted string is
 * unquoted (backslash escapes), then one round of percent-decoding; byte
 * sequences that are not UTF-8 (overlong forms included) are an error.
 */
export function decodeHeaderValue(raw: string): string {
  let value = raw.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value.charCodeAt(i);
    if (char === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`"%${hex}" is not a percent-encoded byte`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      for (const byte of encoder.encode(value[i] as string)) bytes.push(byte);
    }
  }
  try {
    return UTF8_VALUE.decode(new Uint8Array(bytes));
  } catch {
    throw new Error("its percent-encoded bytes are not valid UTF-8");
  }
}

/**
 * How a transport's binary mode carries the context attributes: the header
 * name prefix, and how one header value becomes the attribute's text (HTTP:
 * quoted string and percent-encoding; Kafka: the value's UTF-8 bytes).
 */
export interface BinaryBinding<V> {
  prefix: string;
  decode(raw: V): string;
  /** How a reason names where an attribute came from; `header <name>` unless the transport says otherwise. */
  where?(name: string): string;
  /** How a reason names the content type's carrier; `Content-Type` unless the transport says otherwise. */
  contentType?: string;
}

export const HTTP_BINARY: BinaryBinding<string | string[]> = {
  prefix: "ce-",
  decode: (raw) => decodeHeaderValue(Array.isArray(raw) ? raw.join(",") : raw),
};

/**
 * The event a binary-mode request carries, as JSON text: the attributes from
 * the `ce-*` headers (the binding's prefix), `datacontenttype` from
 * Content-Type, and the body as `data`. Header names are lower-case.
 */
export function binaryEvent<V = string | string[]>(
  headers: Record<string, V | undefined>,
  body: Uint8Array,
  binding: BinaryBinding<V> = HTTP_BINARY as unknown as BinaryBinding<V>,
): DecodedItem {
  const attributes: Record<string, string> = {};
  const problems: string[] = [];
  const { prefix } = binding;
  const where = binding.where ?? ((name: string) => `header ${name}`);
  const carrier = binding.contentType ?? "Content-Type";
  let declared: { header: string; value: string } | undefined;
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(prefix) || name === "content-type" || raw === undefined) continue;
    const attribute = name.slice(prefix.length);
    if (!/^[a-z0-9]{1,20}$/.test(attribute)) {
      problems.push(`${where(name)}: an attribute name is 1 to 20 lower-case letters or digits`);
      continue;
    }
    if (attribute === "datacontenttype") {
      // Content-Type is the datacontenttype in binary mode. Some encoders (the
      // CloudEvents JavaScript SDK's Kafka binding) send the attribute as a
      // header too: taken when it says the same, a reason when it does not.
      try {
        declared = { header: name, value: binding.decode(raw) };
      } catch (err) {
        problems.push(`${where(name)}: ${(err as Error).message}`);
      }
      continue;
    }
    if (attribute === "data" || attribute === "data_base64") {
      problems.push(`${where(name)}: data is the body in binary mode, not an attribute`);
      continue;
    }
    try {
      attributes[attribute] = binding.decode(raw);
    } catch (err) {
      problems.push(`${where(name)}: ${(err as Error).message}`);
    }
  }
  const ids = { ...identity(attributes) };
  const contentType = headers["content-type"];
  let media = parseMediaType(
    typeof contentType === "string" || Array.isArray(contentType)
      ? first(contentType)
      : contentType === undefined
        ? undefined
        : binding.decode(contentType),
  );
  if (declared !== undefined) {
    const own = parseMediaType(declared.value);
    if (media.type === "") media = own;
    else if (own.type !== media.type) {
      problems.push(
        `${where(declared.header)} says ${declared.value} but ${carrier} says ${media.type}: in binary mode ${carrier} is the datacontenttype`,
      );
    }
  }
  if (body.byteLength > 0) attributes.datacontenttype = JSON_TYPE;
  const head = JSON.stringify(attributes);
  if (body.byteLength === 0) {
    // No data: the schema decides whether this type may go without.
    return problems.length > 0
      ? withProblem(encoder.encode(head), ids, 400, problems)
      : { ...ids, payload: encoder.encode(head) };
  }
  const json = readJson(body);
  if (!json.ok || problems.length > 0) {
    // Stored as the event with its data in base64, as the JSON event format writes non-JSON data.
    const stored: Record<string, string> = { ...attributes, data_base64: Buffer.from(body).toString("base64") };
    delete stored.datacontenttype;
    if (media.type) stored.datacontenttype = media.type;
    if (!json.ok) problems.push(`the body (data): ${json.reason}`);
    return withProblem(encoder.encode(JSON.stringify(stored)), ids, 400, problems);
  }
  // The body's own text goes in as `data`, numbers exactly as sent.
  return {
    ...ids,
    payload: encoder.encode(`${head.slice(0, -1)}${head === "{}" ? "" : ","}"data":${json.text.trim()}}`),
  };
}

function withProblem(
  payload: Uint8Array,
  ids: { id?: string; source?: string },
  status: ItemProblemStatus,
  problems: string[],
): DecodedItem {
  return { ...ids, payload, problem: { status, reason: `binary mode: ${problems.join("; ")}` } };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The batch's elements, each as its own JSON text; a body that is no JSON array is one rejected item. */
export function batchItems(body: Uint8Array): DecodedItem[] {
  const json = readJson(body);
  if (!json.ok) return [{ payload: body, problem: { status: 400, reason: `batched mode: ${json.reason}` } }];
  if (!Array.isArray(json.value)) {
    const what = json.value === null ? "null" : typeof json.value === "object" ? "a JSON object" : typeof json.value;
    const hint =
      what === "a JSON object" ? ` (send one event with Content-Type ${STRUCTURED_TYPE}, or wrap it in [ ])` : "";
    return [
      {
        payload: body,
        ...identity(json.value),
        problem: { status: 400, reason: `batched mode: the body is ${what}, not a JSON array of events${hint}` },
      },
    ];
  }
  // Each element's own text, cut from the body: its numbers and bytes exactly as sent.
  const texts = arrayElementTexts(json.text);
  return json.value.map((element, i) => ({ payload: encoder.encode(texts[i] as string), ...identity(element) }));
}

/**
 * The texts of a JSON array's elements, in order. Only for text that parsed
 * as an array: a scan for the commas at depth one, outside strings.
 */
export function arrayElementTexts(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++;
      else if (char === 0x22) inString = false;
      continue;
    }
    if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      depth++;
      if (depth === 1) start = i + 1;
    } else if (char === 0x5d || char === 0x7d) {
      if (depth === 1) {
        const last = text.slice(start, i).trim();
        if (last) out.push(last);
      }
      depth--;
    } else if (char === 0x2c && depth === 1) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return out;
}

/**
 * Splits a POST to /events into items by the binding's content modes. The
 * mode is told by Content-Type (structured, batched); anything else with a
 * `ce-specversion` header is binary mode; anything else is refused (415).
 */
export function decodeEvents(headers: Record<string, string | string[] | undefined>, body: Uint8Array): Decoded {
  const media = parseMediaType(first(headers["content-type"]));
  const isBinary = headers["ce-specversion"] !== undefined;
  if (media.type.startsWith("application/cloudevents-batch")) {
    if (media.type !== BATCH_TYPE)
      return unsupported(`${media.type}: only the JSON batch format (${BATCH_TYPE}) is taken`);
    const charset = charsetProblem(media);
    if (charset) return unsupported(charset);
    return { ok: true, mode: "batched", items: batchItems(body) };
  }
  if (media.type.startsWith("application/cloudevents")) {
    if (media.type !== STRUCTURED_TYPE) {
      return unsupported(`${media.type}: only the JSON event format (${STRUCTURED_TYPE}) is taken`);
    }
    const charset = charsetProblem(media);
    if (charset) return unsupported(charset);
    const json = readJson(body);
    if (!json.ok)
      return {
        ok: true,
        mode: "structured",
        items: [{ payload: body, problem: { status: 400, reason: `structured mode: ${json.reason}` } }],
      };
    return { ok: true, mode: "structured", items: [{ payload: body, ...identity(json.value) }] };
  }
  if (isBinary) {
    if (body.byteLength > 0 && media.type !== JSON_TYPE) {
      return unsupported(
        `binary mode: Content-Type ${media.type || "(none)"} is not taken: event data is JSON (Content-Type: ${JSON_TYPE})`,
      );
    }
    const charset = charsetProblem(media);
    if (charset) return unsupported(`binary mode: ${charset}`);
    return { ok: true, mode: "binary", items: [binaryEvent(headers, body)] };
  }
  return unsupported(
    `Content-Type ${media.type || "(none)"} is no CloudEvents content mode: send one event with Content-Type ` +
      `${STRUCTURED_TYPE}, several with ${BATCH_TYPE}, or the data with ce-specversion, ce-id, ce-source, ` +
      `ce-type and ce-time headers and Content-Type ${JSON_TYPE} (binary mode)`,
  );
}

function unsupported(reason: string): Decoded {
  return { ok: false, status: 415, reason };
}

/**
 * Marks items whose `source` is outside the producer's prefix: stored as
 * rejected with the reason (403). An empty prefix allows every source.
 */
export function limitSources(items: DecodedItem[], producer: string, prefix: string): DecodedItem[] {
  if (!prefix) return items;
  return items.map((item) =>
    item.problem || item.source === undefined || item.source.startsWith(prefix)
      ? item
      : {
          ...item,
          problem: {
            status: 403,
            reason: `source ${JSON.stringify(item.source)} is outside producer ${JSON.stringify(producer)}'s source prefix ${JSON.stringify(prefix)}`,
          },
        },
  );
}
