import { defineConfig } from "vitest/config";

// Three vitest tiers; the Odoo and browser tiers have their own runners.
// *.test.ts: pure units, no sockets. *.int.test.ts: real brokers/servers
// (aedes, Mosquitto, node-opcua, real Odoo). *.e2e.test.ts: the whole chain.
// The e2e tier is two projects, run one after the other: "e2e", two files at a time, then
// "e2e-alone", one at a time: the files that assert how soon something happens (a fault
// recovered within a minute, a tag written within seconds, a polled value's time), or that load both
// cores by themselves (the demo's three lines, two Odoo workers booking at once).
const E2E_ALONE = [
  "test/e2e/chaos.e2e.test.ts",
  "test/e2e/demo.e2e.test.ts",
  "test/e2e/dispatch_opcua.e2e.test.ts",
  "test/e2e/enip_source.e2e.test.ts",
  "test/e2e/modbus_source.e2e.test.ts",
  "test/e2e/parallel_apply.e2e.test.ts",
  "test/e2e/s7_source.e2e.test.ts",
];
// What both e2e projects share.
const E2E_SETTINGS = {
  globalSetup: ["test/support/global-setup.ts"],
  testTimeout: 300_000,
  hookTimeout: 300_000,
};

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
          exclude: ["**/node_modules/**", ...E2E_ALONE],
          ...E2E_SETTINGS,
          // A chain spends about half its time waiting (Odoo, brokers, the spool): two at once.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e-alone",
          include: E2E_ALONE,
          ...E2E_SETTINGS,
          maxWorkers: 1,
          // After the "e2e" project, one file at a time.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
