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
