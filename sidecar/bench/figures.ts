// Measured figures in the READMEs come from one committed snapshot,
// `sidecar/bench/figures.json`, which `npm run bench` rewrites (per benchmark,
// its last complete run at --scale 1). `npm run docs:figures` turns it into the
// tables between `<!-- figures:begin name -->` and `<!-- figures:end -->`, so
// a figure is never typed by hand and cannot go stale unnoticed.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Figure } from "./harness.ts";
import { ratio } from "./harness.ts";
import { formatNumber } from "./report.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const SNAPSHOT_PATH = join(REPO_ROOT, "sidecar/bench/figures.json");

/** A figure as the snapshot keeps it: the ratio as the bench computed it, from unrounded values. */
export interface SnapshotFigure extends Figure {
  ratio?: number;
}

export interface BenchFigures {
  /** When the run ended (ISO 8601, UTC). */
  at: string;
  /** `git rev-parse --short HEAD` of the measured tree, `+dirty` when it had changes. */
  commit: string;
  /**
   * The machine that ran it (`machineOf`): figures of one machine compare with
   * each other, not with another's. Absent in entries written before it was kept.
   */
  machine?: string;
  /** Where the figures came from, when not written by `npm run bench` itself. */
  source?: string;
  rows: SnapshotFigure[];
}

export interface FiguresSnapshot {
  about: string;
  benches: Record<string, BenchFigures>;
}

/** One row of a README table: every figure of a bench, or one figure by its exact text. */
export interface TableRowSpec {
  bench: string;
  figure?: string;
}

/** The tables the READMEs may embed, by the name their markers carry. */
export const FIGURE_TABLES: Record<string, TableRowSpec[]> = {
  headline: [
    {
      bench: "sidecar",
      figure: "durable ingest MQTT → spool committed (100,000 events, UUID ids, QoS 1, median of 5 rounds)",
    },
    { bench: "ingest", figure: "ingest events/s, batch 500, store+apply, realistic mix (1000 events)" },
    { bench: "sidecar", figure: "e2e publish → applied in Odoo, 200/s for 30 s: p50" },
    { bench: "sidecar", figure: "e2e publish → applied in Odoo, 200/s for 30 s: p99" },
    { bench: "sidecar", figure: "sidecar RSS with 1,000,000 events backlogged, Odoo down (peak)" },
    { bench: "dispatch", figure: "dispatch latency p99, priority write → OPC UA tag (30 samples, poll 1000 ms)" },
  ],
  sidecar: [{ bench: "sidecar" }],
  cost: [{ bench: "cost" }],
  mapping: [{ bench: "mapping" }],
  http: [{ bench: "http" }],
  sparkplug: [{ bench: "sparkplug" }],
  kafka: [{ bench: "kafka" }],
  redis: [{ bench: "redis" }],
  amqp: [{ bench: "amqp" }],
  scale: [{ bench: "scale" }],
  plc: [{ bench: "plc" }],
  historian: [{ bench: "historian" }],
  probe: [{ bench: "probe" }],
  "live-view": [{ bench: "live-view" }],
};

export const SNAPSHOT_ABOUT =
  "Measured figures, per benchmark its last complete `npm run bench` at --scale 1 (written by sidecar/bench/run.ts). " +
  "The READMEs' marked tables are generated from this file by `npm run docs:figures`; do not edit either by hand.";

export function readSnapshot(path = SNAPSHOT_PATH): FiguresSnapshot {
  return JSON.parse(readFileSync(path, "utf8")) as FiguresSnapshot;
}

export function writeSnapshot(snapshot: FiguresSnapshot, path = SNAPSHOT_PATH): void {
  writeFileSync(path, `${JSON.stringify(snapshot, null, 2)}\n`);
}

/** The tree's commit as the snapshot records it. */
export function currentCommit(root = REPO_ROOT): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") ? `${head}+dirty` : head;
  } catch {
    return "unknown (not a git checkout)";
  }
}

