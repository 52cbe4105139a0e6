import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mapping } from "../../test/support/mapping/mapping.fixtures.ts";
import { topicMatches } from "./evaluate.ts";
import { filterCovers, mqttSubscriptions } from "./subscriptions.ts";

describe("mqttSubscriptions", () => {
  it("adds the filters of mqtt mappings to the connection's topics", () => {
    const maps = [
      mapping({ match: "kepware/+/values" }),
      mapping({ match: "api/records", transport: "http" }),
      mapping({ match: "plant1/#", kind: "values" }),
    ];
    expect(mqttSubscriptions(["shopfloor/#"], maps)).toEqual(["shopfloor/#", "kepware/+/values", "plant1/#"]);
  });

  it("leaves out filters another one covers, and invalid ones", () => {
    const maps = [
      mapping({ match: "shopfloor/uns/#" }),
      mapping({ match: "a/#/b" }),
      mapping({ match: "shopfloor/#" }),
    ];
    expect(mqttSubscriptions(["shopfloor/#"], maps)).toEqual(["shopfloor/#"]);
    expect(mqttSubscriptions(["shopfloor/#"], [mapping({ match: "#" })])).toEqual(["#"]);
    expect(mqttSubscriptions(["shopfloor/#"], [])).toEqual(["shopfloor/#"]);
  });

  it("keeps $ topics apart: # does not cover $SYS/#", () => {
    expect(mqttSubscriptions(["#"], [mapping({ match: "$SYS/broker/#" })])).toEqual(["#", "$SYS/broker/#"]);
  });
});

describe("filterCovers", () => {
  it.each([
    ["#", "a/b", true],
    ["a/#", "a", true],
    ["a/#", "a/+/c", true],
    ["a/+", "a/b", true],
    ["a/+", "a/#", false],
    ["a/b", "a/+", false],
    ["+/b", "$SYS/b", false],
    ["a/+/c", "a/b/c/d", false],
  ])("%s covers %s: %s", (wide, narrow, expected) => {
    expect(filterCovers(wide, narrow)).toBe(expected);
  });

  it("when it says a filter covers another, every topic the narrow one matches the wide one matches", () => {
    const level = fc.constantFrom("a", "b", "", "$s");
    const filter = fc
      .tuple(fc.array(fc.oneof(level, fc.constant("+")), { maxLength: 4 }), fc.boolean())
      .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
      .filter((f) => f !== "");
    // Topics the narrow filter matches: its wildcards filled in.
    const topicsOf = (narrow: string) =>
      fc.array(
        fc
          .tuple(
            ...narrow
              .split("/")
              .map((l) => (l === "+" ? level : l === "#" ? fc.array(level, { maxLength: 2 }) : fc.constant(l))),
          )
          .map((parts) => parts.flat().join("/")),
        { minLength: 10, maxLength: 10 },
      );
    const cases = fc
      .tuple(filter, filter)
      .chain(([wide, narrow]) => fc.tuple(fc.constant(wide), fc.constant(narrow), topicsOf(narrow)));
    let checked = 0;
    fc.assert(
      fc.property(cases, ([wide, narrow, topics]) => {
        if (!filterCovers(wide, narrow)) return;
        for (const t of topics) {
          if (!topicMatches(narrow, t)) continue;
          checked++;
          expect(topicMatches(wide, t)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});
