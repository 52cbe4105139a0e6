// Planning push-back seen from both ends: a planner drags an order on the
// dispatch board of a real Odoo 18 (demo data); the sidecar's floor
// dispatcher writes the work center's queue to the line simulator's
// Ignition-like OPC UA server; the card shows the floor's ack (sent → acked)
// without a reload, and an OPC UA client reads the new queue from the server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, type Locator, type Page, test } from "@playwright/test";
import { AttributeIds, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy } from "node-opcua";
import { freePort } from "../../sidecar/devstack/odoo.ts";
import { Line } from "../../sidecar/simulator/line.ts";
import { SimOpcuaServer } from "../../sidecar/simulator/opcua-server.ts";
import type { DispatchAck } from "../../sidecar/src/core/ports.ts";
import { type RunningDispatcher, startDispatcher } from "../../sidecar/src/floor/dispatcher.ts";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";
import { login, odooDb, odooUrl, rpc, shot } from "./support.ts";

const WORKCENTER = "L1 Press 01";
const LINE = "Line1";
const DEPTH = 3;

/** The planning tag of a slot field as the sidecar writes it (the target's default node-id template). */
const slotNode = (slot: number, field: "Order" | "Priority" | "Start") =>
  `ns=2;s=[default]Shopfloor/${LINE}/Queue/${slot}/${field}`;

/** Reads tags the way an HMI or Ignition would: a fresh OPC UA session, not the simulator's memory. */
async function readTags(endpoint: string, nodeIds: string[], pkiDir: string): Promise<unknown[]> {
  const client = OPCUAClient.create({
    applicationName: "dispatch board browser test",
    // Its own certificate: the default PKI holds the floor writer's, made for another application URI.
    clientCertificateManager: new OPCUACertificateManager({ rootFolder: pkiDir, disableFileWatchers: true }),
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0 },
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
  });
  await client.connect(endpoint);
  try {
    const session = await client.createSession();
    try {
      const values = await session.read(nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })));
      return values.map((value, i) => {
        if (!value.statusCode.isGood()) throw new Error(`${nodeIds[i]}: ${value.statusCode.name}`);
        return value.value.value;
      });
    } finally {
      await session.close();
    }
  } finally {
    await client.disconnect();
  }
}

async function queueOnTheFloor(endpoint: string, pkiDir: string): Promise<{ order: string; priority: number }[]> {
  const nodes = [...Array(DEPTH).keys()].flatMap((slot) => [slotNode(slot, "Order"), slotNode(slot, "Priority")]);
  const values = await readTags(endpoint, nodes, pkiDir);
  return [...Array(DEPTH).keys()]
    .map((slot) => ({ order: String(values[2 * slot]), priority: Number(values[2 * slot + 1]) }))
    .filter((entry) => entry.order !== "");
}

/**
 * Holds the dispatcher's acks while closed: the floor write has happened but
 * Odoo has not heard of it yet, so the board's "sent" state lasts long enough
 * to be seen (normally it lasts a few milliseconds).
 */
class AckGate {
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;
  hold(): void {
    this.#held = new Promise((resolve) => (this.#release = resolve));
  }
  release(): void {
    this.#release?.();
    this.#held = undefined;
  }
  async pass(): Promise<void> {
    await this.#held;
  }
}

/** Records made through the admin's XML-RPC; removed (users archived) afterwards, newest first. */
type Made = { model: string; id: number }[];

/** Database ids of XML ids such as "mrp.group_mrp_manager". */
async function refs(xmlIds: string[]): Promise<number[]> {
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

function cardsOf(page: Page): Locator {
  return page.locator(`.o_sfb_column[data-workcenter="${WORKCENTER}"] .o_sfb_card`);
}

/**
 * A real pointer drag: press on the card, move over the target card's top edge in steps, release.
 * Each step waits for what the board shows (the card marked as dragged, then the drop slot open
 * above the target) before the next, so a slow machine cannot release before Chromium's drag began.
 */
async function dragCard(page: Page, card: Locator, onto: Locator): Promise<void> {
  await card.scrollIntoViewIfNeeded();
  const from = await card.boundingBox();
  if (!from) throw new Error("card not on screen");
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 - 12, { steps: 4 });
  await expect(card).toHaveClass(/o_sfb_dragging/);
  const to = await onto.boundingBox();
  if (!to) throw new Error("target card not on screen");
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 });
  await page.mouse.move(to.x + to.width / 2, to.y + 6, { steps: 4 });
  const column = page.locator(`.o_sfb_column[data-workcenter="${WORKCENTER}"]`);
  const slot = column.locator(".o_sfb_drop_slot").first();
  await expect(slot).toHaveClass(/o_sfb_over/);
  // The slot opened under the pointer and moved the cards: without a move after that, Chromium drops
  // on an element it last asked about before the layout changed, finds no accepted dragover, and
  // cancels the drag. A move onto the opened slot makes the last dragover the one that is released on.
  const open = await slot.boundingBox();
  if (!open) throw new Error("drop slot not on screen");
  await page.mouse.move(open.x + open.width / 2, open.y + open.height / 2, { steps: 2 });
  await expect(slot).toHaveClass(/o_sfb_over/);
  await page.mouse.up();
}

