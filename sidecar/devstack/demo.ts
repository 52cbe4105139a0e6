// `npm run demo`: the whole system on this machine, in one command.
// Odoo 18 with the module and its demo plant on a fresh database, an MQTT
// broker (embedded aedes, or Mosquitto with --broker mosquitto), the sidecar,
// and a line simulator running a shift on both demo lines: orders started
// and completed, counts, downtime with reasons, scrap, a quality hold,
// malformed and duplicate messages, one machine with a drifting clock.
// Ctrl-C stops everything. What the machine lacks for that (the Odoo tree,
// its Python packages, a PostgreSQL) the bootstrap fetches or makes first.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AedesBroker, startAedes } from "./aedes.ts";
import { bootstrap, type DemoEnvironment } from "./bootstrap.ts";
import { startDemoShift } from "./demo-shift.ts";
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
let machine: DemoEnvironment | undefined;
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
    await machine?.stop();
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

try {
  rmSync(demoDir, { recursive: true, force: true });
  mkdirSync(demoDir, { recursive: true });
  machine = await bootstrap({ log });
  // odoo.ts and every child (odoo-bin, psql) read these.
  Object.assign(process.env, machine.env);
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

  // The sidecar's session is persistent: once it has subscribed, nothing
  // published is lost, even across its restarts.
  await waitForSidecar(metricsPort);
  const shift = await startDemoShift({
    odoo: { url: odoo.url, db: odoo.db, login: odoo.login, password: odoo.password },
    mqttUrl: broker.url,
    stepMs: Number(values["step-ms"]),
    logDir: demoDir,
  });
  children.push(...shift.children);
  log(`line simulator running a shift on ${Object.values(shift.orders).join(", ")}`);

  console.log("");
  console.log(`  Odoo:        ${odoo.url}/odoo/shopfloor-dashboard`);
  console.log(`  Login:       ${odoo.login} / ${odoo.password}`);
  console.log(`  Dead letters ${odoo.url}/odoo/shopfloor-dlq   Events ${odoo.url}/odoo/shopfloor-events`);
  console.log(`  Logs:        ${demoDir}/ (sidecar, simulators), ${odoo.logFile}`);
  console.log(`  Odoo tree:   ${machine.tree.src} (Python ${machine.tree.python})`);
  if (machine.postgres) {
    console.log(
      `  PostgreSQL:  private, PGHOST=${machine.postgres.socketDir} PGPORT=${machine.postgres.port} (stops with the demo)`,
    );
  }
  console.log("");
  log("running — press Ctrl-C to stop");
} catch (err) {
  console.error(err instanceof DevStackError ? err.message : (err as Error).stack);
  await shutdown(1);
}
