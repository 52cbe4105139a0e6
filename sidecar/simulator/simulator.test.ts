import { describe, expect, it } from "vitest";
import { main } from "./cli.ts";
import { Ledger } from "./ledger.ts";
import { Line, MACHINE_STATE } from "./line.ts";
import { SCENARIOS, type ScenarioParams } from "./scenarios.ts";
import { Simulation } from "./simulation.ts";

const params: ScenarioParams = {
  orders: ["MO1", "MO2"],
  operation: "Assembly",
  parts: 6,
  scrap: 2,
  holdSteps: 1,
  driftMs: 90_000,
  downMs: 0,
};

function rig(machines = ["Press03"]) {
  const line = new Line("Line1", machines);
  const ledger = new Ledger("t", "Line1", machines);
  return { line, ledger, sim: new Simulation(line, ledger, { stepMs: 0, pulseMs: 0 }) };
}

describe("simulator scenarios (no outputs)", () => {
  it("normal-shift: the ledger expects start, setup, parts, scrap, one downtime and the completion per machine", async () => {
    const { sim, ledger, line } = rig(["Press03", "Press04"]);
    await SCENARIOS["normal-shift"]?.(sim, params);
    expect(ledger.toJSON().expected.orders).toEqual([
      { order: "MO1", source: "plant1/line1/press03", started: true, completed: true, good: 6, scrap: 2 },
      { order: "MO2", source: "plant1/line1/press04", started: true, completed: true, good: 6, scrap: 2 },
    ]);
    expect(ledger.downtimes.map((d) => [d.source, d.reason_code, d.end !== null])).toEqual([
      ["plant1/line1/press03", "JAM", true],
      ["plant1/line1/press04", "JAM", true],
    ]);
    expect(ledger.setups).toHaveLength(2);
    const completed = ledger.entries.find((e) => e.action === "complete" && e.machine === "Press03");
    expect(completed?.expect).toEqual({
      type: "workorder.completed",
      data: { order: "MO1", operation: "Assembly", qty_good: 6, qty_scrap: 2 },
    });
    expect(line.tags("Press03")).toMatchObject({ State: MACHINE_STATE.idle, Completed: false, GoodCount: 6 });
    // Entries are numbered and stamped with strictly increasing source times per machine.
    const times = ledger.entries.filter((e) => e.machine === "Press03").map((e) => Date.parse(e.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("work resumes after the setup and after the jam: each end is followed by workorder.resumed", async () => {
    const { sim, ledger } = rig();
    await SCENARIOS["normal-shift"]?.(sim, params);
    const types = ledger.entries.filter((e) => e.expect).map((e) => e.expect?.type);
    const after = (type: string) => types.filter((_type, i) => types[i - 1] === type);
    expect(after("setup.ended")).toEqual(["workorder.resumed"]);
    expect(after("downtime.ended")).toEqual(["workorder.resumed"]);
    expect(ledger.entries.find((e) => e.action === "resume")?.expect?.data).toEqual({
      order: "MO1",
      operation: "Assembly",
    });
  });

  it("clock-drift shifts every source timestamp by the drift", async () => {
    const { sim, ledger } = rig();
    const before = Date.now();
    await SCENARIOS["clock-drift"]?.(sim, params);
    expect(Date.parse(ledger.entries[0]?.time ?? "")).toBeGreaterThanOrEqual(before + 90_000);
    expect(ledger.stats.clock_drift_ms).toBe(90_000);
  });

  it("downtime-burst records five downtimes with their reasons", async () => {
    const { sim, ledger } = rig();
    await SCENARIOS["downtime-burst"]?.(sim, params);
    expect(ledger.downtimes.map((d) => d.reason_code)).toEqual(["JAM", "MATERIAL", "JAM", "BREAKDOWN", "MATERIAL"]);
  });
});

describe("simulate CLI arguments", () => {
  it("refuses a bad invocation with exit code 2 and a message naming the option, on stderr", async () => {
    const out: string[] = [];
    const lines: string[] = [];
    const run = (argv: string[]) =>
      main(
        argv,
        (l) => out.push(l),
        (l) => lines.push(l),
      );
    expect(await run(["--scenario", "nope", "--opcua-port", "4840"])).toBe(2);
    expect(lines[0]).toContain("--scenario: unknown scenario nope");
    expect(await run(["--scenario", "normal-shift"])).toBe(2);
    expect(lines.at(-1)).toContain("nothing to serve");
    expect(await run(["--scenario", "normal-shift", "--opcua-port", "x"])).toBe(2);
    expect(lines.at(-1)).toContain("--opcua-port must be a non-negative number");
    expect(out).toEqual([]);
  });

  it("prints the mapping rules for the line", async () => {
    const lines: string[] = [];
    expect(await main(["--print-rules", "sparkplug", "--machines", "Press03"], (l) => lines.push(l))).toBe(0);
    const rules = JSON.parse(lines[0] ?? "[]") as { address: string; kind: string }[];
    expect(rules.map((r) => r.kind)).toEqual(["counter", "counter", "state", "trigger", "trigger"]);
    expect(rules[0]?.address).toBe("Plant1/Line1/Press03/GoodCount");
  });
});
