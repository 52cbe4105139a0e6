// The one contract every FloorWriter runs (like the spool's): whatever the
// floor protocol, the floor ends up showing the newest queue, in slot order,
// and an older version never replaces a newer one — also across a restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DispatchMessage, FloorWriter } from "../../../src/core/ports.ts";
import { FloorWriteError } from "../../../src/floor/errors.ts";
import type { QueueEntry } from "../../../src/floor/queue.ts";
import { VersionStore } from "../../../src/floor/version-store.ts";

/** What the floor shows for one workcenter, read through the protocol by a fresh reader. */
export interface FloorView {
  version: number;
  /** Order refs per slot, "" for an empty slot. */
  orders: string[];
  priorities: number[];
}

export interface FloorHarness {
  kind: FloorWriter["kind"];
  /** A writer backed by the given version store (a new one per call: "restart"). */
  makeWriter(versions: VersionStore): FloorWriter & { floorWrites: number };
  /** Target params for a workcenter (one per test, so tests do not share floor state). */
  targetParams(workcenter: string): Record<string, unknown>;
  readFloor(workcenter: string, params: Record<string, unknown>): Promise<FloorView>;
  depth: number;
}

let nextId = 1;

export function queueMessage(
  workcenter: string,
  version: number,
  orders: string[],
  target: DispatchMessage["target"],
  depth: number,
): DispatchMessage {
  const queue: QueueEntry[] = orders.map((order, slot) => ({
    slot,
    order,
    workorder: `${order} - Assembly`,
    product: `[P${slot}] Product ${slot}`,
    qty: 10 + slot,
    uom: "Units",
    priority: slot === 0 ? 1 : 0,
    start: new Date(Date.UTC(2026, 10, 22, 8 + slot)).toISOString(),
  }));
  return {
    id: nextId++,
    workcenter,
    version,
    target,
    payload: {
      workcenter,
      version,
      depth,
      reason: "priority",
      changed: queue[0] ? { ...queue[0], slot: undefined } : false,
      queue,
      generated_at: new Date().toISOString(),
    },
  };
}

export function floorWriterContract(
  name: string,
  makeHarness: () => Promise<FloorHarness & { close(): Promise<void> }>,
) {
  describe(`FloorWriter contract: ${name}`, () => {
    let harness: FloorHarness & { close(): Promise<void> };
    let dir: string;
    const writers: FloorWriter[] = [];
    let wcCount = 0;

    beforeAll(async () => {
      harness = await makeHarness();
      dir = mkdtempSync(join(tmpdir(), "sfb-floor-contract-"));
    });
    afterAll(async () => {
      await Promise.all(writers.map((w) => w.close()));
      await harness?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const setup = () => {
      const workcenter = `WC${++wcCount}`;
      const params = harness.targetParams(workcenter);
      const versions = new VersionStore(join(dir, `${workcenter}.json`));
      const writer = harness.makeWriter(versions);
      writers.push(writer);
      const target = { kind: harness.kind, params };
      const message = (version: number, orders: string[]) =>
        queueMessage(workcenter, version, orders, target, harness.depth);
      return { workcenter, params, versions, writer, message };
    };

    it("puts the queue on the floor in slot order, with its version", async () => {
      const { workcenter, params, writer, message } = setup();
      await writer.write(message(1, ["MO/001", "MO/002"]));
      const view = await harness.readFloor(workcenter, params);
      expect(view.version).toBe(1);
      expect(view.orders).toEqual(["MO/001", "MO/002", ...Array(harness.depth - 2).fill("")]);
      expect(view.priorities.slice(0, 2)).toEqual([1, 0]);
      expect(writer.floorWrites).toBe(1);
    });

    it("replaces a longer queue by a shorter one, clearing the slots left over", async () => {
      const { workcenter, params, writer, message } = setup();
      await writer.write(message(1, ["MO/001", "MO/002", "MO/003"].slice(0, harness.depth)));
      await writer.write(message(2, ["MO/003"]));
      const view = await harness.readFloor(workcenter, params);
      expect(view).toMatchObject({ version: 2, orders: ["MO/003", ...Array(harness.depth - 1).fill("")] });
    });

    it("never lets an older version overwrite a newer one, and writes a version once", async () => {
      const { workcenter, params, writer, message } = setup();
      await writer.write(message(5, ["MO/NEW"]));
      await writer.write(message(4, ["MO/OLD"]));
      await writer.write(message(5, ["MO/NEW"]));
      expect(writer.floorWrites).toBe(1);
      const view = await harness.readFloor(workcenter, params);
      expect(view).toMatchObject({ version: 5, orders: ["MO/NEW", ...Array(harness.depth - 1).fill("")] });
    });

    it("still refuses older versions after a restart (version kept in the spool dir)", async () => {
      const { workcenter, params, writer, versions, message } = setup();
      await writer.write(message(7, ["MO/SEVEN"]));
      await writer.close();
      const restarted = harness.makeWriter(new VersionStore(versions.path));
      writers.push(restarted);
      await restarted.write(message(6, ["MO/SIX"]));
      expect(restarted.floorWrites).toBe(0);
      await restarted.write(message(8, ["MO/EIGHT"]));
      const view = await harness.readFloor(workcenter, params);
      expect(view).toMatchObject({ version: 8, orders: ["MO/EIGHT", ...Array(harness.depth - 1).fill("")] });
    });

    it("fails a malformed message without retry and without touching the floor", async () => {
      const { writer, message } = setup();
      const bad = message(1, ["MO/001"]);
      bad.payload = { ...bad.payload, queue: "not a list" };
      const error = await writer.write(bad).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(FloorWriteError);
      expect((error as FloorWriteError).retryable).toBe(false);
      expect((error as FloorWriteError).message).toMatch(/queue must be a list/);
      expect(writer.floorWrites).toBe(0);
    });
  });
}
