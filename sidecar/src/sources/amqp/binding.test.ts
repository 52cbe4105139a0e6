// The CloudEvents AMQP binding, read side: hand cases for each content mode,
// and properties over arbitrary header sets and bodies (every byte value,
// non-UTF-8 included) for the binary → structured conversion.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AmqpDecimal, amqpItems, binaryEvent, mappingHeaders, plainValue } from "./binding.ts";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const base = {
  "cloudEvents:specversion": "1.0",
  "cloudEvents:id": "e-1",
  "cloudEvents:source": "plant/press-1",
  "cloudEvents:type": "production.reported",
};

describe("amqpItems: content modes", () => {
  it("passes structured mode and plain bytes through untouched", () => {
    const body = Buffer.from('{"specversion":"1.0","id":"x"}');
    expect(amqpItems("application/cloudevents+json", undefined, body)).toEqual([{ payload: body }]);
    expect(amqpItems(undefined, { line: "L1" }, body)).toEqual([{ payload: body }]);
    expect(amqpItems("text/plain", undefined, Buffer.from([0xff]))).toEqual([{ payload: Buffer.from([0xff]) }]);
  });

  it("splits a batch into its elements, each exactly as sent", () => {
    const items = amqpItems("application/cloudevents-batch+json", undefined, Buffer.from('[{"a":1.50}, {"b":"é"}]'));
    expect(items.map((i) => text(i.payload))).toEqual(['{"a":1.50}', '{"b":"é"}']);
    expect(amqpItems("application/cloudevents-batch+json", undefined, Buffer.from("[]"))).toEqual([]);
  });

  it("rejects what claims a CloudEvents format it does not hold, with the reason", () => {
    const cases: [string, string, RegExp][] = [
      ["application/cloudevents-batch+json", '{"id":"x"}', /batched mode: the body is a JSON object, not a JSON array/],
      ["application/cloudevents-batch+json", "[", /batched mode: not JSON/],
      ["application/cloudevents+avro", "x", /only the JSON event format/],
      ["application/cloudevents-batch+protobuf", "x", /only the JSON batch format/],
      ["application/cloudevents+json; charset=latin1", "{}", /structured mode: charset=latin1 is not taken/],
    ];
    for (const [contentType, body, reason] of cases) {
      const [item] = amqpItems(contentType, undefined, Buffer.from(body));
      expect(item?.problem, contentType).toMatch(reason);
      expect(text(item?.payload ?? new Uint8Array())).toBe(body);
    }
  });

  it("builds the structured event from binary mode, data spliced in as sent", () => {
    const [item] = amqpItems(
      "application/json",
      { ...base, cloudEvents_time: "2026-12-02T05:00:00Z", other: "x" },
      Buffer.from(' {"qty":1.50} '),
    );
    expect(item?.problem).toBeUndefined();
    expect(text(item?.payload ?? new Uint8Array())).toBe(
      '{"specversion":"1.0","id":"e-1","source":"plant/press-1","type":"production.reported",' +
        '"time":"2026-12-02T05:00:00Z","datacontenttype":"application/json","data":{"qty":1.50}}',
    );
  });

  it("binary mode takes a cloudEvents:datacontenttype that repeats the content_type property", () => {
    const [item] = amqpItems(
      "application/json",
      { ...base, "cloudEvents:datacontenttype": "application/json" },
      Buffer.from('{"qty":2}'),
    );
    expect(item?.problem).toBeUndefined();
    expect(JSON.parse(text(item?.payload ?? new Uint8Array()))).toMatchObject({
      datacontenttype: "application/json",
      data: { qty: 2 },
    });
  });

  it("binary mode without a body has no data; typed header values keep their CloudEvents types", () => {
    const item = binaryEvent(
      undefined,
      { ...base, "cloudEvents:seq": 42, "cloudEvents:flag": true, "cloudEvents:bin": Buffer.from([1, 2]) },
      new Uint8Array(),
    );
    expect(JSON.parse(text(item.payload))).toEqual({
      specversion: "1.0",
      id: "e-1",
      source: "plant/press-1",
      type: "production.reported",
      seq: 42,
      flag: true,
      bin: "AQI=",
    });
    expect(item.problem).toBeUndefined();
  });

  it("reads the RabbitMQ protocol binding's binary mode: ce- headers, as Knative and the CloudEvents Python SDK write them", () => {
    // What cloudevents.core.bindings.rabbitmq.to_binary (Python SDK 2.2) writes, byte for byte.
    const [item] = amqpItems(
      "application/json",
      {
        "ce-id": "py-1",
        "ce-source": "plant/presse-1",
        "ce-type": "production.reported",
        "ce-subject": 'Drücken 100% "fertig"',
        "ce-time": "2026-01-02T03:04:05Z",
        "ce-ext1": "ä b",
        "ce-extint": "7",
        "ce-specversion": "1.0",
      },
      Buffer.from('{"order": "MO1", "qty_good": 1.50}'),
    );
    expect(item?.problem).toBeUndefined();
    expect(text(item?.payload ?? new Uint8Array())).toBe(
      '{"id":"py-1","source":"plant/presse-1","type":"production.reported","subject":"Drücken 100% \\"fertig\\"",' +
        '"time":"2026-01-02T03:04:05Z","ext1":"ä b","extint":"7","specversion":"1.0","datacontenttype":"application/json",' +
        '"data":{"order": "MO1", "qty_good": 1.50}}',
    );
  });

  it("reads ce- header names in any case, and refuses an attribute that two prefixes both carry", () => {
    const [upper] = amqpItems(
      undefined,
      { "CE-SpecVersion": "1.0", "Ce-Id": "u-1", "ce-SOURCE": "s", "ce-type": "t" },
      new Uint8Array(),
    );
    expect(upper?.problem).toBeUndefined();
    expect(JSON.parse(text(upper?.payload ?? new Uint8Array()))).toEqual({
      specversion: "1.0",
      id: "u-1",
      source: "s",
      type: "t",
    });
    const [twice] = amqpItems(undefined, { ...base, "ce-id": "other" }, new Uint8Array());
    expect(twice?.problem).toMatch(/attribute id is sent twice/);
    // Without a specversion header it is no binary-mode event: the body goes on as it came.
    const [plain] = amqpItems(undefined, { "ce-id": "x" }, Buffer.from("21.5"));
    expect(plain).toEqual({ payload: Buffer.from("21.5") });
  });

  it("binary mode problems are listed, the bytes kept as data_base64", () => {
    const item = binaryEvent(
      "text/plain",
      {
        ...base,
        "cloudEvents:Bad": "x",
        "cloudEvents:datacontenttype": "application/json",
        "cloudEvents:ratio": 0.5,
        cloudEvents_id: "dup",
      },
      Buffer.from("hello"),
    );
    expect(item.problem).toMatch(/an attribute name is 1 to 20 lower-case letters/);
    expect(item.problem).toMatch(
      /cloudEvents:datacontenttype says application\/json but the content_type property says text\/plain/,
    );
    expect(item.problem).toMatch(/0\.5 is no integer/);
    expect(item.problem).toMatch(/attribute id is sent twice/);
    expect(item.problem).toMatch(/content_type text\/plain is not taken: event data is JSON/);
    const stored = JSON.parse(text(item.payload));
    expect(stored).toMatchObject({
      id: "e-1",
      datacontenttype: "text/plain",
      data_base64: Buffer.from("hello").toString("base64"),
    });
  });
});

