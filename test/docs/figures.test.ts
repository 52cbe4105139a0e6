// Measured figures reach the READMEs only through sidecar/bench/figures.json
// and `npm run docs:figures`: a table typed or edited by hand fails here.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FIGURE_TABLES,
  type FiguresSnapshot,
  machineOf,
  markdownFiles,
  mergeRun,
  REPO_ROOT,
  readSnapshot,
  renderTable,
  rewriteMarkdown,
  unmarkedFigureTables,
} from "../../sidecar/bench/figures.ts";

const snapshot = readSnapshot();
const docs = markdownFiles().map((file) => ({ name: relative(REPO_ROOT, file), text: readFileSync(file, "utf8") }));

describe("README figure tables", () => {
  it("each marked table is what `npm run docs:figures` writes from the snapshot", () => {
    const stale = docs.filter((doc) => rewriteMarkdown(doc.text, snapshot) !== doc.text).map((doc) => doc.name);
    expect(stale, "run `npm run docs:figures`; never edit a marked table by hand").toEqual([]);
  });

  it("no table of measured figures lives outside the markers", () => {
    const found = docs.flatMap((doc) => unmarkedFigureTables(doc.text).map((where) => `${doc.name} ${where}`));
    expect(found, "put figures in sidecar/bench/figures.json and a <!-- figures:begin name --> block").toEqual([]);
  });

  it("the READMEs carry the generated tables", () => {
    const used = docs.flatMap((doc) => [...doc.text.matchAll(/^<!-- figures:begin (\S+) -->$/gm)].map((m) => m[1]));
    expect(new Set(used)).toEqual(new Set(Object.keys(FIGURE_TABLES)));
  });

  it("every figure a table names is in the snapshot, with when and on which commit it was measured", () => {
    for (const name of Object.keys(FIGURE_TABLES)) expect(() => renderTable(name, snapshot)).not.toThrow();
    for (const [bench, entry] of Object.entries(snapshot.benches)) {
      expect(entry.at, bench).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d/);
      expect(entry.commit, bench).toMatch(/^[0-9a-f]{7,40}(\+dirty)?$/);
      expect(entry.rows.length, bench).toBeGreaterThan(0);
    }
  });
});

describe("figures machinery", () => {
  const tiny: FiguresSnapshot = {
    about: "",
    benches: {
      sidecar: {
        at: "2026-01-02T03:04:05Z",
        commit: "abc1234",
        rows: [
          {
            figure: "durable ingest MQTT → spool committed (100,000 events, UUID ids, QoS 1, median of 5 rounds)",
            value: 1234.5,
            unit: "events/s",
            baseline: { name: "bare", value: 2469 },
            target: { text: "≥ 50% of bare", met: true },
          },
        ],
      },
    },
  };

  it("a hand-edited value inside the markers is rewritten back", () => {
    const doc = `# x\n\n<!-- figures:begin sidecar -->\n${renderTable("sidecar", tiny)}\n<!-- figures:end -->\n`;
    expect(rewriteMarkdown(doc, tiny)).toBe(doc);
    const typed = doc.replace("1,234.5 events/s", "9,999 events/s");
    expect(typed).not.toBe(doc);
    expect(rewriteMarkdown(typed, tiny)).toBe(doc);
  });

  it("renders value, baseline with ratio, and whether the target was met", () => {
    const table = renderTable("sidecar", tiny);
    expect(table).toContain("| 1,234.5 events/s | 2,469 (bare) → 0.50× | ≥ 50% of bare — met |");
    expect(table).toContain("`sidecar` 2026-01-02 03:04 UTC, commit abc1234");
  });

  it("refuses an unknown table, a figure missing from the snapshot and a marker without its end", () => {
    expect(() => rewriteMarkdown("<!-- figures:begin nope -->\n<!-- figures:end -->\n", tiny)).toThrow(
      /no figure table named "nope"/,
    );
    expect(() => renderTable("headline", tiny)).toThrow(/benchmark "ingest" has no figures/);
    expect(() => rewriteMarkdown("<!-- figures:begin sidecar -->\n| a |\n", tiny)).toThrow(
      /has no `<!-- figures:end -->`/,
    );
  });

  it("flags a typed table of figures outside the markers, not other tables", () => {
    const typed = "### Measured\n\n| figure | value |\n|---|---|\n| publish → applied p99 | 92.4 s |\n";
    expect(unmarkedFigureTables(typed)).toEqual(["line 3: | figure | value |"]);
    const perf = "## Performance\n\n| what | how fast |\n|---|---|\n| refresh | 8.7 ms |\n";
    expect(unmarkedFigureTables(perf)).toHaveLength(1);
    const config = "## Configuration\n\n| key | meaning |\n|---|---|\n| `POLL` | every 2 s |\n";
    expect(unmarkedFigureTables(config)).toEqual([]);
  });

  it("names the machine a bench ran on, when the snapshot kept it", () => {
    const merged = mergeRun(
      tiny,
      { sidecar: tiny.benches.sidecar?.rows ?? [] },
      "2026-02-03T04:05:00Z",
      "def5678",
      "AMD EPYC, 2 cores, 24 GiB, Node.js v24.0.0",
    );
    expect(merged.benches.sidecar?.machine).toBe("AMD EPYC, 2 cores, 24 GiB, Node.js v24.0.0");
    expect(renderTable("sidecar", merged)).toContain(
      "`sidecar` 2026-02-03 04:05 UTC, commit def5678 on AMD EPYC, 2 cores, 24 GiB, Node.js v24.0.0",
    );
    expect(machineOf()).toMatch(/, \d+ cores, \d+ GiB, Node\.js v\d+\./);
  });

  it("a bench run replaces only the benches that ran, with the ratio from unrounded values", () => {
    const merged = mergeRun(
      tiny,
      { cost: [{ figure: "f", value: 2, unit: "ms", baseline: { name: "b", value: 3 } }] },
      "2026-02-03T00:00:00Z",
      "def5678",
    );
    expect(merged.benches.sidecar).toEqual(tiny.benches.sidecar);
    expect(merged.benches.cost).toEqual({
      at: "2026-02-03T00:00:00Z",
      commit: "def5678",
      rows: [{ figure: "f", value: 2, unit: "ms", baseline: { name: "b", value: 3 }, ratio: 0.67, target: undefined }],
    });
  });
});
