// Every MQTT client of the sidecar against a real Mosquitto that requires a
// client certificate (mTLS): the JSON source, the Sparkplug host, the MQTT
// and the Sparkplug floor writers. Each connects and moves data with the
// connection's CA and client certificate, and each is refused — with the
// connection field to fix in the message — without a client certificate,
// with one the broker's CA did not issue, and when it cannot trust the
// broker; with verification off it accepts an unknown broker CA.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { createTestCa, type PemPair, type TestCa } from "../../devstack/mqtt-pki.ts";
import { FloorWriteError } from "../floor/errors.ts";
import { MqttFloorWriter } from "../floor/mqtt-writer.ts";
import { SparkplugFloorWriter, sparkplugCodec } from "../floor/sparkplug-writer.ts";
import { VersionStore } from "../floor/version-store.ts";
import { Pipeline } from "../pipeline.ts";
import { MqttSource } from "../sources/mqtt.ts";
import { encodeSparkplug } from "../sources/sparkplug/payload.ts";
import { SparkplugSource } from "../sources/sparkplug/source.ts";
import { SqliteSpool } from "../spool/sqlite-spool.ts";
import { OffsetEstimator, SkewTracker } from "./clock.ts";
import type { SidecarConfig } from "./contract.ts";
import type { MqttTlsError, MqttTlsSettings } from "./mqtt-tls.ts";
import type { DispatchMessage } from "./ports.ts";

let ca: TestCa;
let rogueCa: TestCa;
let broker: MosquittoBroker;
let sidecarCert: PemPair;
let strangerCert: PemPair;
/** A subscriber/publisher of the plant, itself on mTLS. */
let observer: MqttClient;
let dir: string;
let n = 0;

const config = {
  code: "tls",
  revision: 1,
  skew: { bound_ms: 0, correct: false },
  sources: [],
} as unknown as SidecarConfig;

/** The connection's mqtt block as Odoo sends it, with a client certificate. */
const good = (): MqttTlsSettings => ({
  ca: ca.cert,
  reject_unauthorized: true,
  client_cert: sidecarCert.cert,
  client_key: sidecarCert.key,
});

/** What a misconfigured connection looks like, and the field its message must name. */
const refusals = (): [string, () => MqttTlsSettings, RegExp][] => [
  [
    "without a client certificate: the broker refuses, fix mqtt_client_cert",
    () => ({ ...good(), client_cert: "", client_key: "" }),
    /requires a client certificate and mqtt_client_cert is empty/,
  ],
  [
    "with a client certificate the broker's CA did not issue: fix mqtt_client_cert",
    () => ({ ...good(), client_cert: strangerCert.cert, client_key: strangerCert.key }),
    /refused the client certificate in mqtt_client_cert/,
  ],
  [
    "verifying the broker against an unknown CA: refused, fix mqtt_ca",
    () => ({ ...good(), ca: rogueCa.cert }),
    /broker's certificate is not signed by the CA in mqtt_ca/,
  ],
  [
    "verifying the broker against the system store (mqtt_ca empty): refused, fix mqtt_ca",
    () => ({ ...good(), ca: "" }),
    /a CA of the system store \(mqtt_ca is empty\)/,
  ],
];

/** An unknown broker CA is accepted only when the admin turned verification off. */
const unverified = (): MqttTlsSettings => ({ ...good(), ca: rogueCa.cert, reject_unauthorized: false });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-mqtt-tls-"));
  ca = createTestCa("plant-ca");
  rogueCa = createTestCa("rogue-ca");
  const server = ca.server();
  sidecarCert = ca.client("sidecar");
  strangerCert = rogueCa.client("stranger");
  const observerCert = ca.client("observer");
  broker = await startMosquitto({
    tls: {
      caFile: ca.certFile,
      certFile: server.certFile,
      keyFile: server.keyFile,
      requireCertificate: true,
      useIdentityAsUsername: true,
    },
  });
  observer = await mqtt.connectAsync(broker.tlsUrl, {
    clientId: `tls-observer-${process.pid}`,
    ca: ca.cert,
    cert: observerCert.cert,
    key: observerCert.key,
    reconnectPeriod: 0,
  });
});

