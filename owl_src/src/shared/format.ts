// Number and time formatting shared by the screens. Pure, so it is tested
// without a browser; translated words come in through `t`.

type Translate = (text: string, ...values: unknown[]) => string;
/** Odoo's _t substitutes %s in order; the default does the same untranslated. */
const identity: Translate = (text, ...values) => {
  let i = 0;
  return text.replace(/%s/g, () => String(values[i++]));
};

/** "12 s", "4 min", "3 h", "2 d" — the age of a heartbeat or an event. */
export function formatAge(seconds: number | null | undefined, t: Translate = identity): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return t("never");
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("%s s", s);
  if (s < 3600) return t("%s min", Math.floor(s / 60));
  if (s < 86400) return t("%s h", Math.floor(s / 3600));
  return t("%s d", Math.floor(s / 86400));
}

/** Lag and skew in ms, shown in the unit a person reads at a glance. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  const sign = ms < 0 ? "−" : "";
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${sign}${(abs / 60_000).toFixed(1)} min`;
  return `${sign}${(abs / 3_600_000).toFixed(1)} h`;
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

export function formatRate(perMinute: number | null | undefined): string {
  if (perMinute === null || perMinute === undefined || !Number.isFinite(perMinute)) return "–";
  return perMinute >= 100 ? Math.round(perMinute).toLocaleString("en-US") : perMinute.toFixed(1).replace(/\.0$/, "");
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

export function formatTime(value: string | false | null | undefined): string {
  const d = parseServerDatetime(value);
  if (!d) return "";
  return d.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** A heartbeat older than this is shown as a stale sidecar. */
export const STALE_HEARTBEAT_S = 120;
