// Where the streams live, on real redis-server 7 instances: a read-only
// replica, and a primary demoted to a replica while the source runs; a Redis
// Cluster of two primaries (slots split between them) and a replica of the
// second, named by one node (redis://) or by its nodes (redis+cluster://, the
// replica taking the slots over, and again with the second primary frozen); a
// primary and its replica behind Redis Sentinel, failed over and killed. Each
// layout the source cannot read from names the connection field to fix and how.
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../../devstack/mqtt-pki.ts";
import { runPeer } from "../../../devstack/python-peers.ts";
import { type RedisBroker, type RedisSentinel, startRedis, startSentinel } from "../../../devstack/redis.ts";
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

/**
 * Adds `text` to `stream` through `client` every half second until the sink holds it:
 * after a failover, until the source reads where the client writes.
 */
async function writeUntilRead(client: Redis, stream: string, text: string, sink: RecordingSink, timeout: number) {
  await expect
    .poll(
      async () => {
        await client.xadd(stream, "*", "payload", text);
        return sink.committed.map(intakeText).includes(text);
      },
      { timeout, interval: 500 },
    )
    .toBe(true);
}

/** Entries of `stream` pending in the group "sidecars", as `client`'s server counts them. */
async function pendingIn(client: Redis | Cluster, stream: string): Promise<number> {
  return Number(((await client.xpending(stream, "sidecars")) as [number])[0]);
}