afterAll(async () => {
  await observer?.endAsync(true);
  await broker?.destroy();
  ca?.destroy();
  rogueCa?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the first message on `topic` the observer sees (retained ones included) that `wanted` accepts. */
async function nextMessage(topic: string, wanted: (payload: Buffer) => boolean = () => true): Promise<Buffer> {
  const timeoutMs = 5_000;
  const got = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => {
      observer.off("message", onMessage);
      reject(new Error(`nothing on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic || !wanted(payload)) return;
      clearTimeout(timer);
      observer.off("message", onMessage);
      resolve(payload);
    };
    observer.on("message", onMessage);
  });
  await observer.subscribeAsync(topic, { qos: 1 });
  try {
    return await got;
  } finally {
    await observer.unsubscribeAsync(topic);
  }
}

function spoolSink() {
  const spool = new SqliteSpool({ path: ":memory:" });
  const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config });
  return { spool, pipeline };
}

async function rejection(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a refusal, it connected");
}

describe("MQTT JSON source over mTLS", () => {
  async function ingests(tls: MqttTlsSettings): Promise<void> {
    const { spool, pipeline } = spoolSink();
    const source = new MqttSource({
      url: broker.tlsUrl,
      topics: ["shopfloor/#"],
      clientId: `tls-source-${process.pid}-${++n}`,
      tls,
      reconnectPeriodMs: 200,
    });
    await source.start(pipeline);
    try {
      expect(source.connected).toBe(true);
      const id = `tls-${n}`;
      const event = {
        specversion: "1.0",
        id,
        source: "press-1",
        type: "downtime.started",
        time: new Date().toISOString(),
        data: { reason_code: "JAM" },
      };
      await observer.publishAsync("shopfloor/tls/press-1", JSON.stringify(event), { qos: 1 });
      await expect
        .poll(async () => (await spool.queued(10)).map((entry) => entry.item.id), { timeout: 10_000 })
        .toContain(id);
    } finally {
      await source.stop();
      await spool.close();
    }
  }

  it("with the connection's CA and client certificate: a published CloudEvent reaches the spool", async () => {
    await ingests(good());
  });

  it("with mqtt_reject_unauthorized off: an unknown broker CA is accepted", async () => {
    await ingests(unverified());
  });

  for (const [name, settings, message] of refusals()) {
    it(`${name}; start() rejects and leaves no client reconnecting`, async () => {
      const source = new MqttSource({
        url: broker.tlsUrl,
        topics: ["shopfloor/#"],
        clientId: `tls-source-${process.pid}-${++n}`,
        tls: settings(),
        reconnectPeriodMs: 200,
        onError: () => errors++,
      });
      let errors = 0;
      const err = await rejection(() => source.start(spoolSink().pipeline));
      expect(err.name).toBe("MqttTlsError");
      expect(err.message).toMatch(message);
      expect(source.connected).toBe(false);
      // A client left behind would retry every 200 ms and fail the same way.
      const seen = errors;
      await new Promise((r) => setTimeout(r, 1_000));
      expect(errors).toBe(seen);
    });
  }

  it("mqtt:// on the TLS port and mqtts:// on the plain port: the reset is asked about, naming mqtt_url", async () => {
    const source = (url: string, tls?: MqttTlsSettings) =>
      new MqttSource({
        url,
        topics: ["shopfloor/#"],
        clientId: `tls-mixup-${process.pid}-${++n}`,
        tls,
        reconnectPeriodMs: 200,
      });
    const plainOnTls = await rejection(() =>
      source(broker.tlsUrl.replace("mqtts:", "mqtt:")).start(spoolSink().pipeline),
    );
    expect(plainOnTls.name).toBe("MqttTlsError");
    expect((plainOnTls as MqttTlsError).field).toBe("mqtt_url");
    expect(plainOnTls.message).toMatch(/:\d+ speaks TLS, and mqtt_url is plain mqtt:\/\/: use mqtts:\/\//);
    const tlsOnPlain = await rejection(() =>
      source(broker.url.replace("mqtt:", "mqtts:"), good()).start(spoolSink().pipeline),
    );
    expect((tlsOnPlain as MqttTlsError).field).toBe("mqtt_url");
    expect(tlsOnPlain.message).toMatch(/speaks plain MQTT, without TLS, and mqtt_url is mqtts:\/\/: use mqtt:\/\//);
  });

  it("certificates on an mqtt:// URL: start() says TLS needs mqtts://", async () => {
    const source = new MqttSource({
      url: broker.url,
      topics: ["shopfloor/#"],
      clientId: `tls-plain-${n}`,
      tls: good(),
    });
    const err = await rejection(() => source.start(spoolSink().pipeline));
    expect(err.message).toMatch(/mqtt_url mqtt:\/\/127\.0\.0\.1:\d+ is plain MQTT.*TLS needs mqtts:\/\//);
  });
});

describe("Sparkplug host over mTLS", () => {
  async function ingests(tls: MqttTlsSettings): Promise<void> {
    const { spool, pipeline } = spoolSink();
    const group = `TlsPlant${++n}`;
    const edge = "Line1";
    const hostId = `tls-host-${n}`;
    const source = new SparkplugSource({
      connection: "tls",
      revision: 1,
      url: broker.tlsUrl,
      groupId: group,
      hostId,
      clientId: `tls-host-${process.pid}-${n}`,
      tls,
      rules: [
        {
          id: 1,
          kind: "trigger",
          address: `${group}/${edge}//Jam`,
          protocol: "sparkplug",
          source: "line1/press-1",
          event_type: "downtime.started",
          params: { static: { reason_code: "JAM" } },
        },
      ],
    });
    // The host's retained online STATE proves it published over mTLS.
    const state = nextMessage(`spBv1.0/STATE/${hostId}`);
    await source.start(pipeline);
    try {
      expect(JSON.parse((await state).toString())).toMatchObject({ online: true });
      const publish = (kind: "NBIRTH" | "NDATA", seq: number, jam: boolean) =>
        observer.publishAsync(
          `spBv1.0/${group}/${kind}/${edge}`,
          Buffer.from(
            encodeSparkplug({
              timestamp: Date.now(),
              seq,
              metrics: [
                ...(kind === "NBIRTH" ? [{ name: "bdSeq", type: "UInt64", value: 0 }] : []),
                { name: "Jam", type: "Boolean", value: jam },
              ],
            }),
          ),
          { qos: 0 },
        );
      await publish("NBIRTH", 0, false);
      await publish("NDATA", 1, true);
      await expect
        .poll(async () => (await spool.queued(10)).map((entry) => (entry.item as { type?: string }).type), {
          timeout: 10_000,
        })
        .toContain("downtime.started");
    } finally {
      await source.stop();
      await spool.close();
    }
  }

  it("with the connection's CA and client certificate: announces itself and a metric's event reaches the spool", async () => {
    await ingests(good());
  });

  it("with mqtt_reject_unauthorized off: an unknown broker CA is accepted", async () => {
    await ingests(unverified());
  });

  for (const [name, settings, message] of refusals()) {
    it(`${name}; start() rejects at once and leaves no client reconnecting`, async () => {
      const source = new SparkplugSource({
        connection: "tls",
        revision: 1,
        url: broker.tlsUrl,
        groupId: "TlsRefused",
        hostId: `tls-refused-${++n}`,
        clientId: `tls-refused-${process.pid}-${n}`,
        tls: settings(),
        rules: [],
        log: (level) => level === "error" && errors++,
      });
      let errors = 0;
      const started = Date.now();
      const err = await rejection(() => source.start(spoolSink().pipeline));
      expect(err.name).toBe("MqttTlsError");
      expect(err.message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(10_000);
      // No client left behind retrying (every second) and failing the same way.
      const seen = errors;
      await new Promise((r) => setTimeout(r, 1_500));
      expect(errors).toBe(seen);
      await source.stop();
    });
  }

  it("mqtts:// on the plain port: start() rejects naming mqtt_url, before its 30 s wait", async () => {
    const source = new SparkplugSource({
      connection: "tls",
      revision: 1,
      url: broker.url.replace("mqtt:", "mqtts:"),
      groupId: "TlsMixup",
      hostId: `tls-mixup-${++n}`,
      clientId: `tls-mixup-${process.pid}-${n}`,
      tls: good(),
      rules: [],
    });
    const started = Date.now();
    const err = await rejection(() => source.start(spoolSink().pipeline));
    expect((err as MqttTlsError).field).toBe("mqtt_url");
    expect(err.message).toMatch(/speaks plain MQTT, without TLS/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await source.stop();
  });

  it("reads the TLS settings from sidecar_config's mqtt block", async () => {
    const { sparkplugOptionsFromConfig } = await import("../sources/sparkplug/source.ts");
    const mqttBlock = {
      url: broker.tlsUrl,
      topics: [],
      client_id: "",
      protocol_version: 4 as const,
      username: "",
      password: "",
      ...good(),
    } as Exclude<SidecarConfig["mqtt"], false>;
    const options = sparkplugOptionsFromConfig({
      ...config,
      kind: "sparkplug",
      mqtt: mqttBlock,
      sparkplug: { group_id: "G", host_id: "h" },
      rules: [],
    });
    expect(options.tls).toMatchObject({ client_cert: sidecarCert.cert, client_key: sidecarCert.key, ca: ca.cert });
  });
});

function queueMessage(workcenter: string, version: number, target: DispatchMessage["target"]): DispatchMessage {
  return {
    id: ++n,
    workcenter,
    version,
    target,
    payload: {
      workcenter,
      version,
      depth: 1,
      queue: [
        {
          slot: 0,
          order: `WO-${version}`,
          workorder: `WO-${version} - Assembly`,
          product: "[P0] Product",
          qty: 10,
          uom: "Units",
          priority: 1,
          start: new Date().toISOString(),
        },
      ],
    },
  };
}

describe("MQTT floor writer over mTLS", () => {
  const writer = (tls: MqttTlsSettings) =>
    new MqttFloorWriter({
      versions: new VersionStore(join(dir, `mqtt-${++n}`)),
      defaultUrl: broker.tlsUrl,
      tls,
      timeoutMs: 5_000,
    });

  async function writes(tls: MqttTlsSettings): Promise<void> {
    const floor = writer(tls);
    const topic = `shopfloor/dispatch/WC-TLS-${n}/queue`;
    try {
      await floor.write(queueMessage(`WC-TLS-${n}`, 7, { kind: "mqtt", params: { topic } }));
      const retained = JSON.parse((await nextMessage(topic)).toString());
      expect(retained).toMatchObject({ version: 7 });
    } finally {
      await floor.close();
    }
  }

  it("with the connection's CA and client certificate: the retained queue reaches an mTLS subscriber", async () => {
    await writes(good());
  });

  it("with mqtt_reject_unauthorized off: an unknown broker CA is accepted", async () => {
    await writes(unverified());
  });

  for (const [name, settings, message] of refusals()) {
    it(`${name}; the write fails with that message (the dispatch message's error in Odoo)`, async () => {
      const floor = writer(settings());
      try {
        const err = await rejection(() =>
          floor.write(queueMessage("WC-TLS", 1, { kind: "mqtt", params: { topic: "shopfloor/dispatch/x" } })),
        );
        expect(err).toBeInstanceOf(FloorWriteError);
        expect(err.message).toMatch(message);
        expect(err.message).not.toMatch(/not reachable within/);
      } finally {
        await floor.close();
      }
    });
  }

  it("a floor target with its own mqtt:// url while the connection has certificates: fails for a person, naming it", async () => {
    const floor = writer(good());
    const err = await rejection(() =>
      floor.write(queueMessage("WC-TLS", 1, { kind: "mqtt", params: { topic: "t/q", url: broker.url } })),
    );
    expect(err).toBeInstanceOf(FloorWriteError);
    expect((err as FloorWriteError).retryable).toBe(false);
    expect(err.message).toMatch(/the floor target's url mqtt:\/\/127\.0\.0\.1:\d+ is plain MQTT.*TLS needs mqtts:\/\//);
    await floor.close();
  });

  it("a floor target whose mqtt:// url names the TLS port: fails for a person, naming mqtt_url, not retried", async () => {
    const floor = new MqttFloorWriter({ versions: new VersionStore(join(dir, `mqtt-${++n}`)), timeoutMs: 5_000 });
    const url = broker.tlsUrl.replace("mqtts:", "mqtt:");
    const err = await rejection(() =>
      floor.write(queueMessage("WC-TLS", 1, { kind: "mqtt", params: { topic: "t/q", url } })),
    );
    expect(err).toBeInstanceOf(FloorWriteError);
    expect((err as FloorWriteError).retryable).toBe(false);
    expect(err.message).toMatch(/speaks TLS, and mqtt_url is plain mqtt:\/\/: use mqtts:\/\//);
    await floor.close();
  });

  it("a floor target with its own mqtts:// url connects with the connection's TLS settings", async () => {
    const floor = new MqttFloorWriter({ versions: new VersionStore(join(dir, `mqtt-${++n}`)), tls: good() });
    const topic = `shopfloor/dispatch/own-url-${n}/queue`;
    try {
      await floor.write(queueMessage("WC-OWN", 3, { kind: "mqtt", params: { topic, url: broker.tlsUrl } }));
      expect(JSON.parse((await nextMessage(topic)).toString())).toMatchObject({ version: 3 });
    } finally {
      await floor.close();
    }
  });
});

describe("Sparkplug floor writer over mTLS", () => {
  const writer = (tls: MqttTlsSettings) =>
    new SparkplugFloorWriter({
      versions: new VersionStore(join(dir, `spb-${++n}`)),
      defaultUrl: broker.tlsUrl,
      tls,
      timeoutMs: 5_000,
    });

  async function births(tls: MqttTlsSettings): Promise<void> {
    const floor = writer(tls);
    const group = `TlsFloor${n}`;
    // The NBIRTH of the connect itself may come first, before the write added WC1's metrics.
    const queueVersion = (payload: Buffer) =>
      sparkplugCodec.decodePayload(payload).metrics?.find((metric) => metric.name === "WC1/Queue/Version");
    const birth = nextMessage(`spBv1.0/${group}/NBIRTH/Edge1`, (payload) => queueVersion(payload) !== undefined);
    try {
      await floor.write(
        queueMessage("WC1", 5, { kind: "sparkplug", params: { group_id: group, edge_node_id: "Edge1" } }),
      );
      expect(Number(queueVersion(await birth)?.value)).toBe(5);
    } finally {
      await floor.close();
    }
  }

  it("with the connection's CA and client certificate: NBIRTH with the queue metrics reaches an mTLS host", async () => {
    await births(good());
  });

  it("with mqtt_reject_unauthorized off: an unknown broker CA is accepted", async () => {
    await births(unverified());
  });

  for (const [name, settings, message] of refusals()) {
    it(`${name}; the write fails with that message`, async () => {
      const floor = writer(settings());
      try {
        const err = await rejection(() =>
          floor.write(queueMessage("WC1", 1, { kind: "sparkplug", params: { group_id: "G", edge_node_id: "E" } })),
        );
        expect(err).toBeInstanceOf(FloorWriteError);
        expect(err.message).toMatch(message);
        expect(err.message).not.toMatch(/not reachable within/);
      } finally {
        await floor.close();
      }
    });
  }

  it("a client certificate without its key: fails for a person, naming mqtt_client_key", async () => {
    const floor = writer({ ...good(), client_key: "" });
    const err = await rejection(() =>
      floor.write(queueMessage("WC1", 1, { kind: "sparkplug", params: { group_id: "G", edge_node_id: "E" } })),
    );
    expect((err as FloorWriteError).retryable).toBe(false);
    expect(err.message).toMatch(/mqtt_client_cert is set but mqtt_client_key is empty/);
    await floor.close();
  });
});
