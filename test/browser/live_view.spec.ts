// The live plant view (the Shop Floor landing page) on real Odoo 18 and
// Debian Chromium: the demo's work centers with their states, and a tile
// that changes when the floor says so, over the bus, without a reload.
import { expect, test } from "@playwright/test";
import { demoEvent, login, odooUrl, rpc, shot } from "./support.ts";

const DEMO_WORKCENTERS = ["L1 Press 01", "L1 Assembly 01", "L2 Press 02", "L2 Assembly 02"];
const STATES = /^(held|down|setup|running|idle)$/;

test("the live view shows the demo's work centers and follows a breakdown over the bus", async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-bridge`);
  const view = page.locator(".o_sfb_live_view");
  await expect(view.getByRole("heading", { name: "Plant now" })).toBeVisible();
  for (const name of DEMO_WORKCENTERS) {
    const tile = view.locator(`.o_sfb_live_tile[data-workcenter="${name}"]`);
    await expect(tile).toBeVisible();
    expect(await tile.getAttribute("data-state")).toMatch(STATES);
  }
  // Lines are the demo's work center tags.
  await expect(view.locator('.o_sfb_line[data-line="Plant 1 · Line 1"] .o_sfb_live_tile')).toHaveCount(2);
  await expect(view.locator('.o_sfb_line[data-line="Plant 1 · Line 2"] .o_sfb_live_tile')).toHaveCount(2);
  await expect(view.locator('.o_sfb_health_item[data-connection="plant1-mqtt"]')).toBeVisible();
  await expect(view).not.toContainText(/\bfalse\b|\bundefined\b|\bNaN\b|\[object Object\]/);

  // The page must not reload: a marker on window survives only in the same document.
  await page.evaluate(() => {
    (window as unknown as { sfbMarker: number }).sfbMarker = 42;
  });
  const press = view.locator('.o_sfb_live_tile[data-workcenter="L1 Press 01"]');
  const downtimeId = `LV-${Date.now()}`;
  const [result] = await rpc("sidecar@plant1", "sidecar").ingest([
    demoEvent("downtime.started", { reason_code: "BRK", downtime_id: downtimeId }),
  ] as never);
  expect(result?.status, result?.error ?? "").toBe("applied");
  await expect(press).toHaveAttribute("data-state", "down", { timeout: 15_000 });
  await expect(press.locator(".o_sfb_live_since")).toContainText(/· since /);
  await expect(press.locator(".o_sfb_live_age")).toHaveText(/^Last event \d+ s ago$/);
  expect(await page.evaluate(() => (window as unknown as { sfbMarker?: number }).sfbMarker)).toBe(42);
  await page.screenshot({ path: shot("live-view"), fullPage: true });

  const [ended] = await rpc("sidecar@plant1", "sidecar").ingest([
    demoEvent("downtime.ended", { reason_code: "BRK", downtime_id: downtimeId }, { time: new Date().toISOString() }),
  ] as never);
  expect(ended?.status, ended?.error ?? "").toBe("applied");
  await expect(press).not.toHaveAttribute("data-state", "down", { timeout: 15_000 });
  expect(await page.evaluate(() => (window as unknown as { sfbMarker?: number }).sfbMarker)).toBe(42);

  // A click opens that work center's timeline in the event explorer.
  await press.click();
  const explorer = page.locator(".o_sfb_explorer");
  await expect(explorer).toBeVisible();
  await expect(explorer.locator("select.o_sfb_x_workcenter option:checked")).toHaveText("L1 Press 01");
  expect(consoleErrors).toEqual([]);
});

/** A manufacturing user with the Shop Floor "User" group: reads the live view, manages nothing. */
async function ensureFloorOperator(login = "floor-operator"): Promise<{ login: string; password: string }> {
  const admin = rpc();
  const found = (await admin.execute("res.users", "search", [[["login", "=", login]]])) as number[];
  if (!found.length) {
    const groups: number[] = [];
    for (const [module, name] of [
      ["base", "group_user"],
      ["mrp", "group_mrp_user"],
      ["shopfloor_bridge", "shopfloor_bridge_group_user"],
    ]) {
      const [row] = (await admin.execute("ir.model.data", "search_read", [
        [
          ["module", "=", module],
          ["name", "=", name],
        ],
        ["res_id"],
      ])) as { res_id: number }[];
      if (row) groups.push(row.res_id);
    }
    await admin.execute("res.users", "create", [
      { name: "Floor Operator", login, password: login, groups_id: [[6, 0, groups]] },
    ]);
  }
  return { login, password: login };
}

test("the menu Manufacturing → Shop Floor → Overview opens the live view", async ({ page }) => {
  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/action-mrp.mrp_production_action`);
  await page.locator(".o_menu_sections").getByText("Shop Floor", { exact: true }).click();
  await page.locator(".o-dropdown--menu").getByText("Overview", { exact: true }).click();
  await expect(page.locator(".o_sfb_live_view h1")).toHaveText("Plant now");
});

test("a shop floor user who is no manager sees the live view", async ({ page }) => {
  const operator = await ensureFloorOperator();
  await login(page, operator.login, operator.password);
  await page.goto(`${odooUrl()}/odoo/shopfloor-bridge`);
  await expect(page.locator(".o_sfb_live_tile")).not.toHaveCount(0);
  await expect(page.locator('.o_sfb_live_tile[data-workcenter="L2 Press 02"]')).toBeVisible();
  await expect(page.locator(".o_sfb_error")).toHaveCount(0);
});
