// `npm run demo`: the whole system on this machine, in one command.
// Odoo 18 with the module and its demo plant on a fresh database, an MQTT
// broker (embedded aedes, or Mosquitto with --broker mosquitto), the sidecar,
// and a line simulator running a shift on both demo lines: orders started
// and completed, counts, downtime with reasons, scrap, a quality hold,
// malformed and duplicate messages, one machine with a drifting clock.
// Ctrl-C stops everything.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import xmlrpc from "xmlrpc";
import { type AedesBroker, startAedes } from "./aedes.ts";
import { type MosquittoBroker, startMosquitto } from "./mosquitto.ts";
import { DevStackError, freePort, type OdooServer, repoRoot, startOdoo } from "./odoo.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.DEMO_PORT ?? "8069" },
    db: { type: "string", default: process.env.DEMO_DB ?? "shopfloor_demo" },
    broker: { type: "string", default: "aedes" },
    "mqtt-port": { type: "string" },
    // Real milliseconds between simulated actions: 1000 reads well in a
    // browser; tests run it faster.
    "step-ms": { type: "string", default: "1000" },
  },
});

const log = (msg: string) => console.log(`[demo] ${msg}`);
const demoDir = join(repoRoot, "artifacts/demo");
const children: ChildProcess[] = [];
let odoo: OdooServer | undefined;
let broker: AedesBroker | MosquittoBroker | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping…");
    // Simulators first, then the sidecar (it drains), then broker and Odoo.
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 35_000);
      await gone;
      clearTimeout(timer);
    }
    if (broker) "close" in broker ? await broker.close() : await broker.destroy();
    await odoo?.stop();
    log("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

function spawnLogged(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const logFile = join(demoDir, `${name}.log`);
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.once("exit", (code, signal) => {
    if (!stopping && code !== 0) log(`${name} exited (${code ?? signal}); see ${logFile}`);
  });
  children.push(child);
  return child;
}

function rpc<T>(server: OdooServer, model: string, method: string, args: unknown[], kwargs = {}): Promise<T> {
  const client = xmlrpc.createClient({ url: `${server.url}/xmlrpc/2/object` });
  return new Promise((resolve, reject) =>
    client.methodCall(
      "execute_kw",
      [server.db, 2, server.password, model, method, args, kwargs],
      (err: unknown, value: T) => (err ? reject(err) : resolve(value)),
    ),
  );
}

/** Names Odoo gave the demo plant's manufacturing orders (sequence-dependent). */
async function demoOrders(server: OdooServer): Promise<Record<string, string>> {
  const keys = ["demo_mo_hinge_1", "demo_mo_hinge_2", "demo_mo_mount_1", "demo_mo_mount_2"];
  const refs = await rpc<{ name: string; res_id: number }[]>(
    server,
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "in", keys],
      ],
    ],
    { fields: ["name", "res_id"] },
  );
  const mos = await rpc<{ id: number; name: string }[]>(server, "mrp.production", "read", [refs.map((r) => r.res_id)], {
    fields: ["name"],
  });
  const byId = new Map(mos.map((m) => [m.id, m.name]));
  const orders: Record<string, string> = {};
  for (const r of refs) orders[r.name] = byId.get(r.res_id) ?? "";
  for (const k of keys)
    if (!orders[k]) throw new DevStackError(`demo data has no ${k}: is the module's demo data loaded?`);
  return orders;
}

async function waitForSidecar(metricsPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
      const health = (await res.json()) as { source_connected?: boolean };
      if (health.source_connected) return;
      last = JSON.stringify(health);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DevStackError(
    `the sidecar did not connect to the broker within 60 s (${last}); see ${demoDir}/sidecar.log`,
  );
}

/** One simulator per machine: each machine runs its own operation of an order. */
function startSimulators(mqttUrl: string, orders: Record<string, string>, stepMs: string): void {
  const runId = `demo${Date.now().toString(36)}`;
  const machines = [
    {
      line: "line1",
      machine: "press-01",
      operation: "Stamping",
      order: orders.demo_mo_hinge_1,
      scenario: "normal-shift",
    },
    {
      line: "line1",
      machine: "assembly-01",
      operation: "Assembly",
      order: orders.demo_mo_hinge_1,
      scenario: "duplicates",
    },
    {
      line: "line2",
      machine: "press-02",
      operation: "Stamping",
      order: orders.demo_mo_mount_1,
      scenario: "clock-drift",
    },
    {
      line: "line2",
      machine: "assembly-02",
      operation: "Assembly",
      order: orders.demo_mo_mount_1,
      scenario: "malformed-messages",
    },
  ];
  for (const m of machines) {
    spawnLogged(`simulator-${m.machine}`, [
      join(repoRoot, "sidecar/simulator/cli.ts"),
      "--scenario",
      m.scenario,
      "--channels",
      "mqtt",
      "--mqtt-url",
      mqttUrl,
      "--line",
      m.line,
      "--machines",
      m.machine,
      "--orders",
      m.order ?? "",
      "--operation",
      m.operation,
      "--parts",
      "12",
      "--scrap",
      "2",
      "--step-ms",
      stepMs,
      "--linger-ms",
      "3600000",
      "--run-id",
      `${runId}-${m.machine}`,
      "--ledger",
      join(demoDir, `ledger-${m.machine}.json`),
    ]);
  }
}

