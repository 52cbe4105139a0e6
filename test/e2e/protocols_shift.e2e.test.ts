// A short simulated shift through each industrial protocol, whole chain:
// line simulator (Ignition-like OPC UA server / Sparkplug B edge node) →
// sidecar (rules, spool, delivery) → real Odoo 18. Afterwards Odoo's work
// order, time logs, downtime and scrap must match the simulator's ledger.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import { lineRules } from "../../sidecar/simulator/rules.ts";
import { SimSparkplugEdge } from "../../sidecar/simulator/sparkplug-edge.ts";
import { moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { shiftRig } from "./support/shift-rig.ts";

describe.runIf(moduleHasSidecarApi())(
  "a simulated shift via OPC UA and via Sparkplug ends in Odoo as the ledger says",
  () => {
    let odoo: OdooServer;
    let broker: MosquittoBroker;
    const dir = mkdtempSync(join(tmpdir(), "sfb-protocols-e2e-"));

    beforeAll(async () => {
      [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_protocols_e2e_${process.pid}` }), startMosquitto()]);
    });
    afterAll(async () => {
      await broker?.destroy();
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const { runShift, expectOdooMatchesLedger } = shiftRig(() => ({ odoo, broker }), dir);

    it("via OPC UA (simulator server, None security)", async () => {
      const machine = "Press03";
      const port = await freePort();
      let server: SimOpcuaServer | undefined;
      const r = await runShift({
        code: "e2e-opcua",
        order: "WH/MO/00007",
        machine,
        connection: () => ({
          kind: "opcua",
          opcua_endpoint: `opc.tcp://127.0.0.1:${port}/UA/SimLine`,
          opcua_security_mode: "None",
          opcua_security_policy: "None",
          opcua_auth: "anonymous",
          opcua_publishing_interval_ms: 200,
          opcua_sampling_interval_ms: 0,
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "opcua" }),
        output: (line) => {
          server = new SimOpcuaServer({ line, port, pkiDir: join(dir, "opcua-server-pki") });
          return server;
        },
      });
      expect(r.ledger.expected.orders[0]).toMatchObject({ good: 6, scrap: 2 });
      await expectOdooMatchesLedger(r);
    });

    it("via Sparkplug B (simulator edge node on Mosquitto)", async () => {
      const machine = "Press05";
      const group = "PlantE2E";
      const r = await runShift({
        code: "e2e-spb",
        order: "WH/MO/00009",
        machine,
        connection: () => ({
          kind: "sparkplug",
          mqtt_url: broker.url,
          sparkplug_group_id: group,
          sparkplug_host_id: "sfb-e2e-host",
          client_id: "sfb-e2e-spb",
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "sparkplug", group, edge: "Line1" }),
        output: (line) => new SimSparkplugEdge({ url: broker.url, line, group, edge: "Line1" }),
      });
      expect(r.ledger.expected.orders[0]).toMatchObject({ good: 6, scrap: 2 });
      await expectOdooMatchesLedger(r);
    });
  },
);
