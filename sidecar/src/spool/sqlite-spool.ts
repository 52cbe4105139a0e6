// The spool on SQLite (node:sqlite) in WAL mode. Appends are group-committed:
// every append issued in the same turn of the event loop shares one
// transaction, so durability costs one commit per group, not per message.
//
// Durability: WAL with synchronous=NORMAL survives a killed process (the
// WAL is written before the commit returns); `synchronous: "FULL"` also
// survives power loss at the cost of one fsync per group.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { IngestItem, IngestStatus, SidecarConfig } from "../core/contract.ts";
import { parseExact } from "../core/exact-json.ts";
import { findSecrets } from "../core/secrets.ts";
import { Checkpointer, type CheckpointStats } from "./checkpointer.ts";
import { type CachedConfig, isClearFormat, openConfig, sealConfig } from "./config-cache.ts";
import {
  ACTION_FROM,
  type AppendResult,
  actionNote,
  type DeliveryOutcome,
  type MarkAttemptOptions,
  parkedByDelivery,
  type ReplayRange,
  SpaceGate,
  type Spool,
  type SpoolAction,
  SpoolActionError,
  type SpoolDepth,
  type SpoolEntry,
  type SpoolLimits,
  type SpoolLogEntry,
  type SpoolRecord,
  type SpoolStateName,
  type SpoolStats,
  spoolLimits,
} from "./spool.ts";

export interface SqliteSpoolOptions extends Partial<SpoolLimits> {
  /** Database file; ":memory:" for tests. */
  path: string;
  synchronous?: "NORMAL" | "FULL";
  /** Most records per group commit. */
  maxGroup?: number;
  /**
   * AES-256 key (32 bytes) the cached configuration's secrets are encrypted
   * with; without one they are not cached (see config-cache.ts).
   */
  secretKey?: Buffer;
  /**
   * WAL checkpoints on a thread of their own (checkpointer.ts) instead of in
   * the commit that crosses the threshold: the sidecar's spool. Off for short
   * uses (the CLI, tests), which need no thread; ignored for ":memory:".
   */
  checkpointInBackground?: boolean;
  /** How often the checkpoint thread looks for commits (ms; default CHECKPOINT_INTERVAL_MS). */
  checkpointIntervalMs?: number;
  /** Where the spool says what went wrong outside a call (its checkpoint thread failing). */
  log?: (level: "warn" | "error", message: string) => void;
}

/**
 * WAL pages between checkpoints run by the main connection: 8,192 (32 MB)
 * instead of SQLite's 1,000. Under a steady ingest the same index pages are
 * rewritten in commit after commit, and a checkpoint copies each page once
 * however often it changed, and syncs once. With the checkpoint thread the
 * main connection's checkpoint finds most frames copied and synced already:
 * it copies the rest, and lets the WAL start over.
 */
const AUTOCHECKPOINT_PAGES = 8_192;
/** How often the checkpoint thread looks for commits: under a steady ingest a round copies ~0.25 s of appends. */
const CHECKPOINT_INTERVAL_MS = 250;

/** What a running sidecar's spool adds to its options (main.ts; the benchmarks of its paths). */
export const SERVICE_SPOOL = { checkpointInBackground: true } as const satisfies Partial<SqliteSpoolOptions>;

interface PendingAppend {
  records: SpoolRecord[];
  bodies: string[];
  sizes: number[];
  bytes: number;
  state?: Record<string, unknown>;
  resolve(result: AppendResult): void;
  reject(err: Error): void;
}

interface Row {
  seq: number;
  source: string;
  event_id: string;
  workcenter: string;
  time_ms: number;
  received_at: number;
  bytes: number;
  body: string;
  state: SpoolStateName;
  attempts: number;
  last_error: string;
  status: string;
  odoo_id: number;
  delivered_at: number;
  note_reason: string;
  note_by: string;
  note_at: number;
}

interface LogRow {
  seq: number;
  source: string;
  event_id: string;
  action: SpoolAction;
  from_state: SpoolStateName;
  reason: string;
  by: string;
  at: number;
}

/** What a queued entry reads of its row (each column more is a property more to build per row). */
const QUEUED_COLUMNS =
  "seq, source, event_id, workcenter, time_ms, received_at, bytes, body, state, attempts, last_error";

/** Rows per insert statement: 64 × 8 parameters stays far below SQLite's 32,766. */
const ROWS_PER_INSERT = 64;

/** `pragma user_version` of the schema below; 0 is a spool made before versions were kept. */
const SCHEMA_VERSION = 4;

/** See SCHEMA. */
const STATE_CHECK = "check (state = 'queued' or state = 'delivered' or state = 'parked' or state = 'skipped')";

