// Where the streams live, on real redis-server 7 instances: a read-only
// replica, a two-node Redis Cluster (slots split between the nodes), and a
// primary demoted to a replica while the source runs. Each layout the source
// cannot read from names the connection field to fix and how; streams kept in
// one slot on the node backbone_url names are consumed like any others.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisBroker, startRedis } from "../../../devstack/redis.ts";
import { intakeText, RecordingSink } from "../../../test/support/sources/source.contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { RedisStreamSource, type RedisStreamSourceOptions } from "./source.ts";

const CLUSTER_CONFIG = ["cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 5000"];

function source(url: string, overrides: Partial<RedisStreamSourceOptions> & { streams: string[] }): RedisStreamSource {
  return new RedisStreamSource({
    connection: "LAYOUT",
    url,
    group: "sidecars",
    consumer: "layout-a",
    blockMs: 200,
    reconnect: { baseMs: 50, maxMs: 300 },
    ...overrides,
  });
}

async function refusal(src: RedisStreamSource): Promise<BackboneConfigError> {
  const err = await src.start(new RecordingSink()).then(
    async () => {
      await src.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackboneConfigError);
  return err as BackboneConfigError;
}

describe("RedisStreamSource: a read-only replica", () => {
  let primary: RedisBroker;
  let replica: RedisBroker;
  let admin: Redis;
  beforeAll(async () => {
    // The replica's first sync without the default 5 s wait for more replicas.
    primary = await startRedis({ extraConfig: ["repl-diskless-sync-delay 0"] });
    replica = await startRedis({ extraConfig: [`replicaof 127.0.0.1 ${primary.port}`] });
    admin = new Redis(primary.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await replica?.destroy();
    await primary?.destroy();
  });

  it("refuses to start on a replica, naming backbone_url and the primary, with or without the group", async () => {
    await admin.xgroup("CREATE", "grouped", "sidecars", "0", "MKSTREAM");
    const replicaClient = new Redis(replica.url);
    try {
      await expect.poll(async () => replicaClient.exists("grouped"), { timeout: 10_000 }).toBe(1);
    } finally {
      replicaClient.disconnect();
    }
    for (const stream of ["grouped", "not-yet-there"]) {
      const err = await refusal(source(replica.url, { streams: [stream] }));
      expect(err.field).toBe("backbone_url");
      expect(err.message).toMatch(/is a read-only replica \(READONLY/);
      expect(err.message).toMatch(/point backbone_url at the primary/);
    }
  });

  it("says so while running when its primary is demoted, and reads again once it is primary again", async () => {
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(primary.url, { streams: ["demoted"], log: (_level, message) => logs.push(message) });
    await src.start(sink);
    // Its own, empty primary to follow: the demoted instance keeps nothing of what it held.
    const other = await startRedis();
    try {
      await admin.xadd("demoted", "*", "payload", "before");
      await expect.poll(() => sink.committed.map(intakeText), { timeout: 5_000 }).toEqual(["before"]);
      await admin.call("REPLICAOF", "127.0.0.1", String(other.port));
      await expect
        .poll(() => logs.some((l) => /redis read refused: .*read-only replica/.test(l)), { timeout: 10_000 })
        .toBe(true);
      await admin.call("REPLICAOF", "NO", "ONE");
      // The sync from `other` emptied it: the source creates its group again, then reads what comes.
      await expect
        .poll(
          async () => {
            await admin.xadd("demoted", "*", "payload", "after");
            return sink.committed.map(intakeText).includes("after");
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe(true);
    } finally {
      await src.stop();
      await other.destroy();
    }
  });
});

describe("RedisStreamSource: a two-node Redis Cluster", () => {
  let nodeA: RedisBroker;
  let nodeB: RedisBroker;
  let adminA: Redis;
  let adminB: Redis;
  /** Names whose slots node A (0–8191) or node B serves, found with CLUSTER KEYSLOT. */
  const onNode = async (node: "A" | "B", prefix: string, count: number, tag?: string): Promise<string[]> => {
    const names: string[] = [];
    for (let i = 0; names.length < count && i < 10_000; i++) {
      const name = tag === undefined ? `${prefix}-${i}` : `{${tag}}:${prefix}-${i}`;
      const slot = Number(await adminA.call("CLUSTER", "KEYSLOT", name));
      if (slot < 8192 === (node === "A")) names.push(name);
    }
    return names;
  };

  beforeAll(async () => {
    nodeA = await startRedis({ extraConfig: CLUSTER_CONFIG });
    nodeB = await startRedis({ extraConfig: CLUSTER_CONFIG });
    adminA = new Redis(nodeA.url);
    adminB = new Redis(nodeB.url);
    await adminA.call("CLUSTER", "ADDSLOTSRANGE", "0", "8191");
    await adminB.call("CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
    await adminA.call("CLUSTER", "MEET", "127.0.0.1", String(nodeB.port));
    const deadline = Date.now() + 20_000;
    for (const admin of [adminA, adminB]) {
      while (!/cluster_state:ok/.test(String(await admin.call("CLUSTER", "INFO")))) {
        if (Date.now() > deadline) throw new Error("the two-node cluster did not reach cluster_state:ok in 20 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  afterAll(async () => {
    adminA?.disconnect();
    adminB?.disconnect();
    await nodeA?.destroy();
    await nodeB?.destroy();
  });

  it("refuses a stream another node serves, naming backbone_url, the slot and that node", async () => {
    const [elsewhere] = await onNode("B", "elsewhere", 1);
    const err = await refusal(source(nodeA.url, { streams: [elsewhere as string] }));
    expect(err.field).toBe("backbone_url");
    expect(err.message).toMatch(/is a Redis Cluster node that does not serve every stream of backbone_names/);
    expect(err.message).toContain(`is on 127.0.0.1:${nodeB.port}`);
    expect(err.message).toMatch(/\{hash tag\}/);
  });

  it("refuses streams of one node in different slots, naming backbone_names and the hash tag to give them", async () => {
    const streams = await onNode("A", "split", 2);
    const slots = await Promise.all(streams.map((s) => adminA.call("CLUSTER", "KEYSLOT", s)));
    expect(new Set(slots).size).toBe(2);
    const err = await refusal(source(nodeA.url, { streams }));
    expect(err.field).toBe("backbone_names");
    expect(err.message).toMatch(/are in different slots of a Redis Cluster \(CROSSSLOT/);
    expect(err.message).toContain(JSON.stringify(streams[0]));
  });

  it("consumes streams kept in one slot (a common hash tag) from the node that serves them", async () => {
    // A tag whose slot is node A's: every name carrying it hashes there.
    const [first] = await onNode("A", "line", 1, "plant1");
    const streams = [first as string, (first as string).replace(/line-\d+$/, "line-second")];
    const sink = new RecordingSink();
    const src = source(nodeA.url, { streams });
    await src.start(sink);
    try {
      for (const [i, stream] of streams.entries()) await adminA.xadd(stream, "*", "payload", `on-${i}`);
      await expect.poll(() => sink.committed.map(intakeText).sort(), { timeout: 5_000 }).toEqual(["on-0", "on-1"]);
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(2);
    } finally {
      await src.stop();
    }
  });
});
