// Partitioned delivery over a fake Odoo that answers after random
// latencies, fails at random, and checks on every call that no workcenter is
// in two calls at once. (A fake: real Odoo cannot be made to fail at chosen
// moments; the real one is driven in delivery.int.test.ts and the e2e.)
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemorySpool } from "../test/support/spool/memory-spool.ts";
import { event as contractEvent } from "../test/support/spool/spool.contract.ts";
import type { CloudEvent, IngestItem, IngestResult } from "./core/contract.ts";
import type { OdooClient } from "./core/ports.ts";
import { assignSlots, CatchupMode, Delivery, type DeliveryOptions, DrainMeter } from "./delivery.ts";
import { OdooFault, OdooTransportError } from "./odoo/errors.ts";
import type { DeliveryOutcome, SpoolEntry } from "./spool/spool.ts";

/** A production report of `source`'s own order (`order`: another one, shared with other work centers). */
function event(n: number, source = "press-1", order = `MO-${source}`) {
  const record = contractEvent(n, source);
  const item = record.item as CloudEvent;
  item.data = { ...(item.data as Record<string, unknown>), order };
  return record;
}

type Fault = "none" | "retry" | "unreachable" | "busy" | "lost_answer";

/** A fake Odoo with latency and chosen faults; stores each (source, id) once, as Odoo does. */
class FakeConcurrentOdoo {
  /** Event ids in the order they were first stored, per workcenter (source). */
  readonly stored = new Map<string, string[]>();
  readonly #keys = new Map<string, number>();
  readonly #inCall = new Set<string>();
  /** Set when two calls carried one workcenter at once. */
  overlap: string | undefined;
  calls = 0;
  concurrent = 0;
  maxConcurrent = 0;
  /** Poisoned event ids: a call carrying one faults as a whole. */
  readonly poisoned = new Set<string>();
  /** What the next calls do, then "none". */
  faults: Fault[] = [];
  latencies: number[] = [];
  /** Workcenters (sources) whose every call fails with `retry` while set. */
  readonly conflicting = new Set<string>();
  /** Workcenters whose call fails with `retry` when another call is in flight beside it (as two transactions on one row). */
  readonly conflictingBeside = new Set<string>();
  /** Sources in the order their events were first stored. */
  readonly storedOrder: string[] = [];

  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    this.calls++;
    const sources = new Set(items.filter((i) => !("rejected" in i)).map((i) => i.source));
    for (const s of sources) {
      if (this.#inCall.has(s)) this.overlap = s;
      this.#inCall.add(s);
    }
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    const beside = [...sources].some((s) => this.conflictingBeside.has(s));
    let crowded = beside && this.concurrent > 1;
    try {
      const fault = this.faults.shift() ?? "none";
      await new Promise((r) => setTimeout(r, this.latencies.shift() ?? 0));
      crowded ||= beside && this.concurrent > 1;
      if (crowded) {
        throw new OdooFault(
          "could not serialize access due to concurrent update",
          "retry",
          "psycopg2.errors.SerializationFailure",
        );
      }
      if (fault === "unreachable") throw new OdooTransportError("fetch failed (ECONNREFUSED)", "unreachable");
      if (fault === "busy") throw new OdooTransportError("This operation was aborted", "busy");
      if (fault === "retry" || [...sources].some((s) => this.conflicting.has(s))) {
        throw new OdooFault(
          "could not serialize access due to concurrent update",
          "retry",
          "psycopg2.errors.SerializationFailure",
        );
      }
      const bad = items.find((i) => this.poisoned.has(i.id));
      if (bad) throw new OdooFault(`integer out of range in ${bad.id}`, "item_rejected", "psycopg2.errors.DataError");
      const results = items.map((i) => {
        const key = JSON.stringify([i.source, i.id]);
        const known = this.#keys.get(key);
        if (known !== undefined) return { id: i.id, source: i.source, status: "duplicate", event_id: known, error: "" };
        const id = this.#keys.size + 1;
        this.#keys.set(key, id);
        if (!("rejected" in i)) {
          const list = this.stored.get(i.source) ?? [];
          list.push(i.id);
          this.storedOrder.push(i.source);
          this.stored.set(i.source, list);
        }
        return {
          id: i.id,
          source: i.source,
          status: "rejected" in i ? "rejected" : "applied",
          event_id: id,
          error: "",
        };
      }) as IngestResult[];
      // Stored, but the answer never came back: the resend finds them as duplicates.
      if (fault === "lost_answer") throw new OdooTransportError("the answer timed out", "busy");
      return results;
    } finally {
      this.concurrent--;
      for (const s of sources) this.#inCall.delete(s);
    }
  }
}

