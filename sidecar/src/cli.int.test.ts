// The CLI as a person runs it: exit codes, spool inspection, simulate.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../devstack/odoo.ts";
import { Line } from "../simulator/line.ts";
import { SimOpcuaServer } from "../simulator/opcua-server.ts";
import { validEvent } from "../test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../test/support/odoo/testing.ts";
import { SIDECAR_BIN } from "../test/support/sidecar-process.ts";
import { event, rejectedRecord } from "../test/support/spool/spool.contract.ts";
import type { CloudEvent, SidecarConfig } from "./core/contract.ts";
import { spoolPath } from "./main.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [SIDECAR_BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The CLI without blocking this process (an in-process server must go on answering it). */
function cliAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SIDECAR_BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env } });
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.stdout.resume();
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });
}

/** A connection of kind opcua, as sidecar_config gives it (cached in the spool: Odoo is down in these tests). */
function opcuaConfig(endpoint: string, opcua: Partial<Exclude<SidecarConfig["opcua"], false>>): SidecarConfig {
  return {
    code: "line1",
    name: "line1",
    kind: "opcua",
    revision: 1,
    server_time: new Date().toISOString(),
    mqtt: false,
    sparkplug: false,
    opcua: {
      endpoint,
      security_mode: "None",
      security_policy: "None",
      auth: "anonymous",
      username: "",
      password: "",
      publishing_interval_ms: 200,
      sampling_interval_ms: 100,
      ...opcua,
    },
    batch: { size: 100, wait_ms: 50 },
    skew: { bound_ms: 0, correct: false },
    sources: [],
    rules: [],
    dispatch: { poll_interval_ms: 0, targets: [] },
  };
}

const complete = {
  ODOO_URL: "http://127.0.0.1:1",
  ODOO_DB: "db",
  ODOO_USER: "u",
  ODOO_API_KEY: "k",
  SHOPFLOOR_CONNECTION: "line1",
  SHOPFLOOR_SPOOL_DIR: dir,
};

