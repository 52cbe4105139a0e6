// AmqpSource against a real RabbitMQ node (Debian's rabbitmq-server, a
// private node per file): the shared source contract, the CloudEvents AMQP
// binding's modes, ack only after the commit, backpressure, a broker killed
// mid-stream, a queue deleted under the consumer, and the errors that name
// the field to fix.
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../../devstack/mqtt-pki.ts";
import { freePort } from "../../../devstack/odoo.ts";
import { runPeer } from "../../../devstack/python-peers.ts";
import { type RabbitMqBroker, startRabbitMq } from "../../../devstack/rabbitmq.ts";
import { RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { Intake } from "../../core/ports.ts";
import { BackboneConfigError } from "../backbone-errors.ts";
import { AmqpSource, type AmqpSourceOptions } from "./source.ts";

let broker: RabbitMqBroker;
let publisher: ChannelModel;
let channel: ConfirmChannel;

beforeAll(async () => {
  broker = await startRabbitMq();
  publisher = await amqp.connect(broker.url);
  channel = await publisher.createConfirmChannel();
});

afterAll(async () => {
  await publisher?.close().catch(() => {});
  await broker?.destroy();
});

let serial = 0;
const queueName = (what: string) => `sfb.test.${what}.${process.pid}.${++serial}`;

async function publish(queue: string, body: string | Buffer, options: Options.Publish = {}): Promise<void> {
  channel.sendToQueue(queue, typeof body === "string" ? Buffer.from(body) : body, { persistent: true, ...options });
  await channel.waitForConfirms();
}

function source(queue: string | string[], extra: Partial<AmqpSourceOptions> = {}): AmqpSource {
  return new AmqpSource({
    connection: "TEST-AMQP",
    url: broker.url,
    queues: Array.isArray(queue) ? queue : [queue],
    backoff: { baseMs: 100, maxMs: 1_000 },
    lagIntervalMs: 200,
    ...extra,
  });
}

const text = (intake: Intake | undefined) =>
  intake && intake.kind !== "event" ? Buffer.from(intake.payload).toString() : "";

/** `messages` (pika_publish.py's lines) published to `queue` by pika, with publisher confirms. */
async function publishWithPika(queue: string, messages: object[]): Promise<void> {
  const run = await runPeer("pika_publish.py", [broker.url, queue], messages);
  expect(run.code, run.stderr.slice(-2_000)).toBe(0);
}

/** Ready and unacked counts as the broker sees them (ready from a passive declare). */
async function ready(queue: string): Promise<number> {
  const probe = await publisher.createChannel();
  try {
    return (await probe.checkQueue(queue)).messageCount;
  } finally {
    await probe.close();
  }
}

describe("AmqpSource on RabbitMQ", () => {
  const contractQueue = queueName("contract");
  sourceContract(
    "AmqpSource (RabbitMQ quorum queue)",
    async () => source(contractQueue, { consumer: "sfb-contract" }),
    async (marker) => publish(contractQueue, marker),
    { redeliversUncommitted: true },
  );

  it("declares a missing queue as a durable quorum queue", async () => {
    const queue = queueName("declared");
    const src = source(queue);
    await src.start(new RecordingSink());
    await src.stop();
    const probe = await publisher.createChannel();
    probe.on("error", () => {});
    // The broker refuses a classic declaration of a quorum queue: that is how we know its type.
    await expect(probe.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } })).rejects.toThrow(
      /inequivalent arg 'x-queue-type'.*current is 'quorum'/,
    );
  });

  it("consumes an existing classic queue, with a warning naming the risk", async () => {
    const queue = queueName("classic");
    const setup = await publisher.createChannel();
    await setup.assertQueue(queue, { durable: true });
    await setup.close();
    const logs: string[] = [];
    const sink = new RecordingSink();
    const src = source(queue, { log: (level, message) => logs.push(`${level}: ${message}`) });
    await src.start(sink);
    try {
      await publish(queue, "classic-1");
      await expect.poll(() => sink.has("classic-1")).toBe(true);
      expect(src.stats().classic_queues).toBe(1);
      expect(logs.join("\n")).toMatch(/warn: amqp queue .* is not a quorum queue.*survive the loss of its node/);
    } finally {
      await src.stop();
    }
  });

  it("hands raw intakes over with the queue as origin and the headers for payload mappings", async () => {
    const queue = queueName("via");
    const sink = new RecordingSink();
    const src = source(queue);
    await src.start(sink);
    try {
      await publish(queue, '{"count": 3}', { contentType: "application/json", headers: { line: "L1", n: 7 } });
      await expect.poll(() => sink.committed.length).toBe(1);
      expect(sink.committed[0]).toMatchObject({
        kind: "raw",
        origin: queue,
        via: { transport: "amqp", headers: { line: "L1", n: "7", "content-type": "application/json" } },
      });
    } finally {
      await src.stop();
    }
  });

  it("takes the CloudEvents AMQP binding's binary, structured and batched modes", async () => {
    const queue = queueName("modes");
    const sink = new RecordingSink();
    const src = source(queue);
    await src.start(sink);
    try {
      const event = { specversion: "1.0", id: "s-1", source: "plant/press-1", type: "production.reported" };
      await publish(queue, JSON.stringify({ ...event, data: { order: "MO1", qty_good: 1 } }), {
        contentType: "application/cloudevents+json",
      });
      await publish(
        queue,
        JSON.stringify([
          { ...event, id: "b-1" },
          { ...event, id: "b-2" },
        ]),
        {
          contentType: "application/cloudevents-batch+json",
        },
      );
      await publish(queue, '{"order":"MO1","qty_good":1.50}', {
        contentType: "application/json",
        headers: {
          "cloudEvents:specversion": "1.0",
          "cloudEvents:id": "bin-1",
          "cloudEvents:source": "plant/press-1",
          "cloudEvents:type": "production.reported",
          cloudEvents_time: "2026-12-02T05:00:00Z",
        },
      });
      await publish(queue, Buffer.from([0xff, 0xfe, 0x00]), {
        contentType: "application/json",
        headers: { "cloudEvents:specversion": "1.0", "cloudEvents:id": "bad-1", "cloudEvents:source": "plant/press-1" },
      });
      await expect.poll(() => sink.committed.length).toBe(5);
      const [structured, batchA, batchB, binary, bad] = sink.committed;
      expect(JSON.parse(text(structured))).toMatchObject({ id: "s-1", data: { order: "MO1" } });
      expect([JSON.parse(text(batchA)).id, JSON.parse(text(batchB)).id]).toEqual(["b-1", "b-2"]);
      expect(text(binary)).toBe(
        '{"specversion":"1.0","id":"bin-1","source":"plant/press-1","type":"production.reported",' +
          '"time":"2026-12-02T05:00:00Z","datacontenttype":"application/json","data":{"order":"MO1","qty_good":1.50}}',
      );
      expect(bad).toMatchObject({ kind: "rejected", origin: queue });
      expect(bad?.kind === "rejected" && bad.reason).toMatch(/binary mode: the body \(data\): body is not valid UTF-8/);
      expect(JSON.parse(text(bad)).data_base64).toBe(Buffer.from([0xff, 0xfe, 0x00]).toString("base64"));
      expect(src.stats().rejected_at_source).toBe(1);
    } finally {
      await src.stop();
    }
  });

  it("reads what pika (Python) publishes: typed headers as CloudEvents attributes and as mapping text", async () => {
    const queue = queueName("pika");
    const sink = new RecordingSink();
    const src = source(queue);
    await src.start(sink);
    const ce = { "cloudEvents:specversion": "1.0", "cloudEvents:source": "plant/press-1", "cloudEvents:type": "t" };
    const messages = [
      // The binding maps the time attribute to an AMQP timestamp; amqplib reads it as {"!": "timestamp"}.
      {
        body: '{"qty":2}',
        content_type: "application/json",
        headers: {
          ...ce,
          "cloudEvents:id": "pika-1",
          "cloudEvents:time": { $datetime: "2026-01-02T03:04:05" },
          "cloudEvents:seq": 12,
        },
      },
      // Every other AMQP field type pika writes, for payload mappings.
      {
        body: "21.5",
        headers: {
          dec: { $decimal: "12.345" },
          neg: { $decimal: "-0.001" },
          at: { $datetime: "1970-01-01T00:00:00" },
          big: { $int: "1099511627776" },
          flag: true,
          none: null,
          bytes: { $bytes: Buffer.from("é").toString("base64") },
          list: [1, "two", { $decimal: "-1.5" }],
          table: { k: { n: 1 }, when: { $datetime: "2026-01-02T03:04:05" }, d: { $decimal: "0.10" } },
        },
      },
      // A decimal is no CloudEvents attribute type: rejected, the reason names the header.
      { body: "{}", headers: { ...ce, "cloudEvents:id": "pika-3", "cloudEvents:ratio": { $decimal: "0.5" } } },
    ];
    try {
      await publishWithPika(queue, messages);
      await expect.poll(() => sink.committed.length).toBe(3);
      const [binary, plain, decimal] = sink.committed;
      expect(JSON.parse(text(binary))).toEqual({
        specversion: "1.0",
        id: "pika-1",
        source: "plant/press-1",
        type: "t",
        time: "2026-01-02T03:04:05.000Z",
        seq: 12,
        datacontenttype: "application/json",
        data: { qty: 2 },
      });
      expect(plain).toMatchObject({ kind: "raw" });
      expect(plain?.kind === "raw" && plain.via?.headers).toEqual({
        dec: "12.345",
        neg: "-0.001",
        at: "1970-01-01T00:00:00.000Z",
        big: "1099511627776",
        flag: "true",
        bytes: "é",
        list: "1, two, -1.5",
        // pika normalizes a Decimal before writing it: 0.10 goes out as 1 at one place.
        table: '{"k":{"n":1},"when":"2026-01-02T03:04:05.000Z","d":"0.1"}',
      });
      expect(decimal).toMatchObject({
        kind: "rejected",
        reason: expect.stringMatching(/cloudEvents:ratio: 0\.5 is no integer/),
      });
    } finally {
      await src.stop();
    }
  });

  it("undoes the content_encoding pika's producer compressed the body with; an unknown one is rejected with why", async () => {
    const queue = queueName("coded");
    const sink = new RecordingSink();
    const src = source(queue);
    await src.start(sink);
    const event = (id: string) =>
      JSON.stringify({ specversion: "1.0", id, source: "plant/press-1", type: "production.reported" });
    try {
      await publishWithPika(queue, [
        { body: event("gz"), content_type: "application/cloudevents+json", content_encoding: "gzip", compress: "gzip" },
        // As Spring AMQP's GZipPostProcessor writes it over a converter's charset.
        { body: event("spring"), content_encoding: "gzip, UTF-8", compress: "gzip" },
        { body: event("zlib"), content_encoding: "deflate", compress: "deflate" },
        { body: event("raw"), content_encoding: "deflate", compress: "raw-deflate" },
        // A charset alone, as Spring's message converters write it: nothing to undo.
        { body: event("charset"), content_encoding: "UTF-8" },
        { body: event("lzma"), content_encoding: "lzma", compress: "gzip" },
      ]);
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(6);
      const [gz, spring, zlib, raw, charset, lzma] = sink.committed;
      expect([gz, spring, zlib, raw, charset].map((i) => JSON.parse(text(i)).id)).toEqual([
        "gz",
        "spring",
        "zlib",
        "raw",
        "charset",
      ]);
      expect(lzma).toMatchObject({
        kind: "rejected",
        reason:
          "content_encoding lzma: lzma is neither a compression the source decodes (gzip, deflate, br, zstd) nor a character set",
      });
      expect(src.stats().rejected_at_source).toBe(1);
    } finally {
      await src.stop();
    }
  });

  it("reads what the CloudEvents Python SDK's RabbitMQ binding publishes, binary and structured, as the same event", async () => {
    const queue = queueName("ce-sdk");
    const sink = new RecordingSink();
    const src = source(queue);
    await src.start(sink);
    const attributes = {
      id: "sdk-1",
      source: "plant/presse-1",
      type: "production.reported",
      subject: 'Drücken 100% "fertig"',
      time: "2026-01-02T03:04:05+00:00",
      ext1: "ä b",
      datacontenttype: "application/json",
    };
    const data = { order: "MO1", qty_good: 1.5 };
    try {
      await publishWithPika(
        queue,
        ["binary", "structured"].map((mode) => ({ cloudevent: attributes, data, mode })),
      );
      await expect.poll(() => sink.committed.length).toBe(2);
      const want = {
        specversion: "1.0",
        ...attributes,
        time: "2026-01-02T03:04:05Z",
        data,
      };
      const [binary, structured] = sink.committed;
      expect(binary?.kind).toBe("raw");
      expect(JSON.parse(text(binary))).toEqual(want);
      expect(JSON.parse(text(structured))).toEqual(want);
      expect(src.stats().rejected_at_source).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("a stream queue is read by offset: what arrived while the sidecar was away is read, nothing twice", async () => {
    const queue = queueName("stream");
    const setup = await publisher.createChannel();
    await setup.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "stream" } });
    await setup.close();
    const sink = new RecordingSink();
    const texts = () => sink.committed.map(text);
    for (let i = 0; i < 5; i++) await publish(queue, `before-${i}`);
    // Nothing committed yet: from the stream's first message.
    const first = source(queue);
    await first.start(sink);
    await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(5);
    expect(first.stats().stream_queues).toBe(1);
    await first.stop();
    expect(sink.state).toEqual({ [`amqp-stream:${queue}`]: 4 });
    // Published while no sidecar reads: a consumer at "next" would never see these.
    for (let i = 0; i < 5; i++) await publish(queue, `away-${i}`);
    const second = source(queue);
    await second.start(sink);
    await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(10);
    for (let i = 0; i < 3; i++) await publish(queue, `live-${i}`);
    await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(13);
    await second.stop();
    // Started again with nothing new: nothing read again.
    const third = source(queue);
    await third.start(sink);
    await new Promise((r) => setTimeout(r, 1_000));
    await third.stop();
    expect(texts()).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `before-${i}`),
      ...Array.from({ length: 5 }, (_, i) => `away-${i}`),
      ...Array.from({ length: 3 }, (_, i) => `live-${i}`),
    ]);
    expect(sink.state).toEqual({ [`amqp-stream:${queue}`]: 12 });
  });

  it("acks only after the commit: a blocked commit leaves the messages unacked, a new consumer gets them", async () => {
    const queue = queueName("ack");
    const first = new RecordingSink();
    const src = source(queue);
    await src.start(first);
    await publish(queue, "committed-1");
    await expect.poll(() => src.stats().acked).toBe(1);
    first.block();
    for (const m of ["held-1", "held-2", "held-3"]) await publish(queue, m);
    await expect.poll(() => src.stats().in_flight).toBe(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(src.stats().acked).toBe(1);
    expect(first.committed.map(text)).toEqual(["committed-1"]);
    // Dies before the commit: nothing acked, the broker has the three again.
    await src.abort();
    await expect.poll(() => ready(queue)).toBe(3);
    const second = new RecordingSink();
    const again = source(queue);
    await again.start(second);
    try {
      await expect.poll(() => second.committed.length).toBe(3);
      expect(second.committed.map(text)).toEqual(["held-1", "held-2", "held-3"]);
      expect(second.has("committed-1")).toBe(false);
      expect(again.stats().redelivered).toBe(3);
      await expect.poll(() => again.stats().acked).toBe(3);
    } finally {
      first.release();
      await again.stop();
    }
  });

  it("a clean stop right after the last commit leaves nothing to redeliver", async () => {
    const queue = queueName("settle");
    const sink = new RecordingSink();
    const src = source(queue, { prefetch: 500 });
    await src.start(sink);
    for (let i = 0; i < 2_000; i++) channel.sendToQueue(queue, Buffer.from(`s-${i}`), { persistent: true });
    await channel.waitForConfirms();
    await expect.poll(() => src.stats().acked, { timeout: 30_000, interval: 5 }).toBe(2_000);
    await src.stop();
    const second = new RecordingSink();
    const again = source(queue);
    await again.start(second);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(second.committed.length).toBe(0);
    } finally {
      await again.stop();
    }
  });

  it("a failed commit is not acked: the message is requeued and committed on its next delivery", async () => {
    const queue = queueName("fail");
    let failures = 1;
    const sink = new RecordingSink();
    const failing = {
      accept: async (items: Intake[]) => {
        if (failures-- > 0) throw new Error("disk I/O error");
        return sink.accept(items);
      },
      loadState: sink.loadState.bind(sink),
    };
    const src = source(queue, { log: () => {} });
    await src.start(failing);
    try {
      await publish(queue, "retry-1");
      await expect.poll(() => sink.has("retry-1")).toBe(true);
      expect(src.stats()).toMatchObject({ commit_errors: 1, committed: 1, acked: 1, redelivered: 1 });
    } finally {
      await src.stop();
    }
  });

  it("never holds more than prefetch messages unacked; the broker keeps the rest until the spool takes them", async () => {
    const queue = queueName("prefetch");
    const sink = new RecordingSink();
    const src = source(queue, { prefetch: 10 });
    await src.start(sink);
    try {
      sink.block();
      for (let i = 0; i < 50; i++) await publish(queue, `bp-${i}`);
      await expect.poll(() => sink.acceptingItems).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.acceptingItems).toBeLessThanOrEqual(10);
      expect(src.stats().in_flight).toBe(10);
      expect(await ready(queue)).toBe(40);
      await expect.poll(() => src.stats().lag).toBe(40);
      sink.release();
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(50);
      expect(sink.committed.map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `bp-${i}`));
    } finally {
      sink.release();
      await src.stop();
    }
  });

  it("splits prefetch over several queues and consumes each on its own channel", async () => {
    const queues = [queueName("multi-a"), queueName("multi-b")];
    const sink = new RecordingSink();
    const src = source(queues, { prefetch: 8 });
    await src.start(sink);
    try {
      sink.block();
      for (let i = 0; i < 20; i++) {
        await publish(queues[0] as string, `a-${i}`);
        await publish(queues[1] as string, `b-${i}`);
      }
      await expect.poll(() => src.stats().in_flight).toBe(8);
      await new Promise((r) => setTimeout(r, 300));
      expect(src.stats().in_flight).toBe(8);
      sink.release();
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(40);
      const origins = new Set(sink.committed.map((i) => (i.kind === "event" ? "" : i.origin)));
      expect(origins).toEqual(new Set(queues));
    } finally {
      sink.release();
      await src.stop();
    }
  });

  it("a queue deleted under the consumer: the broker cancels it, the source declares the queue again and goes on", async () => {
    const queue = queueName("deleted");
    const sink = new RecordingSink();
    const src = source(queue, { log: () => {} });
    await src.start(sink);
    try {
      await publish(queue, "before-delete");
      await expect.poll(() => sink.has("before-delete")).toBe(true);
      const admin = await publisher.createChannel();
      await admin.deleteQueue(queue);
      await admin.close();
      await expect.poll(() => src.stats().cancels).toBe(1);
      await expect.poll(() => src.stats().reconnects, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      await publish(queue, "after-delete");
      await expect.poll(() => sink.has("after-delete")).toBe(true);
    } finally {
      await src.stop();
    }
  });

  it("a refused login names backbone_password; an unknown vhost names backbone_url", async () => {
    const refused = source(queueName("auth"), { username: "guest", password: "wrong" });
    const err = await refused.start(new RecordingSink()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackboneConfigError);
    expect(err).toMatchObject({ field: "backbone_password" });
    expect((err as Error).message).toMatch(
      /refused the login of "guest": check backbone_username and backbone_password/,
    );
    const vhost = new AmqpSource({ connection: "T", url: `${broker.url}/no-such-vhost`, queues: ["q"] });
    await expect(vhost.start(new RecordingSink())).rejects.toMatchObject({
      field: "backbone_url",
      message: expect.stringMatching(/vhost "no-such-vhost": the vhost in backbone_url does not exist/),
    });
  });

  it("a user without permission on the queue names backbone_names", async () => {
    broker.ctl(["add_user", "sfb-limited", "limited-pw"]);
    // Configure, write and read only on queues named other.*
    broker.ctl(["set_permissions", "-p", "/", "sfb-limited", "^other\\..*", "^other\\..*", "^other\\..*"]);
    const limited = source(queueName("forbidden"), { username: "sfb-limited", password: "limited-pw" });
    const err = await limited.start(new RecordingSink()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackboneConfigError);
    expect(err).toMatchObject({ field: "backbone_names" });
    expect((err as Error).message).toMatch(
      /does not let this user use queue sfb\.test\.forbidden.*grant configure and read/,
    );
  });

  it("works as a user with exactly the README's permissions: configure and read on its queues, no write", async () => {
    broker.ctl(["add_user", "sfb-reader", "reader-pw"]);
    broker.ctl(["set_permissions", "-p", "/", "sfb-reader", "^sfb\\.test\\.perm-.*", "^$", "^sfb\\.test\\.perm-.*"]);
    // One queue it declares itself (configure), one that exists (read alone would do).
    const declared = queueName("perm-declared");
    const existing = queueName("perm-existing");
    const admin = await publisher.createChannel();
    await admin.assertQueue(existing, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await admin.close();
    const sink = new RecordingSink();
    const src = source([declared, existing], { username: "sfb-reader", password: "reader-pw" });
    await src.start(sink);
    try {
      await publish(declared, "to-declared");
      await publish(existing, "to-existing");
      await expect.poll(() => sink.has("to-declared") && sink.has("to-existing"), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => src.stats().acked, { timeout: 5_000 }).toBe(2);
      await expect.poll(() => ready(declared)).toBe(0);
    } finally {
      await src.stop();
    }
  });

  it("bad settings fail before connecting, each naming its field", async () => {
    const cases: [Partial<AmqpSourceOptions>, string, RegExp][] = [
      [{ url: "http://127.0.0.1:5672" }, "backbone_url", /takes amqp:\/\/host:5672\/vhost/],
      [{ url: "not a url" }, "backbone_url", /is no URL/],
      [{ queues: [] }, "backbone_names", /is empty/],
      [{ queues: ["a", "a"] }, "backbone_names", /twice/],
      [{ queues: ["x".repeat(256)] }, "backbone_names", /longer than 255 bytes/],
      [{ prefetch: 0 }, "backbone_prefetch", /1 to 65535/],
      [{ tls: { ca: "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----" } }, "backbone_url", /plain AMQP/],
    ];
    for (const [extra, field, message] of cases) {
      const bad = source(queueName("bad"), extra);
      const err = await bad.start(new RecordingSink()).catch((e: unknown) => e);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(BackboneConfigError);
      expect(err).toMatchObject({ field });
      expect((err as Error).message).toMatch(message);
    }
  });

  it("a broker that is down at start is not fatal: the source connects once it is up", async () => {
    const logs: string[] = [];
    const src = new AmqpSource({
      connection: "T",
      url: "amqp://127.0.0.1:1",
      queues: ["q"],
      log: (level, message) => logs.push(`${level}: ${message}`),
      backoff: { baseMs: 50, maxMs: 100 },
    });
    await src.start(new RecordingSink());
    try {
      expect(src.stats().connected).toBe(0);
      expect(logs.join("\n")).toMatch(/error: amqp 127\.0\.0\.1:1\/: .*ECONNREFUSED.*check backbone_url/);
    } finally {
      await src.stop();
    }
  });
});

