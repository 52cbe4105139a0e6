import { defineConfig } from "vitest/config";

// Three vitest tiers; the Odoo and browser tiers have their own runners.
// *.test.ts: pure units, no sockets. *.int.test.ts: real brokers/servers
// (aedes, Mosquitto, node-opcua, real Odoo). *.e2e.test.ts: the whole chain.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["sidecar/**/*.test.ts", "owl_src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/*.int.test.ts", "**/*.e2e.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["sidecar/**/*.int.test.ts", "owl_src/**/*.int.test.ts", "test/**/*.int.test.ts"],
          exclude: ["**/node_modules/**"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Each file starts its own Odoo/broker; two cores do not fit more.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.e2e.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
