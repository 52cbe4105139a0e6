// JsonRpcOdooClient: the OdooClient contract against real Odoo 18 with the
// module, every error code Odoo raises read from a real answer, and a fake
// HTTP server only for faults real Odoo cannot produce on demand (a hung
// server, a connection cut mid-answer, a proxy's 502/413, an answer that is
// not JSON).
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../devstack/mqtt-pki.ts";
import { freePort, type OdooServer, startOdoo } from "../../devstack/odoo.ts";
import { odooClientContract } from "../../test/support/odoo/odoo-client.contract.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../test/support/odoo/testing.ts";
import { OdooAuthError, OdooFault, OdooTransportError } from "./errors.ts";
import { JsonRpcOdooClient } from "./jsonrpc-client.ts";

const run = promisify(execFile);

describe.runIf(moduleHasSidecarApi())("JsonRpcOdooClient against real Odoo 18", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  beforeAll(async () => {
    odoo = await startOdoo({ db: `sfb_sidecar_client_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "contract" });
  }, 600_000);
  afterAll(() => odoo?.destroy());

  odooClientContract("JsonRpcOdooClient", () => ({
    client: () => fixture.client(),
    badKeyClient: () => new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: fixture.user, apiKey: "wrong" }),
    code: fixture.code,
    stored: async (eventId) => {
      const [row] = (await fixture.admin.execute("shopfloor.event", "read", [[eventId]], {
        fields: ["event_uid", "source", "data_json", "raw_payload", "raw_b64", "state", "error_message"],
      })) as Record<string, unknown>[];
      return row as Record<string, unknown>;
    },
  }));

  it("reads each refusal's code from Odoo's answer, not from its text", async () => {
    const client = fixture.client();
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ specversion: "1.0", id: `big-${i}`, source: "s" }));
    await expect(client.execute("shopfloor.event", "ingest", [tooMany])).rejects.toMatchObject({
      name: "OdooFault",
      code: "batch_too_large",
    });
    await expect(client.execute("shopfloor.event", "ingest", ["not a list"])).rejects.toMatchObject({
      code: "bad_request",
    });
    await expect(client.sidecarConfig("no-such-connection")).rejects.toMatchObject({ code: "not_found" });
    // A user without the integration group: refused with `forbidden`.
    await fixture.admin.execute("res.users", "create", [{ name: "Nobody", login: "nobody", password: "nobody-pw" }]);
    const nobody = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: "nobody", apiKey: "nobody-pw" });
    await expect(nobody.sidecarConfig(fixture.code)).rejects.toMatchObject({ code: "forbidden" });
    // Another plant's connection: its configuration is refused, naming it; an event naming it is
    // stored rejected (under the caller's own connection), not applied and not lost.
    await fixture.admin.execute("shopfloor.connection", "create", [{ code: "other-plant", name: "Other plant" }]);
    await expect(client.sidecarConfig("other-plant")).rejects.toMatchObject({
      code: "forbidden",
      message: expect.stringMatching(/may not act for connection other-plant/),
    });
    const [refused] = await client.ingest([
      {
        specversion: "1.0",
        id: `cross-${process.pid}`,
        source: "plant2/press",
        type: "workorder.started",
        time: "2026-11-22T08:00:00.000Z",
        connection: "other-plant",
        data: { order: "WH/MO/00001" },
      },
    ]);
    expect(refused?.status).toBe("rejected");
    expect(refused?.error).toMatch(/may not act for connection other-plant/);
    expect(await fixture.events(["error_class", "connection_code"], [["id", "=", refused?.event_id]])).toEqual([
      expect.objectContaining({ error_class: "forbidden", connection_code: "other-plant" }),
    ]);
  });

  it("reports an unknown database as an auth error naming ODOO_DB", async () => {
    const client = new JsonRpcOdooClient({ url: odoo.url, db: "no_such_db_here", user: "u", apiKey: "k" });
    const err = await client.uid().catch((e: Error) => e);
    expect(err).toBeInstanceOf(OdooAuthError);
  });

  it("reports a stopped Odoo as unreachable (not counted against the items)", async () => {
    const closed = new JsonRpcOdooClient({
      url: `http://127.0.0.1:${await freePort()}`,
      db: "x",
      user: "u",
      apiKey: "k",
    });
    await expect(closed.sidecarConfig("x")).rejects.toMatchObject({ name: "OdooTransportError", code: "unreachable" });
    const badPort = new JsonRpcOdooClient({ url: "http://127.0.0.1:1", db: "x", user: "u", apiKey: "k" });
    await expect(badPort.sidecarConfig("x")).rejects.toMatchObject({ code: "unreachable" });
  });

  describe("behind a TLS front (a TLS terminator piping to Odoo, as a reverse proxy is)", () => {
    let ca: TestCa;
    let front: TlsServer;
    let frontUrl: string;
    beforeAll(async () => {
      ca = createTestCa("sfb-odoo-front-ca");
      const cert = ca.server();
      const odooPort = Number(new URL(odoo.url).port);
      front = createTlsServer({ cert: cert.cert, key: cert.key }, (tls) => {
        const upstream = connect(odooPort, "127.0.0.1");
        tls.pipe(upstream).pipe(tls);
        tls.on("error", () => upstream.destroy());
        upstream.on("error", () => tls.destroy());
      });
      front.on("tlsClientError", () => {});
      await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
      frontUrl = `https://localhost:${(front.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      front?.close();
      ca?.destroy();
    });

    it("a front whose CA this machine does not trust: unreachable (sent again whole), naming NODE_EXTRA_CA_CERTS", async () => {
      const client = new JsonRpcOdooClient({ url: frontUrl, db: odoo.db, user: odoo.login, apiKey: odoo.password });
      const err = await client.uid().catch((e: Error) => e);
      expect(err).toBeInstanceOf(OdooTransportError);
      expect((err as OdooTransportError).code).toBe("unreachable");
      expect((err as Error).message).toMatch(/not signed by a CA this machine trusts.*NODE_EXTRA_CA_CERTS/);
    });

    it("https:// on Odoo's plain port: unreachable, saying the port answers without TLS", async () => {
      const client = new JsonRpcOdooClient({
        url: odoo.url.replace("http:", "https:"),
        db: odoo.db,
        user: odoo.login,
        apiKey: odoo.password,
      });
      await expect(client.uid()).rejects.toMatchObject({
        code: "unreachable",
        // Odoo's own server resets a TLS hello: the port is asked, and answers plain HTTP.
        message: expect.stringMatching(/ODOO_URL is https:\/\/ but 127\.0\.0\.1:\d+ answers plain HTTP/),
      });
    });

    it("http:// on the front's TLS port: unreachable, saying the port speaks TLS", async () => {
      const client = new JsonRpcOdooClient({
        url: frontUrl.replace("https:", "http:"),
        db: odoo.db,
        user: odoo.login,
        apiKey: odoo.password,
      });
      await expect(client.uid()).rejects.toMatchObject({
        code: "unreachable",
        message: expect.stringMatching(/ODOO_URL is http:\/\/ but localhost:\d+ speaks TLS: use https:\/\//),
      });
    });

    it("with NODE_EXTRA_CA_CERTS naming the front's CA, a sidecar process logs in through it", async () => {
      const script =
        `const { JsonRpcOdooClient } = await import(${JSON.stringify(new URL("./jsonrpc-client.ts", import.meta.url).href)});` +
        `const c = new JsonRpcOdooClient(JSON.parse(process.env.SFB_TEST_ODOO));` +
        "console.log(await c.uid());";
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: ca.certFile,
          SFB_TEST_ODOO: JSON.stringify({ url: frontUrl, db: odoo.db, user: odoo.login, apiKey: odoo.password }),
        },
      });
      const uid = await new JsonRpcOdooClient({
        url: odoo.url,
        db: odoo.db,
        user: odoo.login,
        apiKey: odoo.password,
      }).uid();
      expect(Number(stdout.trim())).toBe(uid);
    });
  });
});

describe("JsonRpcOdooClient against faults real Odoo cannot produce (FaultyHttpServer)", () => {
  let server: Server;
  let url: string;
  let mode: "hang" | "cut" | "502" | "413" | "html" | "no-result" = "hang";
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (mode === "502") res.writeHead(502).end("Bad Gateway");
        else if (mode === "413") res.writeHead(413).end("Request Entity Too Large");
        else if (mode === "html") res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>");
        else if (mode === "no-result") res.writeHead(200).end('{"jsonrpc":"2.0","id":1}');
        else if (mode === "cut") {
          res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
          res.write('{"jsonrpc":"2.0","id":1,"result":');
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
    ["hang", "busy", /timeout|aborted/i],
    ["cut", "busy", /terminated|socket|closed|other side|JSON/i],
    ["502", "busy", /HTTP 502/],
    ["413", "batch_too_large", /HTTP 413/],
    ["html", "busy", /not JSON/],
  ] as const)("turns a %s into an OdooTransportError coded %s", async (m, code, message) => {
    mode = m;
    const client = new JsonRpcOdooClient({ url, db: "x", user: "u", apiKey: "k", timeoutMs: 500 });
    const err = await client.uid().catch((e: Error) => e);
    expect(err).toBeInstanceOf(OdooTransportError);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
  });

  it("treats an answer without a result (a method returning None) as a broken contract", async () => {
    mode = "no-result";
    const client = new JsonRpcOdooClient({ url, db: "x", user: "u", apiKey: "k", timeoutMs: 500 });
    await expect(client.uid()).rejects.toMatchObject({ name: "OdooContractError", code: "busy" });
  });

  it("is not fooled by a fault's text: a fault without a code is the table's default", () => {
    const fault = new OdooFault(
      "could not serialize access (but said by a user)",
      "item_rejected",
      "odoo.exceptions.UserError",
    );
    expect(fault.code).toBe("item_rejected");
  });
});
