// Planning push-back end to end: a planner changes an MO's priority in a
// real Odoo; the dispatcher pulls, writes to a real node-opcua server, a real
// Mosquitto (retained JSON and Sparkplug), and acks; failures show in Odoo.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { type DispatchPlant, makeDispatchPlant, waitFor } from "../../test/support/floor/dispatch-plant.ts";
import { readRetained, SparkplugHost } from "../../test/support/floor/floor-readers.ts";
import { type QueueOpcuaServer, startQueueOpcuaServer } from "../../test/support/floor/queue-opcua-server.ts";
import { Sidecar } from "../main.ts";
import { createLogger } from "../ops/log.ts";
import { type RunningDispatcher, startDispatcher } from "./dispatcher.ts";

describe("planning push-back: Odoo → dispatcher → floor", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let line1: QueueOpcuaServer;
  let line3: QueueOpcuaServer;
  let plant: DispatchPlant;
  let running: RunningDispatcher;
  let host: SparkplugHost;
  let spoolDir: string;
  let pollIntervalMs: number;

  beforeAll(async () => {
    [odoo, broker, line1, line3] = await Promise.all([
      startOdoo({ db: `sfb_floor_int_${process.pid}` }),
      startMosquitto(),
      startQueueOpcuaServer({ line: "Line1", depth: 3 }),
      // Line3's first order tag is read-only for the sidecar's user: a rejected write.
      startQueueOpcuaServer({ line: "Line3", depth: 3, readOnly: ["0/order"] }),
    ]);
    plant = await makeDispatchPlant(odoo, { code: "disp", mqttUrl: broker.url });
    const [a, b, c] = plant.workcenters as [
      DispatchPlant["workcenters"][0],
      DispatchPlant["workcenters"][0],
      DispatchPlant["workcenters"][0],
    ];
    await plant.addTarget({
      workcenter_id: a.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line1",
      opcua_endpoint: line1.endpoint,
      opcua_version_node: "ns=2;s=[default]Shopfloor/{line}/Queue/Version",
    });
    await plant.addTarget({ workcenter_id: a.id, kind: "mqtt", depth: 3, mqtt_topic: "plant/{line}/queue" });
    await plant.addTarget({
      workcenter_id: a.id,
      kind: "sparkplug",
      depth: 3,
      sparkplug_group_id: "Plant1",
      sparkplug_edge_node_id: "Dispatch",
    });
    // A node id that does not exist on the server.
    await plant.addTarget({
      workcenter_id: b.id,
      kind: "opcua",
      depth: 3,
      line_code: "Nowhere",
      opcua_endpoint: line1.endpoint,
    });
    await plant.addTarget({
      workcenter_id: c.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line3",
      opcua_endpoint: line3.endpoint,
    });
    host = await SparkplugHost.connect(broker.url, "Plant1", "Dispatch");
    spoolDir = mkdtempSync(join(tmpdir(), "sfb-dispatch-int-"));
    const client = plant.fixture.client();
    const config = await client.sidecarConfig("disp");
    pollIntervalMs = config.dispatch.poll_interval_ms;
    running = startDispatcher({ odoo: client, config, spoolDir });
  });

  afterAll(async () => {
    await running?.stop();
    await host?.close();
    await Promise.all([line1?.stop(), line3?.stop(), broker?.destroy(), odoo?.destroy()]);
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  const slotOrders = (server: QueueOpcuaServer) => [0, 1, 2].map((slot) => server.value(server.nodeId(slot, "order")));

  it("delivers the configured targets in sidecar_config", async () => {
    const config = await plant.fixture.client().sidecarConfig("disp");
    expect(config.dispatch.targets.map((t) => `${t.workcenter}:${t.kind}`).sort()).toEqual(
      ["DISP-A:mqtt", "DISP-A:opcua", "DISP-A:sparkplug", "DISP-B:opcua", "DISP-C:opcua"].sort(),
    );
    expect(pollIntervalMs).toBeLessThanOrEqual(1000);
  });

  it("an urgent MO reaches the OPC UA tags within the poll interval, in queue order, and is acked in Odoo", async () => {
    const [first, second, third] = plant.productions as [
      { id: number; name: string },
      { id: number; name: string },
      { id: number; name: string },
    ];
    // Creating the targets sent the current queue: the three MOs by planned start.
    await waitFor(
      () => slotOrders(line1).join() === [first.name, second.name, third.name].join(),
      10_000,
      "initial queue",
    );

    const changedAt = Date.now();
    await plant.setPriority(third.id, "1");
    await waitFor(() => line1.value(line1.nodeId(0, "order")) === third.name, 10_000, "urgent MO in slot 0");
    const latencyMs = Date.now() - changedAt;
    // Poll interval + settle window (300 ms) + the write itself, with room for a loaded machine.
    expect(latencyMs).toBeLessThan(pollIntervalMs + 2_000);
    expect(slotOrders(line1)).toEqual([third.name, first.name, second.name]);
    expect(line1.value(line1.nodeId(0, "priority"))).toBe(1);
    expect(line1.value(line1.nodeId(0, "qty"))).toBe(12);
    const acked = await waitFor(
      async () => {
        const rows = await plant.messages([
          ["workcenter_id", "=", plant.workcenters[0]?.id],
          ["kind", "=", "opcua"],
          ["state", "=", "acked"],
        ]);
        const row = rows.at(-1);
        return row && JSON.parse(row.payload_json).queue[0].order === third.name ? row : undefined;
      },
      10_000,
      "the OPC UA message acked in Odoo",
    );
    expect(acked.acked_at).toBeTruthy();
    // The version tag is written last: once it shows the new version, every slot does too.
    const versionChanges = line1.changes(line1.nodeId("version"));
    const lastVersionAt = versionChanges.at(-1)?.at ?? 0;
    const lastSlotAt = Math.max(...[0, 1, 2].map((slot) => line1.changes(line1.nodeId(slot, "order")).at(-1)?.at ?? 0));
    expect(lastVersionAt).toBeGreaterThanOrEqual(lastSlotAt);
    const json = JSON.parse(String(line1.value(line1.nodeId("json"))));
    expect(json.queue.map((e: { order: string }) => e.order)).toEqual([third.name, first.name, second.name]);

    expect(line1.value(line1.nodeId("version"))).toBe(acked.version);
  });

  it("the same change reaches a fresh MQTT subscriber (retained) and a Sparkplug host", async () => {
    const third = plant.productions[2] as { name: string };
    const retained = await waitFor(
      async () => {
        const body = await readRetained(broker.url, "plant/DISP-A/queue");
        const doc = body ? JSON.parse(body) : undefined;
        return doc?.queue?.[0]?.order === third.name ? doc : undefined;
      },
      10_000,
      "retained queue with the urgent MO",
    );
    expect(retained.workcenter).toBe("DISP-A");
    await host.requestRebirth();
    await waitFor(() => host.values.get("DISP-A/Queue/0/Order") === third.name, 10_000, "Sparkplug metric");
    expect(host.messages.some((m) => m.type === "NBIRTH" && m.metrics.some((x) => x.name === "bdSeq"))).toBe(true);
    const rows = await plant.messages([
      ["workcenter_id", "=", plant.workcenters[0]?.id],
      ["kind", "in", ["mqtt", "sparkplug"]],
    ]);
    expect(rows.filter((r) => r.state === "acked").map((r) => r.kind)).toEqual(
      expect.arrayContaining(["mqtt", "sparkplug"]),
    );
  });

  it("rejected writes fail in Odoo with the server's reason and are not retried", async () => {
    const [, b, c] = plant.workcenters as [unknown, { id: number }, { id: number }];
    const badNode = await waitFor(
      async () => {
        const rows = await plant.messages([
          ["workcenter_id", "=", b.id],
          ["state", "=", "failed"],
        ]);
        return rows.at(-1);
      },
      15_000,
      "failed message on the work center with a bad node id",
    );
    expect(badNode.error).toMatch(/^BadNodeIdUnknown/);
    expect(badNode.error).toContain("Shopfloor/Nowhere/Queue/0/Order");
    expect(badNode.retryable).toBe(false);
    const denied = await waitFor(
      async () => {
        const rows = await plant.messages([
          ["workcenter_id", "=", c.id],
          ["state", "=", "failed"],
        ]);
        return rows.at(-1);
      },
      15_000,
      "failed message on the read-only line",
    );
    expect(denied.error).toMatch(/^BadUserAccessDenied/);
    expect(denied.retryable).toBe(false);
    // Not retried: the retry count stays at one over several polls.
    await new Promise((r) => setTimeout(r, pollIntervalMs * 3));
    const again = await plant.messages([["id", "=", denied.id]]);
    expect(again[0]?.retry_count).toBe(1);
    expect(again[0]?.state).toBe("failed");
  });

  it("OPC UA server down: the write fails and is retried with backoff, then delivered", async () => {
    const [first] = plant.productions as [{ id: number; name: string }];
    await line1.stop();
    await plant.setPriority(first.id, "1");
    const failed = await waitFor(
      async () => {
        const rows = await plant.messages([
          ["workcenter_id", "=", plant.workcenters[0]?.id],
          ["kind", "=", "opcua"],
          ["state", "=", "failed"],
        ]);
        return rows.find((r) => r.retry_count >= 1);
      },
      15_000,
      "a failed OPC UA message while the server is down",
    );
    expect(failed.error).toMatch(/cannot connect/);
    expect(failed.retryable).toBe(true);
    await line1.start();
    await waitFor(
      async () => {
        const [row] = await plant.messages([["id", "=", failed.id]]);
        return row?.state === "acked" ? row : undefined;
      },
      20_000,
      "the retried message acked",
    );
    // MO1 and MO3 are urgent now; MO1 starts earlier.
    expect(line1.value(line1.nodeId(0, "order"))).toBe(first.name);
    expect(line1.value(line1.nodeId(1, "order"))).toBe(plant.productions[2]?.name);
  });

  it("the sidecar's composition root runs the dispatcher for a connection with floor targets", async () => {
    await running.stop();
    const [first] = plant.productions as [{ id: number; name: string }];
    const sidecarSpool = mkdtempSync(join(tmpdir(), "sfb-dispatch-sidecar-"));
    const sidecar = await Sidecar.start({
      boot: plant.fixture.boot(sidecarSpool),
      log: createLogger("silent"),
    });
    try {
      expect(sidecar.dispatcher).toBeDefined();
      await plant.setPriority(first.id, "0");
      // MO3 is the only urgent one now.
      await waitFor(
        () => line1.value(line1.nodeId(0, "order")) === plant.productions[2]?.name,
        10_000,
        "queue via the sidecar",
      );
    } finally {
      await sidecar.stop();
      rmSync(sidecarSpool, { recursive: true, force: true });
    }
  });
});
