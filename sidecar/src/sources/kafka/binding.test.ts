// The Kafka record → intake reading (CloudEvents Kafka binding): properties
// over arbitrary headers and bytes, and the cases they found, by name.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesText } from "../../core/bytes-text.ts";
import type { Intake } from "../../core/ports.ts";
import { headerText, recordIntakes } from "./binding.ts";

const at = new Date("2026-01-01T00:00:00Z");
const enc = (text: string) => Buffer.from(text, "utf8");
const record = (value: Uint8Array | null, headers: [string | Uint8Array, string | Uint8Array][] = []) => ({
  topic: "plant",
  value,
  headers: headers.map(([k, v]) => [typeof k === "string" ? enc(k) : k, typeof v === "string" ? enc(v) : v]) as [
    Uint8Array,
    Uint8Array,
  ][],
});
const text = (intake: Intake | undefined) =>
  intake && intake.kind !== "event" ? Buffer.from(intake.payload).toString("utf8") : "";

const RESERVED = new Set(["datacontenttype", "data", "data_base64", "specversion"]);
const attributeName = fc.stringMatching(/^[a-z0-9]{1,20}$/).filter((n) => !RESERVED.has(n));
const jsonValue = fc.jsonValue({ maxDepth: 3 });

describe("Kafka binding: binary mode (ce_ headers)", () => {
  it("becomes the structured event: every ce_ attribute, datacontenttype, and the value as data", () => {
    fc.assert(
      fc.property(
        fc.dictionary(attributeName, fc.string({ unit: "grapheme" }), { maxKeys: 8 }),
        jsonValue,
        (attrs, data) => {
          const body = enc(JSON.stringify(data));
          const headers: [string, string][] = [
            ["ce_specversion", "1.0"],
            ...Object.entries(attrs).map(([k, v]) => [`ce_${k}`, v] as [string, string]),
            ["content-type", "application/json"],
          ];
          const [intake, ...rest] = recordIntakes(record(body, headers), at);
          expect(rest).toEqual([]);
          expect(intake?.kind).toBe("raw");
          expect(JSON.parse(text(intake))).toEqual({
            specversion: "1.0",
            ...attrs,
            datacontenttype: "application/json",
            data: JSON.parse(JSON.stringify(data)),
          });
        },
      ),
    );
  });

  it("never throws on any value bytes: JSON goes as data, anything else is rejected with its bytes in data_base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const [intake] = recordIntakes(
          record(bytes, [
            ["ce_specversion", "1.0"],
            ["ce_id", "x"],
          ]),
          at,
        );
        if (intake?.kind === "raw") {
          expect(JSON.parse(text(intake))).toMatchObject({ id: "x" });
        } else {
          expect(intake?.kind).toBe("rejected");
          const stored = JSON.parse(text(intake));
          if (bytes.byteLength > 0) expect(Buffer.from(stored.data_base64, "base64")).toEqual(Buffer.from(bytes));
        }
      }),
    );
  });

  it("never throws on any header bytes: a ce_ value that is not UTF-8 is rejected, naming the header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 16 }), (bytes) => {
        const [intake] = recordIntakes(
          record(enc("{}"), [
            ["ce_specversion", "1.0"],
            ["ce_source", bytes],
          ]),
          at,
        );
        const valid = Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(Buffer.from(bytes));
        if (valid) expect(intake?.kind).toBe("raw");
        else {
          expect(intake?.kind).toBe("rejected");
          expect(intake?.kind === "rejected" && intake.reason).toContain(
            "header ce_source: its value is not valid UTF-8",
          );
        }
      }),
    );
  });

  it("regression: a lone 0xff byte as the value is stored as data_base64, not as text", () => {
    const [intake] = recordIntakes(record(Uint8Array.of(0xff), [["ce_specversion", "1.0"]]), at);
    expect(intake?.kind).toBe("rejected");
    expect(JSON.parse(text(intake)).data_base64).toBe("/w==");
  });

  it("regression: an empty value (a tombstone) is an event without data", () => {
    const [intake] = recordIntakes(
      record(null, [
        ["ce_specversion", "1.0"],
        ["ce_id", "t"],
      ]),
      at,
    );
    expect(JSON.parse(text(intake))).toEqual({ specversion: "1.0", id: "t" });
  });

  it("reads header names case-insensitively (CE_ID is ce_id)", () => {
    const [intake] = recordIntakes(
      record(enc("1"), [
        ["CE_SPECVERSION", "1.0"],
        ["Ce_Id", "c"],
      ]),
      at,
    );
    expect(JSON.parse(text(intake))).toMatchObject({ specversion: "1.0", id: "c", data: 1 });
  });

  it("refuses a ce_datacontenttype that contradicts content-type (content-type carries it in binary mode)", () => {
    const [intake] = recordIntakes(
      record(enc("{}"), [
        ["ce_specversion", "1.0"],
        ["ce_datacontenttype", "text/plain"],
        ["content-type", "application/json"],
      ]),
      at,
    );
    expect(intake?.kind === "rejected" && intake.reason).toContain(
      "header ce_datacontenttype says text/plain but Content-Type says application/json",
    );
  });

  // Found by sdk-peer.test.ts: the CloudEvents JavaScript SDK's Kafka binding
  // writes ce_datacontenttype beside content-type; every binary event it
  // wrote was refused.
  it("takes a ce_datacontenttype that repeats content-type, as the CloudEvents SDK writes it", () => {
    const [intake] = recordIntakes(
      record(enc('{"qty_good":1}'), [
        ["content-type", "application/json"],
        ["ce_specversion", "1.0"],
        ["ce_id", "a"],
        ["ce_source", "0"],
        ["ce_type", "production.reported"],
        ["ce_datacontenttype", "application/json"],
      ]),
      at,
    );
    expect(intake?.kind).toBe("raw");
    expect(JSON.parse(text(intake))).toEqual({
      specversion: "1.0",
      id: "a",
      source: "0",
      type: "production.reported",
      datacontenttype: "application/json",
      data: { qty_good: 1 },
    });
  });
});

