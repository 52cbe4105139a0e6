// `npm run demo`: the whole system on this machine, in one command.
// Odoo 18 with the module and its demo plant on a fresh database, an MQTT
// broker (embedded aedes, or Mosquitto with --broker mosquitto), three
// lines each on its own transport — line 1 publishes CloudEvents over MQTT,
// line 2 is a Sparkplug B edge node, line 3 an OPC UA server — and one
// sidecar per connection. First the last hours of a realistic shift are
// backfilled through those same transports with their real past times
// (demo-backfill.ts), so every report has a shift to show within a minute;
// then the lines run live at their real cycle times: orders started and
// completed, counts, downtime with reasons, scrap, a quality hold, malformed
// and duplicate messages, one line with a drifting clock.
// Ctrl-C stops everything. What the machine lacks for that (the Odoo tree,
// its Python packages, a PostgreSQL) the bootstrap fetches or makes first.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { Ledger } from "../simulator/ledger.ts";
import { Line } from "../simulator/line.ts";
import { SimOpcuaServer } from "../simulator/opcua-server.ts";
import { type SimOutput, Simulation } from "../simulator/simulation.ts";
import { SimSparkplugEdge } from "../simulator/sparkplug-edge.ts";
import { type AedesBroker, startAedes } from "./aedes.ts";
import { bootstrap, type DemoEnvironment } from "./bootstrap.ts";
import { type LinePlan, planEvents, planShift, playOnLine } from "./demo-backfill.ts";
import { type DemoLine, DemoPlant, SPARKPLUG_GROUP } from "./demo-plant.ts";
import { demoOrders, startDemoShift } from "./demo-shift.ts";
import { type MosquittoBroker, startMosquitto } from "./mosquitto.ts";
import { DevStackError, freePort, type OdooServer, repoRoot, startOdoo } from "./odoo.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.DEMO_PORT ?? "8069" },
    db: { type: "string", default: process.env.DEMO_DB ?? "shopfloor_demo" },
    broker: { type: "string", default: "aedes" },
    "mqtt-port": { type: "string" },
    // Real milliseconds between simulated live actions. Default: each
    // machine's standard cycle time, so live figures stay plausible; tests
    // compress the live run with a small number.
    "step-ms": { type: "string", default: "cycle" },
    // The backfill: hours of shift before now, and the seed that draws it.
    "backfill-hours": { type: "string", default: "8" },
    seed: { type: "string", default: "20261202" },
    // Wait for SIGUSR2 between the applied backfill and the live run (tests
    // read the backfill's figures there).
    "live-on-signal": { type: "boolean", default: false },
  },
});

const log = (msg: string) => console.log(`[demo] ${msg}`);
const demoDir = join(repoRoot, "artifacts/demo");
const children: ChildProcess[] = [];
const outputs: SimOutput[] = [];
let machine: DemoEnvironment | undefined;
let odoo: OdooServer | undefined;
let broker: AedesBroker | MosquittoBroker | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping…");
    // Simulators first, then the sidecars (they drain), then broker and Odoo.
    for (const output of outputs.reverse()) await output.stop().catch(() => {});
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

async function waitForSidecar(name: string, metricsPort: number): Promise<void> {
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
    `the ${name} did not connect to its source within 60 s (${last}); see ${demoDir}/${name}.log`,
  );
}

/** One sidecar per connection, as a site with one sidecar per source would run them. */
async function startSidecar(server: OdooServer, connection: string, env: NodeJS.ProcessEnv): Promise<void> {
  const name = `sidecar-${connection}`;
  const metricsPort = await freePort();
  spawnLogged(name, [join(repoRoot, "sidecar/bin/shopfloor-sidecar.js"), "run"], {
    ODOO_URL: server.url,
    ODOO_DB: server.db,
    ODOO_USER: "sidecar@plant1",
    ODOO_API_KEY: "sidecar",
    SHOPFLOOR_CONNECTION: connection,
    SHOPFLOOR_SPOOL_DIR: join(demoDir, `spool-${connection}`),
    METRICS_PORT: String(metricsPort),
    ...env,
  });
  await waitForSidecar(name, metricsPort);
  log(`${name} connected (metrics http://127.0.0.1:${metricsPort}/metrics)`);
}

