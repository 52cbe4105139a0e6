import { CloudEvent, MQTT } from "cloudevents";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAedes } from "../../devstack/aedes.ts";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { runPeer } from "../../devstack/python-peers.ts";
import { intakeText, RecordingSink, sourceContract } from "../../test/support/sources/source.contract.ts";
import type { SidecarConfig } from "../core/contract.ts";
import { createSources } from "../main.ts";
import { MqttSource } from "./mqtt.ts";

interface Broker {
  url: string;
  close(): Promise<void>;
}

// aedes speaks MQTT 3.1.1 only (it refuses a v5 CONNECT); Mosquitto speaks both.
const brokers: [string, () => Promise<Broker>, (4 | 5)[]][] = [
  ["aedes", startAedes, [4]],
  [
    "Mosquitto",
    async () => {
      const m: MosquittoBroker = await startMosquitto();
      return { url: m.url, close: () => m.destroy() };
    },
    [4, 5],
  ],
];

for (const [brokerName, start, versions] of brokers) {
  for (const protocolVersion of versions) {
    describe(`MqttSource on ${brokerName}, MQTT ${protocolVersion === 5 ? "5" : "3.1.1"}`, () => {
      let broker: Broker;
      let publisher: MqttClient;
      const clientId = `sfb-contract-${brokerName}-${protocolVersion}-${process.pid}`;
      beforeAll(async () => {
        broker = await start();
        publisher = await mqtt.connectAsync(broker.url, { clientId: `${clientId}-pub` });
      });
      afterAll(async () => {
        await publisher?.endAsync();
        await broker?.close();
      });

      const topic = "shopfloor/contract/press-1";
      sourceContract(
        `MqttSource (${brokerName}, v${protocolVersion})`,
        async () => new MqttSource({ url: broker.url, topics: ["shopfloor/#"], clientId, protocolVersion }),
        async (marker) => {
          await publisher.publishAsync(topic, marker, { qos: 1 });
        },
        { redeliversUncommitted: true },
      );

      it("raw intakes say they came by MQTT, with MQTT 5 user properties as their headers", async () => {
        const sink = new RecordingSink();
        const source = new MqttSource({
          url: broker.url,
          topics: ["shopfloor/#", "kepware/#"],
          clientId: `${clientId}-via`,
          protocolVersion,
        });
        await source.start(sink);
        try {
          const properties = { userProperties: { line: "L1", tag: ["a", "b"] } };
          const client = await mqtt.connectAsync(broker.url, { clientId: `${clientId}-via-pub`, protocolVersion });
          await client.publishAsync("kepware/line1", "{}", {
            qos: 1,
            ...(protocolVersion === 5 ? { properties } : {}),
          });
          await client.endAsync();
          await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(1);
          const [intake] = sink.committed;
          expect(intake).toMatchObject({ kind: "raw", origin: "kepware/line1" });
          const via = intake?.kind === "raw" ? intake.via : undefined;
          expect(via).toEqual(
            protocolVersion === 5 ? { transport: "mqtt", headers: { line: "L1", tag: "a, b" } } : { transport: "mqtt" },
          );
        } finally {
          await source.stop();
        }
      });

      // The CloudEvents SDK's MQTT binding writes binary mode as MQTT 5 user
      // properties and the Content Type property; the broker carries them.
      // (Defined for MQTT 5 only: a skipped test fails the tier.)
      if (protocolVersion === 5)
        it("takes the CloudEvents SDK's binary-mode message through the broker as the SDK's event", async () => {
          const sink = new RecordingSink();
          const source = new MqttSource({
            url: broker.url,
            topics: ["shopfloor/#"],
            clientId: `${clientId}-ce`,
            protocolVersion,
          });
          await source.start(sink);
          try {
            const event = new CloudEvent({
              id: "sdk-binary-1",
              source: "plant/press-1",
              type: "production.reported",
              time: "2026-12-02T08:00:00.000Z",
              datacontenttype: "application/json",
              data: { order: "WH/MO/00042", qty_good: 3 },
              line: "L1",
            });
            const message = MQTT.binary(event);
            const userProperties: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers)) if (v !== undefined) userProperties[k] = String(v);
            const client = await mqtt.connectAsync(broker.url, { clientId: `${clientId}-ce-pub`, protocolVersion });
            await client.publishAsync("shopfloor/ce/press-1", JSON.stringify(message.body), {
              qos: 1,
              properties: { userProperties, contentType: message.PUBLISH?.["Content Type"] as string },
            });
            await client.endAsync();
            await expect.poll(() => sink.committed.length, { timeout: 5_000 }).toBe(1);
            const [intake] = sink.committed;
            expect(intake?.kind).toBe("raw");
            const got = JSON.parse(Buffer.from(intake?.kind === "raw" ? intake.payload : []).toString("utf8"));
            expect(got).toEqual(JSON.parse(JSON.stringify(event.toJSON())));
          } finally {
            await source.stop();
          }
        });

      it("reads what Eclipse Paho (Python) publishes at QoS 0, 1 and 2, with its MQTT 5 properties", async () => {
        const sink = new RecordingSink();
        const source = new MqttSource({
          url: broker.url,
          topics: ["paho/#"],
          clientId: `${clientId}-paho`,
          protocolVersion,
        });
        await source.start(sink);
        try {
          const v5 = protocolVersion === 5;
          const event = { specversion: "1.0", source: "plant/press-1", type: "production.reported" };
          const messages: object[] = [0, 1, 2].map((qos) => ({
            topic: "paho/structured",
            payload: JSON.stringify({ ...event, id: `paho-qos${qos}` }),
            qos,
          }));
          if (v5) {
            // Binary mode: the attributes as user properties, the Content Type property, the data as payload.
            messages.push({
              topic: "paho/binary",
              payload: '{"qty": 2.50}',
              qos: 2,
              content_type: "application/json",
              payload_format_indicator: 1,
              user_properties: [
                ["specversion", "1.0"],
                ["id", "paho-binary"],
                ["source", "plant/press-1"],
                ["type", "production.reported"],
                ["line", "L1"],
              ],
            });
            // An attribute sent twice cannot be one value: rejected, naming it.
            messages.push({
              topic: "paho/binary",
              payload: "{}",
              qos: 1,
              user_properties: [
                ["specversion", "1.0"],
                ["id", "a"],
                ["id", "b"],
                ["source", "s"],
                ["type", "t"],
              ],
            });
          }
          const { hostname, port } = new URL(broker.url);
          // aedes runs in this process: the peer runs beside it, not blocking it.
          const run = await runPeer("paho_publish.py", [hostname, port, String(protocolVersion)], messages);
          expect(run.code, run.stderr.slice(-2_000)).toBe(0);
          await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(messages.length);
          const texts = sink.committed.map((i) => (i.kind !== "event" ? Buffer.from(i.payload).toString() : ""));
          expect(texts.slice(0, 3).map((t) => JSON.parse(t).id)).toEqual(["paho-qos0", "paho-qos1", "paho-qos2"]);
          if (v5) {
            expect(texts[3]).toBe(
              '{"specversion":"1.0","id":"paho-binary","source":"plant/press-1","type":"production.reported","line":"L1","datacontenttype":"application/json","data":{"qty": 2.50}}',
            );
            expect(sink.committed[4]).toMatchObject({
              kind: "rejected",
              reason: expect.stringMatching(/user property id.*sent more than once/),
            });
          }
        } finally {
          await source.stop();
        }
      });

      it("pauses reading when maxInFlight commits are pending and resumes without loss", async () => {
        const sink = new RecordingSink();
        const source = new MqttSource({
          url: broker.url,
          topics: ["shopfloor/#"],
          clientId: `${clientId}-bp`,
          protocolVersion,
          maxInFlight: 5,
        });
        await source.start(sink);
        try {
          sink.block();
          for (let i = 0; i < 40; i++) await publisher.publishAsync("shopfloor/bp/x", `bp-${i}`, { qos: 1 });
          // Messages parsed together go to the sink in one accept: count messages, not calls.
          await expect.poll(() => sink.acceptingItems, { timeout: 5_000 }).toBe(5);
          await new Promise((r) => setTimeout(r, 200));
          expect(sink.acceptingItems).toBe(5);
          expect(source.stats().inFlight).toBe(5);
          expect(source.stats().paused).toBeGreaterThan(0);
          sink.release();
          await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(40);
          const got = sink.committed.map((i) => (i.kind === "raw" ? Buffer.from(i.payload).toString() : ""));
          expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `bp-${i}`));
        } finally {
          sink.release();
          await source.stop();
        }
      });
    });
  }
}

