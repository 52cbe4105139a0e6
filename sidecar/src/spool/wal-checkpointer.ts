// WAL checkpoints off the ingest thread. With SQLite's automatic checkpoint,
// the commit that crosses the threshold copies the whole WAL into the
// database and syncs it on the thread that commits: for the spool that is
// the sidecar's only JavaScript thread, which then reads no socket and acks
// nothing for tens of milliseconds every 32 MB of ingest (measured: about a
// seventh of that thread's time during a Redis Streams drain). Here a worker
// thread with its own connection runs the checkpoints, asked for after
// about `everyBytes` of rows were written; the writer keeps SQLite's
// automatic checkpoint as a backstop at a much larger WAL (see
// SqliteSpool), so a stalled or failed worker costs speed, never the WAL's
// bound. A checkpoint by another connection does not change the writer's
// `pragma data_version`: the spool does not take it for another process's
// change.
import { Worker } from "node:worker_threads";
import type { CheckpointReply, CheckpointRequest } from "./wal-checkpoint-worker.ts";

export interface CheckpointStats {
  /** Checkpoints asked for and finished. */
  runs: number;
  failures: number;
  /** The worker's time in checkpoints, all together (ms). */
  totalMs: number;
  /** WAL frames the last checkpoint found and copied. */
  lastLog: number;
  lastCheckpointed: number;
}

export type CheckpointLog = (level: "warn", message: string) => void;

export class WalCheckpointer {
  readonly #path: string;
  readonly #everyBytes: number;
  readonly #log: CheckpointLog | undefined;
  #worker: Worker | undefined;
  #exited: Promise<void> | undefined;
  /** Bytes written since the last checkpoint was asked for. */
  #written = 0;
  #running = false;
  /** Asked for again while one ran. */
  #again = false;
  #closed = false;
  #idle: (() => void)[] = [];
  readonly stats: CheckpointStats = { runs: 0, failures: 0, totalMs: 0, lastLog: 0, lastCheckpointed: 0 };

  constructor(path: string, opts: { everyBytes: number; log?: CheckpointLog }) {
    this.#path = path;
    this.#everyBytes = opts.everyBytes;
    this.#log = opts.log;
  }

  /** `bytes` more were written to the WAL; asks for a checkpoint once enough were. */
  wrote(bytes: number): void {
    this.#written += bytes;
    if (this.#written >= this.#everyBytes) this.request();
  }

  /** Asks for a checkpoint now (one runs at a time; asked for while one runs, another follows it). */
  request(): void {
    if (this.#closed) return;
    this.#written = 0;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#send({ kind: "checkpoint" });
  }

  /** Resolves once no checkpoint runs or is asked for. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits for the running checkpoint, then ends the worker and its connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#again = false;
    await this.idle();
    const worker = this.#worker;
    if (!worker) return;
    worker.postMessage({ kind: "close" } satisfies CheckpointRequest);
    await this.#exited;
  }

  #send(request: CheckpointRequest): void {
    this.#spawn().postMessage(request);
  }

  #spawn(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL("./wal-checkpoint-worker.ts", import.meta.url), {
      workerData: { path: this.#path },
    });
    // A sidecar shutting down does not wait for its checkpoint thread.
    worker.unref();
    worker.on("message", (reply: CheckpointReply) => this.#done(reply));
    worker.on("error", (err) => {
      // It exits next: the next request starts another.
      if (this.#worker === worker) this.#worker = undefined;
      this.#done({ kind: "failed", message: `checkpoint thread: ${err.message}`, ms: 0 });
    });
    this.#exited = new Promise((resolve) => {
      worker.once("exit", () => {
        if (this.#worker === worker) this.#worker = undefined;
        // A thread that died while a checkpoint was asked for: the next request starts another.
        if (this.#running) this.#done({ kind: "failed", message: "checkpoint thread exited", ms: 0 });
        resolve();
      });
    });
    this.#worker = worker;
    return worker;
  }

  #done(reply: CheckpointReply): void {
    if (!this.#running) return;
    this.stats.totalMs += reply.ms;
    if (reply.kind === "done") {
      this.stats.runs++;
      this.stats.lastLog = reply.log;
      this.stats.lastCheckpointed = reply.checkpointed;
    } else {
      this.stats.failures++;
      this.#log?.(
        "warn",
        `spool ${this.#path}: WAL checkpoint failed (${reply.message}); the writer's own checkpoint bounds the WAL`,
      );
    }
    if (this.#again && !this.#closed) {
      this.#again = false;
      this.#send({ kind: "checkpoint" });
      return;
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
