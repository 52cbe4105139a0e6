// `shopfloor-sidecar simulate` / `node sidecar/simulator/cli.ts`: runs a
// scenario on a simulated Ignition-like line and writes the ledger.
//
//   node sidecar/simulator/cli.ts --scenario normal-shift --opcua-port 4840 --mqtt-url mqtt://127.0.0.1:1883
//
// Exit codes: 0 done, 2 bad arguments (the message names the option), 1 anything else.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Ledger } from "./ledger.ts";
import { Line } from "./line.ts";
import { SimMqttPublisher } from "./mqtt-publisher.ts";
import { SimOpcuaServer } from "./opcua-server.ts";
import { lineRules } from "./rules.ts";
import { SCENARIO_NAMES, SCENARIOS, type ScenarioParams } from "./scenarios.ts";
import { Simulation, sleep } from "./simulation.ts";
import { SimSparkplugEdge } from "./sparkplug-edge.ts";

const here = dirname(fileURLToPath(import.meta.url));

export const USAGE = `Usage: simulate --scenario <${SCENARIO_NAMES.join("|")}> [options]
  --opcua-port <n>        serve the line over OPC UA (ns=2;s=[default]<Line>/<Machine>/<Tag>)
  --mqtt-url <url>        broker for --channels sparkplug and mqtt
  --channels <list>       opcua,sparkplug,mqtt (default: opcua if --opcua-port, sparkplug if --mqtt-url)
  --line <name>           line / Sparkplug edge node id (Line1)
  --machines <list>       machines / Sparkplug devices (Press03)
  --group <id>            Sparkplug group id (Plant1)
  --orders <list>         order refs, one per machine (WH/MO/00001,...)
  --operation <name>      operation name in the events (Assembly)
  --parts <n> --scrap <n> good and scrap parts per order (10, 1)
  --step-ms <n>           real ms between simulated actions (100): the rate knob
  --hold-steps <n>        steps a setup or downtime lasts (5)
  --drift-ms <n>          clock drift for clock-drift (120000)
  --down-ms <n>           OPC UA server downtime for server-restart (2000)
  --linger-ms <n>         keep serving after the scenario (2000), for the sidecar to catch up
  --ledger <file>         ledger JSON (artifacts/simulator/ledger-<scenario>-<time>.json)
  --pki-dir <dir>         OPC UA server PKI (artifacts/simulator/pki)
  --users <u:p,...>       OPC UA user/password logins accepted
  --run-id <id>           id prefix of published CloudEvents (time-based)
  --print-rules <proto>   print the mapping rules (opcua|sparkplug|modbus|enip) for this line as JSON and exit`;

export class UsageError extends Error {
  override name = "UsageError";
}

function int(values: Record<string, unknown>, key: string, fallback: number): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${key} must be a non-negative number, got ${String(raw)}`);
  return n;
}

const list = (v: unknown, fallback: string[]) =>
  typeof v === "string" && v !== ""
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : fallback;

export async function main(
  argv: string[],
  out: (line: string) => void = console.log,
  fail: (line: string) => void = console.error,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scenario: { type: "string" },
        "opcua-port": { type: "string" },
        "mqtt-url": { type: "string" },
        channels: { type: "string" },
        line: { type: "string", default: "Line1" },
        machines: { type: "string", default: "Press03" },
        group: { type: "string", default: "Plant1" },
        orders: { type: "string" },
        operation: { type: "string", default: "Assembly" },
        parts: { type: "string" },
        scrap: { type: "string" },
        "step-ms": { type: "string" },
        "hold-steps": { type: "string" },
        "drift-ms": { type: "string" },
        "down-ms": { type: "string" },
        "linger-ms": { type: "string" },
        ledger: { type: "string" },
        "pki-dir": { type: "string" },
        users: { type: "string" },
        "run-id": { type: "string" },
        "print-rules": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  try {
    return await run(values, out);
  } catch (err) {
    if (err instanceof UsageError) {
      fail(`${err.message}\n${USAGE}`);
      return 2;
    }
    fail(`simulate failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}

