// A date-time without a zone (a historian's or an MES's local time: "2026-03-29 02:30:00") read
// in a zone the mapping names, so the same payload gives the same instant on every host. Browser-
// safe: the mapping form's "try it" panel bundles it with mapping/evaluate.ts.

import { readShaped } from "./rfc3339.ts";

/** ISO 8601 date and time without a zone: `T`, `t` or a space between; seconds and fraction optional. */
export const LOCAL_ISO = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?$/;
/** ISO 8601 date and time with its own offset in a looser shape than RFC 3339 (a space, no seconds, +0100). */
export const ZONED_ISO = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) ?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;
/** A fixed offset as a zone: Z, UTC, GMT, ±hh, ±hhmm or ±hh:mm. */
const OFFSET = /^(?:(?<utc>[Zz]|UTC|GMT)|(?<sign>[+-])(?<hours>\d{2})(?::?(?<minutes>\d{2}))?)$/;

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** ICU's formatter of wall-clock fields in `iana` (made once per zone); throws for a name ICU does not know. */
function formatterOf(iana: string): Intl.DateTimeFormat {
  let formatter = formatters.get(iana);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: iana,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(iana, formatter);
  }
  return formatter;
}

/** A zone as the mapping names it: an IANA name (Europe/Berlin) or a fixed offset (+01:00, Z). */
export type Zone = { offsetMs: number } | { iana: string };

/** The zone `name` names, or why it names none. */
export function zoneOf(name: string): Zone | string {
  const offset = OFFSET.exec(name);
  if (offset?.groups) {
    const { utc, sign, hours, minutes } = offset.groups;
    if (utc) return { offsetMs: 0 };
    const h = Number(hours);
    const m = Number(minutes ?? "0");
    if (h > 23 || m > 59) return `${JSON.stringify(name)} is no offset (at most ±23:59)`;
    return { offsetMs: (sign === "-" ? -1 : 1) * (h * 60 + m) * 60_000 };
  }
  try {
    formatterOf(name);
  } catch {
    return `${JSON.stringify(name)} is no time zone: an IANA name such as Europe/Berlin, or an offset such as +01:00`;
  }
  return { iana: name };
}

/** Milliseconds since the epoch of a wall-clock reading taken as UTC (any year, unlike Date.UTC's 0-99). */
function wallMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/** The host's own zone (TZ), as a date-time without a zone was read before a mapping could name one. */
export function hostZone(): Zone {
  host ??= { iana: new Intl.DateTimeFormat().resolvedOptions().timeZone };
  return host;
}
let host: Zone | undefined;

/**
 * The offset of each wall-clock hour read lately, per zone, when the whole hour has that one
 * (null when a clock change falls in it): a historian's export reads thousands of rows of one
 * hour, and asking ICU costs about 15 µs a row.
 */
const hourCache = new Map<string, number | null>();
const HOUR_CACHE_SIZE = 4096;
const HOUR_MS = 3_600_000;

/** The zone's offset from UTC at instant `utcMs` (whole seconds), as ICU's time zone data says. */
function offsetAt(iana: string, utcMs: number): number {
  const formatter = formatterOf(iana);
  const at = Math.floor(utcMs / 1000) * 1000;
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(new Date(at))) parts[part.type] = part.value;
  const year = parts.era === "BC" || parts.era === "B" ? 1 - Number(parts.year) : Number(parts.year);
  const wall = wallMs(
    year,
    Number(parts.month),
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return wall - at;
}

/**
 * The instant of a local ISO date-time (`LOCAL_ISO`) in `zone`, in ms since the epoch, or why
 * there is none: a date or an hour that does not exist, or a wall time the zone skips (the clocks
 * went forward over it). A wall time the zone has twice (the clocks went back) is its first
 * occurrence, as java.time (ZonedDateTime.of: the earlier offset) and Python (fold=0) read it.
 */
export function readLocal(text: string, zone: Zone): number | string {
  const [, date, hourMinute, seconds] = LOCAL_ISO.exec(text) ?? [];
  if (date === undefined || hourMinute === undefined) return "is not a date and time such as 2026-01-02 03:04:05";
  // The wall clock's reading as if it were UTC, with the calendar checks of an event's own time.
  const wall = readShaped(`${date}T${hourMinute}${seconds ?? ":00"}Z`);
  if (typeof wall === "string") return wall;
  if ("offsetMs" in zone) return wall - zone.offsetMs;
  const hourStart = wall - (((wall % HOUR_MS) + HOUR_MS) % HOUR_MS);
  const key = `${zone.iana}|${hourStart}`;
  let uniform = hourCache.get(key);
  if (uniform === undefined) {
    // Clocks change at most twice a year, never forth and back within an hour: an hour whose first
    // and last minutes have the same offset has it throughout.
    const first = zoneOffsetOfWall(zone.iana, hourStart);
    const last = zoneOffsetOfWall(zone.iana, hourStart + HOUR_MS - 60_000);
    uniform = first !== "gap" && first === last ? first : null;
    if (hourCache.size >= HOUR_CACHE_SIZE) hourCache.clear();
    hourCache.set(key, uniform);
  }
  const offset = uniform ?? zoneOffsetOfWall(zone.iana, wall);
  if (offset === "gap") return `does not exist in ${zone.iana} (the clocks went forward over it)`;
  return wall - offset;
}

/** The offset of the first instant whose wall clock in `iana` reads `wall`, or "gap" when none does. */
function zoneOffsetOfWall(iana: string, wall: number): number | "gap" {
  // The offsets a day either side of the wall time cover both sides of any transition near it.
  const offsets = new Set([offsetAt(iana, wall - DAY_MS), offsetAt(iana, wall + DAY_MS)]);
  const fitting = [...offsets].filter((offset) => wall - offset + offsetAt(iana, wall - offset) === wall);
  // Twice on the wall clock (the clocks went back): the first instant, the larger offset.
  return fitting.length === 0 ? "gap" : Math.max(...fitting);
}

/** The instant of a `ZONED_ISO` text, read at its own offset with `readLocal`'s checks, or why there is none. */
export function readZoned(text: string): number | string {
  const [, local, offset] = ZONED_ISO.exec(text) ?? [];
  if (local === undefined || offset === undefined) return "is not an ISO 8601 date-time with its offset";
  const zone = zoneOf(offset);
  return typeof zone === "string" ? `has offset ${offset} (at most ±23:59)` : readLocal(local, zone);
}
