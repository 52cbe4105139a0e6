// `npm run test:chaos -- --fuzz`: the whole-chain fuzzer's long run (the
// e2e tier runs a short one). Real Odoo 18 with the demo plant, Mosquitto,
// the sidecar process; fast-check batches published until the run count or
// the time is reached, a failing batch shrunk to a counterexample, printed
// and saved under artifacts/fuzz/ (test/fuzz/property.ts).
//
//   node test/chaos/fuzz.ts --seed 42 --runs 200 --messages 60 --minutes 30
//   node test/chaos/fuzz.ts --case artifacts/fuzz/counterexample-….json   (replays one saved case)
//
// Exit code: 0 when every case kept the invariant, 1 otherwise, 2 on bad arguments.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { coverageCase, type FuzzCase } from "../fuzz/arbitraries.ts";
import { FuzzChain } from "../fuzz/chain.ts";
import { formatOutcome, fuzzChain } from "../fuzz/property.ts";

export const FUZZ_USAGE = `Usage: npm run test:chaos -- --fuzz [options]
  --seed <n>        fast-check seed (SFB_FUZZ_SEED; default: time-based, printed)
  --runs <n>        generated cases (SFB_FUZZ_RUNS; 200)
  --messages <n>    most messages per case (SFB_FUZZ_MESSAGES; 60)
  --minutes <n>     stop generating (and shrinking) after this long (30)
  --path <p>        with --seed: replay the counterexample at fast-check's path <p>
  --case <file>     replay a saved counterexample (artifacts/fuzz/*.json; repeatable) instead of generating
  --db <name>       database name (sfb_fuzz_<pid>), dropped at the end`;

export async function runFuzzCli(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        fuzz: { type: "boolean" },
        seed: { type: "string", default: process.env.SFB_FUZZ_SEED ?? String(Date.now() % 2 ** 31) },
        runs: { type: "string", default: process.env.SFB_FUZZ_RUNS ?? "200" },
        messages: { type: "string", default: process.env.SFB_FUZZ_MESSAGES ?? "60" },
        minutes: { type: "string", default: "30" },
        path: { type: "string", default: process.env.SFB_FUZZ_PATH },
        case: { type: "string", multiple: true },
        db: { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${FUZZ_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(FUZZ_USAGE);
    return 0;
  }
  const num = (key: string) => {
    const n = Number(values[key]);
    if (!Number.isFinite(n) || n < 0) {
      console.error(`--${key} must be a number ≥ 0, got ${values[key]}\n${FUZZ_USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const seed = num("seed");
  const log = (line: string) => console.log(`[fuzz] ${line}`);
  const chain = await FuzzChain.start({
    db: typeof values.db === "string" ? values.db : `sfb_fuzz_${process.pid}`,
    log,
  });
  const onSignal = () => void chain.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (Array.isArray(values.case)) {
      let failed = 0;
      for (const file of values.case) {
        const saved = JSON.parse(readFileSync(file, "utf8")) as { case: FuzzCase };
        const report = await chain.run(saved.case);
        if (!report.ok) failed++;
        log(
          `${file}: ${report.ok ? `kept the invariant ${JSON.stringify(report.states)}` : `FAILED:\n  - ${report.problems.join("\n  - ")}`}`,
        );
      }
      return failed ? 1 : 0;
    }
    log(`seed ${seed}, ${num("runs")} cases of up to ${num("messages")} messages, at most ${num("minutes")} min`);
    const outcome = await fuzzChain(
      chain,
      {
        seed,
        runs: num("runs"),
        maxMessages: num("messages"),
        timeLimitMs: num("minutes") * 60_000,
        fixed: [coverageCase(chain.vocabulary)],
        // --minutes ends a long run as --runs does.
        requireAllRuns: false,
        ...(typeof values.path === "string" ? { path: values.path } : {}),
      },
      log,
    );
    log(formatOutcome(outcome, "npm run test:chaos -- --fuzz"));
    return outcome.ok ? 0 : 1;
  } finally {
    await chain.stop();
  }
}

if (import.meta.main) process.exitCode = await runFuzzCli(process.argv.slice(2));
