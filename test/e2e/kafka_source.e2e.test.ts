// The Kafka source as the sidecar process runs it, between a real Apache Kafka
// broker (KRaft, sidecar/devstack/kafka.ts) and real Odoo 18: kill -9 mid-stream
// and restart, and two sidecars of one consumer group where one dies and the
// other takes over its partitions. Producers key records by work center.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaBroker, startKafka } from "../../sidecar/devstack/kafka.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";

const WORK_CENTERS = 6;

/** Event `i` of `tag`: work center i mod 6, time strictly increasing with i. */
function event(tag: string, i: number) {
  return {
    specversion: "1.0",
    id: `${tag}-${i}`,
    source: `${tag}/wc-${i % WORK_CENTERS}`,
    type: "quality.result",
    time: new Date(Date.UTC(2026, 10, 22, 8, 0, 0) + i).toISOString(),
    data: { characteristic: "diameter", pass: true, value: i },
  };
}

describe.runIf(moduleHasSidecarApi())("Kafka source (Kafka KRaft broker + sidecar process + Odoo 18)", () => {
  let odoo: OdooServer;
  let kafka: KafkaBroker;
  let producer: Producer;
  const running: SidecarProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    kafka = await startKafka({ shared: true });
    odoo = await startOdoo({ db: `sfb_kafka_e2e_${process.pid}` });
    producer = new Producer({ clientId: "sfb-e2e-producer", bootstrapBrokers: [kafka.url] });
  });
  afterAll(async () => {
    for (const p of running) await p.kill("SIGKILL");
    await producer?.close();
    await kafka?.destroy();
    await odoo?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup(code: string, topic: string) {
    await kafka.createTopics([topic], 4);
    const fixture = await makeOdooFixture(odoo, { code, batchSize: 50, batchWaitMs: 50 });
    await fixture.admin.execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      {
        kind: "kafka",
        backbone_url: kafka.url,
        backbone_names: topic,
        backbone_group: `sfb-${code}`,
        backbone_prefetch: 200,
        // Short, so the test does not wait long for a dead member's partitions.
        backbone_claim_idle_ms: 6_000,
      },
    ]);
    const start = async (spoolDir?: string) => {
      const dir = spoolDir ?? mkdtempSync(join(tmpdir(), `sfb-e2e-${code}-`));
      if (!spoolDir) dirs.push(dir);
      const env = {
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: fixture.user,
        ODOO_API_KEY: fixture.password,
        SHOPFLOOR_CONNECTION: code,
        SHOPFLOOR_SPOOL_DIR: dir,
        METRICS_PORT: String(await freePort()),
      };
      const p = spawnSidecar({ env, args: ["run", "--heartbeat-ms", "2000"] });
      running.push(p);
      await p.waitForLog(/"msg":"source started"/);
      return { process: p, spoolDir: dir };
    };
    return { fixture, start };
  }

  /** Publishes events [from, to) keyed by work center, in small bursts so a kill lands mid-stream. */
  async function publish(topic: string, tag: string, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i += 25) {
      const messages = [];
      for (let j = i; j < Math.min(i + 25, to); j++) {
        const e = event(tag, j);
        messages.push({
          topic,
          key: Buffer.from(`wc-${j % WORK_CENTERS}`),
          value: Buffer.from(JSON.stringify(e)),
          headers: new Map([[Buffer.from("content-type"), Buffer.from("application/cloudevents+json")]]),
        });
      }
      await producer.send({ messages });
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const stored = async (fixture: OdooFixture, tag: string) =>
    (await fixture.events(["id", "event_uid", "source", "time"], [["source", "=like", `${tag}/%`]])) as {
      id: number;
      event_uid: string;
      source: string;
    }[];

  function expectExactlyOnce(rows: { event_uid: string }[], tag: string, n: number): void {
    const uids = rows.map((r) => r.event_uid);
    expect(uids.length).toBe(n);
    expect([...uids].sort()).toEqual(Array.from({ length: n }, (_, i) => `${tag}-${i}`).sort());
  }

  /** Event ids a killed sidecar committed to its spool and had not delivered to Odoo. */
  function undelivered(spoolDir: string): Set<string> {
    const db = new DatabaseSync(join(spoolDir, "spool.db"), { readOnly: true });
    try {
      const rows = db.prepare("select event_id from events where state = 'queued'").all() as { event_id: string }[];
      return new Set(rows.map((r) => r.event_id));
    } finally {
      db.close();
    }
  }

  it("kill -9 mid-stream and restart: every event is stored in Odoo exactly once", async () => {
    const { fixture, start } = await setup("kafkakill", `e2e-kill9-${process.pid}`);
    const first = await start();
    const N = 1_500;
    const publishing = publish(`e2e-kill9-${process.pid}`, "kafkakill", 0, N);
    await expect
      .poll(async () => (await stored(fixture, "kafkakill")).length, { timeout: 120_000 })
      .toBeGreaterThan(100);
    expect(await first.process.kill("SIGKILL")).toBe(-1);
    await publishing;
    expect((await stored(fixture, "kafkakill")).length).toBeLessThan(N);
    const again = await start(first.spoolDir);
    await expect
      .poll(async () => (await stored(fixture, "kafkakill")).length, { timeout: 240_000, interval: 500 })
      .toBe(N);
    expectExactlyOnce(await stored(fixture, "kafkakill"), "kafkakill", N);
    expect(await again.process.kill("SIGTERM")).toBe(0);
  });

  it("two sidecars in one group: one killed mid-stream, the other takes over its partitions, exactly once and in order per work center", async () => {
    // The same connection twice, each with its own spool: one consumer group, two members.
    const { fixture, start } = await setup("kafkagroup", `e2e-group-${process.pid}`);
    const a = await start();
    const b = await start();
    const N = 1_800;
    const topic = `e2e-group-${process.pid}`;
    const firstHalf = publish(topic, "kafkagroup", 0, N / 2);
    await expect
      .poll(async () => (await stored(fixture, "kafkagroup")).length, { timeout: 120_000 })
      .toBeGreaterThan(200);
    expect(await a.process.kill("SIGKILL")).toBe(-1);
    await firstHalf;
    // The survivor's heartbeat (the only one left on the connection) says it holds all 4 partitions.
    const heartbeatPartitions = async () => {
      const [row] = (await fixture.admin.execute("shopfloor.connection", "read", [
        [fixture.connectionId],
        ["stats_json"],
      ])) as {
        stats_json: string;
      }[];
      return (JSON.parse(row?.stats_json || "{}") as { source_partitions?: number }).source_partitions;
    };
    await expect.poll(heartbeatPartitions, { timeout: 60_000, interval: 1_000 }).toBe(4);
    // Published after the death: the dead member's work centers reach Odoo only through the survivor.
    await publish(topic, "kafkagroup", N / 2, N);
    // What the dead sidecar holds is delivered when it runs again; everything else reaches Odoo now.
    const heldByDead = undelivered(a.spoolDir);
    const all = Array.from({ length: N }, (_, i) => `kafkagroup-${i}`);
    await expect
      .poll(
        async () => {
          const have = new Set((await stored(fixture, "kafkagroup")).map((r) => r.event_uid));
          return all.filter((uid) => !have.has(uid) && !heldByDead.has(uid)).length;
        },
        { timeout: 180_000, interval: 1_000 },
      )
      .toBe(0);
    const restarted = await start(a.spoolDir);
    await expect
      .poll(async () => (await stored(fixture, "kafkagroup")).length, { timeout: 240_000, interval: 500 })
      .toBe(N);
    const rows = await stored(fixture, "kafkagroup");
    expectExactlyOnce(rows, "kafkagroup", N);
    // Per work center, Odoo stored the events in time order: the only ones that came later
    // are those the killed sidecar had committed to its own spool and not yet delivered.
    for (let wc = 0; wc < WORK_CENTERS; wc++) {
      const order = rows
        .filter((r) => r.source === `kafkagroup/wc-${wc}` && !heldByDead.has(r.event_uid))
        .sort((x, y) => x.id - y.id)
        .map((r) => Number(r.event_uid.split("-").pop()));
      expect(order.length).toBeGreaterThan(0);
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    expect(await restarted.process.kill("SIGTERM")).toBe(0);
    expect(await b.process.kill("SIGTERM")).toBe(0);
  });
});
