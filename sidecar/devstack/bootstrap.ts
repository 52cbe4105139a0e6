// What `npm run demo` needs from the machine, found or made: an Odoo 18 tree
// (a shallow clone into the cache folder when there is none), a Python that
// can run it (a venv built from Odoo's own requirements.txt when the system
// Python lacks its packages) and a PostgreSQL it can use (a private cluster in
// the cache folder when none is reachable). The result is a set of
// environment variables (ODOO_SRC, ODOO_PYTHON, PGHOST/PGPORT/PGUSER…) that
// odooTree(), checkPostgres() and every psql/odoo-bin call of odoo.ts read.
// Tests, CI and the bench never come through here: they use /opt/odoo18 and
// the system cluster, and fail with the fix when those are missing.
import { execFile, spawn } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import {
  addonDir,
  DevStackError,
  freePort,
  isOdooTree,
  type OdooTree,
  odooTree,
  PYTHON,
  postgresReachable,
} from "./odoo.ts";

const execFileAsync = promisify(execFile);

export const ODOO_BRANCH = "18.0";
export const DEFAULT_ODOO_GIT_URL = "https://github.com/odoo/odoo.git";
export const DEFAULT_ODOO_SRC = "/opt/odoo18";
/** The database superuser of the private cluster (Odoo refuses to run as `postgres`). */
export const PRIVATE_PG_USER = "odoo";

export interface BootstrapOptions {
  /** The environment to resolve from (default process.env); never modified. */
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
  /** Where a tree is looked for when ODOO_SRC is unset (default SFB_DEFAULT_ODOO_SRC, else /opt/odoo18; tests point it nowhere). */
  defaultSrc?: string;
  /** Where PostgreSQL's versioned bin folders are looked for after PATH (default SFB_POSTGRESQL_LIB, else Debian's /usr/lib/postgresql). */
  postgresqlLib?: string;
  /** Copy git's and pip's progress to the terminal (stderr); default true. */
  progress?: boolean;
}

export interface DemoEnvironment {
  /** The variables to set for Odoo, psql and the demo's children. */
  env: Record<string, string>;
  tree: OdooTree;
  /** The private cluster, when one was needed. */
  postgres?: PrivatePostgres;
  /** Stops what the bootstrap started (the private cluster). */
  stop(): Promise<void>;
}

/** Everything the demo needs, found or made; each step logs what it uses or does. */
export async function bootstrap(opts: BootstrapOptions = {}): Promise<DemoEnvironment> {
  const env = { ...(opts.env ?? process.env) };
  const src = await ensureOdooTree({ ...opts, env });
  const python = await ensurePython(src, { ...opts, env });
  const postgres = await ensurePostgres({ ...opts, env });
  const vars: Record<string, string> = { ODOO_SRC: src, ODOO_PYTHON: python, ...postgres?.env };
  return {
    env: vars,
    tree: odooTree({ ...env, ...vars }),
    postgres,
    stop: async () => {
      await postgres?.stop();
    },
  };
}

/** The cache folder: SHOPFLOOR_CACHE, default ~/.cache/shopfloor-bridge. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SHOPFLOOR_CACHE || join(env.HOME || homedir(), ".cache/shopfloor-bridge");
}

const noLog = () => {};

// ---------------------------------------------------------------- Odoo tree

/**
 * ODOO_SRC when set (it must hold a tree: nothing is fetched over a folder the
 * user named), else /opt/odoo18, else the cache's clone, made now when absent.
 */
export async function ensureOdooTree(opts: BootstrapOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? noLog;
  if (env.ODOO_SRC) return odooTree(env).src;
  const defaultSrc = opts.defaultSrc ?? (env.SFB_DEFAULT_ODOO_SRC || DEFAULT_ODOO_SRC);
  if (isOdooTree(defaultSrc)) return defaultSrc;
  const cache = cacheDir(env);
  const target = join(cache, `odoo-${ODOO_BRANCH}`);
  if (isOdooTree(target)) {
    log(`Odoo ${ODOO_BRANCH}: ${target} (fetched by an earlier run)`);
    return target;
  }
  if (existsSync(target)) {
    throw new DevStackError(
      `${target} is not an Odoo ${ODOO_BRANCH} tree (no odoo-bin, or no mrp under odoo/addons or addons).\n` +
        `Fix: remove it (rm -rf ${target}) and run again, or set ODOO_SRC to an Odoo 18.0 tree.`,
    );
  }
  await cloneOdoo(env.ODOO_GIT_URL || DEFAULT_ODOO_GIT_URL, cache, target, opts);
  return target;
}

