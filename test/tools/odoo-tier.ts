// The module's own Odoo tests on a real Odoo 18: duplicate the template,
// update the module with --test-tags /shopfloor_bridge, parse the result.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** Each test class of the module's tests/*.py and how many test methods it has. */
export function testClasses(testsDir = join(repoRoot, "odoo_addon/shopfloor_bridge/tests")): Map<string, number> {
  const classes = new Map<string, number>();
  for (const file of readdirSync(testsDir)
    .filter((f) => /^test_\w+\.py$/.test(f))
    .sort()) {
    let current: string | undefined;
    for (const line of readFileSync(join(testsDir, file), "utf8").split("\n")) {
      const head = /^class (Test\w+)\(/.exec(line);
      if (head) {
        current = head[1] as string;
        classes.set(current, classes.get(current) ?? 0);
      } else if (current && /^ {4}def test_\w+\(/.test(line)) {
        classes.set(current, (classes.get(current) ?? 0) + 1);
      } else if (/^\S/.test(line) && !line.startsWith("#") && !line.startsWith("@")) {
        current = undefined;
      }
    }
  }
  return classes;
}

/** Seconds each test class took in an Odoo test log (`--log-level=test`): from its first "Starting" line to the next class's. */
export function classSeconds(log: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  let current: string | undefined;
  let last: number | undefined;
  for (const line of log.split("\n")) {
    const stamp = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d+) /.exec(line);
    if (!stamp) continue;
    const at = Date.parse(`${stamp[1]?.replace(" ", "T")}Z`) + Number(stamp[2]);
    const starting = / Starting (Test\w+)\.\w+ /.exec(line);
    if (current !== undefined && last !== undefined) seconds[current] = (seconds[current] ?? 0) + (at - last) / 1000;
    if (starting) current = starting[1];
    last = at;
  }
  for (const name of Object.keys(seconds)) seconds[name] = Math.round((seconds[name] as number) * 10) / 10;
  return seconds;
}

/**
 * The classes split in `parts` groups of about equal time, longest first onto
 * the least loaded group. A class's time is what `seconds` recorded, or, for
 * a class it does not know, its number of tests times the median seconds per
 * test of those it knows.
 */
export function splitClasses(classes: Map<string, number>, seconds: Record<string, number>, parts: number): string[][] {
  const perTest = [...classes]
    .filter(([name, tests]) => seconds[name] !== undefined && tests > 0)
    .map(([name, tests]) => (seconds[name] as number) / tests)
    .sort((a, b) => a - b);
  const median = perTest.length > 0 ? (perTest[Math.floor(perTest.length / 2)] as number) : 1;
  const cost = (name: string) => seconds[name] ?? (classes.get(name) ?? 0) * median;
  const groups = Array.from({ length: parts }, () => ({ names: [] as string[], load: 0 }));
  for (const name of [...classes.keys()].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b))) {
    const least = groups.reduce((a, b) => (b.load < a.load ? b : a));
    least.names.push(name);
    least.load += cost(name);
  }
  return groups.map((g) => g.names.sort());
}

/**
 * The --test-tags of each process: every group but the last names its
 * classes; the last runs the module without them, so a class the split did
 * not see (a name the parser missed) still runs, once.
 */
export function processTags(groups: string[][], module = "shopfloor_bridge"): string[] {
  const named = groups.slice(0, -1);
  const others = named.flat().map((name) => `-/${module}:${name}`);
  return [
    ...named.map((names) => names.map((name) => `/${module}:${name}`).join(",")),
    [`/${module}`, ...others].join(","),
  ];
}

/** Test times recorded from a full run (`node test/tools/odoo-tier.ts weights LOG` writes them). */
const WEIGHTS_FILE = join(repoRoot, "test/tools/odoo-test-seconds.json");

interface OdooRun {
  summary: OdooTestSummary | undefined;
  code: number | null;
  logFile: string;
  log: string;
}

