import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  classSeconds,
  failedTests,
  odooFailures,
  parseOdooTestLog,
  processTags,
  splitClasses,
  testClasses,
} from "./odoo-tier.ts";
import { failureLines, playwrightFailures, summaryLine, tierIsGreen, vitestFailures } from "./tier.ts";

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
      failures: [],
    });
  });

  it("returns nothing when Odoo never reported", () => {
    expect(parseOdooTestLog("Traceback (most recent call last):")).toBeUndefined();
  });
});

describe("the failed tests the summary names", () => {
  it("reads each FAIL and ERROR of Odoo's log with the exception's first line", () => {
    const log = [
      "2026-12-03 11:28:50,424 1 ERROR db odoo.addons.shopfloor_bridge.tests.test_scrap: FAIL: TestScrap.test_reason",
      "Traceback (most recent call last):",
      '  File "/x/tests/test_scrap.py", line 48, in test_reason',
      "    self.assertEqual(a, b)",
      "AssertionError: Lists differ: [1] != [2]",
      "",
      "First differing element 0:",
      "2026-12-03 11:28:50,529 1 INFO db odoo.addons.base.models.ir_attachment: filestore gc",
      "2026-12-03 11:28:51,000 1 ERROR db odoo.addons.shopfloor_bridge.tests.test_cost: ERROR: TestCost.test_index",
      "Traceback (most recent call last):",
      '  File "/x/tests/test_cost.py", line 9, in test_index',
      "    run()",
      '  File "/x/models/cost.py", line 3, in run',
      "    raise KeyError('mo')",
      "KeyError: 'mo'",
      "2026-12-03 11:28:52,000 1 ERROR db odoo.modules.loading: Module shopfloor_bridge: 1 failures, 1 errors of 9 tests",
    ].join("\n");
    expect(odooFailures(log)).toEqual([
      "test_scrap.TestScrap.test_reason — AssertionError: Lists differ: [1] != [2]",
      "test_cost.TestCost.test_index — KeyError: 'mo'",
    ]);
  });

  it("names a failed subtest by its test and parameters, and counts its test once", () => {
    // Odoo's result line said "-22 passed" of such a run: it counts every failed subtest.
    const log = [
      "2026-12-04 20:54:04,429 1 ERROR db odoo.addons.shopfloor_bridge.tests.test_webhook_secrets: FAIL: Subtest TestWebhookSecrets.test_bad_url (url='ftp://x', field='webhook_url')",
      "Traceback (most recent call last):",
      '  File "/x/tests/test_webhook_secrets.py", line 9, in test_bad_url',
      "    self.assertIn(a, b)",
      "AssertionError: 'cannot be used' not found in 'x'",
      "2026-12-04 20:54:04,574 1 ERROR db odoo.addons.shopfloor_bridge.tests.test_webhook_secrets: FAIL: Subtest TestWebhookSecrets.test_bad_url (url='h/x', field='webhook_url')",
      "2026-12-04 20:54:05,000 1 ERROR db odoo.addons.shopfloor_bridge.tests.test_webhook_secrets: FAIL: TestWebhookSecrets.test_other",
      "2026-12-04 20:54:06,000 1 INFO db odoo.tests.result: 3 failed, 0 error(s) of 5 tests when loading database",
    ].join("\n");
    const summary = parseOdooTestLog(log);
    expect(summary?.failures).toEqual([
      "test_webhook_secrets.TestWebhookSecrets.test_bad_url (url='ftp://x', field='webhook_url') — AssertionError: 'cannot be used' not found in 'x'",
      "test_webhook_secrets.TestWebhookSecrets.test_bad_url (url='h/x', field='webhook_url')",
      "test_webhook_secrets.TestWebhookSecrets.test_other",
    ]);
    expect(summary && failedTests(summary)).toBe(2);
    expect(failedTests({ failed: 1, errors: 1, failures: [] })).toBe(2);
  });

  it("reads vitest's failed tests and files that did not load", () => {
    const report = {
      numPassedTests: 1,
      numFailedTests: 1,
      numPendingTests: 0,
      numTodoTests: 0,
      numTotalTests: 2,
      testResults: [
        {
          name: "/repo/sidecar/a.test.ts",
          status: "failed",
          assertionResults: [
            { fullName: "spool keeps order", status: "failed", failureMessages: ["AssertionError: expected 2\n at x"] },
            { fullName: "spool commits", status: "passed" },
          ],
        },
        { name: "/repo/sidecar/b.test.ts", status: "failed", message: "Cannot find module 'x'\nstack" },
      ],
    };
    expect(vitestFailures(report, "/repo")).toEqual([
      "sidecar/a.test.ts › spool keeps order — AssertionError: expected 2",
      "sidecar/b.test.ts — Cannot find module 'x'",
    ]);
  });

  it("reads Playwright's failed and flaky specs in nested suites", () => {
    const spec = (title: string, status: string, message?: string) => ({
      title,
      file: "screens.spec.ts",
      line: 3,
      tests: [{ status, results: message ? [{ error: { message } }] : [] }],
    });
    const suites = [
      {
        title: "screens.spec.ts",
        specs: [spec("inbox", "expected")],
        suites: [{ title: "dlq", specs: [spec("retry", "unexpected", "Timeout 5000ms"), spec("edit", "flaky", "x")] }],
      },
    ];
    expect(playwrightFailures(suites)).toEqual([
      "screens.spec.ts:3 › retry — Timeout 5000ms",
      "screens.spec.ts:3 › edit (passed on retry) — x",
    ]);
  });

  it("lists every failure under its tier, cut at the limit", () => {
    const tier = (name: string, failures: string[]) => ({
      name,
      passed: 1,
      failed: 1,
      skipped: 0,
      problems: [],
      failures,
    });
    expect(failureLines([tier("unit", ["a"]), tier("odoo", ["b", "c", "d"])], 3)).toEqual([
      "  unit: a",
      "  odoo: b",
      "  odoo: c",
      "  … and 1 more (see the tiers' output above)",
    ]);
  });
});

