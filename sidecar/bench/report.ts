// The benchmark report as a picture: an HTML page with the table and one bar
// per figure (value against its baseline), rendered by Debian's Chromium.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../devstack/chromium.ts";
import type { Figure } from "./harness.ts";
import { ratio } from "./harness.ts";

export interface ReportRow extends Figure {
  bench: string;
  issue: number;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

export function formatNumber(n: number): string {
  return Number.isInteger(n)
    ? n.toLocaleString("en-US")
    : n.toLocaleString("en-US", { maximumFractionDigits: Math.abs(n) < 10 ? 3 : 1 });
}

export function reportHtml(rows: ReportRow[], at: string): string {
  const body = rows
    .map((r) => {
      const q = ratio(r);
      // Bars compare value and baseline on the larger of the two.
      const max = Math.max(r.value, r.baseline?.value ?? 0) || 1;
      const bar = (v: number, cls: string) =>
        `<div class="bar ${cls}" style="width:${Math.max(1, (v / max) * 100).toFixed(1)}%"></div>`;
      const met = r.target ? (r.target.met ? '<td class="yes">yes</td>' : '<td class="no">NO</td>') : "<td></td>";
      return `<tr>
        <td>${escapeHtml(r.bench)} <small>#${r.issue}</small></td>
        <td>${escapeHtml(r.figure)}</td>
        <td class="num">${formatNumber(r.value)} ${escapeHtml(r.unit)}</td>
        <td class="num">${r.baseline ? `${formatNumber(r.baseline.value)} <small>${escapeHtml(r.baseline.name)}</small>` : ""}</td>
        <td class="num">${q === undefined ? "" : `${q.toFixed(2)}×`}</td>
        <td>${r.target ? escapeHtml(r.target.text) : ""}</td>${met}
        <td class="chart">${bar(r.value, "value")}${r.baseline ? bar(r.baseline.value, "baseline") : ""}</td>
      </tr>`;
    })
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { font: 13px system-ui, sans-serif; margin: 16px; color: #1d1d1f; }
    h1 { font-size: 18px; margin: 0 0 8px; }
    table { border-collapse: collapse; width: 100%; }
    th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: middle; }
    th { background: #f3f3f6; }
    td.num { text-align: right; white-space: nowrap; }
    td.yes { color: #0a7a2f; font-weight: 600; } td.no { color: #b00020; font-weight: 600; }
    td.chart { width: 220px; }
    .bar { height: 7px; margin: 2px 0; border-radius: 2px; }
    .bar.value { background: #714b67; } .bar.baseline { background: #9aa0a6; }
    small { color: #666; }
  </style></head><body>
  <h1>Shopfloor Bridge benchmarks <small>${escapeHtml(at)}</small></h1>
  <table><thead><tr><th>bench</th><th>figure</th><th>value</th><th>baseline</th><th>ratio</th>
  <th>target</th><th>met?</th><th><span style="color:#714b67">■</span> value <span style="color:#9aa0a6">■</span> baseline</th></tr></thead>
  <tbody>${body}</tbody></table></body></html>`;
}

/** Writes bench.html and bench.png beside bench.json; returns the PNG path. */
export async function writeReportPng(rows: ReportRow[], at: string, outDir: string): Promise<string> {
  const htmlPath = join(outDir, "bench.html");
  const pngPath = join(outDir, "bench.png");
  writeFileSync(htmlPath, reportHtml(rows, at));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 300 } });
    await page.goto(`file://${htmlPath}`);
    await page.screenshot({ path: pngPath, fullPage: true });
  } finally {
    await browser.close();
  }
  return pngPath;
}