/** This machine as a snapshot entry names it: CPU model, cores, memory and Node.js. */
export function machineOf(): string {
  const cores = cpus();
  const model = (cores[0]?.model ?? "unknown CPU").replace(/\s+/g, " ").trim();
  const gib = totalmem() / 1024 ** 3;
  return `${model}, ${cores.length} cores, ${gib.toFixed(0)} GiB, Node.js ${process.version}`;
}

/** Replaces the entries of the benches that ran; the others keep their last run. */
export function mergeRun(
  snapshot: FiguresSnapshot,
  run: Record<string, Figure[]>,
  at: string,
  commit: string,
  machine?: string,
): FiguresSnapshot {
  const benches = { ...snapshot.benches };
  for (const [bench, rows] of Object.entries(run)) {
    benches[bench] = {
      at,
      commit,
      ...(machine === undefined ? {} : { machine }),
      rows: rows.map(({ figure, value, unit, baseline, target }) => {
        const q = ratio({ figure, value, unit, baseline });
        return { figure, value, unit, baseline, ratio: q === undefined ? undefined : Number(q.toFixed(2)), target };
      }),
    };
  }
  const sorted = Object.fromEntries(Object.entries(benches).sort(([a], [b]) => a.localeCompare(b)));
  return { about: SNAPSHOT_ABOUT, benches: sorted };
}

const cell = (text: string) => text.replace(/\|/g, "\\|");
const when = (at: string) => `${at.slice(0, 16).replace("T", " ")} UTC`;

/** The generated body of the table `name`: a provenance line and the table. */
export function renderTable(name: string, snapshot: FiguresSnapshot): string {
  const spec = FIGURE_TABLES[name];
  if (!spec) throw new Error(`no figure table named "${name}"; have: ${Object.keys(FIGURE_TABLES).join(", ")}`);
  const used = new Map<string, BenchFigures>();
  const rows: SnapshotFigure[] = [];
  for (const { bench, figure } of spec) {
    const entry = snapshot.benches[bench];
    if (!entry) throw new Error(`figure table "${name}": benchmark "${bench}" has no figures in the snapshot`);
    used.set(bench, entry);
    if (figure === undefined) {
      rows.push(...entry.rows);
      continue;
    }
    const row = entry.rows.find((r) => r.figure === figure);
    if (!row) throw new Error(`figure table "${name}": benchmark "${bench}" has no figure "${figure}" in the snapshot`);
    rows.push(row);
  }
  const runs = new Map<string, string[]>();
  for (const [bench, e] of used) {
    const run = `${when(e.at)}, commit ${e.commit}${e.machine ? ` on ${e.machine}` : ""}`;
    runs.set(run, [...(runs.get(run) ?? []), `\`${bench}\``]);
  }
  const provenance = [...runs].map(([run, benches]) => `${benches.join(", ")} ${run}`).join("; ");
  const lines = [
    `_Generated by \`npm run docs:figures\` from \`sidecar/bench/figures.json\` — \`npm run bench\`: ${provenance}._`,
    "",
    "| figure | value | baseline | target |",
    "|---|---|---|---|",
  ];
  for (const row of rows) {
    const q = row.ratio ?? ratio(row);
    const baseline = row.baseline
      ? `${formatNumber(row.baseline.value)} (${row.baseline.name})${q === undefined ? "" : ` → ${q.toFixed(2)}×`}`
      : "";
    const target = row.target ? `${row.target.text} — ${row.target.met ? "met" : "**not met**"}` : "";
    lines.push(`| ${[row.figure, `${formatNumber(row.value)} ${row.unit}`, baseline, target].map(cell).join(" | ")} |`);
  }
  return lines.join("\n");
}

// Markers stand on their own lines, so prose can quote them.
const BLOCK = /^<!-- figures:begin (\S+) -->\n[\s\S]*?^<!-- figures:end -->$/gm;