/** A MemorySpool that counts how often each row was recorded as delivered. */
class CountingSpool extends MemorySpool {
  readonly deliveredTimes = new Map<number, number>();
  override async markDelivered(outcomes: DeliveryOutcome[]): Promise<void> {
    for (const o of outcomes) this.deliveredTimes.set(o.seq, (this.deliveredTimes.get(o.seq) ?? 0) + 1);
    return super.markDelivered(outcomes);
  }
}

function deliveryOver(odoo: FakeConcurrentOdoo, spool: MemorySpool, extra: Partial<DeliveryOptions> = {}) {
  const delivery = new Delivery({
    spool,
    odoo: odoo as unknown as OdooClient,
    batchSize: 4,
    batchWaitMs: 0,
    partitions: 3,
    backoff: { baseMs: 1, maxMs: 4 },
    random: () => 1,
    affinityWarmupEvents: 0, // what the affinity learns holds from the first event (warm-up: its own test)
    ...extra,
  });
  delivery.breaker.policy.openMs = 2;
  return delivery;
}

/** Runs `delivery` until `spool` has nothing queued (within `timeout` ms), then stops it. */
async function deliverAll(delivery: Delivery, spool: MemorySpool, timeout = 5_000): Promise<void> {
  delivery.start();
  await expect.poll(async () => (await spool.stats()).queued, { timeout }).toBe(0);
  await delivery.stop();
}

/** Each of `sources` got its `count` events stored, in the order they were spooled (ids ev-<seq>). */
function expectStoredInArrivalOrder(odoo: FakeConcurrentOdoo, sources: readonly string[], count: number): void {
  for (const s of sources) {
    const ids = odoo.stored.get(s) ?? [];
    expect(ids).toEqual([...ids].sort((x, y) => Number(x.slice(3)) - Number(y.slice(3))));
    expect(ids).toHaveLength(count);
  }
}

function entry(seq: number, workcenter: string): SpoolEntry {
  return {
    ...event(seq, workcenter.replace(/^wc:/, "")),
    seq,
    source: workcenter,
    eventId: `ev-${seq}`,
    bytes: 10,
    st: { state: "queued", attempts: 0, lastError: "" },
  };
}

