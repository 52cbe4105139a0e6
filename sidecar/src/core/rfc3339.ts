// RFC 3339 date-times (section 5.6) read to ms since the epoch, with the
// calendar checks the module's parse_time makes (event_validation.py): the one
// reading of an event's time on both sides of the contract. Browser-safe (no
// imports): the mapping form's "try it" panel bundles it with mapping/evaluate.ts.

/**
 * An RFC 3339 date-time (section 5.6: seconds and a zone required, `T`/`Z` in
 * either case, any digits of fraction), the shape both sides of the event
 * contract read: the module's parse_time checks the same.
 */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** The number of the digits of `text` from `start` to `end` (all checked digits already). */
function digits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) =>
  month === 2 ? (isLeap(year) ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function epochDays(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/**
 * A date-time text in ms since the epoch, or why it is none. Not Date.parse:
 * it rolls February 30 over to March 2 and 24:00 to the next day, so an event
 * would be ordered and stamped at a time its source never said. A leap second
 * (:60) is refused, as Python's datetime (the module) cannot hold it.
 */
export function readTime(text: string): number | string {
  if (!RFC3339.test(text)) {
    return "is not an RFC 3339 date-time such as 2026-01-02T03:04:05Z or 2026-01-02T04:04:05.250+01:00";
  }
  return readShaped(text);
}

/** `readTime` of a text already known to match RFC3339 (its shape is not checked again). */
export function readShaped(text: string): number | string {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  if (month < 1 || month > 12) return `has month ${month}`;
  if (day < 1 || day > daysIn(year, month)) {
    return `has day ${day}, and ${text.slice(0, 7)} has ${daysIn(year, month)} days`;
  }
  if (hour > 23 || minute > 59) return `has hour ${text.slice(11, 16)} (00:00 to 23:59)`;
  if (second > 59) return `has second ${second} (a leap second cannot be stored: send :59)`;
  // Milliseconds: the first three digits of the fraction, the rest cut off (the module keeps microseconds).
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46 /* . */) {
    let scale = 100;
    for (at++; at < text.length && text.charCodeAt(at) >= 48 && text.charCodeAt(at) <= 57; at++) {
      ms += (text.charCodeAt(at) - 48) * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  let offset = 0;
  if (text[at] !== "Z" && text[at] !== "z") {
    const offsetHours = digits(text, at + 1, at + 3);
    const offsetMinutes = digits(text, at + 4, at + 6);
    if (offsetHours > 23 || offsetMinutes > 59) return `has offset ${text.slice(at)} (at most ±23:59)`;
    offset = (text[at] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return ((epochDays(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms - offset;
}
