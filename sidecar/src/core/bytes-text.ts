// Bytes that reach a place only text goes (a payload mapping's `$headers`, a
// rejected Redis entry's fields as Odoo stores them): their UTF-8 text when
// they are UTF-8, else `base64:` and their base64, so that no byte is lost
// and a mapping can tell the two apart. A leading byte-order mark is kept:
// it is part of the value as sent.

/**
 * The strict UTF-8 decoder for values (attributes, names, strings of a
 * protocol): throws on bytes that are not UTF-8 and keeps a leading
 * byte-order mark, which TextDecoder drops unless told not to. A JSON
 * document's leading mark may be dropped: its readers use their own decoder.
 */
export const UTF8_VALUE = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The prefix of a value that was not UTF-8, before its bytes in base64. */
export const BASE64_PREFIX = "base64:";

export function bytesText(bytes: Uint8Array): string {
  try {
    return UTF8_VALUE.decode(bytes);
  } catch {
    return `${BASE64_PREFIX}${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`;
  }
}
