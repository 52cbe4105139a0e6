// The HTTP intake end to end: a producer configured in Odoo (its token made
// by the "Generate token" wizard) posts to the sidecar as a child process,
// and the events apply in real Odoo 18 — all three CloudEvents content
// modes and a mapped JSON route (a payload mapping made in Odoo); auth
// failures refused and counted; a source outside the producer's prefix
// visible in Odoo as rejected; a token made anew in Odoo replacing the old
// one at the next reload; backpressure (503 + Retry-After) from a full spool
// while Odoo is down; and a kill -9 of the sidecar between receive and 2xx:
// the producer sends the same batch again after the restart, and Odoo ends
// with every event exactly once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { BATCHED, cloudEvent, type PostAnswer, post, STRUCTURED } from "../../sidecar/test/support/http/post.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

type Row = Record<string, unknown>;

/** A quality result: applies without an order, so each event's state says what Odoo did with it. */
function qualityEvent(tag: string, i: number, source = `plant1/${tag}/gauge-1`): Record<string, unknown> {
  return cloudEvent({
    id: `${tag}-${i}`,
    source,
    type: "quality.result",
    time: new Date(Date.UTC(2026, 10, 22, 8, 0, 0, i)).toISOString(),
    data: { characteristic: "diameter", pass: true, value: 10 + i / 1000, unit: "mm" },
  });
}

/** "Generate token" as the admin clicks it: the dialog it opens shows the token, once. */
async function generateToken(fixture: OdooFixture, producerId: number): Promise<string> {
  const action = (await fixture.admin.execute("shopfloor.http.producer", "action_generate_token", [[producerId]])) as {
    context?: { default_token?: string };
  };
  const token = action.context?.default_token;
  if (!token) throw new Error(`Generate token showed no token: ${JSON.stringify(action)}`);
  return token;
}

