// A local git repository standing in for github.com/odoo/odoo: the Odoo tree
// this machine has (ODOO_SRC, default /opt/odoo18), on a branch 18.0, in
// Odoo's upstream layout (base and the test modules under odoo/addons, every
// other module under addons/), so the bootstrap's clone, its checks and the
// two-folder addons path are tried for real. Built once per Odoo tree into
// artifacts/ and reused; the files are hard links to the tree where the
// filesystem allows (git only reads them).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { odooTree, repoRoot } from "../../sidecar/devstack/odoo.ts";

const execFileAsync = promisify(execFile);

export async function odooMirror(log: (msg: string) => void = () => {}): Promise<string> {
  const tree = odooTree();
  const key = createHash("sha1")
    .update(tree.src)
    .update(String(statSync(join(tree.src, "odoo/release.py")).mtimeMs))
    .digest("hex")
    .slice(0, 10);
  const root = join(repoRoot, "artifacts/odoo-mirror");
  const mirror = join(root, key);
  if (existsSync(join(mirror, ".git/sfb-complete"))) return mirror;
  log(`building a git mirror of ${tree.src} in ${mirror}…`);
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
  const staging = `${mirror}.partial`;
  await execFileAsync("cp", ["-al", tree.src, staging]).catch(() => execFileAsync("cp", ["-a", tree.src, staging]));
  const packaged = join(staging, "odoo/addons");
  if (!existsSync(join(staging, "addons"))) {
    mkdirSync(join(staging, "addons"));
    for (const entry of readdirSync(packaged, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === "base" || entry.name.startsWith("test_")) continue;
      renameSync(join(packaged, entry.name), join(staging, "addons", entry.name));
    }
  }
  const git = (...args: string[]) =>
    execFileAsync("git", ["-c", "user.name=mirror", "-c", "user.email=mirror@localhost", ...args], {
      cwd: staging,
      maxBuffer: 64 * 1024 * 1024,
    });
  await git("init", "-q", "-b", "18.0");
  // Stored and sent uncompressed, without delta search: a local clone of
  // about a gigabyte then costs seconds of CPU, not minutes.
  await git("config", "core.compression", "0");
  await git("config", "pack.window", "0");
  writeFileSync(join(staging, ".git/info/exclude"), "__pycache__/\n*.pyc\n");
  await git("add", "-A");
  await git("commit", "-q", "-m", `Odoo 18.0 as found in ${tree.src}`);
  writeFileSync(join(staging, ".git/sfb-complete"), "");
  renameSync(staging, mirror);
  return mirror;
}
