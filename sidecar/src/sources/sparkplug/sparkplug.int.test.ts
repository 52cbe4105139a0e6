import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAedes } from "../../../devstack/aedes.ts";
import { startMosquitto } from "../../../devstack/mosquitto.ts";
import { Ledger } from "../../../simulator/ledger.ts";
import { Line } from "../../../simulator/line.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { Simulation, sleep } from "../../../simulator/simulation.ts";
import { SimSparkplugEdge } from "../../../simulator/sparkplug-edge.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import { sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { MappingRule, SidecarConfig } from "../../core/contract.ts";
import { SparkplugSource, type SparkplugSourceOptions, sparkplugOptionsFromConfig } from "./source.ts";

interface Broker {
  url: string;
  close(): Promise<void>;
  /** SIGSTOP / SIGCONT of the broker's process (Mosquitto's; aedes runs in this one). */
  freeze?(): void;
  thaw?(): void;
}

const brokers: [string, () => Promise<Broker>][] = [
  ["aedes", startAedes],
  [
    "Mosquitto",
    async () => {
      const m = await startMosquitto();
      return { url: m.url, close: () => m.destroy(), freeze: () => m.freeze(), thaw: () => m.thaw() };
    },
  ],
];

const MACHINE = "Press03";

for (const [brokerName, startBroker] of brokers) {
  describe(`Sparkplug host on ${brokerName}`, () => {
    let broker: Broker;
    let n = 0;
    beforeAll(async () => {
      broker = await startBroker();
    });
    afterAll(async () => {
      await broker?.close();
    });

    function setup() {
      n++;
      const group = `Plant${n}`;
      const line = new Line("Line1", [MACHINE]);
      const ledger = new Ledger("test", "Line1", [MACHINE]);
      const edge = new SimSparkplugEdge({ url: broker.url, line, group, clientId: `edge-${brokerName}-${n}` });
      const sim = new Simulation(line, ledger, { stepMs: 15, pulseMs: 300 });
      sim.outputs.push(edge);
      const options: SparkplugSourceOptions = {
        connection: "line1-spb",
        revision: 2,
        url: broker.url,
        groupId: group,
        hostId: `sfb-host-${n}`,
        clientId: `host-${brokerName}-${n}`,
        rules: lineRules({ line: "Line1", machines: [MACHINE], protocol: "sparkplug", group, edge: "Line1" }),
        rebirthHoldMs: 1_000,
        flushIntervalMs: 200,
      };
      return { line, ledger, edge, sim, options };
    }

    it("a short shift: BIRTH/DATA by alias become the same business events as the ledger", async () => {
      const { edge, sim, ledger, options } = setup();
      const sink = new MemorySink();
      const host = new SparkplugSource(options);
      await host.start(sink);
      await edge.start();
      try {
        await sim.startOrder(MACHINE, "WH/MO/00011", "Pressing");
        await sim.setState(MACHINE, "setup");
        await sim.step(3);
        await sim.setState(MACHINE, "running");
        await sim.produce(MACHINE, 8, 2);
        await sim.setState(MACHINE, "down", "JAM");
        await sim.step(3);
        await sim.setState(MACHINE, "running");
        await sim.complete(MACHINE);
        await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 10_000, "completion");
        expect(sink.sum("production.reported", "qty_good")).toBe(ledger.orders.get("WH/MO/00011")?.good);
        expect(sink.sum("scrap.reported", "qty")).toBe(2);
        expect(sink.ofType("downtime.started")[0]?.time).toBe(ledger.downtimes[0]?.start);
        expect(sink.ofType("downtime.started")[0]?.data.reason_code).toBe("JAM");
        expect(sink.ofType("downtime.ended")[0]?.time).toBe(ledger.downtimes[0]?.end);
        expect(sink.ofType("workorder.completed")[0]?.data).toEqual({
          order: "WH/MO/00011",
          operation: "Pressing",
          qty_good: 8,
          qty_scrap: 2,
        });
        const stats = host.stats();
        expect(stats.seq_gaps).toBe(0);
        expect(stats.rebirth_commands_sent).toBe(0);
        expect(stats.births).toBe(2);
      } finally {
        await edge.stop();
        await host.stop();
      }
    });

    // Mosquitto runs in a process of its own, which can be frozen (aedes runs in this one).
    if (brokerName === "Mosquitto") {
      it("a broker that stops answering (frozen) is taken for gone after the connection's keepalive; the count goes on", async () => {
        const { edge, sim, ledger, options } = setup();
        const logs: string[] = [];
        // The host as sidecar_config makes it: the keepalive is the connection's (1 s here; 60 s unless set).
        const fromOdoo = sparkplugOptionsFromConfig({
          code: options.connection,
          revision: options.revision,
          kind: "sparkplug",
          mqtt: { url: broker.url, client_id: options.clientId, protocol_version: 5, keepalive_s: 1 },
          sparkplug: { group_id: options.groupId, host_id: options.hostId, role: "primary" },
          rules: options.rules,
        } as unknown as SidecarConfig);
        expect(fromOdoo.keepaliveSeconds).toBe(1);
        const sink = new MemorySink();
        const host = new SparkplugSource({
          ...fromOdoo,
          rebirthHoldMs: 1_000,
          flushIntervalMs: 200,
          log: (_level, message) => logs.push(message),
        });
        await host.start(sink);
        await edge.start();
        try {
          await sim.startOrder(MACHINE, "WH/MO/00019", "Pressing");
          await sim.setState(MACHINE, "running");
          await sim.produce(MACHINE, 3);
          await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 3, 10_000, "3 parts");
          broker.freeze?.();
          try {
            // A frozen host keeps its port open and refuses nothing: only the unanswered ping tells.
            await expect.poll(() => host.connected, { timeout: 10_000 }).toBe(false);
          } finally {
            broker.thaw?.();
          }
          await expect.poll(() => host.connected, { timeout: 15_000 }).toBe(true);
          await sim.produce(MACHINE, 4);
          await sim.complete(MACHINE);
          await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 15_000, "completion");
          expect(sink.sum("production.reported", "qty_good")).toBe(ledger.orders.get("WH/MO/00019")?.good);
          expect(ledger.orders.get("WH/MO/00019")?.good).toBe(7);
          expect(logs.join("\n")).toMatch(/[Kk]eepalive/);
        } finally {
          await edge.stop();
          await host.stop();
        }
      });
    }

    it("a seq gap (lost QoS 0 messages) sends a Rebirth; the BIRTH rebuilds state and no part is lost", async () => {
      const { edge, sim, ledger, options } = setup();
      const sink = new MemorySink();
      const host = new SparkplugSource(options);
      await host.start(sink);
      await edge.start();
      try {
        await sim.startOrder(MACHINE, "WH/MO/00012", "Pressing");
        await sim.setState(MACHINE, "running");
        await sim.produce(MACHINE, 3);
        edge.dropNext(2); // two parts' DDATA never arrive
        await sim.produce(MACHINE, 4);
        await sink.waitFor(() => edge.counts.rebirth_commands >= 1, 5_000, "a Rebirth").catch(() => {});
        await expect.poll(() => edge.counts.rebirth_commands, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
        await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 7, 10_000, "7 parts");
        expect(ledger.orders.get("WH/MO/00012")?.good).toBe(7);
        expect(host.stats().seq_gaps).toBeGreaterThanOrEqual(1);
        expect(edge.counts.births).toBeGreaterThanOrEqual(2);
        await sleep(300);
        expect(sink.sum("production.reported", "qty_good")).toBe(7);
      } finally {
        await edge.stop();
        await host.stop();
      }
    });

    it("host restart with no retained BIRTH: data from an unknown node asks for a Rebirth and continues", async () => {
      const { edge, sim, options } = setup();
      const sink = new MemorySink();
      const first = new SparkplugSource(options);
      await first.start(sink);
      await edge.start();
      let second: SparkplugSource | undefined;
      try {
        await sim.startOrder(MACHINE, "WH/MO/00013", "Pressing");
        await sim.setState(MACHINE, "running");
        await sim.produce(MACHINE, 2);
        await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 2, 10_000, "2 parts");
        await first.stop();
        await sim.produce(MACHINE, 3); // made while the host is away
        const restarted = new MemorySink(sink.state);
        second = new SparkplugSource(options);
        await second.start(restarted);
        const rebirthsBefore = edge.counts.rebirth_commands;
        await sim.produce(MACHINE, 1); // DDATA from a node this host never saw born
        await restarted.waitFor(() => restarted.sum("production.reported", "qty_good") === 4, 10_000, "4 parts");
        expect(edge.counts.rebirth_commands).toBe(rebirthsBefore + 1);
        expect(second.stats().unborn_data).toBeGreaterThanOrEqual(1);
        expect(restarted.ofType("workorder.started")).toHaveLength(0);
      } finally {
        await edge.stop();
        await second?.stop();
      }
    });

    it("an unknown alias asks for a Rebirth; a malformed payload reaches the sink as rejected bytes with the reason", async () => {
      const { edge, options } = setup();
      const sink = new MemorySink();
      const host = new SparkplugSource(options);
      await host.start(sink);
      await edge.start();
      try {
        await sleep(200);
        await edge.unknownAlias();
        await expect.poll(() => edge.counts.rebirth_commands, { timeout: 5_000 }).toBe(1);
        expect(host.stats().unknown_aliases).toBe(1);
        await edge.malformed();
        await sink.waitFor(() => sink.raw.length === 1, 5_000, "rejected intake");
        const [rejected] = sink.raw;
        expect(rejected?.kind).toBe("rejected");
        expect(rejected?.origin).toMatch(/^spBv1\.0\/Plant\d+\/DDATA\/Line1\/Press03$/);
        expect(rejected?.kind === "rejected" && rejected.reason).toMatch(/^not a Sparkplug B payload/);
        expect(host.stats().malformed).toBe(1);
      } finally {
        await edge.stop();
        await host.stop();
      }
    });

    it("rule addresses the host never reads (another group, no metric address) are said; the other rules still read", async () => {
      const { edge, sim, ledger, options } = setup();
      const [first] = options.rules as MappingRule[];
      const stray = [
        { ...(first as MappingRule), id: 901, address: `Elsewhere/Line1/${MACHINE}/GoodCount` },
        { ...(first as MappingRule), id: 902, address: "Line1/GoodCount" },
      ];
      const logged: string[] = [];
      const sink = new MemorySink();
      const host = new SparkplugSource({
        ...options,
        rules: [...options.rules, ...stray],
        log: (_level, message) => logged.push(message),
      });
      await host.start(sink);
      await edge.start();
      try {
        expect(host.warning).toBe(
          "2 addresses are never read (check the mapping rules): " +
            `"Elsewhere/Line1/${MACHINE}/GoodCount" is a metric of group "Elsewhere", and this host reads group "${options.groupId}" only; ` +
            '"Line1/GoodCount" is not a Sparkplug B metric address: write group/edge node/device/metric ' +
            "(e.g. Plant1/Line1-Edge/Press03/Count; the device empty for an edge node's own metric: Plant1/Line1-Edge//Count)",
        );
        expect(logged.filter((line) => line.startsWith("sparkplug: never read: "))).toHaveLength(2);
        await sim.startOrder(MACHINE, "WH/MO/00077", "Pressing");
        await sim.setState(MACHINE, "running");
        await sim.produce(MACHINE, 5, 0);
        await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 5, 10_000, "5 parts");
        expect(sink.sum("production.reported", "qty_good")).toBe(ledger.orders.get("WH/MO/00077")?.good);
      } finally {
        await edge.stop();
        await host.stop();
      }
    });

    it("announces itself as primary host: retained STATE online, offline after stop, and an NDEATH will takes the node offline", async () => {
      const { edge, options } = setup();
      const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-${brokerName}-${n}` });
      const states: { online: boolean; timestamp: number }[] = [];
      watcher.on("message", (_t, p) => states.push(JSON.parse(p.toString())));
      const host = new SparkplugSource(options);
      await host.start(new MemorySink());
      try {
        await watcher.subscribeAsync(`spBv1.0/STATE/${options.hostId}`, { qos: 1 });
        await expect.poll(() => states.at(-1)?.online, { timeout: 5_000 }).toBe(true);
        expect(typeof states.at(-1)?.timestamp).toBe("number");
        await edge.start();
        await sleep(200);
        await edge.kill();
        await expect.poll(() => host.stats().deaths, { timeout: 5_000 }).toBe(1);
      } finally {
        await host.stop();
        await expect.poll(() => states.at(-1)?.online, { timeout: 5_000 }).toBe(false);
        await watcher.endAsync();
      }
    });

    if (brokerName === "aedes") {
      it("a group the broker refuses to subscribe is said, for the dashboard, not only logged", async () => {
        const { options } = setup();
        const aedes = (broker as Awaited<ReturnType<typeof startAedes>>).broker;
        const previous = aedes.authorizeSubscribe;
        // An ACL as brokers with one answer: SUBACK 0x80 for the group's filter.
        aedes.authorizeSubscribe = (_client, subscription, callback) =>
          callback(null, subscription.topic === `spBv1.0/${options.groupId}/#` ? null : subscription);
        const host = new SparkplugSource(options);
        try {
          await host.start(new MemorySink());
          expect(host.warning).toBe(
            `announcing host ${options.hostId} on group ${options.groupId} failed: Subscribe error: Unspecified error`,
          );
        } finally {
          await host.stop();
          aedes.authorizeSubscribe = previous;
        }
      });
    }

    // A fresh host knows no node until a BIRTH: `publish` first makes sure the
    // current host has one (data → Rebirth → BIRTH), then raises `Completed`
    // with the marker as the order, which the trigger rule turns into an event.
    let contractRig: ReturnType<typeof setup> | undefined;
    let contractHost: SparkplugSource | undefined;
    it("a host that dies without a goodbye is declared offline by its STATE will, with the same timestamp", async () => {
      const { options } = setup();
      const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-will-${brokerName}-${n}` });
      const states: { online: boolean; timestamp: number }[] = [];
      watcher.on("message", (_t, p) => states.push(JSON.parse(p.toString())));
      await watcher.subscribeAsync(`spBv1.0/STATE/${options.hostId}`, { qos: 1 });
      const host = new SparkplugSource(options);
      await host.start(new MemorySink());
      try {
        await expect.poll(() => states.at(-1)?.online, { timeout: 5_000 }).toBe(true);
        const onlineAt = states.at(-1)?.timestamp;
        await host.abort();
        await expect.poll(() => states.at(-1)?.online, { timeout: 10_000 }).toBe(false);
        expect(states.at(-1)?.timestamp).toBe(onlineAt);
      } finally {
        await watcher.endAsync();
      }
    });

    sourceContract(
      `SparkplugSource (${brokerName})`,
      async () => {
        if (!contractRig) {
          contractRig = setup();
          await contractRig.edge.start();
        }
        contractHost = new SparkplugSource({ ...contractRig.options, rebirthHoldMs: 200 });
        return contractHost;
      },
      async (marker) => {
        const { line } = contractRig as ReturnType<typeof setup>;
        const host = contractHost as SparkplugSource;
        for (let poke = 0; (host.stats().births ?? 0) < 2; poke++) {
          if (poke > 100) throw new Error("the edge node never answered the Rebirth");
          line.set(MACHINE, "ReasonCode", `sync-${poke}`);
          await sleep(100);
        }
        const received = host.stats().received ?? 0;
        line.set(MACHINE, "Completed", false);
        line.set(MACHINE, "CurrentOrder", marker);
        line.set(MACHINE, "Completed", true);
        // Published means on the host's side of the wire (QoS 0 has no redelivery to wait for).
        await expect.poll(() => host.stats().received, { timeout: 5_000 }).toBeGreaterThanOrEqual(received + 3);
      },
    );
    afterAll(async () => {
      await contractRig?.edge.stop();
    });
  });
}