/** The markdown with every marked table regenerated; throws on a marker without its end. */
export function rewriteMarkdown(text: string, snapshot: FiguresSnapshot): string {
  const begins = text.match(/^<!-- figures:begin /gm)?.length ?? 0;
  const blocks = text.match(BLOCK)?.length ?? 0;
  if (begins !== blocks) throw new Error("a `<!-- figures:begin name -->` marker has no `<!-- figures:end -->`");
  return text.replace(
    BLOCK,
    (_all, name: string) => `<!-- figures:begin ${name} -->\n${renderTable(name, snapshot)}\n<!-- figures:end -->`,
  );
}

const SKIP = new Set(["node_modules", ".git", "artifacts", "dist", "test-results", "generated"]);

/** Every markdown file of the repository (no dependencies, no build output). */
export function markdownFiles(root = REPO_ROOT): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name) && !entry.name.startsWith(".")) walk(join(dir, entry.name));
      } else if (entry.name.endsWith(".md")) found.push(join(dir, entry.name));
    }
  };
  walk(root);
  return found.sort();
}

const FIGURE_UNIT =
  /\d[\d,.]*\s?(ms|s|µs|MB|MiB|GiB|KiB|%|events\/s|msg\/s|messages\/min|changes\/s|metrics\/s|queries)(?![\w/])/;
const FIGURE_SECTION = /measur|figure|performance|benchmark/i;

/**
 * Tables outside markers that look measured: a number with a unit in a table
 * with a `figure` column or in a section about measurements. Returns "line N: …" per table.
 */
export function unmarkedFigureTables(text: string): string[] {
  const found: string[] = [];
  const lines = text.split("\n");
  let inBlock = false;
  let heading = "";
  let lead = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("<!-- figures:begin ")) inBlock = true;
    if (line.startsWith("<!-- figures:end")) inBlock = false;
    if (/^#+ /.test(line)) heading = line;
    if (inBlock || !line.startsWith("|")) {
      if (line.trim() && !line.startsWith("|")) lead = line;
      continue;
    }
    const start = i;
    const table: string[] = [];
    while (i < lines.length && (lines[i] as string).startsWith("|")) table.push(lines[i++] as string);
    i--;
    const header = (table[0] ?? "").split("|").map((c) => c.trim().toLowerCase());
    const measured = FIGURE_SECTION.test(heading) || /^measured/i.test(lead);
    if ((header.includes("figure") || measured) && table.slice(2).some((row) => FIGURE_UNIT.test(row))) {
      found.push(`line ${start + 1}: ${table[0]}`);
    }
  }
  return found;
}

/** Regenerates every marked table; returns the files whose text changed (written unless `check`). */
export function rewriteFigureDocs(snapshot: FiguresSnapshot, opts: { root?: string; check?: boolean } = {}): string[] {
  const root = opts.root ?? REPO_ROOT;
  const changed: string[] = [];
  for (const file of markdownFiles(root)) {
    const text = readFileSync(file, "utf8");
    let next: string;
    try {
      next = rewriteMarkdown(text, snapshot);
    } catch (err) {
      throw new Error(`${relative(root, file)}: ${(err as Error).message}`);
    }
    if (next === text) continue;
    changed.push(relative(root, file));
    if (!opts.check) writeFileSync(file, next);
  }
  return changed;
}

/**
 * The module's README.rst and static/description/index.html are generated from
 * its readme/ fragments: when a figure table there changed, regenerate them too
 * (tools/packaging/gen-readme.sh, which builds its own venv), so the README test
 * does not find them stale. Returns false (with the command to run) when it failed.
 */
export function regenerateModuleReadme(changed: string[], root: string = REPO_ROOT): boolean {
  if (!changed.some((file) => /^odoo_addon\/[^/]+\/readme\//.test(file))) return true;
  const run = spawnSync("bash", [join(root, "tools/packaging/gen-readme.sh")], { cwd: root, stdio: "inherit" });
  if (run.status === 0) return true;
  console.error("the module's README.rst is now stale: run tools/packaging/gen-readme.sh and commit the result");
  return false;
}
