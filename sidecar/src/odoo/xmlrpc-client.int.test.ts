// XmlRpcOdooClient: the OdooClient contract against real Odoo 18 with the
// module; a fake XML-RPC server only for faults real Odoo cannot produce
// (a hung server, a connection cut mid-answer, a proxy's 502).
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { odooClientContract } from "./odoo-client.contract.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "./testing.ts";
import { OdooFault, OdooTransportError, XmlRpcOdooClient } from "./xmlrpc-client.ts";

describe.runIf(moduleHasSidecarApi())("XmlRpcOdooClient against real Odoo 18", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_sidecar_client_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "contract" });
  });
  afterAll(() => odoo?.destroy());

  odooClientContract("XmlRpcOdooClient", () => ({
    client: () => fixture.client(),
    badKeyClient: () => new XmlRpcOdooClient({ url: odoo.url, db: odoo.db, user: fixture.user, apiKey: "wrong" }),
    code: fixture.code,
  }));

  it("reports a server-side exception as an OdooFault with Odoo's message", async () => {
    await expect(fixture.client().execute("shopfloor.event", "ingest", ["not a list"])).rejects.toThrow(OdooFault);
  });

  it("reports a stopped Odoo as a transport error", async () => {
    const client = new XmlRpcOdooClient({ url: "http://127.0.0.1:1", db: "x", user: "u", apiKey: "k" });
    await expect(client.sidecarConfig("x")).rejects.toThrow(OdooTransportError);
  });
});

describe("XmlRpcOdooClient against faults real Odoo cannot produce", () => {
  let server: Server;
  let url: string;
  let mode: "hang" | "cut" | "502" = "hang";
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (mode === "502") res.writeHead(502).end("Bad Gateway");
        else if (mode === "cut") {
          res.writeHead(200, { "content-type": "text/xml", "content-length": "500" });
          res.write('<?xml version="1.0"?><methodResponse><params><param><value><int>');
          setTimeout(() => res.socket?.destroy(), 20);
        }
        // hang: never answer
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it.each([
    ["hang", /timeout|aborted/i],
    ["cut", /terminated|socket|closed|other side/i],
    ["502", /HTTP 502/],
  ] as const)("turns a %s into an OdooTransportError (retryable)", async (m, message) => {
    mode = m;
    const client = new XmlRpcOdooClient({ url, db: "x", user: "u", apiKey: "k", timeoutMs: 500 });
    const err = await client.uid().catch((e: Error) => e);
    expect(err).toBeInstanceOf(OdooTransportError);
    expect((err as Error).message).toMatch(message);
  });
});
