// The mapping form's way to the sidecar's evaluator: mapping_engine_impl.ts,
// built as its own ES module (jsonata is most of its size) and imported the
// first time a sample is evaluated, so no other screen loads it.
import type { Evaluator } from "../components/mapping_try/try_run.ts";
import { _t } from "./web.ts";

/** Set by scripts/build.ts: the evaluator module's URL, versioned by its content. */
declare const __SFB_ENGINE_URL__: string;

type Engine = { evaluateSample: Evaluator };
let engine: Promise<Engine> | undefined;

function loadEngine(): Promise<Engine> {
  if (!engine) {
    const url = typeof __SFB_ENGINE_URL__ === "string" ? __SFB_ENGINE_URL__ : "";
    engine = (import(/* @vite-ignore */ url) as Promise<Engine>).catch((err: unknown) => {
      engine = undefined; // a later evaluation tries again
      throw new Error(
        _t("The mapping evaluator could not be loaded (%(url)s): %(error)s", {
          url,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    });
  }
  return engine;
}

export const evaluateSample: Evaluator = async (mapping, sample) =>
  (await loadEngine()).evaluateSample(mapping, sample);
