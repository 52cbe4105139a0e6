// RabbitMQ → the sidecar process → Odoo 18: a connection of kind amqp
// consumes a quorum queue; the sidecar is killed (SIGKILL) mid-stream and
// started again, and every published event is stored in Odoo exactly once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { type RabbitMqBroker, startRabbitMq } from "../../sidecar/devstack/rabbitmq.ts";
import { validEvent } from "../../sidecar/test/support/fuzz.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

describe.runIf(moduleHasSidecarApi())("amqp source (RabbitMQ + sidecar process + Odoo 18)", () => {
  let odoo: OdooServer;
  let broker: RabbitMqBroker;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    // Not killed here, so the node .ci/run started will do.
    broker = await startRabbitMq({ reuse: true });
    odoo = await startOdoo({ db: `sfb_amqp_e2e_${process.pid}` });
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    await broker?.destroy();
    await odoo?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup(code: string, queue: string) {
    const fixture = await makeOdooFixture(odoo, { code, batchSize: 50, batchWaitMs: 50 });
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      {
        kind: "amqp",
        backbone_url: broker.url,
        backbone_names: queue,
        backbone_consumer: `sfb-e2e-${code}`,
        backbone_prefetch: 200,
      },
    ]);
    const spoolDir = mkdtempSync(join(tmpdir(), `sfb-e2e-${code}-`));
    dirs.push(spoolDir);
    const env = {
      ODOO_URL: odoo.url,
      ODOO_DB: odoo.db,
      ODOO_USER: fixture.user,
      ODOO_API_KEY: fixture.password,
      SHOPFLOOR_CONNECTION: code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: String(await freePort()),
    };
    const start = async () => {
      const p = spawnSidecar({ env, args: ["run", "--heartbeat-ms", "2000"] });
      running.push(p);
      await p.waitForLog(/"msg":"source started"/);
      return p;
    };
    return { fixture, start };
  }

  async function expectExactlyOnce(fixture: OdooFixture, tag: string, n: number): Promise<void> {
    const rows = await fixture.events(["event_uid"], [["source", "=", `${tag}/press-1`]]);
    const uids = rows.map((r) => r.event_uid as string);
    expect(uids.length).toBe(n);
    expect([...uids].sort()).toEqual(Array.from({ length: n }, (_, i) => `${tag}-${i}`).sort());
  }

  it("kill -9 mid-stream and restart: every published event is stored in Odoo exactly once", async () => {
    const code = `amqp${process.pid}`;
    const queue = `sfb.e2e.${code}`;
    const { fixture, start } = await setup(code, queue);
    const countOf = () =>
      fixture.countEvents([
        ["connection_id", "=", fixture.connectionId],
        ["source", "=", `${code}/press-1`],
      ]);
    const sidecar = await start();
    const N = 1_500;
    const conn = await amqp.connect(broker.url);
    const channel = await conn.createConfirmChannel();
    const publishing = (async () => {
      // Structured mode, as a CloudEvents SDK publishes; in small confirmed groups so the kill lands mid-stream.
      for (let i = 0; i < N; i++) {
        channel.sendToQueue(queue, Buffer.from(JSON.stringify(validEvent(i, code))), {
          persistent: true,
          contentType: "application/cloudevents+json",
        });
        if (i % 50 === 49) await channel.waitForConfirms();
      }
      await channel.waitForConfirms();
    })();
    await expect.poll(countOf, { timeout: 120_000, interval: 100 }).toBeGreaterThan(100);
    expect(await sidecar.kill("SIGKILL")).toBe(-1);
    const atKill = await countOf();
    await publishing;
    await conn.close();
    expect(atKill).toBeLessThan(N);
    const restarted = await start();
    await expect.poll(countOf, { timeout: 240_000, interval: 500 }).toBe(N);
    await expectExactlyOnce(fixture, code, N);
    // Whatever was delivered and not acked when it died came again, and the queue is empty now.
    await expect.poll(() => restarted.metric("shopfloor_sidecar_spool_depth"), { timeout: 60_000 }).toBe(0);
    const probe = await amqp.connect(broker.url);
    const check = await probe.createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
    await probe.close();
    expect(await restarted.kill("SIGTERM")).toBe(0);
  });

  it("binary-mode events are stored; bytes that are no event reach Odoo as rejected with their bytes, and are acked", async () => {
    const code = `amqpbin${process.pid}`;
    const queue = `sfb.e2e.${code}`;
    const { fixture, start } = await setup(code, queue);
    const sidecar = await start();
    const conn = await amqp.connect(broker.url);
    const channel = await conn.createConfirmChannel();
    const N = 20;
    for (let i = 0; i < N; i++) {
      const { data, ...attributes } = validEvent(i, code);
      const headers = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`cloudEvents:${k}`, v]));
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(data)), {
        persistent: true,
        contentType: "application/json",
        headers,
      });
    }
    const garbage = Buffer.from("PLC says hello \u00ff");
    channel.sendToQueue(queue, garbage, { persistent: true });
    const badBody = Buffer.from([0xc3, 0x28, 0xff]);
    channel.sendToQueue(queue, badBody, {
      persistent: true,
      contentType: "application/json",
      headers: {
        "cloudEvents:specversion": "1.0",
        "cloudEvents:id": `${code}-bad`,
        "cloudEvents:source": `${code}/press-1`,
      },
    });
    await channel.waitForConfirms();
    await conn.close();
    const countOf = () =>
      fixture.countEvents([
        ["connection_id", "=", fixture.connectionId],
        ["source", "=", `${code}/press-1`],
        ["state", "!=", "rejected"],
      ]);
    await expect.poll(countOf, { timeout: 120_000, interval: 500 }).toBe(N);
    await expectExactlyOnce(fixture, code, N);
    const rejectedRows = async () =>
      (await fixture.admin.execute(
        "shopfloor.event",
        "search_read",
        [
          [
            ["connection_id", "=", fixture.connectionId],
            ["state", "=", "rejected"],
          ],
        ],
        { fields: ["source", "raw_b64", "error_message"], context: { active_test: false } },
      )) as Record<string, unknown>[];
    await expect.poll(async () => (await rejectedRows()).length, { timeout: 60_000 }).toBe(2);
    const rows = await rejectedRows();
    const raw = (row: Record<string, unknown>) => Buffer.from(String(row.raw_b64), "base64");
    const plain = rows.find((row) => raw(row).equals(garbage));
    expect(plain, "the garbage message, byte for byte").toBeDefined();
    expect(plain?.source).toBe(queue);
    const binary = rows.find((row) => row !== plain);
    expect(String(binary?.error_message)).toMatch(/binary mode: the body \(data\): body is not valid UTF-8/);
    expect(
      Buffer.from(JSON.parse(raw(binary as Record<string, unknown>).toString()).data_base64, "base64").equals(badBody),
    ).toBe(true);
    // Acked, rejected ones included: after a clean stop nothing goes back to the queue.
    expect(await sidecar.kill("SIGTERM")).toBe(0);
    const probe = await amqp.connect(broker.url);
    const check = await probe.createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
    await probe.close();
  });
});
