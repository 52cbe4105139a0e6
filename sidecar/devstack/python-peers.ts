// Where the Python protocol peers live: .venv-peers/ (test/peers/python/venv.sh,
// run by .ci/run). Tests start those servers as child processes.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./odoo.ts";

/** The Python of .venv-peers; throws, naming the command that makes it, when it is missing. */
export function peerPython(): string {
  const python = join(repoRoot, ".venv-peers/bin/python");
  if (!existsSync(python)) {
    throw new Error(`${python} is missing: run test/peers/python/venv.sh (or .ci/run) to install the protocol peers`);
  }
  return python;
}

/**
 * Runs a peer script of test/peers/python to its end, `input` on its stdin
 * (objects: one JSON line each), killed after `timeoutMs`. Not spawnSync: a
 * broker or intake answering the peer may run in this very process (aedes,
 * the HTTP intake), and a blocked event loop answers nobody.
 */
export function runPeer(
  script: string,
  args: string[],
  input: string | object[] = "",
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(peerPython(), [join(repoRoot, "test/peers/python", script), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(typeof input === "string" ? input : input.map((line) => JSON.stringify(line)).join("\n"));
  const timer = setTimeout(() => {
    stderr += `\n${script} killed after ${timeoutMs} ms`;
    child.kill("SIGKILL");
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
