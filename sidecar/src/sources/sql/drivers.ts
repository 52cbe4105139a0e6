// The databases the SQL source polls, behind one small interface: connect,
// run the configured query with the watermark bound, close. Rows come back
// with JSON-safe values and timestamps as the server writes them (text, to
// the microsecond): a watermark that went through a JavaScript Date would
// lose the microseconds and take a boundary row twice or never.
//
// PostgreSQL (`pg`) and MariaDB / MySQL (`mariadb`, the MariaDB Foundation's
// connector) are tested against real servers. SQL Server (where the AVEVA
// Historian keeps its Runtime database) is not supported yet: no server can
// run in the test environment, and no driver ships untested (README.md).
import type { SqlConfig, SqlDriver } from "../../core/contract.ts";

export type SqlValue = string | number | boolean | null;
export type SqlRow = Record<string, SqlValue>;

export interface SqlConnection {
  /** The query with every `:last` bound to `watermark`. */
  query(text: string, watermark: string): Promise<SqlRow[]>;
  close(): Promise<void>;
}

export const DEFAULT_PORTS: Record<SqlDriver, number> = { postgresql: 5432, mariadb: 3306 };

/** `:last` as a whole word, outside nothing in particular: the admin's query names the watermark so. */
const PLACEHOLDER = /(?<![:\w]):last\b/g;

export function placeholderCount(query: string): number {
  return [...query.matchAll(PLACEHOLDER)].length;
}

/** Any driver value as JSON can carry it: BigInt past 2^53 and decimals as text, bytes as base64, dates as ISO text. */
export function jsonSafe(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString("base64");
  return JSON.stringify(value);
}

function rowOf(raw: Record<string, unknown>): SqlRow {
  const row: SqlRow = {};
  for (const [key, value] of Object.entries(raw)) row[key] = jsonSafe(value);
  return row;
}

export async function connectSql(config: SqlConfig, timeoutMs: number): Promise<SqlConnection> {
  const port = config.port || DEFAULT_PORTS[config.driver];
  if (config.driver === "postgresql") {
    const pg = await import("pg");
    const text = (value: string) => value;
    const client = new pg.default.Client({
      host: config.host,
      port,
      database: config.database,
      user: config.username,
      password: config.password,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      // timestamp, timestamptz, date, time: as the server writes them.
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          [1114, 1184, 1082, 1083, 1266].includes(oid)
            ? text
            : pg.default.types.getTypeParser(oid, format)) as typeof pg.default.types.getTypeParser,
      },
      application_name: "shopfloor-sidecar",
    });
    client.on("error", () => {}); // a dropped connection fails the next query, which reconnects
    await client.connect();
    // One zone for timestamptz text, so watermarks compare as text.
    await client.query("SET TIME ZONE 'UTC'");
    return {
      async query(sql, watermark) {
        const result = await client.query(sql.replace(PLACEHOLDER, "$1"), [watermark]);
        return result.rows.map(rowOf);
      },
      close: () => client.end(),
    };
  }
  const mariadb = await import("mariadb");
  const connection = await mariadb.default.createConnection({
    host: config.host,
    port,
    database: config.database,
    user: config.username,
    password: config.password,
    connectTimeout: timeoutMs,
    queryTimeout: timeoutMs,
    dateStrings: true,
    bigIntAsNumber: false,
    decimalAsNumber: false,
    timezone: "+00:00",
  });
  connection.on("error", () => {}); // a dropped connection fails the next query, which reconnects
  return {
    async query(sql, watermark) {
      const params = Array.from({ length: placeholderCount(sql) }, () => watermark);
      const rows = (await connection.query(
        { sql: sql.replace(PLACEHOLDER, "?"), rowsAsArray: false },
        params,
      )) as Record<string, unknown>[];
      return Array.from(rows, rowOf);
    },
    close: () => connection.end(),
  };
}