describe("mappingHeaders", () => {
  it("gives payload mappings strings: numbers, bytes, arrays, tables, and the content type", () => {
    expect(
      mappingHeaders("application/json", { n: 7, b: Buffer.from("é"), list: ["a", 2], table: { k: 1 }, none: null }),
    ).toEqual({ n: "7", b: "é", list: "a, 2", table: '{"k":1}', "content-type": "application/json" });
    expect(mappingHeaders(undefined, undefined)).toBeUndefined();
  });

  it("regression: a byte-array header that is not UTF-8 reaches payload mappings as base64, not as U+FFFD", () => {
    // A .NET or Java publisher's raw id (AMQP field type `x`); a byte-order mark stays.
    const raw = Buffer.from([0x8f, 0x14, 0xe4, 0x5f, 0xff]);
    expect(mappingHeaders(undefined, { id: raw, list: [raw, "a"], bom: Buffer.from("\ufeffL1") })).toEqual({
      id: `base64:${raw.toString("base64")}`,
      list: `base64:${raw.toString("base64")}, a`,
      bom: "\ufeffL1",
    });
  });

  it("regression: amqplib's wrapped timestamps and decimals (pika, Java, .NET send them) read as their values", () => {
    // amqplib hands AMQP `T` and `D` fields over as {"!": type, value}; they reached
    // payload mappings as that JSON, and a timestamp `time` attribute was rejected.
    const headers = {
      at: { "!": "timestamp", value: 1_767_323_045 },
      dec: { "!": "decimal", value: { places: 3, digits: 12_345 } },
      // -0.001 as pika writes it (signed), read by amqplib as unsigned 32 bits.
      neg: { "!": "decimal", value: { places: 3, digits: 2 ** 32 - 1 } },
      whole: { "!": "decimal", value: { places: 0, digits: 2 ** 32 - 42 } },
      nested: { list: [{ "!": "decimal", value: { places: 1, digits: 5 } }], t: { "!": "timestamp", value: 0 } },
      far: { "!": "timestamp", value: 2 ** 53 },
    };
    expect(mappingHeaders(undefined, headers)).toEqual({
      at: "2026-01-02T03:04:05.000Z",
      dec: "12.345",
      neg: "-0.001",
      whole: "-42",
      nested: '{"list":["0.5"],"t":"1970-01-01T00:00:00.000Z"}',
      far: String(2 ** 53),
    });
    const item = binaryEvent(
      undefined,
      {
        ...base,
        "cloudEvents:time": headers.at,
        "cloudEvents:seq": headers.whole,
      },
      new Uint8Array(),
    );
    expect(item.problem).toBeUndefined();
    expect(JSON.parse(text(item.payload))).toMatchObject({ time: "2026-01-02T03:04:05.000Z", seq: -42 });
    const bad = binaryEvent(
      undefined,
      { ...base, "cloudEvents:ratio": headers.neg, "cloudEvents:time": headers.far },
      new Uint8Array(),
    );
    expect(bad.problem).toMatch(/header cloudEvents:ratio: -0\.001 is no integer/);
    expect(bad.problem).toMatch(/header cloudEvents:time: the timestamp is out of range/);
  });

  it("an AMQP decimal's text is its unscaled value at its places, for any places and 32-bit value", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        (places, unscaled) => {
          const decimal = plainValue({ "!": "decimal", value: { places, digits: unscaled >>> 0 } });
          expect(decimal).toBeInstanceOf(AmqpDecimal);
          const text = String(decimal);
          const [whole = "", fraction = ""] = text.replace(/^-/, "").split(".");
          expect(fraction.length).toBe(places);
          expect(whole).toMatch(/^(0|[1-9][0-9]*)$/);
          expect(BigInt(`${text.startsWith("-") ? "-" : ""}${whole}${fraction}`)).toBe(BigInt(unscaled));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("regression: a nested table holding a 64-bit integer (bigint) does not throw", () => {
    expect(mappingHeaders(undefined, { table: { big: 2n ** 63n } })).toEqual({
      table: '{"big":"9223372036854775808"}',
    });
  });
});

// Header values as RabbitMQ clients send them: strings of any code point, integers, booleans.
const attributeName = fc
  .stringMatching(/^[a-z][a-z0-9]{0,19}$/)
  .filter((name) => !["datacontenttype", "data", "specversion"].includes(name));
const attributeValue = fc.oneof(fc.string({ unit: "grapheme" }), fc.integer(), fc.boolean(), fc.string());
const headerSets = fc.dictionary(attributeName, attributeValue, { maxKeys: 8 });

describe("binary mode → structured JSON (properties)", () => {
  it("always yields JSON; attributes come through with their values; bytes are never lost", () => {
    fc.assert(
      fc.property(
        headerSets,
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(undefined, "application/json", "text/plain"),
        fc.constantFrom("cloudEvents:", "cloudEvents_", "ce-", "CE-"),
        (attributes, body, contentType, prefix) => {
          const headers: Record<string, unknown> = { [`${prefix}specversion`]: "1.0" };
          for (const [name, value] of Object.entries(attributes)) headers[`${prefix}${name}`] = value;
          const [item] = amqpItems(contentType, headers, body);
          if (!item) throw new Error("no item");
          const event = JSON.parse(text(item.payload));
          expect(event.specversion).toBe("1.0");
          for (const [name, value] of Object.entries(attributes)) expect(event[name]).toEqual(value);
          if (body.byteLength === 0) {
            expect(event.data).toBeUndefined();
            expect(event.data_base64).toBeUndefined();
          } else if (item.problem === undefined) {
            // Accepted: the body was JSON text, spliced in exactly.
            expect(contentType === "text/plain").toBe(false);
            expect(event.data).toEqual(JSON.parse(Buffer.from(body).toString("utf8")));
            expect(text(item.payload).endsWith(`"data":${Buffer.from(body).toString("utf8").trim()}}`)).toBe(true);
          } else {
            // Rejected: the exact bytes are in data_base64 for the person who reads the reason.
            expect(Buffer.from(event.data_base64, "base64").equals(Buffer.from(body))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("JSON bodies of any shape are accepted as data with their text intact", () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        const [item] = amqpItems("application/json", { ...base }, Buffer.from(json));
        expect(item?.problem).toBeUndefined();
        const event = JSON.parse(text(item?.payload ?? new Uint8Array()));
        expect(event.data).toEqual(JSON.parse(json));
      }),
      { numRuns: 300 },
    );
  });

  it("never throws, whatever the header table holds", () => {
    // amqplib's wrapped timestamps and decimals too: any 64-bit second count, any places and 32 bits.
    const wrapped = fc.oneof(
      fc.record({ "!": fc.constant("timestamp"), value: fc.oneof(fc.maxSafeNat(), fc.double()) }),
      fc.record({
        "!": fc.constant("decimal"),
        value: fc.record({ places: fc.integer({ min: 0, max: 255 }), digits: fc.nat({ max: 2 ** 32 - 1 }) }),
      }),
    );
    const anyValue = fc.oneof(
      fc.anything(),
      fc.uint8Array(),
      fc.date({ noInvalidDate: true }),
      fc.double(),
      wrapped,
      fc.array(wrapped),
      fc.dictionary(fc.string(), wrapped),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), anyValue),
        fc.uint8Array({ maxLength: 64 }),
        fc.option(fc.string()),
        (rest, body, contentType) => {
          const headers = { ...rest, "cloudEvents:specversion": "1.0" };
          const items = amqpItems(contentType ?? undefined, headers, body);
          // Binary mode always builds JSON; the other modes hand the bytes on as they came.
          if (!(contentType ?? "").toLowerCase().trim().startsWith("application/cloudevents")) {
            for (const item of items) expect(() => JSON.parse(text(item.payload))).not.toThrow();
          }
          mappingHeaders(contentType ?? undefined, headers);
        },
      ),
      { numRuns: 300 },
    );
  });
});
