// SQL polling source: every `interval_ms` the connection's query runs with
// `:last` bound to the watermark, and each row it returns becomes a payload
// of transport `sql` for the payload mappings (as a CSV row does).
//
// The watermark is committed in the same spool transaction as the events of
// the rows it covers (the `state` of SourceSink.accept): a restart goes on
// from the last commit, so nothing is taken twice and nothing skipped.
//
// Equal timestamps at the boundary: the query compares with `>=`, so rows at
// exactly the watermark come back on the next poll — those inserted after
// the previous poll too, which `>` would lose (a historian writes several
// tags with one timestamp, and a page of rows may end in the middle of
// them). Beside the watermark the state keeps how many times each row
// content (a hash of the whole row) was taken at that timestamp; a row at
// the watermark is skipped as many times as it was taken, so a repeat is
// never taken twice and a new row with the same timestamp is never lost.
import { createHash } from "node:crypto";
import { type BackoffPolicy, backoffDelay } from "../../core/backoff.ts";
import type { SidecarConfig, SqlConfig } from "../../core/contract.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { connectSql, placeholderCount, type SqlConnection, type SqlRow, type SqlValue } from "./drivers.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

/** Rows per spool commit; the watermark committed with each chunk covers its rows. */
export const DEFAULT_CHUNK_ROWS = 500;
const DEFAULT_TIMEOUT_MS = 30_000;

export class SqlConfigError extends Error {
  override name = "SqlConfigError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export interface SqlSourceOptions {
  connection: string;
  sql: SqlConfig;
  log?: SourceLog;
  chunkRows?: number;
  timeoutMs?: number;
  reconnect?: BackoffPolicy;
  now?: () => number;
}

/** The watermark and the row contents already taken at exactly that value (hash → times taken). */
export interface Watermark {
  value: string;
  taken: Record<string, number>;
}

export function sqlOptionsFromConfig(config: SidecarConfig, log?: SourceLog): SqlSourceOptions {
  if (!config.sql) throw new SqlConfigError("sql_query", "connection has no sql block (an older Odoo?)");
  return { connection: config.code, sql: config.sql, log };
}

const NUMBER = /^-?\d+(?:\.\d+)?$/;

/**
 * Order of two watermark values: numerically when both are numbers (an
 * identity column, a BIGINT as text), else as text — timestamps as the
 * server writes them (`2026-01-05 08:00:00.25`) sort as text.
 */
