import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EPOCH, interleave, type Stream } from "./plant-mix.ts";

const stream = (n: number): Stream => ({
  source: `plant1/line${n}/press`,
  order: `WH/MO/0000${n}`,
  operation: "Stamping",
  workcenterCode: `WC${n}`,
  material: "RM",
  materialCode: "RM",
  materialQty: 1,
  materialUom: "PCS",
});

describe("the realistic mix", () => {
  it("interleaves the streams round-robin, each starting its work order, ids unique per run", () => {
    const streams = [stream(1), stream(2), stream(3), stream(4)];
    const events = interleave(streams, "t", 400);
    expect(events).toHaveLength(400);
    expect(events.slice(0, 4).map((e) => [e.source, e.type])).toEqual(
      streams.map((s) => [s.source, "workorder.started"]),
    );
    expect(new Set(events.map((e) => e.id)).size).toBe(400);
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      "production.reported",
      "quality.result",
      "material.consumed",
      "downtime.started",
      "downtime.ended",
    ]) {
      expect(types).toContain(t);
    }
  });

  it("each stream's events go forward in time from the run's epoch, and a stop's end names its start (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        (streamCount, total, shift) => {
          const epoch = EPOCH + shift;
          const events = interleave(
            Array.from({ length: streamCount }, (_, i) => stream(i)),
            "p",
            total,
            epoch,
          );
          expect(events).toHaveLength(total);
          const last = new Map<string, number>();
          const open = new Map<string, string>();
          for (const e of events) {
            const t = Date.parse(e.time);
            expect(t).toBeGreaterThan(last.get(e.source) ?? epoch);
            last.set(e.source, t);
            if (e.type === "downtime.started") open.set(e.source, String(e.data.downtime_id));
            if (e.type === "downtime.ended") expect(e.data.downtime_id).toBe(open.get(e.source));
          }
        },
      ),
    );
  });
});
