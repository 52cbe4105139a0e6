// Ingest throughput into a real Odoo 18.
//
// - batched: `shopfloor.event.ingest` with 500 events per JSON-RPC call, as the
//   sidecar sends them: store-only (apply deferred to the cron) and
//   store-and-apply on a realistic mix of event types;
// - baseline: what a Node-RED flow does, one event per message, each turned
//   into plain ORM calls over JSON-RPC (search the MO, search the work order,
//   create the time log, write quantities … one execute_kw per step). Its
//   production reports book the components as the batched apply does (the
//   producing quantity written on the work order runs Odoo's stock cascade);
//   the earlier flow that left them unbooked is measured too, for comparison.
// All run in one process against the same server, side by side.
import { startOdoo } from "../devstack/odoo.ts";
import type { CloudEvent } from "../src/core/contract.ts";
import type { Benchmark, Figure } from "./harness.ts";
import { connect, integrationKey, interleave, makePlant, type Rpc, runPerEventFlow } from "./plant-mix.ts";

async function ingestAll(
  sidecar: Rpc,
  events: CloudEvent[],
  batch: number,
  deferApply: boolean,
  progress: (done: number) => void,
): Promise<{ seconds: number; statuses: Record<string, number> }> {
  const statuses: Record<string, number> = {};
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += batch) {
    const chunk = events.slice(i, i + batch);
    const results = await sidecar.kw<{ status: string }[]>(
      "shopfloor.event",
      "ingest",
      [chunk],
      deferApply ? { context: { shopfloor_defer_apply: true } } : {},
    );
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    progress(i + chunk.length);
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, statuses };
}

const bench: Benchmark = {
  name: "ingest",
  issue: 3,
  async run(ctx) {
    const storeCount = Math.max(500, Math.round(2000 * ctx.scale));
    const applyCount = Math.max(500, Math.round(1000 * ctx.scale));
    const perEvent = Math.max(100, Math.round(200 * ctx.scale));
    const batch = 500;
    const odoo = await startOdoo({
      db: `sfb_bench_ingest_${process.pid}`,
      workers: 2,
      log: ctx.log,
      // A 500-event call that also applies runs past Odoo's default 60 s/120 s request limits.
      extraArgs: ["--limit-time-cpu=3600", "--limit-time-real=3600"],
    });
    try {
      const admin = await connect(odoo.url, odoo.db, odoo.login, odoo.password);
      // The sidecar's user as a site makes it: an integration user with an API key (see integrationKey).
      const sidecarKey = await integrationKey(admin, "plant1-mqtt", "sidecar-bench-ingest");
      const sidecar = await connect(odoo.url, odoo.db, "sidecar-bench-ingest", sidecarKey);

      /** Ingests `count` events of a fresh plant in batches; `store-only` defers the apply to the cron. */
      const ingestRate = async (tag: "store" | "apply", label: string, count: number): Promise<number> => {
        const events = interleave(await makePlant(admin, tag), tag, count);
        const run = await ingestAll(sidecar, events, batch, tag === "store", (n) =>
          ctx.progress(`ingest ${label}`, n, count),
        );
        // Store and apply counts what Odoo finished with in the calls: an event its
        // apply budget left pending was stored, not applied, and is not counted.
        const done = tag === "apply" ? count - (run.statuses.pending ?? 0) : count;
        const rate = done / run.seconds;
        ctx.log(
          `${label}: ${count} events in ${run.seconds.toFixed(1)} s = ${rate.toFixed(0)} events/s ${JSON.stringify(run.statuses)}`,
        );
        return rate;
      };
      // Store and apply: the realistic mix applied in the same call. First: an
      // ingest call applies the pending events of its work centers before its
      // own (their order holds), so after the store-only run it would apply
      // that backlog too.
      const applyRate = await ingestRate("apply", "store+apply", applyCount);
      // Store only: the events land in the inbox, the cron would apply them.
      const storeRate = await ingestRate("store", "store-only", storeCount);
      const states = await admin.kw<{ state: string; __count: number }[]>(
        "shopfloor.event",
        "read_group",
        [[["event_uid", "=like", "apply-%"]], ["state"], ["state"]],
        { lazy: false },
      );
      ctx.log(`store+apply event states: ${states.map((s) => `${s.state}=${s.__count}`).join(" ")}`);
      const notApplied = await admin.kw<{ type: string; state: string; error_message: string }[]>(
        "shopfloor.event",
        "search_read",
        [
          [
            ["event_uid", "=like", "apply-%"],
            ["state", "!=", "applied"],
          ],
        ],
        { fields: ["type", "state", "error_message"], limit: 200 },
      );
      const reasons = new Map<string, number>();
      for (const e of notApplied) {
        const key = `${e.type} ${e.state}: ${String(e.error_message).slice(0, 140)}`;
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
      for (const [reason, count] of reasons) ctx.log(`  not applied ×${count}: ${reason}`);

      // Baseline: one event per flow run, plain ORM calls; each variant on its own plant.
      const runFlow = async (tag: string, bookComponents: boolean) => {
        const run = await runPerEventFlow(admin, tag, perEvent, bookComponents, (done) =>
          ctx.progress(`per-event baseline (${tag})`, done, perEvent),
        );
        ctx.log(
          `baseline ${tag}: ${perEvent} events in ${run.seconds.toFixed(1)} s = ${run.rate.toFixed(1)} events/s, ${run.calls.toFixed(2)} calls/event`,
        );
        return run;
      };
      const { rate: flowRate, calls: callsPerEvent } = await runFlow("flow", true);
      const booked = await admin.kw<{ quantity: number }[]>(
        "stock.move",
        "search_read",
        [[["raw_material_production_id.origin", "=", "bench flow"]]],
        { fields: ["quantity"] },
      );
      ctx.log(`baseline flow booked components: ${booked.map((m) => m.quantity).join(", ")}`);
      // The earlier baseline, kept for comparison: reports leave the components unbooked.
      const { rate: lightRate, calls: lightCalls } = await runFlow("flowlight", false);

      const baseline = {
        name: "Node-RED style: 1 event per flow run, plain ORM calls over JSON-RPC, components booked per report",
        value: Number(flowRate.toFixed(1)),
      };
      const figures: Figure[] = [
        {
          figure: `ingest events/s, batch ${batch}, store only (${storeCount} events)`,
          value: Math.round(storeRate),
          unit: "events/s",
          baseline,
        },
        {
          figure: `ingest events/s, batch ${batch}, store+apply, realistic mix (${applyCount} events)`,
          value: Math.round(applyRate),
          unit: "events/s",
          baseline,
          target: { text: "≥ 10× the per-event baseline", met: applyRate >= 10 * flowRate },
        },
        {
          figure: `ingest events/s, batch ${batch}, store+apply vs a flow that leaves components unbooked`,
          value: Math.round(applyRate),
          unit: "events/s",
          baseline: {
            name: `Node-RED style without booking components (${lightCalls.toFixed(1)} JSON-RPC calls each)`,
            value: Number(lightRate.toFixed(1)),
          },
        },
        {
          figure: `per-event baseline events/s (${perEvent} events, ${callsPerEvent.toFixed(1)} JSON-RPC calls each)`,
          value: Number(flowRate.toFixed(1)),
          unit: "events/s",
        },
      ];
      return figures;
    } finally {
      await odoo.destroy();
    }
  },
};

export default bench;
