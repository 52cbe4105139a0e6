// What MQTT lets a broker refuse in a string (topic filters, topic names, Sparkplug ids),
// checked before a connection sends it: as odoo_addon/shopfloor_bridge/topic_filter.py.

/**
 * The code point of the first character of `text` MQTT lets a broker refuse, or undefined
 * (as Odoo's topic_filter.unsendable). MQTT 5 §1.5.4 (3.1.1 §1.5.3): a string is well-formed
 * UTF-8 (no lone surrogate), never holds U+0000, and a receiver may treat control characters
 * and Unicode non-characters as a malformed packet. Mosquitto does: it drops the connection
 * of a client that subscribes or publishes with one.
 */
export function unsendable(text: string): number | undefined {
  for (const char of text) {
    const point = char.codePointAt(0) as number;
    if (
      point < 0x20 ||
      (point >= 0x7f && point <= 0x9f) ||
      (point >= 0xd800 && point <= 0xdfff) ||
      (point >= 0xfdd0 && point <= 0xfdef) ||
      (point & 0xfffe) === 0xfffe
    ) {
      return point;
    }
  }
  return undefined;
}

/** "U+0085", as Unicode writes a code point. */
export function codePoint(point: number): string {
  return `U+${point.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why `id` is no Sparkplug B group, edge node or host id, or undefined when it is one: a single
 * topic level (set, without / + #, which the spec forbids) holding nothing `unsendable` finds.
 */
export function sparkplugIdProblem(id: string): string | undefined {
  if (!/^[^/+#]+$/.test(id)) return "must be set, without / + # (Sparkplug B topic levels)";
  const point = unsendable(id);
  if (point === undefined) return undefined;
  return (
    "may not hold a control character, a Unicode non-character or a lone surrogate " +
    `(here ${codePoint(point)}): MQTT lets a broker refuse it`
  );
}