describe("assignSlots", () => {
  const seqsOf = (batches: SpoolEntry[][]) => batches.map((b) => b.map((e) => e.seq));

  it("hands each workcenter whole to the emptiest slot, oldest workcenter first", () => {
    const window = ["a", "b", "a", "c", "b", "d", "a"].map((wc, i) => entry(i + 1, `wc:${wc}`));
    // a (1,3,7) → slot 0; b (2,5) → slot 1; c (4) → slot 1 (2 < 3); d (6) → slot 1 is at 3, slot 0 at 3: first.
    expect(seqsOf(assignSlots(window, 2, 4))).toEqual([
      [1, 3, 6, 7],
      [2, 4, 5],
    ]);
  });

  it("gives one workcenter with a large backlog one slot, its oldest entries first, never two", () => {
    const window = Array.from({ length: 10 }, (_, i) => entry(i + 1, "wc:a"));
    expect(seqsOf(assignSlots(window, 3, 4))).toEqual([[1, 2, 3, 4]]);
  });

  it("with one slot takes the window's oldest entries, as the single batch did", () => {
    const window = ["a", "b", "a", "c"].map((wc, i) => entry(i + 1, `wc:${wc}`));
    expect(seqsOf(assignSlots(window, 1, 4))).toEqual([[1, 2, 3, 4]]);
  });

  it("takes a prefix of every workcenter it carries (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "c", "d", "e"), { maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 12 }),
        (wcs, slots, limit) => {
          const window = wcs.map((wc, i) => entry(i + 1, `wc:${wc}`));
          const batches = assignSlots(window, slots, limit);
          expect(batches.length).toBeLessThanOrEqual(slots);
          const seen = new Map<string, number>();
          for (const batch of batches) {
            expect(batch.length).toBeLessThanOrEqual(limit);
            expect(batch.map((e) => e.seq)).toEqual([...batch.map((e) => e.seq)].sort((x, y) => x - y));
            for (const wc of new Set(batch.map((e) => e.workcenter))) {
              expect(seen.has(wc)).toBe(false);
              seen.set(wc, 1);
              const mine = batch.filter((e) => e.workcenter === wc).map((e) => e.seq);
              const all = window.filter((e) => e.workcenter === wc).map((e) => e.seq);
              expect(mine).toEqual(all.slice(0, mine.length));
            }
          }
          // A workcenter is left out only when every slot is full.
          if (seen.size < new Set(wcs).size) {
            expect(batches).toHaveLength(slots);
            expect(batches.every((b) => b.length === limit)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("assignSlots with groups of workcenters", () => {
  it("hands a group whole to one slot and keeps a prefix of each of its workcenters (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f"), { maxLength: 60 }),
        fc.dictionary(fc.constantFrom("a", "b", "c", "d", "e", "f"), fc.constantFrom("g1", "g2", "g3")),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        (wcs, grouping, slots, limit) => {
          const groupOf = (wc: string) => grouping[wc.slice(3)] ?? wc;
          const window = wcs.map((wc, i) => entry(i + 1, `wc:${wc}`));
          const batches = assignSlots(window, slots, limit, groupOf);
          expect(batches.length).toBeLessThanOrEqual(slots);
          const slotOfGroup = new Map<string, number>();
          batches.forEach((batch, slot) => {
            expect(batch.length).toBeLessThanOrEqual(limit);
            for (const e of batch) {
              const group = groupOf(e.workcenter);
              expect(slotOfGroup.get(group) ?? slot).toBe(slot);
              slotOfGroup.set(group, slot);
            }
            for (const wc of new Set(batch.map((e) => e.workcenter))) {
              const mine = batch.filter((e) => e.workcenter === wc).map((e) => e.seq);
              const all = window.filter((e) => e.workcenter === wc).map((e) => e.seq);
              expect(mine).toEqual(all.slice(0, mine.length));
            }
          });
        },
      ),
    );
  });
});

describe("CatchupMode", () => {
  it("switches on at the threshold and off only under half of it, so a backlog around it does not flap", () => {
    const mode = new CatchupMode(1_000);
    const seen = [900, 1_000, 999, 700, 501, 500, 499, 900, 1_200].map((backlog) => {
      mode.update(backlog);
      return mode.on;
    });
    expect(seen).toEqual([false, true, true, true, true, true, false, false, true]);
  });

  it("never switches on when the threshold is 0 (catch-up off)", () => {
    const mode = new CatchupMode(0);
    expect(mode.update(10_000_000)).toBe(false);
    expect(mode.on).toBe(false);
  });
});

describe("DrainMeter", () => {
  it("measures the rate over the last window and estimates the time to drain", () => {
    const meter = new DrainMeter(60_000, 0);
    expect(meter.etaSeconds(100, 1_000)).toBeUndefined();
    expect(meter.etaSeconds(0, 1_000)).toBe(0);
    for (let t = 1; t <= 120; t++) meter.add(t <= 60 ? 100 : 50, t * 1_000);
    // The last minute (61–120 s) drained 50/s.
    expect(meter.rate(120_000)).toBe(50);
    expect(meter.etaSeconds(30_000, 120_000)).toBe(600);
    // Nothing drained for a window: no estimate.
    expect(meter.rate(181_000)).toBe(0);
    expect(meter.etaSeconds(30_000, 181_000)).toBeUndefined();
  });

  it("counts over the time since it started while that is shorter than the window", () => {
    const meter = new DrainMeter(60_000, 0);
    meter.add(200, 9_000);
    meter.add(200, 10_000);
    expect(meter.rate(10_000)).toBe(40);
  });
});

describe("Delivery with partitions", () => {
  it("runs several batches at once, never one workcenter in two, each workcenter in arrival order", async () => {
    const odoo = new FakeConcurrentOdoo();
    odoo.latencies = Array.from({ length: 200 }, (_, i) => 2 + (i % 5) * 3);
    const spool = new CountingSpool();
    const sources = ["a", "b", "c", "d", "e", "f"];
    await spool.append(Array.from({ length: 120 }, (_, i) => event(i + 1, sources[i % sources.length])));
    const delivery = deliveryOver(odoo, spool);
    await deliverAll(delivery, spool);
    expect(odoo.overlap).toBeUndefined();
    expect(odoo.maxConcurrent).toBe(3);
    expect(delivery.counters.maxInFlight).toBe(3);
    expectStoredInArrivalOrder(odoo, sources, 20);
  });

  it("keeps workcenters that share an order in one partition: never in two calls at once", async () => {
    // Press and assembly of line 1 work on MO-1, those of line 2 on MO-2: two
    // partitions, one per line, never one per workcenter, which would write one
    // order's rows in Odoo from two transactions at once.
    const odoo = new FakeConcurrentOdoo();
    odoo.latencies = Array.from({ length: 200 }, (_, i) => 2 + (i % 5) * 3);
    const spool = new CountingSpool();
    const lines = { "press-1": "MO-1", "assembly-1": "MO-1", "press-2": "MO-2", "assembly-2": "MO-2" };
    const sources = Object.keys(lines) as (keyof typeof lines)[];
    await spool.append(
      Array.from({ length: 160 }, (_, i) => {
        const source = sources[i % sources.length] as keyof typeof lines;
        return event(i + 1, source, lines[source]);
      }),
    );
    const delivery = deliveryOver(odoo, spool);
    const lineOf = (source: string) => lines[source as keyof typeof lines];
    const concurrentLines: string[][] = [];
    const inCall = new Map<number, string>();
    let callIds = 0;
    const ingest = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      const id = ++callIds;
      const callLines = [...new Set(items.map((i) => lineOf(i.source)))];
      // A call carries whole lines; no other call in flight carries the same line.
      for (const line of inCall.values()) concurrentLines.push([line, ...callLines]);
      inCall.set(id, callLines.join(","));
      try {
        return await ingest(items);
      } finally {
        inCall.delete(id);
      }
    };
    await deliverAll(delivery, spool);
    expect(odoo.overlap).toBeUndefined();
    // The first window teaches the groups: from then on a line is never in two calls at once.
    const afterFirst = concurrentLines.filter((pair) => !pair[0]?.includes(","));
    for (const [running, ...started] of afterFirst) expect(started).not.toContain(running);
    expect(odoo.maxConcurrent).toBe(2);
    expect(delivery.affinity.membersOf("wc:press-1")).toEqual(["wc:assembly-1", "wc:press-1"]);
    expect(delivery.affinity.groups).toBe(2);
    expectStoredInArrivalOrder(odoo, sources, 40);
  });

  it("learns before it splits: one call at a time until the affinity has watched every workcenter", async () => {
    // Two lines with orders of their own: independent, but the delivery cannot know that
    // before it has seen their events (a line may book the other's material).
    const spool = new CountingSpool();
    await spool.append(Array.from({ length: 160 }, (_, i) => event(i + 1, i % 2 ? "press-2" : "press-1")));
    const seen: { warmingUp: boolean; beside: number }[] = [];
    const odoo = new (class extends FakeConcurrentOdoo {
      override async ingest(items: IngestItem[]): Promise<IngestResult[]> {
        seen.push({ warmingUp: delivery.affinity.warmingUp, beside: this.concurrent });
        return super.ingest(items);
      }
    })();
    odoo.latencies = Array.from({ length: 200 }, () => 3);
    const delivery = deliveryOver(odoo, spool, { affinityWarmupEvents: 12 });
    await deliverAll(delivery, spool);
    expect(seen.filter((call) => call.warmingUp).length).toBeGreaterThan(0);
    expect(seen.filter((call) => call.warmingUp && call.beside > 0)).toEqual([]);
    expect(odoo.maxConcurrent).toBe(2); // once watched, the two lines go side by side
    expectStoredInArrivalOrder(odoo, ["press-1", "press-2"], 80);
  });

  it("with affinity off, treats workcenters sharing an order as independent partitions", async () => {
    const odoo = new FakeConcurrentOdoo();
    odoo.latencies = Array.from({ length: 100 }, () => 5);
    const spool = new CountingSpool();
    await spool.append(Array.from({ length: 40 }, (_, i) => event(i + 1, i % 2 === 0 ? "a" : "b", "MO-1")));
    const delivery = deliveryOver(odoo, spool, { affinity: false });
    await deliverAll(delivery, spool);
    expect(delivery.affinity.groups).toBe(0);
    expect(odoo.maxConcurrent).toBe(2);
    expect(odoo.overlap).toBeUndefined();
  });

  it("retries a batch that lost a conflict alone, so a busy partition beside it cannot starve it", async () => {
    // "a" loses every conflict it meets: its call fails whenever another call is in flight
    // beside it, as the second of two transactions writing one row. "b" always has work.
    const odoo = new FakeConcurrentOdoo();
    odoo.conflictingBeside.add("a");
    odoo.latencies = Array.from({ length: 1_000 }, () => 3);
    const spool = new CountingSpool();
    // a's ten events come first, alternating with b's; then b has 180 more.
    await spool.append(Array.from({ length: 200 }, (_, i) => event(i + 1, i < 20 && i % 2 === 0 ? "a" : "b")));
    const delivery = deliveryOver(odoo, spool, { partitions: 2, backoff: { baseMs: 5, maxMs: 10 } });
    await deliverAll(delivery, spool, 10_000);
    expect(odoo.stored.get("a")).toHaveLength(10);
    expect(odoo.stored.get("b")).toHaveLength(190);
    // Each lost conflict is followed by a retry alone: "a" is through long before "b" is.
    const lastA = odoo.storedOrder.lastIndexOf("a");
    const bBefore = odoo.storedOrder.slice(0, lastA).filter((s) => s === "b").length;
    expect(bBefore).toBeLessThan(60);
    expect(delivery.counters.conflicts).toBeGreaterThan(0);
    expect(delivery.counters.maxInFlight).toBe(2);
  });

  it("holds only the workcenters of a batch that hit a database conflict; the others flow on", async () => {
    const odoo = new FakeConcurrentOdoo();
    odoo.conflicting.add("a");
    const spool = new CountingSpool();
    const errors: string[] = [];
    const delivery = deliveryOver(odoo, spool, {
      partitions: 2,
      backoff: { baseMs: 20, maxMs: 40 },
      onError: (_e, _attempt, _retryIn, code) => errors.push(code),
    });
    await spool.append(Array.from({ length: 40 }, (_, i) => event(i + 1, i % 2 === 0 ? "a" : "b")));
    delivery.start();
    await expect.poll(() => odoo.stored.get("b")?.length ?? 0, { timeout: 5_000 }).toBe(20);
    expect(odoo.stored.get("a")).toBeUndefined();
    expect(errors.every((c) => c === "retry")).toBe(true);
    expect(delivery.breaker.state.state).toBe("closed");
    odoo.conflicting.clear();
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
    expect(odoo.stored.get("a")).toEqual(Array.from({ length: 20 }, (_, i) => `ev-${2 * i + 1}`));
    expect(delivery.counters.conflicts).toBe(errors.length);
    // Not counted as Odoo down, but counted against the items (a conflict that never resolves parks them).
    expect((await spool.list("delivered", 100)).every((e) => e.st.state === "delivered")).toBe(true);
  });

  it("stops every partition while Odoo is unreachable and lets one probe out when the breaker half-opens", async () => {
    const odoo = new FakeConcurrentOdoo();
    odoo.faults = ["unreachable", "unreachable", "unreachable", "unreachable", "unreachable", "unreachable"];
    odoo.latencies = Array.from({ length: 50 }, () => 5);
    const spool = new CountingSpool();
    const delivery = deliveryOver(odoo, spool, { partitions: 3, backoff: { baseMs: 5, maxMs: 10 } });
    delivery.breaker.policy.openMs = 30;
    await spool.append(Array.from({ length: 60 }, (_, i) => event(i + 1, `m${i % 6}`)));
    const probes: number[] = [];
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      if (delivery.breaker.state.state === "half-open") probes.push(odoo.concurrent + 1);
      return original(items);
    };
    await deliverAll(delivery, spool);
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((n) => n === 1)).toBe(true);
    expect([...spool.deliveredTimes.values()].every((n) => n === 1)).toBe(true);
  });

  it("keeps per-workcenter order and records every outcome exactly once under random latencies and faults (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", "b", "c", "d"), { minLength: 1, maxLength: 50 }),
        fc.array(fc.constantFrom<Fault>("none", "none", "none", "retry", "unreachable", "busy", "lost_answer"), {
          maxLength: 30,
        }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        async (sources, faults, latencies, partitions, batchSize, poison) => {
          const odoo = new FakeConcurrentOdoo();
          odoo.faults = faults;
          odoo.latencies = latencies;
          if (poison !== undefined && poison <= sources.length) odoo.poisoned.add(`ev-${poison}`);
          const spool = new CountingSpool({ maxAttempts: 1_000 });
          const delivery = deliveryOver(odoo, spool, { partitions, batchSize });
          // Arrivals in two waves, the second while the first is in flight.
          const half = Math.ceil(sources.length / 2);
          await spool.append(sources.slice(0, half).map((s, i) => event(i + 1, s)));
          delivery.start();
          await new Promise((r) => setTimeout(r, 3));
          await spool.append(sources.slice(half).map((s, i) => event(half + i + 1, s)));
          delivery.notify();
          await expect.poll(async () => (await spool.stats()).queued, { timeout: 10_000, interval: 5 }).toBe(0);
          await delivery.stop();
          expect(odoo.overlap).toBeUndefined();
          // Exactly once: every row recorded as delivered once, nothing parked or lost.
          expect([...spool.deliveredTimes.keys()].sort((x, y) => x - y)).toEqual(
            Array.from({ length: sources.length }, (_, i) => i + 1),
          );
          expect([...spool.deliveredTimes.values()].every((n) => n === 1)).toBe(true);
          // Per workcenter, Odoo stored the events in arrival order (their times rise with arrival).
          for (const s of new Set(sources)) {
            const expected = sources
              .map((src, i) => (src === s ? `ev-${i + 1}` : undefined))
              .filter((id): id is string => id !== undefined && !odoo.poisoned.has(id));
            expect(odoo.stored.get(s) ?? []).toEqual(expected);
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});

describe("Delivery's reads of the spool", () => {
  it("does not scan a busy workcenter's whole backlog again after every batch when nothing else waits", async () => {
    const odoo = new FakeConcurrentOdoo();
    let skippingReads = 0;
    const spool = new (class extends CountingSpool {
      override async queued(limit: number, exclude?: ReadonlySet<number>, skip?: ReadonlySet<string>) {
        if (skip && skip.size > 0) skippingReads++;
        return super.queued(limit, exclude, skip);
      }
    })();
    await spool.append(Array.from({ length: 200 }, (_, i) => event(i + 1, "a")));
    const delivery = deliveryOver(odoo, spool, { partitions: 2, batchSize: 5 });
    const started = Date.now();
    await deliverAll(delivery, spool, 10_000);
    expect(delivery.counters.batches).toBe(40);
    // One read that found nothing, then again only once a second (or when something new is spooled).
    expect(skippingReads).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 1_000));
    expect(odoo.stored.get("a")).toEqual(Array.from({ length: 200 }, (_, i) => `ev-${i + 1}`));
  });

  it("reads again soon when new items are spooled while a workcenter is busy", async () => {
    const odoo = new FakeConcurrentOdoo();
    odoo.latencies = Array.from({ length: 100 }, () => 80);
    const spool = new CountingSpool();
    await spool.append(Array.from({ length: 20 }, (_, i) => event(i + 1, "a")));
    const delivery = deliveryOver(odoo, spool, { partitions: 2, batchSize: 5 });
    delivery.start();
    await new Promise((r) => setTimeout(r, 10));
    await spool.append([event(100, "b")]);
    delivery.notify();
    // b goes out in the free slot within EMPTY_WINDOW_MS, while a's 4 batches of 80 ms are still going.
    await expect.poll(() => odoo.stored.get("b")?.length ?? 0, { timeout: 1_000, interval: 5 }).toBe(1);
    expect(odoo.stored.get("a")?.length ?? 0).toBeLessThan(20);
    await expect.poll(async () => (await spool.stats()).queued, { timeout: 5_000 }).toBe(0);
    await delivery.stop();
  });
});

