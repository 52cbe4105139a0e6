// A Modbus TCP connection configured the way an admin does it in Odoo's
// forms, run by the real sidecar process: the connection of kind modbus with
// its PLC block, tag rules written through their typed fields (scale,
// deadband, value-map rows, trigger field rows — never params_json), the
// source and reason maps, all over JSON-RPC → `shopfloor-sidecar run` started
// with only its bootstrap environment (it reads everything else from Odoo) →
// pymodbus's server (test/peers/python/modbus_server.py) → events applied to
// a work order in real Odoo 18. The PLC is killed: the heartbeat and the
// dashboard say the source is not read and why; started again (its retentive
// registers kept), counting goes on with nothing lost or counted twice. A
// rule address Odoo accepts but the PLC refuses (a hole in its register map)
// is named in the sidecar log while the other tags keep flowing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModbusPeer, startModbusPeer } from "../../sidecar/devstack/modbus-peer.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";
import { firstWorkorder, mapMachine } from "./support/shift-rig.ts";

type Row = Record<string, unknown>;

// The PLC's register map, as the rules below name it.
const COUNT = 10; // hr10: good parts, raw (each raw step is 2 parts: scale 2)
const STATE = 20; // hr20: 0 idle, 1 running, 2 jammed
const START = 5; // coil5: the PLC starts the order on its rising edge
const OPERATION = 30; // hr30:string10: the operation the PLC runs, text (20 bytes)
const HOLE = 500; // hr500-509 answer "illegal data address"

/** Text as `registers` holding registers, two bytes each, first byte high (ABCD), NUL padded. */
function registersOf(text: string, registers: number): number[] {
  const bytes = Buffer.alloc(registers * 2);
  bytes.write(text, "utf8");
  return Array.from({ length: registers }, (_, i) => bytes.readUInt16BE(2 * i));
}

