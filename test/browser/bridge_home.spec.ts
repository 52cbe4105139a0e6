import { expect, test } from "@playwright/test";
import { login, odooUrl } from "./support.ts";

test("the OWL client action bundled from owl_src renders in the Odoo backend", async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/shopfloor-bridge`);
  const home = page.locator(".o_shopfloor_bridge_home");
  await expect(home.getByRole("heading", { name: "Shop Floor Bridge" })).toBeVisible();
  // The version comes from an orm.searchRead round trip to the server.
  await expect(home.locator(".o_shopfloor_bridge_version strong")).toHaveText(/^18\.0\.\d+\.\d+\.\d+$/);
  await page.screenshot({ path: "artifacts/browser/bridge_home.png", fullPage: true });
  expect(consoleErrors).toEqual([]);
});

test("the menu Manufacturing → Shop Floor → Overview opens the screen", async ({ page }) => {
  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/action-mrp.mrp_production_action`);
  await page.locator(".o_menu_sections").getByText("Shop Floor", { exact: true }).click();
  await page.locator(".o-dropdown--menu").getByText("Overview", { exact: true }).click();
  await expect(page.locator(".o_shopfloor_bridge_home h1")).toHaveText("Shop Floor Bridge");
});
