// Counter aggregation into time windows, so a counter ticking at machine
// rate becomes one production/scrap event per window instead of one per
// tick. Pure over explicit timestamps; the rules (issue 5) use it too.

/** One closed window of one counter key. */
export interface CounterWindow {
  key: string;
  /** Window bounds in ms (start inclusive, end exclusive). */
  startMs: number;
  endMs: number;
  /** Sum of deltas inside the window. */
  total: number;
  /** Number of deltas summed. */
  samples: number;
  /** Timestamp of the last delta inside the window. */
  lastMs: number;
}

/**
 * Delta between two readings of a monotonic counter that may reset to zero
 * or wrap at `wrapAt` (e.g. 65536 for a UINT16 PLC counter). A reading below
 * the previous one is a wrap when `wrapAt` is given and the wrapped delta is
 * plausible (< wrapAt / 2), otherwise a reset: the new reading itself is the
 * count since the reset.
 */
export function counterDelta(previous: number | undefined, current: number, wrapAt?: number): number {
  if (previous === undefined) return 0;
  if (current >= previous) return current - previous;
  if (wrapAt && wrapAt > 0) {
    const wrapped = wrapAt - previous + current;
    if (wrapped >= 0 && wrapped < wrapAt / 2) return wrapped;
  }
  return current;
}

/** Start of the window that contains `timeMs` (windows aligned to the epoch). */
export function windowStart(timeMs: number, windowMs: number): number {
  return Math.floor(timeMs / windowMs) * windowMs;
}

interface OpenWindow {
  startMs: number;
  total: number;
  samples: number;
  lastMs: number;
}

/**
 * Sums deltas per key into tumbling windows of `windowMs`. `add` returns the
 * windows a new sample closed (a sample in a later window closes the open
 * one); `flush(now)` closes windows whose end has passed. Zero-total windows
 * are not emitted: nothing happened.
 */
export class WindowAggregator {
  readonly windowMs: number;
  readonly #open = new Map<string, OpenWindow>();

  constructor(windowMs: number) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`);
    this.windowMs = windowMs;
  }

  add(key: string, delta: number, timeMs: number): CounterWindow[] {
    const start = windowStart(timeMs, this.windowMs);
    const closed: CounterWindow[] = [];
    let open = this.#open.get(key);
    if (open && start > open.startMs) {
      const done = this.#close(key, open);
      if (done) closed.push(done);
      open = undefined;
    }
    if (!open) {
      open = { startMs: start, total: 0, samples: 0, lastMs: timeMs };
      this.#open.set(key, open);
    }
    open.total += delta;
    open.samples += 1;
    open.lastMs = Math.max(open.lastMs, timeMs);
    return closed;
  }

  /** Closes every window that ended at or before `nowMs`. */
  flush(nowMs: number): CounterWindow[] {
    const closed: CounterWindow[] = [];
    for (const [key, open] of this.#open) {
      if (open.startMs + this.windowMs <= nowMs) {
        const done = this.#close(key, open);
        if (done) closed.push(done);
      }
    }
    return closed;
  }

  /** Closes everything (shutdown). */
  drain(): CounterWindow[] {
    const closed: CounterWindow[] = [];
    for (const [key, open] of this.#open) {
      const done = this.#close(key, open);
      if (done) closed.push(done);
    }
    return closed;
  }

  /** Open windows, to persist across restarts (and `restore` them). */
  snapshot(): Record<string, OpenWindow> {
    return Object.fromEntries(this.#open);
  }

  restore(snapshot: Record<string, OpenWindow>): void {
    for (const [key, w] of Object.entries(snapshot)) this.#open.set(key, { ...w });
  }

  #close(key: string, open: OpenWindow): CounterWindow | undefined {
    this.#open.delete(key);
    if (open.total === 0) return undefined;
    return {
      key,
      startMs: open.startMs,
      endMs: open.startMs + this.windowMs,
      total: open.total,
      samples: open.samples,
      lastMs: open.lastMs,
    };
  }
}