async function cloneOdoo(url: string, cache: string, target: string, opts: BootstrapOptions): Promise<void> {
  const log = opts.log ?? noLog;
  mkdirSync(cache, { recursive: true });
  removeStalePartials(cache, `odoo-${ODOO_BRANCH}.partial-`);
  // Cloned beside the target and renamed when verified: a run stopped
  // half-way leaves only a .partial folder, which no run trusts.
  const partial = join(cache, `odoo-${ODOO_BRANCH}.partial-${process.pid}`);
  const waysOut =
    "Nothing was kept. Ways out:\n" +
    "  - set ODOO_SRC to an Odoo 18.0 Community tree you already have: ODOO_SRC=/path/to/odoo npm run demo\n" +
    "  - or set ODOO_GIT_URL to a mirror of Odoo's repository you can reach (it needs a branch 18.0):\n" +
    "    ODOO_GIT_URL=https://your-mirror/odoo.git npm run demo";
  log(`fetching Odoo ${ODOO_BRANCH} from ${url} into ${target} (a shallow clone of several hundred MB)…`);
  const started = Date.now();
  let result: { code: number; output: string };
  try {
    result = await runShown(
      "git",
      ["clone", "--progress", "--depth", "1", "--branch", ODOO_BRANCH, url, partial],
      opts.env ?? process.env,
      opts.progress ?? true,
    );
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new DevStackError(`git is not installed, so Odoo cannot be fetched. Fix: apt-get install git\n${waysOut}`);
    }
    throw err;
  }
  if (result.code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new DevStackError(
      `Could not fetch Odoo ${ODOO_BRANCH} from ${url} (git clone exited ${result.code}; no network, a wrong URL or no branch ${ODOO_BRANCH}):\n` +
        `${lastLines(result.output, 5)}\n${waysOut}`,
    );
  }
  if (!isOdooTree(partial)) {
    rmSync(partial, { recursive: true, force: true });
    throw new DevStackError(
      `The branch ${ODOO_BRANCH} of ${url} is not an Odoo tree (no odoo-bin, or no mrp under odoo/addons or addons).\n${waysOut}`,
    );
  }
  renameSync(partial, target);
  log(`Odoo ${ODOO_BRANCH} fetched into ${target} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** Removes `<prefix><pid>` folders whose process is gone (a clone or initdb cut short). */
function removeStalePartials(dir: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid && pid !== process.pid && processAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

// ------------------------------------------------------------------- Python

/** Distribution names of Odoo's requirements.txt whose import name differs from the name. */
const IMPORT_NAMES: Record<string, string> = {
  pillow: "PIL",
  libsass: "sass",
  pyopenssl: "OpenSSL",
  pypdf2: "PyPDF2",
  "python-dateutil": "dateutil",
  "python-ldap": "ldap",
  "python-stdnum": "stdnum",
  pyserial: "serial",
  pyusb: "usb",
};

/** Whether a requirement's environment marker (`python_version`, `sys_platform`, joined by `and`) holds. */
export function markerHolds(marker: string, pythonVersion: string, platform: string): boolean {
  if (/\bor\b/.test(marker)) return true; // not in Odoo's file; count the requirement rather than guess
  return marker.split(/\band\b/).every((clause) => {
    const match = clause.trim().match(/^(python_version|sys_platform)\s*(==|!=|<=|>=|<|>)\s*['"]([^'"]+)['"]$/);
    if (!match) return true;
    const [, name, op, value] = match as unknown as [string, string, string, string];
    if (name === "sys_platform") return op === "==" ? platform === value : op === "!=" ? platform !== value : true;
    const order = compareVersions(pythonVersion, value);
    switch (op) {
      case "==":
        return order === 0;
      case "!=":
        return order !== 0;
      case "<":
        return order < 0;
      case "<=":
        return order <= 0;
      case ">":
        return order > 0;
      default:
        return order >= 0;
    }
  });
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

/** The modules to import for the requirements.txt lines that apply to this Python. */
export function requiredImports(requirements: string, pythonVersion: string, platform: string): string[] {
  const modules = new Set<string>();
  for (const raw of requirements.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [spec = "", marker = ""] = line.split(";");
    const name = spec
      .trim()
      .split(/[\s=<>!~[]/)[0]
      ?.toLowerCase();
    if (!name || !markerHolds(marker, pythonVersion, platform)) continue;
    modules.add(IMPORT_NAMES[name] ?? name.replaceAll("-", "_"));
  }
  return [...modules].sort();
}

// Imports Odoo's command line (what odoo-bin does) and every required module
// (argv up to "--"), then checks the distributions the module's manifest
// lists in external_dependencies (after "--") the way Odoo does, by their
// metadata; prints what fails, one a line.
const PROBE = `
import importlib, importlib.metadata, sys
split = sys.argv.index("--")
missing = []
for name in ["odoo.cli"] + sys.argv[1:split]:
    try:
        importlib.import_module(name)
    except Exception:
        missing.append(name)
for name in sys.argv[split + 1:]:
    try:
        importlib.metadata.version(name)
    except Exception:
        missing.append(name)
print("\\n".join(missing))
`;

/** The Python distributions our module's manifest asks for (external_dependencies), read by `python`. */
export async function moduleExternalPython(python: string): Promise<string[]> {
  const manifest = join(addonDir, "shopfloor_bridge/__manifest__.py");
  const { stdout } = await execFileAsync(python, [
    "-c",
    "import ast, sys; print('\\n'.join(ast.literal_eval(open(sys.argv[1]).read()).get('external_dependencies', {}).get('python', [])))",
    manifest,
  ]);
  return stdout.split("\n").filter(Boolean);
}

/**
 * What `python` lacks to run Odoo with our module, run from the tree root: the
 * modules of Odoo's requirements.txt that apply to it, and the module's own
 * external dependencies.
 */
export async function missingPythonModules(python: string, src: string): Promise<string[]> {
  if (!existsSync(python)) return [`(no ${python})`];
  const { stdout: about } = await execFileAsync(python, [
    "-c",
    "import sys; print('%d.%d' % sys.version_info[:2], sys.platform)",
  ]);
  const [version = "0", platform = ""] = about.trim().split(" ");
  if (compareVersions(version, "3.10") < 0) return [`(Python ${version}; Odoo 18 needs 3.10 or later)`];
  const modules = requiredImports(readFileSync(join(src, "requirements.txt"), "utf8"), version, platform);
  const external = await moduleExternalPython(python);
  const { stdout } = await execFileAsync(python, ["-c", PROBE, ...modules, "--", ...external], {
    cwd: src,
    timeout: 120_000,
  });
  return stdout.split("\n").filter(Boolean);
}

export interface PythonChoice {
  /** The Python to run Odoo with, when it has everything. */
  python?: string;
  /** What the first choice (ODOO_PYTHON or /usr/bin/python3) lacks. */
  missing: string[];
  /** The venv that is (or will be) used when it lacks something. */
  venv: string;
}

/** ODOO_PYTHON or /usr/bin/python3 when it imports Odoo and its requirements, else the cache's venv. */
export async function decidePython(src: string, env: NodeJS.ProcessEnv = process.env): Promise<PythonChoice> {
  const candidate = env.ODOO_PYTHON || PYTHON;
  const venv = join(cacheDir(env), `venv-odoo-${ODOO_BRANCH}`);
  const missing = await missingPythonModules(candidate, src);
  if (missing.length === 0) return { python: candidate, missing, venv };
  const venvPython = join(venv, "bin/python");
  if (existsSync(venvPython) && (await missingPythonModules(venvPython, src)).length === 0) {
    return { python: venvPython, missing, venv };
  }
  return { missing, venv };
}

export async function ensurePython(src: string, opts: BootstrapOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? noLog;
  const candidate = env.ODOO_PYTHON || PYTHON;
  const choice = await decidePython(src, env);
  const shown = choice.missing.slice(0, 6).join(", ");
  const more = choice.missing.length > 6 ? ` and ${choice.missing.length - 6} more` : "";
  const lacks = `${candidate} cannot import ${shown}${more}`;
  if (choice.python === candidate) return candidate;
  if (choice.python) {
    log(`Python for Odoo: ${choice.python} (built by an earlier run; ${lacks})`);
    return choice.python;
  }
  await buildVenv(choice.venv, src, lacks, opts);
  const venvPython = join(choice.venv, "bin/python");
  const stillMissing = await missingPythonModules(venvPython, src);
  if (stillMissing.length > 0) {
    throw new DevStackError(
      `The venv ${choice.venv} was built from ${src}/requirements.txt and the module's external_dependencies but still cannot import ${stillMissing.join(", ")}.\n` +
        `Fix: remove it (rm -rf ${choice.venv}) and run again, or install Debian's python3-* packages (the list in .ci/run) and use ${PYTHON}.`,
    );
  }
  return venvPython;
}