describe("the Odoo tests in two processes", () => {
  it("finds each test class and counts its test methods", () => {
    const dir = mkdtempSync(join(tmpdir(), "sfb-tier-"));
    try {
      writeFileSync(
        join(dir, "test_a.py"),
        [
          "from .common import ShopfloorCase",
          "",
          "def helper():",
          "    def test_not_a_method(): pass",
          "",
          '@tagged("post_install", "-at_install")',
          "class TestA(ShopfloorCase):",
          "    def setUp(self): pass",
          "    def test_one(self): pass",
          "    # a comment",
          "    def test_two(self):",
          "        def test_nested(): pass",
          "",
          "class TestB(TestA):",
          "    def test_three(self): pass",
          "",
          "class Helper:",
          "    def test_ignored(self): pass",
        ].join("\n"),
      );
      writeFileSync(join(dir, "common.py"), "class TestNotAFile:\n    def test_x(self): pass\n");
      expect([...testClasses(dir)]).toEqual([
        ["TestA", 2],
        ["TestB", 1],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("times each class from its first Starting line to the next class's", () => {
    const line = (time: string, text: string) => `2026-12-04 21:00:${time} 1 INFO db odoo.addons.x.tests.t: ${text}`;
    const log = [
      line("10,000", "Starting TestA.test_one ..."),
      line("12,500", "Starting TestA.test_two ..."),
      "a traceback line without a time",
      line("14,000", "Starting TestB.test_three ..."),
      line("20,000", "odoo.tests.result: 0 failed"),
    ].join("\n");
    expect(classSeconds(log)).toEqual({ TestA: 4, TestB: 6 });
  });

  it("balances the classes by time, guessing unknown ones from their test count", () => {
    const classes = new Map([
      ["TestSlow", 2],
      ["TestMid", 4],
      ["TestFast", 4],
      ["TestNew", 3],
    ]);
    // Known: 2 s per test (median), so TestNew counts as 6 s.
    const groups = splitClasses(classes, { TestSlow: 20, TestMid: 8, TestFast: 8 }, 2);
    expect(groups).toEqual([["TestSlow"], ["TestFast", "TestMid", "TestNew"]]);
    expect(splitClasses(classes, {}, 1)).toEqual([["TestFast", "TestMid", "TestNew", "TestSlow"]]);
  });

  it("names the first group's classes and runs the module without them in the last", () => {
    expect(processTags([["TestA", "TestB"], ["TestC"]])).toEqual([
      "/shopfloor_bridge:TestA,/shopfloor_bridge:TestB",
      "/shopfloor_bridge,-/shopfloor_bridge:TestA,-/shopfloor_bridge:TestB",
    ]);
    expect(processTags([["TestA", "TestC"]])).toEqual(["/shopfloor_bridge"]);
  });
});
