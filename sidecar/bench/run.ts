// `npm run bench [-- --only name,name] [--scale N]`: every benchmark in one run.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import type { BenchContext, Benchmark } from "./harness.ts";
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
for (const b of selected) {
  console.log(`\n▶ ${b.name} (issue ${b.issue})`);
  const started = Date.now();
  try {
    for (const f of await b.run(ctx)) rows.push({ ...f, bench: b.name, issue: b.issue });
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
if (failures.length) {
  console.error(`benchmarks that failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
