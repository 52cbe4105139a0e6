import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { itemsAnswer } from "./answer.ts";
import { ProducerAuth, sha256Hex } from "./auth.ts";
import {
  arrayElementTexts,
  binaryEvent,
  decodeEvents,
  decodeHeaderValue,
  limitSources,
  parseMediaType,
} from "./binding.ts";
import { routeOf } from "./routes.ts";

/** The binding's header encoding (3.1.3.2), written from the spec for the round trip. */
function encodeHeaderValue(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    if (code >= 0x21 && code <= 0x7e && char !== '"' && char !== "%") out += char;
    else for (const byte of Buffer.from(char, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

describe("binary-mode header values", () => {
  it("decodes the spec's example and accepts lower-case and needless escapes", () => {
    expect(decodeHeaderValue("Euro%20%E2%82%AC%20%F0%9F%98%80")).toBe("Euro € 😀");
    expect(decodeHeaderValue("%e2%82%ac%41")).toBe("€A");
    // Regression: a leading byte-order mark is part of the attribute (TextDecoder dropped it by default).
    expect(decodeHeaderValue("%EF%BB%BFid-7")).toBe("\ufeffid-7");
  });

  it("unquotes a quoted string (older senders) before percent-decoding", () => {
    expect(decodeHeaderValue('"a \\"b\\" c"')).toBe('a "b" c');
  });

  it("refuses byte sequences that are not UTF-8, overlong forms included, and broken escapes", () => {
    expect(() => decodeHeaderValue("%C0%A0")).toThrow(/not valid UTF-8/);
    expect(() => decodeHeaderValue("%FF")).toThrow(/not valid UTF-8/);
    expect(() => decodeHeaderValue("100%")).toThrow(/not a percent-encoded byte/);
    expect(() => decodeHeaderValue("%G1")).toThrow(/not a percent-encoded byte/);
  });

  it("round-trips any string through the spec's encoding", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (value) => {
        // Lone surrogates are not Unicode scalar values: UTF-8 cannot carry them.
        fc.pre(value === Buffer.from(value, "utf8").toString("utf8"));
        expect(decodeHeaderValue(encodeHeaderValue(value))).toBe(value);
      }),
    );
  });
});

describe("content modes", () => {
  const event = {
    specversion: "1.0",
    id: "1",
    source: "s/1",
    type: "production.reported",
    time: "2026-01-01T00:00:00Z",
  };

  it("tells the mode by Content-Type, binary by ce-specversion; refuses the rest with 415", () => {
    const body = Buffer.from(JSON.stringify(event));
    expect(decodeEvents({ "content-type": "application/cloudevents+json; charset=UTF-8" }, body)).toMatchObject({
      ok: true,
      mode: "structured",
    });
    expect(decodeEvents({ "content-type": "application/cloudevents-batch+json" }, Buffer.from("[]"))).toMatchObject({
      ok: true,
      mode: "batched",
      items: [],
    });
    expect(
      decodeEvents({ "content-type": "application/json", "ce-specversion": "1.0" }, Buffer.from("{}")),
    ).toMatchObject({
      ok: true,
      mode: "binary",
    });
    for (const type of [undefined, "application/json", "text/plain", "application/cloudevents+avro"]) {
      expect(decodeEvents(type ? { "content-type": type } : {}, body)).toMatchObject({ ok: false, status: 415 });
    }
  });

  it("binary mode: attributes from ce-* headers, data spliced as sent, datacontenttype from Content-Type", () => {
    const item = binaryEvent(
      {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "b%2F1",
        "ce-source": "s/1",
        "ce-type": "production.reported",
        "ce-time": "2026-01-01T00:00:00Z",
      },
      Buffer.from(' {"qty_good": 1.50, "big": 12345678901234567890}\n'),
    );
    expect(item.problem).toBeUndefined();
    expect(item).toMatchObject({ id: "b/1", source: "s/1" });
    expect(text(item.payload)).toBe(
      '{"specversion":"1.0","id":"b/1","source":"s/1","type":"production.reported","time":"2026-01-01T00:00:00Z",' +
        '"datacontenttype":"application/json","data":{"qty_good": 1.50, "big": 12345678901234567890}}',
    );
  });

  it("binary mode: a ce-datacontenttype other than Content-Type, bad attribute names and bad encodings are reasons, the event kept", () => {
    const item = binaryEvent(
      {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "%C0%A0",
        "ce-datacontenttype": "text/plain",
        "ce-bad_name": "x",
      },
      Buffer.from("{}"),
    );
    expect(item.problem?.status).toBe(400);
    expect(item.problem?.reason).toMatch(/ce-datacontenttype says text\/plain but Content-Type says application\/json/);
    expect(item.problem?.reason).toMatch(/ce-bad_name: an attribute name/);
    expect(item.problem?.reason).toMatch(/ce-id: its percent-encoded bytes are not valid UTF-8/);
    expect(JSON.parse(text(item.payload))).toMatchObject({ specversion: "1.0", data_base64: "e30=" });
  });

  it("batched mode keeps each element's numbers as they were sent", () => {
    const decoded = decodeEvents(
      { "content-type": "application/cloudevents-batch+json" },
      Buffer.from('[{"id":"a","source":"s","data":{"v":5.0}},{"id":"b","v":9007199254740993}]'),
    );
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.items.map((i) => text(i.payload))).toEqual([
      '{"id":"a","source":"s","data":{"v":5.0}}',
      '{"id":"b","v":9007199254740993}',
    ]);
  });

  it("cuts any JSON array into its elements' texts, whatever the spacing and the strings hold", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), fc.constantFrom(undefined, 1, "\t"), (list, space) => {
        const texts = arrayElementTexts(JSON.stringify(list, null, space));
        expect(texts.map((t) => JSON.parse(t))).toEqual(JSON.parse(JSON.stringify(list)));
      }),
    );
    const tricky = String.raw`[ "a,]\\", {"b":[1,2]} , [] ,"}\"{"]`;
    expect(JSON.parse(tricky)).toHaveLength(4);
    expect(arrayElementTexts(tricky)).toEqual([String.raw`"a,]\\"`, '{"b":[1,2]}', "[]", String.raw`"}\"{"`]);
  });

  it("a source prefix marks only the items outside it (403); items without a source are left to the schema", () => {
    const items = [{ source: "plant1/a" }, { source: "plant2/a" }, {}].map((x) => ({
      payload: new Uint8Array(),
      ...x,
    }));
    const limited = limitSources(items, "mes", "plant1/");
    expect(limited.map((i) => i.problem?.status)).toEqual([undefined, 403, undefined]);
    expect(limitSources(items, "mes", "")).toBe(items);
  });

  it("reads media type parameters case-insensitively, quoted or not", () => {
    expect(parseMediaType('Application/CloudEvents+JSON ; Charset="utf-8"')).toEqual({
      type: "application/cloudevents+json",
      params: { charset: "utf-8" },
    });
  });
});