/** What the test starts and makes; taken down after it, also after a failure or a timeout. */
const bench: {
  dir?: string;
  sim?: SimOpcuaServer;
  dispatcher?: RunningDispatcher;
  gate: AckGate;
  made: Made;
} = { gate: new AckGate(), made: [] };

test.afterEach(async () => {
  bench.gate.release();
  await bench.dispatcher?.stop().catch(() => {});
  await bench.sim?.stop().catch(() => {});
  const admin = rpc();
  // Later specs share this database: the press must not keep a floor target nobody serves.
  for (const { model, id } of bench.made.reverse()) {
    // Users who logged in are referenced all over: archived, not deleted.
    const remove =
      model === "res.users"
        ? admin.execute(model, "write", [[id], { active: false }])
        : admin.execute(model, "unlink", [[id]]);
    await remove.catch(() => {});
  }
  if (bench.dir) rmSync(bench.dir, { recursive: true, force: true });
  Object.assign(bench, { dir: undefined, sim: undefined, dispatcher: undefined, gate: new AckGate(), made: [] });
});

test("dispatch board → OPC UA: a dragged order reaches the floor's tags and the card shows sent → acked", async ({
  page,
}) => {
  test.setTimeout(180_000);
  const admin = rpc();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "sfb-browser-dispatch-"));
  bench.dir = dir;
  const readerPki = join(dir, "reader-pki");
  const { gate, made } = bench;
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));

  const sim = new SimOpcuaServer({
    line: new Line(LINE, ["Press"]),
    port: await freePort(),
    pkiDir: join(dir, "pki"),
    securityModes: ["None"],
  });
  bench.sim = sim;
  await sim.start();
  const floorQueue = () => queueOnTheFloor(sim.endpoint, readerPki);

  // The demo press's queue starts unstarred, so a drop on top has something to change.
  const pressOrders = (await admin.execute("mrp.workorder", "search_read", [
    [
      ["workcenter_id.name", "=", WORKCENTER],
      ["state", "in", ["pending", "waiting", "ready"]],
      ["production_id.state", "in", ["confirmed", "progress"]],
    ],
    ["production_id"],
  ])) as { production_id: [number, string] }[];
  expect(pressOrders.length).toBeGreaterThanOrEqual(2);
  await admin.execute("mrp.production", "write", [pressOrders.map((w) => w.production_id[0]), { priority: "0" }]);

  // As an administrator sets it up: the sidecar's account, an OPC UA connection, the press's floor target.
  const [integration, userGroup, mrpManager, floorManager] = await refs([
    "shopfloor_bridge.shopfloor_bridge_group_integration",
    "base.group_user",
    "mrp.group_mrp_manager",
    "shopfloor_bridge.shopfloor_bridge_group_manager",
  ]);
  const sidecarLogin = `sidecar-${tag}`;
  const sidecarUser = (await admin.execute("res.users", "create", [
    { name: `Sidecar ${tag}`, login: sidecarLogin, password: sidecarLogin, groups_id: [[6, 0, [integration]]] },
  ])) as number;
  made.push({ model: "res.users", id: sidecarUser });
  const plannerLogin = `planner-${tag}`;
  made.push({
    model: "res.users",
    id: (await admin.execute("res.users", "create", [
      {
        name: "Pat Planner",
        login: plannerLogin,
        password: plannerLogin,
        groups_id: [[6, 0, [userGroup, mrpManager, floorManager]]],
      },
    ])) as number,
  });
  const code = `browser-opcua-${tag}`;
  const connectionId = (await admin.execute("shopfloor.connection", "create", [
    {
      code,
      name: `Line 1 Ignition (${tag})`,
      kind: "opcua",
      opcua_endpoint: sim.endpoint,
      dispatch_poll_interval_ms: 300,
      integration_user_ids: [[6, 0, [sidecarUser]]],
    },
  ])) as number;
  made.push({ model: "shopfloor.connection", id: connectionId });
  const [workcenter] = (await admin.execute("mrp.workcenter", "search", [[["name", "=", WORKCENTER]]])) as number[];
  made.push({
    model: "shopfloor.dispatch.target",
    id: (await admin.execute("shopfloor.dispatch.target", "create", [
      { connection_id: connectionId, workcenter_id: workcenter, kind: "opcua", depth: DEPTH, line_code: LINE },
    ])) as number,
  });

  // The sidecar's dispatcher, configured from Odoo the way the sidecar's main does.
  const sidecar = new JsonRpcOdooClient({ url: odooUrl(), db: odooDb(), user: sidecarLogin, apiKey: sidecarLogin });
  const config = await sidecar.sidecarConfig(code);
  expect(config.dispatch.targets).toHaveLength(1);
  bench.dispatcher = startDispatcher({
    odoo: {
      dispatchPull: (connection, limit) => sidecar.dispatchPull(connection, limit),
      dispatchAck: async (results: DispatchAck[]) => {
        await gate.pass();
        return sidecar.dispatchAck(results);
      },
    },
    config,
    spoolDir: dir,
  });

  // The target's first queue reaches the floor on its own.
  await expect
    .poll(async () => (await floorQueue()).length, { timeout: 20_000 })
    .toBe(Math.min(DEPTH, pressOrders.length));

  await login(page, plannerLogin, plannerLogin);
  await page.setViewportSize({ width: 1280, height: 800 });
  // Manufacturing → Shop Floor → Dispatch board, through the menus a planner uses.
  await page.locator(".o_navbar_apps_menu button").click();
  await page.locator('.o_app[data-menu-xmlid="mrp.menu_mrp_root"]').click();
  // Manufacturing opens on its orders: let that action finish before the next menu.
  await expect(page.locator(".o_breadcrumb")).toContainText("Manufacturing Orders");
  await page.locator('.o_menu_sections [data-menu-xmlid="shopfloor_bridge.shopfloor_bridge_menu_root"]').click();
  await page.locator('[data-menu-xmlid="shopfloor_bridge.shopfloor_dispatch_board_menu"]').click();
  const cards = cardsOf(page);
  await expect(cards.nth(1)).toBeVisible({ timeout: 30_000 });
  await expect(cards.first().locator(".o_sfb_card_ack")).toHaveText(/^acked v\d+$/, { timeout: 15_000 });
  const ackedBefore = Number((await cards.first().locator(".o_sfb_card_ack").textContent())?.split("v")[1]);
  const boardBefore = (await cards.evaluateAll((els) => els.map((el) => el.getAttribute("data-mo")))) as string[];
  expect(await floorQueue()).toEqual(boardBefore.slice(0, DEPTH).map((order) => ({ order, priority: 0 })));
  await page.screenshot({ path: shot("dispatch_opcua_before"), fullPage: true });

  await page.evaluate(() => {
    (window as unknown as { __sfbNoReload: boolean }).__sfbNoReload = true;
  });
  gate.hold();
  const moved = boardBefore.at(-1) as string;
  await dragCard(page, cards.nth(boardBefore.length - 1), cards.first());

  // (a) The board: the order is on top, starred; its floor state goes sent → acked without a reload.
  await expect(cards.first()).toHaveAttribute("data-mo", moved, { timeout: 15_000 });
  await expect(cards.first().locator(".o_sfb_star")).toBeVisible();
  const ack = cards.first().locator(".o_sfb_card_ack");
  await expect(ack).toHaveText(`sent v${ackedBefore + 1}`, { timeout: 15_000 });
  // (b) An OPC UA client reads the new queue from the server: written, while the ack is still held.
  const expected = [moved, ...boardBefore.filter((mo) => mo !== moved)]
    .slice(0, DEPTH)
    .map((order) => ({ order, priority: order === moved ? 1 : 0 }));
  await expect.poll(floorQueue, { timeout: 10_000 }).toEqual(expected);
  await expect(ack).toHaveText(`sent v${ackedBefore + 1}`);
  await page.screenshot({ path: shot("dispatch_opcua_sent"), fullPage: true });
  gate.release();
  await expect(ack).toHaveText(`acked v${ackedBefore + 1}`, { timeout: 15_000 });
  expect(await page.evaluate(() => (window as unknown as { __sfbNoReload?: boolean }).__sfbNoReload)).toBe(true);
  await page.screenshot({ path: shot("dispatch_opcua_acked"), fullPage: true });
  expect(await floorQueue()).toEqual(expected);

  const [mo] = (await admin.execute("mrp.production", "search_read", [[["name", "=", moved]], ["priority"]])) as {
    priority: string;
  }[];
  expect(mo?.priority).toBe("1");
  expect(errors).toEqual([]);
});
