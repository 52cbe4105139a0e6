// @vitest-environment jsdom
import { describe, expect, test, vi } from "vitest";

vi.mock("./web.ts", () => import("../../test/support/fake_web.ts"));

import { checkEditedPayload, formatJson, tokenizeJson } from "./json_highlight.ts";

describe("tokenizeJson", () => {
  test("classifies keys, strings, numbers, literals and punctuation", () => {
    const tokens = tokenizeJson('{"order": "WH/MO/1", "qty": -1.5e2, "ok": true, "x": null}');
    const kinds = tokens.filter((t) => t.kind !== "space").map((t) => `${t.kind}:${t.text}`);
    expect(kinds).toEqual([
      "punct:{",
      'key:"order"',
      "punct::",
      'string:"WH/MO/1"',
      "punct:,",
      'key:"qty"',
      "punct::",
      "number:-1.5e2",
      "punct:,",
      'key:"ok"',
      "punct::",
      "boolean:true",
      "punct:,",
      'key:"x"',
      "punct::",
      "null:null",
      "punct:}",
    ]);
  });

  test("escaped quotes stay inside the string and the text round-trips", () => {
    const text = '{ "a\\"b" : "say \\"hi\\"" }';
    const tokens = tokenizeJson(text);
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    expect(tokens.find((t) => t.kind === "key")?.text).toBe('"a\\"b"');
  });

  test("an unreadable tail is kept verbatim as invalid, nothing dropped", () => {
    const text = '{"qty": 12, oops: }';
    const tokens = tokenizeJson(text);
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    expect(tokens.at(-1)).toEqual({ kind: "invalid", text: "oops: }" });
  });

  test("a 1 MB payload tokenizes in well under a second", () => {
    const big = JSON.stringify({ rows: Array.from({ length: 20_000 }, (_, i) => ({ i, name: `n${i}`, v: i / 3 })) });
    const started = performance.now();
    const tokens = tokenizeJson(big);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(tokens.map((t) => t.text).join("")).toBe(big);
  });
});

describe("formatJson / checkEditedPayload", () => {
  test("pretty prints valid JSON and leaves invalid text as is", () => {
    expect(formatJson('{"a":1}')).toEqual({ text: '{\n  "a": 1\n}', valid: true });
    expect(formatJson("{a:1}")).toEqual({ text: "{a:1}", valid: false });
  });

  test("refuses empty text, invalid JSON (with line and column) and non-objects", () => {
    expect(checkEditedPayload("  ")).toMatchObject({ ok: false, error: "The payload is empty." });
    const bad = checkEditedPayload('{\n  "qty": 12,\n  "uom" "Units"\n}');
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/^Not valid JSON: .*\(line 3, column \d+\)$/);
    expect(checkEditedPayload("[1,2]")).toMatchObject({ ok: false, error: expect.stringMatching(/JSON object/) });
    expect(checkEditedPayload('{"order":"WH/MO/1"}')).toEqual({ ok: true, value: { order: "WH/MO/1" } });
  });
});
