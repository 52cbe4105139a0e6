import { expect, type Page } from "@playwright/test";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";

export function odooUrl(): string {
  const url = process.env.ODOO_URL;
  if (!url) throw new Error("ODOO_URL is not set: run through test/browser/playwright.config.ts");
  return url;
}

/** Logs in through Odoo's own login form. */
export async function login(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${odooUrl()}/web/login`);
  await page.fill("input[name=login]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  // The first backend page of a fresh server compiles the asset bundles,
  // which takes tens of seconds on a busy two-core machine.
  await expect(page.locator(".o_main_navbar")).toBeVisible({ timeout: 90_000 });
}

/** A save Odoo refused: its dialog says `text`, and is closed. */
export async function refusedWith(page: Page, text: string): Promise<void> {
  const dialog = page.locator(".modal-dialog");
  await expect(dialog).toContainText(text);
  await dialog
    .getByRole("button", { name: /Close|Ok/ })
    .first()
    .click();
}

// --- shared by the screens' specs ------------------------------------------

export function odooDb(): string {
  const db = process.env.ODOO_DB;
  if (!db) throw new Error("ODOO_DB is not set: run through test/browser/playwright.config.ts");
  return db;
}

/** JSON-RPC as a given user, the way the sidecar talks to Odoo. */
export function rpc(user = "admin", password = "admin"): JsonRpcOdooClient {
  return new JsonRpcOdooClient({ url: odooUrl(), db: odooDb(), user, apiKey: password });
}

let counter = 0;
/** A CloudEvent of the demo plant (connection plant1-mqtt, source → L1 Press 01). */
export function demoEvent(type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  counter++;
  return {
    specversion: "1.0",
    id: `ui-${process.pid}-${Date.now()}-${counter}`,
    source: "plant1/line1/press-01",
    type,
    time: new Date(Date.now() - 2000).toISOString(),
    connection: "plant1-mqtt",
    data,
    ...extra,
  };
}

/** A user with only the Shop Floor "User" group (reads, may not act on dead letters). */
export async function ensurePlainUser(login = "floor-reader"): Promise<{ login: string; password: string }> {
  const admin = rpc();
  const found = (await admin.execute("res.users", "search", [[["login", "=", login]]])) as number[];
  if (!found.length) {
    const [groupUser] = (await admin.execute("ir.model.data", "search_read", [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "=", "shopfloor_bridge_group_user"],
      ],
      ["res_id"],
    ])) as { res_id: number }[];
    const [base] = (await admin.execute("ir.model.data", "search_read", [
      [
        ["module", "=", "base"],
        ["name", "=", "group_user"],
      ],
      ["res_id"],
    ])) as { res_id: number }[];
    await admin.execute("res.users", "create", [
      {
        name: "Floor Reader",
        login,
        password: login,
        groups_id: [[6, 0, [base?.res_id, groupUser?.res_id]]],
      },
    ]);
  }
  return { login, password: login };
}

/** Screenshots go where the tier's artifacts are collected; look at them. */
export function shot(name: string): string {
  return `artifacts/browser/${name}.png`;
}
