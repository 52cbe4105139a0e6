// The FloorWriter contract against real servers (node-opcua server, aedes
// in-process and Mosquitto), then what only one protocol has: OPC UA status
// codes and read-back, MQTT broker outages, Sparkplug births and rebirths.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAedes } from "../../devstack/aedes.ts";
import { type MosquittoBroker, startMosquitto } from "../../devstack/mosquitto.ts";
import { freePort } from "../../devstack/odoo.ts";
import { readRetained, SparkplugHost } from "../../test/support/floor/floor-readers.ts";
import { floorWriterContract, queueMessage } from "../../test/support/floor/floor-writer.contract.ts";
import { type QueueOpcuaServer, startQueueOpcuaServer } from "../../test/support/floor/queue-opcua-server.ts";
import { FloorWriteError } from "./errors.ts";
import { MqttFloorWriter } from "./mqtt-writer.ts";
import { OpcuaFloorWriter } from "./opcua-writer.ts";
import { SparkplugFloorWriter } from "./sparkplug-writer.ts";
import { VersionStore } from "./version-store.ts";

const DEPTH = 3;

floorWriterContract("OPC UA (node-opcua server)", async () => {
  // One server per contract workcenter (WC1…WC5), each serving its own line's tags.
  const servers = new Map<string, QueueOpcuaServer>();
  for (let n = 1; n <= 5; n++) servers.set(`WC${n}`, await startQueueOpcuaServer({ line: `WC${n}`, depth: DEPTH }));
  const serverOf = (workcenter: string) => {
    const server = servers.get(workcenter);
    if (!server) throw new Error(`no OPC UA server for ${workcenter}`);
    return server;
  };
  return {
    kind: "opcua",
    depth: DEPTH,
    makeWriter: (versions) => new OpcuaFloorWriter({ versions, pkiDir: join(dirname(versions.path), "pki") }),
    targetParams: (workcenter) => serverOf(workcenter).targetParams(),
    readFloor: async (workcenter) => {
      const server = serverOf(workcenter);
      return {
        version: Number(server.value(server.nodeId("version"))),
        orders: Array.from({ length: DEPTH }, (_, slot) => String(server.value(server.nodeId(slot, "order")))),
        priorities: Array.from({ length: DEPTH }, (_, slot) => Number(server.value(server.nodeId(slot, "priority")))),
      };
    },
    close: async () => {
      await Promise.all([...servers.values()].map((s) => s.stop()));
    },
  };
});

function mqttHarness(name: string, startBroker: () => Promise<{ url: string; close(): Promise<void> }>) {
  floorWriterContract(name, async () => {
    const broker = await startBroker();
    return {
      kind: "mqtt",
      depth: DEPTH,
      makeWriter: (versions) => new MqttFloorWriter({ versions, defaultUrl: broker.url }),
      targetParams: (workcenter) => ({ topic: `shopfloor/dispatch/${workcenter}/queue` }),
      readFloor: async (_workcenter, params) => {
        const body = await readRetained(broker.url, String(params.topic));
        if (!body) return { version: 0, orders: [], priorities: [] };
        const doc = JSON.parse(body) as { version: number; queue: { order: string; priority: number }[] };
        const slots = Array.from({ length: DEPTH }, (_, i) => doc.queue[i]);
        return {
          version: doc.version,
          orders: slots.map((e) => e?.order ?? ""),
          priorities: slots.map((e) => e?.priority ?? 0),
        };
      },
      close: broker.close,
    };
  });
}

mqttHarness("MQTT retained (aedes)", startAedes);
mqttHarness("MQTT retained (Mosquitto)", async () => {
  const broker = await startMosquitto();
  return { url: broker.url, close: broker.destroy };
});

