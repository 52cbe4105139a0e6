// Decompressing a body in one call, bounded: what a message's own coding
// says was applied (AMQP's content_encoding, Sparkplug's compressed
// payload). The output is capped: a small body that expands past the cap is
// refused, never inflated into memory. (The HTTP intake decodes request
// bodies asynchronously, in http/content-coding.ts.)
import zlib from "node:zlib";

type Decoder = (body: Uint8Array, options: zlib.ZlibOptions) => Buffer;

// zlib's zstd (Node 22.15 and later); absent on older runtimes, then not offered.
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: Decoder }).zstdDecompressSync;

/**
 * The zlib format (RFC 1950), as HTTP's and AMQP's "deflate" and
 * java.util.zip.Deflater write it; a raw deflate stream (RFC 1951), which
 * some producers send under that name, is taken too.
 */
const deflate: Decoder = (body, options) => {
  try {
    return zlib.inflateSync(body, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw err;
    return zlib.inflateRawSync(body, options);
  }
};

const DECODERS: Record<string, Decoder> = {
  gzip: zlib.gunzipSync,
  "x-gzip": zlib.gunzipSync,
  deflate,
  br: zlib.brotliDecompressSync,
  ...(zstdDecompressSync ? { zstd: zstdDecompressSync } : {}),
};

/** The codings `inflate` decodes. */
export const CODINGS = Object.keys(DECODERS).filter((c) => c !== "x-gzip");

export type Inflated = { ok: true; bytes: Buffer } | { ok: false; reason: string; tooLarge?: boolean };

/** `body` decoded from `coding` (gzip, x-gzip, deflate, br, zstd), at most `maxBytes` of it. */
export function inflate(coding: string, body: Uint8Array, maxBytes: number): Inflated {
  const decode = DECODERS[coding.toLowerCase()];
  if (!decode) return { ok: false, reason: `${coding} is not a coding this sidecar decodes (${CODINGS.join(", ")})` };
  try {
    return { ok: true, bytes: decode(body, { maxOutputLength: maxBytes }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      return { ok: false, reason: `it expands past ${maxBytes} bytes`, tooLarge: true };
    }
    return { ok: false, reason: (err as Error).message };
  }
}

export function isCoding(coding: string): boolean {
  return Object.hasOwn(DECODERS, coding.toLowerCase());
}
