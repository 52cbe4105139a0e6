// Coalesces "something changed" pings into reloads: one reload in flight at
// a time, one more after it if pings arrived meanwhile, and a trailing
// reload shortly after the last ping. The server sends at most one ping a
// second and drops the ones in between, so the trailing reload is what
// shows the last changes of a burst.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The page's own timers (tests pass fake ones). */
export const browserTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class LiveRefresh {
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  private trailing: unknown;
  private stopped = false;
  readonly reload: () => Promise<void>;
  readonly trailingMs: number;
  readonly timers: Timers;

  constructor(reload: () => Promise<void>, trailingMs = 1200, timers: Timers = browserTimers) {
    this.reload = reload;
    this.trailingMs = trailingMs;
    this.timers = timers;
  }

  /** Called on each bus ping. */
  ping(): void {
    if (this.stopped) return;
    this.run();
    if (this.trailing !== undefined) this.timers.clearTimeout(this.trailing);
    this.trailing = this.timers.setTimeout(() => {
      this.trailing = undefined;
      this.run();
    }, this.trailingMs);
  }

  private run(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.dirty = true;
      return;
    }
    this.inFlight = this.reload()
      .catch(() => {})
      .finally(() => {
        this.inFlight = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.run();
        }
      });
  }

  /** Resolves when no reload is running (tests). */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  stop(): void {
    this.stopped = true;
    if (this.trailing !== undefined) this.timers.clearTimeout(this.trailing);
  }
}
