// The content_encoding property of an AMQP 0-9-1 message: what was done to
// the body. Spring AMQP, the usual Java producer, writes its compressing
// post-processors' coding there (`gzip`, `deflate`), followed by the
// encoding the body had before (`gzip, UTF-8`; `gzip:UTF-8` before Spring
// AMQP 2.2.12), and its message converters write the text's character set
// alone (`UTF-8`). The codings are undone here in that order, outermost
// first; a character set names the text and changes no byte. Pure.
import { CODINGS, inflate, isCoding } from "../../core/inflate.ts";

/** The most a compressed body may expand to: larger is refused, not inflated into memory. */
export const DECODED_MAX_BYTES = 32 * 1024 * 1024;

export type Decoded = { ok: true; body: Uint8Array } | { ok: false; reason: string };

function isCharset(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/** The body with `contentEncoding`'s codings undone, or why it cannot be. */
export function decodeContentEncoding(contentEncoding: string | undefined, body: Uint8Array): Decoded {
  if (contentEncoding === undefined || contentEncoding.trim() === "") return { ok: true, body };
  let bytes = body;
  for (const token of contentEncoding.split(/[,:]/)) {
    const coding = token.trim().toLowerCase();
    if (coding === "" || coding === "identity") continue;
    if (isCoding(coding)) {
      const decoded = inflate(coding, bytes, DECODED_MAX_BYTES);
      if (!decoded.ok)
        return { ok: false, reason: `content_encoding ${contentEncoding}: ${coding}: ${decoded.reason}` };
      bytes = decoded.bytes;
      continue;
    }
    if (isCharset(coding)) continue;
    return {
      ok: false,
      reason:
        `content_encoding ${contentEncoding}: ${token.trim()} is neither a compression the source decodes ` +
        `(${CODINGS.join(", ")}) nor a character set`,
    };
  }
  return { ok: true, body: bytes };
}
