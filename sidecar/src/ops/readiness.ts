// /readyz from what /healthz already computes (Sidecar#health): ready means
// the source is connected, the spool is open and Odoo answered recently.
// /healthz stays the wider "is everything flowing" (parked rows, a stalled
// backlog); readiness is whether this sidecar can take input and deliver it.
import type { Readiness } from "./metrics.ts";

/** The fields of Sidecar#health that readiness reads. */
export interface HealthSnapshot {
  problems: string[];
  source?: string | null;
  /** false: the source says it is not connected; null: it does not say (a running source counts). */
  source_connected?: boolean | null;
  spool_open?: boolean;
  /** ISO time of the last heartbeat Odoo answered, null before the first. */
  last_heartbeat_ok?: string | null;
}

/**
 * @param odooFreshMs how long ago Odoo's last answer may be (a few heartbeat intervals).
 */
export function readiness(h: HealthSnapshot, now: number, odooFreshMs: number): Readiness {
  const reasons: string[] = [];
  // Stopped, a source that cannot start, a cached config without its secrets: said by /healthz already.
  reasons.push(...h.problems.filter((p) => p === "stopped" || p.startsWith("intake:")));
  if (h.source && h.source_connected === false) reasons.push(`source: ${h.source} is not connected`);
  else if (!h.source && reasons.length === 0) reasons.push("intake: no source runs");
  if (h.spool_open === false) reasons.push("spool: closed");
  const last = h.last_heartbeat_ok ? Date.parse(h.last_heartbeat_ok) : Number.NaN;
  if (Number.isNaN(last)) reasons.push("odoo: has not answered a heartbeat yet");
  else if (now - last > odooFreshMs) {
    reasons.push(
      `odoo: last answered a heartbeat ${Math.round((now - last) / 1000)} s ago ` +
        `(more than ${Math.round(odooFreshMs / 1000)} s)`,
    );
  }
  return { ok: reasons.length === 0, reasons };
}