// Duplicates are found on (key_ms, source, event_id), key_ms being the
// event's own time (as sent, before any skew correction; 0 for rejected
// input, whose id is a hash of its bytes). A resend or a redelivery carries
// the same time, so it is found; and since events arrive roughly in time
// order, new keys land at the end of the index, as new seqs do. Keyed on
// (source, event_id) alone, random ids (UUIDs, the usual CloudEvents id)
// put each new key on a random page of a large index:
// every commit rewrote about one index page per event to the WAL and the
// inserts ran 4–6× slower. An event resent with the same id but a different
// time is spooled again and reaches Odoo, which keeps it once (Odoo's own
// (source, id) check) and reports it as a duplicate.
const SCHEMA = `
create table if not exists events (
  seq integer primary key,
  source text not null,
  event_id text not null,
  key_ms integer not null,
  workcenter text not null,
  time_ms integer not null,
  received_at integer not null,
  bytes integer not null,
  body text not null,
  state text not null ${STATE_CHECK},
  attempts integer not null default 0,
  last_error text not null default '',
  status text not null default '',
  odoo_id integer not null default 0,
  delivered_at integer not null default 0,
  note_reason text not null default '',
  note_by text not null default '',
  note_at integer not null default 0,
  unique (key_ms, source, event_id)
);
-- No index on state: the queued rows are found by scanning from the lowest
-- queued seq, which the spool keeps in memory (SqliteSpool#queuedFloor).
-- The (state, seq) index cost ~0.7 µs of every insert and a move of its
-- entry on every delivery.
-- No index on time_ms: it cost a fifth of every insert, for replays only. A
-- replay pages through the table in seq order filtering on time_ms — one
-- pass over the rows after the first match — where the index made SQLite
-- sort every match again for each page.
create index if not exists events_delivered_at on events (delivered_at) where state = 'delivered';
-- The state check is a chain of ORs: written as \`state in (...)\` of four
-- values, SQLite tests it through a temporary index for every row written
-- (two values it compares directly), which slowed every insert and delivery.
-- Parked and skipped rows are few: partial indexes find them without a scan
-- and cost an insert of a queued row only the test of their condition.
create index if not exists events_parked on events (seq) where state = 'parked';
create index if not exists events_skipped_at on events (note_at) where state = 'skipped';
-- Every park, unpark and skip, with its reason: kept while the row is in the
-- spool, and at least for the retention window.
create table if not exists action_log (
  id integer primary key,
  seq integer not null,
  source text not null,
  event_id text not null,
  action text not null check (action in ('park', 'unpark', 'skip')),
  from_state text not null,
  reason text not null,
  by text not null,
  at integer not null
);
create index if not exists action_log_seq on action_log (seq);
create table if not exists kv (key text primary key, value text not null);
create table if not exists meta (key text primary key, value text not null);
`;

/** The state column's CHECK as versions 1 to 3 wrote it. */
const OLD_STATE_CHECK = /check\s*\(\s*state\s+in\s*\(\s*'queued'\s*,\s*'delivered'\s*\)\s*\)/i;

/**
 * Version 2 or 3 → 4 in place: the state CHECK admits parked and skipped,
 * and the note columns are added. SQLite cannot alter a CHECK; its documented
 * procedure for loosening one rewrites the table's SQL in the schema
 * (https://www.sqlite.org/lang_altertable.html#otheralter), which no row
 * needs to follow — where copying the table would rewrite every row of a
 * spool that may hold gigabytes.
 */
function upgradeEventsTable(db: DatabaseSync): void {
  const { sql } = db.prepare("select sql from sqlite_master where type = 'table' and name = 'events'").get() as {
    sql: string;
  };
  if (!sql.includes("'parked'")) {
    const widened = sql.replace(OLD_STATE_CHECK, STATE_CHECK);
    if (widened === sql) throw new Error(`spool migration: unknown state check in the events table: ${sql}`);
    const { schema_version: schemaVersion } = db.prepare("pragma schema_version").get() as { schema_version: number };
    // Node ≥ 24.12 opens databases in defensive mode, which forbids writing the schema.
    db.enableDefensive?.(false);
    try {
      db.exec("pragma writable_schema = on");
      db.prepare("update sqlite_master set sql = ? where type = 'table' and name = 'events'").run(widened);
      db.exec(`pragma schema_version = ${schemaVersion + 1}`);
      db.exec("pragma writable_schema = off");
    } finally {
      db.enableDefensive?.(true);
    }
  }
  const columns = new Set(
    (db.prepare("pragma table_info(events)").all() as { name: string }[]).map((column) => column.name),
  );
  for (const [name, type] of [
    ["note_reason", "text not null default ''"],
    ["note_by", "text not null default ''"],
    ["note_at", "integer not null default 0"],
  ]) {
    if (!columns.has(name as string)) db.exec(`alter table events add column ${name} ${type}`);
  }
}

