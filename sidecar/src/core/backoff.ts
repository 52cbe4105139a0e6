// Backoff strategies as pure functions (like BullMQ's): the caller passes the
// random source, so tests are deterministic.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 60_000 };

/**
 * Exponential backoff with "full jitter" (AWS architecture blog): a delay
 * drawn uniformly from [0, min(max, base·2^attempt)]. Jitter keeps many
 * sidecars from hammering a recovering Odoo in lockstep. `attempt` counts
 * from 0 (the first retry).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.floor(random() * ceiling);
}

/** The exponential ceiling without jitter, for display ("next retry within …"). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
}
