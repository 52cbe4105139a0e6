// The fuzzer's property: for every case, one run of the chain keeps the
// invariant (chain.ts). Fixed cases (the coverage case) run first; fast-check
// then generates cases from a seed and shrinks a failing one to a small
// counterexample. Every counterexample is printed as data and saved under
// artifacts/fuzz/ to become a named regression in test/fuzz/regressions.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
import { type FuzzCase, fuzzCaseArb } from "./arbitraries.ts";
import type { FuzzChain, RunReport } from "./chain.ts";

/** The e2e tier's short run (the bench measures the same). */
export const CI_FUZZ = { runs: 40, maxMessages: 40, timeLimitMs: 230_000 } as const;

export interface FuzzSettings {
  seed: number;
  /** Generated cases. */
  runs: number;
  /** Most messages in one case. */
  maxMessages: number;
  /** Replays one shrunk counterexample: fast-check's counterexample path for `seed`. */
  path?: string;
  /** Everything, shrinking included, stops after this long (the smallest counterexample so far is kept). */
  timeLimitMs?: number;
  /** Cases run before the generated ones (a failing one is minimized by dropping messages). */
  fixed?: FuzzCase[];
  /** false: stop at the first failure without shrinking it (the bench measures, it does not debug). */
  shrink?: boolean;
  /** false: reaching the time limit before `runs` cases is a normal end (the long run); else it fails. */
  requireAllRuns?: boolean;
}

/** Seed, runs and size from the environment (SFB_FUZZ_SEED, SFB_FUZZ_RUNS, SFB_FUZZ_MESSAGES, SFB_FUZZ_PATH). */
export function settingsFromEnv(defaults: { runs: number; maxMessages: number; seed?: number }): FuzzSettings {
  const env = process.env;
  const int = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    seed: int("SFB_FUZZ_SEED", defaults.seed ?? Date.now() % 2 ** 31),
    runs: int("SFB_FUZZ_RUNS", defaults.runs),
    maxMessages: int("SFB_FUZZ_MESSAGES", defaults.maxMessages),
    ...(env.SFB_FUZZ_PATH ? { path: env.SFB_FUZZ_PATH } : {}),
  };
}

export interface FuzzFailure {
  /** `fixed case 1` or `generated`. */
  origin: string;
  counterexample: FuzzCase;
  /** fast-check's path to replay it with the seed (generated cases only). */
  path?: string;
  /** The run of the counterexample: what broke. */
  report: RunReport;
  savedTo: string;
}

export interface FuzzOutcome {
  ok: boolean;
  seed: number;
  /** Runs of the chain, shrinking included. */
  runsExecuted: number;
  /** Cases (fixed and generated) that passed. */
  casesPassed: number;
  /** Generated cases fast-check ran before it stopped (all of them when none failed). */
  generatedCases: number;
  messagesPublished: number;
  shrinks: number;
  interrupted: boolean;
  failures: FuzzFailure[];
  elapsedMs: number;
  reports: RunReport[];
}

class InvariantBroken extends Error {
  readonly report: RunReport;
  constructor(report: RunReport) {
    super(`invariant broken in run ${report.nonce}:\n  - ${report.problems.join("\n  - ")}`);
    this.report = report;
  }
}

function save(seed: number, origin: string, c: FuzzCase, report: RunReport, path?: string): string {
  const dir = join(repoRoot, "artifacts/fuzz");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `counterexample-${seed}-${origin.replace(/\W+/g, "-")}-${Date.now()}.json`);
  writeFileSync(file, `${JSON.stringify({ seed, path, origin, case: c, problems: report.problems }, null, 2)}\n`);
  return file;
}

/**
 * Drops messages from a failing case while it still fails (halves, then
 * smaller chunks, down to single messages): fast-check cannot shrink a case
 * it did not generate.
 */
async function minimize(
  failing: FuzzCase,
  report: RunReport,
  run: (c: FuzzCase) => Promise<RunReport>,
  deadline: number,
): Promise<{ counterexample: FuzzCase; report: RunReport; shrinks: number }> {
  let messages = failing.messages;
  let last = report;
  let shrinks = 0;
  let chunk = Math.ceil(messages.length / 2);
  while (chunk >= 1 && Date.now() < deadline) {
    let dropped = false;
    for (let at = 0; at < messages.length && Date.now() < deadline; ) {
      const candidate = [...messages.slice(0, at), ...messages.slice(at + chunk)];
      if (candidate.length === 0) {
        at += chunk;
        continue;
      }
      const r = await run({ messages: candidate });
      if (!r.ok) {
        messages = candidate;
        last = r;
        shrinks++;
        dropped = true;
      } else {
        at += chunk;
      }
    }
    if (!dropped) chunk = Math.floor(chunk / 2);
  }
  return { counterexample: { messages }, report: last, shrinks };
}