describe("Kafka binding: structured, batched and other values", () => {
  it("passes a structured event's bytes through exactly", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const [intake] = recordIntakes(record(bytes, [["content-type", "application/cloudevents+json"]]), at);
        expect(intake?.kind).toBe("raw");
        expect(intake?.kind === "raw" && Buffer.from(intake.payload)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it("splits a batch into one intake per element, each element's text as sent", () => {
    fc.assert(
      fc.property(fc.array(fc.dictionary(attributeName, jsonValue, { maxKeys: 4 }), { maxLength: 6 }), (events) => {
        const body = enc(JSON.stringify(events));
        const out = recordIntakes(record(body, [["content-type", "application/cloudevents-batch+json"]]), at);
        expect(out.map((i) => JSON.parse(text(i)))).toEqual(JSON.parse(JSON.stringify(events)));
      }),
    );
  });

  it("rejects a batch that is not a JSON array, with its bytes", () => {
    const [intake] = recordIntakes(
      record(enc('{"id":1}'), [["content-type", "application/cloudevents-batch+json"]]),
      at,
    );
    expect(intake?.kind === "rejected" && intake.reason).toMatch(/batched mode: the body is a JSON object/);
  });

  it("hands other values over as they came, with the record headers for payload mappings", () => {
    const [intake] = recordIntakes(
      record(enc("21.5"), [
        ["tag", "Line1/Temp"],
        ["tag", "b"],
      ]),
      at,
    );
    expect(intake).toMatchObject({
      kind: "raw",
      origin: "plant",
      via: { transport: "kafka", headers: { tag: "Line1/Temp, b" } },
    });
  });

  it("headerText never throws on any bytes, null values included, and every value keeps its bytes", () => {
    const value = fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), value, (name, bytes) => {
        const [[key, text]] = Object.entries(headerText([[name, bytes]])) as [[string, string]];
        expect(key).toBe(bytesText(name));
        expect(text).toBe(bytes ? bytesText(bytes) : "");
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 8 }), value)), (pairs) => {
        expect(typeof headerText(pairs)).toBe("object");
      }),
    );
  });

  it("regression: a binary-mode attribute that starts with a byte-order mark keeps it", () => {
    // "\ufeffev-1" and "ev-1" are two ids: read as one, the second event was a duplicate of the first.
    const [intake] = recordIntakes(
      record(enc("{}"), [
        ["ce_specversion", "1.0"],
        ["ce_id", "\ufeffev-1"],
        ["ce_source", "press/1"],
        ["ce_type", "t"],
      ]),
      at,
    );
    expect(intake?.kind).toBe("raw");
    expect(JSON.parse(text(intake)).id).toBe("\ufeffev-1");
  });

  it("regression: a header that is not UTF-8 reaches payload mappings as base64, not as U+FFFD", () => {
    // A Java producer's UUID header (16 raw bytes) and a byte-order-marked text; both were decoded
    // leniently before, the UUID's bytes replaced by U+FFFD and lost.
    const uuid = Buffer.from("8f14e45fceea167a5a36dedd4bea2543", "hex");
    const [intake] = recordIntakes(
      record(enc("21.5"), [
        ["correlation-id", uuid],
        [Buffer.from([0xff, 0x41]), "odd name"],
        ["label", "\ufeffPress 3"],
      ]),
      at,
    );
    expect(intake?.kind === "raw" && intake.via?.headers).toEqual({
      "correlation-id": `base64:${uuid.toString("base64")}`,
      "base64:/0E=": "odd name",
      label: "\ufeffPress 3",
    });
  });
});

