// Content-Encoding of an HTTP intake body: every coding and chain of codings
// comes back to the bytes that were sent, bounded by the limit once decoded.
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codingsOf, decodeContent, unknownCoding } from "./content-coding.ts";

const ENCODERS: Record<string, (bytes: Uint8Array) => Uint8Array> = {
  gzip: (bytes) => gzipSync(bytes),
  deflate: (bytes) => deflateSync(bytes),
  br: (bytes) => brotliCompressSync(bytes),
  zstd: (bytes) => zstdCompressSync(bytes),
};

describe("decodeContent", () => {
  it("undoes any chain of codings, listed in the order they were applied", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.array(fc.tuple(fc.constantFrom(...Object.keys(ENCODERS)), fc.boolean()), { maxLength: 3 }),
        async (bytes, codings) => {
          let body: Uint8Array = bytes;
          for (const [coding] of codings) body = (ENCODERS[coding] as (b: Uint8Array) => Uint8Array)(body);
          // Coding names are case-insensitive.
          const header = codings.map(([c, upper]) => (upper ? c.toUpperCase() : c)).join(", ");
          const out = await decodeContent(header || undefined, body, 1_000_000);
          expect(out.ok).toBe(true);
          if (out.ok) expect(Buffer.from(out.body).equals(Buffer.from(bytes))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses with 413 what decodes past the limit, whatever the coding, and takes what decodes to it exactly", async () => {
    for (const [coding, encode] of Object.entries(ENCODERS)) {
      const body = encode(Buffer.alloc(10_001, 0x61));
      const over = await decodeContent(coding, body, 10_000);
      expect(over).toMatchObject({ ok: false, status: 413, error: "content_too_large" });
      const exact = await decodeContent(coding, body, 10_001);
      expect(exact.ok && exact.body.byteLength).toBe(10_001);
    }
  });

  it("names the coding it does not take, and what is not what its coding claims", async () => {
    expect(unknownCoding("gzip, compress")).toBe("compress");
    expect(unknownCoding(["identity", "br"])).toBeUndefined();
    expect(codingsOf(" GZip ,identity,, br")).toEqual(["gzip", "br"]);
    expect(await decodeContent("compress", Buffer.from("x"), 10)).toMatchObject({ ok: false, status: 415 });
    for (const coding of Object.keys(ENCODERS)) {
      expect(await decodeContent(coding, Buffer.from("not compressed"), 1_000)).toMatchObject({
        ok: false,
        status: 400,
        error: "bad_content_encoding",
      });
    }
  });
});