/** Runs the fixed cases and the property against a started chain. */
export async function fuzzChain(
  chain: FuzzChain,
  settings: FuzzSettings,
  log: (line: string) => void = () => {},
): Promise<FuzzOutcome> {
  const started = Date.now();
  const deadline = settings.timeLimitMs ? started + settings.timeLimitMs : Number.POSITIVE_INFINITY;
  const reports: RunReport[] = [];
  const failures: FuzzFailure[] = [];
  let shrinks = 0;
  let casesPassed = 0;
  const run = async (c: FuzzCase, what: string): Promise<RunReport> => {
    const report = await chain.run(c);
    reports.push(report);
    const states = Object.entries(report.states)
      .map(([s, n]) => `${s} ${n}`)
      .join(", ");
    log(
      `run ${reports.length} ${what} (${report.nonce}): ${report.published} messages → ${report.expectedRows} rows [${states}] ` +
        (report.ok ? `settled in ${Math.round(report.settleMs)} ms` : `FAILED: ${report.problems[0]}`),
    );
    return report;
  };

  for (const [i, fixed] of (settings.path ? [] : (settings.fixed ?? [])).entries()) {
    const origin = `fixed case ${i + 1}`;
    const report = await run(fixed, origin);
    if (report.ok) {
      casesPassed++;
      continue;
    }
    const small =
      settings.shrink === false
        ? { counterexample: fixed, report, shrinks: 0 }
        : await minimize(fixed, report, (c) => run(c, `minimizing ${origin}`), deadline);
    shrinks += small.shrinks;
    failures.push({
      origin,
      counterexample: small.counterexample,
      report: small.report,
      savedTo: save(settings.seed, origin, small.counterexample, small.report),
    });
  }

  let lastFailure: RunReport | undefined;
  let generated = 0;
  // The time limit abandons the case in flight; it is awaited before the chain is handed back.
  let inFlight: Promise<RunReport> | undefined;
  const property = fc.asyncProperty(fuzzCaseArb(chain.vocabulary, { maxMessages: settings.maxMessages }), async (c) => {
    // After the first failure fast-check only shrinks it.
    inFlight = run(c, lastFailure ? "shrinking" : `case ${++generated}`);
    const report = await inFlight;
    if (!report.ok) {
      lastFailure = report;
      throw new InvariantBroken(report);
    }
  });
  const remaining = deadline - Date.now();
  const details = await fc.check(property, {
    seed: settings.seed,
    numRuns: settings.runs,
    ...(settings.path ? { path: settings.path, endOnFailure: true } : {}),
    ...(settings.shrink === false ? { endOnFailure: true } : {}),
    plugins: Number.isFinite(remaining) ? [fc.interruptAfterTimeLimit(Math.max(1, remaining))] : [],
  });
  await inFlight?.catch(() => undefined);
  casesPassed += details.failed ? details.numRuns - 1 : details.numRuns;
  shrinks += details.numShrinks;
  if (details.failed) {
    const counterexample = (details.counterexample as [FuzzCase] | null)?.[0] ?? { messages: [] };
    const error = details.errorInstance;
    const report: RunReport =
      error instanceof InvariantBroken
        ? error.report
        : (lastFailure ?? {
            ok: false,
            nonce: "?",
            connection: chain.connection,
            // The harness itself failed (Odoo not answering, …): say so rather than blame the chain.
            problems: [`the fuzz harness failed: ${(error as Error)?.stack ?? String(error)}`],
            published: 0,
            expectedRows: 0,
            states: {},
            settleMs: Number.NaN,
          });
    const path = details.counterexamplePath ?? undefined;
    failures.push({
      origin: "generated",
      counterexample,
      ...(path ? { path } : {}),
      report,
      savedTo: save(details.seed, "generated", counterexample, report, path),
    });
  }
  return {
    ok:
      failures.length === 0 &&
      !(settings.requireAllRuns !== false && details.interrupted && details.numRuns < settings.runs),
    seed: details.seed,
    runsExecuted: reports.length,
    casesPassed,
    generatedCases: details.numRuns,
    messagesPublished: reports.reduce((n, r) => n + r.published, 0),
    shrinks,
    interrupted: details.interrupted,
    failures,
    elapsedMs: Date.now() - started,
    reports,
  };
}

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;

/** What a person needs after a failure: the seed, how to replay, each shrunk case as data, what broke. */
export function formatOutcome(outcome: FuzzOutcome, replay: string): string {
  const head =
    `fuzz seed ${outcome.seed}: ${outcome.ok ? "PASS" : "FAIL"} — ${outcome.casesPassed} cases passed ` +
    `(${outcome.generatedCases} generated), ${outcome.runsExecuted} chain runs (${outcome.shrinks} shrinks), ` +
    `${outcome.messagesPublished} messages, ${Math.round(outcome.elapsedMs / 1000)} s` +
    (outcome.interrupted ? " (time limit reached)" : "");
  const lines = [head];
  // Settle time per message, early cases against late ones: a chain that slows as Odoo's tables fill shows here.
  const perMessage = outcome.reports.filter((r) => r.ok && r.published > 0).map((r) => r.settleMs / r.published);
  if (perMessage.length >= 10) {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const tenth = Math.max(5, Math.floor(perMessage.length / 10));
    lines.push(
      `settle time per message (median): first ${tenth} cases ${median(perMessage.slice(0, tenth)).toFixed(0)} ms, ` +
        `last ${tenth} cases ${median(perMessage.slice(-tenth)).toFixed(0)} ms`,
    );
  }
  for (const f of outcome.failures) {
    lines.push(
      "",
      `${f.origin}: counterexample of ${f.counterexample.messages.length} messages (saved to ${f.savedTo}; add it to test/fuzz/regressions.ts)`,
      clip(JSON.stringify(f.counterexample), 4000),
      ...(f.path ? [`replay: SFB_FUZZ_SEED=${outcome.seed} SFB_FUZZ_PATH=${f.path} ${replay}`] : []),
      "what broke:",
      ...f.report.problems.map((p) => `  - ${clip(p, 2000)}`),
    );
  }
  if (outcome.failures.length === 0 && !outcome.ok) lines.push("the time limit cut the generated cases short");
  return lines.join("\n");
}
