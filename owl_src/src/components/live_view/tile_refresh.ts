// Turns the live view's bus messages into tile reads: the work centers named
// by the messages since the last read are read together (one read in flight
// at a time), and a full read follows shortly after the last message. The
// server sends at most one message a second and queues what changes in
// between, so the trailing full read is what shows the end of a burst.
import { browserTimers, type Timers } from "../../shared/live.ts";

/** `read(ids)` reads those tiles; `read(null)` reads every tile. */
export type TileReader = (ids: number[] | null) => Promise<void>;

export class TileRefresh {
  private inFlight: Promise<void> | undefined;
  private pendingIds = new Set<number>();
  private pendingFull = false;
  private trailing: unknown;
  private stopped = false;
  /** Reads done (partial and full), for the screen's counters and the bench. */
  reads = 0;
  readonly read: TileReader;
  readonly trailingMs: number;
  readonly timers: Timers;

  constructor(read: TileReader, trailingMs = 1500, timers: Timers = browserTimers) {
    this.read = read;
    this.trailingMs = trailingMs;
    this.timers = timers;
  }

  /** A bus message named these work centers. */
  changed(ids: readonly number[]): void {
    if (this.stopped) return;
    for (const id of ids) if (Number.isInteger(id) && id > 0) this.pendingIds.add(id);
    this.run();
    if (this.trailing !== undefined) this.timers.clearTimeout(this.trailing);
    this.trailing = this.timers.setTimeout(() => {
      this.trailing = undefined;
      this.full();
    }, this.trailingMs);
  }

  /** Every tile, at the next free moment. */
  full(): void {
    if (this.stopped) return;
    this.pendingFull = true;
    this.run();
  }

  private run(): void {
    if (this.stopped || this.inFlight) return;
    let ids: number[] | null;
    if (this.pendingFull) {
      ids = null;
      this.pendingFull = false;
      this.pendingIds.clear();
    } else if (this.pendingIds.size) {
      ids = [...this.pendingIds].sort((a, b) => a - b);
      this.pendingIds.clear();
    } else {
      return;
    }
    this.reads++;
    this.inFlight = this.read(ids)
      .catch(() => {})
      .finally(() => {
        this.inFlight = undefined;
        this.run();
      });
  }

  /** Resolves when no read is running or queued (tests). */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  stop(): void {
    this.stopped = true;
    if (this.trailing !== undefined) this.timers.clearTimeout(this.trailing);
  }
}
