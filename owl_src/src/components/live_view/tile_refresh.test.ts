import { expect, test } from "vitest";
import type { Timers } from "../../shared/live.ts";
import { TileRefresh } from "./tile_refresh.ts";

/** Timers driven by the test: `fire()` runs what is due, in order. */
class ManualTimers implements Timers {
  queue = new Map<number, () => void>();
  next = 1;
  setTimeout(fn: () => void): unknown {
    const handle = this.next++;
    this.queue.set(handle, fn);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number);
  }
  fire(): void {
    const due = [...this.queue.values()];
    this.queue.clear();
    for (const fn of due) fn();
  }
}

function deferredReader() {
  const calls: (number[] | null)[] = [];
  const resolvers: (() => void)[] = [];
  const read = (ids: number[] | null) => {
    calls.push(ids);
    return new Promise<void>((resolve) => resolvers.push(resolve));
  };
  const finish = async () => {
    resolvers.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { calls, read, finish };
}

test("messages arriving while a read runs are read together, each work center once", async () => {
  const timers = new ManualTimers();
  const reader = deferredReader();
  const refresh = new TileRefresh(reader.read, 1500, timers);
  refresh.changed([3]);
  refresh.changed([7, 3]);
  refresh.changed([5, 7]);
  expect(reader.calls).toEqual([[3]]);
  await reader.finish();
  expect(reader.calls).toEqual([[3], [3, 5, 7]]);
  await reader.finish();
  expect(reader.calls).toHaveLength(2);
  expect(refresh.reads).toBe(2);
});

test("a full read follows the last message of a burst, and replaces the queued partial reads", async () => {
  const timers = new ManualTimers();
  const reader = deferredReader();
  const refresh = new TileRefresh(reader.read, 1500, timers);
  refresh.changed([1]);
  refresh.changed([2]);
  timers.fire(); // the trailing read is due while the first read still runs
  await reader.finish();
  expect(reader.calls).toEqual([[1], null]);
  await reader.finish();
  expect(reader.calls).toEqual([[1], null]);
  expect(timers.queue.size).toBe(0);
});

test("ids that are not work center ids are ignored; a failed read does not stop the next", async () => {
  const calls: (number[] | null)[] = [];
  let fail = true;
  const refresh = new TileRefresh(
    async (ids) => {
      calls.push(ids);
      if (fail) {
        fail = false;
        throw new Error("network");
      }
    },
    1500,
    new ManualTimers(),
  );
  refresh.changed([0, -4, 2.5, Number.NaN]);
  expect(calls).toEqual([]);
  refresh.changed([4]);
  await refresh.settled();
  refresh.changed([6]);
  await refresh.settled();
  expect(calls).toEqual([[4], [6]]);
});

test("stopped, it reads nothing more and clears its timer", () => {
  const timers = new ManualTimers();
  const calls: unknown[] = [];
  const refresh = new TileRefresh(
    async (ids) => {
      calls.push(ids);
    },
    1500,
    timers,
  );
  refresh.stop();
  refresh.changed([1]);
  refresh.full();
  expect(calls).toEqual([]);
  expect(timers.queue.size).toBe(0);
});
