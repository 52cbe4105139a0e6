// The simulate CLI with real outputs: the fault scenarios put on the wire what
// the ledger says (malformed input, re-sent copies, a server restart).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../devstack/odoo.ts";
import { main } from "./cli.ts";
import type { LedgerFile } from "./ledger.ts";

describe("simulate CLI with real outputs", () => {
  let aedes: Aedes;
  let server: Server;
  let url: string;
  let watcher: MqttClient;
  const received: { topic: string; payload: Buffer }[] = [];
  const dir = mkdtempSync(join(tmpdir(), "sfb-sim-int-"));

  beforeAll(async () => {
    aedes = await Aedes.createBroker();
    server = createServer(aedes.handle);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    url = `mqtt://127.0.0.1:${port}`;
    watcher = await mqtt.connectAsync(url, { clientId: "sim-int-watcher" });
    watcher.on("message", (topic, payload) => received.push({ topic, payload }));
    await watcher.subscribeAsync(["shopfloor/#", "spBv1.0/#"], { qos: 1 });
  });
  afterAll(async () => {
    await watcher?.endAsync();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function simulate(scenario: string, extra: string[] = []): Promise<LedgerFile> {
    received.length = 0;
    const ledger = join(dir, `${scenario}.json`);
    const lines: string[] = [];
    const code = await main(
      [
        "--scenario",
        scenario,
        "--mqtt-url",
        url,
        "--channels",
        "mqtt,sparkplug",
        "--parts",
        "4",
        "--scrap",
        "0",
        "--step-ms",
        "10",
        "--hold-steps",
        "1",
        "--linger-ms",
        "300",
        "--run-id",
        scenario,
        "--ledger",
        ledger,
        ...extra,
      ],
      (l) => lines.push(l),
    );
    expect(code, lines.join("\n")).toBe(0);
    return JSON.parse(readFileSync(ledger, "utf8")) as LedgerFile;
  }

  const cloudEvents = () => received.filter((m) => m.topic.startsWith("shopfloor/"));

  it("normal-shift: one CloudEvent per expected ledger entry, and Sparkplug births and data", async () => {
    const ledger = await simulate("normal-shift");
    const expected = ledger.entries.filter((e) => e.expect);
    const events = cloudEvents().map((m) => JSON.parse(m.payload.toString()) as { type: string; id: string });
    expect(events.map((e) => e.type)).toEqual(expected.map((e) => e.expect?.type));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(received.some((m) => m.topic === "spBv1.0/Plant1/NBIRTH/Line1")).toBe(true);
    expect(received.filter((m) => m.topic === "spBv1.0/Plant1/DDATA/Line1/Press03").length).toBeGreaterThan(4);
    expect(ledger.expected.orders[0]).toMatchObject({ order: "WH/MO/00001", good: 4, completed: true });
  });

  it("malformed-messages: the ledger counts what was sent broken (2 JSON, 1 Sparkplug)", async () => {
    const ledger = await simulate("malformed-messages");
    expect(ledger.expected.rejected).toBe(3);
    const broken = cloudEvents().filter((m) => m.topic.includes("/malformed/"));
    expect(broken).toHaveLength(2);
    expect(() => JSON.parse(broken[0]?.payload.toString() ?? "")).toThrow();
    expect(ledger.stats["sparkplug.malformed_sent"]).toBe(1);
  });

  it("duplicates: re-sent CloudEvents carry the same ids", async () => {
    const ledger = await simulate("duplicates");
    expect(ledger.expected.duplicates).toBe(3);
    const ids = cloudEvents().map((m) => (JSON.parse(m.payload.toString()) as { id: string }).id);
    expect(ids.length - new Set(ids).size).toBe(3);
  });

  it("server-restart: the OPC UA server goes away and comes back mid-shift", async () => {
    const ledger = await simulate("server-restart", [
      "--channels",
      "opcua",
      "--opcua-port",
      String(await freePort()),
      "--down-ms",
      "300",
      "--pki-dir",
      join(dir, "pki"),
    ]);
    expect(ledger.expected.server_restarts).toBe(1);
    expect(ledger.stats["opcua.restarts"]).toBe(1);
    expect(ledger.expected.orders[0]?.good).toBe(7);
  });
});
