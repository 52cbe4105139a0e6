// The AMQP source against a three-node RabbitMQ cluster (Debian's
// rabbitmq-server, devstack/rabbitmq.ts startRabbitMqCluster), as a site runs
// quorum queues: the node holding the queue's leader is killed mid-stream
// while the source consumes through another node; the queue elects a new
// leader on the nodes left and every message reaches the spool once. A node
// that stops answering (frozen) is left by the heartbeat, and what its
// consumer held comes back once the cluster takes the node for down.
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RabbitMqBroker, startRabbitMqCluster } from "../../../devstack/rabbitmq.ts";
import { RecordingSink } from "../../../test/support/sources/source.contract.ts";
import { AmqpSource } from "./source.ts";

const QUEUE = "sfb.cluster.line";
/** Erlang's net_ticktime of the test cluster (60 s by default): a frozen node is down for the others after 8–13 s. */
const NET_TICKTIME = 10;

describe("AmqpSource on a three-node RabbitMQ cluster (quorum queue)", () => {
  let nodes: RabbitMqBroker[];
  beforeAll(async () => {
    nodes = await startRabbitMqCluster(3, { netTicktime: NET_TICKTIME });
  }, 240_000);
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.destroy()));
  });

  /** The node the quorum queue's leader runs on, as rabbitmqctl lists it. */
  const leaderOf = (queue: string): RabbitMqBroker | undefined => {
    const listed = (nodes[0] as RabbitMqBroker).ctl(["list_queues", "--no-table-headers", "--quiet", "name", "leader"]);
    const leader = listed
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .find(([name]) => name === queue)?.[1];
    return nodes.find((n) => n.nodeName === leader);
  };

  it("reads on through its node when the queue's leader node dies: every message once, nothing left", async () => {
    const [, second, third] = nodes as [RabbitMqBroker, RabbitMqBroker, RabbitMqBroker];
    // Declared on the second node, which takes the leader (client-local); members on all three.
    const declaring = await amqp.connect(second.url);
    const channel = await declaring.createChannel();
    await channel.assertQueue(QUEUE, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-queue-leader-locator": "client-local" },
    });
    await declaring.close();
    const leader = leaderOf(QUEUE);
    expect(leader?.nodeName).toBe(second.nodeName);
    // The source on the first node, the publisher on the third: neither on the leader's.
    const sink = new RecordingSink();
    const src = new AmqpSource({
      connection: "CLUSTER",
      url: (nodes[0] as RabbitMqBroker).url,
      queues: [QUEUE],
      backoff: { baseMs: 100, maxMs: 1_000 },
    });
    await src.start(sink);
    const publisher = await amqp.connect(third.url);
    const confirm = await publisher.createConfirmChannel();
    const publish = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) confirm.sendToQueue(QUEUE, Buffer.from(`${prefix}-${i}`), { persistent: true });
      await confirm.waitForConfirms();
    };
    try {
      await publish("before", 100);
      await expect.poll(() => src.stats().acked, { timeout: 20_000 }).toBe(100);
      await second.stop("SIGKILL");
      // A new leader among the two nodes left (a majority of three).
      const survivors = [(nodes[0] as RabbitMqBroker).nodeName, third.nodeName];
      await expect
        .poll(() => survivors.includes(leaderOf(QUEUE)?.nodeName ?? ""), { timeout: 30_000, interval: 500 })
        .toBe(true);
      await publish("after", 100);
      const texts = () =>
        new Set(sink.committed.map((i) => (i.kind === "event" ? "" : Buffer.from(i.payload).toString())));
      await expect.poll(() => texts().size, { timeout: 60_000 }).toBe(200);
      expect(sink.committed.length).toBe(200);
      await expect
        .poll(
          async () => {
            const probe = await publisher.createChannel();
            try {
              return (await probe.checkQueue(QUEUE)).messageCount;
            } finally {
              await probe.close();
            }
          },
          { timeout: 20_000 },
        )
        .toBe(0);
    } finally {
      await publisher.close().catch(() => {});
      await src.stop();
    }
  });
  it("fails over to the next node its URL names when its own node dies: every message once, nothing left", async () => {
    const [first, second, third] = nodes as [RabbitMqBroker, RabbitMqBroker, RabbitMqBroker];
    // The node the first test killed comes back and rejoins: three members again.
    await second.start();
    const queue = "sfb.cluster.failover";
    const admin = await amqp.connect(third.url);
    const channel = await admin.createChannel();
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-queue-leader-locator": "client-local" },
    });
    expect(leaderOf(queue)?.nodeName).toBe(third.nodeName);
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = new AmqpSource({
      connection: "FAILOVER",
      // Every node, the first one first: the source consumes through it.
      url: `amqp://127.0.0.1:${first.port},127.0.0.1:${second.port},127.0.0.1:${third.port}`,
      queues: [queue],
      backoff: { baseMs: 100, maxMs: 1_000 },
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    await src.start(sink);
    const confirm = await admin.createConfirmChannel();
    const publish = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) confirm.sendToQueue(queue, Buffer.from(`${prefix}-${i}`), { persistent: true });
      await confirm.waitForConfirms();
    };
    const consumersOn = (node: RabbitMqBroker) =>
      node.ctl(["list_consumers", "--no-table-headers", "--quiet", "queue_name", "channel_pid"]).includes(queue);
    try {
      await publish("before", 100);
      await expect.poll(() => src.stats().acked, { timeout: 20_000 }).toBe(100);
      await first.stop("SIGKILL");
      await publish("after", 100);
      const texts = () =>
        new Set(sink.committed.map((i) => (i.kind === "event" ? "" : Buffer.from(i.payload).toString())));
      await expect.poll(() => texts().size, { timeout: 60_000 }).toBe(200);
      expect(sink.committed.length).toBe(200);
      // Through the next node in the list, the second.
      expect(
        logs.some((l) => l.startsWith(`info amqp 127.0.0.1:${second.port}/: connected again`)),
        logs.join("\n"),
      ).toBe(true);
      await expect.poll(async () => (await channel.checkQueue(queue)).messageCount, { timeout: 20_000 }).toBe(0);

      // A source started while the first node in its list is down starts on the next one, saying so.
      const lateLogs: string[] = [];
      const lateSink = new RecordingSink();
      const late = new AmqpSource({
        connection: "LATE",
        url: `amqp://127.0.0.1:${first.port},127.0.0.1:${third.port}`,
        queues: [`${queue}.late`],
        log: (level, message) => lateLogs.push(`${level} ${message}`),
      });
      await late.start(lateSink);
      try {
        for (let i = 0; i < 10; i++)
          channel.sendToQueue(`${queue}.late`, Buffer.from(`late-${i}`), { persistent: true });
        await expect.poll(() => late.stats().acked, { timeout: 20_000 }).toBe(10);
        expect(
          lateLogs.some(
            (l) => l.startsWith(`warn amqp 127.0.0.1:${first.port}/:`) && l.endsWith("trying the next node"),
          ),
        ).toBe(true);
        expect(consumersOn(third)).toBe(true);
      } finally {
        await late.stop();
      }
    } finally {
      await admin.close().catch(() => {});
      await src.stop();
    }
  });

  it("leaves its node when it stops answering (frozen), reads on through the next, and gets back what that node held", async () => {
    const [first, second, third] = nodes as [RabbitMqBroker, RabbitMqBroker, RabbitMqBroker];
    // The node the previous test killed comes back and rejoins.
    await first.start();
    const queue = "sfb.cluster.frozen";
    const admin = await amqp.connect(third.url);
    const channel = await admin.createConfirmChannel();
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-queue-leader-locator": "client-local" },
    });
    expect(leaderOf(queue)?.nodeName).toBe(third.nodeName);
    const publish = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) channel.sendToQueue(queue, Buffer.from(`${prefix}-${i}`), { persistent: true });
      await channel.waitForConfirms();
    };
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = new AmqpSource({
      connection: "FROZEN",
      // Heartbeats every second; the first node first: the source consumes through it.
      url: `amqp://127.0.0.1:${first.port},127.0.0.1:${second.port},127.0.0.1:${third.port}?heartbeat=1`,
      queues: [queue],
      backoff: { baseMs: 100, maxMs: 1_000 },
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    await src.start(sink);
    const texts = () => sink.committed.map((i) => (i.kind === "event" ? "" : Buffer.from(i.payload).toString()));
    try {
      await publish("before", 50);
      await expect.poll(() => src.stats().acked, { timeout: 20_000 }).toBe(50);
      // 20 delivered to the source through the first node and not committed yet (so not acked)
      // when that node freezes: the queue counts them as held by the frozen node's consumer.
      sink.block();
      await publish("held", 20);
      await expect.poll(() => src.stats().in_flight, { timeout: 20_000 }).toBe(20);
      first.freeze();
      try {
        // Committed while the node is frozen: the acks go to a node that does not answer.
        sink.release();
        // The heartbeat notices (no quiet TCP would), and the source moves on to the next node.
        await expect
          .poll(() => logs.some((l) => l.startsWith(`info amqp 127.0.0.1:${second.port}/: connected again`)), {
            timeout: 20_000,
          })
          .toBe(true);
        expect(logs.join("\n")).toMatch(/[Hh]eartbeat/);
        await publish("after", 50);
        // What the frozen node's consumer held is given back once the cluster takes the node
        // for down (net_ticktime), and read again through the second node: the 20 held, and
        // any "after" the queue gave that consumer before the cluster noticed.
        await expect.poll(() => new Set(texts()).size, { timeout: 60_000 }).toBe(120);
        await expect.poll(async () => (await channel.checkQueue(queue)).messageCount, { timeout: 20_000 }).toBe(0);
      } finally {
        first.thaw();
      }
      // Only what the frozen node held came twice (the spool keeps one: same payload, same id),
      // each time marked as a redelivery by the broker.
      const twice = texts().filter((t, i, all) => all.indexOf(t) !== i);
      expect(
        twice.every((t) => t.startsWith("held-")),
        twice.join(", "),
      ).toBe(true);
      expect(src.stats().redelivered).toBeGreaterThanOrEqual(twice.length);
      expect(src.stats().connected).toBe(1);
    } finally {
      sink.release();
      await admin.close().catch(() => {});
      await src.stop();
    }
  });
});
