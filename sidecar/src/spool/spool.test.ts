import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySpool } from "../../test/support/spool/memory-spool.ts";
import {
  configWithSecrets,
  event,
  rejectedRecord,
  spoolContract,
  TEST_BROKER_PASSWORD,
  TEST_CLIENT_KEY,
  TEST_OPCUA_PASSWORD,
} from "../../test/support/spool/spool.contract.ts";
import { SERVICE_SPOOL, SqliteSpool } from "./sqlite-spool.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-spool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

spoolContract("MemorySpool", async (limits, options) => new MemorySpool(limits, options));
spoolContract(
  "SqliteSpool",
  async (limits, options) => new SqliteSpool({ path: join(dir, `c${n++}.db`), ...limits, ...options }),
);
// As the sidecar runs it: checkpoints on a thread of their own, here every 5 ms, during every call.
spoolContract(
  "SqliteSpool with its checkpoint thread",
  async (limits, options) =>
    new SqliteSpool({
      path: join(dir, `c${n++}.db`),
      ...limits,
      ...options,
      ...SERVICE_SPOOL,
      checkpointIntervalMs: 5,
    }),
);

/** Every byte SQLite keeps of a spool: the database file and its WAL (and a rollback journal, if any). */
function spoolBytes(path: string): Buffer {
  return Buffer.concat(
    [path, `${path}-wal`, `${path}-journal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
  );
}

const SECRETS = [TEST_BROKER_PASSWORD, TEST_OPCUA_PASSWORD, TEST_CLIENT_KEY.split("\n")[1] as string];

function expectNoSecretIn(path: string): void {
  const bytes = spoolBytes(path);
  expect(bytes.length).toBeGreaterThan(0);
  for (const secret of SECRETS) expect(bytes.includes(secret), `${secret} in ${path}`).toBe(false);
}

describe("SqliteSpool: the cached configuration's secrets at rest", () => {
  it("leaves no password or private key in spool.db or its WAL, with a key or without", async () => {
    for (const secretKey of [randomBytes(32), undefined]) {
      const path = join(dir, `secrets${n++}.db`);
      const spool = new SqliteSpool({ path, secretKey });
      await spool.append([event(1)]);
      await spool.saveConfig(configWithSecrets());
      // While it runs (the config row is in the WAL) and after it closed (checkpointed into the file).
      expect(existsSync(`${path}-wal`)).toBe(true);
      expectNoSecretIn(path);
      await spool.close();
      expectNoSecretIn(path);
      // The test can fail: the same bytes as plain JSON are found.
      const control = join(dir, `control${n++}.db`);
      const db = new DatabaseSync(control);
      db.exec("create table t (v text)");
      db.prepare("insert into t values (?)").run(JSON.stringify(configWithSecrets()));
      db.close();
      expect(spoolBytes(control).includes(TEST_BROKER_PASSWORD)).toBe(true);
    }
  });

  it("gives the secrets back after a restart with the same key; with another key it says so and starts without them", async () => {
    const path = join(dir, `rekey${n++}.db`);
    const key = randomBytes(32);
    const first = new SqliteSpool({ path, secretKey: key });
    await first.saveConfig(configWithSecrets());
    await first.close();
    const again = new SqliteSpool({ path, secretKey: Buffer.from(key) });
    expect(await again.loadConfig()).toEqual({ config: configWithSecrets(), missingSecrets: [], why: "" });
    await again.close();
    const other = new SqliteSpool({ path, secretKey: randomBytes(32) });
    const cached = await other.loadConfig();
    expect(cached?.missingSecrets).toHaveLength(4);
    expect(cached?.why).toMatch(/encrypted with another key \(key id [0-9a-f]{16}; SHOPFLOOR_SECRET_KEY has key id/);
    expect(cached?.config).toMatchObject({ mqtt: { password: "", client_key: "" }, opcua: { password: "" } });
    expect(cached?.config.batch).toEqual(configWithSecrets().batch);
    // The next configuration from Odoo is saved under the key now in force.
    await other.saveConfig(configWithSecrets());
    expect((await other.loadConfig())?.missingSecrets).toEqual([]);
    await other.close();
    const keyless = new SqliteSpool({ path });
    expect((await keyless.loadConfig())?.why).toMatch(/encrypted and no SHOPFLOOR_SECRET_KEY is set/);
    await keyless.close();
  });

  it("migrates a spool an earlier version wrote with clear secrets: encrypted with a key, dropped without", async () => {
    for (const secretKey of [randomBytes(32), undefined]) {
      const path = join(dir, `clear${n++}.db`);
      const spool = new SqliteSpool({ path });
      await spool.append([event(1), event(2)]);
      await spool.close();
      // What the earlier version wrote: the configuration as JSON, saved a few times (old copies in free pages).
      const db = new DatabaseSync(path);
      db.exec("pragma journal_mode = wal");
      const save = db.prepare(
        "insert into meta (key, value) values ('sidecar_config', ?) on conflict (key) do update set value = excluded.value",
      );
      for (let revision = 1; revision <= 3; revision++) {
        save.run(JSON.stringify({ ...configWithSecrets(), revision, rules: "x".repeat(5000 * revision) }));
      }
      save.run(JSON.stringify(configWithSecrets()));
      db.close();
      expect(spoolBytes(path).includes(TEST_BROKER_PASSWORD)).toBe(true);
      const opened = new SqliteSpool({ path, secretKey });
      expectNoSecretIn(path);
      const cached = await opened.loadConfig();
      if (secretKey) expect(cached).toEqual({ config: configWithSecrets(), missingSecrets: [], why: "" });
      else expect(cached?.missingSecrets).toHaveLength(4);
      expect((await opened.stats()).queued).toBe(2);
      await opened.close();
      expectNoSecretIn(path);
    }
  });
});

describe("SqliteSpool on disk", () => {
  it("hands delivery each number of a spooled event as it arrived (2^53 + 1, 1e400, 5.0)", async () => {
    const spool = new SqliteSpool({ path: join(dir, `numbers${n++}.db`) });
    const record = event(1);
    const body = JSON.stringify(record.item).replace(
      '"qty_good":1',
      '"qty_good":5.0,"count":9007199254740993,"peak":1e400',
    );
    await spool.append([{ ...record, item: JSON.parse(body), body }]);
    const [entry] = await spool.queued(1);
    expect(JSON.stringify(entry?.item)).toBe(body);
    await spool.close();
  });

  it("fills up to its capacity with the part of a batch that fits; the batch resolves once all of it is committed", async () => {
    const spool = new SqliteSpool({ path: join(dir, `fill${n++}.db`), capacityEvents: 5 });
    await spool.append([event(1), event(2), event(3)]);
    let done = false;
    const batch = spool.append([event(4), event(5), event(6), event(7)]).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    // ev-4 and ev-5 are in (the spool is full), ev-6 and ev-7 wait: no PUBACK for the batch yet.
    expect(spool.depth.queued).toBe(5);
    expect(done).toBe(false);
    expect((await spool.stats()).waitingAppends).toBe(1);
    const oldest = await spool.queued(2);
    await spool.markDelivered(
      oldest.map((e) => ({ seq: e.seq, status: "applied" as const, odooEventId: 1, error: "" })),
    );
    expect(await batch).toEqual({ added: 4, duplicates: 0 });
    expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-3", "ev-4", "ev-5", "ev-6", "ev-7"]);
    await spool.close();
  });

  it("keeps the backlog, its counters and rule state across a reopen", async () => {
    const path = join(dir, "reopen.db");
    const first = new SqliteSpool({ path });
    await first.append([event(1), event(2)], { "k:a": 1 });
    const [one] = await first.queued(1);
    await first.markDelivered([{ seq: one?.seq as number, status: "applied", odooEventId: 7, error: "" }]);
    await first.close();
    const again = new SqliteSpool({ path });
    expect((await again.stats()).queued).toBe(1);
    expect(again.depth.queued).toBe(1);
    expect((await again.queued(10)).map((e) => e.eventId)).toEqual(["ev-2"]);
    expect(await again.loadState("k:")).toEqual({ "k:a": 1 });
    expect(await again.append([event(1)])).toEqual({ added: 0, duplicates: 1 });
    await again.close();
  });

  it("finds a duplicate by its own time, source and id: the same id sent with another time is spooled again", async () => {
    const spool = new SqliteSpool({ path: join(dir, `key${n++}.db`) });
    const first = event(1);
    const resent = { ...first, receivedAt: first.receivedAt + 60_000 };
    const retimed = event(1, "press-1", first.timeMs + 1_000);
    expect(await spool.append([first, resent])).toEqual({ added: 1, duplicates: 1 });
    // Odoo keeps the (source, id) once and reports this one as a duplicate.
    expect(await spool.append([retimed])).toEqual({ added: 1, duplicates: 0 });
    // A skew-corrected event is keyed on the time it was sent with.
    const corrected = event(2, "press-1", first.timeMs + 5_000);
    corrected.item = { ...corrected.item, origtime: new Date(first.timeMs).toISOString() };
    const again = { ...corrected, timeMs: first.timeMs + 7_000 };
    expect(await spool.append([corrected, again])).toEqual({ added: 1, duplicates: 1 });
    await spool.close();
  });

  it("migrates a spool written before schema versions, keeping every row, its state and its duplicate check", async () => {
    const path = join(dir, "v1.db");
    const v1 = new DatabaseSync(path);
    v1.exec(`pragma journal_mode = wal;
      create table events (seq integer primary key, source text not null, event_id text not null,
        workcenter text not null, time_ms integer not null, received_at integer not null, bytes integer not null,
        body text not null, state text not null check (state in ('queued', 'delivered')),
        attempts integer not null default 0, last_error text not null default '', status text not null default '',
        odoo_id integer not null default 0, delivered_at integer not null default 0, unique (source, event_id));
      create index events_state_seq on events (state, seq);
      create index events_time on events (time_ms);
      create index events_delivered_at on events (delivered_at) where state = 'delivered';
      create table kv (key text primary key, value text not null);
      create table meta (key text primary key, value text not null);`);
    const insert = v1.prepare(
      `insert into events (seq, source, event_id, workcenter, time_ms, received_at, bytes, body, state, status, odoo_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const [seq, r, state] of [
      [3, event(1), "delivered"],
      [7, event(2), "queued"],
      [9, rejectedRecord(1), "queued"],
    ] as const) {
      const body = JSON.stringify(r.item);
      insert.run(
        seq,
        r.item.source,
        r.item.id,
        r.workcenter,
        r.timeMs,
        r.receivedAt,
        body.length,
        body,
        state,
        state === "delivered" ? "applied" : "",
        state === "delivered" ? 11 : 0,
      );
    }
    v1.close();

    const spool = new SqliteSpool({ path });
    expect(spool.depth.queued).toBe(2);
    expect((await spool.queued(10)).map((e) => [e.seq, e.eventId])).toEqual([
      [7, "ev-2"],
      [9, "rej-1"],
    ]);
    expect((await spool.stats()).byStatus).toEqual({ applied: 1 });
    expect(await spool.append([event(1), event(2), rejectedRecord(1), event(3)])).toEqual({ added: 1, duplicates: 3 });
    expect((await spool.list("queued", 10)).map((e) => e.seq)).toEqual([7, 9, 10]);
    await spool.close();
    const after = new DatabaseSync(path);
    expect(after.prepare("pragma user_version").get()).toEqual({ user_version: 4 });
    for (const gone of ["events_time", "events_state_seq"]) {
      expect(after.prepare("select name from sqlite_master where name = ?").get(gone)).toBeUndefined();
    }
    after.close();
  });

  it("migrates a version-2 spool in place: its duplicate keys kept, the (state, seq) index dropped", async () => {
    const path = join(dir, "v2.db");
    const v2 = new DatabaseSync(path);
    v2.exec(`pragma journal_mode = wal;
      create table events (seq integer primary key, source text not null, event_id text not null,
        key_ms integer not null, workcenter text not null, time_ms integer not null, received_at integer not null,
        bytes integer not null, body text not null, state text not null check (state in ('queued', 'delivered')),
        attempts integer not null default 0, last_error text not null default '', status text not null default '',
        odoo_id integer not null default 0, delivered_at integer not null default 0,
        unique (key_ms, source, event_id));
      create index events_state_seq on events (state, seq);
      create index events_delivered_at on events (delivered_at) where state = 'delivered';
      create table kv (key text primary key, value text not null);
      create table meta (key text primary key, value text not null);
      pragma user_version = 2;`);
    // A skew-corrected event: keyed on the time it was sent with, stored under the corrected one.
    const sent = event(1);
    const corrected = { ...sent, timeMs: sent.timeMs + 5_000 };
    corrected.item = { ...sent.item, origtime: new Date(sent.timeMs).toISOString() };
    const body = JSON.stringify(corrected.item);
    v2.prepare(
      `insert into events (seq, source, event_id, key_ms, workcenter, time_ms, received_at, bytes, body, state)
       values (4, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')`,
    ).run(
      sent.item.source,
      sent.item.id,
      sent.timeMs,
      sent.workcenter,
      corrected.timeMs,
      sent.receivedAt,
      body.length,
      body,
    );
    v2.close();

    const spool = new SqliteSpool({ path });
    expect((await spool.queued(10)).map((e) => [e.seq, e.timeMs])).toEqual([[4, corrected.timeMs]]);
    expect(await spool.append([corrected])).toEqual({ added: 0, duplicates: 1 });
    expect(await spool.park([4], "check the skew", "ana")).toBe(1);
    await spool.close();
    const after = new DatabaseSync(path);
    expect(after.prepare("pragma user_version").get()).toEqual({ user_version: 4 });
    expect(after.prepare("select name from sqlite_master where name = 'events_state_seq'").get()).toBeUndefined();
    after.close();
  });

  it("migrates a version-3 spool in place: every row kept, the state check widened for parked and skipped, the action log added", async () => {
    const path = join(dir, "v3.db");
    const v3 = new DatabaseSync(path);
    // The schema exactly as version 3 wrote it.
    v3.exec(`pragma journal_mode = wal;
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
        state text not null check (state in ('queued', 'delivered')),
        attempts integer not null default 0,
        last_error text not null default '',
        status text not null default '',
        odoo_id integer not null default 0,
        delivered_at integer not null default 0,
        unique (key_ms, source, event_id)
      );
      create index if not exists events_delivered_at on events (delivered_at) where state = 'delivered';
      create table if not exists kv (key text primary key, value text not null);
      create table if not exists meta (key text primary key, value text not null);
      pragma user_version = 3;`);
    const insert = v3.prepare(
      `insert into events (seq, source, event_id, key_ms, workcenter, time_ms, received_at, bytes, body, state,
         attempts, last_error, status, odoo_id, delivered_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const [seq, r, state, attempts] of [
      [2, event(1), "delivered", 0],
      [5, event(2), "queued", 4],
      [6, event(3), "queued", 0],
    ] as const) {
      const body = JSON.stringify(r.item);
      const delivered = state === "delivered";
      insert.run(
        seq,
        r.item.source,
        r.item.id,
        r.timeMs,
        r.workcenter,
        r.timeMs,
        r.receivedAt,
        body.length,
        body,
        state,
        attempts,
        attempts ? "connection refused" : "",
        delivered ? "applied" : "",
        delivered ? 21 : 0,
        delivered ? Date.now() : 0,
      );
    }
    v3.prepare("insert into kv (key, value) values ('opcua:a', '{\"last\":3}')").run();
    v3.close();

    const spool = new SqliteSpool({ path, maxAttempts: 5 });
    expect(spool.depth).toMatchObject({ queued: 2, parked: 0, skipped: 0 });
    const queued = await spool.queued(10);
    expect(queued.map((e) => [e.seq, e.eventId, e.st])).toEqual([
      [5, "ev-2", { state: "queued", attempts: 4, lastError: "connection refused" }],
      [6, "ev-3", { state: "queued", attempts: 0, lastError: "" }],
    ]);
    expect(await spool.loadState("opcua:")).toEqual({ "opcua:a": { last: 3 } });
    expect(await spool.append([event(1), event(4)])).toEqual({ added: 1, duplicates: 1 });
    // The old rows take the new states: the fifth attempt parks seq 5, seq 6 is skipped.
    expect(await spool.markAttempt([5], "Odoo faulted")).toEqual([5]);
    expect(await spool.skip([6], "test data", "ana")).toBe(1);
    expect(spool.depth).toMatchObject({ queued: 1, parked: 1, skipped: 1 });
    await spool.close();

    const after = new DatabaseSync(path);
    expect(after.prepare("pragma user_version").get()).toEqual({ user_version: 4 });
    expect(after.prepare("pragma integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    expect(after.prepare("select state, count(*) as n from events group by state order by state").all()).toEqual([
      { state: "delivered", n: 1 },
      { state: "parked", n: 1 },
      { state: "queued", n: 1 },
      { state: "skipped", n: 1 },
    ]);
    // The widened check still refuses a state that does not exist.
    expect(() => after.exec("update events set state = 'lost' where seq = 2")).toThrow(/CHECK constraint failed/);
    expect(after.prepare("select count(*) as n from action_log").get()).toEqual({ n: 2 });
    after.close();
    // Opened again: nothing left to migrate, the counters read back.
    const again = new SqliteSpool({ path });
    expect(again.depth).toMatchObject({ queued: 1, parked: 1, skipped: 1 });
    expect((await again.list("parked", 10))[0]?.st).toMatchObject({
      state: "parked",
      attempts: 5,
      reason: "failed 5 delivery attempts; the last one: Odoo faulted",
    });
    await again.close();
  });

  it("sees rows another connection parked, unparked or skipped: counters, queue and waiting appends follow", async () => {
    const path = join(dir, `shared${n++}.db`);
    const sidecar = new SqliteSpool({ path, capacityEvents: 3 });
    await sidecar.append([event(1), event(2), event(3)]);
    const [s1, s2, s3] = (await sidecar.queued(3)).map((e) => e.seq) as [number, number, number];
    const cli = new SqliteSpool({ path });
    expect(await cli.park([s1, s2], "held for a check", "ana")).toBe(2);
    expect(sidecar.depth).toMatchObject({ queued: 1, parked: 2 });
    expect((await sidecar.queued(10)).map((e) => e.seq)).toEqual([s3]);
    // The sidecar's scan has moved past s1 and s2; an unpark elsewhere brings them back.
    expect(await cli.unpark([s1], "checked", "ana")).toBe(1);
    expect((await sidecar.queued(10)).map((e) => e.seq)).toEqual([s1, s3]);
    let done = false;
    const blocked = sidecar.append([event(4)]).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    await cli.skip([s2], "not needed", "ana");
    // Nothing else reads the sidecar's spool here: the waiting append looks for itself.
    const freedIn = Date.now();
    await blocked;
    expect(Date.now() - freedIn).toBeLessThan(1_500);
    expect(sidecar.depth).toMatchObject({ queued: 3, parked: 0, skipped: 1 });
    // A delivery of a row the other connection parked meanwhile moves it out of the parked count.
    await cli.park([s3], "again", "ana");
    await sidecar.markDelivered([{ seq: s3, status: "applied", odooEventId: 1, error: "" }]);
    expect(sidecar.depth).toMatchObject({ queued: 2, parked: 0, skipped: 1 });
    await cli.close();
    await sidecar.close();
  });

  it("finds queued rows without an index on state: after a purge took the highest seqs, after requeues, across a reopen", async () => {
    const path = join(dir, `floor${n++}.db`);
    const spool = new SqliteSpool({ path, retentionMs: 0 });
    await spool.append([event(1), event(2), event(3)]);
    const all = await spool.queued(10);
    await spool.markDelivered(all.map((e) => ({ seq: e.seq, status: "applied" as const, odooEventId: 1, error: "" })));
    expect(await spool.queued(10)).toEqual([]);
    // Every row purged: SQLite hands out seq 1 again, below where the last scan stopped.
    expect(await spool.purge(Date.now() + 1)).toBe(3);
    await spool.append([event(4), event(5)]);
    expect((await spool.queued(10)).map((e) => [e.seq, e.eventId])).toEqual([
      [1, "ev-4"],
      [2, "ev-5"],
    ]);
    expect((await spool.list("queued", 10)).map((e) => e.eventId)).toEqual(["ev-4", "ev-5"]);
    // Deliver the newer one first; then requeue it: both found, in seq order.
    const [, five] = await spool.queued(10);
    await spool.markDelivered([{ seq: five?.seq as number, status: "applied", odooEventId: 2, error: "" }]);
    await spool.append([event(6)]);
    expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-4", "ev-6"]);
    const [four] = await spool.queued(1);
    await spool.markDelivered([{ seq: four?.seq as number, status: "applied", odooEventId: 3, error: "" }]);
    expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-6"]);
    expect(await spool.requeue([four?.seq as number, five?.seq as number])).toBe(2);
    expect((await spool.queued(10)).map((e) => e.eventId)).toEqual(["ev-4", "ev-5", "ev-6"]);
    expect((await spool.stats()).oldestQueuedAt).toBe(event(4).receivedAt);
    await spool.close();
    const again = new SqliteSpool({ path });
    expect((await again.queued(10)).map((e) => e.eventId)).toEqual(["ev-4", "ev-5", "ev-6"]);
    expect(again.depth.queued).toBe(3);
    await again.close();
  });
});
