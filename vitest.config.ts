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
// The integration tier is two projects too: "integration", two files at a time, then
// "integration-alone", one at a time: the files that run a whole cluster of a broker (three
// Kafka JVMs, three RabbitMQ nodes) and would starve the timing of the files beside them.
const INTEGRATION_ALONE = [
  "sidecar/src/sources/amqp/cluster.int.test.ts",
  "sidecar/src/sources/kafka/cluster.int.test.ts",
];
// What the two projects of a tier share.
const INTEGRATION_SETTINGS = {
  globalSetup: ["test/support/global-setup.ts"],
  testTimeout: 120_000,
  hookTimeout: 300_000,
};
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
          exclude: ["**/node_modules/**", ...INTEGRATION_ALONE],
          ...INTEGRATION_SETTINGS,
          // Each file starts its own Odoo/broker; two cores do not fit more.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "integration-alone",
          include: INTEGRATION_ALONE,
          ...INTEGRATION_SETTINGS,
          maxWorkers: 1,
          // After the "integration" project, one file at a time.
          sequence: { groupOrder: 1 },
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
