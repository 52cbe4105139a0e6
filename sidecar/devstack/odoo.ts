// Runs a real Odoo 18 Community server for tests, the demo and benchmarks.
// The Odoo tree lives outside the repo (ODOO_SRC, default /opt/odoo18).
// A template database with the module installed is built once per module
// content hash, then duplicated per suite (`odoo-bin db duplicate` copies
// the filestore too, which `createdb -T` does not).
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const addonDir = join(repoRoot, "odoo_addon");
/** Addons only the benchmark installs (timing hooks); never on a test, demo or packaged path. */
export const benchAddonDir = join(repoRoot, "test/odoo_addons");
export const BENCH_MODULES = ["shopfloor_bridge_bench"];
export const PYTHON = "/usr/bin/python3";

export class DevStackError extends Error {
  override name = "DevStackError";
}

export interface OdooTree {
  src: string;
  odooBin: string;
  addonsPath: string;
  /** The Python that runs Odoo: ODOO_PYTHON (the demo's venv when it built one), else /usr/bin/python3. */
  python: string;
}

/**
 * Folders of an Odoo tree that hold addons. Odoo's git tree keeps `base`
 * under odoo/addons and the other modules under addons/; a packaged tree
 * (ours at /opt/odoo18) has them all under odoo/addons.
 */
export function odooAddonsDirs(src: string): string[] {
  return [join(src, "odoo/addons"), join(src, "addons")].filter((dir) => existsSync(dir));
}

/** Whether `src` holds an Odoo tree with the modules the module needs (either layout). */
export function isOdooTree(src: string): boolean {
  return existsSync(join(src, "odoo-bin")) && odooAddonsDirs(src).some((dir) => existsSync(join(dir, "mrp")));
}

/** Locates the Odoo tree, or throws an error that names the fix. */
export function odooTree(env: NodeJS.ProcessEnv = process.env): OdooTree {
  const src = env.ODOO_SRC || "/opt/odoo18";
  const odooBin = join(src, "odoo-bin");
  if (!isOdooTree(src)) {
    throw new DevStackError(
      `No Odoo 18 source tree at ${src} (looked for ${odooBin} and mrp under odoo/addons or addons).\n` +
        "Fix: put Odoo 18.0 Community there, e.g.\n" +
        `  git clone --depth 1 -b 18.0 https://github.com/odoo/odoo ${src}\n` +
        "or set ODOO_SRC to an existing tree (`npm run demo` fetches one into its cache when ODOO_SRC is unset).\n" +
        "Its Python packages: the python3-* list in .ci/run.",
    );
  }
  const python = env.ODOO_PYTHON || PYTHON;
  if (!existsSync(python)) {
    throw new DevStackError(
      `${python} is missing. Fix: apt-get install python3 (Debian's, with the python3-* packages .ci/run lists)` +
        (env.ODOO_PYTHON ? ", or unset ODOO_PYTHON." : "."),
    );
  }
  const addonsPath = [...odooAddonsDirs(src), addonDir].join(",");
  return { src, odooBin, addonsPath, python };
}

/** Whether `psql -d postgres` answers with this environment. */
export async function postgresReachable(env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; why: string }> {
  try {
    await execFileAsync("psql", ["-d", "postgres", "-Atc", "select 1"], { env, timeout: 10_000 });
    return { ok: true, why: "" };
  } catch (err) {
    const error = err as NodeJS.ErrnoException & { stderr?: string };
    if (error.code === "ENOENT") return { ok: false, why: "psql is not installed" };
    return { ok: false, why: (error.stderr || error.message).trim().split("\n")[0] ?? "" };
  }
}

/** Fails with the fix when PostgreSQL is not reachable. */
export async function checkPostgres(): Promise<void> {
  const reach = await postgresReachable();
  if (!reach.ok) {
    throw new DevStackError(
      `PostgreSQL is not reachable as ${process.env.PGUSER ?? process.env.USER ?? "this user"} (${reach.why}).\n` +
        'Fix: pg_ctlcluster 15 main start && su postgres -c "createuser -s $(whoami)" ' +
        "(`npm run demo` starts a private cluster in its cache by itself)",
    );
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // Tests and the built bundle do not shape an installed database.
    if (entry.name === "__pycache__" || entry.name === "generated" || entry.name === "tests") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (!entry.name.endsWith(".pyc")) out.push(path);
  }
  return out.sort();
}

/** Hash of everything that shapes an installed database: module files and Odoo tree. */
export function templateKey(tree: OdooTree): string {
  const hash = createHash("sha1");
  for (const file of listFiles(join(addonDir, "shopfloor_bridge"))) {
    hash.update(relative(addonDir, file));
    hash.update(readFileSync(file));
  }
  hash.update(baseKey(tree));
  return hash.digest("hex").slice(0, 12);
}

