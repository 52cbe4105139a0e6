// A short simulated shift through the OPC UA source into real Odoo 18, with
// asyncua's OPC UA server (FreeOpcUa, Python) in place of the simulator's
// node-opcua one: line simulator → asyncua server (a child process fed the
// line's tag changes) → sidecar (rules, spool, delivery) → Odoo. Odoo's work
// order, time logs, downtime and scrap must match the simulator's ledger —
// over an encrypted channel with a user login, and across a server crash.
// The shift rig is protocols_shift.e2e.test.ts's (support/shift-rig.ts).
import { mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { lineRules } from "../../sidecar/simulator/rules.ts";
import { trustServerCertificate } from "../../sidecar/src/sources/opcua/pki.ts";
import { OpcUaSource } from "../../sidecar/src/sources/opcua/source.ts";
import { moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { AsyncuaLineServer } from "../../sidecar/test/support/opcua/asyncua-peer.ts";
import { MemorySink } from "../../sidecar/test/support/simulator/memory-sink.ts";
import { shiftRig } from "./support/shift-rig.ts";

describe.runIf(moduleHasSidecarApi())(
  "a simulated shift via OPC UA from asyncua's server ends in Odoo as the ledger says",
  () => {
    let odoo: OdooServer;
    let broker: MosquittoBroker;
    const dir = mkdtempSync(join(tmpdir(), "sfb-asyncua-e2e-"));

    beforeAll(async () => {
      [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_asyncua_e2e_${process.pid}` }), startMosquitto()]);
    });
    afterAll(async () => {
      await broker?.destroy();
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const { runShift, expectOdooMatchesLedger } = shiftRig(() => ({ odoo, broker }), dir);

    it("SignAndEncrypt / Aes256_Sha256_RsaPss with a user login, certificates trusted both ways", async () => {
      const machine = "Press03";
      const port = await freePort();
      let server: AsyncuaLineServer | undefined;
      const r = await runShift({
        code: "e2e-asyncua",
        order: "WH/MO/00007",
        machine,
        scenario: "normal-shift",
        connection: () => ({
          kind: "opcua",
          opcua_endpoint: `opc.tcp://127.0.0.1:${port}/asyncua/`,
          opcua_security_mode: "SignAndEncrypt",
          opcua_security_policy: "Aes256_Sha256_RsaPss",
          opcua_auth: "username",
          opcua_username: "sidecar",
          opcua_password: "s3cret",
          opcua_publishing_interval_ms: 200,
          opcua_sampling_interval_ms: 0,
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "opcua" }),
        output: (line) => {
          server = new AsyncuaLineServer(line, {
            port,
            pkiDir: join(dir, "asyncua-secure"),
            policies: ["Aes256Sha256RsaPss_SignAndEncrypt"],
            anonymous: false,
            users: { sidecar: "s3cret" },
            clientTrust: "trusted",
          });
          return server;
        },
        // The two admins' steps: the sidecar's trusts the server's certificate; the server refuses the
        // sidecar's first session, and its admin trusts the certificate it stored in rejected/.
        prepare: async (spoolDir) => {
          const peer = (server as AsyncuaLineServer).peer;
          const pki = join(spoolDir, "pki");
          await trustServerCertificate(pki, peer.certificateFile);
          const first = new OpcUaSource({
            connection: "e2e-asyncua",
            revision: 0,
            endpoint: peer.endpoint,
            securityMode: "SignAndEncrypt",
            securityPolicy: "Aes256_Sha256_RsaPss",
            auth: { type: "username", username: "sidecar", password: "s3cret" },
            pkiDir: pki,
            rules: [],
          });
          const refused = await first.start(new MemorySink()).then(
            () => undefined,
            (err: Error) => err,
          );
          await first.stop();
          expect(refused?.message).toContain("refused this sidecar's certificate (BadCertificateUntrusted)");
          for (const file of readdirSync(peer.rejectedDir)) {
            renameSync(join(peer.rejectedDir, file), join(peer.trustedDir, file));
          }
        },
      });
      expect(r.ledger.expected.downtimes).toHaveLength(1);
      await expectOdooMatchesLedger(r);
    });

    it("the asyncua server killed mid-shift and restarted: nothing lost, nothing doubled in Odoo", async () => {
      const machine = "Press05";
      const port = await freePort();
      let server: AsyncuaLineServer | undefined;
      const r = await runShift({
        code: "e2e-asyncua-crash",
        order: "WH/MO/00009",
        crash: true,
        machine,
        // server-restart's shift, with one difference: the completion pulse waits until the sidecar
        // is subscribed again. A pulse that rises and falls while no client is connected is seen by
        // nobody (OPC UA has no history of it); counters and states are re-read, pulses are not.
        scenario: async (sim, p) => {
          const order = p.orders[0] as string;
          await sim.startOrder(machine, order, p.operation);
          await sim.step();
          await sim.setState(machine, "setup");
          await sim.step(p.holdSteps);
          await sim.setState(machine, "running");
          await sim.produce(machine, 3, 1);
          await Promise.all([sim.restartOutputs(1_500), sim.produce(machine, 3)]);
          await sim.produce(machine, 3, 1);
          await expect
            .poll(async () => (await (server as AsyncuaLineServer).peer.activatedUsers()).length, {
              timeout: 60_000,
              interval: 250,
            })
            .toBeGreaterThan(0);
          await sim.step();
          await sim.complete(machine);
          await sim.step();
        },
        connection: () => ({
          kind: "opcua",
          opcua_endpoint: `opc.tcp://127.0.0.1:${port}/asyncua/`,
          opcua_security_mode: "None",
          opcua_security_policy: "None",
          opcua_auth: "anonymous",
          opcua_publishing_interval_ms: 200,
          opcua_sampling_interval_ms: 0,
        }),
        rules: lineRules({ line: "Line1", machines: [machine], protocol: "opcua" }),
        // 64-bit counters and an Int16 state, as other PLCs hold them.
        output: (line) => {
          server = new AsyncuaLineServer(
            line,
            { port, pkiDir: join(dir, "asyncua-crash") },
            { GoodCount: "UInt64", ScrapCount: "Int64", State: "Int16" },
          );
          return server;
        },
      });
      expect(r.ledger.expected.server_restarts).toBe(1);
      expect(r.ledger.expected.orders[0]).toMatchObject({ good: 9, scrap: 2 });
      await expectOdooMatchesLedger(r);
    });
  },
);
