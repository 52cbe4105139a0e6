// WAL checkpoints off the main thread. A checkpoint copies the WAL's frames
// into the database file and syncs it. Run by SQLite's autocheckpoint alone,
// it ran inside the commit that crossed the threshold, on the main thread:
// at every threshold crossed the event loop stood still for the copy and above
// all the sync (synchronous=OFF, no sync, took the same time off a Redis
// ingest as no checkpoint at all). Here a worker thread with its own
// connection checkpoints (PASSIVE: no lock a writer waits for) a few times a
// second when something was committed. The main connection's autocheckpoint
// stays as it was: it now finds most frames copied and synced, copies the
// few committed since, and lets the WAL start over (a WAL that something
// still writes to can only start over in the writer's own checkpoint). If
// the thread fails, the spool checkpoints as before without it.
import { once } from "node:events";
import { Worker } from "node:worker_threads";

/** What the worker is started with (checkpoint-worker.js). */
export interface CheckpointWorkerData {
  path: string;
  synchronous: "NORMAL" | "FULL";
  /** How often it looks for new commits. */
  intervalMs: number;
}

/** One round, as the worker posts it. */
interface CheckpointRound {
  kind: "round";
  /** The last pass left nothing behind: the WAL starts over at the next commit. */
  caughtUp: boolean;
  ms: number;
  /** When it ended (ms since the epoch, sub-millisecond: `performance.timeOrigin + performance.now()`). */
  endedAt: number;
}

export interface CheckpointStats {
  rounds: number;
  /** Rounds that ended with frames left behind (the main thread wrote faster than eight passes copied). */
  behind: number;
  /** Longest round, ms. */
  longestMs: number;
  /** The last round: when it ended (ms since the epoch, sub-millisecond) and whether it left nothing behind. */
  last?: { endedAt: number; caughtUp: boolean };
  /** Why the worker stopped, when it failed (the commits then checkpoint on their own, as without it). */
  failed?: string;
}

export interface CheckpointerOptions extends CheckpointWorkerData {
  /** The worker failed (the spool goes on, its commits checkpointing as without the thread). */
  onFailure(reason: string): void;
}

const STOP_WAIT_MS = 5_000;

export class Checkpointer {
  readonly #worker: Worker;
  readonly #stats: CheckpointStats = { rounds: 0, behind: 0, longestMs: 0 };
  readonly #onFailure: (reason: string) => void;
  #stopped = false;
  #exited: Promise<unknown>;

  constructor(opts: CheckpointerOptions) {
    const { onFailure, ...data } = opts;
    this.#onFailure = onFailure;
    this.#worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), {
      workerData: data satisfies CheckpointWorkerData,
      name: "spool-checkpoint",
      // A small heap: the worker holds a connection and a timer.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    });
    // A process that forgets to close its spool is not kept alive by it.
    this.#worker.unref();
    this.#exited = once(this.#worker, "exit").catch(() => undefined);
    this.#worker.on("message", (message: CheckpointRound | { kind: "error"; message: string }) => {
      if (message.kind === "error") {
        this.#fail(message.message);
        return;
      }
      this.#stats.rounds++;
      if (!message.caughtUp) this.#stats.behind++;
      this.#stats.longestMs = Math.max(this.#stats.longestMs, message.ms);
      this.#stats.last = { endedAt: message.endedAt, caughtUp: message.caughtUp };
    });
    this.#worker.on("error", (err) => this.#fail(err.message));
    this.#worker.on("exit", (code) => {
      if (!this.#stopped) this.#fail(`the checkpoint thread exited (code ${code})`);
    });
  }

  get stats(): CheckpointStats {
    return { ...this.#stats };
  }

  #fail(reason: string): void {
    if (this.#stats.failed !== undefined || this.#stopped) return;
    this.#stats.failed = reason;
    this.#stopped = true;
    void this.#worker.terminate();
    this.#onFailure(reason);
  }

  /** Ends the worker after the round under way; then the main connection alone has the file. */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#worker.postMessage({ kind: "stop" });
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), STOP_WAIT_MS);
    });
    if ((await Promise.race([this.#exited, late])) === "late") await this.#worker.terminate();
    clearTimeout(timer);
  }
}
