import { defineConfig } from "@playwright/test";

// Debian's Chromium only: Playwright never downloads a browser here.
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export default defineConfig({
  testDir: ".",
  testMatch: "**/*.spec.ts",
  outputDir: "../../artifacts/browser",
  globalSetup: "./global-setup.ts",
  timeout: 120_000,
  workers: 1,
  retries: 0,
  reporter: [["list"], ["json"]],
  use: {
    headless: true,
    screenshot: "only-on-failure",
    launchOptions: { executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: chromiumArgs },
  },
});
