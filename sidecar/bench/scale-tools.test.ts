import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IngestItem, IngestResult } from "../src/core/contract.ts";
import type { OdooClient } from "../src/core/ports.ts";
import { percentile } from "./harness.ts";
import { dueAt, IngestProbe, latencySummary, perThousand, runPaced, worstBySecond } from "./scale-tools.ts";

/** A fake Odoo (named so): answers each ingest after `ms`, `applied` except for ids starting with "x". */
function fakeOdooAnsweringAfter(ms: (items: IngestItem[]) => number): OdooClient {
  const unused = () => Promise.reject(new Error("not used"));
  return {
    ingest: async (items) => {
      await new Promise((r) => setTimeout(r, ms(items)));
      return items.map(
        (item, i): IngestResult => ({
          id: String((item as { id: string }).id),
          source: String((item as { source: string }).source),
          status: String((item as { id: string }).id).startsWith("x") ? "failed" : "applied",
          event_id: i + 1,
          error: "",
        }),
      );
    },
    sidecarConfig: unused,
    heartbeat: unused,
    dispatchPull: unused,
    dispatchAck: unused,
    probePull: unused,
    probeAnswer: unused,
  };
}

const items = (...ids: string[]) => ids.map((id) => ({ id, source: "s" }) as unknown as IngestItem);

describe("IngestProbe", () => {
  it("sees one call at a time as 1 in flight, never more", async () => {
    const probe = new IngestProbe(fakeOdooAnsweringAfter(() => 5));
    await probe.client.ingest(items("a", "b"));
    await probe.client.ingest(items("c", "x1"));
    const stats = probe.stats();
    expect(stats).toMatchObject({ calls: 2, maxInFlight: 1, items: 4, statuses: { applied: 3, failed: 1 } });
    expect(stats.meanInFlight).toBeCloseTo(1, 5);
    expect([...probe.appliedAt.keys()].sort()).toEqual(["a", "b", "c"]);
  });

  it("measures overlapping calls as the parallelism that happened", async () => {
    const probe = new IngestProbe(fakeOdooAnsweringAfter(() => 40));
    await Promise.all([probe.client.ingest(items("a")), probe.client.ingest(items("b"))]);
    await probe.client.ingest(items("c"));
    const stats = probe.stats();
    expect(stats.maxInFlight).toBe(2);
    // 40 ms at 2, then 40 ms at 1: a mean near 1.5.
    expect(stats.meanInFlight).toBeGreaterThan(1.2);
    expect(stats.meanInFlight).toBeLessThan(1.8);
    probe.reset();
    expect(probe.stats()).toMatchObject({ calls: 0, maxInFlight: 0, items: 0 });
    expect(probe.appliedAt.size).toBe(0);
  });

  it("a failing call leaves nothing in flight", async () => {
    const broken: OdooClient = { ...fakeOdooAnsweringAfter(() => 0), ingest: () => Promise.reject(new Error("down")) };
    const probe = new IngestProbe(broken);
    await expect(probe.client.ingest(items("a"))).rejects.toThrow("down");
    await probe.client.ingest(items("b")).catch(() => {});
    expect(probe.stats()).toMatchObject({ calls: 2, maxInFlight: 1, items: 0 });
  });
});

describe("pacing", () => {
  it("dueAt spaces sends evenly and refuses a rate of 0", () => {
    expect(dueAt(1000, 0, 200)).toBe(1000);
    expect(dueAt(1000, 200, 200)).toBe(2000);
    expect(() => dueAt(0, 1, 0)).toThrow(/above 0/);
  });

  it("sends every event at or after its due time, late ones at once (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 10 }),
        async (count, rate, sendCosts) => {
          // A virtual clock: sleeping moves it, a send costs some ms.
          let now = 0;
          const sentAt: number[] = [];
          const run = await runPaced(
            count,
            rate,
            (i) => {
              sentAt.push(now);
              now += sendCosts[i % sendCosts.length] as number;
            },
            {
              now: () => now,
              sleep: async (ms) => {
                now += ms;
              },
            },
          );
          expect(sentAt).toHaveLength(count);
          for (let i = 0; i < count; i++) expect(sentAt[i]).toBeGreaterThanOrEqual(dueAt(0, i, rate) - 1);
          const lags = sentAt.map((at, i) => at - dueAt(0, i, rate));
          expect(run.maxLagMs).toBeCloseTo(Math.max(...lags), 6);
        },
      ),
    );
  });
});

describe("worstBySecond", () => {
  it("takes the worst latency of each second's events, an unapplied one until the end, an empty second as 0", () => {
    const published = new Map([
      ["a", 1000],
      ["b", 1500],
      ["c", 3200],
      ["d", 3900],
    ]);
    const applied = new Map([
      ["a", 1100],
      ["b", 1800],
      ["c", 3300],
    ]);
    expect(worstBySecond(published, applied, 5000)).toEqual([300, 0, 1100]);
  });

  it("takes a run of 500,000 events (more than one call's arguments)", () => {
    const published = new Map(Array.from({ length: 500_000 }, (_, i) => [`e${i}`, 1000 + i / 100] as const));
    expect(worstBySecond(published, new Map(), 7000)).toHaveLength(5);
  });
});

describe("latencySummary and percentiles", () => {
  it("percentile is the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("matches by id, and an event never applied counts with the time it had waited", () => {
    const published = new Map([
      ["a", 0],
      ["b", 10],
      ["c", 20],
    ]);
    const applied = new Map([
      ["a", 100],
      ["b", 30],
      ["zz", 5],
    ]);
    expect(latencySummary(published, applied, 1020)).toEqual({ p50: 100, p99: 1000, applied: 2, published: 3 });
  });

  it("never reports a lower p99 than the applied events alone give (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.option(fc.integer({ min: 0, max: 5_000 }))), {
          minLength: 1,
          maxLength: 200,
        }),
        (rows) => {
          const published = new Map(rows.map(([at], i) => [`e${i}`, at]));
          const applied = new Map<string, number>();
          rows.forEach(([at, took], i) => {
            if (took !== null) applied.set(`e${i}`, at + took);
          });
          const endedAt = 20_000;
          const summary = latencySummary(published, applied, endedAt);
          const onlyApplied = rows
            .filter(([, took]) => took !== null)
            .map(([, took]) => took as number)
            .sort((a, b) => a - b);
          expect(summary.applied).toBe(onlyApplied.length);
          if (onlyApplied.length > 0) expect(summary.p99).toBeGreaterThanOrEqual(percentile(onlyApplied, 99));
        },
      ),
    );
  });

  it("perThousand scales CPU seconds to 1,000 events and is NaN for none", () => {
    expect(perThousand(2.5, 500)).toBe(5);
    expect(perThousand(1, 0)).toBeNaN();
  });
});
