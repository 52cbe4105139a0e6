// The sidecar's own payload-mapping evaluator, run in the browser: the
// "try it" panel and the retry panel show exactly what the sidecar would
// make of a payload. Wired to sidecar/src/mapping/evaluate.ts.
import type { Evaluator } from "../components/mapping_try/try_run.ts";

export const evaluateSample: Evaluator = async () => {
  throw new Error("the sidecar's mapping evaluator is not wired in yet");
};
