import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RowAffinity } from "./affinity.ts";

const on = (workcenter: string, order?: unknown) => ({
  workcenter,
  item: { specversion: "1.0", id: "x", source: workcenter, type: "production.reported", data: { order } },
});

describe("RowAffinity", () => {
  it("groups the workcenters of one order, and the groups they join through others", () => {
    const affinity = new RowAffinity({ warmupEvents: 0 });
    affinity.learn([on("press-1", "MO-1"), on("assembly-1", "MO-1"), on("press-2", "MO-2"), on("paint", "MO-3")]);
    expect(affinity.membersOf("press-1")).toEqual(["assembly-1", "press-1"]);
    expect(affinity.groupOf("press-1")).toBe("assembly-1");
    expect(affinity.groupOf("assembly-1")).toBe("assembly-1");
    expect(affinity.membersOf("press-2")).toEqual(["press-2"]);
    expect(affinity.groups).toBe(1);
    // MO-4 runs on press-2 and the assembly: line 1's group takes press-2 in.
    affinity.learn([on("press-2", "MO-4"), on("assembly-1", "MO-4")]);
    expect(affinity.membersOf("press-2")).toEqual(["assembly-1", "press-1", "press-2"]);
    expect(affinity.membersOf("paint")).toEqual(["paint"]);
  });

  it("groups the workcenters that book one material, and keeps orders and materials apart as keys", () => {
    const affinity = new RowAffinity({ warmupEvents: 0 });
    const booking = (workcenter: string, material: string, order?: string) => ({
      workcenter,
      item: { data: { order, material, qty: 1 } },
    });
    // Both presses book the steel; an order named like the material links nothing.
    affinity.learn([booking("press-1", "STEEL", "MO-1"), booking("press-2", "STEEL", "MO-2"), on("paint", "STEEL")]);
    expect(affinity.membersOf("press-1")).toEqual(["press-1", "press-2"]);
    expect(affinity.membersOf("paint")).toEqual(["paint"]);
    // The assembly of MO-1 joins through the order.
    affinity.learn([on("assembly-1", "MO-1")]);
    expect(affinity.membersOf("press-2")).toEqual(["assembly-1", "press-1", "press-2"]);
  });

  it("learns nothing from events without an order, rejected input or odd values", () => {
    const affinity = new RowAffinity({ warmupEvents: 0 });
    affinity.learn([
      on("a"),
      on("b"),
      on("a", ""),
      on("b", ""),
      on("a", 7),
      on("b", 7),
      { workcenter: "a", item: { rejected: true, id: "r", source: "a" } },
      { workcenter: "b", item: null },
      { workcenter: "a", item: { data: "MO-1" } },
    ]);
    expect(affinity.groups).toBe(0);
    expect(affinity.groupOf("a")).toBe("a");
  });

  it("forgets an order not seen for the ttl: a workcenter that moved to another line leaves its group", () => {
    let now = 0;
    const affinity = new RowAffinity({ ttlMs: 1_000, now: () => now, warmupEvents: 0 });
    affinity.learn([on("press-1", "MO-1"), on("assembly-1", "MO-1")]);
    now = 600;
    affinity.learn([on("press-1", "MO-5"), on("assembly-2", "MO-5")]);
    expect(affinity.membersOf("press-1")).toEqual(["assembly-1", "assembly-2", "press-1"]);
    now = 1_200; // MO-1 is 1.2 s old, MO-5 0.6 s
    affinity.learn([]);
    expect(affinity.membersOf("press-1")).toEqual(["assembly-2", "press-1"]);
    expect(affinity.membersOf("assembly-1")).toEqual(["assembly-1"]);
    // Seen again, an order stays.
    now = 1_500;
    affinity.learn([on("press-1", "MO-5")]);
    now = 2_400;
    affinity.learn([]);
    expect(affinity.membersOf("press-1")).toEqual(["assembly-2", "press-1"]);
  });

  it("remembers at most maxKeys orders and materials, forgetting the least recently seen", () => {
    const affinity = new RowAffinity({ maxKeys: 2, warmupEvents: 0 });
    affinity.learn([on("a", "MO-1"), on("b", "MO-1"), on("c", "MO-2"), on("d", "MO-2")]);
    affinity.learn([on("a", "MO-1")]); // MO-1 seen again: MO-2 is now the oldest
    affinity.learn([on("e", "MO-3"), on("f", "MO-3")]);
    expect(affinity.membersOf("a")).toEqual(["a", "b"]);
    expect(affinity.membersOf("c")).toEqual(["c"]);
    expect(affinity.membersOf("e")).toEqual(["e", "f"]);
  });

  it("puts two workcenters in one group exactly when a chain of orders links them (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "f"), fc.constantFrom("o1", "o2", "o3", "o4")), {
          maxLength: 30,
        }),
        (pairs) => {
          const affinity = new RowAffinity({ warmupEvents: 0 });
          // Learned in several windows, as delivery reads them.
          for (let i = 0; i < pairs.length; i += 4) affinity.learn(pairs.slice(i, i + 4).map(([wc, o]) => on(wc, o)));
          const linked = (x: string, y: string): boolean => {
            const seen = new Set([x]);
            const todo = [x];
            while (todo.length > 0) {
              const wc = todo.pop() as string;
              for (const [w, o] of pairs) {
                if (w !== wc) continue;
                for (const [other, o2] of pairs) {
                  if (o2 === o && !seen.has(other)) {
                    seen.add(other);
                    todo.push(other);
                  }
                }
              }
            }
            return seen.has(y);
          };
          for (const x of "abcdef") {
            for (const y of "abcdef") {
              expect(affinity.groupOf(x) === affinity.groupOf(y)).toBe(x === y || linked(x, y));
            }
            expect(affinity.membersOf(x)).toContain(x);
          }
        },
      ),
    );
  });

  it("learns before it splits: every work center in one group until each has shown warmupEvents events", () => {
    const affinity = new RowAffinity({ warmupEvents: 3 });
    const quiet = (workcenter: string) => ({ workcenter, item: { data: {} } }); // teaches no link
    affinity.learn([on("press-1", "MO-1"), quiet("press-2")]);
    expect(affinity.warmingUp).toBe(true);
    expect(affinity.membersOf("press-1")).toEqual(["press-1", "press-2"]);
    expect(affinity.groupOf("press-2")).toBe(affinity.groupOf("press-1"));
    expect(affinity.membersOf("paint")).toEqual(["paint"]); // never seen: not in the group
    affinity.learn([on("press-1", "MO-1"), on("press-1", "MO-1"), quiet("press-2")]);
    expect(affinity.membersOf("press-1")).toEqual(["press-1", "press-2"]); // press-2 has shown 2 of 3
    affinity.learn([quiet("press-2")]);
    expect(affinity.warmingUp).toBe(false);
    expect(affinity.membersOf("press-1")).toEqual(["press-1"]); // nothing links them
    expect(affinity.groups).toBe(0);
    // A new work center: all together again until it has shown its three events.
    affinity.learn([on("assembly-1", "MO-1")]);
    expect(affinity.membersOf("press-2")).toEqual(["assembly-1", "press-1", "press-2"]);
    affinity.learn([on("assembly-1", "MO-1"), on("assembly-1", "MO-1")]);
    expect(affinity.membersOf("press-2")).toEqual(["press-2"]);
    expect(affinity.membersOf("assembly-1")).toEqual(["assembly-1", "press-1"]); // MO-1 links them
  });

  it("watches a work center anew after a ttl of silence, and forgets one that stopped", () => {
    let now = 0;
    const affinity = new RowAffinity({ warmupEvents: 2, ttlMs: 1_000, now: () => now });
    const quiet = (workcenter: string) => ({ workcenter, item: { data: {} } });
    affinity.learn([quiet("a"), quiet("a"), quiet("b"), quiet("b")]);
    expect(affinity.warmingUp).toBe(false);
    now = 800;
    affinity.learn([quiet("a")]);
    now = 1_500; // b silent for 1.5 s: forgotten; a seen 0.7 s ago
    affinity.learn([quiet("b")]);
    expect(affinity.warmingUp).toBe(true);
    expect(affinity.membersOf("a")).toEqual(["a", "b"]);
    affinity.learn([quiet("b")]);
    expect(affinity.membersOf("a")).toEqual(["a"]);
    // A work center that never shows its events again holds no one back past the ttl.
    affinity.learn([quiet("c")]);
    expect(affinity.warmingUp).toBe(true);
    now = 2_600; // c silent past the ttl (so were a and b: watched anew, two events each)
    affinity.learn([quiet("a"), quiet("a"), quiet("b"), quiet("b")]);
    expect(affinity.warmingUp).toBe(false);
    expect(affinity.membersOf("a")).toEqual(["a"]);
  });

  it("keeps its groups a partition of the work centers, warm or not (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.option(fc.constantFrom("o1", "o2")), fc.nat(400)), {
          maxLength: 40,
        }),
        (warmupEvents, steps) => {
          let now = 0;
          const affinity = new RowAffinity({ warmupEvents, ttlMs: 1_000, now: () => now });
          for (const [wc, order, wait] of steps) {
            now += wait;
            affinity.learn([order === null ? { workcenter: wc, item: { data: {} } } : on(wc, order)]);
            for (const x of "abcd") {
              const members = affinity.membersOf(x);
              expect(members).toContain(x);
              for (const y of members) expect(affinity.membersOf(y)).toEqual(members);
            }
          }
        },
      ),
    );
  });
});
