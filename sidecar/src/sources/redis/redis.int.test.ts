import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa } from "../../../devstack/mqtt-pki.ts";
import { runPeer } from "../../../devstack/python-peers.ts";
import { type RedisBroker, startRedis } from "../../../devstack/redis.ts";
import { intakeText, RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { RedisStreamSource, type RedisStreamSourceOptions } from "./source.ts";

let broker: RedisBroker;
let producer: Redis;
beforeAll(async () => {
  broker = await startRedis();
  producer = new Redis(broker.url, { maxRetriesPerRequest: null });
  // The restart test kills the broker under it: it reconnects by itself.
  producer.on("error", () => {});
});
afterAll(async () => {
  producer?.disconnect();
  await broker?.destroy();
});

let streamSeq = 0;
const freshStream = () => `sfb:test:${process.pid}:${++streamSeq}`;

function source(overrides: Partial<RedisStreamSourceOptions> & { streams: string[] }): RedisStreamSource {
  return new RedisStreamSource({
    connection: "TEST",
    url: broker.url,
    group: "sidecars",
    consumer: "sidecar-a",
    blockMs: 200,
    claimIdleMs: 60_000,
    reconnect: { baseMs: 50, maxMs: 500 },
    ...overrides,
  });
}

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  specversion: "1.0",
  id,
  source: "line1/press3",
  type: "production.reported",
  time: "2026-01-01T00:00:00Z",
  data: { qty: 1 },
  ...extra,
});