/** Brings a spool written by an earlier version to SCHEMA_VERSION, keeping every row. */
function migrate(db: DatabaseSync): void {
  const version = (db.prepare("pragma user_version").get() as { user_version: number }).user_version;
  if (version >= SCHEMA_VERSION) return;
  const unversioned =
    version < 2 && db.prepare("select 1 from sqlite_master where type = 'table' and name = 'events'").get();
  db.exec("begin immediate");
  try {
    if (unversioned) {
      // Version 1 (unversioned): unique (source, event_id), indexes on time_ms and (state, seq).
      db.exec(`alter table events rename to events_v1;
        drop index if exists events_state_seq;
        drop index if exists events_time;
        drop index if exists events_delivered_at;`);
      db.exec(SCHEMA);
      db.exec(`insert into events (seq, source, event_id, key_ms, workcenter, time_ms, received_at, bytes, body,
          state, attempts, last_error, status, odoo_id, delivered_at)
        select seq, source, event_id, case when body like '{"rejected":true%' then 0 else time_ms end, workcenter,
          time_ms, received_at, bytes, body, state, attempts, last_error, status, odoo_id, delivered_at
        from events_v1;
        drop table events_v1;`);
    } else {
      if (db.prepare("select 1 from sqlite_master where type = 'table' and name = 'events'").get()) {
        upgradeEventsTable(db);
      }
      db.exec(SCHEMA);
    }
    // Version 2 had an index on (state, seq).
    db.exec("drop index if exists events_state_seq");
    db.exec(`pragma user_version = ${SCHEMA_VERSION}`);
    db.exec("commit");
  } catch (err) {
    db.exec("rollback");
    throw err;
  }
}

/**
 * Earlier versions cached the configuration as it came, passwords and keys
 * in clear: it is stored again the way saveConfig stores it (secrets
 * encrypted, or left out without a key). The clear bytes must then leave
 * the file too: the rewrite zeroes the old row (secure_delete), VACUUM
 * rebuilds the file without the free pages older writes left behind (once,
 * at this upgrade), and the WAL, which may hold older frames, is truncated.
 */
function migrateClearConfig(db: DatabaseSync, key: Buffer | undefined): void {
  const row = db.prepare("select value from meta where key = 'sidecar_config'").get() as { value: string } | undefined;
  if (!row || !isClearFormat(row.value)) return;
  const config = JSON.parse(row.value) as SidecarConfig;
  db.exec("pragma secure_delete = on");
  try {
    db.prepare("update meta set value = ? where key = 'sidecar_config'").run(sealConfig(config, key));
  } finally {
    db.exec("pragma secure_delete = off");
  }
  if (findSecrets(config).length === 0) return;
  db.exec("vacuum");
  db.exec("pragma wal_checkpoint(truncate)");
}

/** The duplicate key's time of a record: see SCHEMA. */
function keyMs(r: SpoolRecord): number {
  const item = r.item;
  if ("rejected" in item) return 0;
  const ms = typeof item.origtime === "string" ? Date.parse(item.origtime) : r.timeMs;
  return Number.isFinite(ms) ? Math.round(ms) : 0;
}

export class SqliteSpool implements Spool {
  readonly limits: SpoolLimits;
  readonly #db: DatabaseSync;
  readonly #maxGroup: number;
  readonly #gate = new SpaceGate();
  #checkpointer: Checkpointer | undefined;
  #pending: PendingAppend[] = [];
  #flushScheduled = false;
  #queued = 0;
  #queuedBytes = 0;
  #parked = 0;
  #parkedBytes = 0;
  #skipped = 0;
  #reservedBytes = 0;
  #reservedEvents = 0;
  #closed = false;
  /**
   * No queued row has a seq below this (it may lag behind the lowest one):
   * where a scan for queued rows starts. Lowered by appends and requeues,
   * raised by the scans themselves.
   */
  #queuedFloor = 1;
  /**
   * `pragma data_version` when the counters above were last taken from the
   * table: it changes when another connection commits (the CLI parking,
   * unparking or skipping rows while the sidecar runs, or a replay), and
   * the counters and floor are then counted again.
   */
  #dataVersion = 0;
  #waitWatch: NodeJS.Timeout | undefined;
  readonly #readDataVersion: StatementSync;
  readonly #scanQueued: StatementSync;
  /** #scanQueued without the rows of some workcenters (a JSON array of keys). */
  readonly #scanQueuedSkipping: StatementSync;
  /** Multi-row insert statements by row count (up to ROWS_PER_INSERT). */
  readonly #inserts = new Map<number, StatementSync>();
  readonly #maxSeq: StatementSync;
  readonly #seqOf: StatementSync;
  readonly #putKv: StatementSync;
  readonly #deliver: StatementSync;
  readonly #undelivered: StatementSync;
  readonly #attempt: StatementSync;
  readonly #noteError: StatementSync;
  readonly #rowForAction: StatementSync;
  readonly #logAction: StatementSync;
  readonly #secretKey: Buffer | undefined;

