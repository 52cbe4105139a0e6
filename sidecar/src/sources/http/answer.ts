// What the intake answers a producer, once its items are committed: one
// outcome per item, from the pipeline's AcceptReport, and one status for the
// request — the most serious outcome among its items (README: Answers).
import type { AcceptReport } from "../../core/ports.ts";
import type { DecodedItem } from "./binding.ts";

export interface ItemOutcome {
  index: number;
  id?: string;
  source?: string;
  /**
   * accepted: stored, on its way to Odoo (events: how many a mapped payload became);
   * duplicate: the spool already had this (source, id) — a resend;
   * rejected: stored as rejected with `reason`, visible in Odoo's dead-letter screen;
   * stored: stored, no verdict reported (a sink that reports none).
   */
  outcome: "accepted" | "duplicate" | "rejected" | "stored";
  events?: number;
  reason?: string;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The status of a request whose items were all committed; 200 only when none was rejected. */
export function itemsAnswer(items: readonly DecodedItem[], report: AcceptReport | undefined, route?: string): Answer {
  const outcomes: ItemOutcome[] = items.map((item, index) => {
    const verdict = report?.items[index];
    const base = {
      index,
      ...(item.id !== undefined ? { id: item.id } : {}),
      ...(item.source !== undefined ? { source: item.source } : {}),
    };
    if (item.problem) return { ...base, outcome: "rejected", reason: item.problem.reason };
    if (verdict?.status === "rejected") return { ...base, outcome: "rejected", reason: verdict.reason };
    if (verdict?.status === "events") {
      return route === undefined
        ? { ...base, outcome: "accepted" }
        : { ...base, outcome: "accepted", events: verdict.count };
    }
    return { ...base, outcome: "stored" };
  });
  const duplicates = report?.duplicates ?? 0;
  // The report counts duplicates per request; one item alone is known to be the duplicate.
  const only = outcomes[0];
  if (outcomes.length === 1 && duplicates === 1 && only && only.outcome === "accepted") only.outcome = "duplicate";
  const rejected = outcomes.filter((o) => o.outcome === "rejected").length;
  let status = 200;
  if (items.some((i) => i.problem?.status === 403)) status = 403;
  else if (items.some((i) => i.problem?.status === 400)) status = 400;
  else if (rejected > 0) status = 422;
  return {
    status,
    body: {
      status,
      ...(status === 200 ? {} : { reason: summary(outcomes, rejected) }),
      accepted: outcomes.length - rejected,
      rejected,
      duplicates,
      items: outcomes,
    },
  };
}

function summary(outcomes: ItemOutcome[], rejected: number): string {
  const firstReason = outcomes.find((o) => o.outcome === "rejected")?.reason ?? "";
  const stored = "stored as rejected, visible in Odoo; a resend is a duplicate";
  if (outcomes.length === 1) return `${firstReason} (${stored})`;
  return `${rejected} of ${outcomes.length} items rejected (${stored}; the others were accepted), the first: ${firstReason}`;
}
