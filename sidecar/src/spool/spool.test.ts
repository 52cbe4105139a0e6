import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySpool } from "./memory-spool.ts";
import { event, spoolContract } from "./spool.contract.ts";
import { SqliteSpool } from "./sqlite-spool.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-spool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

spoolContract("MemorySpool", async (limits) => new MemorySpool(limits));
spoolContract("SqliteSpool", async (limits) => new SqliteSpool({ path: join(dir, `c${n++}.db`), ...limits }));

describe("SqliteSpool on disk", () => {
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
});
