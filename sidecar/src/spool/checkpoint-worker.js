// The spool's WAL checkpoints, on a thread of their own (see checkpointer.ts).
// Plain JavaScript: a TypeScript worker would load Node's type stripper again
// in its own isolate, and with it a good part of the thread's memory.
//
// Its own connection to the spool file: a PASSIVE checkpoint copies the
// committed WAL frames into the database file and syncs it while the main
// thread goes on writing, and takes no lock a writer waits for. It runs again
// while the main thread appended meanwhile, so that the WAL is found fully
// copied and its next writer starts it over from the beginning.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

/** Passes of one round at most: under a steady ingest each copies what the last one took to copy. */
const MAX_PASSES = 8;

const { path, synchronous, intervalMs } = workerData;
const port = parentPort;
if (!port) throw new Error("checkpoint-worker.js runs as a worker thread of the spool");

const db = new DatabaseSync(path);
db.exec(`pragma synchronous = ${synchronous === "FULL" ? "FULL" : "NORMAL"}`);
const dataVersion = db.prepare("pragma data_version");
const checkpoint = db.prepare("pragma wal_checkpoint(passive)");
// The first round runs whatever the version: the spool may have committed before this thread
// started, and a WAL left by a stopped process is copied in too.
let seen = -1;

/** Checkpoints when another connection committed since the last round; posts how it ended. */
function round() {
  const now = dataVersion.get().data_version;
  if (now === seen) return;
  seen = now;
  const started = performance.now();
  let caughtUp = false;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const r = checkpoint.get();
    // log -1: not in WAL mode; busy: another connection's checkpoint was running.
    if (r.busy !== 0 || r.log <= 0 || r.checkpointed >= r.log) {
      caughtUp = r.busy === 0;
      break;
    }
  }
  const ended = performance.now();
  port.postMessage({ kind: "round", caughtUp, ms: ended - started, endedAt: performance.timeOrigin + ended });
}

const timer = setInterval(() => {
  try {
    round();
  } catch (err) {
    port.postMessage({ kind: "error", message: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);

port.on("message", (message) => {
  // Rounds are synchronous: none is under way while a message is handled.
  if (message?.kind !== "stop") return;
  clearInterval(timer);
  db.close();
  port.close();
});