describe.runIf(moduleHasSidecarApi())("HTTP intake (producer → sidecar process → Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: MosquittoBroker;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    [odoo, broker] = await Promise.all([startOdoo({ db: `sfb_http_e2e_${process.pid}` }), startMosquitto()]);
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    await broker?.destroy();
    await odoo?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A connection with its HTTP intake on, producers made as an admin does: the token read once from the wizard. */
  async function setup(code: string, producers: { name: string; source_prefix?: string }[]) {
    const fixture = await makeOdooFixture(odoo, {
      code,
      mqttUrl: broker.url,
      topics: [`shopfloor/${code}/#`],
      batchSize: 200,
      batchWaitMs: 50,
    });
    const admin = fixture.admin;
    const odooPort = await freePort();
    await admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { http_enabled: true, http_port: odooPort, http_bind: "127.0.0.1", http_max_body_bytes: 1024 * 1024 },
    ]);
    const tokens: Record<string, string> = {};
    for (const producer of producers) {
      const id = (await admin.execute("shopfloor.http.producer", "create", [
        { connection_id: fixture.connectionId, name: producer.name, source_prefix: producer.source_prefix ?? "" },
      ])) as number;
      tokens[producer.name] = await generateToken(fixture, id);
    }
    // HTTP_PORT wins over the port Odoo names.
    const httpPort = await freePort();
    const spoolDir = mkdtempSync(join(tmpdir(), `sfb-http-e2e-${code}-`));
    dirs.push(spoolDir);
    const env = {
      ODOO_URL: odoo.url,
      ODOO_DB: odoo.db,
      ODOO_USER: fixture.user,
      ODOO_API_KEY: fixture.password,
      SHOPFLOOR_CONNECTION: code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: String(await freePort()),
      HTTP_PORT: String(httpPort),
    };
    const start = async (args: string[] = ["run", "--heartbeat-ms", "2000"]) => {
      const p = spawnSidecar({ env, args });
      running.push(p);
      await p.waitForLog(/"msg":"HTTP intake listening"/);
      return p;
    };
    return { fixture, tokens, url: `http://127.0.0.1:${httpPort}`, start };
  }

  const states = async (fixture: OdooFixture, domain: unknown[]) =>
    (await fixture.events(["event_uid", "state", "error_message", "source"], domain)) as Row[];

  async function expectAppliedOnce(fixture: OdooFixture, tag: string, ids: string[]): Promise<void> {
    await expect
      .poll(async () => (await states(fixture, [["event_uid", "=like", `${tag}-%`]])).length, {
        timeout: 240_000,
        interval: 500,
      })
      .toBe(ids.length);
    const rows = await states(fixture, [["event_uid", "=like", `${tag}-%`]]);
    expect(rows.map((r) => r.event_uid).sort()).toEqual([...ids].sort());
    await expect
      .poll(
        async () =>
          (
            await states(fixture, [
              ["event_uid", "=like", `${tag}-%`],
              ["state", "!=", "applied"],
            ])
          ).length,
        {
          timeout: 120_000,
          interval: 500,
        },
      )
      .toBe(0);
  }

  it("structured, binary and batched modes become applied events; bad tokens are refused and counted", async () => {
    const { fixture, tokens, url, start } = await setup("httpmodes", [{ name: "mes" }]);
    const sidecar = await start();
    const token = tokens.mes as string;

    const structured = await post(`${url}/events`, JSON.stringify(qualityEvent("modes", 0)), {
      token,
      headers: STRUCTURED,
    });
    expect(structured.status, structured.text).toBe(200);

    const binary = qualityEvent("modes", 1);
    const answer = await post(`${url}/events`, JSON.stringify(binary.data), {
      token,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-id": String(binary.id),
        "ce-source": String(binary.source),
        "ce-type": String(binary.type),
        "ce-time": String(binary.time),
      },
    });
    expect(answer.status, answer.text).toBe(200);

    const batch = [2, 3, 4, 5].map((i) => qualityEvent("modes", i));
    const batched = await post(`${url}/events`, JSON.stringify(batch), { token, headers: BATCHED });
    expect(batched.status, batched.text).toBe(200);
    expect(batched.body).toMatchObject({ accepted: 4, rejected: 0 });

    await expectAppliedOnce(
      fixture,
      "modes",
      [0, 1, 2, 3, 4, 5].map((i) => `modes-${i}`),
    );

    const refused = await post(`${url}/events`, JSON.stringify(qualityEvent("modes", 9)), {
      token: `${token}x`,
      headers: STRUCTURED,
    });
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect((await post(`${url}/events`, "{}", { headers: STRUCTURED })).status).toBe(401);
    expect(await sidecar.metric("shopfloor_sidecar_http_auth_failures_total", 'why="unknown"')).toBe(1);
    expect(await sidecar.metric("shopfloor_sidecar_http_auth_failures_total", 'why="missing"')).toBe(1);
    expect(await sidecar.metric("shopfloor_sidecar_http_requests_total", 'status="200"')).toBe(3);
    expect(await fixture.countEvents([["event_uid", "=", "modes-9"]])).toBe(0);
    // The token never reaches the log.
    expect(sidecar.output()).not.toContain(token);

    // A new token in Odoo replaces the old one: the sidecar reloads at its next heartbeat.
    const [producerId] = (await fixture.admin.execute("shopfloor.http.producer", "search", [
      [["connection_id", "=", fixture.connectionId]],
    ])) as number[];
    const renewed = await generateToken(fixture, producerId as number);
    const tryWith = async (bearer: string, i: number) =>
      (
        await post(`${url}/events`, JSON.stringify(qualityEvent("modes", i)), {
          token: bearer,
          headers: STRUCTURED,
          agent: false,
        }).catch(() => ({ status: 0 }))
      ).status;
    await expect.poll(() => tryWith(renewed, 6), { timeout: 60_000, interval: 500 }).toBe(200);
    expect(await tryWith(token, 7)).toBe(401);
    await expectAppliedOnce(
      fixture,
      "modes",
      [0, 1, 2, 3, 4, 5, 6].map((i) => `modes-${i}`),
    );
    expect(sidecar.output()).not.toContain(renewed);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
  });

  it("a mapped JSON route becomes applied events; a route no mapping takes is 404 and rejected in Odoo", async () => {
    const { fixture, tokens, url, start } = await setup("httproutes", [{ name: "mes" }]);
    await fixture.admin.execute("shopfloor.payload.map", "create", [
      {
        connection_id: fixture.connectionId,
        name: "MES gauge readings",
        kind: "events",
        transport: "http",
        match: "mes/+",
        payload_format: "json",
        expression: `readings.{
          'source': 'plant1/' & $$.line & '/gauge-1',
          'type': 'quality.result',
          'time': at,
          'data': { 'characteristic': name, 'pass': ok, 'value': v, 'unit': 'mm' }
        }`,
        id_fields: "source\ntime\ndata.characteristic",
      },
    ]);
    const sidecar = await start();
    const token = tokens.mes as string;
    const payload = JSON.stringify({
      line: "routes",
      readings: [
        { name: "diameter", ok: true, v: 10.02, at: "2026-11-22T08:00:00Z" },
        { name: "length", ok: true, v: 55.1, at: "2026-11-22T08:00:00Z" },
      ],
    });
    const answer = await post(`${url}/routes/mes/quality`, payload, {
      token,
      headers: { "Content-Type": "application/json" },
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.items).toEqual([{ index: 0, outcome: "accepted", events: 2 }]);
    const mapped = () => states(fixture, [["source", "=", "plant1/routes/gauge-1"]]);
    await expect.poll(async () => (await mapped()).length, { timeout: 120_000, interval: 500 }).toBe(2);
    await expect
      .poll(async () => (await mapped()).every((row) => row.state === "applied"), { timeout: 120_000, interval: 500 })
      .toBe(true);
    // The producer resends (no answer seen, say): the mapping's ids make it a duplicate; Odoo keeps two.
    const again = await post(`${url}/routes/mes/quality`, payload, {
      token,
      headers: { "Content-Type": "application/json" },
    });
    expect(again.body.duplicates).toBe(2);

    const unmapped = await post(`${url}/routes/ignition/tags`, '{"tag":"Count","value":7}', { token });
    expect(unmapped.status).toBe(404);
    expect(unmapped.body.reason).toMatch(/no payload mapping/);
    const rejected = () =>
      states(fixture, [
        ["source", "=", "ignition/tags"],
        ["state", "=", "rejected"],
      ]);
    await expect.poll(async () => (await rejected()).length, { timeout: 120_000, interval: 500 }).toBe(1);
    expect(await fixture.countEvents([["source", "=", "plant1/routes/gauge-1"]])).toBe(2);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
  });

  it("input that is wrong is answered 4xx and still reaches Odoo as rejected, with the reason", async () => {
    const { fixture, tokens, url, start } = await setup("httpbad", [{ name: "line2", source_prefix: "plant1/line2/" }]);
    const sidecar = await start();
    const token = tokens.line2 as string;
    const outside = qualityEvent("bad", 0, "plant1/line1/gauge-1");
    const forbidden = await post(`${url}/events`, JSON.stringify(outside), { token, headers: STRUCTURED });
    expect(forbidden.status).toBe(403);
    const malformed = await post(`${url}/events`, '{"specversion":"1.0","id":', { token, headers: STRUCTURED });
    expect(malformed.status).toBe(400);
    const unknownType = qualityEvent("bad", 1, "plant1/line2/gauge-1");
    const invalid = await post(`${url}/events`, JSON.stringify({ ...unknownType, type: "coffee.brewed" }), {
      token,
      headers: STRUCTURED,
    });
    expect(invalid.status).toBe(422);
    const rejected = async () => states(fixture, [["state", "=", "rejected"]]);
    await expect.poll(async () => (await rejected()).length, { timeout: 120_000, interval: 500 }).toBe(3);
    const reasons = (await rejected()).map((r) => String(r.error_message));
    expect(reasons.some((r) => r.includes('outside producer "line2"\'s source prefix'))).toBe(true);
    expect(reasons.some((r) => r.includes("structured mode: not JSON"))).toBe(true);
    expect(reasons.some((r) => /type/.test(r))).toBe(true);
    expect(await sidecar.kill("SIGTERM")).toBe(0);
  });

  it("spool full while Odoo is down: 503 with Retry-After; kill -9 between receive and 2xx; the resend lands once", async () => {
    const { fixture, tokens, url, start } = await setup("httpkill", [{ name: "mes" }]);
    const token = tokens.mes as string;
    // A first run caches Odoo's configuration in the spool, so a restart while Odoo is down has it.
    const first = await start();
    expect(await first.kill("SIGTERM")).toBe(0);
    await odoo.stop();
    const sends: { body: string; answer?: PostAnswer }[] = [];
    let killed: SidecarProcess | undefined;
    try {
      killed = await start(["run", "--spool-capacity-events", "100", "--heartbeat-ms", "2000"]);
      const batchOf = (from: number, to: number) =>
        JSON.stringify(Array.from({ length: to - from }, (_, k) => qualityEvent("kill", from + k)));
      // 80 of 100: below the high-water mark (90%), taken and answered.
      const first80 = await post(`${url}/events`, batchOf(0, 80), { token, headers: BATCHED });
      expect(first80.status, first80.text).toBe(200);
      // 50 more: admitted at 80%, 20 fit, 30 wait for space that never comes — no answer.
      const held = { body: batchOf(80, 130) };
      sends.push(held);
      const pending = post(`${url}/events`, held.body, { token, headers: BATCHED, agent: false }).then(
        (answer) => {
          Object.assign(held, { answer });
        },
        () => {},
      );
      await expect.poll(() => killed?.metric("shopfloor_sidecar_spool_waiting_appends"), { timeout: 30_000 }).toBe(1);
      // Anyone else now: 503 with Retry-After, nothing of it stored.
      const refusedBody = batchOf(130, 135);
      const refused = await post(`${url}/events`, refusedBody, { token, headers: BATCHED, agent: false });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
      expect(await killed.metric("shopfloor_sidecar_spool_depth")).toBe(100);
      sends.push({ body: refusedBody });
      // The process dies between receive and 2xx.
      expect(await killed.kill("SIGKILL")).toBe(-1);
      await pending;
      expect((held as { answer?: PostAnswer }).answer).toBeUndefined();
    } finally {
      await odoo.start();
    }
    // The producer sends again what got no 2xx, as it must.
    await start();
    const again = await post(`${url}/events`, sends[0]?.body as string, { token, headers: BATCHED });
    expect(again.status, again.text).toBe(200);
    // The 20 committed before the kill are recognised: nothing doubled.
    expect(again.body.duplicates).toBe(20);
    const retried = await post(`${url}/events`, sends[1]?.body as string, { token, headers: BATCHED });
    expect(retried.status).toBe(200);
    await expectAppliedOnce(
      fixture,
      "kill",
      Array.from({ length: 135 }, (_, i) => `kill-${i}`),
    );
  });
});
