// Undoing a content coding (gzip, deflate, br, zstd), bounded: the output is
// capped, so a small body that expands past the cap is refused, never
// inflated into memory. One table of codings for every caller: the HTTP
// intake decodes request bodies asynchronously (`inflateAsync`), AMQP's
// content_encoding and Sparkplug's compressed payloads in one call (`inflate`).
import { promisify } from "node:util";
import zlib from "node:zlib";

type Options = zlib.ZlibOptions | zlib.BrotliOptions;
type SyncDecoder = (body: Uint8Array, options: Options) => Buffer;
type AsyncDecoder = (body: Uint8Array, options: Options) => Promise<Buffer>;
interface Decoder {
  sync: SyncDecoder;
  async: AsyncDecoder;
}

const decoder = (sync: SyncDecoder, callback: Parameters<typeof promisify>[0]): Decoder => ({
  sync,
  async: promisify(callback) as AsyncDecoder,
});

const tooLarge = (err: unknown) => (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";

const gzip = decoder(zlib.gunzipSync, zlib.gunzip);
const zlibFormat = decoder(zlib.inflateSync, zlib.inflate);
const rawDeflate = decoder(zlib.inflateRawSync, zlib.inflateRaw);

// zlib's zstd (Node 22.15 and later); absent on older runtimes, then not offered.
const zstdZlib = zlib as unknown as {
  zstdDecompressSync?: SyncDecoder;
  zstdDecompress?: Parameters<typeof promisify>[0];
};

const DECODERS: Record<string, Decoder> = {
  gzip,
  "x-gzip": gzip,
  // "deflate" is the zlib format (RFC 1950), as java.util.zip.Deflater writes it;
  // some producers send a raw deflate stream (RFC 1951) under that name: taken too.
  deflate: {
    sync: (body, options) => {
      try {
        return zlibFormat.sync(body, options);
      } catch (err) {
        if (tooLarge(err)) throw err;
        return rawDeflate.sync(body, options);
      }
    },
    async: (body, options) =>
      zlibFormat.async(body, options).catch((err: unknown) => {
        if (tooLarge(err)) throw err;
        return rawDeflate.async(body, options);
      }),
  },
  br: decoder(zlib.brotliDecompressSync, zlib.brotliDecompress),
  ...(zstdZlib.zstdDecompressSync && zstdZlib.zstdDecompress
    ? { zstd: decoder(zstdZlib.zstdDecompressSync, zstdZlib.zstdDecompress) }
    : {}),
};

/** The codings decoded here (x-gzip, gzip's old name, left out). */
export const CODINGS = Object.keys(DECODERS).filter((c) => c !== "x-gzip");

export type Inflated = { ok: true; bytes: Buffer } | { ok: false; reason: string; tooLarge?: boolean };

export function isCoding(coding: string): boolean {
  return Object.hasOwn(DECODERS, coding.toLowerCase());
}

function refused(coding: string): Inflated {
  return { ok: false, reason: `${coding} is not a coding this sidecar decodes (${CODINGS.join(", ")})` };
}

function failed(err: unknown, maxBytes: number): Inflated {
  if (tooLarge(err)) return { ok: false, reason: `it expands past ${maxBytes} bytes`, tooLarge: true };
  return { ok: false, reason: (err as Error).message };
}

/** `body` decoded from `coding` (gzip, x-gzip, deflate, br, zstd), at most `maxBytes` of it, in one call. */
export function inflate(coding: string, body: Uint8Array, maxBytes: number): Inflated {
  const decode = DECODERS[coding.toLowerCase()];
  if (!decode) return refused(coding);
  try {
    return { ok: true, bytes: decode.sync(body, { maxOutputLength: maxBytes }) };
  } catch (err) {
    return failed(err, maxBytes);
  }
}

/** As `inflate`, on zlib's thread pool: a large body does not hold the event loop. */
export async function inflateAsync(coding: string, body: Uint8Array, maxBytes: number): Promise<Inflated> {
  const decode = DECODERS[coding.toLowerCase()];
  if (!decode) return refused(coding);
  try {
    return { ok: true, bytes: await decode.async(body, { maxOutputLength: maxBytes }) };
  } catch (err) {
    return failed(err, maxBytes);
  }
}
