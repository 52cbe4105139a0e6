// The whole-chain fuzzer's throughput and the size of
// its CI run, through real Mosquitto, the sidecar process and real Odoo 18
// (the demo plant), with a fixed seed:
// 1. throughput: one batch of generated messages (the fuzzer's mix: odd
//    events, garbage, repeats, rarely 10 MB) published at once, messages
//    per minute from the first publish to every message settled in Odoo and
//    the spool empty;
// 2. the CI run: the e2e tier's settings (CI_FUZZ), how many cases and
//    messages it executes and how long it takes. A case that breaks the
//    invariant stops it (no shrinking here) and is logged.
import fc from "fast-check";
import { coverageCase, type FuzzCase, fuzzCaseArb } from "../../test/fuzz/arbitraries.ts";
import { FuzzChain } from "../../test/fuzz/chain.ts";
import { CI_FUZZ, fuzzChain } from "../../test/fuzz/property.ts";
import type { Benchmark, Figure } from "./harness.ts";

const SEED = 20261201;

const bench: Benchmark = {
  name: "fuzz",
  issue: 14,
  async run(ctx) {
    const chain = await FuzzChain.start({ db: `sfb_bench_fuzz_${process.pid}`, log: ctx.log });
    try {
      // 1. One large batch of the fuzzer's messages.
      const target = Math.max(200, Math.round(1_000 * ctx.scale));
      const batch: FuzzCase = { messages: [] };
      for (const c of fc.sample(fuzzCaseArb(chain.vocabulary, { maxMessages: CI_FUZZ.maxMessages }), {
        seed: SEED,
        numRuns: target,
      })) {
        if (batch.messages.length >= target) break;
        batch.messages.push(...c.messages.slice(0, target - batch.messages.length));
      }
      const big = await chain.run(batch);
      ctx.log(
        `batch of ${big.published} messages: ${big.ok ? "kept the invariant" : `broke it: ${big.problems[0] ?? ""}`}; ` +
          `settled in ${Math.round(big.settleMs)} ms ${JSON.stringify(big.states)}`,
      );

      // 2. The CI run.
      const runs = Math.max(5, Math.round(CI_FUZZ.runs * ctx.scale));
      const started = performance.now();
      let done = 0;
      const outcome = await fuzzChain(
        chain,
        {
          seed: SEED,
          runs,
          maxMessages: CI_FUZZ.maxMessages,
          timeLimitMs: CI_FUZZ.timeLimitMs,
          fixed: [coverageCase(chain.vocabulary)],
          shrink: false,
        },
        () => ctx.progress("fuzz cases", ++done, runs + 1),
      );
      const seconds = (performance.now() - started) / 1000;
      for (const f of outcome.failures) {
        ctx.log(`${f.origin} broke the invariant (seed ${SEED}): ${f.report.problems[0] ?? ""}`);
      }
      const cases = outcome.reports.length;
      ctx.log(
        `CI run, seed ${SEED}: ${cases} cases, ${outcome.messagesPublished} messages, ` +
          `${outcome.failures.length} broke the invariant, ${seconds.toFixed(1)} s`,
      );
      const figures: Figure[] = [
        {
          figure: `whole-chain fuzz throughput, ${big.published} generated messages published → settled in Odoo`,
          // A batch that never settled (stalled) measured nothing: 0.
          value: Number.isFinite(big.settleMs) ? Math.round((big.published / big.settleMs) * 60_000) : 0,
          unit: "messages/min",
        },
        {
          figure: `fuzz cases in the CI run (${CI_FUZZ.runs} generated + 1 fixed; here ×${ctx.scale})`,
          value: cases,
          unit: "cases",
        },
        { figure: "fuzz messages in the CI run", value: outcome.messagesPublished, unit: "messages" },
        {
          figure: "fuzz CI run wall time (after Odoo, Mosquitto and the sidecar are up)",
          value: Math.round(seconds * 10) / 10,
          unit: "s",
          target: { text: "< 180 s on 2 cores", met: seconds < 180 },
        },
        {
          figure: "fuzz cases that broke the invariant",
          value: outcome.failures.length,
          unit: "cases",
          target: { text: "0", met: outcome.failures.length === 0 },
        },
      ];
      return figures;
    } finally {
      await chain.stop();
    }
  },
};

export default bench;
