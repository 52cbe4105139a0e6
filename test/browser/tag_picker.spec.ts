// The OPC UA tag picker seen from both ends: a Shop Floor manager opens a new
// tag rule in a real Odoo 18, browses the line simulator's node-opcua server
// through a running sidecar (the composition root, in-process), expands the
// address space down to a machine's tag, sees its live value and data type,
// picks it and saves the rule; the sidecar reloads with the new rule and the
// next change of that tag becomes an event in Odoo.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { freePort } from "../../sidecar/devstack/odoo.ts";
import { Line } from "../../sidecar/simulator/line.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import { Sidecar } from "../../sidecar/src/main.ts";
import { createLogger } from "../../sidecar/src/ops/log.ts";
import { ensurePlainUser, login, odooDb, odooUrl, rpc, shot } from "./support.ts";

const LINE = "Line1";
const MACHINE = "Press";
const NODE = `ns=2;s=[default]${LINE}/${MACHINE}/ScrapCount`;

/** What the test starts and makes; taken down after it, also after a failure or a timeout. */
const bench: { dir?: string; sim?: SimOpcuaServer; sidecar?: Sidecar; made: { model: string; id: number }[] } = {
  made: [],
};

test.afterEach(async () => {
  await bench.sidecar?.stop().catch(() => {});
  await bench.sim?.stop().catch(() => {});
  const admin = rpc();
  for (const { model, id } of bench.made.reverse()) {
    const remove =
      model === "res.users"
        ? admin.execute(model, "write", [[id], { active: false }])
        : admin.execute(model, "unlink", [[id]]);
    await remove.catch(() => {});
  }
  if (bench.dir) rmSync(bench.dir, { recursive: true, force: true });
  Object.assign(bench, { dir: undefined, sim: undefined, sidecar: undefined, made: [] });
});

async function groupIds(xmlIds: string[]): Promise<number[]> {
  return Promise.all(
    xmlIds.map(async (xmlId) => {
      const [module, name] = xmlId.split(".");
      const [row] = (await rpc().execute("ir.model.data", "search_read", [
        [
          ["module", "=", module],
          ["name", "=", name],
        ],
        ["res_id"],
      ])) as { res_id: number }[];
      if (!row) throw new Error(`no record ${xmlId}`);
      return row.res_id;
    }),
  );
}

