import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { event } from "../../test/support/spool/spool.contract.ts";
import type { CloudEvent } from "../core/contract.ts";
import { Checkpointer } from "./checkpointer.ts";
import type { SpoolRecord } from "./spool.ts";
import { SERVICE_SPOOL, SqliteSpool } from "./sqlite-spool.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const path = () => join(dir, `s${n++}.db`);

/** `count` records of about 1 kB each, ids unique across waves. */
function wave(k: number, count: number): SpoolRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const record = event(k * count + i);
    return { ...record, item: { ...(record.item as CloudEvent), data: { note: "x".repeat(900) } } };
  });
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("SqliteSpool's checkpoint thread", () => {
  it("keeps the WAL to about one round of appends: each round copies it all and the next commit starts it over", async () => {
    const file = path();
    const spool = new SqliteSpool({ path: file, ...SERVICE_SPOOL, checkpointIntervalMs: 20 });
    try {
      let walAfterFirst = 0;
      for (let k = 0; k < 6; k++) {
        await spool.append(wave(k, 2_000));
        const committedAt = performance.timeOrigin + performance.now();
        if (k === 0) walAfterFirst = statSync(`${file}-wal`).size;
        await until(
          () => {
            const last = spool.checkpoints?.last;
            return last !== undefined && last.endedAt > committedAt && last.caughtUp;
          },
          `a round that copied wave ${k + 1}`,
        );
      }
      // Six waves of ~2 MB. Without the thread nothing is checkpointed below 32 MB and the WAL holds all six.
      expect(walAfterFirst).toBeGreaterThan(1_000_000);
      expect(statSync(`${file}-wal`).size).toBeLessThan(2 * walAfterFirst);
      expect((await spool.stats()).queued).toBe(12_000);
      expect(spool.checkpoints?.failed).toBeUndefined();
    } finally {
      await spool.close();
    }
  });

  it("copies what was committed into the database file while the spool is open", async () => {
    const file = path();
    const spool = new SqliteSpool({ path: file, ...SERVICE_SPOOL, checkpointIntervalMs: 20 });
    try {
      await spool.append(wave(0, 500));
      await until(() => (spool.checkpoints?.rounds ?? 0) > 0, "a checkpoint round");
      // The 500 rows of ~1 kB are in the database file itself, not only in the WAL.
      expect(statSync(file).size).toBeGreaterThan(500_000);
    } finally {
      await spool.close();
    }
  });

  it("without it, the same commits stay in the WAL until 32 MB of it (what the tests above tell apart)", async () => {
    const file = path();
    const spool = new SqliteSpool({ path: file });
    try {
      expect(spool.checkpoints).toBeUndefined();
      await spool.append(wave(0, 500));
      await new Promise((r) => setTimeout(r, 200));
      expect(statSync(file).size).toBeLessThan(200_000);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(500_000);
    } finally {
      await spool.close();
    }
  });

  it("ends before the spool closes, so the last connection folds the WAL in and removes it", async () => {
    const file = path();
    const spool = new SqliteSpool({ path: file, ...SERVICE_SPOOL, checkpointIntervalMs: 20 });
    await spool.append(wave(0, 200));
    await until(() => (spool.checkpoints?.rounds ?? 0) > 0, "a checkpoint round");
    await spool.append(wave(1, 200));
    await spool.close();
    // A connection still open in the thread would have kept the WAL file.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const db = new DatabaseSync(file);
    expect((db.prepare("select count(*) as n from events").get() as { n: number }).n).toBe(400);
    db.close();
  });

  it("leaves another connection's data_version alone: the spool's counters are not counted again after a round", () => {
    const file = path();
    const writer = new DatabaseSync(file);
    writer.exec("pragma journal_mode = wal; pragma wal_autocheckpoint = 0; create table t (x text)");
    writer.prepare("insert into t values (?)").run("a".repeat(10_000));
    const version = () => (writer.prepare("pragma data_version").get() as { data_version: number }).data_version;
    const before = version();
    const other = new DatabaseSync(file);
    const r = other.prepare("pragma wal_checkpoint(passive)").get() as { log: number; checkpointed: number };
    expect(r.checkpointed).toBe(r.log);
    expect(version()).toBe(before);
    // A commit by another connection does change it: what #syncExternal looks for.
    other.prepare("insert into t values (?)").run("b");
    expect(version()).not.toBe(before);
    other.close();
    writer.close();
  });

  it("in a spool, a failed thread is logged, and the spool goes on with its commits checkpointing on their own", async () => {
    const home = join(dir, "moved-away");
    mkdirSync(home);
    const logged: [string, string][] = [];
    const spool = new SqliteSpool({
      path: join(home, "spool.db"),
      ...SERVICE_SPOOL,
      checkpointIntervalMs: 20,
      log: (level, message) => logged.push([level, message]),
    });
    // The spool's connection has the file open already; the thread, still starting, opens it by
    // its path, which no longer leads anywhere.
    renameSync(home, `${home}-now-here`);
    await until(() => spool.checkpoints?.failed !== undefined, "the thread's failure");
    expect(logged).toEqual([
      [
        "error",
        expect.stringMatching(
          /^spool checkpoint thread failed \(unable to open database file\): the commits checkpoint on their own$/,
        ),
      ],
    ]);
    await spool.append(wave(0, 50));
    expect((await spool.stats()).queued).toBe(50);
    await spool.close();
    const db = new DatabaseSync(join(`${home}-now-here`, "spool.db"));
    expect((db.prepare("select count(*) as n from events").get() as { n: number }).n).toBe(50);
    db.close();
  });

  it("reports a thread that cannot open the file, and stops", async () => {
    const failures: string[] = [];
    const checkpointer = new Checkpointer({
      path: join(dir, "no-such-dir", "spool.db"),
      synchronous: "NORMAL",
      intervalMs: 20,
      onFailure: (reason) => failures.push(reason),
    });
    await until(() => failures.length > 0, "the failure");
    expect(failures).toEqual([expect.stringMatching(/unable to open database file/)]);
    expect(checkpointer.stats.failed).toBe(failures[0]);
    await checkpointer.stop();
  });
});