describe("Delivery in catch-up mode", () => {
  it("uses the catch-up size while the backlog is large, says so, and goes back to the configured size", async () => {
    const odoo = new FakeConcurrentOdoo();
    const spool = new CountingSpool();
    const sizes: number[] = [];
    const modes: boolean[] = [];
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      sizes.push(items.length);
      return original(items);
    };
    await spool.append(Array.from({ length: 100 }, (_, i) => event(i + 1, `m${i % 2}`)));
    let backlog = 100;
    const delivery = deliveryOver(odoo, spool, {
      partitions: 1,
      batchSize: 5,
      catchupBacklog: 60,
      catchupSize: 20,
      backlog: () => backlog,
      onCatchup: (on) => modes.push(on),
      onBatch: (r) => {
        backlog -= r.size;
      },
    });
    await deliverAll(delivery, spool);
    // 100 → 80 → 60 → 40 → 20 (< 30: catch-up over) → 5-sized batches.
    expect(sizes).toEqual([20, 20, 20, 20, 5, 5, 5, 5]);
    expect(modes).toEqual([true, false]);
    expect(delivery.catchingUp).toBe(false);
    expect(delivery.drainStats(0).etaS).toBe(0);
  });

  it("still halves catch-up batches Odoo cannot take in one request", async () => {
    const odoo = new FakeConcurrentOdoo();
    const spool = new CountingSpool();
    const sizes: number[] = [];
    const original = odoo.ingest.bind(odoo);
    odoo.ingest = async (items) => {
      sizes.push(items.length);
      if (items.length > 12) throw new OdooTransportError("This operation was aborted", "busy");
      return original(items);
    };
    await spool.append(Array.from({ length: 40 }, (_, i) => event(i + 1)));
    const delivery = deliveryOver(odoo, spool, {
      partitions: 1,
      batchSize: 4,
      catchupBacklog: 10,
      catchupSize: 32,
      backlog: () => 1_000,
    });
    await deliverAll(delivery, spool);
    expect(sizes.slice(0, 3)).toEqual([32, 16, 8]);
    expect(delivery.catchingUp).toBe(true);
    expect(delivery.counters.shrinks).toBe(2);
  });
});