export async function databaseExists(name: string): Promise<boolean> {
  const { stdout } = await execFileAsync("psql", [
    "-d",
    "postgres",
    "-Atc",
    `select 1 from pg_database where datname='${name}'`,
  ]);
  return stdout.trim() === "1";
}

/** PIDs of the PostgreSQL backends connected to `db` right now (for CPU meters: `proc-cpu.ts`). */
export function backendPids(db: string): number[] {
  const out = execFileSync(
    "psql",
    ["-d", "postgres", "-Atc", `select pid from pg_stat_activity where datname = '${db}'`],
    {
      encoding: "utf8",
    },
  );
  return out
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

export async function dropDatabase(name: string): Promise<void> {
  await execFileAsync("dropdb", ["--if-exists", "--force", name]);
  // Odoo's data dir follows XDG_DATA_HOME (the demo's private cluster sets it).
  const dataHome = process.env.XDG_DATA_HOME || join(process.env.HOME ?? "/root", ".local/share");
  const filestore = join(dataHome, "Odoo/filestore", name);
  rmSync(filestore, { recursive: true, force: true });
}

/** Runs odoo-bin to completion (install/update/tests), output to a log file. */
export async function runOdooBin(
  tree: OdooTree,
  args: string[],
  logFile: string,
): Promise<{ code: number; log: string }> {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "w");
  try {
    const child = spawn(tree.python, [tree.odooBin, `--addons-path=${tree.addonsPath}`, ...args], {
      cwd: tree.src,
      stdio: ["ignore", fd, fd],
    });
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    return { code, log: readFileSync(logFile, "utf8") };
  } finally {
    closeSync(fd);
  }
}