/** The module's tests selected by `tags`, on database `db` (a copy of the template). */
async function runOdooTests(tags: string, db: string): Promise<OdooRun> {
  const logFile = join(repoRoot, "artifacts/logs", `odoo-tests-${db.replace("sfb_odootests_", "")}.log`);
  const port = await freePort();
  const { code, log } = await runOdooBin(
    odooTree(),
    [
      "-d",
      db,
      "-u",
      "shopfloor_bridge",
      "--test-tags",
      tags,
      "--stop-after-init",
      "--max-cron-threads=0",
      "--http-interface=127.0.0.1",
      `--http-port=${port}`,
      "--log-level=test",
    ],
    logFile,
  );
  return { summary: parseOdooTestLog(log), code, logFile, log };
}

export async function runOdooTier(): Promise<TierResult> {
  const template = await ensureTemplate((m) => console.log(m));
  // Narrow it while working on one feature, e.g. SFB_ODOO_TEST_TAGS=/shopfloor_bridge:TestIngest (one process).
  const narrowed = process.env.SFB_ODOO_TEST_TAGS;
  // Odoo runs its tests in one Python process, about one core: two share the machine's two.
  const parts = narrowed ? 1 : Math.max(1, Number(process.env.SFB_ODOO_TEST_PROCESSES ?? 2));
  const seconds = existsSync(WEIGHTS_FILE)
    ? (JSON.parse(readFileSync(WEIGHTS_FILE, "utf8")) as Record<string, number>)
    : {};
  const tags = narrowed ? [narrowed] : processTags(splitClasses(testClasses(), seconds, parts));
  // One database each, duplicated one after the other (a template copied twice at once is refused).
  const dbs = tags.map((_, index) => `sfb_odootests_${process.pid}_${index}`);
  let runs: OdooRun[];
  try {
    for (const db of dbs) await duplicateDatabase(template, db);
    if (tags.length > 1) console.log(`${tags.length} Odoo processes, each on its own database`);
    runs = await Promise.all(tags.map((spec, index) => runOdooTests(spec, dbs[index] as string)));
  } finally {
    for (const db of dbs) await dropDatabase(db);
  }
  const problems: string[] = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures: string[] = [];
  for (const run of runs) {
    for (const line of run.log.split("\n")) {
      if (/ (ERROR|FAIL|CRITICAL) /.test(line) || /odoo\.tests\.(result|stats)/.test(line)) console.log(line);
    }
    const summary = run.summary;
    if (!summary) {
      console.log(tail(run.log, 40));
      failed += 1;
      problems.push(`no odoo.tests.result line (exit ${run.code}); see ${run.logFile}`);
      continue;
    }
    if (summary.run === 0) problems.push(`Odoo ran zero tests; see ${run.logFile}`);
    for (const s of summary.skipped) problems.push(`skipped: ${s}`);
    if (run.code !== 0 && summary.failed + summary.errors === 0) {
      problems.push(`odoo-bin exited ${run.code}; see ${run.logFile}`);
    }
    const bad = failedTests(summary);
    passed += summary.run - bad - summary.skipped.length;
    failed += bad;
    skipped += summary.skipped.length;
    failures.push(...summary.failures);
  }
  return { name: "odoo", passed, failed, skipped, problems, failures };
}

// node test/tools/odoo-tier.ts weights LOG: records each class's seconds from a full run's log.
if (import.meta.main && process.argv[2] === "weights") {
  const log = readFileSync(process.argv[3] as string, "utf8");
  // A class the log does not name ran no test there (tagged out of the standard run): 0 s.
  const seconds = { ...Object.fromEntries([...testClasses().keys()].map((name) => [name, 0])), ...classSeconds(log) };
  writeFileSync(WEIGHTS_FILE, `${JSON.stringify(Object.fromEntries(Object.entries(seconds).sort()), null, 2)}\n`);
  console.log(`${WEIGHTS_FILE}: ${Object.keys(seconds).length} classes`);
}
