// The sidecar's own payload-mapping evaluator (sidecar/src/mapping/evaluate.ts,
// which imports only jsonata and the RFC 3339 reader), run in the browser with
// the sidecar's limits: the "try it" and retry panels show exactly what the
// sidecar would make of a payload, with the same deterministic ids. SHA-256
// comes from crypto.subtle.
// Built apart from the screens' bundle (scripts/build.ts, buildEngine) and
// imported by mapping_engine.ts when the mapping form first needs it.
import { DEFAULT_MAPPING_LIMITS, runMapping } from "../../../sidecar/src/mapping/evaluate.ts";
import type { Evaluator } from "../components/mapping_try/try_run.ts";

export async function sha256hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const evaluateSample: Evaluator = async (mapping, sample) => {
  const outcome = await runMapping(
    mapping,
    {
      payload: sample.payload,
      topic: sample.topic,
      headers: sample.headers,
      receivedAt: new Date(sample.receivedAt),
      connection: sample.connection,
      revision: mapping.revision,
    },
    sha256hex,
    DEFAULT_MAPPING_LIMITS,
  );
  if (!outcome.ok) return { status: "error", message: outcome.reason };
  if (mapping.kind === "values") {
    return {
      status: "values",
      observations: outcome.observations.map((obs) => ({
        address: obs.address,
        value: obs.value,
        time: obs.time.toISOString(),
      })),
    };
  }
  return { status: "events", events: outcome.events as unknown as Record<string, unknown>[] };
};
