// A circuit breaker over explicit time: after `failureThreshold` consecutive
// failures it opens for `openMs`; then one probe is let through (half-open);
// success closes it, failure opens it again. While open, delivery does not
// call Odoo at all, so a down Odoo costs nothing and recovers quickly.

export type BreakerState =
  | { state: "closed"; failures: number }
  | { state: "open"; until: number; failures: number }
  | { state: "half-open"; failures: number };

export interface BreakerPolicy {
  failureThreshold: number;
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = { failureThreshold: 3, openMs: 5_000 };

export class CircuitBreaker {
  #state: BreakerState = { state: "closed", failures: 0 };
  readonly policy: BreakerPolicy;

  constructor(policy: BreakerPolicy = DEFAULT_BREAKER) {
    this.policy = policy;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** May a call go out at `now`? Moves open → half-open once the open time has passed. */
  allows(now: number): boolean {
    const s = this.#state;
    if (s.state === "open") {
      if (now < s.until) return false;
      this.#state = { state: "half-open", failures: s.failures };
    }
    return true;
  }

  /** Milliseconds until a call may go out (0 when allowed now). */
  waitMs(now: number): number {
    const s = this.#state;
    return s.state === "open" ? Math.max(0, s.until - now) : 0;
  }

  success(): void {
    this.#state = { state: "closed", failures: 0 };
  }

  failure(now: number): void {
    const failures = this.#state.failures + 1;
    if (this.#state.state === "half-open" || failures >= this.policy.failureThreshold) {
      this.#state = { state: "open", until: now + this.policy.openMs, failures };
    } else {
      this.#state = { state: "closed", failures };
    }
  }
}
