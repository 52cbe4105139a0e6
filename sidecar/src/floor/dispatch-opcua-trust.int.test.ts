// An OPC UA floor server whose certificate the sidecar does not trust yet,
// end to end with a real Odoo: the write is refused (nothing reaches the
// floor), the dispatch message shows why and is not retried on its own; once
// the admin trusts the certificate and presses Retry, the queue lands.
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { Line, planningPath } from "../../simulator/line.ts";
import { SimOpcuaServer } from "../../simulator/opcua-server.ts";
import { type DispatchPlant, makeDispatchPlant, waitFor } from "../../test/support/floor/dispatch-plant.ts";
import { type RunningDispatcher, startDispatcher } from "./dispatcher.ts";

describe("OPC UA floor writer trust, with Odoo", () => {
  let odoo: OdooServer;
  let server: SimOpcuaServer;
  let line: Line;
  let plant: DispatchPlant;
  let running: RunningDispatcher | undefined;
  let spoolDir: string;

  beforeAll(async () => {
    spoolDir = mkdtempSync(join(tmpdir(), "sfb-dispatch-trust-"));
    line = new Line("Line1", ["Press03"]);
    server = new SimOpcuaServer({ line, port: await freePort(), pkiDir: join(spoolDir, "server-pki") });
    [odoo] = await Promise.all([startOdoo({ db: `sfb_opcua_trust_${process.pid}` }), server.start()]);
    plant = await makeDispatchPlant(odoo, {
      code: "opctrust",
      mqttUrl: "mqtt://127.0.0.1:1883",
      connection: {
        kind: "opcua",
        opcua_endpoint: server.endpoint,
        opcua_security_mode: "SignAndEncrypt",
        opcua_security_policy: "Basic256Sha256",
        opcua_auth: "anonymous",
      },
    });
  }, 300_000);

  afterAll(async () => {
    await running?.stop();
    await Promise.all([server?.stop(), odoo?.destroy()]);
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  it("an untrusted server certificate fails the message in Odoo with what to do; trusted + Retry delivers", async () => {
    const workcenter = plant.workcenters[0] as DispatchPlant["workcenters"][0];
    await plant.addTarget({
      workcenter_id: workcenter.id,
      kind: "opcua",
      depth: 3,
      line_code: "Line1",
      opcua_version_node: "",
    });
    const client = plant.fixture.client();
    const config = await client.sidecarConfig("opctrust");
    expect(config.opcua).toMatchObject({ security_mode: "SignAndEncrypt", security_policy: "Basic256Sha256" });
    running = startDispatcher({ odoo: client, config, spoolDir });
    const pki = join(spoolDir, "pki");

    const [failed] = await waitFor(
      async () => {
        const rows = await plant.messages([
          ["kind", "=", "opcua"],
          ["state", "=", "failed"],
        ]);
        return rows.length ? rows : undefined;
      },
      30_000,
      "the OPC UA message failed in Odoo",
    );
    expect(failed?.retryable).toBe(false);
    expect(failed?.error).toContain(
      `OPC UA server ${server.endpoint} presented a certificate this sidecar does not trust`,
    );
    expect(failed?.error).toContain(`move it to ${pki}/trusted/certs/ to trust it`);
    expect(failed?.error).toContain("Then retry the message.");
    const rejected = readdirSync(join(pki, "rejected")).filter((file) => file.endsWith(".pem"));
    expect(rejected).toHaveLength(1);
    expect(line.planning.size).toBe(0);
    expect(server.stats().planning_writes).toBe(0);

    mkdirSync(join(pki, "trusted/certs"), { recursive: true });
    renameSync(join(pki, "rejected", rejected[0] as string), join(pki, "trusted/certs", rejected[0] as string));
    await plant.fixture.admin.execute("shopfloor.dispatch", "action_retry", [[failed?.id]]);
    const first = plant.productions[0]?.name;
    await waitFor(
      () => line.planning.get(planningPath("Line1", 0, "Order")) === first,
      30_000,
      "the queue on the floor after trusting",
    );
    const [acked] = await waitFor(
      async () => {
        const rows = await plant.messages([["id", "=", failed?.id]]);
        return rows[0]?.state === "acked" ? rows : undefined;
      },
      15_000,
      "the retried message acked in Odoo",
    );
    expect(acked?.acked_at).toBeTruthy();
  });
});