// Odoo 18 pins sdists (cbor2 5.4.2, …) whose setup.py imports pkg_resources,
// which setuptools 81 removed; pip's isolated builds must get an older one.
const BUILD_CONSTRAINTS = "setuptools<81\n";

async function buildVenv(venv: string, src: string, lacks: string, opts: BootstrapOptions): Promise<void> {
  const log = opts.log ?? noLog;
  const env = opts.env ?? process.env;
  const progress = opts.progress ?? true;
  const basePython = existsSync(PYTHON) ? PYTHON : "python3";
  const venvPython = join(venv, "bin/python");
  log(
    `${lacks}; building a Python venv in ${venv} from ${src}/requirements.txt and the module's external_dependencies (pip; a few minutes)…`,
  );
  const started = Date.now();
  if (!existsSync(venvPython)) {
    const made = await runShown(basePython, ["-m", "venv", venv], env, progress).catch((err: Error) => ({
      code: 1,
      output: err.message,
    }));
    if (made.code !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw new DevStackError(
        `${basePython} -m venv failed:\n${lastLines(made.output, 5)}\n` +
          "Fix: apt-get install python3-venv (Debian/Ubuntu), or install Debian's python3-* packages (the list in .ci/run) so no venv is needed.",
      );
    }
  }
  const constraints = join(venv, "build-constraints.txt");
  mkdirSync(venv, { recursive: true });
  writeFileSync(constraints, BUILD_CONSTRAINTS);
  const pip = await runShown(
    venvPython,
    [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "-r",
      join(src, "requirements.txt"),
      ...(await moduleExternalPython(venvPython)),
    ],
    { ...env, PIP_CONSTRAINT: constraints },
    progress,
  );
  if (pip.code !== 0) {
    // The venv stays: a next run re-runs pip over it, and trusts it only when the probe passes.
    throw new DevStackError(
      `pip could not install Odoo's requirements into ${venv}:\n${lastLines(pip.output, 8)}\n${pipFailureAdvice(pip.output)}`,
    );
  }
  log(`Python venv ready in ${((Date.now() - started) / 1000).toFixed(0)} s: ${venvPython}`);
}

