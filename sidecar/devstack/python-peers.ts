// Where the Python protocol peers live: .venv-peers/ (test/peers/python/venv.sh,
// run by .ci/run). Tests start those servers as child processes.
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