describe("shopfloor-sidecar CLI", () => {
  it("exits 2 naming the key when the configuration is missing or bad", () => {
    const missing = cli(["run"], { ...complete, ODOO_API_KEY: "" });
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/bad configuration: ODOO_API_KEY: is required/);
    const bad = cli(["run"], { ...complete, METRICS_PORT: "nine" });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/METRICS_PORT/);
    const file = join(dir, "sidecar.env");
    writeFileSync(file, "ODOO_URL=not-a-url\n");
    const fromFile = cli(["--config", file, "run"], complete);
    expect(fromFile.code).toBe(2);
    expect(fromFile.err).toMatch(/ODOO_URL: "not-a-url" is not a URL/);
  });

  it("exits 2 when the spool directory holds no spool", () => {
    const r = cli(["spool", "stats"], { SHOPFLOOR_SPOOL_DIR: join(dir, "nothing") });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/SHOPFLOOR_SPOOL_DIR: no spool/);
  });

  it("spool stats and spool list show the backlog and delivered items", async () => {
    const spool = new SqliteSpool({ path: spoolPath(dir) });
    await spool.append([event(1), event(2), rejectedRecord(1)]);
    const [first] = await spool.queued(1);
    await spool.markDelivered([{ seq: first?.seq as number, status: "applied", odooEventId: 9, error: "" }]);
    await spool.close();

    const stats = cli(["spool", "stats"], { SHOPFLOOR_SPOOL_DIR: dir });
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toMatchObject({ queued: 2, delivered: 1, byStatus: { applied: 1 } });

    const queued = cli(["spool", "list", "--state", "queued"], { SHOPFLOOR_SPOOL_DIR: dir });
    expect(queued.code).toBe(0);
    const rows = queued.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.id)).toEqual(["ev-2", "rej-1"]);
    expect(rows[1]).toMatchObject({ type: "(rejected input)", reason: "not JSON", state: "queued" });

    const bad = cli(["spool", "list", "--state", "lost"], { SHOPFLOOR_SPOOL_DIR: dir });
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/must be one of queued, delivered/);
  });

  it("spool park, unpark and skip change the spool a running sidecar holds open; it sees the change", async () => {
    const spoolDir = join(dir, "actions");
    // This process plays the running sidecar: its spool stays open, with its counters and queue floor in memory.
    const running = new SqliteSpool({ path: spoolPath(spoolDir), maxAttempts: 2, capacityEvents: 5 });
    await running.append([event(1), event(2), event(3), event(4)]);
    const [s1, s2, s3, s4] = (await running.queued(10)).map((e) => e.seq) as [number, number, number, number];
    await running.markAttempt([s1], "OdooFault: boom");
    expect(await running.markAttempt([s1], "OdooFault: boom")).toEqual([s1]);
    await running.markDelivered([{ seq: s4, status: "applied", odooEventId: 4, error: "" }]);
    const env = { SHOPFLOOR_SPOOL_DIR: spoolDir };
    const lines = (out: string) =>
      out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));

    const noReason = cli(["spool", "park", String(s2)], env);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toMatch(/--reason is required for spool park/);
    expect(cli(["spool", "skip", String(s2), "--reason", " "], env).err).toMatch(/--reason is required for spool skip/);
    const badSeq = cli(["spool", "skip", "x1", "--reason", "r"], env);
    expect(badSeq.code).toBe(2);
    expect(badSeq.err).toMatch(/<seq>: "x1" is not a spool seq/);

    const park = cli(["spool", "park", String(s2), "--reason", "order WH/MO/7 is being fixed", "--by", "ana"], env);
    expect(park.err).toBe("");
    expect(park.code).toBe(0);
    expect(JSON.parse(park.out)).toEqual({
      action: "park",
      seqs: [s2],
      changed: 1,
      reason: "order WH/MO/7 is being fixed",
      by: "ana",
    });
    // The running sidecar's counters and queue follow without a restart.
    expect(running.depth).toMatchObject({ queued: 1, parked: 2, skipped: 0 });
    expect((await running.queued(10)).map((e) => e.seq)).toEqual([s3]);

    const parked = lines(cli(["spool", "list", "--state", "parked"], env).out);
    expect(parked.map((r) => [r.seq, r.state, r.attempts, r.note.by])).toEqual([
      [s1, "parked", 2, "sidecar delivery"],
      [s2, "parked", 0, "ana"],
    ]);
    expect(parked[0]).toMatchObject({ lastError: "OdooFault: boom", note: { reason: /failed 2 delivery attempts/ } });
    expect(JSON.parse(cli(["spool", "stats"], env).out)).toMatchObject({ queued: 1, parked: 2, skipped: 0 });

    const refused = cli(["spool", "skip", String(s3), String(s4), "--reason", "old"], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`cannot skip .*: ${s4} is delivered; nothing was changed`));
    expect(refused.err).not.toMatch(/at .*\.ts/); // a message, not a stack

    // Full (parked rows count against the capacity): an append waits until a skip frees space.
    await running.append([event(5), event(6)]);
    let admitted = false;
    const waiting = running.append([event(7)]).then(() => {
      admitted = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(admitted).toBe(false);
    const skip = cli(["spool", "skip", String(s1), "--reason", "a test event sent by mistake", "--by", "bo"], env);
    expect(skip.code).toBe(0);
    expect(running.depth).toMatchObject({ parked: 1, skipped: 1 });
    await waiting;

    // Unparked rows come back in their own place, before newer ones, attempts reset.
    const unpark = cli(["spool", "unpark", String(s2)], env);
    expect(unpark.code).toBe(0);
    expect(JSON.parse(unpark.out)).toMatchObject({ action: "unpark", changed: 1, reason: "put back in the queue" });
    const queued = await running.queued(10);
    expect(queued.map((e) => e.eventId)).toEqual(["ev-2", "ev-3", "ev-5", "ev-6", "ev-7"]);
    expect(queued[0]?.st).toEqual({ state: "queued", attempts: 0, lastError: "" });

    const log = lines(cli(["spool", "log"], env).out);
    expect(log.map((l) => [l.seq, l.action, l.from, l.by])).toEqual([
      [s2, "unpark", "parked", expect.any(String)],
      [s1, "skip", "parked", "bo"],
      [s2, "park", "queued", "ana"],
      [s1, "park", "queued", "sidecar delivery"],
    ]);
    expect(log[1]).toMatchObject({ reason: "a test event sent by mistake", source: "press-1", id: "ev-1" });
    expect(Date.parse(log[0].at)).toBeGreaterThan(Date.now() - 60_000);
    expect(lines(cli(["spool", "log", "--seq", String(s1)], env).out).map((l) => l.action)).toEqual(["skip", "park"]);
    await running.close();
  });

  it("simulate runs the line simulator: exit 2 naming a bad option, rules printed as JSON", () => {
    const bad = cli(["simulate", "--scenario", "no-such-shift"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--scenario: unknown scenario no-such-shift; known: normal-shift/);

    const rules = cli(["simulate", "--print-rules", "opcua", "--line", "Line1", "--machines", "Press03"]);
    expect(rules.code).toBe(0);
    const parsed = JSON.parse(rules.out) as { kind: string; address: string }[];
    expect(parsed.map((r) => r.kind).sort()).toEqual(expect.arrayContaining(["counter", "state", "trigger"]));
    expect(parsed[0]?.address).toMatch(/^ns=2;s=\[default\]Line1\/Press03\//);
  });

  it("exits 2 naming the key when the OPC UA server refuses the login or its certificate is not trusted", async () => {
    const server = new SimOpcuaServer({
      line: new Line("Line1", ["Press03"]),
      port: await freePort(),
      pkiDir: join(dir, "opcua-server-pki"),
      users: [{ username: "sidecar", password: "s3cret" }],
      allowAnonymous: false,
    });
    await server.start();
    try {
      // With a key, the cached configuration keeps its password: Odoo is down in this test.
      const secretKey = randomBytes(32);
      const run = async (name: string, opcua: Parameters<typeof opcuaConfig>[1]) => {
        const spoolDir = join(dir, name);
        const spool = new SqliteSpool({ path: spoolPath(spoolDir), secretKey });
        await spool.saveConfig(opcuaConfig(server.endpoint, opcua));
        await spool.close();
        return cliAsync(["run"], {
          ...complete,
          SHOPFLOOR_SPOOL_DIR: spoolDir,
          METRICS_PORT: "0",
          SHOPFLOOR_SECRET_KEY: secretKey.toString("base64"),
        });
      };
      const login = await run("opcua-login", { auth: "username", username: "sidecar", password: "wrong" });
      expect(login.err).toMatch(
        /bad configuration: opcua_username \/ opcua_password: \(connection line1 in Odoo, login username\) .*refused the username login/,
      );
      expect(login.code).toBe(2);

      const trust = await run("opcua-trust", { security_mode: "SignAndEncrypt", security_policy: "Basic256Sha256" });
      expect(trust.err).toMatch(/bad configuration: opcua_endpoint: \(connection line1 in Odoo\) .*does not trust/);
      expect(trust.err).toContain(`move it to ${join(dir, "opcua-trust", "pki")}/trusted/certs/`);
      expect(trust.code).toBe(2);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe.runIf(moduleHasSidecarApi())("shopfloor-sidecar replay with Odoo 18", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_cli_replay_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "clireplay" });
  });
  afterAll(async () => {
    await odoo?.destroy();
  });

  it("sends the queued and parked rows of the range, never a skipped one; the parked one is settled", async () => {
    const spoolDir = join(dir, "replay");
    const spool = new SqliteSpool({ path: spoolPath(spoolDir) });
    const record = (i: number) => {
      const item = { ...validEvent(i, "clireplay"), connection: "clireplay" } as unknown as CloudEvent;
      const timeMs = Date.parse(item.time as string);
      return { item, workcenter: "source:clireplay/press-1", timeMs, receivedAt: timeMs };
    };
    await spool.append([record(1), record(2), record(3)]);
    const [s1, s2, s3] = (await spool.queued(3)).map((e) => e.seq) as [number, number, number];
    await spool.park([s2], "checked by hand first", "ana");
    await spool.skip([s3], "sent by mistake", "ana");
    await spool.close();

    const r = cli(["replay", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-23T00:00:00Z"], {
      ODOO_URL: odoo.url,
      ODOO_DB: odoo.db,
      ODOO_USER: fixture.user,
      ODOO_API_KEY: fixture.password,
      SHOPFLOOR_CONNECTION: fixture.code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
    });
    expect(r.err).not.toMatch(/shopfloor-sidecar:/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out.trim().split("\n").pop() as string);
    expect(summary).toMatchObject({ replayed: 2, skipped_not_sent: 1 });
    expect(Object.values(summary.statuses as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(2);
    expect((await fixture.events(["event_uid"])).map((e) => e.event_uid).sort()).toEqual([
      "clireplay-1",
      "clireplay-2",
    ]);
    const after = new SqliteSpool({ path: spoolPath(spoolDir) });
    expect((await after.list("delivered", 10)).map((e) => e.seq)).toEqual([s2, s1]);
    expect((await after.list("skipped", 10)).map((e) => e.seq)).toEqual([s3]);
    expect(await after.stats()).toMatchObject({ queued: 0, parked: 0, skipped: 1 });
    await after.close();
  }, 120_000);
});
