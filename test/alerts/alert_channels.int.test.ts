// Alerts reach people, against a real Odoo 18 server: its outgoing mail is
// captured by a local SMTP server (the smtp-server package, an implementation
// nobody here wrote) and the Slack, Teams and generic JSON webhook posts by a
// node:http receiver. The sidecar's heartbeat (over JSON-RPC, as its
// integration user) opens the alerts and a later one resolves them; Odoo's
// own crons (mail queue, webhook delivery) are run on demand since the test
// server runs none. A receiver that never answers holds up neither the
// heartbeat nor the other posts.
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, moduleHasSidecarApi, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";

interface Mail {
  from: string;
  to: string[];
  raw: string;
}
interface Post {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The decoded text of a MIME message's parts (quoted-printable and base64 undone), headers kept. */
function decodedMail(raw: string): string {
  const out: string[] = [];
  for (const part of raw.split(/\r?\n--[^\r\n]+\r?\n/)) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const head = part.slice(0, split);
    const body = part.slice(split).trim();
    const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
    out.push(head);
    if (encoding === "base64") out.push(Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8"));
    else if (encoding === "quoted-printable")
      out.push(
        Buffer.from(
          body
            .replace(/=\r?\n/g, "")
            .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          "latin1",
        ).toString("utf8"),
      );
    else out.push(body);
  }
  return out.join("\n");
}

async function listen(server: Server | SMTPServer): Promise<number> {
  await new Promise<void>((resolve) => (server as Server).listen(0, "127.0.0.1", () => resolve()));
  const address = ((server as SMTPServer & { server?: Server }).server ?? (server as Server)).address() as AddressInfo;
  return address.port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(moduleHasSidecarApi())("alert channels (real Odoo 18, local SMTP and webhook receivers)", () => {
  let odoo: OdooServer;
  let fixture: OdooFixture;
  let smtp: SMTPServer;
  let receiver: Server;
  let receiverUrl = "";
  const mails: Mail[] = [];
  const posts: Post[] = [];
  const hanging: { destroy(): void }[] = [];
  const rules: Record<string, number> = {};

  const admin = () => fixture.admin;
  const xmlid = async (module: string, name: string) =>
    (
      (await admin().execute(
        "ir.model.data",
        "search_read",
        [
          [
            ["module", "=", module],
            ["name", "=", name],
          ],
        ],
        {
          fields: ["res_id"],
        },
      )) as { res_id: number }[]
    )[0]?.res_id as number;
  const runCron = async (module: string, name: string) =>
    admin().execute("ir.cron", "method_direct_trigger", [[await xmlid(module, name)]]);
  const alerts = async (domain: unknown[] = []) =>
    (await admin().execute(
      "shopfloor.alert",
      "search_read",
      [[["connection_id", "=", fixture.connectionId], ...domain]],
      { fields: ["rule_id", "state", "title", "message", "open_message", "opened_at", "resolved_at"], order: "id" },
    )) as {
      id: number;
      rule_id: [number, string];
      state: string;
      title: string;
      message: string;
      open_message: string;
    }[];
  const deliveries = async (domain: unknown[] = []) =>
    (await admin().execute("shopfloor.alert.delivery", "search_read", [domain], {
      fields: ["alert_id", "kind", "transition", "state", "attempts", "last_error", "response_status"],
      order: "id",
    })) as {
      id: number;
      kind: string;
      transition: string;
      state: string;
      attempts: number;
      last_error: string | false;
    }[];

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          done();
        });
      },
    });
    const smtpPort = await listen(smtp);
    receiver = createServer((req, res) => {
      if (req.url === "/hang") {
        hanging.push(res.socket as { destroy(): void }); // never answers
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        posts.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(req.url === "/broken" ? 500 : 200, { "content-type": "text/plain" }).end("ok");
      });
    });
    receiverUrl = `http://127.0.0.1:${await listen(receiver)}`;
    odoo = await startOdoo({ db: `sfb_alert_channels_${process.pid}` });
    fixture = await makeOdooFixture(odoo, { code: "alerts" });
    await admin().execute("ir.mail_server", "create", [
      { name: "test receiver", smtp_host: "127.0.0.1", smtp_port: smtpPort, smtp_encryption: "none", sequence: 1 },
    ]);
    await admin().execute("res.company", "write", [[1], { email: "odoo@plant.example" }]);
    const userGroup = await xmlid("shopfloor_bridge", "shopfloor_bridge_group_user");
    const internal = await xmlid("base", "group_user");
    const lead = (await admin().execute("res.users", "create", [
      { name: "Shift lead", login: "lead", email: "lead@plant.example", groups_id: [[6, 0, [internal, userGroup]]] },
    ])) as number;
    // Every default rule off but the spool depth one; two more for the other webhook shapes and two receivers that fail.
    const defaults = (await admin().execute(
      "shopfloor.alert.rule",
      "search_read",
      [[["connection_id", "=", fixture.connectionId]]],
      { fields: ["kind"] },
    )) as { id: number; kind: string }[];
    const spool = defaults.find((r) => r.kind === "spool_depth")?.id as number;
    await admin().execute("shopfloor.alert.rule", "write", [defaults.map((r) => r.id), { active: false }]);
    await admin().execute("shopfloor.alert.rule", "write", [
      [spool],
      { active: true, threshold: 10, webhook_kind: "slack", webhook_url: `${receiverUrl}/slack` },
    ]);
    rules.slack = spool;
    const more = async (sequence: number, threshold: number, kind: string, path: string) =>
      (await admin().execute("shopfloor.alert.rule", "create", [
        {
          connection_id: fixture.connectionId,
          kind: "spool_depth",
          sequence,
          threshold,
          webhook_kind: kind,
          webhook_url: `${receiverUrl}${path}`,
        },
      ])) as number;
    // The hanging receiver's rule sorts first, so its post is tried before the others.
    rules.hang = await more(1, 10, "json", "/hang");
    rules.teams = await more(20, 20, "teams", "/teams");
    rules.json = await more(30, 30, "json", "/json");
    rules.broken = await more(40, 40, "json", "/broken");
    await admin().execute("shopfloor.connection", "write", [
      [fixture.connectionId],
      { responsible_user_ids: [[6, 0, [lead]]], alert_webhook_timeout: 1 },
    ]);
  }, 600_000);

  afterAll(async () => {
    for (const socket of hanging) socket.destroy();
    await odoo?.destroy();
    await new Promise<void>((r) => smtp?.close(() => r()));
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  it("a heartbeat opens one alert per breached rule, and a dead receiver does not hold it up", async () => {
    await fixture.client().heartbeat("alerts", { spool_depth: 50 });
    await fixture.client().heartbeat("alerts", { spool_depth: 51 });
    // The heartbeat only queues the posts: no receiver, not even the one that never answers, was called.
    expect(posts).toHaveLength(0);
    expect(hanging).toHaveLength(0);
    const open = await alerts([["state", "=", "open"]]);
    expect(open.map((a) => a.rule_id[0]).sort()).toEqual(Object.values(rules).sort());
    expect(open.find((a) => a.rule_id[0] === rules.slack)?.title).toBe("alerts: Spool depth over 10 events");
    expect((await deliveries()).filter((d) => d.transition === "opened")).toHaveLength(5);
  });

  it("posts the exact Slack, Teams and generic JSON bodies; a hanging and a failing receiver are logged", async () => {
    const baseUrl = (await admin().execute("ir.config_parameter", "get_param", ["web.base.url"])) as string;
    const started = Date.now();
    await runCron("shopfloor_bridge", "shopfloor_alert_cron_deliver");
    // One timeout (1 s) for the receiver that never answers, then the rest.
    expect(Date.now() - started).toBeLessThan(10_000);
    const [open] = await Promise.all([alerts([["state", "=", "open"]])]);
    const alertOf = (rule: number) => open.find((a) => a.rule_id[0] === rule) as (typeof open)[number];
    const url = (rule: number) => `${baseUrl.replace(/\/$/, "")}/odoo/shopfloor.alert/${alertOf(rule).id}`;
    const posted = (path: string) => posts.filter((p) => p.path === path);

    const [slack] = posted("/slack");
    expect(slack?.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(slack?.body ?? "")).toEqual({
      text: `*[ALERT] alerts: Spool depth over 10 events*\n50 events in the sidecar's spool\n<${url(rules.slack as number)}|Open in Odoo>`,
    });

    const [teams] = posted("/teams");
    const teamsAlert = alertOf(rules.teams as number) as unknown as { opened_at: string };
    expect(JSON.parse(teams?.body ?? "")).toEqual({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              {
                type: "TextBlock",
                text: "[ALERT] alerts: Spool depth over 20 events",
                weight: "Bolder",
                size: "Medium",
                wrap: true,
                color: "Attention",
              },
              { type: "TextBlock", text: "50 events in the sidecar's spool", wrap: true },
              {
                type: "FactSet",
                facts: [
                  { title: "Connection", value: "alerts" },
                  { title: "Rule", value: "Spool depth over 20 events" },
                  { title: "Value", value: "50" },
                  { title: "Threshold", value: "20" },
                  { title: "Opened", value: `${teamsAlert.opened_at} UTC` },
                ],
              },
            ],
            actions: [{ type: "Action.OpenUrl", title: "Open in Odoo", url: url(rules.teams as number) }],
          },
        },
      ],
    });

    const [json] = posted("/json");
    const jsonAlert = alertOf(rules.json as number) as unknown as { opened_at: string };
    expect(JSON.parse(json?.body ?? "")).toEqual({
      event: "shopfloor.alert.opened",
      connection: "alerts",
      rule: "Spool depth over 30 events",
      kind: "spool_depth",
      message: "50 events in the sidecar's spool",
      value: 50,
      threshold: 30,
      opened_at: `${jsonAlert.opened_at} UTC`,
      resolved_at: null,
      url: url(rules.json as number),
    });

    const byRule = async (rule: number) =>
      (await deliveries([["alert_id", "=", alertOf(rule).id]]))[0] as Awaited<ReturnType<typeof deliveries>>[number];
    const hang = await byRule(rules.hang as number);
    expect(hang).toMatchObject({ state: "pending", attempts: 1 });
    expect(hang.last_error).toMatch(/Could not reach the receiver: .*[Tt]imed? ?out/);
    const broken = await byRule(rules.broken as number);
    expect(broken).toMatchObject({ state: "pending", attempts: 1, response_status: 500 });
    expect(broken.last_error).toContain("The receiver answered HTTP 500: ok");
    for (const rule of [rules.slack, rules.teams, rules.json])
      expect((await byRule(rule as number)).state).toBe("sent");
    const notes = (await admin().execute(
      "mail.message",
      "search_read",
      [
        [
          ["model", "=", "shopfloor.alert"],
          ["res_id", "=", alertOf(rules.broken as number).id],
        ],
      ],
      { fields: ["body"] },
    )) as { body: string }[];
    expect(notes.some((n) => n.body.includes("attempt 1 of 5") && n.body.includes("HTTP 500"))).toBe(true);
  });

  it("e-mails the responsible user through Odoo's mail queue", async () => {
    await runCron("mail", "ir_cron_mail_scheduler_action");
    const opened = await until("five alert e-mails", () => (mails.length >= 5 ? mails : undefined));
    const slackMail = opened.find((m) => /Subject: \[ALERT\] alerts: Spool depth over 10 events/.test(m.raw));
    expect(slackMail?.to).toEqual(["lead@plant.example"]);
    expect(slackMail?.from).toBe("odoo@plant.example");
    expect(slackMail?.raw).toMatch(/^To: .*lead@plant\.example/m);
    const text = decodedMail(slackMail?.raw ?? "");
    expect(text).toContain("50 events in the sidecar");
    expect(text).toContain("/odoo/shopfloor.alert/");
  });

  it("a heartbeat that clears the condition resolves each alert once, by mail and webhook", async () => {
    await fixture.client().heartbeat("alerts", { spool_depth: 0 });
    await fixture.client().heartbeat("alerts", { spool_depth: 0 });
    const all = await alerts();
    expect(all).toHaveLength(5);
    expect(all.every((a) => a.state === "resolved" && a.message === "0 events in the sidecar's spool")).toBe(true);
    const before = posts.length;
    await runCron("shopfloor_bridge", "shopfloor_alert_cron_deliver");
    const resolvedSlack = posts.slice(before).find((p) => p.path === "/slack");
    expect(JSON.parse(resolvedSlack?.body ?? "{}").text).toMatch(
      /^\*\[RESOLVED\] alerts: Spool depth over 10 events\*\n0 events in the sidecar's spool\n</,
    );
    const mailsBefore = mails.length;
    await runCron("mail", "ir_cron_mail_scheduler_action");
    const resolved = await until("five resolve e-mails", () =>
      mails.length >= mailsBefore + 5 ? mails.slice(mailsBefore) : undefined,
    );
    expect(resolved.filter((m) => /Subject: \[RESOLVED\] alerts: Spool depth over/.test(m.raw))).toHaveLength(5);
  });

  it("whatever a heartbeat carries, every rule kind is checked and the heartbeat answered (property)", async () => {
    const all = (await admin().execute(
      "shopfloor.alert.rule",
      "search",
      [[["connection_id", "=", fixture.connectionId]]],
      {
        context: { active_test: false },
      },
    )) as number[];
    await admin().execute("shopfloor.alert.rule", "write", [all, { active: true }]);
    const logBefore = readFileSync(odoo.logFile, "utf8").length;
    const figure = fc.oneof(
      fc.jsonValue(),
      fc.double(),
      fc.constantFrom(0, -1, 2 ** 31, -(2 ** 53), "0", "NaN", "Infinity", true, false, null),
    );
    const stats = fc.dictionary(
      fc.constantFrom("spool_depth", "source_connected", "source", "source_error", "max_skew_ms", "clock_offset_ms"),
      figure,
    );
    const client = fixture.client();
    await fc.assert(
      fc.asyncProperty(stats, async (sent) => {
        const reply = await client.heartbeat("alerts", sent as Record<string, unknown>);
        expect(reply.server_time).toMatch(/^\d{4}-\d\d-\d\dT/);
      }),
      { numRuns: 40 },
    );
    // The evaluation never raised: its guard logs what it swallows, and it logged nothing.
    const log = readFileSync(odoo.logFile, "utf8").slice(logBefore);
    expect(log).not.toContain("could not be evaluated");
    expect(log).not.toMatch(/ ERROR .*shopfloor/);
  });
});
