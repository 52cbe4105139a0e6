// The Ignition kit's gateway script on real Jython 2.7 (the interpreter
// Ignition embeds), with a fake of Ignition's `system` API around it: what it
// publishes must be exactly the recorded payloads the end-to-end test feeds
// into Odoo, every event must pass the bridge's schema, and its local queue
// must keep order and ids across a broker outage and a gateway restart.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../../sidecar/devstack/odoo.ts";
import { checkEvent } from "../../../sidecar/src/core/validate.ts";

const execFileAsync = promisify(execFile);

const JYTHON_VERSION = "2.7.4";
/** The jar Maven puts in its local repository (`.ci/run` fetches it), or JYTHON_JAR. */
function jythonJar(): string {
  return (
    process.env.JYTHON_JAR ??
    join(
      homedir(),
      ".m2/repository/org/python/jython-standalone",
      JYTHON_VERSION,
      `jython-standalone-${JYTHON_VERSION}.jar`,
    )
  );
}

interface Published {
  topic: string;
  payload: Record<string, unknown>;
}

const readLines = (path: string): Published[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Published);

describe("Ignition kit gateway script under Jython 2.7", () => {
  const work = mkdtempSync(join(tmpdir(), "sfb-jython-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  async function runShift(mode: "events" | "tags"): Promise<{ text: string; lines: Published[] }> {
    const jar = jythonJar();
    if (!existsSync(jar)) {
      throw new Error(
        `Jython ${JYTHON_VERSION} not found at ${jar}: fetch it with ` +
          `mvn -q dependency:get -Dartifact=org.python:jython-standalone:${JYTHON_VERSION} (or set JYTHON_JAR)`,
      );
    }
    const out = join(work, `${mode}.jsonl`);
    await execFileAsync(
      "java",
      [
        "-jar",
        jar,
        join(repoRoot, "test/peers/jython/run_ignition_kit.py"),
        join(repoRoot, "integrations/ignition/script-python"),
        join(work, `queue-${mode}`),
        mode,
        out,
      ],
      { timeout: 120_000 },
    );
    return { text: readFileSync(out, "utf8"), lines: readLines(out) };
  }

  it("events mode publishes the recorded CloudEvents, schema-valid, in order, resent with the same id", async () => {
    const { text, lines } = await runShift("events");
    expect(text).toBe(readFileSync(join(repoRoot, "integrations/ignition/recorded/events.jsonl"), "utf8"));
    for (const { topic, payload } of lines) {
      const checked = checkEvent(payload);
      expect(checked.ok ? "" : checked.reason).toBe("");
      expect(topic).toBe(`shopfloor/${payload.source}/events`);
    }
    const ids = lines.map((l) => l.payload.id as string);
    // One publish the client may not have sent went out again: same id, same
    // bytes, right after itself; nothing else repeats.
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(repeated).toHaveLength(1);
    const first = ids.indexOf(repeated[0] as string);
    expect(lines[first + 1]).toEqual(lines[first]);
    // The queue flushes oldest first: times never go backwards.
    const times = lines.map((l) => Date.parse(l.payload.time as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(lines.map((l) => l.payload.type)).toEqual([
      "workorder.started",
      "setup.started",
      "setup.ended",
      "production.reported",
      "production.reported",
      "scrap.reported",
      "downtime.started",
      "downtime.ended",
      "production.reported",
      "production.reported",
      "production.reported",
      "scrap.reported",
      "production.reported",
      "workorder.completed",
    ]);
    // Counted parts (the bad-quality read and the restart added none) equal the completion's totals.
    const unique = lines.filter((l, i) => ids.indexOf(l.payload.id as string) === i).map((l) => l.payload);
    const data = (type: string) => unique.filter((e) => e.type === type).map((e) => e.data as Record<string, number>);
    const good = data("production.reported").reduce((t, d) => t + (d.qty_good ?? 0), 0);
    const scrap = data("scrap.reported").reduce((t, d) => t + (d.qty ?? 0), 0);
    expect(data("workorder.completed")[0]).toMatchObject({ qty_good: good, qty_scrap: scrap });
    expect([good, scrap]).toEqual([15, 2]);
    expect(data("downtime.started")[0]).toMatchObject({ reason_code: "JAM" });
  });

  it("tags mode publishes the recorded tag-change JSON, bad quality included", async () => {
    const { text, lines } = await runShift("tags");
    expect(text).toBe(readFileSync(join(repoRoot, "integrations/ignition/recorded/tag-changes.jsonl"), "utf8"));
    for (const { topic, payload } of lines) {
      expect(topic).toBe("ignition/tags/plant1/line1/press-01");
      expect(Object.keys(payload).sort()).toEqual(["quality", "tagPath", "timestamp", "value"]);
    }
    expect(lines.filter((l) => l.payload.quality !== "Good").map((l) => l.payload)).toEqual([
      {
        tagPath: "[default]Plant1/Line1/Press01/GoodCount",
        value: 0,
        quality: "Bad_NotConnected",
        timestamp: 1796105310000,
      },
    ]);
  });

  it("any shift, outages, dropped publishes and restarts: nothing lost, nothing doubled, order kept", async () => {
    const scenarios = fc.sample(shiftArbitrary, { numRuns: 60, seed: 1717 }).map(toSteps);
    const input = join(work, "scenarios.json");
    const output = join(work, "property.json");
    writeFileSync(input, JSON.stringify(scenarios));
    await execFileAsync(
      "java",
      [
        "-jar",
        jythonJar(),
        join(repoRoot, "test/peers/jython/run_ignition_property.py"),
        join(repoRoot, "integrations/ignition/script-python"),
        join(work, "property"),
        input,
        output,
      ],
      { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const results = JSON.parse(readFileSync(output, "utf8")) as ScenarioResult[];
    expect(results).toHaveLength(scenarios.length);
    for (const [index, result] of results.entries()) {
      const steps = scenarios[index] as Step[];
      const context = `scenario ${index}: ${JSON.stringify(steps)}`;
      expect(result.left, context).toBe(0);
      // What was published, a resend (always right after itself) counted once, is what was made, in order.
      const published = result.published.filter((event, i) => i === 0 || event.id !== result.published[i - 1]?.id);
      expect(published, context).toEqual(result.made);
      const ids = result.made.map((event) => event.id);
      expect(new Set(ids).size, context).toBe(ids.length);
      const expected = expectedCounts(steps);
      const sum = (type: string, field: string) =>
        result.made.filter((e) => e.type === type).reduce((total, e) => total + Number(e.data[field] ?? 0), 0);
      expect([sum("production.reported", "qty_good"), sum("scrap.reported", "qty")], context).toEqual([
        expected.good,
        expected.scrap,
      ]);
      // A completion carries what was reported for its order since it started.
      let sinceStart = 0;
      for (const event of result.made) {
        if (event.type === "workorder.started") sinceStart = 0;
        if (event.type === "production.reported") sinceStart += Number(event.data.qty_good);
        if (event.type === "workorder.completed") expect(event.data.qty_good, context).toBe(sinceStart);
      }
    }
  });
});

interface MadeEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}
interface ScenarioResult {
  made: MadeEvent[];
  published: MadeEvent[];
  left: number;
}
type Step =
  | { op: "write"; member: string; value: unknown; good: boolean; ms: number }
  | { op: "online"; value: boolean }
  | { op: "drop_next" }
  | { op: "restart" }
  | { op: "flush" };

type Move =
  | { kind: "good"; by: number }
  | { kind: "scrap"; by: number }
  | { kind: "reset"; member: "GoodCount" | "ScrapCount"; to: number }
  | { kind: "bad"; member: "GoodCount" | "ScrapCount" | "State" }
  | { kind: "state"; code: number }
  | { kind: "order"; name: string }
  | { kind: "online"; value: boolean }
  | { kind: "drop" }
  | { kind: "restart" }
  | { kind: "flush" };

const shiftArbitrary = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("good" as const), by: fc.integer({ min: 0, max: 5 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("scrap" as const), by: fc.integer({ min: 0, max: 2 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reset" as const),
        member: fc.constantFrom("GoodCount" as const, "ScrapCount" as const),
        to: fc.integer({ min: 0, max: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("bad" as const),
        member: fc.constantFrom("GoodCount" as const, "ScrapCount" as const, "State" as const),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("state" as const), code: fc.integer({ min: 0, max: 4 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("order" as const), name: fc.constantFrom("A-1", "B-2", "") }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("online" as const), value: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: "drop" as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  ),
  { maxLength: 40 },
);

/** The moves as tag writes with absolute counter values, after the baselines and a first order. */
function toSteps(moves: Move[]): Step[] {
  let ms = 0;
  const counts = { GoodCount: 100, ScrapCount: 10 };
  const write = (member: string, value: unknown, good = true): Step => {
    ms += 1000;
    return { op: "write", member, value, good, ms };
  };
  const count = (member: "GoodCount" | "ScrapCount", value: number): Step => {
    counts[member] = value;
    return write(member, value);
  };
  const steps: Step[] = [write("GoodCount", 100), write("ScrapCount", 10), write("State", 1), write("Order", "A-1")];
  for (const move of moves) {
    if (move.kind === "good") steps.push(count("GoodCount", counts.GoodCount + move.by));
    else if (move.kind === "scrap") steps.push(count("ScrapCount", counts.ScrapCount + move.by));
    else if (move.kind === "reset") steps.push(count(move.member, move.to));
    else if (move.kind === "bad") steps.push(write(move.member, 0, false));
    else if (move.kind === "state") steps.push(write("State", move.code));
    else if (move.kind === "order") steps.push(write("Order", move.name));
    else if (move.kind === "online") steps.push({ op: "online", value: move.value });
    else if (move.kind === "drop") steps.push({ op: "drop_next" });
    else steps.push({ op: move.kind });
  }
  return steps;
}

/** The counting rule of the README, over the good values each counter showed (restarts fire the current value again). */
function expectedCounts(steps: Step[]): { good: number; scrap: number } {
  const last: Record<string, number | undefined> = {};
  const current: Record<string, { value: unknown; good: boolean }> = {};
  const total: Record<string, number> = { GoodCount: 0, ScrapCount: 0 };
  const see = (member: string, value: unknown, good: boolean) => {
    if (!(member in total) || !good) return;
    const v = Number(value);
    const before = last[member];
    last[member] = v;
    if (before === undefined) return;
    total[member] = (total[member] ?? 0) + (v >= before ? v - before : v);
  };
  for (const step of steps) {
    if (step.op === "write") {
      current[step.member] = { value: step.value, good: step.good };
      see(step.member, step.value, step.good);
    } else if (step.op === "restart") {
      for (const member of ["GoodCount", "ScrapCount"]) {
        const tag = current[member];
        if (tag) see(member, tag.value, tag.good);
      }
    }
  }
  return { good: total.GoodCount ?? 0, scrap: total.ScrapCount ?? 0 };
}