floorWriterContract("Sparkplug edge node (Mosquitto)", async () => {
  const broker = await startMosquitto();
  return {
    kind: "sparkplug",
    depth: DEPTH,
    makeWriter: (versions) => new SparkplugFloorWriter({ versions, defaultUrl: broker.url }),
    targetParams: (workcenter) => ({ group_id: "Plant1", edge_node_id: `Dispatch-${workcenter}` }),
    readFloor: async (workcenter, params) => {
      const host = await SparkplugHost.connect(broker.url, "Plant1", String(params.edge_node_id));
      try {
        await host.requestRebirth();
        await host.waitFor(() => host.messages.some((m) => m.type === "NBIRTH"));
        const metric = (name: string) => host.values.get(`${workcenter}/Queue/${name}`);
        return {
          version: Number(metric("Version") ?? 0),
          orders: Array.from({ length: DEPTH }, (_, n) => String(metric(`${n}/Order`) ?? "")),
          priorities: Array.from({ length: DEPTH }, (_, n) => Number(metric(`${n}/Priority`) ?? 0)),
        };
      } finally {
        await host.close();
      }
    },
    close: broker.destroy,
  };
});

describe("OPC UA floor writer: status codes, read-back, outages", () => {
  let server: QueueOpcuaServer;
  let dir: string;
  let writer: OpcuaFloorWriter;

  beforeAll(async () => {
    server = await startQueueOpcuaServer({ line: "Line9", depth: 2, readOnly: ["1/priority"] });
    dir = mkdtempSync(join(tmpdir(), "sfb-opcua-writer-"));
    writer = new OpcuaFloorWriter({ versions: new VersionStore(dir), pkiDir: join(dir, "pki"), timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await writer?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes slot values with the server's data types and verifies them by reading back", async () => {
    const params = { ...server.targetParams(), slots: (server.targetParams().slots as object[]).slice(0, 1) };
    await writer.write(queueMessage("TYPES", 1, ["MO/1"], { kind: "opcua", params }, 2));
    expect(server.value(server.nodeId(0, "qty"))).toBe(10);
    expect((server.value(server.nodeId(0, "start")) as Date).toISOString()).toBe("2026-11-22T08:00:00.000Z");
    expect(JSON.parse(String(server.value(server.nodeId("json")))).queue[0].order).toBe("MO/1");
  });

  it("fails with BadNodeIdUnknown, not retryable, when a node does not exist", async () => {
    const params = { ...server.targetParams(), slots: [{ order: "ns=2;s=[default]Shopfloor/Nowhere/Queue/0/Order" }] };
    const error = (await writer
      .write(queueMessage("BADNODE", 1, ["MO/1"], { kind: "opcua", params }, 1))
      .catch((err: unknown) => err)) as FloorWriteError;
    expect(error).toBeInstanceOf(FloorWriteError);
    expect(error.message).toMatch(/^BadNodeIdUnknown/);
    expect(error.message).toContain("Nowhere/Queue/0/Order");
    expect(error.retryable).toBe(false);
  });

  it("fails with BadUserAccessDenied when the server refuses the write, leaving the version unwritten", async () => {
    const error = (await writer
      .write(queueMessage("DENIED", 3, ["MO/1", "MO/2"], { kind: "opcua", params: server.targetParams() }, 2))
      .catch((err: unknown) => err)) as FloorWriteError;
    expect(error.message).toMatch(/^BadUserAccessDenied/);
    expect(error.retryable).toBe(false);
    expect(server.value(server.nodeId("version"))).not.toBe(3);
  });

  it("fails retryably while the server is down, then writes once it is back", async () => {
    const params = { ...server.targetParams(), slots: (server.targetParams().slots as object[]).slice(0, 1) };
    await server.stop();
    const down = (await writer
      .write(queueMessage("OUTAGE", 4, ["MO/4"], { kind: "opcua", params }, 1))
      .catch((err: unknown) => err)) as FloorWriteError;
    expect(down).toBeInstanceOf(FloorWriteError);
    expect(down.retryable).toBe(true);
    await server.start();
    await writer.write(queueMessage("OUTAGE", 4, ["MO/4"], { kind: "opcua", params }, 1));
    expect(server.value(server.nodeId(0, "order"))).toBe("MO/4");
    expect(server.value(server.nodeId("version"))).toBe(4);
  });
});

describe("MQTT and Sparkplug writers against an outage and a host", () => {
  let broker: MosquittoBroker;
  let dir: string;

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), "sfb-mqtt-writer-"));
  });
  afterAll(async () => {
    await broker?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("MQTT: a write while the broker is down fails retryably; after restart it is retained", async () => {
    const writer = new MqttFloorWriter({
      versions: new VersionStore(join(dir, "mqtt.json")),
      defaultUrl: broker.url,
      timeoutMs: 1_500,
    });
    const target = { kind: "mqtt" as const, params: { topic: "plant/line1/queue" } };
    try {
      await writer.write(queueMessage("WC-M", 1, ["MO/1"], target, 2));
      await broker.stop();
      const down = (await writer
        .write(queueMessage("WC-M", 2, ["MO/2"], target, 2))
        .catch((e: unknown) => e)) as FloorWriteError;
      expect(down.retryable).toBe(true);
      await broker.start();
      await writer.write(queueMessage("WC-M", 2, ["MO/2"], target, 2));
      const retained = JSON.parse((await readRetained(broker.url, "plant/line1/queue")) ?? "{}");
      expect(retained).toMatchObject({ version: 2, workcenter: "WC-M", queue: [{ order: "MO/2", slot: 0 }] });
    } finally {
      await writer.close();
    }
  });

  it("a topic or id a broker may refuse fails that target alone, not retried; the broker's others still write", async () => {
    // A work center code holding a control character makes the target's {line}: Mosquitto would drop
    // the writer's connection on the PUBLISH, and every target on that broker would wait behind it.
    const versions = new VersionStore(join(dir, "refuse.json"));
    const mqttWriter = new MqttFloorWriter({ versions, defaultUrl: broker.url, timeoutMs: 1_500 });
    const sparkplugWriter = new SparkplugFloorWriter({ versions, defaultUrl: broker.url });
    const refused = async (write: Promise<void>) =>
      (await write.then(() => undefined).catch((e: unknown) => e)) as FloorWriteError;
    try {
      const mqttBad = await refused(
        mqttWriter.write(
          queueMessage("WC-R", 1, ["MO/1"], { kind: "mqtt", params: { topic: "plant/L\u00851/queue" } }, 1),
        ),
      );
      expect(mqttBad.retryable).toBe(false);
      expect(mqttBad.message).toContain("holds a control character, Unicode non-character or lone surrogate (U+0085)");
      const sparkplugBad = await refused(
        sparkplugWriter.write(
          queueMessage(
            "WC-R",
            1,
            ["MO/1"],
            { kind: "sparkplug", params: { group_id: "Plant1", edge_node_id: "E\uffff" } },
            1,
          ),
        ),
      );
      expect(sparkplugBad.retryable).toBe(false);
      expect(sparkplugBad.message).toContain('(got "Plant1", "E\uffff")');
      // A broker URL the client would read otherwise than written (?clientId= over its own id).
      const badUrl = `${broker.url}?clientId=shared`;
      const mqttUrlBad = await refused(
        mqttWriter.write(
          queueMessage("WC-R", 1, ["MO/1"], { kind: "mqtt", params: { topic: "plant/u/queue", url: badUrl } }, 1),
        ),
      );
      expect(mqttUrlBad.retryable).toBe(false);
      expect(mqttUrlBad.message).toContain("MQTT over TCP has no ?query");
      const sparkplugUrlBad = await refused(
        sparkplugWriter.write(
          queueMessage(
            "WC-R",
            1,
            ["MO/1"],
            { kind: "sparkplug", params: { group_id: "Plant1", edge_node_id: "E1", url: badUrl } },
            1,
          ),
        ),
      );
      expect(sparkplugUrlBad.retryable).toBe(false);
      expect(sparkplugUrlBad.message).toContain("Sparkplug target broker url");
      await mqttWriter.write(
        queueMessage("WC-R", 1, ["MO/1"], { kind: "mqtt", params: { topic: "plant/r/queue" } }, 1),
      );
      expect(JSON.parse((await readRetained(broker.url, "plant/r/queue")) ?? "{}")).toMatchObject({ version: 1 });
    } finally {
      await mqttWriter.close();
      await sparkplugWriter.close();
    }
  });

  it("Sparkplug: NBIRTH with bdSeq on connect, NDATA with only what changed, rebirth on NCMD, NDEATH will", async () => {
    const host = await SparkplugHost.connect(broker.url, "Plant1", "Edge1");
    const versions = new VersionStore(join(dir, "sparkplug.json"));
    const writer = new SparkplugFloorWriter({ versions, defaultUrl: broker.url });
    const target = { kind: "sparkplug" as const, params: { group_id: "Plant1", edge_node_id: "Edge1" } };
    try {
      await writer.write(queueMessage("WC-S", 1, ["MO/1", "MO/2"], target, 2));
      await host.waitFor(() => host.values.get("WC-S/Queue/Version") === 1);
      const births = host.messages.filter((m) => m.type === "NBIRTH");
      expect(births.length).toBeGreaterThanOrEqual(1);
      const birth = births.at(-1);
      expect(birth?.seq).toBe(0);
      expect(birth?.metrics.map((m) => m.name)).toEqual(
        expect.arrayContaining(["bdSeq", "Node Control/Rebirth", "WC-S/Queue/0/Order", "WC-S/Queue/Json"]),
      );
      const bdSeq = host.values.get("bdSeq");

      await writer.write(queueMessage("WC-S", 2, ["MO/2", "MO/1"], target, 2));
      await host.waitFor(() => host.values.get("WC-S/Queue/Version") === 2);
      const data = host.messages.filter((m) => m.type === "NDATA").at(-1);
      expect(data?.seq).toBe(1);
      // Slot priorities did not change (1, 0): they are not resent.
      expect(data?.metrics.map((m) => m.name)).not.toContain("WC-S/Queue/0/Priority");
      expect(host.values.get("WC-S/Queue/0/Order")).toBe("MO/2");
      expect(data?.metrics.every((m) => m.name !== "bdSeq")).toBe(true);

      const before = host.messages.filter((m) => m.type === "NBIRTH").length;
      await host.requestRebirth();
      await host.waitFor(() => host.messages.filter((m) => m.type === "NBIRTH").length > before);
      expect(host.values.get("WC-S/Queue/0/Order")).toBe("MO/2");
      expect(host.values.get("bdSeq")).toBe(bdSeq);

      // Same queue again with a newer version: only the Version and Json metrics change.
      await writer.write(queueMessage("WC-S", 3, ["MO/2", "MO/1"], target, 2));
      await host.waitFor(() => host.values.get("WC-S/Queue/Version") === 3);
      const names = host.messages
        .filter((m) => m.type === "NDATA")
        .at(-1)
        ?.metrics.map((m) => m.name)
        .sort();
      expect(names?.filter((n) => !n?.endsWith("/Json") && !n?.endsWith("/Version"))).toEqual([]);

      // A dropped connection (no DISCONNECT) makes the broker publish the NDEATH will with the session's bdSeq.
      const client = (writer as unknown as { nodes: Map<string, { client: { stream: { destroy(): void } } }> }).nodes;
      for (const node of client.values()) node.client.stream.destroy();
      await host.waitFor(() => host.messages.some((m) => m.type === "NDEATH"));
      const death = host.messages.find((m) => m.type === "NDEATH");
      expect(Number(death?.metrics.find((m) => m.name === "bdSeq")?.value?.toString())).toBe(bdSeq);
      // The writer reconnects by itself and births again with the next bdSeq and the current queue.
      await host.waitFor(() => host.messages.filter((m) => m.type === "NBIRTH").length > before + 1, 8_000);
      expect(host.values.get("bdSeq")).toBe(((bdSeq as number) + 1) % 256);
      expect(host.values.get("WC-S/Queue/Version")).toBe(3);
    } finally {
      await writer.close();
      await host.close();
    }
  });

  it("Sparkplug: a write while the broker is down fails retryably", async () => {
    const deadPort = await freePort();
    const writer = new SparkplugFloorWriter({
      versions: new VersionStore(join(dir, "sp-down.json")),
      defaultUrl: `mqtt://127.0.0.1:${deadPort}`,
      timeoutMs: 1_000,
    });
    const target = { kind: "sparkplug" as const, params: { group_id: "Plant1", edge_node_id: "Down" } };
    const error = (await writer
      .write(queueMessage("WC-D", 1, ["MO/1"], target, 1))
      .catch((e: unknown) => e)) as FloorWriteError;
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/not reachable/);
    await writer.close();
  });
});
