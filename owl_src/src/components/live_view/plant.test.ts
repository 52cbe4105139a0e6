// @vitest-environment jsdom
import fc from "fast-check";
import { afterEach, expect, test, vi } from "vitest";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { DE_DE, EN_US, setLocalization } from "../../../test/support/fake_web.ts";
import { plantTile } from "../../../test/support/plant_tiles.ts";
import {
  changedIds,
  countsText,
  groupByLine,
  lastEventText,
  mergeTiles,
  oeeParts,
  oeeText,
  type PlantTile,
  planShare,
  STATE_ORDER,
  stateLabel,
} from "./plant.ts";

afterEach(() => setLocalization(EN_US));

test("tiles are grouped by line, lines by name, tiles in the server's order, with counts per state", () => {
  const groups = groupByLine([
    plantTile({ workcenter_id: 1, line: "Line 2", state: "down" }),
    plantTile({ workcenter_id: 2, line: "Line 1" }),
    plantTile({ workcenter_id: 3, line: "Line 2", state: "held" }),
    plantTile({ workcenter_id: 5, line: false, state: "idle" }),
    plantTile({ workcenter_id: 4, line: "Line 2", state: "down" }),
    plantTile({ workcenter_id: 6, line: "Assembly hall", state: "idle" }),
  ]);
  expect(groups.map((g) => g.line)).toEqual(["Assembly hall", "Line 1", "Line 2", "No line"]);
  expect(groups.at(-1)?.tiles.map((t) => t.workcenter_id)).toEqual([5]);
  expect(groups[2]?.tiles.map((t) => t.workcenter_id)).toEqual([1, 3, 4]);
  expect(groups[2]?.counts).toEqual({ held: 1, down: 2, setup: 0, running: 0, idle: 0 });
});

test("a partial read replaces its tiles and keeps the others in place", () => {
  const current = [1, 2, 3].map((id) => plantTile({ workcenter_id: id }));
  const merged = mergeTiles(current, [plantTile({ workcenter_id: 2, state: "down" }), plantTile({ workcenter_id: 9 })]);
  expect(merged.map((t) => [t.workcenter_id, t.state])).toEqual([
    [1, "running"],
    [2, "down"],
    [3, "running"],
    [9, "running"],
  ]);
});

test("counts against plan, OEE and its parts, the last event's age, in the user's numbers", () => {
  const tile = plantTile({ good: 1234, plan: 1600.4 });
  expect(countsText(tile)).toBe("Good 1,234 · scrap 2 / plan 1,600");
  expect(planShare(tile)).toBeCloseTo(77.1, 1);
  expect(oeeText(tile)).toBe("18.8 %");
  expect(oeeParts(tile)).toBe("Availability 49.6 % · performance 40.3 % · quality 93.8 %");
  expect(lastEventText(tile, 90)).toBe("Last event 1 h ago");
  setLocalization(DE_DE);
  expect(countsText(tile)).toBe("Good 1.234 · scrap 2 / plan 1.600");
  expect(oeeText(tile)).toBe("18,8 %");
});

test("a flagged OEE is marked and says why; without a figure it is —", () => {
  const flagged = plantTile({ performance: 113.4, oee_flags: ["Counts faster than the ideal cycle time allows"] });
  expect(oeeText(flagged)).toBe("18.8 % ⚠");
  expect(oeeParts(flagged).split("\n")).toEqual([
    "Availability 49.6 % · performance 113.4 % · quality 93.8 %",
    "Counts faster than the ideal cycle time allows",
  ]);
  const empty = plantTile({ oee: false, availability: false, performance: false, quality: false, plan: false });
  expect(oeeText(empty)).toBe("—");
  expect(countsText(empty)).toBe("Good 30 · scrap 2 / plan —");
  expect(planShare(empty)).toBe(false);
  expect(lastEventText(plantTile({ last_event_age_s: false }), 5)).toBe("No event yet");
});

test("bus payloads: only positive integer ids", () => {
  expect(changedIds({ workcenter_ids: [3, 0, -1, 2.5, "4", 8] })).toEqual([3, 8]);
  expect(changedIds(null)).toEqual([]);
  expect(changedIds({ at: "2026-11-23" })).toEqual([]);
});

const RAW = ["false", "true", "null", "undefined", "NaN", "Infinity", "[object Object]"];
const maybeNumber = fc.oneof(
  fc.constant<false>(false),
  fc.double({ noNaN: false }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, 0),
);

test("whatever the server sends for a figure, a tile shows no raw value", () => {
  fc.assert(
    fc.property(
      fc.record({
        good: fc.double(),
        scrap: fc.double(),
        plan: maybeNumber,
        oee: maybeNumber,
        availability: maybeNumber,
        performance: maybeNumber,
        quality: maybeNumber,
        last_event_age_s: maybeNumber,
        state: fc.constantFrom(...STATE_ORDER),
      }),
      fc.double({ min: 0, max: 1e6 }),
      (figures, elapsed) => {
        const tile = plantTile(figures as Partial<PlantTile>);
        for (const shown of [
          countsText(tile),
          oeeText(tile),
          oeeParts(tile),
          lastEventText(tile, elapsed),
          stateLabel(tile.state),
        ]) {
          for (const word of RAW) expect(shown.split(/[\s/·]+/)).not.toContain(word);
          expect(shown).not.toContain("[object Object]");
        }
      },
    ),
  );
});