describe("Kafka binding: what Kafka's own producers send", () => {
  const nullHeader = (name: string): [Uint8Array, null] => [enc(name), null];

  it("regression: a header with a null value (Java's RecordHeader, the console producer's null.marker) is no attribute", () => {
    // Read as bytes this threw, and the source reconnected for ever on the same record.
    const [intake] = recordIntakes(
      {
        topic: "plant",
        value: enc('{"a":1}'),
        headers: [
          [enc("ce_specversion"), enc("1.0")],
          [enc("ce_id"), enc("h1")],
          [enc("ce_source"), enc("s")],
          [enc("ce_type"), enc("t")],
          nullHeader("ce_subject"),
          nullHeader("nullhdr"),
        ],
      },
      at,
    );
    expect(intake?.kind).toBe("raw");
    expect(JSON.parse(text(intake))).toEqual({
      specversion: "1.0",
      id: "h1",
      source: "s",
      type: "t",
      datacontenttype: "application/json",
      data: { a: 1 },
    });
    expect(intake?.kind === "raw" && intake.via?.headers).toMatchObject({ nullhdr: "", ce_subject: "" });
  });

  it("regression: a tombstone (null value) in binary mode is an event without data; without headers, empty bytes", () => {
    const ce = (id: string): [Uint8Array, Uint8Array][] => [
      [enc("ce_specversion"), enc("1.0")],
      [enc("ce_id"), enc(id)],
      [enc("ce_source"), enc("s")],
      [enc("ce_type"), enc("t")],
    ];
    const [binary] = recordIntakes({ topic: "plant", value: null, headers: ce("h2") }, at);
    expect(JSON.parse(text(binary))).toEqual({ specversion: "1.0", id: "h2", source: "s", type: "t" });
    const [plain] = recordIntakes({ topic: "plant", value: null, headers: [nullHeader("x")] }, at);
    expect(plain).toMatchObject({ kind: "raw", via: { headers: { x: "" } } });
    expect(text(plain)).toBe("");
  });

  it("never throws: any header names, values (null included) and value; a record it cannot read is rejected with a reason", () => {
    const name = fc.oneof(
      fc.constantFrom("ce_specversion", "ce_id", "ce_source", "ce_type", "content-type", "ce_datacontenttype"),
      fc.string({ maxLength: 12 }),
    );
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.string({ maxLength: 16 }).map(enc));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name.map(enc), fc.option(bytes, { nil: null })), { maxLength: 8 }),
        fc.option(bytes, { nil: null }),
        (headers, value) => {
          const out = recordIntakes({ topic: "plant", value, headers }, at);
          expect(out.length).toBeGreaterThan(0);
          for (const intake of out) if (intake.kind === "rejected") expect(intake.reason).toMatch(/\S/);
        },
      ),
    );
    // Whatever fails inside the reader comes out as a rejected intake with the value, not thrown.
    const broken = {
      [Symbol.iterator](): Iterator<[Uint8Array, Uint8Array]> {
        throw new Error("broken header table");
      },
    };
    const [odd] = recordIntakes({ topic: "plant", value: enc("x"), headers: broken }, at);
    expect(odd).toMatchObject({
      kind: "rejected",
      origin: "plant",
      reason: "the Kafka record could not be read: broken header table",
    });
    expect(text(odd)).toBe("x");
  });
});
