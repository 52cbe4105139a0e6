// Scriptable scenarios over the simulated line. Each one is a short shift
// whose size and pace are parameters (two cores are shared: keep it small).
import type { Simulation } from "./simulation.ts";

export interface ScenarioParams {
  /** Orders to run per machine, named `${orderPrefix}${n}`. */
  orders: string[];
  operation: string;
  /** Good parts per order. */
  parts: number;
  /** Scrap parts per order. */
  scrap: number;
  /** Steps a downtime or setup lasts. */
  holdSteps: number;
  /** Clock drift applied by `clock-drift`, ms. */
  driftMs: number;
  /** How long the OPC UA server stays down in `server-restart`, ms. */
  downMs: number;
}

export type Scenario = (sim: Simulation, p: ScenarioParams) => Promise<void>;

/** One order on one machine: set up, produce (with scrap), complete. */
async function runOrder(
  sim: Simulation,
  machine: string,
  order: string,
  p: ScenarioParams,
  middle?: () => Promise<void>,
) {
  await sim.startOrder(machine, order, p.operation);
  await sim.step();
  await sim.setState(machine, "setup");
  await sim.step(p.holdSteps);
  await sim.setState(machine, "running");
  const half = Math.floor(p.parts / 2);
  await sim.produce(machine, half, Math.floor(p.scrap / 2));
  if (middle) await middle();
  await sim.produce(machine, p.parts - half, p.scrap - Math.floor(p.scrap / 2));
  await sim.step();
  await sim.complete(machine);
  await sim.step();
}

async function eachMachine(sim: Simulation, body: (machine: string, index: number) => Promise<void>) {
  await Promise.all(sim.line.machines.map((m, i) => body(m, i)));
}

function orderFor(p: ScenarioParams, machineIndex: number, n: number, machines: number): string {
  const order = p.orders[machineIndex * Math.max(1, Math.floor(p.orders.length / machines)) + n];
  if (!order) throw new Error(`scenario needs more orders: have ${p.orders.length}`);
  return order;
}

export const SCENARIOS: Record<string, Scenario> = {
  "normal-shift": async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        await sim.setState(m, "down", "JAM");
        await sim.step(p.holdSteps);
        await sim.setState(m, "running");
      });
    });
  },
  "downtime-burst": async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        for (const reason of ["JAM", "MATERIAL", "JAM", "BREAKDOWN", "MATERIAL"]) {
          await sim.setState(m, "down", reason);
          await sim.step();
          await sim.setState(m, "running");
          await sim.step();
        }
      });
    });
  },
  "counter-reset": async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        await sim.resetCounter(m);
        await sim.step();
      });
    });
  },
  "clock-drift": async (sim, p) => {
    sim.line.clock.driftMs = p.driftMs;
    sim.ledger.count("clock_drift_ms", p.driftMs);
    await SCENARIOS["normal-shift"]?.(sim, p);
  },
  "malformed-messages": async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        if (i === 0) await sim.malformed();
      });
    });
  },
  duplicates: async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        if (i === 0) await sim.duplicate();
      });
    });
  },
  "server-restart": async (sim, p) => {
    const machines = sim.line.machines.length;
    await eachMachine(sim, async (m, i) => {
      await runOrder(sim, m, orderFor(p, i, 0, machines), p, async () => {
        // The machine keeps counting while the server is away: those parts must arrive once.
        await Promise.all([i === 0 ? sim.restartOutputs(p.downMs) : Promise.resolve(), sim.produce(m, 3)]);
      });
    });
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);
