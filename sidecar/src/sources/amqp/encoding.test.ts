import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DECODED_MAX_BYTES, decodeContentEncoding } from "./encoding.ts";

const body = Buffer.from('{"specversion":"1.0","id":"e-1","source":"s","type":"t"}');
const text = (decoded: ReturnType<typeof decodeContentEncoding>) =>
  decoded.ok ? Buffer.from(decoded.body).toString() : `refused: ${decoded.reason}`;

describe("content_encoding", () => {
  it("undoes each compression, as Spring AMQP and others name it", () => {
    expect(text(decodeContentEncoding("gzip", gzipSync(body)))).toBe(body.toString());
    expect(text(decodeContentEncoding("x-gzip", gzipSync(body)))).toBe(body.toString());
    expect(text(decodeContentEncoding("deflate", deflateSync(body)))).toBe(body.toString());
    // A raw deflate stream under the name deflate is taken too.
    expect(text(decodeContentEncoding("deflate", deflateRawSync(body)))).toBe(body.toString());
    expect(text(decodeContentEncoding("br", brotliCompressSync(body)))).toBe(body.toString());
    // Spring AMQP: the coding, then the body's encoding before it (", " since 2.2.12, ":" before).
    expect(text(decodeContentEncoding("gzip, UTF-8", gzipSync(body)))).toBe(body.toString());
    expect(text(decodeContentEncoding("GZIP:utf-8", gzipSync(body)))).toBe(body.toString());
  });

  it("a character set, identity or nothing leaves the body as it is", () => {
    for (const encoding of [undefined, "", "UTF-8", "us-ascii", "identity", " "]) {
      expect(text(decodeContentEncoding(encoding, body))).toBe(body.toString());
    }
  });

  it("codings applied twice are undone outermost first", () => {
    expect(text(decodeContentEncoding("gzip, deflate", gzipSync(deflateSync(body))))).toBe(body.toString());
  });

  it("an unknown coding, a body that does not decode, or one too large is refused with why", () => {
    expect(text(decodeContentEncoding("zip", body))).toBe(
      "refused: content_encoding zip: zip is neither a compression the source decodes (gzip, deflate, br, zstd) nor a character set",
    );
    expect(text(decodeContentEncoding("gzip", body))).toMatch(
      /^refused: content_encoding gzip: gzip: incorrect header check/,
    );
    const bomb = gzipSync(Buffer.alloc(DECODED_MAX_BYTES + 1));
    expect(text(decodeContentEncoding("gzip", bomb))).toBe(
      `refused: content_encoding gzip: gzip: it expands past ${DECODED_MAX_BYTES} bytes`,
    );
  });

  it("never throws, whatever the bytes and the property (property)", () => {
    const encodings = fc.constantFrom("gzip", "deflate", "br", "zstd", "gzip, UTF-8", "UTF-8", "lzma", ",");
    fc.assert(
      fc.property(encodings, fc.uint8Array({ maxLength: 64 }), (encoding, bytes) => {
        expect(typeof decodeContentEncoding(encoding, bytes).ok).toBe("boolean");
      }),
      { numRuns: 5_000 },
    );
  });
});