/** What to install when pip failed, read from its output; always names a way out. */
export function pipFailureAdvice(output: string): string {
  const packages = new Set<string>();
  if (/pg_config|libpq-fe\.h/.test(output)) packages.add("libpq-dev");
  // python-ldap needs both; pip reports the first missing header only.
  if (/lber\.h|ldap\.h|sasl\.h|-lldap|-llber|-lsasl2/.test(output)) {
    packages.add("libldap2-dev");
    packages.add("libsasl2-dev");
  }
  if (/Python\.h/.test(output)) packages.add("python3-dev");
  if (/gcc' failed: No such file or directory|unable to execute '[^']*gcc'|gcc: (command )?not found/.test(output)) {
    packages.add("build-essential");
  }
  if (
    /Could not find a version|No matching distribution|Failed to establish a new connection|Temporary failure in name resolution/.test(
      output,
    )
  ) {
    return (
      "pip could not reach the package index (PyPI) or find a pinned version there.\n" +
      "Fix: give this machine access to PyPI (or set PIP_INDEX_URL to a mirror), or install Debian's python3-* packages (the list in .ci/run) so no venv is needed."
    );
  }
  const named =
    packages.size > 0 ? [...packages] : ["libpq-dev", "libldap2-dev", "libsasl2-dev", "python3-dev", "build-essential"];
  return (
    `Some of Odoo's requirements build from source and need headers and a compiler. Fix: apt-get install ${named.join(" ")}\n` +
    "and run again — or install Debian's python3-* packages (the list in .ci/run) so no venv is needed."
  );
}

// --------------------------------------------------------------- PostgreSQL

export interface PrivatePostgres {
  dataDir: string;
  socketDir: string;
  port: number;
  /** PGHOST/PGPORT/PGUSER (and PATH with its bin folder, XDG_DATA_HOME for Odoo's filestore). */
  env: Record<string, string>;
  /** Whether this run started it (false: it was left running by an earlier one and is reused). */
  started: boolean;
  stop(): Promise<void>;
}

/** The folder holding initdb and pg_ctl: PATH first, then the newest <lib>/<version>/bin. */
export function findPostgresBin(env: NodeJS.ProcessEnv, lib = "/usr/lib/postgresql"): string | undefined {
  const hasServer = (dir: string) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"));
  for (const dir of (env.PATH ?? "").split(delimiter)) if (dir && hasServer(dir)) return dir;
  if (!existsSync(lib)) return undefined;
  const versions = readdirSync(lib)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => compareVersions(b, a));
  for (const version of versions) if (hasServer(join(lib, version, "bin"))) return join(lib, version, "bin");
  return undefined;
}

