// AMQP 1.0 producers into RabbitMQ, read by the AMQP (0-9-1) source: the
// decoder against Qpid Proton's encoder (every type of the AMQP 1.0 type
// system), then Qpid Proton sending over AMQP 1.0 into a real RabbitMQ node
// with its rabbitmq_amqp1_0 plugin, the way Qpid JMS, .NET and Azure clients do.
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPeer } from "../../../devstack/python-peers.ts";
import { type RabbitMqBroker, startRabbitMq } from "../../../devstack/rabbitmq.ts";
import { RecordingSink } from "../../../test/support/sources/source.contract.ts";
import type { Intake } from "../../core/ports.ts";
import { Amqp10Error, decodeValue, jsonText } from "./amqp10.ts";
import { AmqpSource } from "./source.ts";

describe("the AMQP 1.0 decoder against Qpid Proton's encoder", () => {
  // What each catalogue entry of proton_encode.py is, as JSON (or the reason it has no JSON form).
  const expected: Record<string, string> = {
    null: "null",
    true: "true",
    false: "false",
    ubyte: "255",
    ushort: "65535",
    uint_small: "7",
    uint_zero: "0",
    uint_max: "4294967295",
    ulong_small: "200",
    ulong_zero: "0",
    ulong_max: "18446744073709551615",
    byte: "-128",
    short: "-32768",
    int_small: "-5",
    int_min: "-2147483648",
    long_small: "-100",
    long_min: "-9223372036854775808",
    long_big: "9007199254740993",
    float: "1.5",
    double: "-0.1",
    double_inf: "error: v is Infinity, which JSON has no number for",
    decimal32_one: "1",
    decimal32_tenth: "0.1",
    decimal32_max_coefficient: "9999999",
    decimal32_negative: "-15",
    decimal64_one_fifty: "15.0",
    decimal128_one: "1",
    decimal64_nan: "error: v is the decimal NaN, which JSON has no number for",
    char: '"😀"',
    timestamp: '"2025-12-03T05:00:00.123Z"',
    timestamp_before_1970: '"1969-12-31T00:00:00.000Z"',
    uuid: '"f81d4fae-7dec-11d0-a765-00a0c91e6bf6"',
    binary: '"AP+A"',
    binary_large: JSON.stringify(Buffer.alloc(300).toString("base64")),
    string: '"Presse-Öl 1"',
    string_large: JSON.stringify("x".repeat(300)),
    symbol: '"amqp:accepted"',
    list_empty: "[]",
    list: '[1,"a",null,[true]]',
    map: '{"quantity":3,"wo":"WO-1","sym":2.5}',
    map_large: JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))),
    array_int: "[1,-2,3]",
    array_string: '["a","bc"]',
    array_described: "error: v[0] is a described value (x:y), which has no JSON form",
    described: "error: v is a described value (com.example:reading), which has no JSON form",
    described_by_code: "error: v is a described value (0x4d4500000001), which has no JSON form",
  };

  it("decodes every type proton encodes to the value it stands for", async () => {
    const run = await runPeer("proton_encode.py", []);
    expect(run.code, run.stderr.slice(-2_000)).toBe(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { name: string; hex: string });
    expect(lines.map((l) => l.name).sort()).toEqual(Object.keys(expected).sort());
    const got: Record<string, string> = {};
    for (const { name, hex } of lines) {
      try {
        got[name] = jsonText(decodeValue(Buffer.from(hex, "hex")), "v");
      } catch (err) {
        if (!(err instanceof Amqp10Error)) throw err;
        got[name] = `error: ${err.message}`;
      }
    }
    expect(got).toEqual(expected);
  });
});

