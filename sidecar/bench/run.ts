// `npm run bench [-- --only name,name] [--scale N]`: every benchmark in one run.
// At --scale 1 the figures of each benchmark that completed replace its entry
// in sidecar/bench/figures.json, and the READMEs' figure tables are rewritten.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import {
  currentCommit,
  machineOf,
  mergeRun,
  readSnapshot,
  regenerateModuleReadme,
  rewriteFigureDocs,
  writeSnapshot,
} from "./figures.ts";
import type { BenchContext, Benchmark, Figure } from "./harness.ts";
import { ratio } from "./harness.ts";
import { formatNumber, type ReportRow, writeReportPng } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    only: { type: "string" },
    scale: { type: "string", default: "1" },
    out: { type: "string", default: join(here, "../../artifacts/bench") },
  },
});

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
const benches: Benchmark[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Benchmark };
  benches.push(mod.default);
}
const only = values.only?.split(",").filter(Boolean);
const selected = only ? benches.filter((b) => only.includes(b.name)) : benches;
if (selected.length === 0) {
  console.error(`no benchmark selected; have: ${benches.map((b) => b.name).join(", ") || "none"}`);
  process.exit(2);
}

let bar: SingleBar | undefined;
let barLabel = "";
const ctx: BenchContext = {
  scale: Number(values.scale),
  log: (m) => {
    bar?.stop();
    bar = undefined;
    console.log(`  ${m}`);
  },
  progress: (label, done, total) => {
    if (!process.stdout.isTTY) return;
    if (!bar || label !== barLabel) {
      bar?.stop();
      barLabel = label;
      bar = new SingleBar({ format: `  ${label} [{bar}] {value}/{total}`, hideCursor: true });
      bar.start(total, done);
    }
    bar.update(done);
    if (done >= total) {
      bar.stop();
      bar = undefined;
    }
  },
};

const rows: ReportRow[] = [];
const failures: string[] = [];
const completed: Record<string, Figure[]> = {};
for (const b of selected) {
  console.log(`\n▶ ${b.name} (issue ${b.issue})`);
  const started = Date.now();
  try {
    const figures = await b.run(ctx);
    for (const f of figures) rows.push({ ...f, bench: b.name, issue: b.issue });
    completed[b.name] = figures;
  } catch (err) {
    failures.push(`${b.name}: ${(err as Error).message}`);
    console.error(`  ✗ ${b.name} failed: ${(err as Error).stack}`);
  }
  bar?.stop();
  bar = undefined;
  console.log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const fmt = formatNumber;
const table = rows.map((r) => {
  const q = ratio(r);
  return {
    figure: r.figure,
    value: `${fmt(r.value)} ${r.unit}`,
    baseline: r.baseline ? `${fmt(r.baseline.value)} (${r.baseline.name})` : "",
    ratio: q === undefined ? "" : `${q.toFixed(2)}×`,
    target: r.target?.text ?? "",
    met: r.target ? (r.target.met ? "yes" : "NO") : "",
  };
});
console.log("");
console.table(table);
mkdirSync(values.out, { recursive: true });
const at = new Date().toISOString();
const jsonPath = join(values.out, "bench.json");
writeFileSync(jsonPath, `${JSON.stringify({ at, rows, failures }, null, 2)}\n`);
console.log(`results: ${jsonPath}`);
if (rows.length) console.log(`chart:   ${await writeReportPng(rows, at, values.out)}`);
if (ctx.scale !== 1) {
  console.log("figures: sidecar/bench/figures.json kept (only --scale 1 runs are published)");
} else if (Object.keys(completed).length) {
  writeSnapshot(mergeRun(readSnapshot(), completed, at, currentCommit(), machineOf()));
  const docs = rewriteFigureDocs(readSnapshot());
  console.log(
    `figures: sidecar/bench/figures.json (${Object.keys(completed).join(", ")}); READMEs rewritten: ${docs.join(", ") || "none"}`,
  );
  regenerateModuleReadme(docs);
}
if (failures.length) {
  console.error(`benchmarks that failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
