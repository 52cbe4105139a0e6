// Historian import end to end: Wonderware / AVEVA exports dropped in a folder
// and rows polled from PostgreSQL 15 and MariaDB 10.11, through a sidecar
// process, into real Odoo 18 — exactly once, bad rows rejected with their
// line, a file in the wrong encoding set aside with its reason, a sidecar
// killed (SIGKILL) and restarted losing and doubling nothing.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MariaDbServer, startMariaDb } from "../../sidecar/devstack/mariadb.ts";
import { addonDir, freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

/** A shipped preset's expression, as an admin copies it into a mapping. */
function preset(code: string): string {
  const xml = readFileSync(join(addonDir, "shopfloor_bridge/data/shopfloor_payload_presets.xml"), "utf8");
  const record = xml.slice(xml.indexOf(`<field name="code">${code}</field>`));
  return (
    /<field\s+name="expression"\s*><!\[CDATA\[([\s\S]*?)\]\]><\/field>/.exec(record) as RegExpExecArray
  )[1] as string;
}

describe.runIf(moduleHasSidecarApi())("historian import (drop folder, PostgreSQL, MariaDB → sidecar → Odoo 18)", () => {
  let odoo: OdooServer;
  let maria: MariaDbServer;
  const pgDatabase = `sfb_hist_e2e_${process.pid}`;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_hist_e2e_odoo_${process.pid}` });
    maria = await startMariaDb();
    execFileSync("createdb", [pgDatabase]);
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    await odoo?.destroy();
    await maria?.destroy();
    execFileSync("dropdb", ["--if-exists", "--force", pgDatabase]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const tmp = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  async function sidecar(fixture: OdooFixture, code: string, spoolDir: string): Promise<SidecarProcess> {
    const p = spawnSidecar({
      env: {
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: fixture.user,
        ODOO_API_KEY: fixture.password,
        SHOPFLOOR_CONNECTION: code,
        SHOPFLOOR_SPOOL_DIR: spoolDir,
        METRICS_PORT: String(await freePort()),
      },
      args: ["run", "--heartbeat-ms", "2000"],
    });
    running.push(p);
    await p.waitForLog(/"msg":"source started"/);
    return p;
  }

  async function connection(
    code: string,
    values: Record<string, unknown>,
    map: { kind: string; expression: string; transport: string },
  ) {
    const fixture = await makeOdooFixture(odoo, { code, batchSize: 100, batchWaitMs: 50 });
    await fixture.admin.execute("shopfloor.connection", "write", [[fixture.connectionId], values]);
    await fixture.admin.execute("shopfloor.payload.map", "create", [
      { connection_id: fixture.connectionId, name: `${code} rows`, match: "#", payload_format: "json", ...map },
    ]);
    return fixture;
  }

  const producedBy = async (fixture: OdooFixture, source: string) =>
    (await fixture.events(
      ["event_uid", "data_json", "state"],
      [
        ["source", "=", source],
        ["type", "=", "production.reported"],
      ],
    )) as {
      event_uid: string;
      data_json: string;
    }[];
  const qtyOf = (rows: { data_json: string }[]) =>
    rows.reduce((sum, r) => sum + Number(JSON.parse(r.data_json).qty_good), 0);

  it("Wonderware narrow and wide exports: counted once, the duplicate and the append included; bad rows and the wrong encoding shown", async () => {
    const drop = tmp("sfb-e2e-drop-");
    const code = "histfolder";
    const fixture = await connection(
      code,
      {
        kind: "folder",
        folder_path: drop,
        folder_pattern: "*.csv",
        folder_encoding: "utf-8",
        folder_settle_ms: 1500,
        folder_poll_interval_ms: 200,
      },
      { kind: "values", transport: "file", expression: preset("wonderware_history_narrow") },
    );
    // A second connection reads the wide shape from its own folder.
    const wideDrop = tmp("sfb-e2e-wide-");
    const wide = await connection(
      "histwide",
      {
        kind: "folder",
        folder_path: wideDrop,
        folder_pattern: "*.csv",
        folder_encoding: "windows-1252",
        folder_delimiter: "semicolon",
        folder_settle_ms: 1500,
        folder_poll_interval_ms: 200,
      },
      { kind: "values", transport: "file", expression: preset("wonderware_history_wide") },
    );
    for (const [fx, tag, source] of [
      [fixture, "Line1.Press01.Good", "plant1/line1/press-01"],
      [wide, "Line2.Press02.Good", "plant1/line2/press-02"],
    ] as const) {
      await fx.admin.execute("shopfloor.mapping.rule", "create", [
        {
          connection_id: fx.connectionId,
          kind: "counter",
          protocol: "payload",
          address: tag,
          source,
          event_type: "production.reported",
          params_json: JSON.stringify({ order: "WH/MO/00042" }),
        },
      ]);
    }
    // Narrow: counter 100..130 over one file, a malformed row in the middle (line 12).
    const lines = ["DateTime,TagName,Value,Quality"];
    for (let i = 0; i <= 30; i++) {
      const at = `2026-01-05 08:${String(i).padStart(2, "0")}:00.0000000`;
      lines.push(i === 10 ? `${at},"Line1.Press01.Good"x,${100 + i},0` : `${at},Line1.Press01.Good,${100 + i},0`);
    }
    const narrow = `${lines.join("\r\n")}\r\n`;
    writeFileSync(join(drop, "narrow.csv"), narrow);
    // Wrong encoding: Windows-1252 bytes in a UTF-8 folder.
    writeFileSync(
      join(drop, "latin.csv"),
      Buffer.from("DateTime,TagName,Value,Quality\r\n2026-01-05 09:00:00,Température,1,0\r\n", "latin1"),
    );
    const spool = tmp("sfb-e2e-spool-");
    const first = await sidecar(fixture, code, spool);
    const wideSpool = tmp("sfb-e2e-spool-wide-");
    await sidecar(wide, "histwide", wideSpool);
    // Wide, Windows-1252, `;`: written in two parts, the second while the first is settling.
    const wideLines = ["DateTime;Line2.Press02.Good;Line2.Press02.Temp °C"];
    for (let i = 0; i <= 20; i++)
      wideLines.push(`2026-01-05 10:${String(i).padStart(2, "0")}:00.000;${500 + i};${20 + i},5`);
    writeFileSync(join(wideDrop, "wide.csv"), Buffer.from(`${wideLines.slice(0, 11).join("\r\n")}\r\n`, "latin1"));
    await new Promise((r) => setTimeout(r, 700));
    appendFileSync(join(wideDrop, "wide.csv"), Buffer.from(`${wideLines.slice(11).join("\r\n")}\r\n`, "latin1"));

    // Narrow: 30 changes after the baseline, minus the one the malformed row carried (its part comes with the next).
    await expect
      .poll(async () => qtyOf(await producedBy(fixture, "plant1/line1/press-01")), { timeout: 120_000, interval: 500 })
      .toBe(30);
    await expect
      .poll(async () => qtyOf(await producedBy(wide, "plant1/line2/press-02")), { timeout: 120_000, interval: 500 })
      .toBe(20);
    expect(readdirSync(join(drop, "done"))).toEqual(["narrow.csv"]);
    expect(readdirSync(join(drop, "failed")).sort()).toEqual(["latin.csv", "latin.csv.reason.txt"]);
    expect(readFileSync(join(drop, "failed", "latin.csv.reason.txt"), "utf8")).toContain("not valid UTF-8");
    expect(readdirSync(join(wideDrop, "done"))).toEqual(["wide.csv"]);
    // The malformed row: rejected in Odoo's dead-letter queue with its file and line.
    const rejectedDomain = [
      ["connection_id", "=", fixture.connectionId],
      ["state", "=", "rejected"],
    ];
    await expect.poll(() => fixture.countEvents(rejectedDomain), { timeout: 30_000 }).toBe(2);
    const rejected = (await fixture.events(["state", "error_message", "source"], rejectedDomain)) as {
      error_message: string;
      source: string;
    }[];
    const reasons = rejected.map((r) => [r.source, r.error_message]).sort();
    expect(reasons[1]).toEqual(["narrow.csv", "file narrow.csv line 12: text after the closing quote of field 2"]);
    // The file in the wrong encoding is in the dead letters too, with its reason.
    expect(reasons[0]?.[0]).toBe("latin.csv");
    expect(reasons[0]?.[1]).toMatch(/^file latin\.csv not valid UTF-8 at byte \d+ \(line 2: E9.*moved to failed\//);

    // The same export dropped again, under another name, and a restart of the sidecar: nothing counted twice.
    await first.kill("SIGKILL");
    writeFileSync(join(drop, "narrow-again.csv"), narrow);
    await sidecar(fixture, code, spool);
    await expect.poll(() => existsSync(join(drop, "done", "narrow-again.csv")), { timeout: 60_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    const produced = await producedBy(fixture, "plant1/line1/press-01");
    expect(qtyOf(produced)).toBe(30);
    expect(new Set(produced.map((r) => r.event_uid)).size).toBe(produced.length);
    expect(await fixture.countEvents(rejectedDomain)).toBe(2);
  });

  const backends = [
    {
      name: "postgresql",
      values: () => ({
        sql_driver: "postgresql",
        sql_host: "/var/run/postgresql",
        sql_port: 5432,
        sql_database: pgDatabase,
        sql_username: userInfo().username,
      }),
      exec: async (sql: string) => {
        execFileSync("psql", ["-d", pgDatabase, "-v", "ON_ERROR_STOP=1", "-qc", sql]);
      },
      timestamp: "timestamp(6)",
    },
    {
      name: "mariadb",
      values: () => ({
        sql_driver: "mariadb",
        sql_host: maria.host,
        sql_port: maria.port,
        sql_database: maria.database,
        sql_username: maria.user,
        sql_password: maria.password,
      }),
      exec: async (sql: string) => {
        await maria.sql(`USE ${maria.database}; ${sql}`);
      },
      timestamp: "datetime(6)",
    },
  ];

  for (const backend of backends) {
    it(`${backend.name}: polled rows land exactly once across a SIGKILL and restart, equal timestamps included`, async () => {
      const code = `hist${backend.name.slice(0, 5)}`;
      const table = `reports_${process.pid}`;
      await backend.exec(
        `CREATE TABLE ${table} (time ${backend.timestamp} NOT NULL, source varchar(100) NOT NULL, type varchar(40) NOT NULL, "order" varchar(40) NOT NULL, qty_good integer NOT NULL)`.replace(
          '"order"',
          backend.name === "mariadb" ? "`order`" : '"order"',
        ),
      );
      const order = backend.name === "mariadb" ? "`order`" : '"order"';
      const insert = (rows: [string, number][]) =>
        backend.exec(
          `INSERT INTO ${table} (time, source, type, ${order}, qty_good) VALUES ${rows
            .map(([t, qty]) => `('${t}', 'plant1/line3/press-03', 'production.reported', 'WH/MO/00042', ${qty})`)
            .join(", ")}`,
        );
      const fixture = await connection(
        code,
        {
          kind: "sql",
          ...backend.values(),
          sql_query:
            `SELECT time, source, type, ${order} AS "order", qty_good FROM ${table} WHERE time >= :last ORDER BY time`.replace(
              'AS "order"',
              backend.name === "mariadb" ? "AS `order`" : 'AS "order"',
            ),
          sql_watermark_column: "time",
          sql_initial_watermark: "1970-01-01 00:00:00",
          sql_interval_ms: 300,
        },
        { kind: "events", transport: "sql", expression: preset("generic_columns_events") },
      );
      // 30 rows, three per second: equal timestamps everywhere.
      await insert(
        Array.from(
          { length: 30 },
          (_, i) => [`2026-01-06 07:00:${String(Math.floor(i / 3)).padStart(2, "0")}`, 1] as [string, number],
        ),
      );
      const spool = tmp(`sfb-e2e-sql-${backend.name}-`);
      const first = await sidecar(fixture, code, spool);
      const count = () =>
        fixture.countEvents([
          ["connection_id", "=", fixture.connectionId],
          ["type", "=", "production.reported"],
        ]);
      await expect.poll(count, { timeout: 120_000, interval: 300 }).toBe(30);
      await first.kill("SIGKILL");
      // While it is down: more rows, two with the last timestamp already taken (the boundary), one identical to a taken row.
      await insert([
        ["2026-01-06 07:00:09", 2],
        ["2026-01-06 07:00:09", 1],
        ...Array.from(
          { length: 18 },
          (_, i) => [`2026-01-06 07:00:${String(10 + Math.floor(i / 3)).padStart(2, "0")}`, 1] as [string, number],
        ),
      ]);
      await sidecar(fixture, code, spool);
      await expect.poll(count, { timeout: 120_000, interval: 300 }).toBe(50);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await count()).toBe(50);
      const rows = (await fixture.events(
        ["event_uid", "data_json"],
        [
          ["connection_id", "=", fixture.connectionId],
          ["type", "=", "production.reported"],
        ],
      )) as {
        event_uid: string;
        data_json: string;
      }[];
      expect(new Set(rows.map((r) => r.event_uid)).size).toBe(50);
      expect(qtyOf(rows)).toBe(51);
      expect(
        await fixture.countEvents([
          ["connection_id", "=", fixture.connectionId],
          ["state", "=", "rejected"],
        ]),
      ).toBe(0);
    });
  }
});