function holderAlive(lockDir: string): boolean {
  try {
    const pid = Number(readFileSync(join(lockDir, "pid"), "utf8"));
    if (!pid) return true; // being created this instant
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // ESRCH: the holder died (killed mid-build); ENOENT: pid not written yet.
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** A directory lock across processes; one left by a dead process is taken over. */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lockDir = join("/tmp", `${name}.lock`);
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      break;
    } catch {
      if (!holderAlive(lockDir)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new DevStackError(`timed out waiting for ${lockDir}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Modules of the base template, which depends on the Odoo tree only. */
export const ODOO_BASE_MODULES = ["mrp", "maintenance", "mrp_account"];

function baseKey(tree: OdooTree): string {
  const hash = createHash("sha1");
  hash.update(tree.src);
  hash.update(String(statSync(join(tree.src, "odoo/release.py")).mtimeMs));
  hash.update(ODOO_BASE_MODULES.join(","));
  return hash.digest("hex").slice(0, 10);
}

async function installInto(tree: OdooTree, db: string, modules: string[], log: (m: string) => void): Promise<void> {
  log(`installing ${modules.join(", ")} (with demo data) into ${db}…`);
  const started = Date.now();
  const logFile = join(repoRoot, "artifacts/logs", `${db}.log`);
  const { code, log: out } = await runOdooBin(
    tree,
    [
      "-d",
      db,
      "-i",
      modules.join(","),
      "--stop-after-init",
      "--max-cron-threads=0",
      "--http-port=0",
      "--log-level=warn",
    ],
    logFile,
  );
  if (code !== 0 || /\bERROR\b|\bCRITICAL\b/.test(out)) {
    await dropDatabase(db);
    throw new DevStackError(`installing ${modules.join(", ")} failed (exit ${code}); see ${logFile}\n${tail(out, 40)}`);
  }
  log(`${db} ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** The base template: mrp, maintenance and mrp_account with demo data, without the module. */
export async function ensureBaseTemplate(log: (msg: string) => void = () => {}): Promise<string> {
  const tree = odooTree();
  await checkPostgres();
  const fresh = process.env.SFB_FRESH_TEMPLATE === "1";
  const base = `sfb_base_${baseKey(tree)}`;
  await withLock(base, async () => {
    if (fresh && !process.env[`SFB_BUILT_${base}`]) await dropDatabase(base);
    if (!(await databaseExists(base))) await installInto(tree, base, ODOO_BASE_MODULES, log);
    process.env[`SFB_BUILT_${base}`] = "1";
  });
  return base;
}

/**
 * Returns a template database with mrp, maintenance, mrp_account and the
 * module (all with demo data). Two layers: a base template keyed by the
 * Odoo tree (slow to build, rarely changes) and a module template keyed by
 * the module's files, made by duplicating the base and installing the
 * module. SFB_FRESH_TEMPLATE=1 rebuilds both once per process (CI does).
 */
export async function ensureTemplate(log: (msg: string) => void = () => {}): Promise<string> {
  const tree = odooTree();
  const base = await ensureBaseTemplate(log);
  const fresh = process.env.SFB_FRESH_TEMPLATE === "1";
  const name = `sfb_tpl_${templateKey(tree)}`;
  return withLock(name, async () => {
    if (fresh && !process.env[`SFB_BUILT_${name}`]) await dropDatabase(name);
    if (!(await databaseExists(name))) {
      await duplicateDatabase(base, name);
      await installInto(tree, name, ["shopfloor_bridge"], log);
      await pruneTemplates(name);
    }
    process.env[`SFB_BUILT_${name}`] = "1";
    return name;
  });
}

/**
 * Every change of the module makes a new template; keep the newest few (by
 * database OID, i.e. creation order) so a long session does not pile them up.
 * Older ones are at most being duplicated for a moment, which is why a few stay.
 */
async function pruneTemplates(keep: string, count = 5): Promise<void> {
  const { stdout } = await execFileAsync("psql", [
    "-d",
    "postgres",
    "-Atc",
    "select datname from pg_database where datname like 'sfb\\_tpl\\_%' order by oid desc",
  ]);
  const stale = stdout
    .split("\n")
    .filter((n) => n && n !== keep)
    .slice(count - 1);
  for (const name of stale) await dropDatabase(name).catch(() => undefined);
}

export async function duplicateDatabase(template: string, name: string): Promise<void> {
  const tree = odooTree();
  await dropDatabase(name);
  const { stderr } = await execFileAsync(tree.python, [tree.odooBin, "db", "duplicate", "-f", template, name], {
    cwd: tree.src,
  }).catch((err: Error & { stderr?: string }) => {
    throw new DevStackError(`db duplicate ${template} → ${name} failed: ${err.stderr ?? err.message}`);
  });
  if (!(await databaseExists(name))) throw new DevStackError(`db duplicate produced no database: ${stderr}`);
}

export function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface OdooServer {
  url: string;
  db: string;
  port: number;
  login: string;
  password: string;
  logFile: string;
  /** Stops the server process (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Starts the server process again on the same port and database. */
  start(): Promise<void>;
  /** Stops the server and drops its database. */
  destroy(): Promise<void>;
}

export interface StartOdooOptions {
  /** Database name; duplicated from the template when `fromTemplate` (default). */
  db: string;
  fromTemplate?: boolean;
  port?: number;
  workers?: number;
  extraArgs?: string[];
  log?: (msg: string) => void;
  /** Benchmarks only: put test/odoo_addons on the addons path and install BENCH_MODULES into `db`. */
  benchAddons?: boolean;
}

/** Starts a real Odoo HTTP server on loopback and waits until it answers XML-RPC. */
export async function startOdoo(opts: StartOdooOptions): Promise<OdooServer> {
  const productTree = odooTree();
  const tree = opts.benchAddons
    ? { ...productTree, addonsPath: `${productTree.addonsPath},${benchAddonDir}` }
    : productTree;
  await checkPostgres();
  if (opts.fromTemplate !== false) {
    const template = await ensureTemplate(opts.log);
    await duplicateDatabase(template, opts.db);
  }
  if (opts.benchAddons) await installInto(tree, opts.db, BENCH_MODULES, opts.log ?? (() => {}));
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(repoRoot, "artifacts/logs", `odoo-${opts.db}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  let child: ChildProcess | undefined;

  const start = async () => {
    const fd = openSync(logFile, "a");
    child = spawn(
      tree.python,
      [
        tree.odooBin,
        `--addons-path=${tree.addonsPath}`,
        "-d",
        opts.db,
        `--db-filter=^${opts.db}$`,
        "--http-interface=127.0.0.1",
        `--http-port=${port}`,
        // Crons would reach the internet; tests run the module's cron explicitly.
        "--max-cron-threads=0",
        `--workers=${opts.workers ?? 0}`,
        "--log-level=info",
        ...(opts.extraArgs ?? []),
      ],
      { cwd: tree.src, stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    const proc = child;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new DevStackError(`Odoo exited with ${code} while starting; see ${logFile}`))),
    );
    await Promise.race([waitForJsonRpc(url, 60_000), exited]);
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    db: opts.db,
    port,
    login: "admin",
    password: "admin",
    logFile,
    start,
    stop,
    destroy: async () => {
      await stop();
      await dropDatabase(opts.db);
    },
  };
}

export async function waitForJsonRpc(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const body = JSON.stringify({
    jsonrpc: "2.0",
    method: "call",
    params: { service: "common", method: "version", args: [] },
  });
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok && (await res.text()).includes("server_version")) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DevStackError(`Odoo at ${url} did not answer JSON-RPC within ${timeoutMs} ms (${lastError})`);
}
