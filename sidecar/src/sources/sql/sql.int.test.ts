// The SQL source against real servers: PostgreSQL 15 (the machine's cluster,
// a database made for this run) and MariaDB 10.11 (a private mariadbd).
import { execFileSync } from "node:child_process";
import { userInfo } from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type MariaDbServer, startMariaDb } from "../../../devstack/mariadb.ts";
import { intakeText, RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { SqlConfig } from "../../core/contract.ts";
import type { Intake, SourceSink } from "../../core/ports.ts";
import { SqlConfigError, SqlSource, type SqlSourceOptions } from "./source.ts";

interface Backend {
  name: "postgresql" | "mariadb";
  config: () => Omit<SqlConfig, "query" | "watermark_column" | "initial_watermark" | "interval_ms">;
  /** Runs statements on the test database. */
  exec: (sql: string) => Promise<void>;
  /** Column type of a timestamp to the microsecond. */
  timestamp: string;
  stopServer?: () => Promise<void>;
  startServer?: () => Promise<void>;
}

const pgDatabase = `sfb_hist_${process.pid}`;
let maria: MariaDbServer;

const backends: Backend[] = [
  {
    name: "postgresql",
    config: () => ({
      driver: "postgresql",
      host: "/var/run/postgresql",
      port: 5432,
      database: pgDatabase,
      username: userInfo().username,
      password: "",
    }),
    exec: async (sql) => {
      execFileSync("psql", ["-d", pgDatabase, "-v", "ON_ERROR_STOP=1", "-qc", sql]);
    },
    timestamp: "timestamp(6)",
  },
  {
    name: "mariadb",
    config: () => ({
      driver: "mariadb",
      host: maria.host,
      port: maria.port,
      database: maria.database,
      username: maria.user,
      password: maria.password,
    }),
    exec: async (sql) => {
      await maria.sql(`USE ${maria.database}; ${sql}`);
    },
    timestamp: "datetime(6)",
    stopServer: () => maria.stop(),
    startServer: () => maria.start(),
  },
];

beforeAll(async () => {
  execFileSync("createdb", [pgDatabase]);
  maria = await startMariaDb();
}, 120_000);
afterAll(async () => {
  execFileSync("dropdb", ["--if-exists", "--force", pgDatabase]);
  await maria?.destroy();
});

let tableSeq = 0;

describe.each(backends)("SqlSource on $name", (backend) => {
  async function freshTable(): Promise<string> {
    const table = `history_${++tableSeq}`;
    await backend.exec(
      `CREATE TABLE ${table} (DateTime ${backend.timestamp} NOT NULL, TagName varchar(256) NOT NULL, Value double precision)`,
    );
    return table;
  }

  function source(table: string, overrides: Partial<SqlSourceOptions> = {}, sql: Partial<SqlConfig> = {}): SqlSource {
    return new SqlSource({
      connection: "HIST",
      sql: {
        ...backend.config(),
        query: `SELECT DateTime, TagName, Value FROM ${table} WHERE DateTime >= :last ORDER BY DateTime`,
        watermark_column: "DateTime", // PostgreSQL returns it as datetime: found in another case
        initial_watermark: "1970-01-01 00:00:00",
        interval_ms: 100,
        ...sql,
      },
      reconnect: { baseMs: 50, maxMs: 200 },
      ...overrides,
    });
  }

  /** Start, one poll at least, stop: a sidecar run that takes what is there. */
  async function runOnce(src: SqlSource, sink: SourceSink): Promise<void> {
    await src.start(sink);
    try {
      await expect
        .poll(() => (src.stats().polls ?? 0) + (src.stats().poll_failures ?? 0), { timeout: 10_000 })
        .toBeGreaterThan(0);
    } finally {
      await src.stop();
    }
  }

  const rowsOf = (items: Intake[]) =>
    items.map((item) => JSON.parse(intakeText(item)) as { row: Record<string, unknown>; occurrence: number });
  const insert = (table: string, rows: [string, string, number][]) =>
    backend.exec(
      `INSERT INTO ${table} (DateTime, TagName, Value) VALUES ${rows.map(([t, tag, v]) => `('${t}', '${tag}', ${v})`).join(", ")}`,
    );

  const contractTable = `history_contract_${backend.name}`;
  beforeAll(async () => {
    await backend.exec(
      `CREATE TABLE ${contractTable} (DateTime ${backend.timestamp} NOT NULL, TagName varchar(256) NOT NULL, Value double precision)`,
    );
  });
  // Rows of earlier contract cases stay below each new source's starting watermark (the time it was made).
  let contractClock = 0;
  const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  let contractStart = stamp(Date.now());
  beforeEach(() => {
    contractStart = stamp(Date.now());
  });
  sourceContract(
    `SqlSource (${backend.name})`,
    async () => source(contractTable, {}, { initial_watermark: contractStart }),
    async (marker) => {
      contractClock++;
      await insert(contractTable, [
        [`${stamp(Date.now())}${String(contractClock % 1000).padStart(3, "0")}`, marker, 1],
      ]);
    },
    { redeliversUncommitted: true },
  );

  it("takes each row once, and a restart goes on from the committed watermark", async () => {
    const table = await freshTable();
    await insert(table, [
      ["2026-01-05 08:00:00", "Press01.Good", 1],
      ["2026-01-05 08:00:01", "Press01.Good", 2],
      ["2026-01-05 08:00:02", "Press01.Good", 3],
    ]);
    const sink = new RecordingSink();
    const first = source(table);
    await runOnce(first, sink);
    expect(rowsOf(sink.committed).map((r) => r.row.Value ?? r.row.value)).toEqual([1, 2, 3]);
    const again = source(table);
    await runOnce(again, sink);
    expect(sink.committed).toHaveLength(3);
    await insert(table, [["2026-01-05 08:00:03", "Press01.Good", 4]]);
    const third = source(table);
    await runOnce(third, sink);
    expect(rowsOf(sink.committed).map((r) => r.row.Value ?? r.row.value)).toEqual([1, 2, 3, 4]);
    expect(third.watermark.value).toMatch(/^2026-01-05 08:00:03/);
  });

  it("rows with the watermark's timestamp inserted later are taken; repeats of taken rows are not", async () => {
    const table = await freshTable();
    const t = "2026-01-05 09:00:00.000001";
    await insert(table, [
      [t, "A", 1],
      [t, "B", 1],
    ]);
    const sink = new RecordingSink();
    const src = source(table);
    await runOnce(src, sink);
    expect(sink.committed).toHaveLength(2);
    // Late rows at the same microsecond: a new tag, and a second row identical to A (a real repeat).
    await insert(table, [
      [t, "C", 1],
      [t, "A", 1],
    ]);
    await runOnce(source(table), sink);
    const rows = rowsOf(sink.committed);
    expect(rows.map((r) => `${r.row.TagName ?? r.row.tagname}#${r.occurrence}`).sort()).toEqual([
      "A#0",
      "A#1",
      "B#0",
      "C#0",
    ]);
    // A third run, nothing new: nothing taken.
    await runOnce(source(table), sink);
    expect(sink.committed).toHaveLength(4);
  });

  it("microseconds are kept: two rows a microsecond apart are two watermarks, none taken twice", async () => {
    const table = await freshTable();
    await insert(table, [
      ["2026-01-05 10:00:00.000001", "T", 1],
      ["2026-01-05 10:00:00.000002", "T", 2],
    ]);
    const sink = new RecordingSink();
    const src = source(table);
    await runOnce(src, sink);
    expect(src.watermark.value).toBe("2026-01-05 10:00:00.000002");
    expect(src.watermark.taken).toEqual({ [Object.keys(src.watermark.taken)[0] as string]: 1 });
    await runOnce(source(table), sink);
    expect(sink.committed).toHaveLength(2);
  });

  it("a crash after a chunk's commit resumes after that chunk, mid-timestamp", async () => {
    const table = await freshTable();
    const t = "2026-01-05 11:00:00";
    await insert(table, [
      [t, "A", 1],
      [t, "B", 2],
      [t, "C", 3],
      ["2026-01-05 11:00:01", "D", 4],
    ]);
    const sink = new RecordingSink();
    let accepts = 0;
    const failing = {
      accept: async (items: Intake[], state?: Record<string, unknown>) => {
        if (++accepts > 1) throw new Error("spool gone");
        return sink.accept(items, state);
      },
      loadState: (prefix: string) => sink.loadState(prefix),
    };
    const first = source(table, { chunkRows: 2 });
    await first.start(failing);
    await expect.poll(() => first.stats().poll_failures, { timeout: 5_000 }).toBeGreaterThan(0);
    await first.stop();
    expect(sink.committed).toHaveLength(2);
    await runOnce(source(table, { chunkRows: 2 }), sink);
    expect(rowsOf(sink.committed).map((r) => r.row.TagName ?? r.row.tagname)).toEqual(["A", "B", "C", "D"]);
  });

  it("a query without :last is refused at start with the field to fix", async () => {
    const src = source("nowhere", {}, { query: "SELECT 1" });
    await expect(src.start(new RecordingSink())).rejects.toThrow(SqlConfigError);
  });

  it("a query that fails is counted and logged, and polled again with backoff", async () => {
    const logs: string[] = [];
    const src = source("no_such_table", { log: (_level, message) => logs.push(message) });
    await src.start(new RecordingSink());
    await expect.poll(() => src.stats().poll_failures, { timeout: 5_000 }).toBeGreaterThan(1);
    await src.stop();
    expect(src.connected).toBe(false);
    expect(logs.filter((m) => m.startsWith("query failed"))).toHaveLength(1);
  });

  if (backend.stopServer && backend.startServer) {
    it("a server restart: the source reconnects and loses nothing", async () => {
      const table = await freshTable();
      const sink = new RecordingSink();
      const src = source(table);
      await src.start(sink);
      try {
        await insert(table, [["2026-01-05 12:00:00", "A", 1]]);
        await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(1);
        await backend.stopServer?.();
        await expect.poll(() => src.stats().poll_failures, { timeout: 10_000 }).toBeGreaterThan(0);
        await backend.startServer?.();
        await insert(table, [["2026-01-05 12:00:01", "B", 2]]);
        await expect.poll(() => sink.committed.length, { timeout: 15_000 }).toBe(2);
        expect(src.connected).toBe(true);
      } finally {
        await src.stop();
      }
    });
  }
});
