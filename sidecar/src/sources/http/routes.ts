// Mapped JSON routes: `POST /routes/<route>` is taken by the payload mapping
// (transport http) whose `match` covers the route, written like an MQTT
// topic filter (`/`-separated levels, `+` one level, `#` the rest; matched by
// mapping/evaluate.ts:findMapping, as the mapping stage does).
import { longerThan } from "../../core/validate.ts";

/** The route a request path names, or why it names none. */
export function routeOf(pathname: string): { ok: true; route: string } | { ok: false; reason: string } {
  const rest = pathname.slice("/routes/".length);
  let route: string;
  try {
    route = decodeURIComponent(rest);
  } catch {
    return { ok: false, reason: `the route ${JSON.stringify(rest)} is not valid percent-encoding` };
  }
  if (!route)
    return { ok: false, reason: "no route: POST /routes/<route>, the route a payload mapping in Odoo matches" };
  // Characters as Odoo counts a mapping's route (topic_filter.py): an emoji is one, not two UTF-16 units.
  if (longerThan(route, 256)) {
    return { ok: false, reason: "the route is longer than 256 characters" };
  }
  const control = controlIn(route);
  if (control !== undefined) {
    return {
      ok: false,
      reason: `the route ${JSON.stringify(route)} holds a control character (U+${control.toString(16).toUpperCase().padStart(4, "0")})`,
    };
  }
  if (/[+#]/.test(route) || route.split("/").some((level) => level === "")) {
    return {
      ok: false,
      reason: `the route ${JSON.stringify(route)} may not hold an empty level, + or # (those are for mappings' match)`,
    };
  }
  return { ok: true, route };
}

/** The first control character of `text` (Unicode's category Cc: C0, DEL, C1), as topic_filter.py's CONTROL reads it. */
function controlIn(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return code;
  }
  return undefined;
}
