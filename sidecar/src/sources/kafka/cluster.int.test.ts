// The Kafka source against a three-node Kafka cluster (KRaft, every node a
// broker and a controller, topics replicated on all three, min.insync.replicas
// 2), as the README asks a site to run one: the node holding the group's
// coordinator is killed mid-stream, and the records keep coming, each once,
// with their offsets committed on the coordinator that took over.
import { Admin, FindCoordinatorKeyTypes, ProduceAcks, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaCluster, startKafkaCluster } from "../../../devstack/kafka.ts";
import { intakeText, RecordingSink } from "../../../test/support/sources/source.contract.ts";
import { KafkaSource } from "./source.ts";

const GROUP = "sfb-cluster";
const TOPIC = "cluster-line";

describe("KafkaSource on a three-node Kafka cluster (replication 3, min.insync.replicas 2)", () => {
  let cluster: KafkaCluster;
  let producer: Producer<string, string, string, string>;
  beforeAll(async () => {
    cluster = await startKafkaCluster(3);
    await cluster.createTopics([TOPIC], 2);
    producer = new Producer({
      clientId: "sfb-cluster-producer",
      bootstrapBrokers: cluster.url.split(","),
      acks: ProduceAcks.ALL,
      retries: 20,
      serializers: {
        key: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
        value: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
        headerKey: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
        headerValue: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
      },
    });
  }, 240_000);
  afterAll(async () => {
    await producer?.close();
    await cluster?.destroy();
  });

  const send = async (prefix: string, count: number) => {
    for (let i = 0; i < count; i++) {
      await producer.send({ messages: [{ topic: TOPIC, key: `WC-${i % 4}`, value: `${prefix}-${i}` }] });
    }
  };
  const source = () =>
    new KafkaSource({
      brokers: cluster.url.split(","),
      topics: [TOPIC],
      groupId: GROUP,
      clientId: "sfb-cluster-sidecar",
      sessionTimeoutMs: 6_000,
      backoff: { baseMs: 200, maxMs: 2_000 },
    });

  it("reads on when the node of the group's coordinator dies: every record once, offsets committed", async () => {
    const sink = new RecordingSink();
    const src = source();
    await src.start(sink);
    try {
      await send("before", 100);
      await expect.poll(() => src.stats().acked, { timeout: 30_000 }).toBe(100);
      // The node the group's coordinator runs on (FindCoordinator), killed.
      const admin = new Admin({ clientId: "sfb-cluster-admin", bootstrapBrokers: cluster.url.split(",") });
      let coordinator: number;
      try {
        const [found] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [GROUP] });
        coordinator = found?.nodeId ?? -1;
      } finally {
        await admin.close();
      }
      const node = cluster.nodes.find((n) => n.id === coordinator);
      expect(node, `coordinator ${coordinator}`).toBeDefined();
      await node?.stop("SIGKILL");
      await send("after", 100);
      await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 90_000 }).toBe(200);
      await expect.poll(() => src.stats().acked, { timeout: 60_000 }).toBeGreaterThanOrEqual(200);
    } finally {
      await src.stop();
    }
    // Its offsets are on the new coordinator: a sidecar joining the group now gets nothing again.
    const again = new RecordingSink();
    const next = source();
    await next.start(again);
    try {
      await expect.poll(() => next.stats().partitions, { timeout: 30_000 }).toBe(2);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(again.committed.map(intakeText)).toEqual([]);
    } finally {
      await next.stop();
    }
  });
});
