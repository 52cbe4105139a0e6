import { describe, expect, it } from "vitest";
import { parseOdooTestLog } from "./odoo-tier.ts";
import { summaryLine, tierIsGreen } from "./tier.ts";

const green = { name: "unit", passed: 3, failed: 0, skipped: 0, problems: [] };

describe("tier accounting", () => {
  it("counts skipped tests and tiers that could not run as failures", () => {
    expect(summaryLine([green, { name: "odoo", passed: 2, failed: 1, skipped: 2, problems: [] }])).toBe(
      "5 passed, 3 failed",
    );
    expect(summaryLine([green, { name: "browser", passed: 0, failed: 0, skipped: 0, problems: ["no Odoo"] }])).toBe(
      "3 passed, 1 failed",
    );
  });

  it("treats a tier that ran nothing as not green", () => {
    expect(tierIsGreen(green)).toBe(true);
    expect(tierIsGreen({ ...green, passed: 0 })).toBe(false);
    expect(tierIsGreen({ ...green, skipped: 1 })).toBe(false);
  });
});

describe("parseOdooTestLog", () => {
  it("reads the last result line and every skip", () => {
    const log = [
      "2026-11-22 03:40:00,000 1 INFO db odoo.tests.result: 0 failed, 0 error(s) of 2 tests when loading database",
      "2026-11-22 03:40:01,000 1 INFO db odoo.addons.shopfloor_bridge.tests.test_install: skipped test_home (x) : Chrome executable not found",
      "2026-11-22 03:40:02,000 1 INFO db odoo.tests.result: 1 failed, 2 error(s) of 7 tests when loading database",
    ].join("\n");
    expect(parseOdooTestLog(log)).toEqual({
      run: 7,
      failed: 1,
      errors: 2,
      skipped: ["test_home (x) : Chrome executable not found"],
    });
  });

  it("returns nothing when Odoo never reported", () => {
    expect(parseOdooTestLog("Traceback (most recent call last):")).toBeUndefined();
  });
});
