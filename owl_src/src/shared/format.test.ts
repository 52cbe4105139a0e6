import { expect, test } from "vitest";
import { formatAge, formatCount, formatDuration, formatRate, parseServerDatetime, toServerDatetime } from "./format.ts";
import { sparkline } from "./sparkline.ts";

test("ages, durations, counts and rates read at a glance", () => {
  expect(formatAge(null)).toBe("never");
  expect(formatAge(12.4)).toBe("12 s");
  expect(formatAge(250)).toBe("4 min");
  expect(formatAge(7300)).toBe("2 h");
  expect(formatAge(200000)).toBe("2 d");
  expect(formatDuration(850)).toBe("850 ms");
  expect(formatDuration(-2500)).toBe("−2.5 s");
  expect(formatDuration(90_000)).toBe("1.5 min");
  expect(formatDuration(null)).toBe("–");
  expect(formatCount(100000)).toBe("100,000");
  expect(formatRate(2.04)).toBe("2");
  expect(formatRate(12.5)).toBe("12.5");
});

test("server datetimes are UTC both ways", () => {
  const d = parseServerDatetime("2026-11-22 08:15:03");
  expect(d?.toISOString()).toBe("2026-11-22T08:15:03.000Z");
  expect(toServerDatetime(d as Date)).toBe("2026-11-22 08:15:03");
  expect(parseServerDatetime(false)).toBeNull();
});

test("sparkline maps the maximum to the top and zero to the baseline", () => {
  const g = sparkline([0, 5, 10], 102, 22, 1);
  expect(g.points).toBe("1,21 51,11 101,1");
  expect(g.area).toBe("M1,21 L1,21 L51,11 L101,1 L101,21 Z");
  expect(sparkline([0, 0], 10, 10, 0).points).toBe("0,10 10,10");
  expect(sparkline([], 10, 10).points).toBe("");
});