/**
 * Nothing when PostgreSQL answers as the current user; else a private
 * cluster in the cache folder (initdb once, then started, or reused when an
 * earlier run left it running). It listens on a Unix socket in the cache
 * only (no TCP), with trust authentication for the user `odoo`.
 */
export async function ensurePostgres(opts: BootstrapOptions = {}): Promise<PrivatePostgres | undefined> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? noLog;
  const reach = await postgresReachable(env);
  if (reach.ok) return undefined;
  const lib = opts.postgresqlLib ?? (env.SFB_POSTGRESQL_LIB || "/usr/lib/postgresql");
  const bin = findPostgresBin(env, lib);
  if (!bin) {
    throw new DevStackError(
      `No PostgreSQL server answers (${reach.why}), and no PostgreSQL server programs (initdb, pg_ctl) are on PATH or in ${lib}/*/bin to start a private one.\n` +
        "Fix: apt-get install postgresql (Debian/Ubuntu; dnf install postgresql-server on Fedora) and run again,\n" +
        "or point PGHOST/PGPORT/PGUSER at a server where that user may create databases.",
    );
  }
  const pgDir = join(cacheDir(env), "pg");
  const dataDir = join(pgDir, "data");
  const socketDir = join(pgDir, "run");
  if (socketDir.length + 20 > 107) {
    throw new DevStackError(
      `The private PostgreSQL's socket folder ${socketDir} is too long for a Unix socket. Fix: set SHOPFLOOR_CACHE to a shorter folder.`,
    );
  }
  const runner = await clusterRunner(pgDir, env);
  const pgEnv: Record<string, string> = {
    PGHOST: socketDir,
    PGUSER: PRIVATE_PG_USER,
    PATH: `${bin}${delimiter}${env.PATH ?? ""}`,
    // Odoo keeps each database's filestore under its data dir; this cluster's
    // databases get their own, beside it, never mixed with another cluster's.
    XDG_DATA_HOME: join(cacheDir(env), "odoo-data"),
  };
  const pgCtl = (args: string[]) => runner(join(bin, "pg_ctl"), ["-D", dataDir, ...args], env);

  if (!existsSync(join(dataDir, "PG_VERSION"))) await initCluster(bin, pgDir, dataDir, runner, env, log);
  let port: number;
  let started = false;
  const status = await pgCtl(["status"]);
  if (status.code === 0) {
    port = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[3]);
    log(`reusing the private PostgreSQL left running on port ${port} (socket in ${socketDir}, data in ${dataDir})`);
  } else {
    port = await freePort();
    log(`starting private PostgreSQL on port ${port} (socket in ${socketDir}, data in ${dataDir}; no TCP)…`);
    const start = await pgCtl([
      "-l",
      join(pgDir, "postgres.log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${port} -k '${socketDir}' -c listen_addresses=''`,
      "start",
    ]);
    if (start.code !== 0) {
      throw new DevStackError(
        `The private PostgreSQL did not start (pg_ctl exited ${start.code}):\n${lastLines(start.output, 5)}\n` +
          `${lastLines(readIfExists(join(pgDir, "postgres.log")), 8)}\nSee ${join(pgDir, "postgres.log")}.`,
      );
    }
    started = true;
  }
  pgEnv.PGPORT = String(port);
  const check = await postgresReachable({ ...env, ...pgEnv });
  if (!check.ok) {
    throw new DevStackError(`The private PostgreSQL in ${dataDir} runs but does not answer psql (${check.why}).`);
  }
  log(`PostgreSQL for Odoo: private cluster, PGHOST=${socketDir} PGPORT=${port} PGUSER=${PRIVATE_PG_USER}`);
  return {
    dataDir,
    socketDir,
    port,
    env: pgEnv,
    started,
    stop: async () => {
      const stop = await pgCtl(["-m", "fast", "-w", "stop"]);
      if (stop.code === 0)
        log(`private PostgreSQL stopped (its databases stay in ${dataDir}; the next run starts it again)`);
      else log(`private PostgreSQL did not stop cleanly (pg_ctl exited ${stop.code}): ${lastLines(stop.output, 3)}`);
    },
  };
}

