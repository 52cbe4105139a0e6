// The demo's simulated shift on the demo plant: one simulator per machine
// (each runs its own operation of an order), plus the events the simulated
// machines do not send (a failed quality check, a hold, material booked above
// the BOM). Used by `npm run demo` and, as a command, by the compose stack's
// simulator service:
//   node sidecar/devstack/demo-shift.ts --odoo-url http://odoo:8069 --db shopfloor --mqtt-url mqtt://…
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { JsonRpcOdooClient } from "../src/odoo/jsonrpc-client.ts";

const repoRoot = join(fileURLToPath(new URL(".", import.meta.url)), "../..");

export interface OdooLogin {
  url: string;
  db: string;
  login: string;
  password: string;
}

async function executeKw<T>(odoo: OdooLogin, model: string, method: string, args: unknown[], kwargs = {}): Promise<T> {
  const client = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: odoo.login, apiKey: odoo.password });
  return (await client.execute(model, method, args, kwargs)) as T;
}

export const DEMO_ORDER_KEYS = ["demo_mo_hinge_1", "demo_mo_hinge_2", "demo_mo_mount_1", "demo_mo_mount_2"] as const;
export type DemoOrders = Record<(typeof DEMO_ORDER_KEYS)[number], string>;

/** Names Odoo gave the demo plant's manufacturing orders (they depend on the sequence). */
export async function demoOrders(odoo: OdooLogin): Promise<DemoOrders> {
  const refs = await executeKw<{ name: string; res_id: number }[]>(
    odoo,
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "in", [...DEMO_ORDER_KEYS]],
      ],
    ],
    { fields: ["name", "res_id"] },
  );
  const mos = await executeKw<{ id: number; name: string }[]>(
    odoo,
    "mrp.production",
    "read",
    [refs.map((r) => r.res_id)],
    {
      fields: ["name"],
    },
  );
  const byId = new Map(mos.map((m) => [m.id, m.name]));
  const orders: Partial<DemoOrders> = {};
  for (const r of refs) orders[r.name as keyof DemoOrders] = byId.get(r.res_id) ?? "";
  for (const k of DEMO_ORDER_KEYS) {
    if (!orders[k]) throw new Error(`the database has no ${k}: is the module's demo data loaded?`);
  }
  return orders as DemoOrders;
}

/** Which machine does what in the demo shift: every fault kind appears once. */
export function demoMachines(orders: DemoOrders) {
  return [
    {
      line: "line1",
      machine: "press-01",
      operation: "Stamping",
      order: orders.demo_mo_hinge_1,
      scenario: "malformed-messages",
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
      scenario: "normal-shift",
    },
  ];
}

export interface ShiftOptions {
  odoo: OdooLogin;
  mqttUrl: string;
  /** Real milliseconds between simulated actions, or per machine (a machine's cycle time runs it at real pace). */
  stepMs: number | ((machine: string) => number);
  logDir: string;
  /** Lines whose machines publish CloudEvents over MQTT (default: all); `npm run demo` runs the others over Sparkplug B and OPC UA. */
  lines?: string[];
  /** Good and scrap parts per order. */
  parts?: number;
  scrap?: number;
}

export interface Shift {
  orders: DemoOrders;
  children: ChildProcess[];
}

export async function startDemoShift(opts: ShiftOptions): Promise<Shift> {
  mkdirSync(opts.logDir, { recursive: true });
  const orders = await demoOrders(opts.odoo);
  const runId = `demo${Date.now().toString(36)}`;
  const machines = demoMachines(orders).filter((m) => !opts.lines || opts.lines.includes(m.line));
  const stepMs = (machine: string) => (typeof opts.stepMs === "number" ? opts.stepMs : opts.stepMs(machine));
  const children = machines.map((m) => {
    const fd = openSync(join(opts.logDir, `simulator-${m.machine}.log`), "w");
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, "sidecar/simulator/cli.ts"),
        ...["--scenario", m.scenario, "--channels", "mqtt", "--mqtt-url", opts.mqttUrl],
        ...["--line", m.line, "--machines", m.machine, "--orders", m.order, "--operation", m.operation],
        ...["--parts", String(opts.parts ?? 12), "--scrap", String(opts.scrap ?? 2)],
        ...["--step-ms", String(stepMs(m.machine)), "--linger-ms", "3600000"],
        ...["--run-id", `${runId}-${m.machine}`, "--ledger", join(opts.logDir, `ledger-${m.machine}.json`)],
      ],
      { cwd: repoRoot, stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    return child;
  });
  await publishQualityAndMaterial(opts.mqttUrl, orders);
  return { orders, children };
}

async function publishQualityAndMaterial(mqttUrl: string, orders: DemoOrders): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: `demo-quality-${process.pid}` });
  const suffix = Date.now().toString(36);
  const event = (id: string, type: string, source: string, data: Record<string, unknown>) => ({
    specversion: "1.0",
    id: `demo-${id}-${suffix}`,
    source,
    type,
    time: new Date().toISOString(),
    data,
  });
  const events = [
    event("qr-fail", "quality.result", "plant1/line1/assembly-01", {
      characteristic: "Bore diameter",
      pass: false,
      value: 10.42,
      unit: "mm",
      low: 9.9,
      high: 10.1,
      order: orders.demo_mo_hinge_2,
    }),
    event("hold", "quality.hold", "plant1/line2/assembly-02", { order: orders.demo_mo_mount_2, reason_code: "DEFECT" }),
    event("mat", "material.consumed", "plant1/line1/press-01", {
      order: orders.demo_mo_hinge_1,
      material: "ALU-1MM",
      qty: 3.4,
      uom: "KG",
    }),
  ];
  for (const e of events) await client.publishAsync("shopfloor/demo/quality", JSON.stringify(e), { qos: 1 });
  await client.endAsync();
}

/** Waits until Odoo answers and the demo orders exist (compose starts services in parallel). */
async function waitForDemoOrders(odoo: OdooLogin, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await demoOrders(odoo);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      "odoo-url": { type: "string", default: "http://127.0.0.1:8069" },
      db: { type: "string", default: "shopfloor" },
      login: { type: "string", default: "admin" },
      password: { type: "string", default: "admin" },
      "mqtt-url": { type: "string", default: "mqtt://127.0.0.1:1883" },
      "step-ms": { type: "string", default: "1000" },
      "log-dir": { type: "string", default: join(repoRoot, "artifacts/demo") },
    },
  });
  const odoo = { url: values["odoo-url"], db: values.db, login: values.login, password: values.password };
  await waitForDemoOrders(odoo, 600_000);
  const shift = await startDemoShift({
    odoo,
    mqttUrl: values["mqtt-url"],
    stepMs: Number(values["step-ms"]),
    logDir: values["log-dir"],
  });
  console.log(`demo shift running on ${Object.values(shift.orders).join(", ")}; logs in ${values["log-dir"]}`);
  const stop = () => {
    for (const c of shift.children) c.kill("SIGTERM");
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
