// Translated names of the states and history actions the server stores as keys.
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
  };
  return labels[state] ?? state;
}

/** An event's type; input the sidecar could not read as an event has none. */
export function eventTypeLabel(type: string | false | null | undefined): string {
  return type || _t("(not an event)");
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