describe.runIf(moduleHasSidecarApi())(
  "a Modbus connection configured in Odoo runs in the sidecar process against pymodbus",
  () => {
    let odoo: OdooServer;
    let plc: ModbusPeer;
    let sidecar: SidecarProcess | undefined;
    const dir = mkdtempSync(join(tmpdir(), "sfb-plc-connection-e2e-"));

    beforeAll(async () => {
      [odoo, plc] = await Promise.all([
        startOdoo({ db: `sfb_plc_connection_e2e_${process.pid}` }),
        startModbusPeer({ size: 1_000, holes: [`hr:${HOLE}-${HOLE + 9}`], retentive: true }),
      ]);
    });
    afterAll(async () => {
      await sidecar?.kill("SIGKILL");
      await plc?.destroy();
      await odoo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it("counts (scaled, deadband), downtime (value map), the trigger's event; PLC down shown and recovered once", async () => {
      const orderName = "WH/MO/00007";
      const code = "e2e-plc-form";
      const fixture = await makeOdooFixture(odoo, { code, batchWaitMs: 100 });
      const a = fixture.admin;
      // The connection as the form saves it: kind Modbus TCP, the PLC's host, port, unit, polling.
      await a.execute("shopfloor.connection", "write", [
        [fixture.connectionId],
        {
          kind: "modbus",
          plc_host: plc.host,
          plc_port: plc.port,
          plc_unit_id: 1,
          plc_poll_interval_ms: 100,
          plc_timeout_ms: 500,
        },
      ]);

      const mo = await firstWorkorder(fixture, orderName);
      const workcenterId = mo.workcenterId;
      const source = "plant1/line1/press09";
      const failureLoss = await mapMachine(fixture, source, workcenterId);

      // The rules, typed field by field as the form writes them; protocol follows the connection's kind.
      const rule = (values: Row) =>
        a.execute("shopfloor.mapping.rule", "create", [
          { connection_id: fixture.connectionId, source, ...values },
        ]) as Promise<number>;
      const counterId = await rule({
        kind: "counter",
        address: `hr${COUNT}:uint16`,
        event_type: "production.reported",
        use_scale: true,
        scale: 2,
        deadband: 3,
        fixed_order: orderName,
        fixed_operation: mo.operation,
      });
      await rule({
        kind: "state",
        address: `hr${STATE}:uint16`,
        value_map_ids: [
          [0, 0, { value: "0", state: "idle" }],
          [0, 0, { value: "1", state: "running" }],
          [0, 0, { value: "2", state: "down", reason_code: "JAM" }],
        ],
      });
      await rule({
        kind: "trigger",
        address: `coil${START}`,
        event_type: "workorder.started",
        field_ids: [
          [0, 0, { name: "order", source: "text", text_value: orderName }],
          [0, 0, { name: "operation", source: "tag", address: `hr${OPERATION}:string10` }],
        ],
      });
      // Odoo accepts the address (its grammar is right); only the PLC knows hr500 is not there.
      await rule({
        kind: "counter",
        address: `hr${HOLE}:uint16`,
        event_type: "scrap.reported",
        fixed_order: orderName,
      });
      // What Odoo sends is made of the typed fields: the sidecar gets scale and deadband, the map, the fields.
      const [counter] = (await a.execute("shopfloor.mapping.rule", "read", [[counterId]], {
        fields: ["protocol", "params_json"],
      })) as Row[];
      expect(counter?.protocol).toBe("modbus");
      expect(JSON.parse(String(counter?.params_json))).toMatchObject({ scale: 2, deadband: 3 });

      // The machine's registers before the sidecar starts: nothing counted yet, idle, no start.
      await plc.setWords("hr", COUNT, [0]);
      await plc.setWords("hr", STATE, [0]);
      await plc.setBits("coil", START, [false]);
      await plc.setWords("hr", OPERATION, registersOf(String(mo.operation), 10));

      const metricsPort = await freePort();
      sidecar = spawnSidecar({
        env: {
          ODOO_URL: odoo.url,
          ODOO_DB: odoo.db,
          ODOO_USER: fixture.user,
          ODOO_API_KEY: fixture.password,
          SHOPFLOOR_CONNECTION: code,
          SHOPFLOOR_SPOOL_DIR: dir,
          METRICS_PORT: String(metricsPort),
        },
        args: ["run", "--heartbeat-ms", "1000"],
      });
      const s = sidecar;
      await s.waitForLog(/"msg":"source started"/);

      const woRead = async (fields: string[]) =>
        ((await a.execute("mrp.workorder", "read", [[mo.woId]], { fields })) as Row[])[0] ?? {};
      // production.reported adds to the order's quantity producing (handlers/producing.py).
      const produced = async () =>
        Number(
          ((await a.execute("mrp.production", "read", [[mo.moId]], { fields: ["qty_producing"] })) as Row[])[0]
            ?.qty_producing,
        );
      const tile = async () => {
        const board = (await a.execute("shopfloor.dashboard", "get_dashboard", [])) as { tiles: Row[] };
        return board.tiles.find((t) => t.code === code) ?? {};
      };
      const heartbeat = async () => {
        const [conn] = (await a.execute("shopfloor.connection", "read", [[fixture.connectionId]], {
          fields: ["stats_json"],
        })) as Row[];
        return JSON.parse(String(conn?.stats_json || "{}")) as Row;
      };
      const poll = { timeout: 30_000, interval: 250 };

      // The hole is named in the log, once, with the rule that reads it.
      await s.waitForLog(
        new RegExp(`address hr${HOLE}:uint16 of .*: .*illegal data address.*; the other tags are still read`, "i"),
        30_000,
      );
      // The heartbeat says the PLC is read: connected, no reason.
      await expect.poll(async () => (await heartbeat()).source_connected, poll).toBe(1);
      // The refused tag is counted in what Odoo holds of the heartbeat, too; the PLC itself stays "read".
      await expect.poll(async () => Number((await heartbeat()).source_tag_errors), poll).toBeGreaterThan(0);
      expect((await tile()).source_down).toBe(false);

      // The PLC starts the order (rising edge of coil5).
      await plc.setBits("coil", START, [true]);
      await expect.poll(async () => (await woRead(["state"])).state, poll).toBe("progress");
      await plc.setWords("hr", STATE, [1]);
      // 5 raw = 10 parts.
      await plc.setWords("hr", COUNT, [5]);
      await expect.poll(produced, poll).toBe(10);
      // One raw step = 2 parts, under the deadband of 3: not observed …
      await plc.setWords("hr", COUNT, [6]);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await produced()).toBe(10);
      // … until the tag moved by more than the deadband since the last observation: 8 raw = 16 parts, none lost.
      await plc.setWords("hr", COUNT, [8]);
      await expect.poll(produced, poll).toBe(16);

      // A jam: the value map's down:JAM opens downtime on Equipment Failure; running again closes it.
      await plc.setWords("hr", STATE, [2]);
      const downtimes = () =>
        a.execute(
          "mrp.workcenter.productivity",
          "search_read",
          [
            [
              ["workcenter_id", "=", workcenterId],
              ["loss_id", "=", failureLoss],
            ],
          ],
          { fields: ["date_start", "date_end"] },
        ) as Promise<Row[]>;
      await expect.poll(async () => (await downtimes()).length, poll).toBe(1);
      await plc.setWords("hr", STATE, [1]);
      await expect.poll(async () => (await downtimes())[0]?.date_end, poll).toBeTruthy();

      // The PLC goes away: the heartbeat and the dashboard tile say the source is not read, and why.
      await plc.kill();
      await expect.poll(async () => (await tile()).source_down, poll).toBe(true);
      const down = await tile();
      expect(String(down.source_error)).toMatch(new RegExp(`Modbus 127\\.0\\.0\\.1:${plc.port} unit 1`));
      expect((await heartbeat()).source_connected).toBe(0);
      await s.waitForLog(/retrying with backoff/);

      // Back, with its retentive registers (8 raw): the sidecar reads again, said once, nothing counted twice.
      await plc.start();
      await expect.poll(async () => (await tile()).source_down, poll).toBe(false);
      expect((await tile()).source_error).toBe("");
      await s.waitForLog(/reading again \(was: /);
      // The PLC counted on after the restart: 11 raw = 22 parts in all.
      await plc.setWords("hr", COUNT, [11]);
      await expect.poll(produced, poll).toBe(22);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await produced()).toBe(22);

      // The admin edits the counter's deadband on the form: the sidecar reloads (a new PlcSource), keeps the
      // counter where it was (11 raw) and counts the next move once.
      await a.execute("shopfloor.mapping.rule", "write", [[counterId], { deadband: 1 }]);
      await s.waitForLog(/"msg":"configuration reloaded"/, 30_000);
      await plc.setWords("hr", COUNT, [12]);
      await expect.poll(produced, poll).toBe(24);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await produced()).toBe(24);

      // Every event applied, none failed or refused; the hole made none (its tag was never read).
      await expect
        .poll(async () => (await fixture.events(["state"], [["state", "=", "pending"]])).length, poll)
        .toBe(0);
      expect(await fixture.events(["type", "state", "error_message"], [["state", "!=", "applied"]])).toEqual([]);
      const applied = await fixture.events(["type", "data_json"], [["state", "=", "applied"]]);
      const types = applied.map((e) => e.type);
      const started = applied.filter((e) => e.type === "workorder.started");
      expect(started).toHaveLength(1);
      // The trigger's rows: the order a fixed text, the operation read from the PLC's string register.
      expect(JSON.parse(String(started[0]?.data_json))).toMatchObject({ order: orderName, operation: mo.operation });
      expect(types.filter((t) => t === "scrap.reported")).toHaveLength(0);
      expect(types.filter((t) => t === "production.reported")).toHaveLength(4);
      const readingAgain = s.logs().filter((l) => /reading again \(was: /.test(String(l.msg)));
      expect(readingAgain).toHaveLength(1);
      const holeLines = s.logs().filter((l) => String(l.msg).includes(`address hr${HOLE}:uint16 of`));
      expect(holeLines.length).toBeGreaterThanOrEqual(1);
      expect(holeLines[0]?.level).toBe(50);

      expect(await s.kill("SIGTERM")).toBe(0);
      sidecar = undefined;
    });
  },
);
