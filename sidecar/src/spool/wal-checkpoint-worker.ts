// The spool's WAL checkpoints, on a thread of their own (see
// wal-checkpointer.ts). Its own connection to the spool file copies the
// committed WAL frames into the database and syncs it (PASSIVE: it never
// waits for, nor blocks, the writer on the main thread), one request at a
// time, and answers each with what SQLite reported.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export interface CheckpointRequest {
  kind: "checkpoint" | "close";
}

export type CheckpointReply =
  | { kind: "done"; busy: number; log: number; checkpointed: number; ms: number }
  | { kind: "failed"; message: string; ms: number };

const port = parentPort;
if (!port) throw new Error("wal-checkpoint-worker.ts runs as a worker thread (see wal-checkpointer.ts)");
const { path } = workerData as { path: string };
const db = new DatabaseSync(path);
// A checkpoint waits this long for a reader starting on a reset WAL or a schema change, no longer.
db.exec("pragma busy_timeout = 1000");
const checkpoint = db.prepare("pragma wal_checkpoint(passive)");

port.on("message", (request: CheckpointRequest) => {
  if (request.kind === "close") {
    db.close();
    port.close();
    return;
  }
  const start = performance.now();
  let reply: CheckpointReply;
  try {
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    reply = {
      kind: "done",
      busy: row.busy,
      log: row.log,
      checkpointed: row.checkpointed,
      ms: performance.now() - start,
    };
  } catch (err) {
    reply = { kind: "failed", message: (err as Error).message, ms: performance.now() - start };
  }
  port.postMessage(reply);
});
