// Planning push-back, whole chain: a planner's change in a real Odoo 18 →
// the sidecar process (bin shim, env contract) → the line simulator's
// Ignition-like OPC UA server. Rejected writes and a server outage show in Odoo.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { Line, planningPath, TAG_NAMES, tagNodeId } from "../../sidecar/simulator/line.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import { type DispatchPlant, makeDispatchPlant, waitFor } from "../../sidecar/test/support/floor/dispatch-plant.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

type Production = { id: number; name: string };
type Workcenter = DispatchPlant["workcenters"][number];

describe("planning push-back: Odoo → sidecar process → simulator OPC UA server", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  let line1: Line;
  let line2: Line;
  let sim1: SimOpcuaServer;
  let sim2: SimOpcuaServer;
  let plant: DispatchPlant;
  let sidecar: SidecarProcess;
  let dir: string;

  const order = (line: Line, slot: number) => line.planning.get(planningPath(line.name, slot, "Order"));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sfb-dispatch-e2e-"));
    line1 = new Line("Line1", ["Press"]);
    line2 = new Line("Line2", ["Bench"]);
    sim1 = new SimOpcuaServer({
      line: line1,
      port: await freePort(),
      pkiDir: join(dir, "pki1"),
      securityModes: ["None"],
    });
    sim2 = new SimOpcuaServer({
      line: line2,
      port: await freePort(),
      pkiDir: join(dir, "pki2"),
      securityModes: ["None"],
    });
    [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_dispatch_e2e_${process.pid}` }), startMosquitto()]);
    await Promise.all([sim1.start(), sim2.start()]);
    plant = await makeDispatchPlant(odoo, { code: "e2e-disp", mqttUrl: broker.url });
    const [a, b, c] = plant.workcenters as [Workcenter, Workcenter, Workcenter];
    await plant.addTarget({
      workcenter_id: a.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line1",
      opcua_endpoint: sim1.endpoint,
    });
    // No such line on the server: every slot node is unknown.
    await plant.addTarget({
      workcenter_id: b.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line9",
      opcua_endpoint: sim1.endpoint,
    });
    // Slots are writable; the JSON tag points at a PLC-driven machine tag the sidecar may only read.
    await plant.addTarget({
      workcenter_id: c.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line2",
      opcua_endpoint: sim2.endpoint,
      opcua_json_node: tagNodeId("Line2", "Bench", TAG_NAMES.find((t) => t === "CurrentOrder") ?? "CurrentOrder"),
    });
    const metricsPort = await freePort();
    sidecar = spawnSidecar({
      env: {
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: plant.fixture.user,
        ODOO_API_KEY: plant.fixture.password,
        SHOPFLOOR_CONNECTION: "e2e-disp",
        SHOPFLOOR_SPOOL_DIR: join(dir, "spool"),
        METRICS_PORT: String(metricsPort),
      },
    });
    await sidecar.waitForLog(/sidecar running/);
  });

  afterAll(async () => {
    await sidecar?.kill("SIGTERM");
    await Promise.all([sim1?.stop(), sim2?.stop(), broker?.destroy(), odoo?.destroy()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a priority change reaches the simulator's queue tags within the poll interval, in order", async () => {
    const [first, second, third] = plant.productions as [Production, Production, Production];
    await waitFor(
      () => [0, 1, 2].map((s) => order(line1, s)).join() === [first.name, second.name, third.name].join(),
      20_000,
      "the initial queue on Line1",
    );
    const changedAt = Date.now();
    await plant.setPriority(second.id, "1");
    await waitFor(() => order(line1, 0) === second.name, 10_000, "the urgent MO in slot 0");
    // Default poll interval (1 s) + settle window + write, with room for a loaded machine.
    expect(Date.now() - changedAt).toBeLessThan(3_000);
    expect([0, 1, 2].map((s) => order(line1, s))).toEqual([second.name, first.name, third.name]);
    expect(line1.planning.get(planningPath("Line1", 0, "Priority"))).toBe(1);
    expect(line1.planning.get(planningPath("Line1", 0, "Qty"))).toBe(11);
    expect(String(line1.planning.get(planningPath("Line1", 0, "Start")))).toMatch(/^2027-01-04T09:00:00/);
    await waitFor(
      async () => {
        const json = JSON.parse(String(line1.planning.get(planningPath("Line1", null, "QueueJson")) || "{}"));
        return json.queue?.[0]?.order === second.name;
      },
      5_000,
      "QueueJson",
    );
  });

  it("writes the server rejects fail in Odoo with its status code and are not retried", async () => {
    const [, b, c] = plant.workcenters as [Workcenter, Workcenter, Workcenter];
    const unknown = await waitFor(
      async () =>
        (
          await plant.messages([
            ["workcenter_id", "=", b.id],
            ["state", "=", "failed"],
          ])
        ).at(-1),
      20_000,
      "the bad-node-id message failed",
    );
    expect(unknown.error).toMatch(/^BadNodeIdUnknown/);
    expect(unknown.retryable).toBe(false);
    const denied = await waitFor(
      async () =>
        (
          await plant.messages([
            ["workcenter_id", "=", c.id],
            ["state", "=", "failed"],
          ])
        ).at(-1),
      20_000,
      "the read-only-tag message failed",
    );
    expect(denied.error).toMatch(/^(BadUserAccessDenied|BadNotWritable)/);
    expect(denied.error).toContain("Line2/Bench/CurrentOrder");
    expect(denied.retryable).toBe(false);
  });

  it("simulator down: the write is retried with backoff and delivered when it is back", async () => {
    const [first] = plant.productions as [Production];
    await sim1.stop();
    await plant.setPriority(first.id, "1");
    const failed = await waitFor(
      async () =>
        (
          await plant.messages([
            ["workcenter_id", "=", plant.workcenters[0]?.id],
            ["state", "=", "failed"],
          ])
        ).find((m) => m.retry_count >= 1),
      20_000,
      "a failed write while the simulator is down",
    );
    expect(failed.retryable).toBe(true);
    expect(failed.error).toMatch(/cannot connect/);
    await sim1.start();
    await waitFor(
      async () => (await plant.messages([["id", "=", failed.id]]))[0]?.state === "acked",
      30_000,
      "the retried write acked",
    );
    // MO1 and MO2 are urgent; MO1 is planned earlier.
    expect(order(line1, 0)).toBe(first.name);
    expect(order(line1, 1)).toBe(plant.productions[1]?.name);
  });
});