async function pendingCount(stream: string, group = "sidecars"): Promise<number> {
  const summary = (await producer.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}

describe("RedisStreamSource on redis-server 7", () => {
  const contractStream = freshStream();
  sourceContract(
    "RedisStreamSource",
    async () => source({ streams: [contractStream] }),
    async (marker) => {
      await producer.xadd(contractStream, "*", "payload", marker);
    },
    { redeliversUncommitted: true },
  );

  it("hands entries over as raw intakes from their stream, other fields as headers", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    const src = source({ streams: [stream] });
    await src.start(sink);
    try {
      await producer.xadd(stream, "*", "payload", '{"count":3}', "line", "L1");
      await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(1);
      expect(sink.committed[0]).toMatchObject({
        kind: "raw",
        origin: stream,
        via: { transport: "redis", headers: { line: "L1" } },
      });
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(1);
      expect(await pendingCount(stream)).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("reads structured, binary (ce_ fields) and batched CloudEvents, and an entry of fields alone as their object", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    const src = source({ streams: [stream] });
    await src.start(sink);
    try {
      await producer.xadd(stream, "*", "payload", JSON.stringify(event("s-1")));
      await producer.xadd(
        stream,
        "*",
        "payload",
        '{"qty": 2.50}',
        "ce_specversion",
        "1.0",
        "ce_id",
        "b-1 %41",
        "ce_source",
        "line1/press3",
        "ce_type",
        "production.reported",
        "ce_time",
        "2026-01-01T00:00:00Z",
      );
      await producer.xadd(
        stream,
        "*",
        "content-type",
        "application/cloudevents-batch+json",
        "payload",
        JSON.stringify([event("batch-1"), event("batch-2")]),
      );
      await producer.xadd(stream, "*", "temp", "21.5", "state", "RUN");
      await producer.xadd(stream, "*", "content-type", "application/cloudevents+json", "data", "no payload here");
      await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(6);
      const texts = sink.committed.map(intakeText);
      expect(JSON.parse(texts[0] as string).id).toBe("s-1");
      // Binary mode: attributes verbatim (no percent-decoding), data spliced in as sent.
      expect(texts[1]).toBe(
        '{"specversion":"1.0","id":"b-1 %41","source":"line1/press3","type":"production.reported",' +
          '"time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{"qty": 2.50}}',
      );
      expect(texts.slice(2, 4).map((t) => JSON.parse(t).id)).toEqual(["batch-1", "batch-2"]);
      expect(sink.committed[4]).toMatchObject({ kind: "raw", origin: stream });
      expect(texts[4]).toBe('{"temp":"21.5","state":"RUN"}');
      const rejected = sink.committed[5];
      expect(rejected?.kind).toBe("rejected");
      expect(rejected?.kind === "rejected" && rejected.reason).toMatch(
        /names a CloudEvent but the entry has no "payload"/,
      );
      expect(texts[5]).toContain("no payload here");
      expect(src.stats().rejected_at_source).toBe(1);
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(5);
    } finally {
      await src.stop();
    }
  });

  it("acknowledges only after the commit: a blocked sink leaves entries pending, another consumer claims them", async () => {
    const stream = freshStream();
    const first = new RecordingSink();
    first.block();
    const dying = source({ streams: [stream], consumer: "dies" });
    await dying.start(first);
    for (let i = 0; i < 5; i++) await producer.xadd(stream, "*", "payload", `claim-${i}`);
    await expect.poll(() => first.acceptingItems, { timeout: 5_000 }).toBe(5);
    expect(await pendingCount(stream)).toBe(5);
    expect(dying.stats().acked).toBe(0);
    await dying.abort();
    // Another sidecar of the group, with a short claim_idle_ms, takes them over.
    const second = new RecordingSink();
    const survivor = source({ streams: [stream], consumer: "survives", claimIdleMs: 300 });
    await survivor.start(second);
    try {
      await expect.poll(() => second.committed.length, { timeout: 10_000 }).toBe(5);
      expect(second.committed.map(intakeText).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `claim-${i}`));
      expect(survivor.stats().claimed).toBe(5);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      first.release();
      await survivor.stop();
    }
  });

  it("keeps its own entries waiting on a slow spool from being claimed by another live consumer", async () => {
    const stream = freshStream();
    const slow = new RecordingSink();
    slow.block();
    const first = source({ streams: [stream], consumer: "slow-but-alive", claimIdleMs: 1_000 });
    await first.start(slow);
    const other = new RecordingSink();
    const second = source({ streams: [stream], consumer: "other", claimIdleMs: 1_000 });
    try {
      for (let i = 0; i < 5; i++) await producer.xadd(stream, "*", "payload", `alive-${i}`);
      await expect.poll(() => slow.acceptingItems, { timeout: 5_000 }).toBe(5);
      await second.start(other);
      // Three claim periods of the other consumer: the entries never sit idle for 1 s.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(other.committed).toHaveLength(0);
      expect(second.stats().claimed).toBe(0);
      expect(first.stats().kept_alive).toBeGreaterThan(0);
      slow.release();
      await expect.poll(() => slow.committed.length, { timeout: 5_000 }).toBe(5);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      slow.release();
      await first.stop();
      await second.stop();
    }
  });

  it("never holds more than prefetch entries unacknowledged (backpressure)", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    sink.block();
    const src = source({ streams: [stream], prefetch: 10, claimIdleMs: 500 });
    await src.start(sink);
    try {
      for (let i = 0; i < 100; i++) await producer.xadd(stream, "*", "payload", `bp-${i}`);
      await expect.poll(() => sink.acceptingItems, { timeout: 5_000 }).toBe(10);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.acceptingItems).toBe(10);
      expect(await pendingCount(stream)).toBe(10);
      // The backlog the stream keeps shows as the group's lag (XINFO GROUPS).
      await expect.poll(() => src.stats().lag, { timeout: 5_000 }).toBe(90);
      expect(src.stats().pending).toBe(10);
      sink.release();
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(100);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      sink.release();
      await src.stop();
    }
  });

  it("counts and logs entries trimmed away while pending as lost at the broker", async () => {
    const stream = freshStream();
    const logs: string[] = [];
    const blocked = new RecordingSink();
    blocked.block();
    const dying = source({ streams: [stream], consumer: "trim-dies" });
    await dying.start(blocked);
    for (let i = 0; i < 3; i++) await producer.xadd(stream, "*", "payload", `trim-${i}`);
    await expect.poll(() => blocked.acceptingItems, { timeout: 5_000 }).toBe(3);
    await dying.abort();
    await producer.xtrim(stream, "MAXLEN", 1);
    // All three still pending under the dead consumer (the PEL outlives the trim): only the survivor may find them gone.
    const pel = (await producer.xpending(stream, "sidecars", "-", "+", 10)) as [string, string][];
    expect(pel.map(([, consumer]) => consumer)).toEqual(["trim-dies", "trim-dies", "trim-dies"]);
    const sink = new RecordingSink();
    const survivor = source({
      streams: [stream],
      consumer: "trim-survives",
      claimIdleMs: 200,
      log: (_level, message) => logs.push(message),
    });
    await survivor.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(1);
      expect(intakeText(sink.committed[0] as never)).toBe("trim-2");
      await expect.poll(() => survivor.stats().lost_at_broker, { timeout: 5_000 }).toBe(2);
      expect(logs.some((l) => /trimmed before being acknowledged/.test(l))).toBe(true);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      blocked.release();
      await survivor.stop();
    }
  });

  it("survives a broker restart while consuming: nothing lost, reconnects counted", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    const src = source({ streams: [stream], prefetch: 50 });
    await src.start(sink);
    try {
      for (let i = 0; i < 200; i++) await producer.xadd(stream, "*", "payload", `r-${i}`);
      // AOF everysec: wait past one fsync so the entries survive the kill.
      await new Promise((r) => setTimeout(r, 1_500));
      await broker.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 300));
      await broker.start();
      for (let i = 200; i < 300; i++) await producer.xadd(stream, "*", "payload", `r-${i}`);
      await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 20_000 }).toBe(300);
      expect(src.stats().reconnects).toBeGreaterThan(0);
      await expect.poll(() => src.stats().connected, { timeout: 5_000 }).toBe(1);
      await expect.poll(() => pendingCount(stream), { timeout: 10_000 }).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("stops in bounded time while the broker is down", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    const src = source({ streams: [stream] });
    await src.start(sink);
    await producer.xadd(stream, "*", "payload", "before-the-outage");
    await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(1);
    await broker.stop("SIGKILL");
    try {
      await expect.poll(() => src.stats().connected, { timeout: 5_000 }).toBe(0);
      const started = Date.now();
      await src.stop();
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      await broker.start();
    }
  });

  it("takes a server that stops answering (frozen with SIGSTOP) for gone, and reads on once it answers", async () => {
    const stream = freshStream();
    const sink = new RecordingSink();
    const logs: string[] = [];
    const src = source({ streams: [stream], answerMs: 1_000, log: (_l, m) => logs.push(m) });
    await src.start(sink);
    try {
      await producer.xadd(stream, "*", "payload", "before-the-freeze");
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(1);
      // Its port stays open and the kernel acknowledges what is sent: only the silence tells.
      broker.freeze();
      try {
        await expect.poll(() => src.stats().connected, { timeout: 5_000 }).toBe(0);
        expect(logs.join("\n")).toMatch(/answered nothing for 1200 ms/);
      } finally {
        broker.thaw();
      }
      await producer.xadd(stream, "*", "payload", "after-the-thaw");
      await expect
        .poll(() => sink.committed.map(intakeText), { timeout: 10_000 })
        .toEqual(["before-the-freeze", "after-the-thaw"]);
      await expect.poll(() => src.stats().connected, { timeout: 5_000 }).toBe(1);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("starts while the server answers nothing (frozen), says so, and reads once it answers", async () => {
    const stream = freshStream();
    await producer.xadd(stream, "*", "payload", "waiting-before-the-start");
    const sink = new RecordingSink();
    const logs: string[] = [];
    const src = source({ streams: [stream], answerMs: 1_000, log: (_l, m) => logs.push(m) });
    broker.freeze();
    try {
      const started = Date.now();
      await src.start(sink);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(src.stats().connected).toBe(0);
      expect(logs.join("\n")).toMatch(/not reachable yet \(answered nothing for 1200 ms/);
    } finally {
      broker.thaw();
    }
    try {
      await expect
        .poll(() => sink.committed.map(intakeText), { timeout: 15_000 })
        .toEqual(["waiting-before-the-start"]);
      await expect.poll(() => pendingCount(stream), { timeout: 5_000 }).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("hands each entry over once while the server drops its connections mid-flow (CLIENT KILL)", async () => {
    // Each drop makes the source read its own pending entries again while the last read's
    // entries commit: an entry acknowledged between the server answering that read and the
    // answer arriving must not come back as history.
    const stream = freshStream();
    const sink = new RecordingSink();
    const src = source({ streams: [stream], prefetch: 100, consumer: "killed-often" });
    await src.start(sink);
    const killer = new Redis(broker.url);
    try {
      for (let round = 0; round < 40; round++) {
        const batch = producer.pipeline();
        for (let i = 0; i < 25; i++) batch.xadd(stream, "*", "payload", `k-${round}-${i}`);
        await batch.exec();
        await new Promise((r) => setTimeout(r, 20 + (round % 5) * 10));
        // The source's two connections (named after its consumer): the producer is left alone.
        const clients = String(await killer.call("CLIENT", "LIST")).split("\n");
        for (const line of clients.filter((l) => / name=killed-often:/.test(l))) {
          await killer.call("CLIENT", "KILL", "ID", /\bid=(\d+)/.exec(line)?.[1] as string);
        }
      }
      await expect.poll(() => new Set(sink.committed.map(intakeText)).size, { timeout: 20_000 }).toBe(1_000);
      await expect.poll(() => pendingCount(stream), { timeout: 10_000 }).toBe(0);
      expect(sink.committed).toHaveLength(1_000);
    } finally {
      killer.disconnect();
      await src.stop();
    }
  });

  it("refused credentials, a non-stream key and a bad URL name the field to fix", async () => {
    const locked = await startRedis({ password: "right" });
    try {
      const wrong = new RedisStreamSource({
        connection: "T",
        url: locked.url,
        streams: ["s"],
        group: "g",
        consumer: "c",
        password: "wrong",
      });
      const refused = await wrong.start(new RecordingSink()).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(BackboneConfigError);
      expect((refused as BackboneConfigError).field).toBe("backbone_password");
      expect((refused as Error).message).toMatch(/refused the login \(WRONGPASS/);
    } finally {
      await locked.destroy();
    }
    const key = `sfb:test:list:${process.pid}`;
    await producer.rpush(key, "x");
    const wrongType = await source({ streams: [key] })
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((wrongType as BackboneConfigError).field).toBe("backbone_names");
    expect((wrongType as Error).message).toMatch(/holds a list, not a stream/);
    const badUrl = await source({ streams: ["s"], url: "http://127.0.0.1:1" })
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((badUrl as BackboneConfigError).field).toBe("backbone_url");
  });

  it("works as an ACL user with exactly the README's rule: reads, acks, claims, keeps its own entries", async () => {
    const readme = readFileSync(new URL("./README.md", import.meta.url), "utf8");
    const rule = /\*\*ACL user\*\* \(when used\): `([^`]+)`/.exec(readme.replace(/\s*\n\s*/g, " "))?.[1];
    expect(rule).toBeDefined();
    const acl = await startRedis({
      extraConfig: [
        `user sfb-sidecar on >acl-pw ${(rule as string).replace("~<stream keys>", "~plant:*")}`,
        "user default on nopass ~* &* +@all",
      ],
    });
    const admin = new Redis(acl.url);
    const logs: string[] = [];
    const as = (consumer: string, claimIdleMs: number) =>
      new RedisStreamSource({
        connection: "ACL",
        url: acl.url,
        streams: ["plant:line1"],
        group: "sidecars",
        consumer,
        username: "sfb-sidecar",
        password: "acl-pw",
        blockMs: 200,
        claimIdleMs,
        log: (level, message) => logs.push(`${level} ${message}`),
      });
    const slow = new RecordingSink();
    slow.block();
    const first = as("acl-first", 400);
    const sink = new RecordingSink();
    const second = as("acl-second", 400);
    try {
      await admin.xgroup("CREATE", "plant:line1", "sidecars", "0", "MKSTREAM");
      await first.start(slow);
      await admin.xadd("plant:line1", "*", "payload", "acl-0");
      // Its spool is slow: the first keeps its entry (XCLAIM … JUSTID) past claim_idle_ms.
      await expect.poll(() => first.stats().kept_alive, { timeout: 5_000 }).toBeGreaterThan(0);
      await first.abort();
      // Dead: the second takes the entry over (XAUTOCLAIM), commits and acknowledges it.
      await second.start(sink);
      await admin.xadd("plant:line1", "*", "payload", "acl-1");
      await expect.poll(() => sink.committed.map(intakeText).sort(), { timeout: 10_000 }).toEqual(["acl-0", "acl-1"]);
      await expect.poll(() => second.stats().acked, { timeout: 5_000 }).toBe(2);
      expect(second.stats().claimed).toBe(1);
      expect(logs.filter((l) => /^(warn|error)/.test(l))).toEqual([]);
    } finally {
      slow.release();
      await second.stop();
      admin.disconnect();
      await acl.destroy();
    }
  });

  it("reads what redis-py (Python's client) XADDs: structured and binary events, fields alone, bytes that are not UTF-8", async () => {
    const stream = freshStream();
    await producer.xgroup("CREATE", stream, "sidecars", "0", "MKSTREAM");
    const sink = new RecordingSink();
    const src = source({ streams: [stream] });
    await src.start(sink);
    try {
      const run = await runPeer(
        "redis_xadd.py",
        [broker.url, stream],
        [
          { fields: [["payload", JSON.stringify(event("py-s-1"))]] },
          {
            fields: [
              ["ce_specversion", "1.0"],
              ["ce_id", "py-b-1 ü"],
              ["ce_source", "line1/press3"],
              ["ce_type", "production.reported"],
              ["ce_time", "2026-01-01T00:00:00Z"],
              ["payload", '{"qty": 4}'],
            ],
          },
          {
            fields: [
              ["temp", "21.5"],
              ["state", "RUN"],
            ],
          },
          {
            fields: [
              ["payload", JSON.stringify(event("py-s-2"))],
              ["station", { hex: "ff00fe" }],
            ],
          },
        ],
      );
      expect(run.code, run.stderr.slice(-2_000)).toBe(0);
      const ids = run.stdout.trim().split("\n");
      expect(ids).toHaveLength(4);
      await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(4);
      const [structured, binary, fieldsAlone, notUtf8] = sink.committed;
      expect(JSON.parse(intakeText(structured as never)).id).toBe("py-s-1");
      // intakeText reads bytes as latin1: the event's JSON text is UTF-8.
      const binaryText = binary?.kind === "raw" ? Buffer.from(binary.payload).toString("utf8") : "";
      expect(JSON.parse(binaryText)).toMatchObject({ id: "py-b-1 ü", data: { qty: 4 } });
      expect(intakeText(fieldsAlone as never)).toBe('{"temp":"21.5","state":"RUN"}');
      // A field whose value is not UTF-8: stored in Odoo as rejected, every byte kept (base64), the reason said.
      expect(notUtf8?.kind).toBe("rejected");
      expect(notUtf8?.kind === "rejected" && notUtf8.reason).toMatch(
        new RegExp(`redis entry ${ids[3]} .*field "station": name or value is not UTF-8`),
      );
      expect(JSON.parse(intakeText(notUtf8 as never)).fields).toContainEqual(["station", "base64:/wD+"]);
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(4);
    } finally {
      await src.stop();
    }
  });

  it("says nothing of a claim round that an abort or a stop cuts short", async () => {
    // Regression: the ACL test's killed sidecar logged "claim round failed: Cannot read properties of
    // undefined (reading 'call')" — its round read the group's lag through the client abort() had dropped.
    const streams = Array.from({ length: 300 }, () => freshStream());
    for (const cut of ["abort", "stop"] as const) {
      const logs: string[] = [];
      const src = source({ streams, claimIdleMs: 60_000, log: (level, message) => logs.push(`${level} ${message}`) });
      await src.start(new RecordingSink());
      // The first round (XAUTOCLAIM and XINFO for each of 300 streams) is under way.
      await new Promise((r) => setTimeout(r, 15));
      if (cut === "abort") await src.abort();
      else await src.stop();
      await new Promise((r) => setTimeout(r, 500));
      expect(
        logs.filter((l) => /claim round/.test(l)),
        cut,
      ).toEqual([]);
    }
  });

  it("start's probe read takes nothing: entries waiting before the start are read once, as new", async () => {
    // Regression: the probe first read after 18446744073709551615-18446744073709551615, which
    // redis-server takes as `>`: it delivered the waiting entries, read again as redelivered.
    const stream = freshStream();
    await producer.xgroup("CREATE", stream, "sidecars", "0", "MKSTREAM");
    for (let i = 0; i < 3; i++) await producer.xadd(stream, "*", "payload", `waiting-${i}`);
    const sink = new RecordingSink();
    const src = source({ streams: [stream] });
    await src.start(sink);
    try {
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(3);
      expect(sink.committed.map(intakeText)).toEqual(["waiting-0", "waiting-1", "waiting-2"]);
      expect(src.stats()).toMatchObject({ received: 3, redelivered: 0 });
    } finally {
      await src.stop();
    }
  });

  it("creates a missing stream with the group and says so", async () => {
    const stream = freshStream();
    const logs: string[] = [];
    const src = source({ streams: [stream], log: (_level, message) => logs.push(message) });
    await src.start(new RecordingSink());
    try {
      expect(await producer.type(stream)).toBe("stream");
      expect(logs.some((l) => l.includes("did not exist") && l.includes("backbone_names"))).toBe(true);
    } finally {
      await src.stop();
    }
  });
});

describe("RedisStreamSource over TLS (rediss://, client certificates)", () => {
  const ca = createTestCa("redis-ca");
  const rogue = createTestCa("rogue-ca");
  let tlsBroker: RedisBroker;
  let tlsUrl: string;
  beforeAll(async () => {
    const server = ca.server();
    tlsBroker = await startRedis({
      tls: true,
      extraConfig: [
        `tls-cert-file ${server.certFile}`,
        `tls-key-file ${server.keyFile}`,
        `tls-ca-cert-file ${ca.certFile}`,
        "tls-auth-clients yes",
      ],
    });
    tlsUrl = `rediss://127.0.0.1:${tlsBroker.tlsPort}`;
  });
  afterAll(async () => {
    await tlsBroker?.destroy();
    ca.destroy();
    rogue.destroy();
  });

  const tlsSource = (tls: Record<string, unknown>) =>
    new RedisStreamSource({
      connection: "TLS",
      url: tlsUrl,
      streams: ["sfb:tls"],
      group: "g",
      consumer: "c",
      blockMs: 200,
      reconnect: { baseMs: 50, maxMs: 200 },
      tls,
    });

  it("consumes with the connection's CA and client certificate", async () => {
    const client = ca.client("sidecar");
    const src = tlsSource({ ca: ca.cert, client_cert: client.cert, client_key: client.key, reject_unauthorized: true });
    const sink = new RecordingSink();
    await src.start(sink);
    try {
      const plain = new Redis(tlsBroker.url);
      await plain.xadd("sfb:tls", "*", "payload", "over-tls");
      plain.disconnect();
      await expect.poll(() => sink.has("over-tls"), { timeout: 5_000 }).toBe(true);
    } finally {
      await src.stop();
    }
  });

  it("an untrusted server certificate names backbone_ca; a missing client certificate names backbone_client_cert", async () => {
    const client = ca.client("sidecar");
    const untrusted = await tlsSource({ ca: rogue.cert, client_cert: client.cert, client_key: client.key })
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((untrusted as BackboneConfigError).field).toBe("backbone_ca");
    expect((untrusted as Error).message).toMatch(/not signed by the CA in backbone_ca/);
    const noCert = await tlsSource({ ca: ca.cert })
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((noCert as BackboneConfigError).field).toBe("backbone_client_cert");
  });

  it("redis:// on the TLS port and rediss:// on the plain port: the port is asked what it speaks (backbone_url)", async () => {
    const source = (url: string, tls?: Record<string, unknown>) =>
      new RedisStreamSource({
        connection: "TLS",
        url,
        streams: ["s"],
        group: "g",
        consumer: "c",
        ...(tls ? { tls } : {}),
      });
    const plainOnTls = await source(`redis://127.0.0.1:${tlsBroker.tlsPort}`)
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((plainOnTls as BackboneConfigError).field).toBe("backbone_url");
    expect((plainOnTls as Error).message).toMatch(/speaks TLS, and backbone_url is plain redis:\/\/: use rediss:\/\//);
    // The TLS hello goes unanswered on a plain port: the start waits for the client's connect timeout first.
    const tlsOnPlain = await source(tlsBroker.url.replace("redis:", "rediss:"), { ca: ca.cert })
      .start(new RecordingSink())
      .catch((err: unknown) => err);
    expect((tlsOnPlain as BackboneConfigError).field).toBe("backbone_url");
    expect((tlsOnPlain as Error).message).toMatch(/speaks plain Redis, without TLS, and backbone_url is rediss:\/\//);
  });

  it("refuses certificates on a plain redis:// URL, naming backbone_tls", async () => {
    const wrong = new RedisStreamSource({
      connection: "TLS",
      url: tlsBroker.url,
      streams: ["s"],
      group: "g",
      consumer: "c",
      tls: { ca: ca.cert },
    });
    const err = await wrong.start(new RecordingSink()).catch((e: unknown) => e);
    expect((err as BackboneConfigError).field).toBe("backbone_tls");
  });
});
