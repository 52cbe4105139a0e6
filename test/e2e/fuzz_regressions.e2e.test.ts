// Every counterexample the whole-chain fuzzer found (test/fuzz/regressions.ts),
// replayed exactly through real Mosquitto, the sidecar process and Odoo 18,
// judged by the fuzzer's own invariant (test/fuzz/chain.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { FuzzChain } from "../fuzz/chain.ts";
import { REGRESSIONS } from "../fuzz/regressions.ts";

describe.runIf(moduleHasSidecarApi())("fuzzer counterexamples, replayed through the whole chain", () => {
  let chain: FuzzChain;

  beforeAll(async () => {
    chain = await FuzzChain.start({ db: `sfb_fuzz_regressions_${process.pid}`, stallMs: 15_000 });
  });
  afterAll(async () => {
    await chain?.stop();
  });

  for (const regression of REGRESSIONS) {
    it(regression.name, async () => {
      const report = await chain.run(regression.case);
      expect(report.problems, `found: ${regression.found}`).toEqual([]);
      expect(report.ok).toBe(true);
    });
  }
});
