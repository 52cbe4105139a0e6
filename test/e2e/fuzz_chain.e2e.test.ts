// The whole-chain fuzzer, short run: fast-check generates batches of MQTT
// messages field by field (odd text, odd numbers and times, duplicated and
// reordered ids, truncated UTF-8, garbage, rarely 10 MB), published through
// real Mosquitto into the sidecar process and real Odoo 18 (the demo plant:
// valid events can apply). After each batch: every message is in Odoo
// exactly once with a reason unless applied, the spool is empty, the sidecar
// alive and healthy (test/fuzz/chain.ts). The first batch is fixed: every
// odd value of the sidecar's corpus and one event of every type.
//
// Seeded: SFB_FUZZ_SEED (printed every run), SFB_FUZZ_RUNS, SFB_FUZZ_MESSAGES;
// SFB_FUZZ_PATH with the seed replays a shrunk counterexample. The long run
// is `npm run test:chaos -- --fuzz`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { coverageCase } from "../fuzz/arbitraries.ts";
import { FuzzChain } from "../fuzz/chain.ts";
import { CI_FUZZ, formatOutcome, fuzzChain, settingsFromEnv } from "../fuzz/property.ts";

const log = (line: string) => console.log(`[fuzz] ${line}`);

describe.runIf(moduleHasSidecarApi())("whole-chain fuzzer (fast-check → Mosquitto → sidecar → Odoo 18)", () => {
  let chain: FuzzChain;

  beforeAll(async () => {
    chain = await FuzzChain.start({ db: `sfb_fuzz_e2e_${process.pid}`, log });
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it("every generated message ends in Odoo exactly once, the spool drains, the sidecar stays up", {
    timeout: 295_000,
  }, async () => {
    const settings = settingsFromEnv(CI_FUZZ);
    log(`seed ${settings.seed}, ${settings.runs} generated cases of up to ${settings.maxMessages} messages`);
    const outcome = await fuzzChain(
      chain,
      // Shrinking a failure stops in time for the report; the smallest counterexample so far is kept.
      { ...settings, timeLimitMs: CI_FUZZ.timeLimitMs, fixed: [coverageCase(chain.vocabulary)] },
      log,
    );
    const report = formatOutcome(outcome, "npx vitest run test/e2e/fuzz_chain.e2e.test.ts");
    log(report);
    expect(outcome.failures.length, report).toBe(0);
    expect(outcome.ok, report).toBe(true);
    if (!settings.path) expect(outcome.casesPassed, report).toBe(settings.runs + 1);
  });
});