type Runner = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; output: string }>;

/**
 * How the cluster's programs run: as this user, or — PostgreSQL refuses to
 * run as root — as the `postgres` user when this is root, with the cluster's
 * folder given to it.
 */
async function clusterRunner(pgDir: string, env: NodeJS.ProcessEnv): Promise<Runner> {
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() !== 0) return (cmd, args, runEnv) => runShown(cmd, args, runEnv, false);
  let uid: number;
  let gid: number;
  try {
    uid = Number((await execFileAsync("id", ["-u", "postgres"])).stdout.trim());
    gid = Number((await execFileAsync("id", ["-g", "postgres"])).stdout.trim());
  } catch {
    throw new DevStackError(
      "PostgreSQL does not run as root, and there is no `postgres` user to run the private cluster as.\n" +
        "Fix: run the demo as a normal user, or create one for PostgreSQL (apt-get install postgresql creates `postgres`).",
    );
  }
  chownSync(pgDir, uid, gid);
  const probe = await runShown("runuser", ["-u", "postgres", "--", "test", "-w", pgDir], env, false).catch(
    (err: Error) => ({ code: 1, output: err.message }),
  );
  if (probe.code !== 0) {
    throw new DevStackError(
      `PostgreSQL does not run as root, so the private cluster runs as the user postgres, who cannot reach ${pgDir} ` +
        "(a folder on its path is closed to other users).\n" +
        "Fix: run the demo as a normal user, or set SHOPFLOOR_CACHE to a folder other users can traverse, e.g. SHOPFLOOR_CACHE=/var/cache/shopfloor-bridge.",
    );
  }
  return (cmd, args, runEnv) => runShown("runuser", ["-u", "postgres", "--", cmd, ...args], runEnv, false);
}

async function initCluster(
  bin: string,
  pgDir: string,
  dataDir: string,
  runner: Runner,
  env: NodeJS.ProcessEnv,
  log: (msg: string) => void,
): Promise<void> {
  const who = process.getuid?.() === 0 ? " as the user postgres (PostgreSQL does not run as root)" : "";
  log(`creating a private PostgreSQL cluster in ${dataDir}${who}…`);
  removeStalePartials(pgDir, "data.partial-");
  const partial = join(pgDir, `data.partial-${process.pid}`);
  const init = await runner(
    join(bin, "initdb"),
    ["-D", partial, "-U", PRIVATE_PG_USER, "--auth=trust", "--encoding=UTF8", "--locale=C"],
    env,
  );
  if (init.code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new DevStackError(`initdb failed (exit ${init.code}):\n${lastLines(init.output, 8)}`);
  }
  renameSync(partial, dataDir);
  // The socket folder: only the cluster's user (and root) may connect through it.
  const made = await runner("mkdir", ["-p", "-m", "700", join(pgDir, "run")], env);
  if (made.code !== 0) throw new DevStackError(`could not create ${join(pgDir, "run")}: ${made.output}`);
}

// ------------------------------------------------------------------ helpers

/**
 * Runs a program, keeping the tail of its output for error messages and, when
 * `show`, copying it to stderr as it comes (git's and pip's progress).
 */
function runShown(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  show: boolean,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (chunk: Buffer) => {
      if (show) process.stderr.write(chunk);
      output = (output + chunk.toString()).slice(-64_000);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/** The last lines of a program's output, progress redraws (\r) reduced to their final state. */
export function lastLines(text: string, count: number): string {
  return text
    .split("\n")
    .map((line) => line.split("\r").filter(Boolean).pop() ?? "")
    .filter((line) => line.trim())
    .slice(-count)
    .map((line) => `  ${line}`)
    .join("\n");
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}
