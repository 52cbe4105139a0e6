// The tag picker's round trip against a real Odoo 18, a running sidecar (the
// composition root, in-process) and the line simulator's node-opcua server:
// - answer latency: from the admin's `shopfloor.probe.request` (call start)
//   to `status` saying done, as the form polls it, browsing a machine's tags
//   (8 variables with type, value and status) while someone is asking (the
//   quick pace Odoo names); samples start at random phases of the pull loop;
// - what the channel costs Odoo when nobody asks: Odoo's CPU per empty pull
//   (process tree, /proc) and, at the idle pace, its share of one core per
//   sidecar.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startOdoo } from "../devstack/odoo.ts";
import { listProcesses, rootWithArg, TreeCpuMeter } from "../devstack/proc-cpu.ts";
import { Line } from "../simulator/line.ts";
import { SimOpcuaServer } from "../simulator/opcua-server.ts";
import { Sidecar } from "../src/main.ts";
import { createLogger } from "../src/ops/log.ts";
import { makeOdooFixture } from "../test/support/odoo/testing.ts";
import type { Benchmark, Figure } from "./harness.ts";
import { percentile } from "./harness.ts";

/** Odoo's pace while nobody asked for a minute (models/shopfloor_probe.py IDLE_POLL_MS). */
const IDLE_PACE_MS = 1_000;

const bench: Benchmark = {
  name: "probe",
  issue: 19,
  async run(ctx) {
    const samples = Math.max(10, Math.round(40 * ctx.scale));
    const pulls = Math.max(20, Math.round(100 * ctx.scale));
    const dir = mkdtempSync(join(tmpdir(), "sfb-bench-probe-"));
    const sim = new SimOpcuaServer({
      line: new Line("Line1", ["press-01"]),
      port: await freePort(),
      pkiDir: join(dir, "server-pki"),
      securityModes: ["None"],
    });
    const [odoo] = await Promise.all([startOdoo({ db: `sfb_bench_probe_${process.pid}`, log: ctx.log }), sim.start()]);
    let sidecar: Sidecar | undefined;
    try {
      const fixture = await makeOdooFixture(odoo, { code: "bench-probe" });
      await fixture.admin.execute("shopfloor.connection", "write", [
        [fixture.connectionId],
        { kind: "opcua", opcua_endpoint: sim.endpoint },
      ]);
      sidecar = await Sidecar.start({ boot: fixture.boot(join(dir, "spool")), log: createLogger("warn") });
      const ask = async (target: string): Promise<number> => {
        const started = performance.now();
        const { id } = (await fixture.admin.execute("shopfloor.probe", "request", [
          fixture.connectionId,
          "browse",
          target,
        ])) as { id: number };
        for (;;) {
          const [status] = (await fixture.admin.execute("shopfloor.probe", "status", [[id]])) as {
            state: string;
            error: string;
          }[];
          if (status?.state === "done") return performance.now() - started;
          if (status?.state !== "pending" && status?.state !== "taken") {
            throw new Error(`probe ${id} ended ${status?.state}: ${status?.error}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      // Warm-up: the first question finds the pull loop at its idle pace and opens the session.
      await ask("");
      const latencies: number[] = [];
      for (let n = 0; n < samples; n++) {
        await new Promise((r) => setTimeout(r, Math.random() * 300));
        latencies.push(await ask("ns=2;s=[default]Line1/press-01"));
        ctx.progress("browse round trip", n + 1, samples);
      }
      latencies.sort((a, b) => a - b);

      // The idle channel: empty pulls as the sidecar makes them, the sidecar's own included in the CPU.
      const client = fixture.client();
      const meter = new TreeCpuMeter(rootWithArg(`--http-port=${odoo.port}`, listProcesses()).pid);
      const pullStarted = performance.now();
      for (let n = 0; n < pulls; n++) await client.probePull(fixture.code, 20);
      const wallPerPull = (performance.now() - pullStarted) / pulls;
      const cpuPerPullMs = (meter.seconds() * 1000) / pulls;
      ctx.log(`empty pull: ${wallPerPull.toFixed(1)} ms wall, ${cpuPerPullMs.toFixed(1)} ms of Odoo CPU`);

      const p95 = percentile(latencies, 95);
      const figures: Figure[] = [
        {
          figure: "probe browse round trip p50 (admin asks → answer in Odoo)",
          value: Math.round(percentile(latencies, 50)),
          unit: "ms",
        },
        {
          figure: "probe browse round trip p95",
          value: Math.round(p95),
          unit: "ms",
          target: { text: "about a second: < 1000 ms", met: p95 < 1_000 },
        },
        { figure: "probe empty pull, Odoo CPU", value: cpuPerPullMs, unit: "ms" },
        {
          figure: "probe idle channel, Odoo CPU per sidecar (1 pull/s)",
          value: Number(((cpuPerPullMs / IDLE_PACE_MS) * 100).toFixed(2)),
          unit: "% of a core",
        },
      ];
      return figures;
    } finally {
      await sidecar?.stop();
      await sim.stop();
      await odoo.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
