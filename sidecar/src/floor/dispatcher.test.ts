// The dispatch loop's own logic, without sockets: write order, outcomes
// (acked / failed with retryable), acks owed after Odoo was unreachable.
// The real chain (Odoo → dispatcher → OPC UA / MQTT / Sparkplug) runs in
// dispatch.int.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DispatchAck, DispatchMessage, FloorWriter } from "../core/ports.ts";
import { Dispatcher, writeOrder } from "./dispatcher.ts";
import { FloorWriteError } from "./errors.ts";
import { parseQueuePayload, slotValues } from "./queue.ts";
import { VersionStore } from "./version-store.ts";

function message(id: number, workcenter: string, version: number, kind: "opcua" | "mqtt" = "mqtt"): DispatchMessage {
  return {
    id,
    workcenter,
    version,
    target: { kind, params: { topic: `q/${workcenter}` } },
    payload: { workcenter, version, depth: 2, reason: "priority", changed: false, queue: [], generated_at: "" },
  };
}

class RecordingWriter implements FloorWriter {
  readonly kind = "mqtt" as const;
  readonly written: DispatchMessage[] = [];
  failWith: FloorWriteError | undefined;
  async write(m: DispatchMessage): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.written.push(m);
  }
  async close(): Promise<void> {}
}

function odooWith(pages: DispatchMessage[][]) {
  const acks: DispatchAck[][] = [];
  let ackFailures = 0;
  return {
    acks,
    failNextAcks(n: number) {
      ackFailures = n;
    },
    dispatchPull: async () => pages.shift() ?? [],
    dispatchAck: async (results: DispatchAck[]) => {
      if (ackFailures > 0) {
        ackFailures--;
        throw new Error("ECONNREFUSED");
      }
      acks.push(results);
      return true;
    },
  };
}

describe("writeOrder", () => {
  it("groups by workcenter and destination, oldest version first", () => {
    const groups = writeOrder([
      message(1, "A", 3),
      message(2, "B", 1),
      message(3, "A", 2),
      message(4, "A", 4, "opcua"),
    ]);
    expect(groups.map((g) => g.map((m) => m.id))).toEqual([[3, 1], [2], [4]]);
  });
});

describe("Dispatcher.tick", () => {
  it("writes what it pulls and acks each message with its outcome", async () => {
    const writer = new RecordingWriter();
    const odoo = odooWith([[message(1, "A", 1), message(2, "B", 1)]]);
    const dispatcher = new Dispatcher({ odoo, connection: "c", writers: { mqtt: writer }, pollIntervalMs: 10 });
    expect(await dispatcher.tick()).toBe(2);
    expect(writer.written.map((m) => m.id).sort()).toEqual([1, 2]);
    expect(odoo.acks.flat()).toEqual(
      expect.arrayContaining([
        { id: 1, status: "acked", error: "", retryable: false },
        { id: 2, status: "acked", error: "", retryable: false },
      ]),
    );
  });

  it("acks a failed write as failed with the reason and whether a retry can help", async () => {
    const writer = new RecordingWriter();
    writer.failWith = new FloorWriteError("BadUserAccessDenied (write ns=2;s=x: BadUserAccessDenied)", {
      retryable: false,
    });
    const odoo = odooWith([[message(7, "A", 1)], [message(8, "A", 2, "opcua")]]);
    const dispatcher = new Dispatcher({ odoo, connection: "c", writers: { mqtt: writer }, pollIntervalMs: 10 });
    await dispatcher.tick();
    await dispatcher.tick();
    expect(odoo.acks.flat()).toEqual([
      { id: 7, status: "failed", error: "BadUserAccessDenied (write ns=2;s=x: BadUserAccessDenied)", retryable: false },
      { id: 8, status: "failed", error: "this sidecar has no opcua floor writer", retryable: true },
    ]);
  });

  it("keeps outcomes Odoo did not take and sends them before the next pull", async () => {
    const writer = new RecordingWriter();
    const odoo = odooWith([[message(1, "A", 1)], []]);
    odoo.failNextAcks(1);
    const dispatcher = new Dispatcher({ odoo, connection: "c", writers: { mqtt: writer }, pollIntervalMs: 10 });
    await expect(dispatcher.tick()).rejects.toThrow("ECONNREFUSED");
    expect(dispatcher.stats.unackedOutcomes).toBe(1);
    await dispatcher.tick();
    expect(odoo.acks).toEqual([[{ id: 1, status: "acked", error: "", retryable: false }]]);
    expect(writer.written).toHaveLength(1);
  });

  it("backs off while Odoo is unreachable and recovers by itself", async () => {
    let calls = 0;
    const odoo = {
      dispatchPull: async () => {
        calls++;
        if (calls <= 2) throw new Error("ECONNREFUSED");
        return [];
      },
      dispatchAck: async () => true,
    };
    const dispatcher = new Dispatcher({ odoo, connection: "c", writers: {}, pollIntervalMs: 5, maxBackoffMs: 20 });
    dispatcher.start();
    const deadline = Date.now() + 2_000;
    while (dispatcher.stats.pulls < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await dispatcher.stop();
    expect(dispatcher.stats.transportErrors).toBe(2);
    expect(dispatcher.stats.pulls).toBeGreaterThanOrEqual(1);
  });
});

describe("queue payload", () => {
  it("fills empty slots up to the depth and rejects a queue longer than the depth", () => {
    const m = message(1, "A", 1);
    m.payload.queue = [{ order: "MO/1", product: "P", qty: 2, uom: "Units", priority: 1, start: "" }];
    expect(slotValues(parseQueuePayload(m))).toEqual([
      { order: "MO/1", product: "P", qty: 2, priority: 1, start: "" },
      { order: "", product: "", qty: 0, priority: 0, start: "" },
    ]);
    m.payload.depth = 0;
    expect(() => parseQueuePayload(m)).toThrow(/queue has 1 entries for depth 0/);
  });
});

describe("VersionStore", () => {
  it("persists versions, never goes back, and refuses an unreadable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "sfb-versions-"));
    try {
      const store = new VersionStore(dir);
      store.record("k", 5);
      store.record("k", 3);
      expect(new VersionStore(dir).get("k")?.version).toBe(5);
      expect(store.isStale("k", 5)).toBe(true);
      expect(store.isStale("k", 6)).toBe(false);
      writeFileSync(store.path, "{not json");
      expect(() => new VersionStore(dir)).toThrow(/unreadable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