test("tag picker: browse the OPC UA server, pick a tag, save the rule, and its next change is an event", async ({
  page,
}) => {
  test.setTimeout(240_000);
  const admin = rpc();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "sfb-browser-picker-"));
  bench.dir = dir;
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));

  const line = new Line(LINE, [MACHINE]);
  line.set(MACHINE, "ScrapCount", 7);
  const sim = new SimOpcuaServer({ line, port: await freePort(), pkiDir: join(dir, "pki"), securityModes: ["None"] });
  bench.sim = sim;
  await sim.start();

  // As an administrator sets it up: the sidecar's account and an OPC UA connection without any rule yet.
  const [integration, userGroup, floorManager] = await groupIds([
    "shopfloor_bridge.shopfloor_bridge_group_integration",
    "base.group_user",
    "shopfloor_bridge.shopfloor_bridge_group_manager",
  ]);
  const sidecarLogin = `picker-sidecar-${tag}`;
  const sidecarUser = (await admin.execute("res.users", "create", [
    { name: `Sidecar ${tag}`, login: sidecarLogin, password: sidecarLogin, groups_id: [[6, 0, [integration]]] },
  ])) as number;
  bench.made.push({ model: "res.users", id: sidecarUser });
  const managerLogin = `picker-admin-${tag}`;
  bench.made.push({
    model: "res.users",
    id: (await admin.execute("res.users", "create", [
      {
        name: "Alex Admin",
        login: managerLogin,
        password: managerLogin,
        groups_id: [[6, 0, [userGroup, floorManager]]],
      },
    ])) as number,
  });
  const code = `picker-${tag}`;
  const connectionName = `Line 1 OPC UA (${tag})`;
  const connectionId = (await admin.execute("shopfloor.connection", "create", [
    {
      code,
      name: connectionName,
      kind: "opcua",
      opcua_endpoint: sim.endpoint,
      batch_wait_ms: 100,
      integration_user_ids: [[6, 0, [sidecarUser]]],
    },
  ])) as number;
  bench.made.push({ model: "shopfloor.connection", id: connectionId });

  const sidecar = await Sidecar.start({
    boot: {
      odooUrl: odooUrl(),
      odooDb: odooDb(),
      odooUser: sidecarLogin,
      odooApiKey: sidecarLogin,
      odooApi: "jsonrpc",
      connection: code,
      spoolDir: join(dir, "spool"),
      metricsPort: 0,
    },
    log: createLogger("warn"),
    heartbeatMs: 500,
  });
  bench.sidecar = sidecar;

  await login(page, managerLogin, managerLogin);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/new`);
  const connectionInput = page.locator('div[name="connection_id"] input');
  await connectionInput.fill(connectionName);
  await page.locator(".o-autocomplete--dropdown-item", { hasText: connectionName }).first().click();
  await page.locator('div[name="source"] input').fill(`plant1/${tag}/press`);
  await page.locator('div[name="event_type"] input').fill("scrap.reported");

  // Browse… → the Objects folder, then Tags → Line1 → Press, one level per click.
  await page.locator(".o_sfb_browse").click();
  const dialog = page.locator(".o_sfb_tag_picker");
  const row = (nodeId: string) => dialog.locator(`li[data-node-id="${nodeId}"] > .o_sfb_picker_row`);
  await expect(row("ns=2;s=[default]")).toBeVisible({ timeout: 15_000 });
  for (const nodeId of ["ns=2;s=[default]", `ns=2;s=[default]${LINE}`, `ns=2;s=[default]${LINE}/${MACHINE}`]) {
    await row(nodeId).locator(".o_sfb_picker_toggle").click();
    await expect(dialog.locator(`li[data-node-id="${nodeId}"] > ul`)).toBeVisible({ timeout: 15_000 });
  }
  const scrap = row(NODE);
  await expect(scrap.locator(".o_sfb_picker_type")).toHaveText("UInt32");
  await expect(scrap.locator(".o_sfb_picker_value")).toHaveText("7");
  await scrap.locator(".o_sfb_picker_name").click();
  await expect(dialog.locator(".o_sfb_picker_detail_id")).toHaveText(NODE);
  await expect(dialog.locator(".o_sfb_picker_detail_type")).toHaveText("UInt32");
  await expect(dialog.locator(".o_sfb_picker_detail_value")).toHaveText("7");
  await page.screenshot({ path: shot("tag_picker_open"), fullPage: true });

  // Use and save: the dialog closes, the rule is stored with the picked node.
  await dialog.locator(".o_sfb_picker_use_save").click();
  await expect(dialog).toHaveCount(0, { timeout: 15_000 });
  await expect(page.locator('div[name="address"] input')).toHaveValue(NODE);
  const rule = async () =>
    (
      (await admin.execute("shopfloor.mapping.rule", "search_read", [
        [["connection_id", "=", connectionId]],
        ["address", "protocol", "kind", "event_type"],
      ])) as { id: number; address: string; protocol: string; kind: string; event_type: string }[]
    )[0];
  await expect.poll(rule, { timeout: 15_000 }).toMatchObject({
    address: NODE,
    protocol: "opcua",
    kind: "counter",
    event_type: "scrap.reported",
  });
  const ruleId = (await rule())?.id as number;
  bench.made.push({ model: "shopfloor.mapping.rule", id: ruleId });
  await page.screenshot({ path: shot("tag_picker_saved"), fullPage: true });

  // The sidecar reloads with the rule (the revision moved) and subscribes; the first value is the counter's baseline.
  const [{ revision }] = (await admin.execute("shopfloor.connection", "read", [[connectionId], ["revision"]])) as [
    { revision: number },
  ];
  await expect.poll(() => sidecar.config.revision, { timeout: 30_000 }).toBe(revision);
  await expect.poll(() => sidecar.source?.stats().changes ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);

  // The next change of that node: three more parts scrapped.
  line.set(MACHINE, "ScrapCount", 10);
  const events = async () =>
    (await admin.execute(
      "shopfloor.event",
      "search_read",
      [[["connection_id", "=", connectionId]], ["type", "source", "data_json"]],
      { context: { active_test: false } },
    )) as { type: string; source: string; data_json: string }[];
  await expect.poll(async () => (await events()).length, { timeout: 30_000 }).toBe(1);
  const [event] = await events();
  expect(event).toMatchObject({ type: "scrap.reported", source: `plant1/${tag}/press` });
  expect(JSON.parse(event?.data_json ?? "{}")).toMatchObject({ qty: 3 });
  expect(errors).toEqual([]);
});

test("tag picker: no sidecar is a clear answer, and only managers see Browse…", async ({ page }) => {
  test.setTimeout(120_000);
  const admin = rpc();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const [userGroup, floorManager] = await groupIds([
    "base.group_user",
    "shopfloor_bridge.shopfloor_bridge_group_manager",
  ]);
  const managerLogin = `picker-lonely-${tag}`;
  bench.made.push({
    model: "res.users",
    id: (await admin.execute("res.users", "create", [
      {
        name: "Lonely Admin",
        login: managerLogin,
        password: managerLogin,
        groups_id: [[6, 0, [userGroup, floorManager]]],
      },
    ])) as number,
  });
  // Nobody runs a sidecar for this connection.
  const code = `picker-nobody-${tag}`;
  const connectionId = (await admin.execute("shopfloor.connection", "create", [
    { code, name: `Unserved OPC UA (${tag})`, kind: "opcua", opcua_endpoint: "opc.tcp://127.0.0.1:1/none" },
  ])) as number;
  bench.made.push({ model: "shopfloor.connection", id: connectionId });
  const ruleId = (await admin.execute("shopfloor.mapping.rule", "create", [
    {
      connection_id: connectionId,
      kind: "counter",
      protocol: "opcua",
      address: "ns=2;s=Somewhere",
      source: `plant1/${tag}`,
      event_type: "production.reported",
    },
  ])) as number;
  bench.made.push({ model: "shopfloor.mapping.rule", id: ruleId });

  await login(page, managerLogin, managerLogin);
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/${ruleId}`);
  await page.locator(".o_sfb_browse").click();
  const dialog = page.locator(".o_sfb_tag_picker");
  await expect(dialog.locator(".o_sfb_picker_loading")).toBeVisible();
  // The server expires the question after 10 s and says whose sidecar did not answer.
  const error = dialog.locator(".o_sfb_picker_root_error");
  await expect(error).toContainText(`No answer from the sidecar of connection ${code}`, { timeout: 25_000 });
  await expect(error).toContainText("never reported");
  await expect(dialog.locator(".o_sfb_picker_loading")).toHaveCount(0);
  await page.screenshot({ path: shot("tag_picker_no_sidecar"), fullPage: true });
  await dialog.locator("button", { hasText: "Cancel" }).click();

  // A Shop Floor user reads the rule but is offered no Browse… (and the server would refuse the request).
  const reader = await ensurePlainUser();
  await page.context().clearCookies();
  await login(page, reader.login, reader.password);
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/${ruleId}`);
  await expect(page.locator('div[name="address"]')).toContainText("ns=2;s=Somewhere");
  await expect(page.locator(".o_sfb_browse")).toHaveCount(0);
  await expect(
    rpc(reader.login, reader.password).execute("shopfloor.probe", "request", [connectionId, "browse", ""]),
  ).rejects.toThrow(/Only Shop Floor Bridge managers/);
  expect(errors).toEqual([]);
});
