// Translated names of the states and history actions the server stores as keys.
import { NO_VALUE } from "./format.ts";
import { _t } from "./web.ts";

/** shopfloor.event.state */
export function eventStateLabel(state: string): string {
  const labels: Record<string, string> = {
    pending: _t("Pending"),
    applied: _t("Applied"),
    failed: _t("Failed"),
    dead: _t("Dead"),
    rejected: _t("Rejected"),
    discarded: _t("Discarded"),
    reversed: _t("Reversed"),
  };
  return labels[state] ?? state;
}

/**
 * An event's type: the one it was stored with (ingest keeps the type a rejected
 * event claims), else the string `type` the kept payload of unread input claims,
 * else "—". The module has no type guess of its own: a payload mapping is a
 * JSONata expression only the sidecar and the "Try it" widget evaluate.
 */
export function eventTypeLabel(type: string | false | null | undefined, rawPayload?: string | false | null): string {
  return (typeof type === "string" && type.trim() ? type : "") || claimedType(rawPayload) || NO_VALUE;
}

/** The non-empty string `type` of a payload that is a JSON object, or "". */
export function claimedType(rawPayload: string | false | null | undefined): string {
  if (typeof rawPayload !== "string" || !rawPayload.trimStart().startsWith("{")) return "";
  try {
    const parsed: unknown = JSON.parse(rawPayload);
    const type = parsed && typeof parsed === "object" ? (parsed as { type?: unknown }).type : undefined;
    return typeof type === "string" && type.trim() ? type.slice(0, 256) : "";
  } catch {
    return "";
  }
}

/** shopfloor.event.history.action */
export function historyActionLabel(action: string): string {
  const labels: Record<string, string> = {
    ingest: _t("Received"),
    apply: _t("Applied"),
    fail: _t("Apply failed"),
    pending: _t("Waiting"),
    dead: _t("Dead-lettered"),
    reject: _t("Rejected"),
    retry: _t("Retry requested"),
    edit: _t("Payload edited"),
    discard: _t("Discarded"),
  };
  return labels[action] ?? action;
}
