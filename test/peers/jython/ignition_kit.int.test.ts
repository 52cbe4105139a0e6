// The Ignition kit's gateway script on real Jython 2.7 (the interpreter
// Ignition embeds), with a fake of Ignition's `system` API around it: what it
// publishes must be exactly the recorded payloads the end-to-end test feeds
// into Odoo, every event must pass the bridge's schema, and its local queue
// must keep order and ids across a broker outage and a gateway restart.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
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
});
