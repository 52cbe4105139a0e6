import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PayloadMapping } from "../../core/contract.ts";
import type { Intake } from "../../core/ports.ts";
import { findMapping } from "../../mapping/evaluate.ts";
import { entryIntakes, escapeHeaderValue } from "./entry.ts";
import { defaultConsumer } from "./source.ts";

const at = new Date("2026-01-01T00:00:00Z");
const bytes = (text: string) => Buffer.from(text, "utf8");
const fields = (...pairs: (string | Uint8Array)[]) => pairs.map((p) => (typeof p === "string" ? bytes(p) : p));
const text = (payload: Uint8Array) => Buffer.from(payload).toString("utf8");
const payloadOf = (intake: Intake | undefined) =>
  intake && intake.kind !== "event" ? intake.payload : new Uint8Array();

const ATTRIBUTES = ["ce_specversion", "1.0", "ce_source", "line1/press3", "ce_type", "production.reported"];

describe("Redis entry format", () => {
  it("hands the payload field as raw bytes from its stream, the other fields as headers", () => {
    const [intake] = entryIntakes("plant/line1", "1-0", fields("line", "L1", "payload", "{}"), at);
    expect(intake).toEqual({
      kind: "raw",
      payload: bytes("{}"),
      origin: "plant/line1",
      receivedAt: at,
      via: { transport: "redis", headers: { line: "L1" } },
    });
  });

  it("is taken by a payload mapping of transport redis whose match is the stream name", () => {
    const [intake] = entryIntakes("plant/line1", "1-0", fields("payload", "{}"), at);
    const mapping = { id: 1, transport: "redis", match: "plant/+" } as PayloadMapping;
    const mqtt = { ...mapping, id: 2, transport: "mqtt" } as PayloadMapping;
    const origin = intake?.kind === "raw" ? intake.origin : "";
    expect(
      findMapping([mqtt, mapping], intake?.kind === "raw" ? (intake.via?.transport ?? "mqtt") : "mqtt", origin),
    ).toBe(mapping);
  });

  it("an entry of fields alone is one JSON object of them, a payload for the mappings", () => {
    const [intake] = entryIntakes("plant/line1", "5-1", fields("temp", "21.5", "state", "RUN", "temp", "21.7"), at);
    expect(intake).toMatchObject({ kind: "raw", origin: "plant/line1", via: { transport: "redis", headers: {} } });
    // Values stay text (Redis keeps no types); a repeated field has the array of its values.
    expect(text(payloadOf(intake))).toBe('{"temp":["21.5","21.7"],"state":"RUN"}');
    const [proto] = entryIntakes("s", "5-2", fields("__proto__", "x", "a", ""), at);
    expect(JSON.parse(text(payloadOf(proto)))).toEqual(JSON.parse('{"__proto__":"x","a":""}'));
    expect(Object.keys(JSON.parse(text(payloadOf(proto))))).toEqual(["__proto__", "a"]);
  });

  it("a CloudEvents content type without a payload field is rejected, keeping its fields, naming the field", () => {
    const [intake] = entryIntakes("s", "5-1", fields("content-type", "application/cloudevents+json", "line", "L1"), at);
    expect(intake?.kind).toBe("rejected");
    if (intake?.kind !== "rejected") return;
    expect(intake.reason).toBe(
      'redis entry 5-1 of stream "s": content-type application/cloudevents+json names a CloudEvent but the entry has no "payload" field',
    );
    expect(JSON.parse(text(intake.payload))).toEqual({
      stream: "s",
      id: "5-1",
      fields: [
        ["content-type", "application/cloudevents+json"],
        ["line", "L1"],
      ],
    });
  });

  it("binary mode without a payload field is an event without data", () => {
    const [intake] = entryIntakes("s", "1-0", fields(...ATTRIBUTES, "ce_id", "e-0"), at);
    expect(intake?.kind).toBe("raw");
    expect(JSON.parse(text(payloadOf(intake)))).not.toHaveProperty("data");
    expect(JSON.parse(text(payloadOf(intake))).id).toBe("e-0");
  });

  it("any entry of UTF-8 fields alone reads back as its fields (property)", () => {
    // Any code point, a byte-order mark included (ASCII alone never had one to lose).
    const name = fc
      .string({ maxLength: 8, unit: "binary" })
      .filter((n) => n !== "payload" && n !== "ce_specversion" && n !== "content-type");
    const value = fc.string({ maxLength: 12, unit: "binary" });
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 6 }), (pairs) => {
        const [intake] = entryIntakes("s", "1-0", fields(...pairs.flat()), at);
        expect(intake?.kind).toBe("raw");
        const object = JSON.parse(text(payloadOf(intake))) as Record<string, string | string[]>;
        const back = Object.entries(object).flatMap(([n, v]) => (Array.isArray(v) ? v : [v]).map((x) => [n, x]));
        const sorted = (list: string[][]) => list.map((p) => JSON.stringify(p)).sort();
        expect(sorted(back)).toEqual(sorted(pairs));
      }),
    );
  });

  it("regression: a field that starts with a byte-order mark keeps it, as a header and in a fields-alone entry", () => {
    const [header] = entryIntakes("s", "1-2", fields("payload", "{}", "label", "\ufeffPress 3"), at);
    expect(header?.kind === "raw" && header.via?.headers).toEqual({ label: "\ufeffPress 3" });
    const [alone] = entryIntakes("s", "1-3", fields("\ufefftemp", "\ufeff21.5"), at);
    expect(JSON.parse(text(payloadOf(alone)))).toEqual({ "\ufefftemp": "\ufeff21.5" });
  });

  it("rejects a header field that is not UTF-8, keeping its bytes as base64", () => {
    const [intake] = entryIntakes("s", "1-1", fields("payload", "{}", "tag", new Uint8Array([0xff, 0xfe])), at);
    expect(intake?.kind === "rejected" && intake.reason).toMatch(/field "tag".*not UTF-8/);
    expect(text(payloadOf(intake))).toContain("base64://4=");
  });

  it("reads binary mode: ce_ fields verbatim, the payload as data, default content type JSON", () => {
    const [intake] = entryIntakes(
      "s",
      "1-0",
      fields("payload", " [1, 2.50] ", ...ATTRIBUTES, "ce_id", ' "quoted" %20 ', "ce_time", "2026-01-01T00:00:00Z"),
      at,
    );
    expect(intake?.kind).toBe("raw");
    const event = JSON.parse(text(payloadOf(intake)));
    expect(event).toMatchObject({ id: ' "quoted" %20 ', datacontenttype: "application/json", data: [1, 2.5] });
    expect(text(payloadOf(intake))).toContain('"data":[1, 2.50]}');
  });

  it("rejects binary mode whose data is not JSON, with the bytes as data_base64", () => {
    const [intake] = entryIntakes("s", "1-0", fields("payload", "not json", ...ATTRIBUTES, "ce_id", "x"), at);
    expect(intake?.kind === "rejected" && intake.reason).toMatch(/^redis entry 1-0: binary mode: the body \(data\)/);
  });

  it("splits a batch into one intake per element; a batch that is no array is one rejected item", () => {
    const batch = entryIntakes(
      "s",
      "1-0",
      fields("content-type", "application/cloudevents-batch+json", "payload", '[{"id":"a"},{"id":"b"}]'),
      at,
    );
    expect(batch.map((i) => i.kind === "raw" && text(i.payload))).toEqual(['{"id":"a"}', '{"id":"b"}']);
    const [notArray] = entryIntakes(
      "s",
      "1-0",
      fields("content-type", "application/cloudevents-batch+json", "payload", "{}"),
      at,
    );
    expect(notArray?.kind === "rejected" && notArray.reason).toMatch(/not a JSON array/);
  });

  it("refuses a CloudEvents content type it does not take, as rejected", () => {
    const [intake] = entryIntakes(
      "s",
      "1-0",
      fields("content-type", "application/cloudevents+avro", "payload", "x"),
      at,
    );
    expect(intake?.kind === "rejected" && intake.reason).toMatch(/only the JSON event format/);
  });

  it("names the consumer by host and connection when none is set", () => {
    expect(defaultConsumer("PLANT1", "edge-07")).toBe("edge-07-PLANT1");
  });

  // Properties: no entry is lost, whatever its bytes.
  it("every entry becomes at least one intake; the payload's bytes pass unchanged outside the CloudEvents modes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.dictionary(
          fc.string({ maxLength: 12 }).filter((n) => n !== "payload" && n !== "content-type" && !n.startsWith("ce_")),
          fc.string({ maxLength: 20 }),
        ),
        (payload, headers) => {
          const pairs = [...Object.entries(headers).flat(), "payload", payload];
          const intakes = entryIntakes("s", "1-0", fields(...pairs), at);
          expect(intakes).toHaveLength(1);
          const [intake] = intakes;
          expect(intake?.kind).toBe("raw");
          if (intake?.kind !== "raw") return;
          expect(Buffer.from(intake.payload).equals(Buffer.from(payload))).toBe(true);
          expect(intake.via?.headers).toEqual(headers);
        },
      ),
    );
  });

  it("binary mode keeps every attribute value exactly, and any payload bytes become an intake", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 100 }), (id, payload) => {
        const intakes = entryIntakes("s", "1-0", fields("payload", payload, ...ATTRIBUTES, "ce_id", id), at);
        expect(intakes).toHaveLength(1);
        const [intake] = intakes;
        if (!intake || intake.kind === "event") throw new Error("no intake");
        const stored = JSON.parse(text(intake.payload));
        expect(stored.id).toBe(id);
        if (payload.length === 0) expect(stored).not.toHaveProperty("data");
        else if (intake.kind === "raw") expect(JSON.parse(text(payload))).toEqual(stored.data);
        else expect(stored.data_base64).toBe(Buffer.from(payload).toString("base64"));
      }),
    );
  });

  // Found by the property above: an empty payload is an event without data, not an error.
  it("regression: binary mode with an empty payload is an event without data", () => {
    const [intake] = entryIntakes("s", "1-0", fields("payload", "", ...ATTRIBUTES, "ce_id", ""), at);
    expect(intake?.kind).toBe("raw");
    expect(JSON.parse(text(payloadOf(intake)))).toEqual({
      specversion: "1.0",
      source: "line1/press3",
      type: "production.reported",
      id: "",
    });
  });

  // Found by the header property: a field named __proto__ was assigned as the prototype and lost.
  it('regression: a field named "__proto__" is kept as a header', () => {
    const [intake] = entryIntakes("s", "1-0", fields("__proto__", "x", "payload", "{}"), at);
    const headers = intake?.kind === "raw" ? intake.via?.headers : undefined;
    expect(Object.entries(headers ?? {})).toEqual([["__proto__", "x"]]);
  });

  it("escapeHeaderValue escapes exactly what the binding's header decoding would change", () => {
    expect(escapeHeaderValue(' a"%\t')).toBe("%20a%22%25%09");
    expect(escapeHeaderValue("\u00a0x")).toBe("%C2%A0x");
  });
});