/** What the simulated machines do not send: a quality check, a hold, material booked above the BOM. */
async function publishQualityAndMaterial(mqttUrl: string, orders: Record<string, string>): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: `demo-quality-${process.pid}` });
  const now = () => new Date().toISOString();
  const event = (type: string, source: string, data: Record<string, unknown>, id: string) => ({
    specversion: "1.0",
    id: `demo-${id}-${Date.now().toString(36)}`,
    source,
    type,
    time: now(),
    data,
  });
  const events = [
    event(
      "quality.result",
      "plant1/line1/assembly-01",
      {
        characteristic: "Bore diameter",
        pass: false,
        value: 10.42,
        unit: "mm",
        low: 9.9,
        high: 10.1,
        order: orders.demo_mo_hinge_2,
      },
      "qr-fail",
    ),
    event("quality.hold", "plant1/line2/assembly-02", { order: orders.demo_mo_mount_2, reason_code: "DEFECT" }, "hold"),
    event(
      "material.consumed",
      "plant1/line1/press-01",
      { order: orders.demo_mo_hinge_1, material: "ALU-1MM", qty: 3.4, uom: "KG" },
      "mat",
    ),
  ];
  for (const e of events) await client.publishAsync("shopfloor/demo/quality", JSON.stringify(e), { qos: 1 });
  await client.endAsync();
}

try {
  rmSync(demoDir, { recursive: true, force: true });
  mkdirSync(demoDir, { recursive: true });
  log(`starting Odoo 18 with shopfloor_bridge and its demo plant on a fresh database "${values.db}"…`);
  odoo = await startOdoo({ db: values.db, port: Number(values.port), log });

  const mqttPort = values["mqtt-port"] ? Number(values["mqtt-port"]) : await freePort();
  if (values.broker === "mosquitto") broker = await startMosquitto({ port: mqttPort });
  else if (values.broker === "aedes") broker = await startAedes(mqttPort);
  else throw new DevStackError(`--broker must be aedes or mosquitto, not ${values.broker}`);
  log(`MQTT broker (${values.broker}) on ${broker.url}`);

  const metricsPort = await freePort();
  spawnLogged("sidecar", [join(repoRoot, "sidecar/bin/shopfloor-sidecar.js"), "run"], {
    ODOO_URL: odoo.url,
    ODOO_DB: odoo.db,
    ODOO_USER: "sidecar@plant1",
    ODOO_API_KEY: "sidecar",
    SHOPFLOOR_CONNECTION: "plant1-mqtt",
    SHOPFLOOR_SPOOL_DIR: join(demoDir, "spool"),
    METRICS_PORT: String(metricsPort),
    MQTT_URL: broker.url,
  });
  log(`sidecar started (metrics http://127.0.0.1:${metricsPort}/metrics)`);

  const orders = await demoOrders(odoo);
  // The sidecar's session is persistent: once it has subscribed, nothing
  // published is lost, even across its restarts.
  await waitForSidecar(metricsPort);
  startSimulators(broker.url, orders, values["step-ms"]);
  await publishQualityAndMaterial(broker.url, orders);
  log(`line simulator running a shift on ${Object.values(orders).join(", ")}`);

  console.log("");
  console.log(`  Odoo:        ${odoo.url}/odoo/shopfloor-dashboard`);
  console.log(`  Login:       ${odoo.login} / ${odoo.password}`);
  console.log(`  Dead letters ${odoo.url}/odoo/shopfloor-dlq   Events ${odoo.url}/odoo/shopfloor-events`);
  console.log(`  Logs:        ${demoDir}/ (sidecar, simulators), ${odoo.logFile}`);
  console.log("");
  log("running — press Ctrl-C to stop");
} catch (err) {
  console.error(err instanceof DevStackError ? err.message : (err as Error).stack);
  await shutdown(1);
}
