// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";

vi.mock("./web.ts", () => import("../../test/support/fake_web.ts"));

import { DE_DE, EN_US, setLocalization } from "../../test/support/fake_web.ts";
import {
  formatAge,
  formatCount,
  formatDuration,
  formatRate,
  formatTime,
  formatVariance,
  parseServerDatetime,
  toServerDatetime,
} from "./format.ts";
import { sparkline } from "./sparkline.ts";

afterEach(() => setLocalization(EN_US));

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
  expect(formatVariance(12.5, "EUR", 8.25)).toBe("+12.50 EUR (+8.3 %)");
  expect(formatVariance(-3, "USD", false)).toBe("-3.00 USD");
});

test("a German user (in Berlin) gets German separators, dates and time from Odoo's formatters", () => {
  setLocalization(DE_DE);
  expect(formatCount(1234)).toBe("1.234");
  expect(formatCount(100000)).toBe("100.000");
  expect(formatRate(1234.5)).toBe("1.235");
  expect(formatRate(12.5)).toBe("12,5");
  expect(formatDuration(-2500)).toBe("−2,5 s");
  expect(formatDuration(90_000)).toBe("1,5 min");
  expect(formatAge(1234)).toBe("20 min");
  expect(formatVariance(1234.5, "EUR", 8.25)).toBe("+1.234,50 EUR (+8,3 %)");
  // Server time is UTC; Berlin is one hour ahead in November.
  expect(formatTime("2026-11-22 08:15:03")).toBe("22.11.2026 09:15:03");
  expect(formatTime(false)).toBe("");
});

test("server datetimes are UTC both ways", () => {
  const d = parseServerDatetime("2026-11-22 08:15:03");
  expect(d?.toISOString()).toBe("2026-11-22T08:15:03.000Z");
  expect(toServerDatetime(d as Date)).toBe("2026-11-22 08:15:03");
  expect(parseServerDatetime(false)).toBeNull();
  expect(formatTime("2026-11-22 08:15:03")).toBe("11/22/2026 08:15:03");
});

test("sparkline maps the maximum to the top and zero to the baseline", () => {
  const g = sparkline([0, 5, 10], 102, 22, 1);
  expect(g.points).toBe("1,21 51,11 101,1");
  expect(g.area).toBe("M1,21 L1,21 L51,11 L101,1 L101,21 Z");
  expect(sparkline([0, 0], 10, 10, 0).points).toBe("0,10 10,10");
  expect(sparkline([], 10, 10).points).toBe("");
});