describe("topic filters a broker does not take", () => {
  const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Parameters<typeof createSources>[1];
  const config = (url: string, topics: string[]) =>
    ({
      code: "filters",
      kind: "mqtt",
      revision: 1,
      rules: [],
      mqtt: { url, topics, client_id: `sfb-filters-${process.pid}-${topics.length}`, protocol_version: 4 },
    }) as unknown as SidecarConfig;

  it("Mosquitto: one control character or misplaced wildcard no longer silences the connection's other filters", async () => {
    const broker = await startMosquitto();
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `filters-pub-${process.pid}` });
    try {
      // What the check rests on: Mosquitto drops a client whose SUBSCRIBE holds a control character.
      const raw = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      await expect(raw.subscribeAsync(["shopfloor/ok/#", "shopfloor/press\u0001/#"], { qos: 1 })).rejects.toThrow(
        "Connection closed",
      );
      await raw.endAsync(true);
      // As an Odoo that did not check them sends them: the sidecar reads the good filter, and says
      // which it left out and why.
      const errors: string[] = [];
      const log = { ...silent, error: (fields: { err?: string }) => errors.push(String(fields.err)) };
      const topics = ["shopfloor/ok/#", "shopfloor/press\u0001/#", "plant1/line+/count"];
      const [source] = await createSources(config(broker.url, topics), log as typeof silent, "/nonexistent");
      if (!(source instanceof MqttSource)) throw new Error("no MQTT source");
      const sink = new RecordingSink();
      await source.start(sink);
      try {
        await expect
          .poll(
            async () => {
              await publisher.publishAsync("shopfloor/ok/press-1", "filters-ok", { qos: 1 });
              return sink.has("filters-ok");
            },
            { timeout: 10_000, interval: 300 },
          )
          .toBe(true);
        expect(source.stats().connects).toBe(1);
        expect(source.stats().refused_filters).toBe(2);
        expect(source.warning).toMatch(/^2 topic filters are not subscribed: a topic filter may not hold a control/);
        expect(source.warning).toContain("(here U+0001)");
        expect(source.warning).toContain('"+" must be a whole level: plant1/line+/count');
        expect(errors).toHaveLength(2);
      } finally {
        await source.stop();
      }
      // Nothing left to read: no source, and the reason for /healthz and Odoo's dashboard.
      const notMade: string[] = [];
      const none = await createSources(config(broker.url, ["a\u0085b"]), silent, "/nonexistent", {
        onSourceNotMade: (reason) => notMade.push(reason),
      });
      expect(none).toEqual([]);
      expect(notMade[0]).toMatch(/^no topic filter a broker takes: .*\(here U\+0085\)/);
    } finally {
      await publisher.endAsync();
      await broker.destroy();
    }
  });

  it("aedes: a filter the broker refuses in its SUBACK is named, and the others are read", async () => {
    const broker = await startAedes();
    // An ACL as brokers with one answer: SUBACK 0x80 for the filter it refuses.
    broker.broker.authorizeSubscribe = (_client, subscription, callback) =>
      callback(null, subscription.topic.startsWith("secret/") ? null : subscription);
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `suback-pub-${process.pid}` });
    const errors: string[] = [];
    const source = new MqttSource({
      url: broker.url,
      topics: ["shopfloor/#", "secret/#"],
      clientId: `sfb-suback-${process.pid}`,
      onError: (err) => errors.push(err.message),
    });
    const sink = new RecordingSink();
    try {
      await source.start(sink);
      await expect.poll(() => source.warning, { timeout: 5_000 }).not.toBe("");
      expect(source.warning).toBe(
        '1 topic filter is not subscribed: the broker refused topic filter "secret/#" (SUBACK 0x80: unspecified error)',
      );
      expect(errors).toEqual([
        'the broker refused topic filter "secret/#" (SUBACK 0x80: unspecified error): fix it on the connection in Odoo',
      ]);
      await publisher.publishAsync("shopfloor/suback/press-1", "suback-ok", { qos: 1 });
      await expect.poll(() => sink.has("suback-ok"), { timeout: 5_000 }).toBe(true);
    } finally {
      await source.stop();
      await publisher.endAsync();
      await broker.close();
    }
  });
});

