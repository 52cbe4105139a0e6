import { defineConfig } from "@playwright/test";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../../sidecar/devstack/chromium.ts";

export default defineConfig({
  testDir: ".",
  testMatch: "**/*.spec.ts",
  // Its own subfolder: Playwright empties it at each run, and the screenshots beside it
  // (the specs', and the demo test's OEE from the e2e tier) stay.
  outputDir: "../../artifacts/browser/results",
  globalSetup: "./global-setup.ts",
  timeout: 120_000,
  workers: 1,
  retries: 0,
  reporter: [["list"], ["json"]],
  use: {
    headless: true,
    screenshot: "only-on-failure",
    // Debian's Chromium only: Playwright never downloads a browser here.
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
});
