// `npm test`: every tier in order, each reporting its own counts, then one
// `N passed, N failed` line over all of them. A tier that cannot run, runs
// nothing, or skips anything fails the whole run.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureTemplate, repoRoot } from "../../sidecar/devstack/odoo.ts";
import { runOdooTier } from "./odoo-tier.ts";
import {
  failureLines,
  type PlaywrightJson,
  playwrightFailures,
  summaryLine,
  type TierResult,
  tierIsGreen,
  type VitestJson,
  vitestFailures,
} from "./tier.ts";

const ALL_TIERS = ["unit", "integration", "odoo", "e2e", "browser"] as const;
type TierName = (typeof ALL_TIERS)[number];

const resultsDir = join(repoRoot, "artifacts/test-results");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: "inherit", env: { ...process.env, ...env } });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function vitestTier(name: TierName): Promise<TierResult> {
  const out = join(resultsDir, `${name}-${process.pid}.json`);
  rmSync(out, { force: true });
  // The e2e and integration tiers are two projects each: the second runs alone, after (vitest.config.ts).
  const projects = name === "e2e" || name === "integration" ? [name, `${name}-alone`] : [name];
  const code = await run(join(repoRoot, "node_modules/.bin/vitest"), [
    "run",
    ...projects.flatMap((project) => ["--project", project]),
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${out}`,
  ]);
  if (!existsSync(out)) {
    return { name, passed: 0, failed: 0, skipped: 0, problems: [`vitest wrote no report (exit ${code})`] };
  }
  const r = JSON.parse(readFileSync(out, "utf8")) as VitestJson;
  const problems: string[] = [];
  if (code !== 0 && r.numFailedTests === 0)
    problems.push(`vitest exited ${code} (a suite failed to load or a hook failed)`);
  return {
    name,
    passed: r.numPassedTests,
    failed: r.numFailedTests,
    skipped: r.numPendingTests + r.numTodoTests,
    problems,
    failures: vitestFailures(r, repoRoot),
  };
}

async function browserTier(): Promise<TierResult> {
  const out = join(resultsDir, `browser-${process.pid}.json`);
  rmSync(out, { force: true });
  const code = await run(
    join(repoRoot, "node_modules/.bin/playwright"),
    ["test", "--config", "test/browser/playwright.config.ts"],
    { PLAYWRIGHT_JSON_OUTPUT_NAME: out },
  );
  if (!existsSync(out)) {
    return {
      name: "browser",
      passed: 0,
      failed: 0,
      skipped: 0,
      problems: [`playwright wrote no report (exit ${code})`],
    };
  }
  const r = JSON.parse(readFileSync(out, "utf8")) as PlaywrightJson;
  const problems = (r.errors ?? []).map((e) => e.message?.split("\n")[0] ?? "error");
  if (code !== 0 && r.stats.unexpected === 0 && problems.length === 0) problems.push(`playwright exited ${code}`);
  return {
    name: "browser",
    passed: r.stats.expected,
    // A test that only passed on retry is reported, not hidden.
    failed: r.stats.unexpected + r.stats.flaky,
    skipped: r.stats.skipped,
    problems,
    failures: playwrightFailures(r.suites ?? []),
  };
}

async function runTier(name: TierName): Promise<TierResult> {
  console.log(`\n━━ tier ${name} ━━`);
  try {
    switch (name) {
      case "unit":
      case "integration":
      case "e2e":
        return await vitestTier(name);
      case "odoo":
        return await runOdooTier();
      case "browser":
        return await browserTier();
    }
  } catch (err) {
    console.error(`tier ${name} could not run:\n${(err as Error).message}`);
    return { name, passed: 0, failed: 0, skipped: 0, problems: [(err as Error).message.split("\n")[0] ?? "error"] };
  }
}

const requested = process.argv.slice(2);
for (const t of requested) {
  if (!(ALL_TIERS as readonly string[]).includes(t)) {
    console.error(`unknown tier ${t}; tiers: ${ALL_TIERS.join(", ")}`);
    process.exit(2);
  }
}
const tiers = (requested.length ? requested : ALL_TIERS) as TierName[];
mkdirSync(resultsDir, { recursive: true });

// SFB_FRESH_TEMPLATE=1 (CI) rebuilds the Odoo templates once for this run;
// the tiers' own processes then reuse them.
if (process.env.SFB_FRESH_TEMPLATE === "1" && tiers.some((t) => t !== "unit")) {
  try {
    await ensureTemplate((m) => console.log(m));
  } catch (err) {
    console.error(`could not build the Odoo template: ${(err as Error).message}`);
  }
  process.env.SFB_FRESH_TEMPLATE = "0";
}

const results: TierResult[] = [];
for (const name of tiers) results.push(await runTier(name));

console.log("\n━━ summary ━━");
for (const t of results) {
  const status = tierIsGreen(t) ? "ok  " : "FAIL";
  const extra = t.problems.length ? ` — ${t.problems.join("; ")}` : t.passed === 0 ? " — ran no test" : "";
  console.log(`${status} ${t.name.padEnd(12)} ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${extra}`);
}
const failed = failureLines(results);
if (failed.length) console.log(["failed tests:", ...failed].join("\n"));
console.log(summaryLine(results));
process.exit(results.every(tierIsGreen) ? 0 : 1);