describe("AmqpSource across a RabbitMQ crash (kill -9 and restart)", () => {
  let own: RabbitMqBroker;
  const queue = "sfb.test.crash";
  beforeAll(async () => {
    own = await startRabbitMq();
    // RabbitMQ keeps a quorum queue's Ra registration in a table it saves lazily: a queue
    // declared moments before a crash can come back as an empty member that never elects
    // itself. A clean restart saves it, as the hours a real queue exists do.
    const conn = await amqp.connect(own.url);
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await conn.close();
    await own.stop();
    await own.start();
  });
  afterAll(async () => {
    await own?.destroy();
  });

  it("reconnects with backoff and loses nothing the broker confirmed; committed messages count once", async () => {
    const sink = new RecordingSink();
    // Slow commits, so the crash finds messages delivered and not acked.
    const slow = {
      accept: async (items: Intake[]) => {
        await new Promise((r) => setTimeout(r, 20));
        return sink.accept(items);
      },
      loadState: sink.loadState.bind(sink),
    };
    const src = new AmqpSource({
      connection: "T",
      url: own.url,
      queues: [queue],
      prefetch: 20,
      backoff: { baseMs: 200, maxMs: 1_000 },
      log: () => {},
    });
    const publishAll = async (from: number, to: number) => {
      const conn = await amqp.connect(own.url);
      const ch = await conn.createConfirmChannel();
      for (let i = from; i < to; i++) ch.sendToQueue(queue, Buffer.from(`crash-${i}`), { persistent: true });
      await ch.waitForConfirms();
      await conn.close();
    };
    await src.start(slow);
    try {
      await publishAll(0, 300);
      await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBeGreaterThan(20);
      await own.stop("SIGKILL");
      expect(sink.committed.length).toBeLessThan(300);
      await expect.poll(() => src.stats().connected).toBe(0);
      await own.start();
      await expect.poll(() => src.stats().reconnects, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
      await publishAll(300, 400);
      await expect.poll(() => new Set(sink.committed.map(text)).size, { timeout: 30_000 }).toBe(400);
      // Committed twice only where the crash came between a commit and its ack: each such one is a redelivery.
      const duplicates = sink.committed.length - 400;
      expect(src.stats().redelivered).toBeGreaterThanOrEqual(duplicates);
      expect(duplicates).toBeLessThanOrEqual(20);
    } finally {
      await src.stop();
    }
  });
});

describe("AmqpSource and a RabbitMQ node that stops answering (frozen with SIGSTOP)", () => {
  // A frozen host or VM, or a network that drops packets: the port stays open (the kernel
  // still accepts and acknowledges), nothing is refused or reset, and nothing is answered.
  let frozen: RabbitMqBroker;
  let other: RabbitMqBroker;
  beforeAll(async () => {
    [frozen, other] = await Promise.all([startRabbitMq(), startRabbitMq()]);
  });
  afterAll(async () => {
    await Promise.all([frozen?.destroy(), other?.destroy()]);
  });
  const publishTo = async (node: RabbitMqBroker, queue: string, bodies: string[]) => {
    const conn = await amqp.connect(node.url);
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
      for (const body of bodies) ch.sendToQueue(queue, Buffer.from(body), { persistent: true });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
  };

  it("misses the broker's heartbeats (heartbeat=1 in backbone_url), takes it for gone, and consumes again once it answers", async () => {
    const queue = "sfb.test.frozen";
    await publishTo(frozen, queue, ["before-0", "before-1"]);
    const sink = new RecordingSink();
    const logs: string[] = [];
    const src = new AmqpSource({
      connection: "T",
      // RabbitMQ's URI query parameter: heartbeats every second instead of every 15.
      url: `${frozen.url}?heartbeat=1`,
      queues: [queue],
      backoff: { baseMs: 200, maxMs: 1_000 },
      log: (_l, m) => logs.push(m),
    });
    await src.start(sink);
    try {
      await expect.poll(() => sink.committed.map(text).sort(), { timeout: 10_000 }).toEqual(["before-0", "before-1"]);
      frozen.freeze();
      try {
        await expect.poll(() => src.stats().connected, { timeout: 10_000 }).toBe(0);
        expect(logs.join("\n")).toMatch(/[Hh]eartbeat/);
      } finally {
        frozen.thaw();
      }
      await publishTo(frozen, queue, ["after-0", "after-1"]);
      await expect
        .poll(() => [...new Set(sink.committed.map(text))].sort(), { timeout: 30_000 })
        .toEqual(["after-0", "after-1", "before-0", "before-1"]);
      await expect.poll(() => src.stats().connected, { timeout: 10_000 }).toBe(1);
      expect(src.stats().reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      await src.stop();
    }
  });

  it("passes a node of its list that accepts and never answers, and consumes through the next", async () => {
    const queue = "sfb.test.past-frozen";
    await publishTo(other, queue, ["through-the-next-node"]);
    const sink = new RecordingSink();
    const logs: string[] = [];
    // connection_timeout (RabbitMQ's URI query parameter): 2 s for each node's connection and handshake.
    const url = `amqp://127.0.0.1:${frozen.port},127.0.0.1:${other.port}?connection_timeout=2000`;
    const src = new AmqpSource({ connection: "T", url, queues: [queue], log: (_l, m) => logs.push(m) });
    frozen.freeze();
    try {
      const started = Date.now();
      await src.start(sink);
      expect(src.stats().connected).toBe(1);
      // 2 s on the frozen node (10 s unless the URL says), then the next one.
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(logs.join("\n")).toMatch(new RegExp(`127\\.0\\.0\\.1:${frozen.port}.*ETIMEDOUT; trying the next node`));
      await expect.poll(() => sink.committed.map(text), { timeout: 10_000 }).toEqual(["through-the-next-node"]);
    } finally {
      await src.stop();
      frozen.thaw();
    }
  });
});

describe("AmqpSource over TLS (amqps://)", () => {
  let ca: TestCa;
  let tlsBroker: RabbitMqBroker;
  beforeAll(async () => {
    ca = createTestCa("sfb-amqp-test-ca");
    const server = ca.server();
    tlsBroker = await startRabbitMq({
      tls: { caFile: ca.certFile, certFile: server.certFile, keyFile: server.keyFile },
    });
  });
  afterAll(async () => {
    await tlsBroker?.destroy();
    ca?.destroy();
  });

  it("connects with the CA in backbone_ca and consumes", async () => {
    const queue = queueName("tls");
    const sink = new RecordingSink();
    const src = new AmqpSource({ connection: "T", url: tlsBroker.tlsUrl, queues: [queue], tls: { ca: ca.cert } });
    await src.start(sink);
    try {
      const conn = await amqp.connect(tlsBroker.url);
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue(queue, Buffer.from("over-tls"), { persistent: true });
      await ch.waitForConfirms();
      await conn.close();
      await expect.poll(() => sink.has("over-tls")).toBe(true);
    } finally {
      await src.stop();
    }
  });

  it("checks each node of a node list against that node's own name (127.0.0.2 is not in the certificate)", async () => {
    const queue = queueName("tls-nodes");
    const sink = new RecordingSink();
    const logs: string[] = [];
    // Nothing listens on the first node: the source goes on to the second, whose certificate
    // names 127.0.0.1 and not the first node's 127.0.0.2.
    const src = new AmqpSource({
      connection: "T",
      url: `amqps://127.0.0.2:${await freePort()},127.0.0.1:${new URL(tlsBroker.tlsUrl).port}`,
      queues: [queue],
      tls: { ca: ca.cert },
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    await src.start(sink);
    try {
      const conn = await amqp.connect(tlsBroker.url);
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue(queue, Buffer.from("second-node"), { persistent: true });
      await ch.waitForConfirms();
      await conn.close();
      await expect.poll(() => sink.has("second-node")).toBe(true);
      expect(logs.filter((l) => l.includes("trying the next node"))).toHaveLength(1);
    } finally {
      await src.stop();
    }
  });

  it("a broker certificate no configured CA signed names backbone_ca; plain AMQP on the TLS port names backbone_url", async () => {
    const untrusted = new AmqpSource({ connection: "T", url: tlsBroker.tlsUrl, queues: ["q"] });
    await expect(untrusted.start(new RecordingSink())).rejects.toMatchObject({
      name: "BackboneConfigError",
      field: "backbone_ca",
      message: expect.stringMatching(/not signed by a CA of the system store \(backbone_ca is empty\)/),
    });
    const tlsOnPlainPort = new AmqpSource({
      connection: "T",
      url: tlsBroker.url.replace("amqp:", "amqps:"),
      queues: ["q"],
    });
    await expect(tlsOnPlainPort.start(new RecordingSink())).rejects.toMatchObject({ field: "backbone_url" });
  });

  it("plain amqp:// on the TLS port: the reset is asked about, and the port speaks TLS (backbone_url)", async () => {
    const plainOnTlsPort = new AmqpSource({
      connection: "T",
      url: tlsBroker.tlsUrl.replace("amqps:", "amqp:"),
      queues: ["q"],
    });
    await expect(plainOnTlsPort.start(new RecordingSink())).rejects.toMatchObject({
      name: "BackboneConfigError",
      field: "backbone_url",
      message: expect.stringMatching(/:\d+ speaks TLS, and backbone_url is plain amqp:\/\/: use amqps:\/\//),
    });
  });
});
