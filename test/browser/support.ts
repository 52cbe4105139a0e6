import { expect, type Page } from "@playwright/test";

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