export function compareWatermark(a: string, b: string): number {
  if (NUMBER.test(a) && NUMBER.test(b)) {
    if (!a.includes(".") && !b.includes(".")) {
      const x = BigInt(a);
      const y = BigInt(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return Math.sign(Number(a) - Number(b));
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable text of a row: keys sorted, so the hash does not depend on the driver's column order. */
export function rowHash(row: SqlRow): string {
  const keys = Object.keys(row).sort();
  return createHash("sha256")
    .update(JSON.stringify(keys.map((key) => [key, row[key]])))
    .digest("hex")
    .slice(0, 32);
}

/** Checks of the query that need no server. */
export function queryProblem(sql: SqlConfig): string | undefined {
  const query = sql.query.trim();
  if (!/^(select|with)\b/i.test(query)) return "the query must be a SELECT (or WITH … SELECT)";
  if (placeholderCount(query) === 0) return "the query has no :last (where the watermark goes)";
  if (!sql.watermark_column) return "no watermark column";
  return undefined;
}

export class SqlSource implements Source {
  readonly name = "sql";
  readonly #opts: SqlSourceOptions;
  readonly #log: SourceLog;
  #sink: SourceSink | undefined;
  #db: SqlConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> = Promise.resolve();
  #stopped = false;
  #failures = 0;
  #lastError: string | undefined;
  #lastErrorKind: string | undefined;
  #watermark!: Watermark;
  readonly #warned = new Set<string>();
  readonly #counts = {
    polls: 0,
    rows: 0,
    rows_skipped_taken: 0,
    rows_before_watermark: 0,
    poll_failures: 0,
  };

  constructor(opts: SqlSourceOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? (() => {});
  }

  get stateKey(): string {
    return `sql/${this.#opts.connection}/watermark`;
  }

  get connected(): boolean {
    return this.#db !== undefined && this.#lastError === undefined;
  }

  /** The watermark in force (committed, or the initial one). */
  get watermark(): Watermark {
    return structuredClone(this.#watermark);
  }

  async start(sink: SourceSink): Promise<void> {
    const problem = queryProblem(this.#opts.sql);
    if (problem) throw new SqlConfigError("sql_query", problem);
    const state = await sink.loadState(this.stateKey);
    const saved = state[this.stateKey] as Watermark | undefined;
    this.#watermark = saved ?? { value: this.#opts.sql.initial_watermark, taken: {} };
    this.#sink = sink;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.#db?.close().catch(() => {});
    this.#db = undefined;
  }

  /** Stops without waiting for the commit under way (a process that dies): what it did not commit is polled again. */
  async abort(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#db?.close().catch(() => {});
    this.#db = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.#counts, connected: this.connected ? 1 : 0 };
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.poll().then(
        () => {
          this.#failures = 0;
          this.#schedule(this.#opts.sql.interval_ms);
        },
        (err: Error) => {
          this.#failures++;
          this.#counts.poll_failures++;
          const message = `query failed: ${err.message}`;
          // Logged once per kind of failure (the driver's code; MariaDB's messages name the connection number).
          const kind = String((err as { code?: unknown }).code ?? message);
          if (kind !== this.#lastErrorKind) this.#log("error", message, { driver: this.#opts.sql.driver });
          this.#lastError = message;
          this.#lastErrorKind = kind;
          void this.#db?.close().catch(() => {});
          this.#db = undefined;
          const policy = this.#opts.reconnect ?? { baseMs: 1_000, maxMs: 60_000 };
          this.#schedule(Math.max(this.#opts.sql.interval_ms, backoffDelay(this.#failures, policy)));
        },
      );
    }, delay);
  }

  /** One run of the query; its rows committed with the watermark they move. Tests call it directly. */
  async poll(): Promise<void> {
    const sql = this.#opts.sql;
    if (!this.#db) {
      this.#db = await connectSql(sql, this.#opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    }
    const start = this.#watermark;
    const rows = await this.#db.query(sql.query, start.value);
    if (this.#lastError) this.#log("info", "query runs again");
    this.#lastError = undefined;
    this.#lastErrorKind = undefined;
    this.#counts.polls++;
    const column = columnOf(rows[0], sql.watermark_column);
    let mark: Watermark = structuredClone(start);
    /** Times each content at the starting watermark is still to be skipped (taken by an earlier poll). */
    const toSkip = { ...start.taken };
    const receivedAt = new Date((this.#opts.now ?? Date.now)());
    let chunk: Intake[] = [];
    const chunkRows = this.#opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
    for (const row of rows) {
      if (this.#stopped) return;
      const value = watermarkText(row[column]);
      if (value === undefined) {
        this.#warnOnce(
          `column/${column}`,
          `the query's rows have no column ${JSON.stringify(column)} (the watermark column), or it is NULL: ` +
            `columns are ${Object.keys(row).join(", ")}`,
        );
        throw new Error(`row without the watermark column ${column}`);
      }
      const order = compareWatermark(value, start.value);
      if (order < 0) {
        // The query returned a row below :last — it does not filter on it.
        this.#counts.rows_before_watermark++;
        this.#warnOnce("below", `the query returned rows below the watermark: does it filter with ${column} >= :last?`);
        continue;
      }
      const hash = rowHash(row);
      if (order === 0 && (toSkip[hash] ?? 0) > 0) {
        toSkip[hash] = (toSkip[hash] as number) - 1;
        this.#counts.rows_skipped_taken++;
        continue;
      }
      const step = compareWatermark(value, mark.value);
      if (step > 0) mark = { value, taken: {} };
      else if (step < 0) {
        this.#warnOnce("order", `the query's rows are not in ${column} order: add ORDER BY ${column}`);
      }
      const occurrence = step < 0 ? 0 : (mark.taken[hash] ?? 0);
      if (step >= 0) mark.taken[hash] = occurrence + 1;
      this.#counts.rows++;
      chunk.push({
        kind: "raw",
        payload: Buffer.from(JSON.stringify({ row, occurrence })),
        origin: "query",
        receivedAt,
        via: { transport: "sql", headers: { watermark: value }, at: `query row ${column} = ${value}` },
      });
      if (chunk.length >= chunkRows) {
        await this.#commit(chunk, mark);
        chunk = [];
      }
    }
    if (chunk.length > 0 || compareWatermark(mark.value, start.value) !== 0) await this.#commit(chunk, mark);
  }

  async #commit(items: Intake[], mark: Watermark): Promise<void> {
    const saved = structuredClone(mark);
    await this.#sink?.accept(items, { [this.stateKey]: saved });
    this.#watermark = saved;
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log("warn", message);
  }
}

/**
 * The watermark column as the rows name it: exactly, else the one column of that name in another case
 * (PostgreSQL folds unquoted names to lower case: `DateTime` comes back as `datetime`).
 */
export function columnOf(row: SqlRow | undefined, wanted: string): string {
  if (!row || Object.hasOwn(row, wanted)) return wanted;
  const matches = Object.keys(row).filter((key) => key.toLowerCase() === wanted.toLowerCase());
  return matches.length === 1 ? (matches[0] as string) : wanted;
}

function watermarkText(value: SqlValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}
