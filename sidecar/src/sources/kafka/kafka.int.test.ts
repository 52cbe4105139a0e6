// The Kafka source against a real Apache Kafka broker (KRaft, devstack/kafka.ts):
// the shared source contract, the CloudEvents Kafka binding, offsets committed
// only after the spool commit, a broker restart, backpressure, a group of two
// members, and the errors an admin sees for bad settings.
import { spawn, spawnSync } from "node:child_process";
import { Admin, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KAFKA_LIB, type KafkaBroker, startKafka } from "../../../devstack/kafka.ts";
import { createTestCa, type TestCa } from "../../../devstack/mqtt-pki.ts";
import { runPeer } from "../../../devstack/python-peers.ts";
import { intakeText, RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { BackboneConfigError } from "./errors.ts";
import { KafkaSource, type KafkaSourceOptions, kafkaOptionsFromConfig } from "./source.ts";

let broker: KafkaBroker;
let producer: Producer<string, string, string, string>;
const SASL = { username: "sfb-sidecar", password: "s3cret-sasl" };

/** The error a source's start is refused with, a setting to fix (the source stopped after). */
async function refusal(src: KafkaSource): Promise<BackboneConfigError> {
  const err = await src.start(new RecordingSink()).then(
    () => undefined,
    (e: unknown) => e,
  );
  await src.stop();
  expect(err).toBeInstanceOf(BackboneConfigError);
  return err as BackboneConfigError;
}

/** Starts `src` and waits until a record holding `marker` is committed, then stops it. */
async function consumes(src: KafkaSource, marker: string): Promise<void> {
  const sink = new RecordingSink();
  await src.start(sink);
  try {
    await expect.poll(() => sink.has(marker), { timeout: 20_000 }).toBe(true);
  } finally {
    await src.stop();
  }
}

beforeAll(async () => {
  broker = await startKafka({ sasl: SASL });
  await broker.createTopics(
    [
      "contract",
      "binding",
      "pressure",
      "restart",
      "tx-own",
      "tx-in",
      "tx-out",
      "codecs",
      "nulls",
      "rdkafka",
      "rdkafka-tx",
      "rdkafka-bytes",
    ],
    1,
  );
  await broker.createTopics(["shared"], 4);
  producer = new Producer({
    clientId: "sfb-test-producer",
    bootstrapBrokers: [broker.url],
    serializers: {
      key: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
      value: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
      headerKey: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
      headerValue: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
    },
  });
});

afterAll(async () => {
  await producer?.close();
  await broker?.destroy();
});

function source(overrides: Partial<KafkaSourceOptions> & { topics: string[]; groupId: string }): KafkaSource {
  return new KafkaSource({
    brokers: [broker.url],
    clientId: `sfb-test-${overrides.groupId}`,
    sessionTimeoutMs: 6_000,
    backoff: { baseMs: 200, maxMs: 2_000 },
    ...overrides,
  });
}

async function send(topic: string, value: string, key = "WC-1", headers?: Record<string, string>) {
  await producer.send({
    messages: [{ topic, key, value, ...(headers ? { headers: new Map(Object.entries(headers)) } : {}) }],
  });
}

/** `lines` into `topic` by Kafka's own console producer (kafka-tools), with its `options`. */
function consoleProduce(topic: string, lines: string[], options: string[]): void {
  const produced = spawnSync(
    "java",
    [
      "-cp",
      `${KAFKA_LIB}/*`,
      "org.apache.kafka.tools.ConsoleProducer",
      "--bootstrap-server",
      broker.url,
      "--topic",
      topic,
      ...options,
    ],
    { input: `${lines.join("\n")}\n`, encoding: "utf8", timeout: 60_000 },
  );
  expect(produced.status, produced.stderr.slice(-1_000)).toBe(0);
}

describe("KafkaSource on Apache Kafka (KRaft)", () => {
  sourceContract(
    "KafkaSource",
    async () => source({ topics: ["contract"], groupId: "sfb-contract" }),
    async (marker) => send("contract", marker),
    { redeliversUncommitted: true, timeoutMs: 25_000 },
  );

  it("reads the CloudEvents Kafka binding: binary (ce_ headers), structured and batched; other bytes go as they came", async () => {
    const sink = new RecordingSink();
    const src = source({ topics: ["binding"], groupId: "sfb-binding" });
    await src.start(sink);
    try {
      await send("binding", '{"qty":5,"exact":1.10}', "WC-2", {
        ce_specversion: "1.0",
        ce_id: "bin-1",
        ce_source: "plant/line1",
        ce_type: "production.reported",
        ce_time: "2026-01-01T00:00:00Z",
        "content-type": "application/json",
        line: "L1",
      });
      await send("binding", JSON.stringify({ specversion: "1.0", id: "str-1" }), "WC-2", {
        "content-type": "application/cloudevents+json",
      });
      await send("binding", JSON.stringify([{ id: "batch-1" }, { id: "batch-2" }]), "WC-2", {
        "content-type": "application/cloudevents-batch+json",
      });
      await send("binding", "not json", "WC-2", { ce_specversion: "1.0", ce_id: "bad-1" });
      await send("binding", "plain bytes", "WC-2");
      await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBe(6);
      const [binary, structured, batch1, batch2, bad, plain] = sink.committed;
      expect(binary).toMatchObject({ kind: "raw", origin: "binding", via: { transport: "kafka" } });
      const event = JSON.parse(intakeText(binary as never));
      expect(event).toEqual({
        specversion: "1.0",
        id: "bin-1",
        source: "plant/line1",
        type: "production.reported",
        time: "2026-01-01T00:00:00Z",
        datacontenttype: "application/json",
        data: { qty: 5, exact: 1.1 },
      });
      // The data's own text, numbers exactly as sent.
      expect(intakeText(binary as never)).toContain('"data":{"qty":5,"exact":1.10}');
      expect(binary?.kind === "raw" && binary.via?.headers?.line).toBe("L1");
      expect(JSON.parse(intakeText(structured as never))).toEqual({ specversion: "1.0", id: "str-1" });
      expect(JSON.parse(intakeText(batch1 as never))).toEqual({ id: "batch-1" });
      expect(JSON.parse(intakeText(batch2 as never))).toEqual({ id: "batch-2" });
      expect(bad).toMatchObject({ kind: "rejected" });
      expect(bad?.kind === "rejected" && bad.reason).toMatch(/binary mode: .*not JSON/);
      expect(intakeText(plain as never)).toBe("plain bytes");
      expect(src.stats()).toMatchObject({ received: 5, committed: 5, rejected_at_source: 1, connected: 1 });
    } finally {
      await src.stop();
    }
  });

  it("reads what Kafka's own console producer compressed with gzip, snappy, lz4 and zstd", async () => {
    const codecs = ["gzip", "snappy", "lz4", "zstd"];
    for (const codec of codecs) {
      // Records alike enough to compress, in batches of many (the producer compresses a batch).
      const lines = Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({
          specversion: "1.0",
          id: `${codec}-${i}`,
          source: "press/7",
          type: "t",
          data: "ab".repeat(200),
        }),
      );
      consoleProduce("codecs", lines, ["--compression-codec", codec, "--producer-property", "linger.ms=50"]);
    }
    const sink = new RecordingSink();
    const src = source({ topics: ["codecs"], groupId: "sfb-codecs" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBe(160);
      const ids = sink.committed.map((i) => JSON.parse(intakeText(i)).id);
      expect(ids).toEqual(codecs.flatMap((codec) => Array.from({ length: 40 }, (_, i) => `${codec}-${i}`)));
      expect(src.stats()).toMatchObject({ rejected_at_source: 0 });
    } finally {
      await src.stop();
    }
  });

  /** `records` (rdkafka_produce.py's lines) into `topic` by librdkafka, with producer `config`. */
  async function rdkafkaProduce(topic: string, records: object[], config: string[]): Promise<void> {
    const run = await runPeer("rdkafka_produce.py", [broker.url, topic, ...config], records, 90_000);
    expect(run.code, run.stderr.slice(-2_000)).toBe(0);
  }

  it("keeps every byte of what librdkafka sent in headers: raw bytes for the mappings, a byte-order mark in an attribute", async () => {
    const uuid = "8f14e45fceea167a5a36dedd4bea2543";
    await rdkafkaProduce(
      "rdkafka-bytes",
      [
        {
          key: "WC-8",
          value: '{"temp": 21.5}',
          headers: [
            ["correlation-id", { hex: uuid }],
            ["label", "\ufeffPress 8"],
          ],
        },
        {
          key: "WC-8",
          value: "{}",
          headers: [
            ["ce_specversion", "1.0"],
            ["ce_id", "\ufeffrd-bom"],
            ["ce_source", "press/8"],
            ["ce_type", "t"],
          ],
        },
      ],
      [],
    );
    const sink = new RecordingSink();
    const src = source({ topics: ["rdkafka-bytes"], groupId: "sfb-rdkafka-bytes" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 30_000 }).toBe(2);
      const [mapped, binary] = sink.committed;
      expect(mapped?.kind === "raw" && mapped.via?.headers).toEqual({
        "correlation-id": `base64:${Buffer.from(uuid, "hex").toString("base64")}`,
        label: "\ufeffPress 8",
      });
      const event = binary?.kind === "raw" ? JSON.parse(Buffer.from(binary.payload).toString("utf8")) : undefined;
      expect(event?.id).toBe("\ufeffrd-bom");
    } finally {
      await src.stop();
    }
  });

  it("reads what librdkafka produced: idempotent batches in every codec, binary-mode headers, a null header", async () => {
    const codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    const event = (id: string) => ({ specversion: "1.0", id, source: "press/7", type: "t", data: "ab".repeat(200) });
    for (const codec of codecs) {
      const records: object[] = Array.from({ length: 30 }, (_, i) => ({
        key: "WC-7",
        value: JSON.stringify(event(`rd-${codec}-${i}`)),
      }));
      // Binary mode, with a header librdkafka sends without a value.
      records.push({
        key: "WC-7",
        value: '{"qty": 2.50}',
        headers: [
          ["ce_specversion", "1.0"],
          ["ce_id", `rd-${codec}-binary`],
          ["ce_source", "press/7"],
          ["ce_type", "t"],
          ["content-type", "application/json"],
          ["trace", null],
        ],
      });
      await rdkafkaProduce("rdkafka", records, [`compression.type=${codec}`]);
    }
    const sink = new RecordingSink();
    const src = source({ topics: ["rdkafka"], groupId: "sfb-rdkafka" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 30_000 }).toBe(codecs.length * 31);
      const texts = sink.committed.map(intakeText);
      expect(texts.map((t) => JSON.parse(t).id)).toEqual(
        codecs.flatMap((codec) => [...Array.from({ length: 30 }, (_, i) => `rd-${codec}-${i}`), `rd-${codec}-binary`]),
      );
      // The data exactly as sent; the header without a value carries no attribute.
      expect(texts[30]).toBe(
        '{"specversion":"1.0","id":"rd-none-binary","source":"press/7","type":"t","datacontenttype":"application/json","data":{"qty": 2.50}}',
      );
      const binary = sink.committed[30];
      expect(binary?.kind === "raw" && binary.via?.headers?.trace).toBe("");
      expect(src.stats()).toMatchObject({ rejected_at_source: 0 });
    } finally {
      await src.stop();
    }
  });

  it("skips what a librdkafka transactional producer aborted; reads what it committed, once", async () => {
    const lines = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) => ({
        key: `WC-${(from + k) % 3}`,
        value: JSON.stringify({ specversion: "1.0", id: `rtx-${from + k}`, source: "press/7", type: "t" }),
      }));
    await rdkafkaProduce(
      "rdkafka-tx",
      [
        { tx: "begin" },
        ...lines(0, 20),
        { tx: "commit" },
        { tx: "begin" },
        ...lines(20, 40),
        { tx: "abort" },
        { tx: "begin" },
        ...lines(40, 60),
        { tx: "abort" },
        { tx: "begin" },
        ...lines(60, 80),
        { tx: "commit" },
      ],
      ["transactional.id=sfb-rdkafka-tx", "compression.type=lz4"],
    );
    const sink = new RecordingSink();
    const src = source({ topics: ["rdkafka-tx"], groupId: "sfb-rdkafka-tx" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 30_000 }).toBe(40);
      const ids = sink.committed.map((i) => JSON.parse(intakeText(i)).id);
      expect(ids).toEqual([...lines(0, 20), ...lines(60, 80)].map((l) => JSON.parse(l.value).id));
      // Both aborted transactions come in one fetch. The client library drops the
      // producer's last aborted range itself (it keeps one per producer); the
      // first, 20 records, would have reached the spool without transactions.ts.
      expect(src.stats().aborted_skipped).toBe(20);
    } finally {
      await src.stop();
    }
  });

  it("takes null values and null header values from Kafka's own console producer, and goes on past them", async () => {
    // Header `nullhdr` and the value of the 2nd and 3rd records are null (null.marker); before, a
    // null header value threw in the binding and the source reconnected for ever on that record.
    const input = [
      'ce_specversion:1.0,ce_id:n1,ce_source:s,ce_type:t,nullhdr:NULL\tWC-9\t{"a":1}',
      "ce_specversion:1.0,ce_id:n2,ce_source:s,ce_type:t\tWC-9\tNULL",
      "nullhdr:NULL\tWC-9\tNULL",
      'ce_specversion:1.0,ce_id:n4,ce_source:s,ce_type:t\tWC-9\t{"a":4}',
    ];
    consoleProduce("nulls", input, [
      "--property",
      "parse.headers=true",
      "--property",
      "parse.key=true",
      "--property",
      "null.marker=NULL",
    ]);
    const sink = new RecordingSink();
    const src = source({ topics: ["nulls"], groupId: "sfb-nulls" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBe(4);
      const [first, tombstone, bare, last] = sink.committed;
      expect(JSON.parse(intakeText(first as never))).toMatchObject({ id: "n1", data: { a: 1 } });
      expect(first?.kind === "raw" && first.via?.headers?.nullhdr).toBe("");
      expect(JSON.parse(intakeText(tombstone as never))).toEqual({
        specversion: "1.0",
        id: "n2",
        source: "s",
        type: "t",
      });
      expect(intakeText(bare as never)).toBe("");
      expect(JSON.parse(intakeText(last as never))).toMatchObject({ id: "n4", data: { a: 4 } });
      expect(src.stats()).toMatchObject({ reconnects: 0, rejected_at_source: 0 });
    } finally {
      await src.stop();
    }
  });

  it("skips what one transactional producer aborted twice in a fetch and across fetches, as read_committed does", async () => {
    const serialize = (v?: string) => (v === undefined ? undefined : Buffer.from(v));
    const txProducer = new Producer({
      clientId: "sfb-test-tx",
      bootstrapBrokers: [broker.url],
      transactionalId: "sfb-test-tx",
      idempotent: true,
      serializers: { key: serialize, value: serialize, headerKey: serialize, headerValue: serialize },
    });
    // An aborted transaction larger than one fetch (~1.5 MB), then aborted and committed ones of
    // the same producer back to back: @platformatic/kafka 2.12 alone handed over 300 of them.
    const plan: [string, number][] = [
      ["aborted-a", 300],
      ["committed-a", 5],
      ["aborted-b", 3],
      ["committed-b", 5],
      ["aborted-c", 2],
    ];
    try {
      for (const [label, count] of plan) {
        const tx = await txProducer.beginTransaction();
        for (let i = 0; i < count; i += 50) {
          const messages = Array.from({ length: Math.min(50, count - i) }, (_, j) => ({
            topic: "tx-own",
            key: "WC-7",
            value: JSON.stringify({ id: `${label}-${i + j}`, pad: "x".repeat(5_000) }),
          }));
          await tx.send({ messages });
        }
        if (label.startsWith("aborted")) await tx.abort();
        else await tx.commit();
      }
    } finally {
      await txProducer.close();
    }
    await send("tx-own", JSON.stringify({ id: "after" }));
    const sink = new RecordingSink();
    const src = source({ topics: ["tx-own"], groupId: "sfb-tx-own" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.has('"id":"after"'), { timeout: 20_000 }).toBe(true);
      const ids = sink.committed.map((i) => JSON.parse(intakeText(i)).id);
      expect(ids).toEqual([
        ...Array.from({ length: 5 }, (_, i) => `committed-a-${i}`),
        ...Array.from({ length: 5 }, (_, i) => `committed-b-${i}`),
        "after",
      ]);
      // What the client had not dropped itself (at least the 300 and the 3), counted where an admin looks.
      expect(src.stats().aborted_skipped).toBeGreaterThanOrEqual(303);
    } finally {
      await src.stop();
    }
  });

  it("reads exactly once what Kafka's own transactional copier committed, none of what it aborted at random", async () => {
    const ids = Array.from({ length: 600 }, (_, i) => `copied-${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      await producer.send({
        messages: ids.slice(i, i + 100).map((id) => ({ topic: "tx-in", key: "WC-8", value: JSON.stringify({ id }) })),
      });
    }
    // kafka-tools' TransactionalMessageCopier (Kafka's system-test peer): consumes tx-in and writes
    // tx-out in transactions of 30, aborting about one in three and copying those records again.
    const copier = spawn(
      "java",
      [
        "-cp",
        `${KAFKA_LIB}/*`,
        "org.apache.kafka.tools.TransactionalMessageCopier",
        "--broker-list",
        broker.url,
        "--input-topic",
        "tx-in",
        "--input-partition",
        "0",
        "--output-topic",
        "tx-out",
        "--transactional-id",
        "sfb-test-copier",
        "--consumer-group",
        "sfb-test-copier",
        "--transaction-size",
        "30",
        "--enable-random-aborts",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    copier.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    copier.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => copier.on("close", resolve));
    expect(code, output.slice(-2_000)).toBe(0);
    // Aborts happened: the topic holds more than the 600 records and the 20 commit markers.
    const admin = new Admin({ clientId: "sfb-test-admin-tx", bootstrapBrokers: [broker.url] });
    let end = 0n;
    try {
      const offsets = await admin.listOffsets({
        topics: [{ name: "tx-out", partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
      });
      end = offsets[0]?.partitions[0]?.offset ?? 0n;
    } finally {
      await admin.close();
    }
    expect(end).toBeGreaterThan(620n);
    const sink = new RecordingSink();
    const src = source({ topics: ["tx-out"], groupId: "sfb-tx-out" });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(600);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(sink.committed.map((i) => JSON.parse(intakeText(i)).id)).toEqual(ids);
      expect(src.stats().aborted_skipped).toBeGreaterThan(0);
      // The group's offset passes the last commit marker, as Kafka's own consumer commits: no lag is left.
      const groupAdmin = new Admin({ clientId: "sfb-test-admin-tx-group", bootstrapBrokers: [broker.url] });
      try {
        const committed = async () => {
          const [group] = await groupAdmin.listConsumerGroupOffsets({ groups: ["sfb-tx-out"] });
          return group?.topics.find((t) => t.name === "tx-out")?.partitions[0]?.committedOffset;
        };
        await expect.poll(committed, { timeout: 10_000 }).toBe(end);
      } finally {
        await groupAdmin.close();
      }
    } finally {
      await src.stop();
    }
  });

  it("commits no offset while the accept is blocked: the group reads the same records again", async () => {
    const sink = new RecordingSink();
    sink.block();
    const first = source({ topics: ["pressure"], groupId: "sfb-pressure", prefetch: 10 });
    await first.start(sink);
    const markers = Array.from({ length: 50 }, (_, i) => `pressure-${i}`);
    await producer.send({ messages: markers.map((value) => ({ topic: "pressure", key: "WC-3", value })) });
    await expect.poll(() => sink.accepting, { timeout: 20_000 }).toBe(1);
    // Backpressure: one accept of at most `prefetch` records, nothing more taken.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sink.accepting).toBe(1);
    expect(sink.acceptingItems).toBeLessThanOrEqual(10);
    expect(first.stats().received).toBeLessThanOrEqual(10);
    // The broker's end offsets against the group's commit: all 50 are behind.
    await expect.poll(() => first.stats().lag, { timeout: 15_000 }).toBe(50);
    const admin = new Admin({ clientId: "sfb-test-admin", bootstrapBrokers: [broker.url] });
    try {
      const committed = await admin.listConsumerGroupOffsets({ groups: ["sfb-pressure"] });
      const offsets = JSON.stringify(committed, (_, v) => (typeof v === "bigint" ? Number(v) : v));
      expect(offsets).not.toMatch(/"committedOffset":[1-9]/);
    } finally {
      await admin.close();
    }
    await first.abort();
    const again = new RecordingSink();
    const second = source({ topics: ["pressure"], groupId: "sfb-pressure", prefetch: 10 });
    await second.start(again);
    try {
      await expect.poll(() => markers.every((m) => again.has(m)), { timeout: 30_000 }).toBe(true);
      // In offset order, each accept at most `prefetch` records.
      expect(again.committed.map((i) => intakeText(i))).toEqual(markers);
    } finally {
      sink.release();
      await second.stop();
    }
  });

  it("loses nothing across a broker restart while consuming", async () => {
    const own = await startKafka({ topics: ["restart"], partitions: 2 });
    const sink = new RecordingSink();
    const src = new KafkaSource({
      brokers: [own.url],
      topics: ["restart"],
      groupId: "sfb-restart",
      clientId: "sfb-restart",
      sessionTimeoutMs: 6_000,
      backoff: { baseMs: 200, maxMs: 2_000 },
    });
    const ownProducer = new Producer({ clientId: "sfb-restart-producer", bootstrapBrokers: [own.url] });
    const publish = (from: number, to: number) =>
      ownProducer.send({
        messages: Array.from({ length: to - from }, (_, i) => ({
          topic: "restart",
          key: Buffer.from(`WC-${(from + i) % 5}`),
          value: Buffer.from(`restart-${from + i}`),
        })),
      });
    try {
      await src.start(sink);
      await publish(0, 100);
      await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(100);
      await own.stop("SIGKILL");
      await own.start();
      await publish(100, 200);
      const want = Array.from({ length: 200 }, (_, i) => `restart-${i}`);
      await expect.poll(() => want.every((m) => sink.has(m)), { timeout: 60_000 }).toBe(true);
      expect(src.stats().connected).toBe(1);
    } finally {
      await src.stop();
      await ownProducer.close();
      await own.destroy();
    }
  });

  it("two members of one group share the partitions in key order, and the survivor takes over the other's", async () => {
    const sinkA = new RecordingSink();
    const sinkB = new RecordingSink();
    const a = source({ topics: ["shared"], groupId: "sfb-shared", clientId: "member-a" });
    const b = source({ topics: ["shared"], groupId: "sfb-shared", clientId: "member-b" });
    await a.start(sinkA);
    await b.start(sinkB);
    try {
      await expect.poll(() => (a.stats().partitions ?? 0) + (b.stats().partitions ?? 0), { timeout: 20_000 }).toBe(4);
      expect(a.stats().partitions).toBe(2);
      const workCenters = Array.from({ length: 8 }, (_, i) => `WC-${i}`);
      const message = (wc: string, n: number) => ({ topic: "shared", key: wc, value: `${wc}#${n}` });
      await producer.send({ messages: workCenters.flatMap((wc) => [0, 1, 2].map((n) => message(wc, n))) });
      await expect.poll(() => sinkA.committed.length + sinkB.committed.length, { timeout: 20_000 }).toBe(24);
      expect(sinkA.committed.length).toBeGreaterThan(0);
      expect(sinkB.committed.length).toBeGreaterThan(0);
      await a.abort();
      await expect.poll(() => b.stats().partitions, { timeout: 30_000 }).toBe(4);
      await producer.send({ messages: workCenters.flatMap((wc) => [3, 4, 5].map((n) => message(wc, n))) });
      await expect
        .poll(() => sinkB.committed.filter((i) => /#[345]$/.test(intakeText(i))).length, { timeout: 20_000 })
        .toBe(24);
      // Within a work center (one partition), events arrive in the order they were produced.
      const all = [...sinkA.committed, ...sinkB.committed].map((i) => intakeText(i));
      for (const wc of workCenters) {
        const seen = sinkB.committed.map((i) => intakeText(i)).filter((t) => t.startsWith(`${wc}#`));
        expect(seen).toEqual([...seen].sort());
        expect(new Set(all.filter((t) => t.startsWith(`${wc}#`))).size).toBe(6);
      }
    } finally {
      await b.stop();
    }
  });

  it("a rebalance waits for the accept under way and its commit: no record goes to two members", async () => {
    await broker.createTopics(["handover"], 2);
    const sinkA = new RecordingSink();
    const sinkB = new RecordingSink();
    const a = source({ topics: ["handover"], groupId: "sfb-handover", clientId: "handover-a", prefetch: 20 });
    await a.start(sinkA);
    const before = Array.from({ length: 40 }, (_, i) => ({ topic: "handover", key: `WC-${i % 4}`, value: `h-${i}` }));
    await expect.poll(() => a.stats().partitions, { timeout: 20_000 }).toBe(2);
    sinkA.block();
    await producer.send({ messages: before });
    await expect.poll(() => sinkA.accepting, { timeout: 20_000 }).toBe(1);
    // B joins while A's accept is blocked: A must finish it (and commit) before it rejoins.
    const b = source({ topics: ["handover"], groupId: "sfb-handover", clientId: "handover-b", prefetch: 20 });
    const joining = b.start(sinkB);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(b.stats().partitions).toBe(0);
    sinkA.release();
    await joining;
    try {
      await expect.poll(() => (a.stats().partitions ?? 0) + (b.stats().partitions ?? 0), { timeout: 30_000 }).toBe(2);
      await expect.poll(() => b.stats().partitions, { timeout: 30_000 }).toBe(1);
      const after = Array.from({ length: 40 }, (_, i) => ({
        topic: "handover",
        key: `WC-${i % 4}`,
        value: `h-${40 + i}`,
      }));
      await producer.send({ messages: after });
      const all = [...before, ...after].map((m) => m.value);
      const seen = () => [...sinkA.committed, ...sinkB.committed].map((i) => intakeText(i));
      await expect.poll(() => all.every((m) => seen().includes(m)), { timeout: 30_000 }).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
      // Each record exactly once across the two members: A committed before B took its partition.
      expect(seen().sort()).toEqual([...all].sort());
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("takes SASL PLAIN and SCRAM-SHA-256/512 credentials, and names backbone_password when they are refused", async () => {
    for (const mechanism of ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
      const sink = new RecordingSink();
      const src = source({
        brokers: [broker.saslUrl],
        topics: ["binding"],
        groupId: `sfb-sasl-${mechanism}`,
        sasl: { mechanism, ...SASL },
      });
      await src.start(sink);
      try {
        await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBeGreaterThan(0);
      } finally {
        await src.stop();
      }
    }
    const refused = source({
      brokers: [broker.saslUrl],
      topics: ["binding"],
      groupId: "sfb-sasl-bad",
      sasl: { mechanism: "SCRAM-SHA-256", username: SASL.username, password: "wrong" },
    });
    expect((await refusal(refused)).field).toBe("backbone_password");
  });

  it("names backbone_names for a topic the cluster does not have", async () => {
    const src = source({ topics: ["no-such-topic"], groupId: "sfb-missing" });
    const err = await refusal(src);
    expect(err.field).toBe("backbone_names");
    expect(err.message).toContain("no-such-topic");
  });

  it("keeps retrying a broker that refuses connections instead of failing the sidecar", async () => {
    const logs: string[] = [];
    const src = source({
      brokers: ["127.0.0.1:1"],
      topics: ["contract"],
      groupId: "sfb-refused",
      log: (_level, message) => logs.push(message),
    });
    await src.start(new RecordingSink());
    try {
      expect(src.stats().connected).toBe(0);
      expect(logs.join("\n")).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1 \(backbone_url\)/);
    } finally {
      await src.stop();
    }
  });
});

describe("KafkaSource over TLS (an SSL listener that requires a client certificate; SASL over TLS)", () => {
  let ca: TestCa;
  let tlsBroker: KafkaBroker;
  beforeAll(async () => {
    ca = createTestCa("sfb-kafka-test-ca");
    const server = ca.server();
    tlsBroker = await startKafka({
      topics: ["secure"],
      // With SASL too: a SASL_SSL listener besides, as managed Kafka services offer.
      sasl: SASL,
      tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, clientAuth: "required" },
    });
    const plain = new Producer({ clientId: "sfb-tls-producer", bootstrapBrokers: [tlsBroker.url] });
    await plain.send({ messages: [{ topic: "secure", key: Buffer.from("WC-1"), value: Buffer.from("over-tls") }] });
    await plain.close();
  });
  afterAll(async () => {
    await tlsBroker?.destroy();
    ca?.destroy();
  });

  const tlsSource = (tls: { ca: string; client_cert: string; client_key: string }, group: string) =>
    new KafkaSource({
      brokers: [tlsBroker.tlsUrl],
      topics: ["secure"],
      groupId: group,
      clientId: group,
      sessionTimeoutMs: 6_000,
      tls: { reject_unauthorized: true, ...tls },
    });

  it("consumes with backbone_ca and a client certificate", async () => {
    const client = ca.client("sfb-sidecar");
    await consumes(
      tlsSource({ ca: ca.cert, client_cert: client.cert, client_key: client.key }, "sfb-tls-ok"),
      "over-tls",
    );
  });

  it("names backbone_ca when the broker's CA is not trusted", async () => {
    const client = ca.client("sfb-sidecar-2");
    const src = tlsSource({ ca: "", client_cert: client.cert, client_key: client.key }, "sfb-tls-untrusted");
    expect((await refusal(src)).field).toBe("backbone_ca");
  });

  it("names backbone_client_cert when the broker requires one and none is set, and keeps retrying", async () => {
    const logs: string[] = [];
    const src = new KafkaSource({
      brokers: [tlsBroker.tlsUrl],
      topics: ["secure"],
      groupId: "sfb-tls-nocert",
      clientId: "sfb-tls-nocert",
      tls: { ca: ca.cert, reject_unauthorized: true, client_cert: "", client_key: "" },
      log: (_level, message) => logs.push(message),
    });
    await src.start(new RecordingSink());
    try {
      expect(src.stats().connected).toBe(0);
      expect(logs.join("\n")).toMatch(/set backbone_client_cert and backbone_client_key; retrying/);
    } finally {
      await src.stop();
    }
  });

  /** A source made as the sidecar makes it, from the connection's fields: SASL over TLS, the broker checked with backbone_ca. */
  const saslTlsSource = (over: Partial<BackboneConfig>, group: string, log?: (message: string) => void) => {
    const backbone: BackboneConfig = {
      url: tlsBroker.saslTlsUrl,
      names: ["secure"],
      group,
      consumer: group,
      username: SASL.username,
      password: SASL.password,
      tls: true,
      ca: ca.cert,
      reject_unauthorized: true,
      client_cert: "",
      client_key: "",
      prefetch: 0,
      sasl_mechanism: "scram-sha-512",
      claim_idle_ms: 6_000,
      ...over,
    };
    return new KafkaSource({
      ...kafkaOptionsFromConfig({ code: "SASL-SSL", kind: "kafka", backbone } as unknown as SidecarConfig),
      log: (_level, message) => log?.(message),
    });
  };
  it("consumes over SASL_SSL with each SASL mechanism: the login over TLS, no client certificate", async () => {
    for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
      await consumes(saslTlsSource({ sasl_mechanism: mechanism }, `sfb-sasl-ssl-${mechanism}`), "over-tls");
    }
  });

  it("over SASL_SSL names backbone_password and backbone_ca for what is wrong", async () => {
    expect((await refusal(saslTlsSource({ password: "wrong" }, "sfb-sasl-ssl-bad-password"))).field).toBe(
      "backbone_password",
    );
    // The system's CAs, which did not sign the broker's certificate.
    expect((await refusal(saslTlsSource({ ca: "" }, "sfb-sasl-ssl-untrusted"))).field).toBe("backbone_ca");
  });

  it("names backbone_tls when TLS is off for a listener that speaks it, or on for one that does not", async () => {
    // No TLS, no SASL, the SSL listener: it answers with a TLS record (once reported as a missing topic).
    const plain = await refusal(
      saslTlsSource(
        { url: tlsBroker.tlsUrl, tls: false, ca: "", sasl_mechanism: "", username: "" },
        "sfb-plain-to-ssl",
      ),
    );
    expect(plain.field).toBe("backbone_tls");
    expect(plain.message).toMatch(/answered with TLS but backbone_tls is off/);
    // SASL without TLS, the SASL_SSL listener: it closes the connection in the SASL handshake. TLS and SASL, the
    // SASL_PLAINTEXT listener: it closes the connection in the TLS handshake. A broker going down does the same, so
    // the broker is asked once what it speaks (a TLS hello; Kafka's ApiVersions in plain) before the start is refused.
    const saslPlain = await refusal(saslTlsSource({ tls: false, ca: "" }, "sfb-sasl-plain-to-sasl-ssl"));
    expect(saslPlain.field).toBe("backbone_tls");
    expect(saslPlain.message).toMatch(/speaks TLS \(an SSL or SASL_SSL listener\), and backbone_tls is off/);
    const tlsToPlain = await refusal(saslTlsSource({ url: tlsBroker.saslUrl }, "sfb-sasl-ssl-to-sasl-plain"));
    expect(tlsToPlain.field).toBe("backbone_tls");
    expect(tlsToPlain.message).toMatch(/speaks plain Kafka, without TLS .*, and backbone_tls is on/);
  });
});

describe("KafkaSource under Kafka's ACL authorizer (StandardAuthorizer, SASL user)", () => {
  const ACL_USER = { username: "sfb-acl", password: "acl-s3cret" };
  let aclBroker: KafkaBroker;
  /** Kafka's own AclCommand (kafka-tools), as the PLAINTEXT listener's super user. */
  const acl = (args: string[]) => {
    const run = spawnSync(
      "java",
      ["-cp", `${KAFKA_LIB}/*`, "org.apache.kafka.tools.AclCommand", "--bootstrap-server", aclBroker.url, ...args],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(run.status, run.stderr.slice(-1_000)).toBe(0);
  };
  const aclLogs: string[] = [];
  const aclSource = (topics: string[], groupId: string) =>
    source({
      brokers: [aclBroker.saslUrl],
      topics,
      groupId,
      sasl: { mechanism: "SCRAM-SHA-512", ...ACL_USER },
      log: (level, message) => aclLogs.push(`${level} ${message}`),
    });
  beforeAll(async () => {
    aclBroker = await startKafka({ sasl: ACL_USER, acls: true, topics: ["acl-line1", "acl-other"] });
    // Exactly the README's ACLs: Read on the topics, Read on the group.
    acl(["--add", "--allow-principal", `User:${ACL_USER.username}`, "--operation", "Read", "--topic", "acl-line1"]);
    acl(["--add", "--allow-principal", `User:${ACL_USER.username}`, "--operation", "Read", "--group", "sfb-acl"]);
  });
  afterAll(async () => {
    await aclBroker?.destroy();
  });

  it("consumes and commits with Read on its topics and on its group, and nothing more", async () => {
    const plain = new Producer({ clientId: "sfb-acl-producer", bootstrapBrokers: [aclBroker.url] });
    try {
      for (const i of [0, 1, 2]) {
        await plain.send({
          messages: [{ topic: "acl-line1", key: Buffer.from("WC-1"), value: Buffer.from(`acl-${i}`) }],
        });
      }
    } finally {
      await plain.close();
    }
    const sink = new RecordingSink();
    const src = aclSource(["acl-line1"], "sfb-acl");
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.map(intakeText), { timeout: 25_000 }).toEqual(["acl-0", "acl-1", "acl-2"]);
      // Offsets committed to the group (OffsetCommit: Read on the group), none failed.
      await expect.poll(() => src.stats().acked, { timeout: 10_000 }).toBe(3);
      expect(src.stats().commit_failures).toBe(0);
      // The group's lag (ListOffsets) and everything else it asks went through: nothing refused.
      await expect.poll(() => src.stats().partitions, { timeout: 5_000 }).toBe(1);
      expect(aclLogs.filter((l) => /^(warn|error)/.test(l))).toEqual([]);
    } finally {
      await src.stop();
    }
  });

  it("names backbone_group for a group it may not use, backbone_names for a topic it may not read", async () => {
    const group = await refusal(aclSource(["acl-line1"], "sfb-acl-no-group"));
    expect(group.field).toBe("backbone_group");
    expect(group.message).toMatch(/grant the user Read on the group/);
    const topic = await refusal(aclSource(["acl-other"], "sfb-acl"));
    expect(topic.field).toBe("backbone_names");
    expect(topic.message).toMatch(/may not read topic acl-other \(backbone_names\): grant the user Read on it/);
  });
});
