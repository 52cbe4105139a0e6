// The CloudEvents Kafka protocol binding 1.0, read side: one Kafka record
// becomes the intakes the pipeline validates. Pure: no sockets, no clock.
//
// - structured mode (`content-type: application/cloudevents+json`): the value is the event;
// - batched (`application/cloudevents-batch+json`, the HTTP binding's format,
//   which some producers also send over Kafka): one intake per array element;
// - binary mode (a `ce_specversion` header): the event's JSON text is built
//   from the `ce_*` headers (UTF-8 values, no further encoding) and the value
//   as `data`, exactly as the HTTP intake builds it (sources/http/binding.ts);
// - anything else: the value as it came, for the pipeline to validate as a
//   CloudEvent or for the connection's payload mappings of transport kafka.
import { bytesText, UTF8_VALUE } from "../../core/bytes-text.ts";
import type { Intake } from "../../core/ports.ts";
import { BATCH_TYPE, type BinaryBinding, batchItems, binaryEvent, parseMediaType } from "../http/binding.ts";

/** Kafka's binary mode: `ce_` headers whose values are the attribute's UTF-8 text. */
export const KAFKA_BINARY: BinaryBinding<Uint8Array> = {
  prefix: "ce_",
  decode: (raw) => {
    try {
      return UTF8_VALUE.decode(raw);
    } catch {
      throw new Error("its value is not valid UTF-8");
    }
  },
};

/**
 * One record header: name and value as bytes. Kafka lets a header's value be
 * null (Java's `new RecordHeader(name, null)`, the console producer's
 * `null.marker`): it arrives as null or undefined.
 */
export type KafkaHeader = [Uint8Array, Uint8Array | null | undefined];

/** One Kafka record as the source reads it; a null value is a tombstone (or a producer's empty record). */
export interface KafkaRecordView {
  topic: string;
  value: Uint8Array | null | undefined;
  headers: Iterable<KafkaHeader>;
}

/**
 * Record headers as text for payload mappings (`$headers`): names and values
 * as their UTF-8 text, or `base64:` and their base64 when they are not UTF-8
 * (Kafka headers are bytes: a Java producer's serialized UUID, a tracing
 * id), so no byte is lost; a null value as ""; a repeated name keeps its
 * values joined by ", " as HTTP does.
 */
export function headerText(headers: Iterable<KafkaHeader>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    const key = bytesText(name);
    const text = value ? bytesText(value) : "";
    out[key] = key in out ? `${out[key]}, ${text}` : text;
  }
  return out;
}

/**
 * The intakes one record becomes (several for a batch). Never throws: a
 * record it cannot read is a rejected intake with its value and the reason,
 * so one odd record cannot hold its partition back.
 */
export function recordIntakes(record: KafkaRecordView, receivedAt: Date): Intake[] {
  try {
    return readRecord(record, receivedAt);
  } catch (err) {
    const payload = record.value instanceof Uint8Array ? record.value : new Uint8Array(0);
    const reason = `the Kafka record could not be read: ${(err as Error).message}`;
    return [{ kind: "rejected", payload, origin: String(record.topic), receivedAt, reason }];
  }
}

function readRecord(record: KafkaRecordView, receivedAt: Date): Intake[] {
  const value = record.value ?? new Uint8Array(0);
  const raw: Record<string, Uint8Array> = {};
  for (const [name, headerValue] of record.headers) {
    // A header without a value carries no attribute. Binding attribute names are
    // lower-case; a header name is matched case-insensitively.
    if (headerValue) raw[Buffer.from(name).toString("utf8").toLowerCase()] = headerValue;
  }
  const headers = headerText(record.headers);
  const origin = record.topic;
  const via = { transport: "kafka" as const, headers };
  const contentType = raw["content-type"] ? Buffer.from(raw["content-type"]).toString("utf8") : undefined;
  const media = parseMediaType(contentType);
  if (media.type === BATCH_TYPE) {
    return batchItems(value).map((item) =>
      item.problem
        ? { kind: "rejected", payload: item.payload, origin, receivedAt, reason: item.problem.reason }
        : { kind: "raw", payload: item.payload, origin, receivedAt, via },
    );
  }
  if (raw.ce_specversion !== undefined && !media.type.startsWith("application/cloudevents")) {
    const item = binaryEvent(raw, value, KAFKA_BINARY);
    if (item.problem)
      return [{ kind: "rejected", payload: item.payload, origin, receivedAt, reason: item.problem.reason }];
    return [{ kind: "raw", payload: item.payload, origin, receivedAt, via }];
  }
  return [{ kind: "raw", payload: value, origin, receivedAt, via }];
}
