// The development stack itself against real servers: Mosquitto and Odoo 18.
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";
import { type MosquittoBroker, startMosquitto } from "./mosquitto.ts";
import { type OdooServer, startOdoo } from "./odoo.ts";

describe("Mosquitto broker", () => {
  let broker: MosquittoBroker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(() => broker.destroy());

  it("keeps a persistent session's QoS 1 backlog across a broker restart", async () => {
    const sub = await mqtt.connectAsync(broker.url, { clientId: "devstack-sub", clean: false });
    await sub.subscribeAsync("probe/#", { qos: 1 });
    await sub.endAsync();

    const pub = await mqtt.connectAsync(broker.url, { clientId: "devstack-pub" });
    for (let i = 0; i < 5; i++) await pub.publishAsync("probe/x", String(i), { qos: 1 });
    await pub.endAsync();

    await broker.stop("SIGTERM");
    await broker.start();

    const received: string[] = [];
    // The broker sends the stored backlog right after CONNACK: listen before connecting.
    const again = mqtt.connect(broker.url, { clientId: "devstack-sub", clean: false, reconnectPeriod: 0 });
    again.on("message", (_t, payload) => received.push(payload.toString()));
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(["0", "1", "2", "3", "4"]);
    await again.endAsync();
  });
});

describe("Odoo 18 server with the module", () => {
  let odoo: OdooServer;
  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_devstack_${process.pid}` });
  });
  afterAll(() => odoo?.destroy());

  it("answers JSON-RPC and has shopfloor_bridge installed", async () => {
    const client = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: "admin", apiKey: "admin" });
    expect(await client.uid()).toBe(2);
    const rows = (await client.execute("ir.module.module", "search_read", [[["name", "=", "shopfloor_bridge"]]], {
      fields: ["state"],
    })) as { state: string }[];
    expect(rows.map((r) => r.state)).toEqual(["installed"]);
  });
});