/** The port of the primary `sentinel` names `name` now (0: none). */
async function primaryPortVia(sentinel: RedisSentinel, name: string): Promise<number> {
  const asked = new Redis(sentinel.port, "127.0.0.1");
  try {
    const addr = (await asked.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as [string, string] | null;
    return Number(addr?.[1] ?? 0);
  } finally {
    asked.disconnect();
  }
}

/** A primary and its replica, which copies it at once (diskless, no delay). */
async function primaryWithReplica(): Promise<[RedisBroker, RedisBroker]> {
  const primary = await startRedis({ extraConfig: ["repl-diskless-sync-delay 0"] });
  const replica = await startRedis({
    extraConfig: [`replicaof 127.0.0.1 ${primary.port}`, "repl-diskless-sync-delay 0"],
  });
  return [primary, replica];
}

/** Until `replica` is in sync with its primary (ROLE of a replica: its link state is the fourth item). */
async function untilInSync(replica: RedisBroker): Promise<void> {
  const client = new Redis(replica.url);
  try {
    await expect.poll(async () => ((await client.call("ROLE")) as unknown[])[3], { timeout: 10_000 }).toBe("connected");
  } finally {
    client.disconnect();
  }
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

interface TwoPrimaries {
  nodeA: RedisBroker;
  nodeB: RedisBroker;
  /** Node B's replica, until a test makes it take B's slots over. */
  nodeC: RedisBroker;
  adminA: Redis;
  adminB: Redis;
  adminC: Redis;
}

/**
 * A Redis Cluster of primaries A (slots 0–8191) and B (8192–16383), and C, a replica of B in
 * sync with it. Each node is given a config epoch of its own first, as `redis-cli --cluster
 * create` does: left at 0, A and B settled their collision while C joined, and C then took B's
 * slots over (CLUSTER FAILOVER TAKEOVER) at B's own epoch, a claim A did not believe: A kept
 * sending clients to B (2 of 12 runs of this file).
 */
async function twoPrimaries(): Promise<TwoPrimaries> {
  const nodeA = await startRedis({ extraConfig: CLUSTER_CONFIG });
  const nodeB = await startRedis({ extraConfig: CLUSTER_CONFIG });
  const nodeC = await startRedis({ extraConfig: [...CLUSTER_CONFIG, "repl-diskless-sync-delay 0"] });
  const adminA = new Redis(nodeA.url);
  const adminB = new Redis(nodeB.url);
  const adminC = new Redis(nodeC.url);
  for (const [epoch, admin] of [adminA, adminB, adminC].entries()) {
    await admin.call("CLUSTER", "SET-CONFIG-EPOCH", String(epoch + 1));
  }
  await adminA.call("CLUSTER", "ADDSLOTSRANGE", "0", "8191");
  await adminB.call("CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
  await adminA.call("CLUSTER", "MEET", "127.0.0.1", String(nodeB.port));
  await adminA.call("CLUSTER", "MEET", "127.0.0.1", String(nodeC.port));
  const deadline = Date.now() + 20_000;
  const until = async (what: string, done: () => Promise<boolean>) => {
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`the cluster did not come up in 20 s: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  for (const admin of [adminA, adminB]) {
    await until("cluster_state:ok", async () => /cluster_state:ok/.test(String(await admin.call("CLUSTER", "INFO"))));
  }
  // C replicates B once it knows B.
  const idOfB = String(await adminB.call("CLUSTER", "MYID"));
  await until("C knows B", async () => String(await adminC.call("CLUSTER", "NODES")).includes(idOfB));
  await adminC.call("CLUSTER", "REPLICATE", idOfB);
  await until("C in sync with B", async () => ((await adminC.call("ROLE")) as unknown[])[3] === "connected");
  return { nodeA, nodeB, nodeC, adminA, adminB, adminC };
}

async function destroyTwoPrimaries(cluster: TwoPrimaries | undefined): Promise<void> {
  if (!cluster) return;
  for (const admin of [cluster.adminA, cluster.adminB, cluster.adminC]) admin.disconnect();
  cluster.nodeB.thaw();
  for (const node of [cluster.nodeA, cluster.nodeB, cluster.nodeC]) await node.destroy();
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
      await writeUntilRead(admin, "demoted", "after", sink, 15_000);
    } finally {
      await src.stop();
      await other.destroy();
    }
  });
});

describe("RedisStreamSource: a two-node Redis Cluster", () => {
  let cluster: TwoPrimaries;
  let nodeA: RedisBroker;
  let nodeB: RedisBroker;
  let nodeC: RedisBroker;
  let adminA: Redis;
  let adminB: Redis;
  const clusterUrl = () => `redis+cluster://127.0.0.1:${nodeA.port}`;
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
    cluster = await twoPrimaries();
    ({ nodeA, nodeB, nodeC, adminA, adminB } = cluster);
  });
  afterAll(() => destroyTwoPrimaries(cluster));

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

  it("given the cluster's nodes (redis+cluster://), reads streams another node serves, and follows a failover", async () => {
    // Streams in one slot of node B's, named through node A.
    const [first] = await onNode("B", "line", 1, "plant2");
    const streams = [first as string, (first as string).replace(/line-\d+$/, "line-other")];
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(clusterUrl(), { streams, log: (level, message) => logs.push(`${level} ${message}`) });
    await src.start(sink);
    const cluster = new Cluster([{ host: "127.0.0.1", port: nodeA.port }]);
    try {
      for (const [i, stream] of streams.entries()) await cluster.xadd(stream, "*", "payload", `before-${i}`);
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(2);
      expect(await adminB.xlen(streams[0] as string)).toBe(1);
      expect(Number(await adminB.call("WAIT", "1", "5000"))).toBe(1);
      // C takes B's slots over; B, a replica of C now, refuses writes: reading goes on at C.
      const adminC = new Redis(nodeC.url);
      try {
        await adminC.call("CLUSTER", "FAILOVER", "TAKEOVER");
        await expect.poll(async () => ((await adminC.call("ROLE")) as string[])[0], { timeout: 10_000 }).toBe("master");
        await writeUntilRead(adminC, streams[1] as string, "after", sink, 20_000);
        await expect
          .poll(() => pendingIn(adminC, streams[1] as string), {
            timeout: 10_000,
          })
          .toBe(0);
      } finally {
        adminC.disconnect();
      }
      expect(new Set(sink.committed.map(intakeText))).toEqual(new Set(["before-0", "before-1", "after"]));
      expect(logs.filter((l) => l.startsWith("error"))).toEqual([]);
    } finally {
      cluster.disconnect();
      await src.stop();
    }
  });

  it("starts while no node of redis+cluster:// answers, says so, and stops in bounded time", async () => {
    const logs: string[] = [];
    const src = source("redis+cluster://127.0.0.1:1", { streams: ["s"], log: (_l, m) => logs.push(m) });
    await src.start(new RecordingSink());
    const started = Date.now();
    try {
      expect(logs.join("\n")).toMatch(/not reachable yet \(no node of the cluster answered: /);
      expect(src.stats().connected).toBe(0);
    } finally {
      await src.stop();
    }
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe("RedisStreamSource on a Redis Cluster when a primary stops answering (frozen with SIGSTOP)", () => {
  // Primaries A (slots 0–8191) and B (8192–16383), C a replica of B. With B frozen, the other
  // primary alone is no majority to elect C, so C takes the slots over as an operator would
  // make it (CLUSTER FAILOVER TAKEOVER, no vote): the source must leave B by its silence.
  let cluster: TwoPrimaries;
  let nodeA: RedisBroker;
  let nodeB: RedisBroker;
  let adminA: Redis;
  let adminB: Redis;
  let adminC: Redis;
  beforeAll(async () => {
    cluster = await twoPrimaries();
    ({ nodeA, nodeB, adminA, adminB, adminC } = cluster);
  });
  afterAll(() => destroyTwoPrimaries(cluster));

  it("leaves the frozen primary once its replica serves the slots, and reads every entry once", async () => {
    // Two streams in one slot of B's (a common hash tag), named through node A.
    let tag = "";
    for (let i = 0; !tag; i++) {
      if (Number(await adminA.call("CLUSTER", "KEYSLOT", `{frozen${i}}`)) >= 8192) tag = `{frozen${i}}`;
    }
    const streams = [`${tag}:line-1`, `${tag}:line-2`];
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(`redis+cluster://127.0.0.1:${nodeA.port}`, {
      streams,
      answerMs: 1_000,
      reconnect: { baseMs: 100, maxMs: 500 },
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    await src.start(sink);
    try {
      for (let i = 0; i < 20; i++) await adminB.xadd(streams[i % 2] as string, "*", "payload", `before-${i}`);
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(20);
      // Written after the source's acks, and on C once WAIT returns: so are they.
      await adminB.set(`${tag}:marker`, "1");
      expect(Number(await adminB.call("WAIT", "1", "5000"))).toBe(1);
      nodeB.freeze();
      await adminC.call("CLUSTER", "FAILOVER", "TAKEOVER");
      await expect.poll(async () => ((await adminC.call("ROLE")) as string[])[0], { timeout: 10_000 }).toBe("master");
      for (let i = 0; i < 20; i++) await adminC.xadd(streams[i % 2] as string, "*", "payload", `after-${i}`);
      await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 30_000 }).toBe(40);
      expect(sink.committed).toHaveLength(40);
      for (const stream of streams) {
        await expect.poll(() => pendingIn(adminC, stream), { timeout: 10_000 }).toBe(0);
      }
      // Said, naming the node: a Cluster client tells a node's trouble apart ("node error").
      expect(logs.join("\n")).toContain(
        `node 127.0.0.1:${nodeB.port}: answered nothing for 1200 ms while a command waited: taken for gone`,
      );
    } finally {
      await src.stop();
      nodeB.thaw();
    }
  });
});

describe("RedisStreamSource: a Redis Cluster over TLS (rediss+cluster://), with a password", () => {
  const CLUSTER_PASSWORD = "cluster-s3cret";
  let ca: TestCa;
  let nodeA: RedisBroker;
  let nodeB: RedisBroker;
  let adminA: Redis;
  let adminB: Redis;
  beforeAll(async () => {
    ca = createTestCa("sfb-redis-cluster-ca");
    // As a managed service's nodes: certificates name the host, not its address.
    const server = ca.server("DNS:localhost");
    // The cluster bus is TLS too, and a node's outgoing bus connection presents a client certificate.
    const bus = ca.client("redis-node");
    const tlsCluster = [
      ...CLUSTER_CONFIG,
      `tls-cert-file ${server.certFile}`,
      `tls-key-file ${server.keyFile}`,
      `tls-ca-cert-file ${ca.certFile}`,
      `tls-client-cert-file ${bus.certFile}`,
      `tls-client-key-file ${bus.keyFile}`,
      "tls-auth-clients no",
      "tls-cluster yes",
      "tls-replication yes",
      // The nodes announce their host name, which their certificate names.
      "cluster-announce-hostname localhost",
      "cluster-preferred-endpoint-type hostname",
    ];
    nodeA = await startRedis({ tls: true, password: CLUSTER_PASSWORD, extraConfig: tlsCluster });
    nodeB = await startRedis({ tls: true, password: CLUSTER_PASSWORD, extraConfig: tlsCluster });
    adminA = new Redis(nodeA.port, "127.0.0.1", { password: CLUSTER_PASSWORD });
    adminB = new Redis(nodeB.port, "127.0.0.1", { password: CLUSTER_PASSWORD });
    await adminA.call("CLUSTER", "ADDSLOTSRANGE", "0", "8191");
    await adminB.call("CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
    // With tls-cluster the bus listens at the TLS port + 10000.
    await adminA.call("CLUSTER", "MEET", "127.0.0.1", String(nodeB.tlsPort));
    const deadline = Date.now() + 20_000;
    for (const admin of [adminA, adminB]) {
      while (!/cluster_state:ok/.test(String(await admin.call("CLUSTER", "INFO")))) {
        if (Date.now() > deadline) throw new Error("the TLS cluster did not come up in 20 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  afterAll(async () => {
    adminA?.disconnect();
    adminB?.disconnect();
    await nodeA?.destroy();
    await nodeB?.destroy();
    ca?.destroy();
  });
  const url = () => `rediss+cluster://localhost:${nodeA.tlsPort}`;
  /** Two streams of one slot that node B serves. */
  const streamsOfB = async (): Promise<string[]> => {
    for (let i = 0; ; i++) {
      const name = `{tls${i}}:line`;
      if (Number(await adminA.call("CLUSTER", "KEYSLOT", name)) >= 8192) return [name, `{tls${i}}:other`];
    }
  };

  it("reads, over TLS to every node, streams the node it was given does not serve", async () => {
    const streams = await streamsOfB();
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(url(), {
      streams,
      password: CLUSTER_PASSWORD,
      tls: { ca: ca.cert },
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    await src.start(sink);
    try {
      for (const stream of streams) await adminB.xadd(stream, "*", "payload", `tls-${stream}`);
      await expect
        .poll(() => new Set(sink.committed.map(intakeText)), { timeout: 10_000 })
        .toEqual(new Set(streams.map((s) => `tls-${s}`)));
      await expect.poll(() => pendingIn(adminB, streams[0] as string)).toBe(0);
      expect(logs.filter((l) => l.startsWith("error"))).toEqual([]);
    } finally {
      await src.stop();
    }
  });

  it("names backbone_ca when no CA given signed the nodes' certificates", async () => {
    const rogue = createTestCa("sfb-rogue-ca");
    try {
      const err = await refusal(
        source(url(), { streams: await streamsOfB(), password: CLUSTER_PASSWORD, tls: { ca: rogue.cert } }),
      );
      expect(err.field).toBe("backbone_ca");
    } finally {
      rogue.destroy();
    }
  });

  it("names backbone_password when the nodes refuse the password, or want one and none is set", async () => {
    const wrong = await refusal(
      source(url(), { streams: await streamsOfB(), password: "not-it", tls: { ca: ca.cert } }),
    );
    expect(wrong.field).toBe("backbone_password");
    expect(wrong.message).toMatch(/refused the login \(WRONGPASS/);
    const none = await refusal(source(url(), { streams: await streamsOfB(), tls: { ca: ca.cert } }));
    expect(none.field).toBe("backbone_password");
    expect(none.message).toMatch(/refused the login \(NOAUTH/);
  });

  it("redis+cluster:// on the nodes' TLS ports, rediss+cluster:// on their plain ones: backbone_url says which they speak", async () => {
    const streams = await streamsOfB();
    const plainOnTls = await refusal(
      source(`redis+cluster://127.0.0.1:${nodeA.tlsPort}`, { streams, password: CLUSTER_PASSWORD }),
    );
    expect(plainOnTls.field).toBe("backbone_url");
    expect(plainOnTls.message).toMatch(
      /speaks TLS, and backbone_url is plain redis\+cluster:\/\/: use rediss\+cluster:\/\//,
    );
    const tlsOnPlain = await refusal(
      source(`rediss+cluster://localhost:${nodeA.port}`, { streams, password: CLUSTER_PASSWORD, tls: { ca: ca.cert } }),
    );
    expect(tlsOnPlain.field).toBe("backbone_url");
    expect(tlsOnPlain.message).toMatch(/speaks plain Redis, without TLS, and backbone_url is rediss\+cluster:\/\//);
  });
});

describe("RedisStreamSource through Redis Sentinel (redis+sentinel://)", () => {
  let primary: RedisBroker;
  let replica: RedisBroker;
  let sentinel: RedisSentinel;
  const NAME = "sfb-primary";
  const sentinelUrl = (name = NAME) => `redis+sentinel://127.0.0.1:${sentinel.port}/${name}`;
  const primaryPort = () => primaryPortVia(sentinel, NAME);

  beforeAll(async () => {
    [primary, replica] = await primaryWithReplica();
    sentinel = await startSentinel(NAME, primary.port);
  });
  afterAll(async () => {
    await sentinel?.destroy();
    await replica?.destroy();
    await primary?.destroy();
  });

  it("names backbone_url when the sentinels know no primary of that name", async () => {
    const err = await refusal(source(sentinelUrl("no-such-primary"), { streams: ["sentinel-s"] }));
    expect(err.field).toBe("backbone_url");
    expect(err.message).toMatch(/know no primary named "no-such-primary"/);
  });

  it("starts while no sentinel answers, says so, and stops in bounded time", async () => {
    const logs: string[] = [];
    const src = source(`redis+sentinel://127.0.0.1:1/${NAME}`, { streams: ["s"], log: (_l, m) => logs.push(m) });
    await src.start(new RecordingSink());
    const started = Date.now();
    try {
      expect(logs.join("\n")).toMatch(/not reachable yet \(All sentinels are unreachable/);
      expect(src.stats().connected).toBe(0);
    } finally {
      await src.stop();
    }
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it("follows a failover the sentinels are asked for (SENTINEL FAILOVER) to the primary they name next", async () => {
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(sentinelUrl(), {
      streams: ["sentinel-switch"],
      reconnect: { baseMs: 100, maxMs: 500 },
      log: (_l, m) => logs.push(m),
    });
    await src.start(sink);
    const before = new Redis(primary.url);
    try {
      await before.xadd("sentinel-switch", "*", "payload", "on-the-first");
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(1);
      expect(Number(await before.call("WAIT", "1", "5000"))).toBe(1);
      const asked = new Redis(sentinel.port, "127.0.0.1");
      await asked.call("SENTINEL", "FAILOVER", NAME);
      asked.disconnect();
      await expect.poll(primaryPort, { timeout: 30_000, interval: 250 }).toBe(replica.port);
      const promoted = new Redis(replica.url);
      try {
        await writeUntilRead(promoted, "sentinel-switch", "on-the-second", sink, 20_000);
      } finally {
        promoted.disconnect();
      }
      // The old primary is a replica now, alive: nothing reads from it any more.
      expect(await before.call("ROLE").then((role) => (role as string[])[0])).toBe("slave");
    } finally {
      before.disconnect();
      await src.stop();
    }
  });

  it("reads from the primary the sentinels name, and after a failover from the replica they promote", async () => {
    // The previous test swapped the roles: whichever is primary now is killed.
    const [live, standby] = (await primaryPort()) === primary.port ? [primary, replica] : [replica, primary];
    await untilInSync(standby);
    const sink = new RecordingSink();
    const src = source(sentinelUrl(), { streams: ["sentinel-line"], reconnect: { baseMs: 100, maxMs: 500 } });
    await src.start(sink);
    const first = new Redis(live.url);
    try {
      for (let i = 0; i < 50; i++) await first.xadd("sentinel-line", "*", "payload", `before-${i}`);
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(50);
      // The entries and the group's acknowledgements on the replica before the primary dies.
      expect(Number(await first.call("WAIT", "1", "5000"))).toBe(1);
      first.disconnect();
      await live.stop("SIGKILL");
      await expect.poll(primaryPort, { timeout: 30_000, interval: 250 }).toBe(standby.port);
      const promoted = new Redis(standby.url);
      try {
        // Written by redis-py through the same sentinel: it finds the promoted primary by itself.
        const run = await runPeer(
          "redis_xadd.py",
          [sentinelUrl(), "sentinel-line"],
          Array.from({ length: 50 }, (_, i) => ({ fields: [["payload", `after-${i}`]] })),
        );
        expect(run.code, run.stderr.slice(-2_000)).toBe(0);
        expect(await promoted.xlen("sentinel-line")).toBe(100);
        await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 30_000 }).toBe(100);
        await expect
          .poll(() => pendingIn(promoted, "sentinel-line"), {
            timeout: 10_000,
          })
          .toBe(0);
      } finally {
        promoted.disconnect();
      }
      expect(src.stats().reconnects).toBeGreaterThan(0);
      expect(src.stats().connected).toBe(1);
    } finally {
      first.disconnect();
      await src.stop();
    }
  });
});

describe("RedisStreamSource through Redis Sentinel over TLS (rediss+sentinel://)", () => {
  const NAME = "plant-tls";
  let ca: TestCa;
  let primary: RedisBroker;
  let replica: RedisBroker;
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    ca = createTestCa("sfb-redis-sentinel-ca");
    const server = ca.server();
    const peer = ca.client("redis-peer");
    const tls = [
      `tls-cert-file ${server.certFile}`,
      `tls-key-file ${server.keyFile}`,
      `tls-ca-cert-file ${ca.certFile}`,
      `tls-client-cert-file ${peer.certFile}`,
      `tls-client-key-file ${peer.keyFile}`,
      "tls-auth-clients no",
      "tls-replication yes",
      "repl-diskless-sync-delay 0",
    ];
    primary = await startRedis({ tls: true, extraConfig: tls });
    replica = await startRedis({ tls: true, extraConfig: [...tls, `replicaof 127.0.0.1 ${primary.tlsPort}`] });
    // The sentinel watches the TLS ports over TLS and answers clients on a TLS port of its own.
    sentinel = await startSentinel(NAME, primary.tlsPort as number, {
      tls: {
        caFile: ca.certFile,
        certFile: server.certFile,
        keyFile: server.keyFile,
        clientCertFile: peer.certFile,
        clientKeyFile: peer.keyFile,
      },
    });
    // The sentinel knows the replica (from the primary's INFO) before a test kills the primary.
    const asked = new Redis(sentinel.port, "127.0.0.1");
    try {
      const deadline = Date.now() + 20_000;
      while (((await asked.call("SENTINEL", "REPLICAS", NAME)) as unknown[]).length < 1) {
        if (Date.now() > deadline) throw new Error("the sentinel did not learn of the replica in 20 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      asked.disconnect();
    }
  });
  afterAll(async () => {
    await sentinel?.destroy();
    await replica?.destroy();
    await primary?.destroy();
    ca?.destroy();
  });
  const url = () => `rediss+sentinel://localhost:${sentinel.tlsPort}/${NAME}`;

  it("reads over TLS from the primary the sentinels name, and after its death from the replica they promote", async () => {
    const sink = new RecordingSink();
    const logs: string[] = [];
    const src = source(url(), {
      streams: ["tls-sentinel-line"],
      tls: { ca: ca.cert },
      reconnect: { baseMs: 100, maxMs: 500 },
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    await src.start(sink);
    const first = new Redis(primary.url);
    try {
      for (let i = 0; i < 20; i++) await first.xadd("tls-sentinel-line", "*", "payload", `before-${i}`);
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(20);
      expect(Number(await first.call("WAIT", "1", "5000"))).toBe(1);
      first.disconnect();
      await primary.stop("SIGKILL");
      const promoted = new Redis(replica.url);
      try {
        await expect
          .poll(async () => ((await promoted.call("ROLE")) as string[])[0], { timeout: 30_000, interval: 250 })
          .toBe("master");
        await writeUntilRead(promoted, "tls-sentinel-line", "after", sink, 30_000);
        await expect
          .poll(() => pendingIn(promoted, "tls-sentinel-line"), {
            timeout: 10_000,
          })
          .toBe(0);
      } finally {
        promoted.disconnect();
      }
      const texts = sink.committed.map(intakeText);
      expect(new Set(texts)).toEqual(new Set([...Array.from({ length: 20 }, (_, i) => `before-${i}`), "after"]));
      expect(logs.filter((l) => /certificate|TLS|backbone_ca/.test(l))).toEqual([]);
    } finally {
      first.disconnect();
      await src.stop();
    }
  });

  it("names backbone_ca when no CA given signed the sentinels' certificate", async () => {
    const rogue = createTestCa("sfb-rogue-sentinel-ca");
    try {
      const err = await refusal(source(url(), { streams: ["tls-sentinel-rogue"], tls: { ca: rogue.cert } }));
      expect(err.field).toBe("backbone_ca");
    } finally {
      rogue.destroy();
    }
  });

  it("redis+sentinel:// on the sentinel's TLS port: backbone_url says it speaks TLS", async () => {
    const err = await refusal(
      source(`redis+sentinel://127.0.0.1:${sentinel.tlsPort}/${NAME}`, { streams: ["tls-sentinel-mixup"] }),
    );
    expect(err.field).toBe("backbone_url");
    expect(err.message).toMatch(
      /speaks TLS, and backbone_url is plain redis\+sentinel:\/\/: use rediss\+sentinel:\/\//,
    );
  });
});

describe("RedisStreamSource behind sentinels with a password of their own", () => {
  const NAME = "plant-auth";
  const PASSWORD = "primary-s3cret";
  let primary: RedisBroker;
  /** requirepass set to the primary's password, as Bitnami's chart does. */
  let locked: RedisSentinel;
  /** No requirepass: clients ask it without a password. */
  let open: RedisSentinel;
  let writer: Redis;
  beforeAll(async () => {
    primary = await startRedis({ password: PASSWORD, extraConfig: [`user sidecar on >${PASSWORD} ~* +@all`] });
    locked = await startSentinel(NAME, primary.port, { requirepass: PASSWORD, authPass: PASSWORD });
    open = await startSentinel(NAME, primary.port, { authPass: PASSWORD });
    writer = new Redis({ port: primary.port, host: "127.0.0.1", password: PASSWORD });
  });
  afterAll(async () => {
    writer?.disconnect();
    await open?.destroy();
    await locked?.destroy();
    await primary?.destroy();
  });
  const via = (s: RedisSentinel) => `redis+sentinel://127.0.0.1:${s.port}/${NAME}`;

  it("gives sentinels that ask for one the connection's password, with its user or as the default user", async () => {
    for (const [consumer, login] of [
      ["pw-only", { password: PASSWORD }],
      // The sentinels know no user "sidecar": the password alone, as their default user's.
      ["acl-user", { username: "sidecar", password: PASSWORD }],
    ] as const) {
      const stream = `auth-${consumer}`;
      const sink = new RecordingSink();
      const logs: string[] = [];
      const src = source(via(locked), { streams: [stream], consumer, ...login, log: (l, m) => logs.push(`${l} ${m}`) });
      await src.start(sink);
      try {
        await writer.xadd(stream, "*", "payload", `through-${consumer}`);
        await expect.poll(() => sink.committed.map(intakeText), { timeout: 10_000 }).toEqual([`through-${consumer}`]);
        // Nothing refused or retried (the stream is new: that it was created is said, and fine).
        expect(
          logs.filter((l) => /NOAUTH|WRONGPASS|refused|not reachable|failed/.test(l)),
          consumer,
        ).toEqual([]);
      } finally {
        await src.stop();
      }
    }
  });

  it("names backbone_password when the sentinels ask for a password and none is set, or refuse the one given", async () => {
    const none = await refusal(source(via(locked), { streams: ["auth-none"] }));
    expect(none.field).toBe("backbone_password");
    expect(none.message).toMatch(/ask for a password \(requirepass in sentinel\.conf\) and backbone_password is empty/);
    const wrong = await refusal(source(via(locked), { streams: ["auth-wrong"], password: "not-it" }));
    expect(wrong.field).toBe("backbone_password");
    expect(wrong.message).toMatch(/refused the connection's password \(WRONGPASS/);
  });

  it("asks sentinels that want no password without one: the client warns of nothing", async () => {
    const warned: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warned.push(args);
    const sink = new RecordingSink();
    const src = source(via(open), { streams: ["auth-open"], consumer: "open", password: PASSWORD });
    try {
      await src.start(sink);
      await writer.xadd("auth-open", "*", "payload", "through-open");
      await expect.poll(() => sink.committed.map(intakeText), { timeout: 10_000 }).toEqual(["through-open"]);
    } finally {
      await src.stop();
      console.warn = warn;
    }
    expect(warned).toEqual([]);
  });
});

describe("RedisStreamSource through Redis Sentinel when a server stops answering (frozen with SIGSTOP)", () => {
  // A frozen host or VM, or a network that drops packets: the port stays open (the kernel
  // still accepts and acknowledges), nothing is refused or reset, and nothing is answered.
  const NAME = "plant-frozen";
  let primary: RedisBroker;
  let replica: RedisBroker;
  let sentinel: RedisSentinel;
  let frozenSentinel: RedisSentinel;
  const primaryPort = () => primaryPortVia(sentinel, NAME);
  beforeAll(async () => {
    [primary, replica] = await primaryWithReplica();
    sentinel = await startSentinel(NAME, primary.port);
    frozenSentinel = await startSentinel(NAME, primary.port);
  });
  afterAll(async () => {
    await frozenSentinel?.destroy();
    await sentinel?.destroy();
    await replica?.destroy();
    await primary?.destroy();
  });

  it("starts and reads through the next sentinel when the first one listed answers nothing", async () => {
    frozenSentinel.freeze();
    const sink = new RecordingSink();
    const src = source(`redis+sentinel://127.0.0.1:${frozenSentinel.port},127.0.0.1:${sentinel.port}/${NAME}`, {
      streams: ["frozen-sentinel"],
      answerMs: 1_000,
    });
    const writer = new Redis(primary.url);
    try {
      const started = Date.now();
      await src.start(sink);
      expect(src.stats().connected).toBe(1);
      // Not for ever, nor 3 s longer: the password question goes to all sentinels at once
      // (asked one after the other, this start took 8 s); each connection passes it by in 1 s (answerMs).
      expect(Date.now() - started).toBeLessThan(6_000);
      await writer.xadd("frozen-sentinel", "*", "payload", "past-the-frozen-sentinel");
      await expect
        .poll(() => sink.committed.map(intakeText), { timeout: 10_000 })
        .toEqual(["past-the-frozen-sentinel"]);
    } finally {
      writer.disconnect();
      await src.stop();
      frozenSentinel.thaw();
    }
  });

  it("leaves a frozen primary once the sentinels promote its replica, and reads every entry once", async () => {
    await untilInSync(replica);
    const sink = new RecordingSink();
    const logs: string[] = [];
    const src = source(`redis+sentinel://127.0.0.1:${sentinel.port}/${NAME}`, {
      streams: ["frozen-primary"],
      answerMs: 1_000,
      reconnect: { baseMs: 100, maxMs: 500 },
      log: (_l, m) => logs.push(m),
    });
    await src.start(sink);
    const first = new Redis(primary.url);
    try {
      for (let i = 0; i < 20; i++) await first.xadd("frozen-primary", "*", "payload", `before-${i}`);
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(20);
      expect(Number(await first.call("WAIT", "1", "5000"))).toBe(1);
      first.disconnect();
      primary.freeze();
      await expect.poll(primaryPort, { timeout: 30_000, interval: 250 }).toBe(replica.port);
      const promoted = new Redis(replica.url);
      try {
        for (let i = 0; i < 20; i++) await promoted.xadd("frozen-primary", "*", "payload", `after-${i}`);
        await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 30_000 }).toBe(40);
        expect(sink.committed).toHaveLength(40);
        await expect
          .poll(() => pendingIn(promoted, "frozen-primary"), {
            timeout: 10_000,
          })
          .toBe(0);
      } finally {
        promoted.disconnect();
      }
      expect(logs.join("\n")).toMatch(/answered nothing for 1200 ms/);
      expect(src.stats().connected).toBe(1);
    } finally {
      first.disconnect();
      await src.stop();
      primary.thaw();
    }
  });
});