describe("PUBACK only after the spool commit (Mosquitto)", () => {
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await mqtt.connectAsync(broker.url, { clientId: "puback-pub" });
  });
  afterAll(async () => {
    await publisher?.endAsync();
    await broker?.destroy();
  });

  it("a plain MQTT.js client acks before its handler: killed mid-handler, the message is lost", async () => {
    // The loss window this source closes, shown on the same broker.
    const opts = { clientId: "plain-sub", clean: false, reconnectPeriod: 0 } as const;
    const plain = await mqtt.connectAsync(broker.url, opts);
    await plain.subscribeAsync("shopfloor/#", { qos: 1 });
    const seen = new Promise<void>((r) => plain.once("message", () => r()));
    await publisher.publishAsync("shopfloor/plain", "lost-1", { qos: 1 });
    await seen;
    await new Promise((r) => setTimeout(r, 100));
    await new Promise<void>((r) => plain.end(true, {}, () => r()));
    const again = await mqtt.connectAsync(broker.url, opts);
    const got: string[] = [];
    again.on("message", (_t, p) => got.push(p.toString()));
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toEqual([]);
    await again.endAsync();
  });

  it("killed between receive and commit, the broker redelivers; committed messages are not redelivered", async () => {
    const clientId = "sfb-puback-proof";
    const first = new RecordingSink();
    const source = new MqttSource({ url: broker.url, topics: ["shopfloor/#"], clientId });
    await source.start(first);
    await publisher.publishAsync("shopfloor/p", "committed-1", { qos: 1 });
    await expect.poll(() => first.has("committed-1")).toBe(true);
    await expect.poll(() => source.stats().acked).toBe(1);
    first.block();
    await publisher.publishAsync("shopfloor/p", "uncommitted-2", { qos: 1 });
    await expect.poll(() => first.accepting).toBe(1);
    await source.abort();
    first.release();
    expect(source.stats().acked).toBe(1);

    const second = new RecordingSink();
    const restarted = new MqttSource({ url: broker.url, topics: ["shopfloor/#"], clientId });
    await restarted.start(second);
    await expect.poll(() => second.has("uncommitted-2"), { timeout: 10_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.has("committed-1")).toBe(false);
    await restarted.stop();
  });

  it("a failed commit sends no PUBACK: the connection is dropped and the broker redelivers the batch", async () => {
    const sink = new RecordingSink();
    let failures = 1;
    const failingOnce = {
      accept: (items: Parameters<RecordingSink["accept"]>[0]) =>
        failures-- > 0 ? Promise.reject(new Error("disk full")) : sink.accept(items),
      loadState: (prefix: string) => sink.loadState(prefix),
    };
    const errors: string[] = [];
    const source = new MqttSource({
      url: broker.url,
      topics: ["shopfloor/#"],
      clientId: "sfb-failed-commit",
      reconnectPeriodMs: 100,
      onError: (err) => errors.push(err.message),
    });
    await source.start(failingOnce);
    try {
      await publisher.publishAsync("shopfloor/f", "after-a-failed-commit", { qos: 1 });
      await expect.poll(() => sink.has("after-a-failed-commit"), { timeout: 10_000 }).toBe(true);
      expect(source.stats().commitErrors).toBe(1);
      expect(source.stats().connects).toBeGreaterThanOrEqual(2);
      expect(errors.some((e) => e.includes("disk full"))).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it("takes a broker that stops answering (frozen with SIGSTOP) for gone, and gets what came meanwhile", async () => {
    // A frozen host or VM: its port stays open, nothing is refused or reset, nothing answered.
    const clientId = "sfb-frozen";
    const sink = new RecordingSink();
    const errors: string[] = [];
    const source = new MqttSource({
      url: broker.url,
      topics: ["shopfloor/#"],
      clientId,
      keepaliveSeconds: 1,
      reconnectPeriodMs: 200,
      connectTimeoutMs: 2_000,
      onError: (err) => errors.push(err.message),
    });
    await source.start(sink);
    try {
      await publisher.publishAsync("shopfloor/f", "before-the-freeze", { qos: 1 });
      await expect.poll(() => sink.has("before-the-freeze")).toBe(true);
      broker.freeze();
      let published: Promise<unknown> = Promise.resolve();
      try {
        await expect.poll(() => source.connected, { timeout: 10_000 }).toBe(false);
        // Taken by the kernel while the broker is frozen; read by it, and queued for the session, once it runs.
        published = publisher.publishAsync("shopfloor/f", "while-frozen", { qos: 1 });
      } finally {
        broker.thaw();
      }
      await published;
      await expect
        .poll(() => sink.committed.map(intakeText), { timeout: 15_000 })
        .toEqual(["before-the-freeze", "while-frozen"]);
      await expect.poll(() => source.connected, { timeout: 10_000 }).toBe(true);
      expect(errors.join("\n")).toMatch(/[Kk]eepalive/);
    } finally {
      await source.stop();
    }
  });

  it("the keepalive set on the connection in Odoo (keepalive_s) is the one a frozen broker is noticed by", async () => {
    const warned: string[] = [];
    const quiet = () => {};
    const log = {
      info: quiet,
      error: quiet,
      debug: quiet,
      warn: (fields: { err?: string }) => warned.push(String(fields.err)),
    } as unknown as Parameters<typeof createSources>[1];
    const config = {
      code: "keepalive",
      kind: "mqtt",
      revision: 1,
      rules: [],
      mqtt: {
        url: broker.url,
        topics: ["shopfloor/#"],
        client_id: "sfb-keepalive",
        protocol_version: 5,
        keepalive_s: 1,
      },
    } as unknown as SidecarConfig;
    const [source] = await createSources(config, log, "/nonexistent");
    if (!(source instanceof MqttSource)) throw new Error("no MQTT source");
    const sink = new RecordingSink();
    await source.start(sink);
    try {
      await publisher.publishAsync("shopfloor/k", "before-the-freeze", { qos: 1 });
      await expect.poll(() => sink.has("before-the-freeze")).toBe(true);
      broker.freeze();
      try {
        // 1 s between pings: gone within seconds (the default 60 s would take a minute and a half).
        await expect.poll(() => source.connected, { timeout: 10_000 }).toBe(false);
      } finally {
        broker.thaw();
      }
      await expect.poll(() => source.connected, { timeout: 20_000 }).toBe(true);
      await publisher.publishAsync("shopfloor/k", "after-the-thaw", { qos: 1 });
      await expect.poll(() => sink.has("after-the-thaw"), { timeout: 10_000 }).toBe(true);
      expect(warned.join("\n")).toMatch(/[Kk]eepalive/);
    } finally {
      await source.stop();
    }
  });

  it("an MQTT 5 shared subscription ($share/…) gives each message to one of two sidecars, every one once", async () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    const sources = sinks.map(
      (_sink, i) =>
        new MqttSource({
          url: broker.url,
          topics: ["$share/sfb/shared/#"],
          clientId: `sfb-shared-${i}`,
          protocolVersion: 5,
        }),
    );
    for (const [i, source] of sources.entries()) await source.start(sinks[i] as RecordingSink);
    try {
      for (let i = 0; i < 100; i++) await publisher.publishAsync("shared/line1", `s-${i}`, { qos: 1 });
      const all = () => sinks.flatMap((sink) => sink.committed.map(intakeText));
      await expect.poll(() => all().length, { timeout: 10_000 }).toBe(100);
      expect(new Set(all()).size).toBe(100);
      // Both took a share: the broker spreads the group's messages over its members.
      for (const sink of sinks) expect(sink.committed.length).toBeGreaterThan(0);
    } finally {
      for (const source of sources) await source.stop();
    }
  });

  it("keeps the persistent session across a broker restart and gets what was published meanwhile", async () => {
    const clientId = "sfb-restart";
    const sink = new RecordingSink();
    const source = new MqttSource({ url: broker.url, topics: ["shopfloor/#"], clientId, reconnectPeriodMs: 200 });
    await source.start(sink);
    await publisher.publishAsync("shopfloor/r", "before", { qos: 1 });
    await expect.poll(() => sink.has("before")).toBe(true);
    await source.stop();
    const offline = await mqtt.connectAsync(broker.url, { clientId: "restart-pub" });
    for (let i = 0; i < 20; i++) await offline.publishAsync("shopfloor/r", `while-down-${i}`, { qos: 1 });
    await offline.endAsync();
    await broker.stop("SIGTERM");
    await broker.start();
    const again = new MqttSource({ url: broker.url, topics: ["shopfloor/#"], clientId });
    await again.start(sink);
    await expect.poll(() => sink.committed.length, { timeout: 10_000 }).toBe(21);
    await again.stop();
    await publisher.endAsync();
    publisher = await mqtt.connectAsync(broker.url, { clientId: "puback-pub" });
  });
});
