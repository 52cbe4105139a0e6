// The module's own Odoo tests on a real Odoo 18: duplicate the template,
// update the module with --test-tags /shopfloor_bridge, parse the result.
import { join } from "node:path";
import {
  dropDatabase,
  duplicateDatabase,
  ensureTemplate,
  freePort,
  odooTree,
  repoRoot,
  runOdooBin,
  tail,
} from "../../sidecar/devstack/odoo.ts";
import { firstLine, type TierResult } from "./tier.ts";

export interface OdooTestSummary {
  run: number;
  failed: number;
  errors: number;
  skipped: string[];
  /** `Class.test — first line of the exception` for every FAIL and ERROR. */
  failures: string[];
}

const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ /;

/** Each FAIL/ERROR record of Odoo's test log: the test and its exception's first line. */
export function odooFailures(log: string): string[] {
  const lines = log.split("\n");
  const failures: string[] = [];
  lines.forEach((line, index) => {
    // A failed subtest reads "FAIL: Subtest Class.test (its parameters)".
    const head = / ERROR \S+ odoo\.addons\.[\w.]+?\.tests\.(\w+): (FAIL|ERROR): (?:Subtest )?(\S+( \(.*\))?)/.exec(
      line,
    );
    if (!head) return;
    let end = index + 1;
    while (end < lines.length && !LOG_LINE.test(lines[end] ?? "")) end++;
    const block = lines.slice(index + 1, end);
    // The exception follows the last frame: its `File` line, then its source line.
    const lastFrame = block.findLastIndex((l) => l.startsWith("  File "));
    const why = lastFrame >= 0 ? firstLine(block.slice(lastFrame + 2).join("\n")) : "";
    failures.push(`${head[1]}.${head[3]}${why ? ` — ${why}` : ""}`);
  });
  return failures;
}

/**
 * How many tests failed: Odoo's result line counts each failed subtest of a
 * test, while it counts the test once in the tests run.
 */
export function failedTests(summary: Pick<OdooTestSummary, "failed" | "errors" | "failures">): number {
  const named = new Set(summary.failures.map((f) => (f.split(" — ")[0] ?? "").replace(/ \(.*\)$/, "")));
  // A failure the log names no test for (a class's setUp) still counts.
  return named.size > 0 ? named.size : summary.failed + summary.errors;
}

/** Reads Odoo's own test log: the `odoo.tests.result` stats and every skip. */
export function parseOdooTestLog(log: string): OdooTestSummary | undefined {
  const results = [...log.matchAll(/odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests/g)];
  const last = results.at(-1);
  if (!last) return undefined;
  const skipped = [...log.matchAll(/ INFO \S+ odoo\.\S+: skipped (.+)$/gm)].map((m) => m[1] ?? "");
  return {
    failed: Number(last[1]),
    errors: Number(last[2]),
    run: Number(last[3]),
    skipped,
    failures: odooFailures(log),
  };
}

export async function runOdooTier(): Promise<TierResult> {
  const tree = odooTree();
  const template = await ensureTemplate((m) => console.log(m));
  const db = `sfb_odootests_${process.pid}`;
  await duplicateDatabase(template, db);
  const logFile = join(repoRoot, "artifacts/logs", `odoo-tests-${process.pid}.log`);
  try {
    const port = await freePort();
    const { code, log } = await runOdooBin(
      tree,
      [
        "-d",
        db,
        "-u",
        "shopfloor_bridge",
        "--test-tags",
        // Narrow it while working on one feature, e.g. /shopfloor_bridge:TestIngest
        process.env.SFB_ODOO_TEST_TAGS || "/shopfloor_bridge",
        "--stop-after-init",
        "--max-cron-threads=0",
        "--http-interface=127.0.0.1",
        `--http-port=${port}`,
        "--log-level=test",
      ],
      logFile,
    );
    for (const line of log.split("\n")) {
      if (/ (ERROR|FAIL|CRITICAL) /.test(line) || /odoo\.tests\.(result|stats)/.test(line)) console.log(line);
    }
    const summary = parseOdooTestLog(log);
    if (!summary) {
      console.log(tail(log, 40));
      return {
        name: "odoo",
        passed: 0,
        failed: 1,
        skipped: 0,
        problems: [`no odoo.tests.result line (exit ${code}); see ${logFile}`],
      };
    }
    const problems: string[] = [];
    if (summary.run === 0) problems.push("Odoo ran zero tests");
    for (const s of summary.skipped) problems.push(`skipped: ${s}`);
    if (code !== 0 && summary.failed + summary.errors === 0) problems.push(`odoo-bin exited ${code}; see ${logFile}`);
    const bad = failedTests(summary);
    return {
      name: "odoo",
      passed: summary.run - bad - summary.skipped.length,
      failed: bad,
      skipped: summary.skipped.length,
      problems,
      failures: summary.failures,
    };
  } finally {
    await dropDatabase(db);
  }
}