describe("answers", () => {
  const item = (problem?: { status: 400 | 403; reason: string }) => ({
    payload: new Uint8Array(),
    ...(problem ? { problem } : {}),
  });

  it("200 only when nothing was rejected; else the most serious: 403, then 400, then 422", () => {
    const accepted = { status: "events" as const, count: 1 };
    const rejected = { status: "rejected" as const, reason: "schema: x" };
    expect(itemsAnswer([item()], { items: [accepted], duplicates: 0 }).status).toBe(200);
    expect(itemsAnswer([item(), item()], { items: [accepted, rejected], duplicates: 0 }).status).toBe(422);
    const syntax = item({ status: 400, reason: "not JSON" });
    const prefix = item({ status: 403, reason: "outside" });
    expect(itemsAnswer([syntax, item()], { items: [rejected, rejected], duplicates: 0 }).status).toBe(400);
    expect(itemsAnswer([syntax, prefix], { items: [rejected, rejected], duplicates: 0 }).status).toBe(403);
  });

  it("a single item the spool already had is a duplicate; a mapped route reports the events it became", () => {
    const one = itemsAnswer([item()], { items: [{ status: "events", count: 1 }], duplicates: 1 });
    expect(one.body.items).toEqual([{ index: 0, outcome: "duplicate" }]);
    const mapped = itemsAnswer([item()], { items: [{ status: "events", count: 10 }], duplicates: 0 }, "kepware/l1");
    expect(mapped.body.items).toEqual([{ index: 0, outcome: "accepted", events: 10 }]);
  });
});

describe("producer tokens", () => {
  const auth = new ProducerAuth([
    { name: "mes", token_sha256: sha256Hex("secret-1"), source_prefix: "" },
    { name: "upper", token_sha256: sha256Hex("secret-2").toUpperCase(), source_prefix: "p/" },
    { name: "broken", token_sha256: "not-a-hash", source_prefix: "" },
  ]);

  it("finds the producer by the SHA-256 of its bearer token (hex in either case)", () => {
    expect(auth.authenticate("Bearer secret-1")).toMatchObject({ ok: true, producer: { name: "mes" } });
    expect(auth.authenticate("bearer   secret-2")).toMatchObject({
      ok: true,
      producer: { name: "upper", sourcePrefix: "p/" },
    });
  });

  it("tells a missing token from an unknown one, and leaves out producers without a usable hash", () => {
    expect(auth.authenticate(undefined)).toMatchObject({ ok: false, why: "missing" });
    expect(auth.authenticate("Basic dXNlcjpwYXNz")).toMatchObject({ ok: false, why: "missing" });
    expect(auth.authenticate("Bearer not-a-hash")).toMatchObject({ ok: false, why: "unknown" });
    expect(auth.invalid).toEqual(["broken"]);
    expect(auth.size).toBe(2);
  });
});

describe("routes", () => {
  it("are read from the path percent-decoded, and may not be filters themselves", () => {
    expect(routeOf("/routes/plant%201/line")).toEqual({ ok: true, route: "plant 1/line" });
    expect(routeOf("/routes/")).toMatchObject({ ok: false });
    expect(routeOf("/routes/a//b")).toMatchObject({ ok: false });
    expect(routeOf("/routes/a/%23")).toMatchObject({ ok: false });
    expect(routeOf("/routes/%E0%A4%A")).toMatchObject({ ok: false });
    // Every control character, C1 too (U+0085 is a line break to Python, as Odoo checks a mapping's route).
    expect(routeOf("/routes/line%C2%851")).toEqual({
      ok: false,
      reason: 'the route "line\u00851" holds a control character (U+0085)',
    });
    expect(routeOf("/routes/a%09b")).toMatchObject({ ok: false, reason: expect.stringContaining("(U+0009)") });
    expect(routeOf("/routes/a%C2%A0b")).toEqual({ ok: true, route: "a\u00a0b" }); // NBSP is a space, not a control
  });
});
