// CSV rows imported per second: a drop folder's export read, parsed, mapped
// and spooled — FolderSource → MappingStage → Pipeline → SqliteSpool — with
// the shipped presets' expressions (read from the module's data file), for
// the generic columns shape (one event per row) and the Wonderware narrow
// shape (one tag value per row, into counter rules).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../devstack/odoo.ts";
import { OffsetEstimator, SkewTracker } from "../src/core/clock.ts";
import type { MappingRule, PayloadMapping, SidecarConfig } from "../src/core/contract.ts";
import { MappingStage } from "../src/mapping/stage.ts";
import { Pipeline } from "../src/pipeline.ts";
import { FolderSource } from "../src/sources/folder/source.ts";
import { SERVICE_SPOOL, SqliteSpool } from "../src/spool/sqlite-spool.ts";
import type { BenchContext, Benchmark, Figure } from "./harness.ts";

/** A shipped preset's expression, from odoo_addon/shopfloor_bridge/data/shopfloor_payload_presets.xml. */
function presetExpression(code: string): string {
  const xml = readFileSync(join(repoRoot, "odoo_addon/shopfloor_bridge/data/shopfloor_payload_presets.xml"), "utf8");
  const record = xml.slice(xml.indexOf(`<field name="code">${code}</field>`));
  const match = /<field\s+name="expression"\s*><!\[CDATA\[([\s\S]*?)\]\]><\/field>/.exec(record);
  if (!match) throw new Error(`preset ${code} not found`);
  return match[1] as string;
}

function mapping(kind: "events" | "values", expression: string): PayloadMapping {
  return {
    id: 1,
    name: "bench",
    kind,
    transport: "file",
    match: "#",
    expression,
    id_fields: [],
    payload_format: "json",
    revision: 1,
  };
}

const TAGS = 10;
const rules: MappingRule[] = Array.from({ length: TAGS }, (_, k) => ({
  id: 100 + k,
  kind: "counter",
  protocol: "payload",
  address: `Line1.Press0${k}.Good`,
  source: `plant1/line1/press-0${k}`,
  event_type: "production.reported",
  params: { order: "WH/MO/00042", unit: "PCS" },
}));

function config(map: PayloadMapping): SidecarConfig {
  return {
    code: "BENCH",
    name: "bench",
    kind: "folder",
    revision: 1,
    server_time: new Date().toISOString(),
    mqtt: false,
    sparkplug: false,
    opcua: false,
    batch: { size: 500, wait_ms: 100 },
    skew: { bound_ms: 0, correct: false },
    sources: [],
    rules: map.kind === "values" ? rules : [],
    payload_maps: [map],
    dispatch: { poll_interval_ms: 0, targets: [] },
  };
}

function genericCsv(rows: number): string {
  const lines = ["time,source,type,order,qty_good"];
  const start = Date.parse("2026-11-23T06:00:00Z");
  for (let i = 0; i < rows; i++) {
    lines.push(
      `${new Date(start + i * 1000).toISOString()},plant1/line1/press-0${i % 5},production.reported,WH/MO/00042,${1 + (i % 7)}`,
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

function narrowCsv(rows: number): string {
  const lines = ["DateTime,TagName,Value,Quality"];
  const start = Date.parse("2026-11-23T06:00:00Z");
  for (let i = 0; i < rows; i++) {
    const at = new Date(start + Math.floor(i / TAGS) * 1000).toISOString().replace("T", " ").slice(0, 23);
    lines.push(`${at},Line1.Press0${i % TAGS}.Good,${Math.floor(i / TAGS) + 1},0`);
  }
  return `${lines.join("\r\n")}\r\n`;
}

async function importRate(
  csv: string,
  rows: number,
  map: PayloadMapping,
): Promise<{ rowsPerS: number; cpuPct: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sfb-bench-historian-"));
  const drop = join(dir, "drop");
  const cfg = config(map);
  try {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(drop);
    const spool = new SqliteSpool({ path: join(dir, "spool.db"), ...SERVICE_SPOOL });
    const pipeline = new Pipeline({ spool, offset: new OffsetEstimator(), skew: new SkewTracker(), config: cfg });
    const stage = new MappingStage({ sink: pipeline, config: cfg });
    const source = new FolderSource({
      connection: "BENCH",
      folder: {
        path: drop,
        pattern: "*.csv",
        encoding: "utf-8",
        delimiter: "comma",
        settle_ms: 0,
        poll_interval_ms: 3_600_000,
      },
    });
    writeFileSync(join(drop, "export.csv"), csv);
    await source.start(stage);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await source.scan();
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    if (!existsSync(join(drop, "done", "export.csv")) || source.stats().rows !== rows) {
      throw new Error(`import incomplete: ${JSON.stringify(source.stats())}`);
    }
    await source.stop();
    await stage.close();
    await spool.close();
    return { rowsPerS: rows / seconds, cpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Benchmark = {
  name: "historian",
  issue: 19,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const rows = Math.round(20_000 * ctx.scale);
    ctx.log(`historian: ${rows} CSV rows per shape`);
    const generic = await importRate(
      genericCsv(rows),
      rows,
      mapping("events", presetExpression("generic_columns_events")),
    );
    const narrow = await importRate(
      narrowCsv(rows),
      rows,
      mapping("values", presetExpression("wonderware_history_narrow")),
    );
    return [
      {
        figure: "CSV rows/s imported, generic columns → events (parse+map+spool)",
        value: Math.round(generic.rowsPerS),
        unit: "rows/s",
      },
      { figure: "CPU while importing generic columns", value: Math.round(generic.cpuPct), unit: "% of a core" },
      {
        figure: "CSV rows/s imported, Wonderware narrow → counter rules (parse+map+rules+spool)",
        value: Math.round(narrow.rowsPerS),
        unit: "rows/s",
      },
    ];
  },
};
export default bench;
