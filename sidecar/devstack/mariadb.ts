// Runs a private MariaDB server (Debian's mariadb-server) on loopback for
// tests and benchmarks: a free port, its own data directory made by
// mariadb-install-db, a unix socket in that directory, no networking beyond
// 127.0.0.1. A `shopfloor` user with a password owns one database. It can be
// stopped and started again on the same port and data (a restart test).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitForPort } from "./mosquitto.ts";
import { DevStackError, freePort } from "./odoo.ts";

export const MARIADBD_BIN = "/usr/sbin/mariadbd";
export const MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db";
const run = promisify(execFile);

export interface MariaDbServer {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  dir: string;
  /** Runs SQL as root through the socket (the `mariadb` client). */
  sql(statements: string): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startMariaDb(opts: { database?: string } = {}): Promise<MariaDbServer> {
  if (!existsSync(MARIADBD_BIN) || !existsSync(MARIADB_INSTALL_DB)) {
    throw new DevStackError(`${MARIADBD_BIN} is missing. Fix: apt-get install -y mariadb-server`);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sfb-mariadb-"));
  const datadir = join(dir, "data");
  const socket = join(dir, "mariadb.sock");
  const database = opts.database ?? "historian";
  const user = "shopfloor";
  const password = "sfb-test-password";
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  await run(MARIADB_INSTALL_DB, [
    `--datadir=${datadir}`,
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    ...asRoot,
  ]);
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      MARIADBD_BIN,
      [
        "--no-defaults",
        `--datadir=${datadir}`,
        `--socket=${socket}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--pid-file=${join(dir, "mariadb.pid")}`,
        `--log-error=${join(dir, "mariadb.err")}`,
        "--innodb-buffer-pool-size=16M",
        "--skip-name-resolve",
        ...asRoot,
      ],
      { stdio: "ignore" },
    );
    const proc = child;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new DevStackError(`mariadbd exited with ${code}; see ${dir}/mariadb.err`))),
    );
    await Promise.race([waitForPort(port, 30_000), exited]);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    await gone;
  };
  const sql = async (statements: string) => {
    const { stdout } = await run("mariadb", [`--socket=${socket}`, "-uroot", "-N", "-e", statements]);
    return stdout;
  };
  await start();
  await sql(
    `CREATE DATABASE ${database}; CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'; ` +
      `GRANT ALL ON ${database}.* TO '${user}'@'127.0.0.1';`,
  );
  return {
    host: "127.0.0.1",
    port,
    database,
    user,
    password,
    dir,
    sql,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
