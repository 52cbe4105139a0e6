#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping).
import process from "node:process";

// `run` is a long-lived service taking bursts: a bounded young generation and
// old space make V8 collect burst garbage instead of keeping the heap it grew
// (measured: RSS ~360 MB → ~150 MB with a large backlog; live heap stays
// under 40 MB). process.execve replaces this process — same PID, so signals
// and kill -9 reach the sidecar itself, not a wrapper.
const HEAP_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=96"];
const isRun = process.argv.slice(2).includes("run");
const flagged = process.execArgv.some((a) => a.startsWith("--max-old-space-size"));
if (isRun && !flagged && typeof process.execve === "function") {
  process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)]);
}
await import("../src/cli.ts");