/** Waits until Odoo applied the backfill's events (the past window), reporting progress. */
async function waitForBackfill(plant: DemoPlant, since: Date, until: Date, expected: number): Promise<number> {
  const inWindow = [
    ["time", ">=", since.toISOString().slice(0, 19).replace("T", " ")],
    ["time", "<=", until.toISOString().slice(0, 19).replace("T", " ")],
  ];
  const deadline = Date.now() + 600_000;
  const retryCron = await plant.ref("shopfloor_event_cron_retry");
  let applied = 0;
  let lastLog = 0;
  let stalled = 0;
  while (Date.now() < deadline) {
    const now = await plant.execute<number>("shopfloor.event", "search_count", [
      [...inWindow, ["state", "=", "applied"]],
    ]);
    if (now >= expected) return now;
    stalled = now === applied ? stalled + 1 : 0;
    applied = now;
    // Events an ingest call deferred (its apply budget spent) wait for the
    // next call or the retry cron; the dev stack's Odoo runs no cron thread.
    if (stalled >= 5) {
      await plant.execute("ir.cron", "method_direct_trigger", [[retryCron]]);
      stalled = 0;
    }
    if (Date.now() - lastLog > 10_000) {
      log(`backfill: ${applied} of ${expected} events applied…`);
      lastLog = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const stuck = await plant.execute<number>("shopfloor.event", "search_count", [
    [...inWindow, ["state", "!=", "applied"]],
  ]);
  log(`backfill: only ${applied} of ${expected} events applied after 10 min (${stuck} not applied: see the explorer)`);
  return applied;
}

/** Live run of one machine on an in-process line: set up, produce, a jam, complete; at `stepMs` per part. */
async function liveOrder(line: Line, machineName: string, order: string, operation: string, stepMs: number) {
  const sim = new Simulation(line, new Ledger("live", line.name, [machineName]), { stepMs, pulseMs: 1_500 });
  await sim.startOrder(machineName, order, operation);
  await sim.step();
  await sim.setState(machineName, "setup");
  await sim.step(5);
  await sim.setState(machineName, "running");
  await sim.produce(machineName, 20, 0);
  await sim.setState(machineName, "down", "JAM");
  await sim.step(3);
  await sim.setState(machineName, "running");
  await sim.produce(machineName, 20, 1);
  await sim.step();
  await sim.complete(machineName);
}

try {
  rmSync(demoDir, { recursive: true, force: true });
  mkdirSync(demoDir, { recursive: true });
  machine = await bootstrap({ log });
  // odoo.ts and every child (odoo-bin, psql) read these.
  Object.assign(process.env, machine.env);
  log(`starting Odoo 18 with shopfloor_bridge and its demo plant on a fresh database "${values.db}"…`);
  odoo = await startOdoo({ db: values.db, port: Number(values.port), log });
  const login = { url: odoo.url, db: odoo.db, login: odoo.login, password: odoo.password };

  const mqttPort = values["mqtt-port"] ? Number(values["mqtt-port"]) : await freePort();
  if (values.broker === "mosquitto") broker = await startMosquitto({ port: mqttPort });
  else if (values.broker === "aedes") broker = await startAedes(mqttPort);
  else throw new DevStackError(`--broker must be aedes or mosquitto, not ${values.broker}`);
  log(`MQTT broker (${values.broker}) on ${broker.url}`);

  // Line 2's edge node and line 3's OPC UA server, with the plant's three connections.
  const opcuaPort = await freePort();
  const plant = new DemoPlant(login);
  const opcuaLine = new Line("line3", ["press-03", "assembly-03"]);
  const opcua = new SimOpcuaServer({ line: opcuaLine, port: opcuaPort, pkiDir: join(demoDir, "opcua-pki") });
  const lines = await plant.setUp({ mqttUrl: broker.url, opcuaEndpoint: opcua.endpoint });
  const byTransport = (t: DemoLine["transport"]) => lines.find((l) => l.transport === t) as DemoLine;
  const sparkplugLine = new Line(
    "line2",
    byTransport("sparkplug").routing.map((op) => op.machine),
  );
  const edge = new SimSparkplugEdge({ url: broker.url, line: sparkplugLine, group: SPARKPLUG_GROUP, edge: "line2" });
  await opcua.start();
  outputs.push(opcua);

  // The sidecars' MQTT sessions are persistent: once subscribed, nothing published is lost.
  await Promise.all([
    startSidecar(odoo, "plant1-mqtt", { MQTT_URL: broker.url }),
    startSidecar(odoo, "plant1-spb", { MQTT_URL: broker.url }),
    startSidecar(odoo, "plant1-opcua", { OPCUA_ENDPOINT: opcua.endpoint }),
  ]);
  // The edge node is born once its host listens: Sparkplug data before a birth
  // the host saw is dropped until a Rebirth (QoS 0 by spec).
  await edge.start();
  outputs.push(edge);
  log(`line 2: Sparkplug B edge node ${SPARKPLUG_GROUP}/line2; line 3: OPC UA server ${opcua.endpoint}`);

  // The backfill: the same shift for the same seed, ending a minute ago.
  const hours = Number(values["backfill-hours"]);
  const seed = Number(values.seed);
  if (!(hours > 0 && hours <= 24)) throw new DevStackError(`--backfill-hours must be in (0, 24], not ${hours}`);
  if (!Number.isInteger(seed)) throw new DevStackError(`--seed must be an integer, not ${values.seed}`);
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
  const start = new Date(end.getTime() - hours * 3_600_000);
  const runId = Date.now().toString(36);
  const plans: { demoLine: DemoLine; plan: LinePlan; orderNames: string[] }[] = [];
  for (const demoLine of lines) {
    const plan = planShift({ line: demoLine.line, routing: demoLine.routing, start, end, seed });
    plans.push({ demoLine, plan, orderNames: await plant.createOrders(demoLine, plan.orders) });
  }
  const source = (line: string) => (m: string) => `plant1/${line}/${m}`;
  const expected = plans.reduce(
    (total, p) =>
      total + planEvents(p.plan, { orderNames: p.orderNames, source: source(p.demoLine.line), runId }).length,
    0,
  );
  const sent = Date.now();
  log(`backfilling ${hours} h of shift (seed ${seed}): ${expected} events on three lines…`);
  await Promise.all(
    plans.map(async ({ demoLine, plan, orderNames }) => {
      if (demoLine.transport === "mqtt") {
        const client = await mqtt.connectAsync(broker?.url as string, { clientId: `demo-backfill-${runId}` });
        for (const event of planEvents(plan, { orderNames, source: source(demoLine.line), runId })) {
          const machineName = event.source.split("/")[2];
          await client.publishAsync(`shopfloor/${demoLine.line}/${machineName}/events`, JSON.stringify(event), {
            qos: 1,
          });
        }
        await client.endAsync();
      } else {
        await playOnLine(plan, demoLine.transport === "opcua" ? opcuaLine : sparkplugLine, {
          orderNames,
          pauseMs: 20,
        });
      }
    }),
  );
  const applied = await waitForBackfill(plant, start, end, expected);
  log(
    `backfill applied: ${applied} events between ${start.toISOString()} and ${end.toISOString()}` +
      ` (${Math.round((Date.now() - sent) / 1000)} s after the first was sent)`,
  );

  if (values["live-on-signal"]) {
    log("waiting for SIGUSR2 to start the live shift");
    await new Promise<void>((r) => process.once("SIGUSR2", () => r()));
  }

  // Live: each machine at its cycle time (or --step-ms), on the module's demo orders.
  const cycleMs = new Map(lines.flatMap((l) => l.routing.map((op) => [op.machine, Math.round(op.cycleMin * 60_000)])));
  const stepMs = (m: string) => (values["step-ms"] === "cycle" ? (cycleMs.get(m) ?? 1_000) : Number(values["step-ms"]));
  if (values["step-ms"] !== "cycle" && !(Number(values["step-ms"]) >= 0)) {
    throw new DevStackError(`--step-ms must be "cycle" or a number of ms, not ${values["step-ms"]}`);
  }
  const shift = await startDemoShift({
    odoo: login,
    mqttUrl: broker.url,
    stepMs,
    logDir: demoDir,
    lines: ["line1"],
    parts: 40,
    scrap: 1,
  });
  children.push(...shift.children);
  const orders = await demoOrders(login);
  const [liveCover] = await plant.createOrders(byTransport("opcua"), [40]);
  // Line 2's edge node clock runs two minutes ahead: the sidecar flags its skew.
  sparkplugLine.clock.driftMs = 120_000;
  const live: [Line, DemoLine, string][] = [
    [sparkplugLine, byTransport("sparkplug"), orders.demo_mo_mount_1],
    [opcuaLine, byTransport("opcua"), liveCover as string],
  ];
  for (const [line, demoLine, order] of live) {
    for (const op of demoLine.routing) {
      void liveOrder(line, op.machine, order, op.operation, stepMs(op.machine)).catch((err: Error) =>
        log(`live ${op.machine}: ${err.message}`),
      );
    }
  }
  log(`live shift running on ${[orders.demo_mo_hinge_1, orders.demo_mo_mount_1, liveCover].join(", ")}`);

  console.log("");
  console.log(`  Odoo:        ${odoo.url}/odoo/shopfloor-dashboard`);
  console.log(`  Login:       ${odoo.login} / ${odoo.password}`);
  console.log(`  Dead letters ${odoo.url}/odoo/shopfloor-dlq   Events ${odoo.url}/odoo/shopfloor-events`);
  console.log(`  Logs:        ${demoDir}/ (sidecars, simulators), ${odoo.logFile}`);
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
