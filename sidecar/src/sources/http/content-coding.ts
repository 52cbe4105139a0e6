// The Content-Encoding of a request body (RFC 9110 §8.4). Producers that
// compress what they post — Vector's and Fluent Bit's HTTP outputs, Telegraf's
// `content_encoding = "gzip"`, OpenTelemetry exporters — send gzip (sometimes
// deflate, br or zstd). The body is decoded before anything reads it, with
// max_body_bytes bounding what it decodes to as well as what came on the
// wire: a small body that expands past it is refused (413), never inflated
// into memory. A coding the intake does not know is refused with 415 and an
// Accept-Encoding header naming the ones it takes (RFC 9110 §15.5.16).
import { CODINGS, inflateAsync, isCoding } from "../../core/inflate.ts";

/** The codings the intake decodes, for the Accept-Encoding header of a 415. */
export const ACCEPTED_CODINGS = CODINGS.join(", ");

export type CodingOutcome =
  | { ok: true; body: Uint8Array }
  | { ok: false; status: 400 | 413 | 415; error: string; reason: string };

/** The codings a Content-Encoding header lists, in the order they were applied ("identity" left out). */
export function codingsOf(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  return text
    .split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== "identity");
}

/** The first coding of `header` the intake cannot decode, or undefined. */
export function unknownCoding(header: string | string[] | undefined): string | undefined {
  return codingsOf(header).find((coding) => !isCoding(coding));
}

/** The 415 for a `header` naming a coding the intake cannot decode, or undefined (before the body is read). */
export function refusedCoding(
  header: string | string[] | undefined,
): Extract<CodingOutcome, { ok: false }> | undefined {
  const unknown = unknownCoding(header);
  if (unknown === undefined) return undefined;
  return {
    ok: false,
    status: 415,
    error: "unsupported_content_encoding",
    reason: `Content-Encoding ${unknown} is not taken (${ACCEPTED_CODINGS}, or none); nothing was stored`,
  };
}

/** `body` with every coding of `header` undone, last applied first; at most `limit` bytes once decoded. */
export async function decodeContent(
  header: string | string[] | undefined,
  body: Uint8Array,
  limit: number,
): Promise<CodingOutcome> {
  const refused = refusedCoding(header);
  if (refused) return refused;
  const codings = codingsOf(header);
  let bytes = body;
  for (const coding of codings.reverse()) {
    // maxOutputLength stops the inflation as soon as it passes the limit.
    const decoded = await inflateAsync(coding, bytes, Math.max(1, limit));
    if (decoded.ok) {
      bytes = decoded.bytes;
      continue;
    }
    if (decoded.tooLarge) {
      return {
        ok: false,
        status: 413,
        error: "content_too_large",
        reason:
          `the body decoded (Content-Encoding ${coding}) is larger than the intake takes ` +
          `(${limit} bytes, max_body_bytes): send fewer events per request; nothing was stored`,
      };
    }
    return {
      ok: false,
      status: 400,
      error: "bad_content_encoding",
      reason: `the body is not valid ${coding} (Content-Encoding): ${decoded.reason}; nothing was stored`,
    };
  }
  return { ok: true, body: bytes };
}