describe("AMQP 1.0 producers (Qpid Proton) into RabbitMQ, read by AmqpSource", () => {
  let broker: RabbitMqBroker;
  let version = "";

  beforeAll(async () => {
    broker = await startRabbitMq({ plugins: ["rabbitmq_amqp1_0"] });
    const probe = await amqp.connect(broker.url);
    version = String(probe.connection.serverProperties.version ?? "");
    await probe.close();
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  /** Sends `messages` (proton_send.py's lines) to `queue` over AMQP 1.0; each is accepted by the broker. */
  async function sendWithProton(queue: string, messages: object[]): Promise<void> {
    const run = await runPeer("proton_send.py", [`127.0.0.1:${broker.port}`, `/amq/queue/${queue}`], messages);
    expect(run.code, run.stderr.slice(-2_000)).toBe(0);
  }

  const text = (intake: Intake | undefined) =>
    intake && intake.kind !== "event" ? Buffer.from(intake.payload).toString() : "";

  const event = (id: string) => ({
    specversion: "1.0",
    id,
    source: "plant/press-1",
    type: "production.reported",
    time: "2026-12-03T05:00:00Z",
    data: { quantity: 3 },
  });

  it("every body section a producer may send becomes the bytes it meant; what cannot is rejected with why", async () => {
    const queue = `sfb.test.amqp10.${process.pid}`;
    // The queue exists before the producer sends (RabbitMQ's /amq/queue/ address needs it).
    const sink = new RecordingSink();
    const src = new AmqpSource({
      connection: "TEST-AMQP10",
      url: broker.url,
      queues: [queue],
      backoff: { baseMs: 100, maxMs: 1_000 },
    });
    await src.start(sink);
    try {
      await sendWithProton(queue, [
        // A JMS TextMessage: an amqp-value string, no content type.
        { section: "value", body: JSON.stringify(event("text-1")) },
        // Structured mode in a data section.
        { section: "data", body: JSON.stringify(event("data-1")), content_type: "application/cloudevents+json" },
        // A JMS MapMessage-like amqp-value map of typed values: a payload for the mappings, as JSON.
        {
          section: "value",
          body: {
            wo: "WO-7",
            good: { $ulong: "18446744073709551615" },
            scrap: { $decimal64: "31A0000000000096" },
            at: { $timestamp: 1764738000123 },
            lot: { $uuid: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" },
            temp: { $float: 21.5 },
          },
        },
        // amqp-sequence: one JSON array.
        { section: "sequence", body: [1, "two", { $symbol: "three" }] },
        // A value with no JSON form: rejected, the bytes kept.
        { section: "value", body: { $described: ["com.example:reading", 1] } },
        // Binary mode: the attributes as application properties.
        {
          section: "data",
          body: '{"quantity":3}',
          content_type: "application/json",
          properties: {
            cloudEvents_specversion: "1.0",
            cloudEvents_id: "binary-1",
            cloudEvents_source: "plant/press-1",
            cloudEvents_type: "production.reported",
          },
        },
      ]);
      await expect.poll(() => sink.committed.length, { timeout: 20_000 }).toBe(6);
      const [textMessage, structured, map, sequence, described, binary] = sink.committed;
      expect(JSON.parse(text(textMessage))).toEqual(event("text-1"));
      expect(JSON.parse(text(structured))).toEqual(event("data-1"));
      expect(map).toMatchObject({ kind: "raw" });
      expect(text(map)).toBe(
        '{"wo":"WO-7","good":18446744073709551615,"scrap":15.0,"at":"2025-12-03T05:00:00.123Z",' +
          '"lot":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","temp":21.5}',
      );
      expect(map?.kind === "raw" && map.via?.headers?.["content-type"]).toBe("application/json");
      expect(text(sequence)).toBe('[1,"two","three"]');
      expect(described).toMatchObject({
        kind: "rejected",
        reason:
          "the AMQP 1.0 body has no JSON form: the amqp-value is a described value (com.example:reading), which has no JSON form",
      });
      // The rejected message keeps every byte RabbitMQ delivered: the encoded amqp-value section.
      expect(described?.kind === "rejected" && Buffer.from(described.payload).subarray(0, 3)).toEqual(
        Buffer.from([0x00, 0x53, 0x77]),
      );
      const [major = 0, minor = 0] = version.split(".").map(Number);
      const mapsProperties = major > 3 || (major === 3 && minor >= 13);
      if (mapsProperties) {
        // 3.13 and later map application properties to headers.
        expect(JSON.parse(text(binary))).toMatchObject({ id: "binary-1", data: { quantity: 3 } });
      } else {
        // Before 3.13 they reach AMQP 0-9-1 consumers encoded, in a header amqplib reads as text.
        expect(binary).toMatchObject({
          kind: "rejected",
          reason: expect.stringContaining("Fix: RabbitMQ 3.13 or later"),
        });
        expect(text(binary)).toBe('{"quantity":3}');
      }
      expect(src.stats().rejected_at_source).toBe(mapsProperties ? 1 : 2);
    } finally {
      await src.stop();
    }
  });
});