async function run(values: Record<string, string | boolean | undefined>, out: (line: string) => void): Promise<number> {
  const lineName = values.line as string;
  const machines = list(values.machines, ["Press03"]);
  const group = values.group as string;
  if (values["print-rules"]) {
    const protocol = values["print-rules"];
    if (protocol !== "opcua" && protocol !== "sparkplug" && protocol !== "modbus" && protocol !== "enip")
      throw new UsageError("--print-rules must be opcua, sparkplug, modbus or enip");
    out(JSON.stringify(lineRules({ line: lineName, machines, protocol, group, edge: lineName }), null, 2));
    return 0;
  }
  const scenarioName = values.scenario;
  if (typeof scenarioName !== "string") throw new UsageError("--scenario is required");
  const scenario = SCENARIOS[scenarioName];
  if (!scenario)
    throw new UsageError(`--scenario: unknown scenario ${scenarioName}; known: ${SCENARIO_NAMES.join(", ")}`);
  const mqttUrl = values["mqtt-url"] as string | undefined;
  const opcuaPort = values["opcua-port"] === undefined ? undefined : int(values, "opcua-port", 0);
  const channels = list(values.channels, [...(opcuaPort ? ["opcua"] : []), ...(mqttUrl ? ["sparkplug"] : [])]);
  if (channels.length === 0) throw new UsageError("nothing to serve: give --opcua-port and/or --mqtt-url");
  for (const c of channels)
    if (!["opcua", "sparkplug", "mqtt"].includes(c)) throw new UsageError(`--channels: unknown ${c}`);
  if (channels.includes("opcua") && !opcuaPort) throw new UsageError("--channels opcua needs --opcua-port");
  if ((channels.includes("sparkplug") || channels.includes("mqtt")) && !mqttUrl) {
    throw new UsageError("--channels sparkplug/mqtt need --mqtt-url");
  }
  const runId = (values["run-id"] as string | undefined) ?? Date.now().toString(36);
  const orders = list(
    values.orders,
    machines.map((_, i) => `WH/MO/${String(i + 1).padStart(5, "0")}`),
  );
  const params: ScenarioParams = {
    orders,
    operation: values.operation as string,
    parts: int(values, "parts", 10),
    scrap: int(values, "scrap", 1),
    holdSteps: int(values, "hold-steps", 5),
    driftMs: int(values, "drift-ms", 120_000),
    downMs: int(values, "down-ms", 2_000),
  };
  const artifacts = join(here, "../../artifacts/simulator");
  const ledgerPath =
    (values.ledger as string | undefined) ??
    join(artifacts, `ledger-${scenarioName}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);

  const line = new Line(lineName, machines);
  const ledger = new Ledger(scenarioName, lineName, machines);
  const sim = new Simulation(line, ledger, { stepMs: int(values, "step-ms", 100) });
  if (channels.includes("opcua")) {
    const users = list(values.users, []).map((pair) => {
      const [username, password] = pair.split(":", 2);
      if (!username || password === undefined) throw new UsageError(`--users: expected user:password, got ${pair}`);
      return { username, password };
    });
    const server = new SimOpcuaServer({
      line,
      port: opcuaPort as number,
      pkiDir: (values["pki-dir"] as string | undefined) ?? join(artifacts, "pki"),
      users,
    });
    sim.outputs.push(server);
    out(`[simulate] OPC UA ${server.endpoint}`);
  }
  if (channels.includes("sparkplug")) {
    sim.outputs.push(new SimSparkplugEdge({ url: mqttUrl as string, line, group, edge: lineName }));
    out(`[simulate] Sparkplug edge spBv1.0/${group}/+/${lineName} on ${mqttUrl}`);
  }
  if (channels.includes("mqtt")) {
    sim.outputs.push(new SimMqttPublisher({ url: mqttUrl as string, sim, runId }));
    out(`[simulate] CloudEvents on shopfloor/${lineName}/<machine>/events at ${mqttUrl}`);
  }
  await sim.start();
  try {
    out(`[simulate] scenario ${scenarioName}: ${machines.length} machine(s), orders ${orders.join(", ")}`);
    await scenario(sim, params);
    await sleep(int(values, "linger-ms", 2_000));
  } finally {
    await sim.stop();
    mkdirSync(dirname(ledgerPath), { recursive: true });
    ledger.write(ledgerPath);
  }
  out(`[simulate] ledger ${ledgerPath} (${ledger.entries.length} entries)`);
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
