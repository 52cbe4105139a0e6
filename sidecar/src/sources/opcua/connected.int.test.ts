// `connected` is what /readyz reads: true only while a session with its
// subscription is live, false while the server is gone and the source is
// re-creating them (against the simulator's OPC UA server, stopped and started).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../../devstack/odoo.ts";
import { Line } from "../../../simulator/line.ts";
import { SimOpcuaServer } from "../../../simulator/opcua-server.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import { OpcUaSource } from "./source.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-opcua-connected-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("OpcUaSource.connected", () => {
  it("is true with a live subscription, false while the server is down, true again after it returns", async () => {
    const port = await freePort();
    const line = new Line("Line1", ["press-01"]);
    const make = () => new SimOpcuaServer({ line, port, pkiDir: join(dir, "server-pki") });
    let server = make();
    await server.start();
    const source = new OpcUaSource({
      connection: "line1-opcua",
      revision: 1,
      endpoint: server.endpoint,
      securityMode: "None",
      securityPolicy: "None",
      auth: { type: "anonymous" },
      pkiDir: join(dir, "client-pki"),
      rules: lineRules({ line: "Line1", machines: ["press-01"], protocol: "opcua" }),
      publishingIntervalMs: 100,
      samplingIntervalMs: 0,
      lifetimeCount: 30,
      maxKeepAliveCount: 3,
      reconnectDelayMs: 200,
      maxReconnectDelayMs: 500,
    });
    try {
      expect(source.connected).toBe(false);
      await source.start(new MemorySink());
      expect(source.connected).toBe(true);
      await server.stop();
      await expect.poll(() => source.connected, { timeout: 20_000, interval: 100 }).toBe(false);
      server = make();
      await server.start();
      await expect.poll(() => source.connected, { timeout: 30_000, interval: 200 }).toBe(true);
    } finally {
      await source.stop();
      await server.stop();
    }
    expect(source.connected).toBe(false);
  }, 90_000);
});
