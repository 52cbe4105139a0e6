// Json2OdooClient (Odoo 19+). No Odoo 19 runs here (the module is an 18.0
// module and only Odoo 18's tree is on this machine), so this checks the
// client against Json2ShapesServer: a stand-in that answers exactly as Odoo
// 19's documentation of the JSON-2 API describes (bearer key, database
// header, parameters by name, errors as 4xx/5xx with the serialized
// exception). It proves what the client sends and how it reads answers and
// codes, not that Odoo 19 agrees; the contract suite runs against real Odoo
// 18 through JsonRpcOdooClient.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../devstack/odoo.ts";
import { Json2OdooClient } from "./json2-client.ts";

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

describe("Json2OdooClient against Json2ShapesServer (Odoo 19's documented JSON-2 shapes)", () => {
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: [] };
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
        res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify(answer.body));
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const client = () => new Json2OdooClient({ url, db: "plant", user: "sidecar", apiKey: "key-123" });

  it("posts each call to /json/2/<model>/<method> with the bearer key, the database and named parameters", async () => {
    const event = {
      specversion: "1.0",
      id: "a\u0000\ud800",
      source: "s",
      type: "quality.result",
      time: "t",
      data: {},
    } as const;
    answer = { status: 200, body: [{ id: event.id, source: "s", status: "applied", event_id: 7, error: "" }] };
    const results = await client().ingest([event]);
    expect(results[0]?.event_id).toBe(7);
    answer = { status: 200, body: { server_time: "2026-12-01 10:00:00", revision: 3 } };
    await client().heartbeat("line1", { spool_depth: 2 });
    answer = { status: 200, body: [] };
    await client().dispatchPull("line1", 25);
    const [ingest, heartbeat, pull] = seen.slice(-3) as [Seen, Seen, Seen];
    expect(ingest.path).toBe("/json/2/shopfloor.event/ingest");
    expect(ingest.headers.authorization).toBe("bearer key-123");
    expect(ingest.headers["x-odoo-database"]).toBe("plant");
    expect(ingest.headers["content-type"]).toMatch(/^application\/json/);
    expect(ingest.body).toEqual({ events: [event] });
    expect(heartbeat.path).toBe("/json/2/shopfloor.connection/heartbeat");
    expect(heartbeat.body).toEqual({ code: "line1", stats: { spool_depth: 2 } });
    expect(pull.body).toEqual({ code: "line1", limit: 25 });
  });

  it.each([
    [422, "odoo.exceptions.UserError", { shopfloor_code: "batch_too_large" }, "OdooFault", "batch_too_large"],
    [403, "odoo.exceptions.AccessError", {}, "OdooFault", "forbidden"],
    [500, "psycopg2.errors.SerializationFailure", {}, "OdooFault", "retry"],
    [500, "builtins.KeyError", {}, "OdooFault", "item_rejected"],
    [401, "werkzeug.exceptions.Unauthorized", {}, "OdooAuthError", "auth"],
  ] as const)("reads a %i %s as %s coded %s", async (status, name, context, kind, code) => {
    answer = { status, body: { name, message: "refused", arguments: ["refused"], context, debug: "" } };
    await expect(client().ingest([{ specversion: "1.0" } as never])).rejects.toMatchObject({ name: kind, code });
  });

  it("reads a proxy's 502 without Odoo's body as a transport error (busy)", async () => {
    answer = { status: 502, body: "Bad Gateway" };
    await expect(client().ingest([{ specversion: "1.0" } as never])).rejects.toMatchObject({
      name: "OdooTransportError",
      code: "busy",
      status: 502,
    });
  });
});