  constructor(opts: SqliteSpoolOptions) {
    this.limits = spoolLimits({
      capacityBytes: opts.capacityBytes,
      capacityEvents: opts.capacityEvents,
      retentionMs: opts.retentionMs,
      maxAttempts: opts.maxAttempts,
    });
    this.#maxGroup = opts.maxGroup ?? 5_000;
    if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true });
    this.#db = new DatabaseSync(opts.path);
    this.#db.exec("pragma journal_mode = wal");
    this.#db.exec(`pragma synchronous = ${opts.synchronous ?? "NORMAL"}`);
    this.#db.exec(`pragma wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    // The WAL file is cut back to 64 MB when it starts over.
    this.#db.exec("pragma journal_size_limit = 67108864");
    // 8 MB page cache (SQLite's default is 2 MB): the duplicate-key index
    // probed on every insert stays in memory for a burst of ~100k events.
    // 32 MB measured no faster ingest (within run-to-run noise) but took
    // ~30 MB more RSS with a 1M backlog, where the index outgrows any cache
    // the 200 MB budget allows.
    this.#db.exec("pragma cache_size = -8192");
    this.#db.exec("pragma busy_timeout = 5000");
    migrate(this.#db);
    this.#secretKey = opts.secretKey;
    migrateClearConfig(this.#db, opts.secretKey);
    if (opts.checkpointInBackground && opts.path !== ":memory:") {
      this.#checkpointer = new Checkpointer({
        path: opts.path,
        synchronous: opts.synchronous ?? "NORMAL",
        intervalMs: opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS,
        onFailure: (reason) => {
          if (this.#closed) return;
          opts.log?.("error", `spool checkpoint thread failed (${reason}): the commits checkpoint on their own`);
        },
      });
    }
    this.#maxSeq = this.#db.prepare("select coalesce(max(seq), 0) as seq from events");
    this.#scanQueued = this.#db.prepare(
      `select ${QUEUED_COLUMNS} from events where seq >= ? and state = 'queued' order by seq limit ?`,
    );
    // The filter runs in SQLite: rows of skipped workcenters (a large backlog
    // of one busy workcenter) are passed over without being read into objects.
    this.#scanQueuedSkipping = this.#db.prepare(
      `select ${QUEUED_COLUMNS} from events where seq >= ? and state = 'queued' ` +
        "and workcenter not in (select value from json_each(?)) order by seq limit ?",
    );
    this.#seqOf = this.#db.prepare("select seq from events where key_ms = ? and source = ? and event_id = ?");
    this.#putKv = this.#db.prepare(
      "insert into kv (key, value) values (?, ?) on conflict (key) do update set value = excluded.value",
    );
    // (`update … returning` in one statement measured slower than these two.)
    this.#undelivered = this.#db.prepare("select state, bytes from events where seq = ? and state != 'delivered'");
    this.#deliver = this.#db.prepare(
      `update events set state = 'delivered', status = ?, odoo_id = ?, last_error = ?, delivered_at = ?
       where seq = ?`,
    );
    this.#attempt = this.#db.prepare(
      `update events set attempts = attempts + 1, last_error = ? where seq = ? and state = 'queued'
       returning attempts`,
    );
    this.#noteError = this.#db.prepare("update events set last_error = ? where seq = ? and state = 'queued'");
    this.#rowForAction = this.#db.prepare("select seq, source, event_id, state, bytes from events where seq = ?");
    this.#logAction = this.#db.prepare(
      `insert into action_log (seq, source, event_id, action, from_state, reason, by, at)
       values (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#readDataVersion = this.#db.prepare("pragma data_version");
    this.#count();
  }

  /**
   * The counters and the queued floor from the table: one pass over it (at
   * start, and after another connection changed it).
   */
  #count(): void {
    this.#dataVersion = (this.#readDataVersion.get() as { data_version: number }).data_version;
    const totals = this.#db
      .prepare(
        `select state, count(*) as n, coalesce(sum(bytes), 0) as b, min(seq) as first
         from events where state != 'delivered' group by state`,
      )
      .all() as { state: SpoolStateName; n: number; b: number; first: number }[];
    const by = new Map(totals.map((row) => [row.state, row]));
    this.#queued = by.get("queued")?.n ?? 0;
    this.#queuedBytes = by.get("queued")?.b ?? 0;
    this.#parked = by.get("parked")?.n ?? 0;
    this.#parkedBytes = by.get("parked")?.b ?? 0;
    this.#skipped = by.get("skipped")?.n ?? 0;
    this.#queuedFloor = by.get("queued")?.first ?? this.#nextSeq();
  }

  /** Counts again if another connection committed since the last count; appends waiting for space try again. */
  #syncExternal(): void {
    const { data_version: version } = this.#readDataVersion.get() as { data_version: number };
    if (version === this.#dataVersion) return;
    this.#count();
    this.#gate.freed();
  }

  #fits(bytes: number, events: number): boolean {
    // Parked rows are undelivered data: they count against the capacity.
    const backlog = this.#queued + this.#parked + this.#reservedEvents;
    // An item bigger than the whole capacity still gets in when nothing else is held.
    return (
      backlog === 0 ||
      (this.#queuedBytes + this.#parkedBytes + this.#reservedBytes + bytes <= this.limits.capacityBytes &&
        backlog + events <= this.limits.capacityEvents)
    );
  }

  append(records: SpoolRecord[], state?: Record<string, unknown>): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error("spool is closed"));
    // Serialized once: the size counts against capacity and the text is what is stored.
    const bodies = records.map((r) => r.body ?? JSON.stringify(r.item));
    const sizes = bodies.map((b) => Buffer.byteLength(b, "utf8"));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const reserve = () => {
      if (!this.#fits(bytes, records.length)) return false;
      this.#reservedBytes += bytes;
      this.#reservedEvents += records.length;
      return true;
    };
    const enqueue = () =>
      new Promise<AppendResult>((resolve, reject) => {
        if (this.#closed) {
          this.#reservedBytes -= bytes;
          this.#reservedEvents -= records.length;
          reject(new Error("spool is closed"));
          return;
        }
        this.#pending.push({ records, bodies, sizes, bytes, state, resolve, reject });
        this.#scheduleFlush();
      });
    // The common case (space free, nobody waiting) takes no extra turn of the event loop.
    if (this.#gate.waiting === 0 && reserve()) return enqueue();
    // A batch (one socket read) only partly fits: the part that fits is spooled now, the rest
    // waits for space, and the whole resolves once both are committed — so a full spool fills
    // up to its capacity instead of stopping short by a batch. Not with rule state, which must
    // commit with the events it produced.
    const fitting = state === undefined && this.#gate.waiting === 0 ? this.#fittingPrefix(sizes) : 0;
    if (fitting > 0 && fitting < records.length) {
      const head = records.slice(0, fitting).map((r, i) => ({ ...r, body: bodies[i] }));
      const tail = records.slice(fitting).map((r, i) => ({ ...r, body: bodies[fitting + i] }));
      return Promise.all([this.append(head), this.append(tail)]).then(([a, b]) => ({
        added: a.added + b.added,
        duplicates: a.duplicates + b.duplicates,
      }));
    }
    this.#watchWhileWaiting();
    return this.#gate.wait(reserve).then(enqueue);
  }

  /**
   * While appends wait for space, another process (a `spool skip`) may free
   * it when nothing in this one reads the spool (delivery asleep behind an
   * open circuit): look once a second.
   */
  #watchWhileWaiting(): void {
    if (this.#waitWatch) return;
    this.#waitWatch = setInterval(() => {
      if (this.#closed || this.#gate.waiting === 0) {
        clearInterval(this.#waitWatch);
        this.#waitWatch = undefined;
        return;
      }
      this.#syncExternal();
    }, 1_000);
    this.#waitWatch.unref();
  }

  /** How many of the leading records (by serialized size) fit in the free space now. */
  #fittingPrefix(sizes: number[]): number {
    let bytes = 0;
    let k = 0;
    while (k < sizes.length && this.#fits(bytes + (sizes[k] as number), k + 1)) bytes += sizes[k++] as number;
    return k;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const group: PendingAppend[] = [];
      let count = 0;
      while (this.#pending.length > 0 && (count === 0 || count < this.#maxGroup)) {
        const next = this.#pending.shift() as PendingAppend;
        group.push(next);
        count += next.records.length;
      }
      const results: AppendResult[] = [];
      let addedBytes = 0;
      let addedEvents = 0;
      try {
        this.#db.exec("begin immediate");
        const added = this.#insertGroup(group);
        addedEvents = added.events;
        addedBytes = added.bytes;
        group.forEach((p, k) => {
          if (p.state) for (const [key, v] of Object.entries(p.state)) this.#putKv.run(key, JSON.stringify(v));
          const n = added.perAppend[k] as number;
          results.push({ added: n, duplicates: p.records.length - n });
        });
        this.#db.exec("commit");
      } catch (err) {
        try {
          this.#db.exec("rollback");
        } catch {}
        for (const p of group) {
          this.#reservedBytes -= p.bytes;
          this.#reservedEvents -= p.records.length;
          p.reject(err as Error);
        }
        this.#gate.freed();
        continue;
      }
      this.#queued += addedEvents;
      this.#queuedBytes += addedBytes;
      group.forEach((p, i) => {
        this.#reservedBytes -= p.bytes;
        this.#reservedEvents -= p.records.length;
        p.resolve(results[i] as AppendResult);
      });
      // Duplicates reserved space they did not use.
      this.#gate.freed();
    }
  }

  /**
   * Inserts a group's records, ROWS_PER_INSERT rows per statement (one
   * statement per row spent as much time crossing into SQLite as inserting).
   * A row already spooled under its (source, id) is skipped; when a
   * statement skipped any, its rows are looked up to tell which: rows added
   * by this statement have a seq above the largest one before it.
   */
  #insertGroup(group: PendingAppend[]): { perAppend: number[]; events: number; bytes: number } {
    const perAppend = group.map(() => 0);
    let events = 0;
    let bytes = 0;
    const rows: { owner: number; record: SpoolRecord; size: number; body: string }[] = [];
    group.forEach((p, owner) => {
      p.records.forEach((record, i) => {
        rows.push({ owner, record, size: p.sizes[i] as number, body: p.bodies[i] as string });
      });
    });
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const args: (string | number)[] = [];
      // Each row's duplicate key, computed once: bound here, looked up again below if the chunk held duplicates.
      const keys = chunk.map((row) => keyMs(row.record));
      for (const [k, { record: r, size, body }] of chunk.entries()) {
        args.push(
          r.item.source,
          r.item.id,
          keys[k] as number,
          r.workcenter,
          Math.round(r.timeMs),
          Math.round(r.receivedAt),
          size,
          body,
        );
      }
      const seqBefore = (this.#maxSeq.get() as { seq: number }).seq;
      // New rows get seqs above the largest one (which may be below a purged row's).
      this.#queuedFloor = Math.min(this.#queuedFloor, seqBefore + 1);
      const changes = Number(this.#insertStatement(chunk.length).run(...args).changes);
      if (changes === chunk.length) {
        for (const row of chunk) perAppend[row.owner] = (perAppend[row.owner] as number) + 1;
        events += chunk.length;
        for (const row of chunk) bytes += row.size;
        continue;
      }
      // Some were duplicates (a redelivery, or the same event twice in this chunk).
      const claimed = new Set<number>();
      for (const [k, row] of chunk.entries()) {
        const { source, id } = row.record.item;
        const seq = (this.#seqOf.get(keys[k] as number, source, id) as { seq: number }).seq;
        if (seq <= seqBefore || claimed.has(seq)) continue;
        claimed.add(seq);
        perAppend[row.owner] = (perAppend[row.owner] as number) + 1;
        events++;
        bytes += row.size;
      }
    }
    return { perAppend, events, bytes };
  }

  #insertStatement(rows: number): StatementSync {
    let statement = this.#inserts.get(rows);
    if (!statement) {
      statement = this.#db.prepare(
        `insert into events (source, event_id, key_ms, workcenter, time_ms, received_at, bytes, body, state)
         values ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, ?, 'queued')").join(", ")}
         on conflict (key_ms, source, event_id) do nothing`,
      );
      this.#inserts.set(rows, statement);
    }
    return statement;
  }

  async loadState(prefix: string): Promise<Record<string, unknown>> {
    const rows = this.#db
      .prepare("select key, value from kv where key >= ? and key < ? order by key")
      .all(prefix, `${prefix}\uffff`) as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value)]));
  }

  #nextSeq(): number {
    return (this.#maxSeq.get() as { seq: number }).seq + 1;
  }

  /** Queued rows from the floor on, in seq order; the first scan raises the floor to what it found. */
  #queuedRows(from: number, limit: number): Row[] {
    const rows = this.#scanQueued.all(from, limit) as unknown as Row[];
    if (from === this.#queuedFloor) this.#queuedFloor = rows[0]?.seq ?? this.#nextSeq();
    return rows;
  }

  async queued(
    limit: number,
    exclude?: ReadonlySet<number>,
    skipWorkcenters?: ReadonlySet<string>,
  ): Promise<SpoolEntry[]> {
    this.#syncExternal();
    const out: SpoolEntry[] = [];
    let from = this.#queuedFloor;
    const skipping = skipWorkcenters && skipWorkcenters.size > 0 ? JSON.stringify([...skipWorkcenters]) : undefined;
    // Skipping in-flight seqs page by page keeps this correct for any exclude size.
    for (;;) {
      const rows =
        skipping === undefined
          ? this.#queuedRows(from, limit + (exclude?.size ?? 0))
          : (this.#scanQueuedSkipping.all(from, skipping, limit + (exclude?.size ?? 0)) as unknown as Row[]);
      for (const row of rows) {
        if (exclude?.has(row.seq)) continue;
        out.push(toEntry(row));
        if (out.length >= limit) return out;
      }
      if (rows.length < limit + (exclude?.size ?? 0)) return out;
      from = (rows[rows.length - 1] as Row).seq + 1;
    }
  }

  /** Runs `work` in one write transaction, the counters brought up to date first. */
  #write<T>(work: () => T): T {
    this.#db.exec("begin immediate");
    try {
      this.#syncExternal();
      const out = work();
      this.#db.exec("commit");
      return out;
    } catch (err) {
      this.#db.exec("rollback");
      // The work may have moved counters for rows it then rolled back.
      this.#count();
      throw err;
    }
  }

  async markDelivered(outcomes: DeliveryOutcome[]): Promise<void> {
    const now = Date.now();
    // A row parked or skipped while in flight is delivered all the same: Odoo has it.
    this.#write(() => {
      for (const o of outcomes) {
        const row = this.#undelivered.get(o.seq) as { state: SpoolStateName; bytes: number } | undefined;
        if (!row) continue;
        this.#deliver.run(o.status, o.odooEventId, o.error, now, o.seq);
        this.#leave(row.state, row.bytes);
      }
    });
    this.#gate.freed();
  }

  /** In-memory counters: a row of `bytes` left `state`. */
  #leave(state: SpoolStateName, bytes: number): void {
    if (state === "queued") {
      this.#queued--;
      this.#queuedBytes -= bytes;
    } else if (state === "parked") {
      this.#parked--;
      this.#parkedBytes -= bytes;
    } else if (state === "skipped") this.#skipped--;
  }

  /** In-memory counters: a row of `bytes` entered `state`. */
  #enter(state: SpoolStateName, bytes: number): void {
    if (state === "queued") {
      this.#queued++;
      this.#queuedBytes += bytes;
    } else if (state === "parked") {
      this.#parked++;
      this.#parkedBytes += bytes;
    } else if (state === "skipped") this.#skipped++;
  }

  async markAttempt(seqs: number[], error: string, opts: MarkAttemptOptions = {}): Promise<number[]> {
    const lastError = error.slice(0, 4096);
    const max = this.limits.maxAttempts;
    const parked: number[] = [];
    this.#write(() => {
      for (const seq of seqs) {
        if (opts.counts === false) {
          this.#noteError.run(lastError, seq);
          continue;
        }
        const row = this.#attempt.get(lastError, seq) as { attempts: number } | undefined;
        if (!row || row.attempts < max) continue;
        this.#apply(
          "park",
          this.#rowForAction.get(seq) as unknown as ActionRow,
          parkedByDelivery(row.attempts, lastError),
        );
        parked.push(seq);
      }
    });
    return parked;
  }

  async park(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("park", seqs, reason, by);
  }

  async unpark(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("unpark", seqs, reason, by);
  }

  async skip(seqs: number[], reason: string, by: string): Promise<number> {
    return this.#act("skip", seqs, reason, by);
  }

  /** Applies an action to every row or, when any is in a state it does not apply to, to none. */
  #act(action: SpoolAction, seqs: number[], reason: string, by: string): number {
    const note = actionNote(action, reason, by);
    const unique = [...new Set(seqs)].sort((a, b) => a - b);
    const changed = this.#write(() => {
      const rows = unique.map((seq) => ({ seq, row: this.#rowForAction.get(seq) as ActionRow | undefined }));
      const refused = rows
        .filter(({ row }) => !row || !ACTION_FROM[action].includes(row.state))
        .map(({ seq, row }) => ({ seq, state: row?.state ?? ("missing" as const) }));
      if (refused.length > 0) throw new SpoolActionError(action, refused);
      for (const { row } of rows) this.#apply(action, row as ActionRow, note);
      return rows.length;
    });
    if (action === "unpark" && unique.length > 0) {
      this.#queuedFloor = Math.min(this.#queuedFloor, unique[0] as number);
    }
    // A skip frees capacity.
    this.#gate.freed();
    return changed;
  }

  /** One row's change of state for an action, logged (inside a write transaction). */
  #apply(action: SpoolAction, row: ActionRow, note: { reason: string; by: string; at: number }): void {
    const to: SpoolStateName = action === "park" ? "parked" : action === "skip" ? "skipped" : "queued";
    if (to === "queued") {
      this.#db
        .prepare(
          `update events set state = 'queued', attempts = 0, last_error = '', note_reason = '', note_by = '',
           note_at = 0 where seq = ?`,
        )
        .run(row.seq);
    } else {
      this.#db
        .prepare("update events set state = ?, note_reason = ?, note_by = ?, note_at = ? where seq = ?")
        .run(to, note.reason, note.by, note.at, row.seq);
    }
    this.#logAction.run(row.seq, row.source, row.event_id, action, row.state, note.reason, note.by, note.at);
    this.#leave(row.state, row.bytes);
    this.#enter(to, row.bytes);
  }

  async actionLog(limit: number, seq?: number): Promise<SpoolLogEntry[]> {
    // A seq is given again after every row above it was purged: the row's own lines are those of its event.
    const rows = (seq === undefined
      ? this.#db.prepare("select * from action_log order by id desc limit ?").all(limit)
      : this.#db
          .prepare(
            `select a.* from action_log a join events e
                 on e.seq = a.seq and e.source = a.source and e.event_id = a.event_id
               where a.seq = ? order by a.id desc limit ?`,
          )
          .all(seq, limit)) as unknown as LogRow[];
    return rows.map((row) => ({
      seq: row.seq,
      source: row.source,
      eventId: row.event_id,
      action: row.action,
      from: row.from_state,
      reason: row.reason,
      by: row.by,
      at: row.at,
    }));
  }

  async list(state: SpoolStateName, limit: number): Promise<SpoolEntry[]> {
    this.#syncExternal();
    const query = {
      queued: "",
      parked: "select * from events where state = 'parked' order by seq limit ?",
      delivered: "select * from events where state = 'delivered' order by seq desc limit ?",
      skipped: "select * from events where state = 'skipped' order by seq desc limit ?",
    }[state];
    const rows = query
      ? (this.#db.prepare(query).all(limit) as unknown as Row[])
      : this.#queuedRows(this.#queuedFloor, limit);
    return rows.map(toEntry);
  }

  async range(range: ReplayRange, afterSeq: number, limit: number): Promise<SpoolEntry[]> {
    const rows = (range.source === undefined
      ? this.#db
          .prepare("select * from events where time_ms >= ? and time_ms < ? and seq > ? order by seq limit ?")
          .all(range.fromMs, range.toMs, afterSeq, limit)
      : this.#db
          .prepare(
            "select * from events where time_ms >= ? and time_ms < ? and source = ? and seq > ? order by seq limit ?",
          )
          .all(range.fromMs, range.toMs, range.source, afterSeq, limit)) as unknown as Row[];
    return rows.map(toEntry);
  }

  async countRange(range: ReplayRange): Promise<number> {
    const row = (
      range.source === undefined
        ? this.#db
            .prepare("select count(*) as n from events where time_ms >= ? and time_ms < ?")
            .get(range.fromMs, range.toMs)
        : this.#db
            .prepare("select count(*) as n from events where time_ms >= ? and time_ms < ? and source = ?")
            .get(range.fromMs, range.toMs, range.source)
    ) as { n: number };
    return row.n;
  }

  async requeue(seqs: number[]): Promise<number> {
    const pick = this.#db.prepare("select bytes from events where seq = ? and state = 'delivered'");
    const update = this.#db.prepare(
      "update events set state = 'queued', status = '', odoo_id = 0, delivered_at = 0, attempts = 0 where seq = ?",
    );
    let n = 0;
    let lowest = this.#queuedFloor;
    this.#write(() => {
      for (const seq of seqs) {
        const row = pick.get(seq) as { bytes: number } | undefined;
        if (!row) continue;
        update.run(seq);
        n++;
        this.#enter("queued", row.bytes);
        lowest = Math.min(lowest, seq);
      }
    });
    this.#queuedFloor = lowest;
    return n;
  }

  async purge(nowMs: number): Promise<number> {
    const cutoff = nowMs - this.limits.retentionMs;
    return this.#write(() => {
      const delivered = this.#db
        .prepare("delete from events where state = 'delivered' and delivered_at < ?")
        .run(cutoff).changes;
      const skipped = Number(
        this.#db.prepare("delete from events where state = 'skipped' and note_at < ?").run(cutoff).changes,
      );
      this.#skipped -= skipped;
      this.#db
        .prepare(
          `delete from action_log where at < ? and not exists (select 1 from events e
             where e.seq = action_log.seq and e.source = action_log.source and e.event_id = action_log.event_id)`,
        )
        .run(cutoff);
      return Number(delivered) + skipped;
    });
  }

  async stats(): Promise<SpoolStats> {
    this.#syncExternal();
    const byStatus: Partial<Record<IngestStatus, number>> = {};
    let delivered = 0;
    for (const row of this.#db
      .prepare("select status, count(*) as n from events where state = 'delivered' group by status")
      .all() as { status: IngestStatus; n: number }[]) {
      byStatus[row.status] = row.n;
      delivered += row.n;
    }
    const oldest = this.#queuedRows(this.#queuedFloor, 1)[0];
    return {
      queued: this.#queued,
      queuedBytes: this.#queuedBytes,
      parked: this.#parked,
      parkedBytes: this.#parkedBytes,
      skipped: this.#skipped,
      delivered,
      capacityBytes: this.limits.capacityBytes,
      capacityEvents: this.limits.capacityEvents,
      waitingAppends: this.#gate.waiting,
      oldestQueuedAt: oldest?.received_at ?? 0,
      byStatus,
    };
  }

  /** False once close() ran (/readyz reads it). */
  get open(): boolean {
    return !this.#closed;
  }

  /**
   * Counters kept in memory: cheap enough for every metrics scrape (one
   * `pragma data_version`, and a count only after another process changed
   * the spool).
   */
  get depth(): SpoolDepth {
    this.#syncExternal();
    return {
      queued: this.#queued,
      queuedBytes: this.#queuedBytes,
      parked: this.#parked,
      parkedBytes: this.#parkedBytes,
      skipped: this.#skipped,
      waitingAppends: this.#gate.waiting,
    };
  }

  async loadConfig(): Promise<CachedConfig | undefined> {
    const row = this.#db.prepare("select value from meta where key = 'sidecar_config'").get() as
      | { value: string }
      | undefined;
    return row ? openConfig(row.value, this.#secretKey) : undefined;
  }

  async saveConfig(config: SidecarConfig): Promise<void> {
    this.#db
      .prepare(
        "insert into meta (key, value) values ('sidecar_config', ?) on conflict (key) do update set value = excluded.value",
      )
      .run(sealConfig(config, this.#secretKey));
  }

  /** The checkpoint thread's figures; undefined without one. */
  get checkpoints(): CheckpointStats | undefined {
    return this.#checkpointer?.stats;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    clearInterval(this.#waitWatch);
    // Its round under way ends first; closing the last connection then checkpoints the rest.
    await this.#checkpointer?.stop();
    this.#db.close();
  }
}

/** The columns an action reads of its row. */
type ActionRow = Pick<Row, "seq" | "source" | "event_id" | "state" | "bytes">;

function toState(row: Row): SpoolEntry["st"] {
  switch (row.state) {
    case "queued":
      return { state: "queued", attempts: row.attempts, lastError: row.last_error };
    case "delivered":
      return {
        state: "delivered",
        status: row.status as IngestStatus,
        odooEventId: row.odoo_id,
        error: row.last_error,
        deliveredAt: row.delivered_at,
      };
    default:
      return {
        state: row.state,
        attempts: row.attempts,
        lastError: row.last_error,
        reason: row.note_reason,
        by: row.note_by,
        at: row.note_at,
      };
  }
}

function toEntry(row: Row): SpoolEntry {
  // Numbers as they arrived (see exact-json.ts): delivery sends this item to Odoo.
  const item = parseExact<IngestItem>(row.body);
  return {
    seq: row.seq,
    source: row.source,
    eventId: row.event_id,
    workcenter: row.workcenter,
    timeMs: row.time_ms,
    receivedAt: row.received_at,
    bytes: row.bytes,
    item,
    st: toState(row),
  };
}
