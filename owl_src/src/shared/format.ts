// The screens' formatting on top of Odoo's own: numbers through Odoo's
// formatFloat/formatInteger (the user's decimal point and thousands
// separator), datetimes through deserializeDateTime/formatDateTime (the
// user's date format, in the zone Odoo's web client uses). What Odoo has no
// formatter for — ages, durations, rates — is built here from Odoo's number
// formatter and a translated unit.
import { _t, deserializeDateTime, formatDateTime, formatFloat, formatInteger } from "./web.ts";

/** "12 s", "4 min", "3 h", "2 d" — the age of a heartbeat or an event. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return _t("never");
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return _t("%s s", formatInteger(s));
  if (s < 3600) return _t("%s min", formatInteger(Math.floor(s / 60)));
  if (s < 86400) return _t("%s h", formatInteger(Math.floor(s / 3600)));
  return _t("%s d", formatInteger(Math.floor(s / 86400)));
}

/** Lag and skew in ms, shown in the unit a person reads at a glance. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  const sign = ms < 0 ? "−" : "";
  if (abs < 1000) return _t("%s ms", sign + formatInteger(Math.round(abs)));
  if (abs < 60_000) return _t("%s s", sign + formatFloat(abs / 1000, { digits: [0, abs < 10_000 ? 1 : 0] }));
  if (abs < 3_600_000) return _t("%s min", sign + formatFloat(abs / 60_000, { digits: [0, 1] }));
  return _t("%s h", sign + formatFloat(abs / 3_600_000, { digits: [0, 1] }));
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return formatInteger(Math.round(n));
}

/** Events per minute: one decimal below 100, none above. */
export function formatRate(perMinute: number | null | undefined): string {
  if (perMinute === null || perMinute === undefined || !Number.isFinite(perMinute)) return "–";
  return perMinute >= 100
    ? formatInteger(Math.round(perMinute))
    : formatFloat(perMinute, { digits: [0, 1], trailingZeros: false });
}

/** A signed amount with its currency and, when known, the share: "+12.50 EUR (+8.3 %)". */
/** A percentage with one decimal; "–" when it cannot be computed (false). */
export function formatPercent(value: number | false | null | undefined): string {
  if (value === false || value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${formatFloat(value, { digits: [0, 1] })} %`;
}

export function formatVariance(amount: number, currency: string, percent: number | false): string {
  const signed = (v: number, decimals: number) => (v > 0 ? "+" : "") + formatFloat(v, { digits: [0, decimals] });
  if (percent === false) return _t("%(amount)s %(currency)s", { amount: signed(amount, 2), currency });
  return _t("%(amount)s %(currency)s (%(percent)s %)", {
    amount: signed(amount, 2),
    currency,
    percent: signed(percent, 1),
  });
}

/** Odoo sends datetimes as "YYYY-MM-DD HH:MM:SS" in UTC. */
export function parseServerDatetime(value: string | false | null | undefined): Date | null {
  if (!value) return null;
  const d = new Date(`${value.replace(" ", "T")}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The inverse, for domains and writes. */
export function toServerDatetime(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

/** A server datetime in the user's date format and the web client's zone; "" when there is none. */
export function formatTime(value: string | false | null | undefined): string {
  if (!value) return "";
  const dt = deserializeDateTime(value);
  return dt.isValid ? formatDateTime(dt) : "";
}

/** A moment of this browser's clock, formatted like the server's datetimes. */
export function formatNow(now: Date = new Date()): string {
  return formatTime(toServerDatetime(now));
}

/** A heartbeat older than this is shown as a stale sidecar. */
export const STALE_HEARTBEAT_S = 120;

/** The sentence of an RPC error (Odoo's `data.message`), or of any other error. */
export function errorText(err: unknown): string {
  const e = err as { data?: { message?: string }; message?: string };
  return e?.data?.message || e?.message || String(err);
}

/** What a screen shows where a value is missing (Odoo's `false`, null, undefined, "", NaN). */
export const NO_VALUE = "—";

/**
 * Any value Odoo's read/search_read/web_read or a module method returns for a
 * field, as text a person reads: a Many2one ([id, name] or {id, display_name})
 * as its name, a number through Odoo's formatter, a list as its items, an
 * empty field as "—" — never "false", "null", "undefined", "NaN" or
 * "[object Object]". Datetimes go through formatTime / displayTime.
 */
export function displayValue(value: unknown): string {
  if (value === null || value === undefined || value === false) return NO_VALUE;
  if (value === true) return _t("Yes");
  if (typeof value === "string") return value.trim() ? value : NO_VALUE;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return NO_VALUE;
    return Number.isInteger(value)
      ? formatInteger(value)
      : formatFloat(value, { digits: [0, 6], trailingZeros: false });
  }
  if (Array.isArray(value)) {
    if (value.length === 2 && typeof value[0] === "number" && typeof value[1] === "string")
      return displayValue(value[1]);
    const items = value.map(displayValue).filter((text) => text !== NO_VALUE);
    return items.length ? items.join(", ") : NO_VALUE;
  }
  if (typeof value === "object") {
    if ("display_name" in value) return displayValue((value as { display_name: unknown }).display_name);
    const text = JSON.stringify(value);
    return text && text !== "{}" ? text : NO_VALUE;
  }
  return String(value);
}

/** A server datetime as formatTime shows it, "—" when there is none (or it is no datetime). */
export function displayTime(value: string | false | null | undefined): string {
  return (typeof value === "string" && formatTime(value)) || NO_VALUE;
}
