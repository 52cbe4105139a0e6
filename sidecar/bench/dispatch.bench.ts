// Planning push-back against a real Odoo 18 and a real node-opcua
// server, with the connection's default dispatch settings (poll interval,
// settle window, max hold).
// - latency: from the JSON-RPC write of an MO's priority (call start) to the
//   OPC UA slot-0 Order tag changing on the server; samples start at random
//   phases of the poll loop.
// - burst: 100 priority writes (separate JSON-RPC calls, back to back) on the
//   MOs of one work center; how many writes reach the floor until it shows
//   the final queue and goes quiet.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOdoo } from "../devstack/odoo.ts";
import { startDispatcher } from "../src/floor/dispatcher.ts";
import type { OpcuaFloorWriter } from "../src/floor/opcua-writer.ts";
import { makeDispatchPlant, waitFor } from "../test/support/floor/dispatch-plant.ts";
import { startQueueOpcuaServer } from "../test/support/floor/queue-opcua-server.ts";
import type { Benchmark, Figure } from "./harness.ts";
import { percentile } from "./harness.ts";

const BURST = 100;

const bench: Benchmark = {
  name: "dispatch",
  issue: 6,
  async run(ctx) {
    const samples = Math.max(10, Math.round(30 * ctx.scale));
    const [odoo, server] = await Promise.all([
      startOdoo({ db: `sfb_bench_dispatch_${process.pid}`, log: ctx.log }),
      startQueueOpcuaServer({ line: "Line1", depth: 3 }),
    ]);
    const spoolDir = mkdtempSync(join(tmpdir(), "sfb-bench-dispatch-"));
    let stopDispatcher: (() => Promise<void>) | undefined;
    try {
      // The MQTT URL is unused: only an OPC UA target is configured.
      const plant = await makeDispatchPlant(odoo, { code: "bench-dispatch", mqttUrl: "mqtt://127.0.0.1:1" });
      const [workcenter] = plant.workcenters;
      const [first, second, third] = plant.productions as [
        { id: number; name: string },
        { id: number; name: string },
        { id: number; name: string },
      ];
      if (!workcenter) throw new Error("plant has no work center");
      await plant.addTarget({
        workcenter_id: workcenter.id,
        kind: "opcua",
        depth: 3,
        line_code: "Line1",
        opcua_endpoint: server.endpoint,
        opcua_version_node: "ns=2;s=[default]Shopfloor/{line}/Queue/Version",
      });
      const client = plant.fixture.client();
      const config = await client.sidecarConfig("bench-dispatch");
      const pollMs = config.dispatch.poll_interval_ms;
      ctx.log(`dispatch poll interval ${pollMs} ms (connection default)`);
      const running = startDispatcher({ odoo: client, config, spoolDir });
      stopDispatcher = running.stop;
      const writer = running.writers.opcua as OpcuaFloorWriter;
      const slot0 = server.nodeId(0, "order");
      await waitFor(() => server.value(slot0) === first.name, 20_000, "initial queue on the floor");

      const latencies: number[] = [];
      let urgent = false;
      for (let n = 0; n < samples; n++) {
        // Random phase against the poll loop.
        await new Promise((r) => setTimeout(r, 200 + Math.random() * pollMs));
        urgent = !urgent;
        const expected = urgent ? third.name : first.name;
        const started = performance.now();
        await plant.setPriority(third.id, urgent ? "1" : "0");
        await waitFor(() => server.value(slot0) === expected, 15_000, `sample ${n}`, 2);
        latencies.push(performance.now() - started);
        ctx.progress("priority → tag", n + 1, samples);
      }
      latencies.sort((a, b) => a - b);

      // Burst: let the floor go quiet first, then 100 changes as fast as JSON-RPC goes.
      await new Promise((r) => setTimeout(r, 2 * pollMs + 1_000));
      const writesBefore = writer.floorWrites;
      const versionBefore = Math.max(
        0,
        ...(await plant.messages([["workcenter_id", "=", workcenter.id]])).map((m) => m.version),
      );
      const burstStarted = performance.now();
      const mos = [first, second, third];
      for (let n = 0; n < BURST; n++) {
        const mo = mos[n % 3] as { id: number };
        await plant.setPriority(mo.id, n % 2 === 0 ? "1" : "0");
      }
      const burstMs = performance.now() - burstStarted;
      // Final priorities: the last write per MO decides. Expected slot 0 is the first urgent by planned start.
      const finalUrgent = mos.filter((_, i) => {
        const last = [...Array(BURST).keys()].filter((n) => n % 3 === i).at(-1) as number;
        return last % 2 === 0;
      });
      const expectedFirst = (finalUrgent[0] ?? first).name;
      await waitFor(() => server.value(slot0) === expectedFirst, 20_000, "final burst queue on the floor");
      // Quiet: nothing more written for settle + max hold + two polls.
      let seen = writer.floorWrites;
      const quietMs = config.dispatch.poll_interval_ms * 2 + 2_500;
      let quietSince = performance.now();
      while (performance.now() - quietSince < quietMs) {
        await new Promise((r) => setTimeout(r, 100));
        if (writer.floorWrites !== seen) {
          seen = writer.floorWrites;
          quietSince = performance.now();
        }
      }
      const burstWrites = writer.floorWrites - writesBefore;
      const messages = await plant.messages([
        ["workcenter_id", "=", workcenter.id],
        ["version", ">", versionBefore],
      ]);
      const byState = new Map<string, number>();
      for (const m of messages) byState.set(m.state, (byState.get(m.state) ?? 0) + 1);
      ctx.log(
        `burst of ${BURST} changes took ${(burstMs / 1000).toFixed(1)} s; ${burstWrites} floor writes; ` +
          `messages built meanwhile: ${messages.length} (${[...byState].map(([state, n]) => `${state} ${n}`).join(", ")})`,
      );

      const p50 = percentile(latencies, 50);
      const p99 = percentile(latencies, 99);
      return [
        {
          figure: `dispatch latency p50, priority write → OPC UA tag (${samples} samples, poll ${pollMs} ms)`,
          value: Math.round(p50),
          unit: "ms",
        },
        {
          figure: `dispatch latency p99, priority write → OPC UA tag (${samples} samples, poll ${pollMs} ms)`,
          value: Math.round(p99),
          unit: "ms",
          target: { text: "< 2000 ms", met: p99 < 2_000 },
        },
        {
          figure: `floor writes for a burst of ${BURST} priority changes on one work center`,
          value: burstWrites,
          unit: "writes",
          target: { text: "≤ 3", met: burstWrites <= 3 },
        },
        { figure: `burst duration (${BURST} JSON-RPC priority writes)`, value: Math.round(burstMs), unit: "ms" },
      ] satisfies Figure[];
    } finally {
      await stopDispatcher?.();
      await server.stop();
      await odoo.destroy();
      rmSync(spoolDir, { recursive: true, force: true });
    }
  },
};

export default bench;
