// `npm run demo` from a machine without the Odoo tree or a PostgreSQL it can
// use: the bootstrap clones Odoo from a git URL (here a local mirror of the
// tree in Odoo's upstream layout), starts a private cluster in the cache
// folder, and a real Odoo comes up on it. And when it cannot proceed, it says
// why and what to install, leaving nothing half-made.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrap, decidePython, ensureOdooTree, ensurePostgres } from "../../sidecar/devstack/bootstrap.ts";
import {
  addonDir,
  odooTree,
  PYTHON,
  postgresReachable,
  repoRoot,
  runOdooBin,
  startOdoo,
} from "../../sidecar/devstack/odoo.ts";
import { odooMirror } from "./odoo-mirror.ts";

const execFileAsync = promisify(execFile);

// Temp folders under /tmp, open to other users: as root the private cluster
// runs as `postgres`, which must reach its folder.
function tempCache(label: string): string {
  const dir = mkdtempSync(`/tmp/sfb-${label}-`);
  chmodSync(dir, 0o755);
  return dir;
}

/** This process's environment without anything that names an Odoo tree, a Python or a server. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ODOO_SRC;
  delete env.ODOO_PYTHON;
  delete env.ODOO_GIT_URL;
  return { ...env, ...extra };
}

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("demo bootstrap: from a clone URL to Odoo on a private PostgreSQL", () => {
  let mirror: string;
  beforeAll(async () => {
    mirror = await odooMirror((msg) => console.log(msg));
  }, 300_000);

  it("clones Odoo 18.0, starts a private cluster, Odoo creates its database there and answers /web/login; a second run reuses both", async () => {
    const cache = tempCache("boot");
    temps.push(cache);
    const nowhere = join(cache, "nothing-here");
    // PGHOST names a folder with no server: the system cluster is out of reach.
    const env = bareEnv({ SHOPFLOOR_CACHE: cache, ODOO_GIT_URL: `file://${mirror}`, PGHOST: nowhere, PGPORT: "5999" });
    expect((await postgresReachable(env)).ok).toBe(false);
    const messages: string[] = [];
    const machine = await bootstrap({ env, defaultSrc: nowhere, progress: false, log: (m) => messages.push(m) });

    const src = join(cache, "odoo-18.0");
    expect(machine.tree.src).toBe(src);
    expect(machine.tree.addonsPath.split(",")).toEqual([join(src, "odoo/addons"), join(src, "addons"), addonDir]);
    expect(machine.tree.python).toBe(PYTHON);
    expect(readdirSync(cache).filter((name) => name.includes("partial"))).toEqual([]);
    expect(machine.postgres?.started).toBe(true);
    expect(machine.env.PGHOST).toBe(join(cache, "pg/run"));
    expect(messages.join("\n")).toContain(`fetching Odoo 18.0 from file://${mirror}`);
    expect(messages.join("\n")).toMatch(/starting private PostgreSQL on port \d+/);

    const privateEnv = { ...env, ...machine.env };
    const db = "sfb_bootstrap_demo";
    const saved = Object.fromEntries(Object.keys(machine.env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, machine.env);
    try {
      const init = await runOdooBin(
        machine.tree,
        ["-d", db, "-i", "base", "--without-demo=all", "--stop-after-init", "--max-cron-threads=0", "--http-port=0"],
        join(repoRoot, "artifacts/logs/bootstrap-demo-init.log"),
      );
      expect(init.code, init.log.slice(-2000)).toBe(0);
      const odoo = await startOdoo({ db, fromTemplate: false });
      try {
        const login = await fetch(`${odoo.url}/web/login`);
        expect(login.status).toBe(200);
        expect(await login.text()).toContain('name="login"');
      } finally {
        await odoo.stop();
      }
      // The database is in the private cluster, and its filestore beside it.
      const { stdout } = await execFileAsync(
        "psql",
        ["-d", "postgres", "-Atc", `select count(*) from pg_database where datname='${db}'`],
        { env: privateEnv },
      );
      expect(stdout.trim()).toBe("1");
      expect(existsSync(join(cache, "odoo-data/Odoo/filestore", db))).toBe(true);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await machine.stop();
    }
    expect((await postgresReachable(privateEnv)).ok).toBe(false);
    expect(messages.join("\n")).toContain("private PostgreSQL stopped");

    // The next run fetches nothing and starts the same cluster, database included.
    const again: string[] = [];
    const second = await bootstrap({ env, defaultSrc: nowhere, progress: false, log: (m) => again.push(m) });
    try {
      expect(again.join("\n")).not.toContain("fetching");
      expect(again.join("\n")).toContain("fetched by an earlier run");
      expect(again.join("\n")).not.toContain("creating a private PostgreSQL cluster");
      const { stdout } = await execFileAsync(
        "psql",
        ["-d", "postgres", "-Atc", `select count(*) from pg_database where datname='${db}'`],
        { env: { ...env, ...second.env } },
      );
      expect(stdout.trim()).toBe("1");
    } finally {
      await second.stop();
    }
  }, 600_000);
});

describe("demo bootstrap: clear refusals", () => {
  it("an unreachable clone URL: names it and both ways out, and keeps nothing", async () => {
    const cache = tempCache("noclone");
    temps.push(cache);
    const env = bareEnv({ SHOPFLOOR_CACHE: cache, ODOO_GIT_URL: "file:///nonexistent/odoo.git" });
    const error = await ensureOdooTree({ env, defaultSrc: join(cache, "none"), progress: false }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain("Could not fetch Odoo 18.0 from file:///nonexistent/odoo.git");
    expect(error.message).toContain("ODOO_SRC=");
    expect(error.message).toContain("ODOO_GIT_URL=");
    expect(readdirSync(cache)).toEqual([]);
  });

  it("a repository whose branch 18.0 is not Odoo: refused, nothing kept", async () => {
    const cache = tempCache("notodoo");
    temps.push(cache);
    const repo = join(cache, "repo");
    mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileAsync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], { cwd: repo });
    await git("init", "-q", "-b", "18.0");
    await git("commit", "-q", "--allow-empty", "-m", "not odoo");
    const env = bareEnv({ SHOPFLOOR_CACHE: join(cache, "cache"), ODOO_GIT_URL: `file://${repo}` });
    const error = await ensureOdooTree({ env, defaultSrc: join(cache, "none"), progress: false }).catch((e) => e);
    expect(error.message).toContain(`The branch 18.0 of file://${repo} is not an Odoo tree`);
    expect(readdirSync(join(cache, "cache"))).toEqual([]);
  });

  it("an ODOO_SRC that holds no tree is reported, never fetched over", async () => {
    const cache = tempCache("src");
    temps.push(cache);
    const env = { ...bareEnv({ SHOPFLOOR_CACHE: cache }), ODOO_SRC: join(cache, "odoo") };
    const error = await ensureOdooTree({ env, progress: false }).catch((e) => e);
    expect(error.message).toContain(`No Odoo 18 source tree at ${join(cache, "odoo")}`);
    expect(readdirSync(cache)).toEqual([]);
  });

  it("no PostgreSQL answering and no server programs: names the package to install", async () => {
    const cache = tempCache("nopg");
    temps.push(cache);
    const emptyBin = join(cache, "bin");
    mkdirSync(emptyBin);
    const env = bareEnv({ SHOPFLOOR_CACHE: cache, PATH: emptyBin, PGHOST: join(cache, "nowhere") });
    const error = await ensurePostgres({ env, postgresqlLib: join(cache, "no-lib") }).catch((e) => e);
    expect(error.message).toContain("psql is not installed");
    expect(error.message).toContain("no PostgreSQL server programs (initdb, pg_ctl)");
    expect(error.message).toContain("apt-get install postgresql");
    expect(existsSync(join(cache, "pg"))).toBe(false);
  });

  it("as root, a cache folder the postgres user cannot reach: says so and how to choose another", async () => {
    const cache = mkdtempSync("/tmp/sfb-closed-"); // 0700: closed to other users
    temps.push(cache);
    const env = bareEnv({ SHOPFLOOR_CACHE: cache, PGHOST: join(cache, "nowhere") });
    const attempt = ensurePostgres({ env });
    if (process.getuid?.() === 0) {
      const error = await attempt.catch((e) => e);
      expect(error.message).toContain(`the user postgres, who cannot reach ${join(cache, "pg")}`);
      expect(error.message).toContain("SHOPFLOOR_CACHE=");
    } else {
      // Not root: the cluster runs as this user, in its own folder.
      const cluster = await attempt;
      expect(cluster?.started).toBe(true);
      await cluster?.stop();
    }
  });

  it("the system Python is used when it imports Odoo's requirements; one that lacks them gets the cache's venv", async () => {
    const cache = tempCache("py");
    temps.push(cache);
    const src = odooTree().src;
    const system = await decidePython(src, bareEnv({ SHOPFLOOR_CACHE: cache }));
    expect(system).toMatchObject({ python: PYTHON, missing: [] });

    // A Python with nothing installed: a venv of the system one, without its packages.
    const bare = join(cache, "bare");
    await execFileAsync(PYTHON, ["-m", "venv", "--without-pip", bare]);
    const lacking = await decidePython(src, bareEnv({ SHOPFLOOR_CACHE: cache, ODOO_PYTHON: join(bare, "bin/python") }));
    expect(lacking.python).toBeUndefined();
    expect(lacking.missing).toEqual(expect.arrayContaining(["odoo.cli", "psycopg2", "lxml", "werkzeug", "jsonschema"]));
    expect(lacking.venv).toBe(join(cache, "venv-odoo-18.0"));
  });
});
