// Slow and opt-in (it installs Odoo's requirements from PyPI): `npm run demo`
// on a machine that has nothing of Odoo — no tree where it looks, a Python
// without Odoo's packages, no PostgreSQL it can reach. The demo must clone
// Odoo (from a local mirror, as ODOO_GIT_URL allows), build the venv from
// Odoo's requirements.txt, start a private cluster, then run as usual: Odoo
// answers, the sidecar delivers the simulated shift, Ctrl-C stops it all.
// Run: node test/demo/from-clone.slow.ts  (ends with "N passed, N failed")
import { execFile, spawn } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, PYTHON, repoRoot } from "../../sidecar/devstack/odoo.ts";
import { odooMirror } from "./odoo-mirror.ts";

const execFileAsync = promisify(execFile);
const results: { name: string; ok: boolean; detail: string }[] = [];
function check(name: string, ok: boolean, detail = ""): void {
  results.push({ name, ok, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || !detail ? "" : `: ${detail}`}`);
}

async function rpc(url: string, service: string, method: string, args: unknown[]): Promise<unknown> {
  const res = await fetch(`${url}/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "call", params: { service, method, args } }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

const mirror = await odooMirror((msg) => console.log(msg));
const cache = mkdtempSync("/tmp/sfb-fromclone-");
chmodSync(cache, 0o755); // as root the private cluster runs as postgres, which must reach it
const bare = join(cache, "bare-python");
await execFileAsync(PYTHON, ["-m", "venv", "--without-pip", bare]);
const port = await freePort();
const db = "sfb_from_clone";
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.ODOO_SRC;
Object.assign(env, {
  SFB_DEFAULT_ODOO_SRC: join(cache, "no-odoo-here"),
  SHOPFLOOR_CACHE: cache,
  ODOO_GIT_URL: `file://${mirror}`,
  ODOO_PYTHON: join(bare, "bin/python"),
  PGHOST: join(cache, "no-server-here"),
  DEMO_PORT: String(port),
  DEMO_DB: db,
});

const logFile = join(repoRoot, "artifacts/logs/demo-from-clone.log");
const logStream = createWriteStream(logFile);
const started = Date.now();
const demo = spawn(process.execPath, [join(repoRoot, "sidecar/devstack/demo.ts"), "--step-ms", "300"], {
  cwd: repoRoot,
  env,
  stdio: ["ignore", "pipe", "pipe"],
});
let output = "";
for (const stream of [demo.stdout, demo.stderr]) {
  stream.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    logStream.write(chunk);
    for (const line of chunk.toString().split("\n")) if (line.startsWith("[demo]")) console.log(line);
  });
}
const exited = new Promise<number>((resolve) => demo.once("exit", (code) => resolve(code ?? 1)));

const ready = await Promise.race([
  new Promise<boolean>((resolve) => {
    const timer = setInterval(() => {
      if (output.includes("running — press Ctrl-C")) {
        clearInterval(timer);
        resolve(true);
      }
    }, 500);
    setTimeout(() => {
      clearInterval(timer);
      resolve(false);
    }, 20 * 60_000);
  }),
  exited.then(() => false),
]);
check(
  `the demo is running (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  ready,
  `see ${logFile}\n${output.slice(-3000)}`,
);
check("it fetched Odoo from the mirror", output.includes(`fetching Odoo 18.0 from file://${mirror}`));
check("it built the Python venv", /building a Python venv in .*venv-odoo-18\.0/.test(output));
check("it started a private PostgreSQL", /starting private PostgreSQL on port \d+/.test(output));

if (ready) {
  const url = `http://127.0.0.1:${port}`;
  const login = await fetch(`${url}/web/login`).catch(() => undefined);
  check("Odoo answers /web/login", login?.status === 200, `status ${login?.status}`);
  let events = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && events === 0) {
    try {
      const uid = await rpc(url, "common", "authenticate", [db, "admin", "admin", {}]);
      events = Number(
        await rpc(url, "object", "execute_kw", [db, uid, "admin", "shopfloor.event", "search_count", [[]]]),
      );
    } catch {
      // not ready yet
    }
    if (events === 0) await new Promise((r) => setTimeout(r, 2_000));
  }
  check("the simulated shift reaches Odoo through the sidecar", events > 0, `${events} events`);
}

demo.kill("SIGINT");
const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 120_000))]);
check("Ctrl-C stops the demo cleanly", code === 0, `exit ${code}`);
check("and stops the private PostgreSQL", output.includes("private PostgreSQL stopped"));
logStream.end();

if (code === -1) demo.kill("SIGKILL");
// A demo that died without its shutdown leaves the private cluster running: stop it (fast shutdown).
const postmaster = join(cache, "pg/data/postmaster.pid");
if (existsSync(postmaster)) {
  try {
    process.kill(Number(readFileSync(postmaster, "utf8").split("\n")[0]), "SIGINT");
    await new Promise((r) => setTimeout(r, 3_000));
  } catch {
    // already gone
  }
}
rmSync(cache, { recursive: true, force: true });
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
