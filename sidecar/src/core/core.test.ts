import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay } from "./backoff.ts";
import { CircuitBreaker } from "./breaker.ts";
import { OffsetEstimator, SkewTracker, stampEvent } from "./clock.ts";
import type { CloudEvent } from "./contract.ts";
import { orderForDelivery, workcenterResolver } from "./order.ts";

describe("backoff", () => {
  it("grows exponentially up to the cap, with full jitter below the ceiling", () => {
    const policy = { baseMs: 100, maxMs: 5_000 };
    expect([0, 1, 2, 3, 10].map((a) => backoffCeiling(a, policy))).toEqual([100, 200, 400, 800, 5_000]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(799);
    expect(backoffDelay(1_000, policy, () => 0.5)).toBe(2_500);
  });
});

describe("CircuitBreaker", () => {
  it("opens after the threshold, half-opens after the open time, closes on success", () => {
    const b = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000 });
    expect(b.allows(0)).toBe(true);
    b.failure(0);
    expect(b.state.state).toBe("closed");
    b.failure(10);
    expect(b.state).toEqual({ state: "open", until: 1_010, failures: 2 });
    expect(b.allows(500)).toBe(false);
    expect(b.waitMs(500)).toBe(510);
    expect(b.allows(1_010)).toBe(true);
    expect(b.state.state).toBe("half-open");
    b.failure(1_020);
    expect(b.state.state).toBe("open");
    expect(b.allows(2_020)).toBe(true);
    b.success();
    expect(b.state).toEqual({ state: "closed", failures: 0 });
  });
});

describe("clock", () => {
  it("estimates the server offset from the shortest round trip", () => {
    const est = new OffsetEstimator();
    expect(est.offsetMs).toBe(0);
    est.add({ sentAt: 1_000, receivedAt: 1_400, serverTime: 6_100 }); // rtt 400 → 4_900
    est.add({ sentAt: 2_000, receivedAt: 2_020, serverTime: 7_010 }); // rtt 20 → 5_000
    expect(est.offsetMs).toBe(5_000);
    expect(est.uncertaintyMs).toBe(10);
    expect(est.canonical(10_000)).toBe(15_000);
  });

  it("tracks skew per source, flags beyond the bound and corrects by the median skew", () => {
    const skew = new SkewTracker();
    const policy = { bound_ms: 1_000, correct: true };
    expect(skew.observe("a", 10_000, 10_050, policy)).toEqual({ skewMs: 50, flagged: false });
    for (let i = 0; i < 5; i++) skew.observe("b", 10_000, 70_000, policy);
    const v = skew.observe("b", 20_000, 80_500, policy);
    expect(v.flagged).toBe(true);
    expect(v.correctedTime).toBe(80_000);
    expect(skew.flaggedSources.has("b")).toBe(true);
    expect(skew.flaggedSources.has("a")).toBe(false);
    expect(skew.maxAbsSkew()).toBe(60_000);
    expect(skew.observe("c", 0, 5_000, { bound_ms: 1_000, correct: false })).toEqual({ skewMs: 5_000, flagged: true });
  });

  it("stamps observedtime, connection, revision, and keeps the original time when it corrects", () => {
    const event: CloudEvent = {
      specversion: "1.0",
      id: "1",
      source: "press",
      type: "downtime.started",
      time: "2026-11-22T08:00:00.000Z",
      data: { reason_code: "JAM" },
    };
    const observed = Date.parse("2026-11-22T09:00:00.000Z");
    const skew = new SkewTracker();
    const stamped = stampEvent(event, {
      observedCanonicalMs: observed,
      connection: "line1",
      mappingRevision: 7,
      skew,
      policy: { bound_ms: 60_000, correct: true },
    });
    expect(stamped).toMatchObject({
      observedtime: "2026-11-22T09:00:00.000Z",
      connection: "line1",
      mappingrev: 7,
      skewms: 3_600_000,
      clockflag: true,
      origtime: "2026-11-22T08:00:00.000Z",
      time: "2026-11-22T09:00:00.000Z",
    });
    const inBound = stampEvent(event, {
      observedCanonicalMs: Date.parse(event.time) + 20,
      connection: "line1",
      mappingRevision: 7,
      skew: new SkewTracker(),
      policy: { bound_ms: 60_000, correct: true },
    });
    expect(inBound.time).toBe(event.time);
    expect(inBound.clockflag).toBeUndefined();
    expect(inBound.skewms).toBe(20);
  });
});

describe("order", () => {
  it("sorts each workcenter by time then arrival, workcenters by first arrival", () => {
    const items = [
      { seq: 1, workcenter: "B", timeMs: 50 },
      { seq: 2, workcenter: "A", timeMs: 30 },
      { seq: 3, workcenter: "B", timeMs: 10 },
      { seq: 4, workcenter: "A", timeMs: 30 },
      { seq: 5, workcenter: "A", timeMs: 20 },
    ];
    expect(orderForDelivery(items).map((i) => i.seq)).toEqual([3, 1, 5, 2, 4]);
  });

  it("maps sources to workcenters, unmapped sources to their own key", () => {
    const wc = workcenterResolver([{ source: "press-03", workcenter: "WC1" }]);
    expect(wc("press-03")).toBe("WC1");
    expect(wc("other")).toBe("source:other");
  });
});
