// The Prometheus alerting rules and the Grafana dashboard of sidecar/deploy
// read against the metrics the sidecar really registers (SidecarMetrics, the
// registry /metrics serves): every metric and label name an expression uses
// must exist there, or an alert never fires and a panel stays empty without
// an error anywhere. The dashboard is validated against a JSON schema written
// here from Grafana's documented dashboard model (grafana-dashboard.schema.json:
// the subset a provisioned dashboard must satisfy, not Grafana's own schema)
// and for what a schema cannot say: panels that do not overlap, unique ids.
// promtool's own checks run in prometheus.int.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
import { METRIC_PREFIX, SidecarMetrics } from "../../sidecar/src/ops/metrics.ts";

const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");

// Labels Prometheus attaches to every scraped series: job and instance, and the
// connection that prometheus.yml sets per target.
const TARGET_LABELS = ["job", "instance", "connection"];
// `up` is Prometheus' own series per target.
const PROMETHEUS_SERIES: Record<string, string[]> = { up: [] };
// The PromQL functions and keywords the expressions may use.
const FUNCTIONS = new Set([
  "abs",
  "absent",
  "avg",
  "count",
  "deriv",
  "histogram_quantile",
  "increase",
  "max",
  "max_over_time",
  "min",
  "min_over_time",
  "predict_linear",
  "rate",
  "sum",
  "time",
  "label_values",
]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset"]);

/** Every series name the sidecar's registry exports, with the label names each carries. */
function exportedSeries(): Map<string, string[]> {
  const metrics = new SidecarMetrics("0");
  const series = new Map<string, string[]>(Object.entries(PROMETHEUS_SERIES));
  for (const family of metrics.registry.getMetricsAsArray()) {
    const { name, type, labelNames } = family as unknown as { name: string; type: string; labelNames: string[] };
    if (type === "histogram") {
      series.set(`${name}_bucket`, [...labelNames, "le"]);
      series.set(`${name}_sum`, labelNames);
      series.set(`${name}_count`, labelNames);
    } else series.set(name, labelNames);
  }
  return series;
}
const EXPORTED = exportedSeries();

/** The series and label names a PromQL expression reads (strings, ranges and Grafana's $variables aside). */
function promqlNames(expr: string): { series: string[]; labels: string[]; functions: string[] } {
  const labels: string[] = [];
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_, inside: string) => {
    for (const m of inside.matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1] as string);
    return " ";
  });
  rest = rest.replace(/\[[^\]]*\]/g, " ");
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw, inside: string) => {
    for (const l of inside.split(",")) if (l.trim()) labels.push(l.trim());
    return " ";
  });
  const series: string[] = [];
  const functions: string[] = [];
  for (const m of rest.matchAll(/(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name = "", call] = m;
    if (call) functions.push(name);
    else if (!KEYWORDS.has(name)) series.push(name);
  }
  return { series, labels, functions };
}

/** Every way an expression names something the sidecar does not export, one line each. */
function unknownNames(expr: string): string[] {
  const { series, labels, functions } = promqlNames(expr);
  const problems: string[] = [];
  for (const f of functions) if (!FUNCTIONS.has(f)) problems.push(`unknown function ${f}()`);
  const known = new Set(TARGET_LABELS);
  for (const s of series) {
    const labelNames = EXPORTED.get(s);
    if (!labelNames) problems.push(`unknown series ${s}`);
    else for (const l of labelNames) known.add(l);
  }
  for (const l of labels) if (!known.has(l)) problems.push(`label ${l} on none of ${series.join(", ")}`);
  return problems;
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = parse(read("sidecar/deploy/prometheus/shopfloor-alerts.yml")) as {
  groups: { name: string; rules: Rule[] }[];
};
const allRules = rules.groups.flatMap((g) => g.rules);

interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  targets: { refId: string; expr: string }[];
}
const dashboard = JSON.parse(read("sidecar/deploy/grafana/shopfloor-sidecar.json")) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: string }[] };
};

/** Pairs of panels whose grid rectangles overlap. */
function overlaps(panels: Pick<Panel, "title" | "gridPos">[]): string[] {
  const found: string[] = [];
  panels.forEach((a, i) => {
    for (const b of panels.slice(i + 1)) {
      const p = a.gridPos;
      const q = b.gridPos;
      if (p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h)
        found.push(`${a.title} / ${b.title}`);
    }
  });
  return found;
}

const schema = JSON.parse(read("test/compose/grafana-dashboard.schema.json")) as {
  definitions: { promQuery: object };
};
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const validDashboard = ajv.compile(schema);
const validPromQuery = ajv.compile({ ...schema.definitions.promQuery, definitions: schema.definitions });

describe("the PromQL name check", () => {
  it("reads series, labels and functions, and finds each kind of mistake", () => {
    expect(promqlNames('sum by (connection, le) (rate(a_b_bucket{x=~"$c", y!="z{1}"}[$__rate_interval]))')).toEqual({
      series: ["a_b_bucket"],
      labels: ["x", "y", "connection", "le"],
      functions: ["sum", "rate"],
    });
    expect(unknownNames(`${METRIC_PREFIX}spool_depth > 0 unless on (job) up == 0`)).toEqual([]);
    expect(unknownNames(`${METRIC_PREFIX}spool_deepth > 0`)).toEqual([`unknown series ${METRIC_PREFIX}spool_deepth`]);
    expect(unknownNames(`sum by (status) (${METRIC_PREFIX}spool_depth)`)).toEqual([
      `label status on none of ${METRIC_PREFIX}spool_depth`,
    ]);
    expect(unknownNames(`rate(${METRIC_PREFIX}batch_duration_seconds[5m])`)).toEqual([
      `unknown series ${METRIC_PREFIX}batch_duration_seconds`,
    ]);
    expect(unknownNames(`rat(${METRIC_PREFIX}events_in_total[5m])`)).toEqual(["unknown function rat()"]);
  });
});

describe("shopfloor-alerts.yml", () => {
  it("reads only series and labels the sidecar exports", () => {
    expect(allRules.length).toBeGreaterThan(0);
    for (const rule of allRules) expect(unknownNames(rule.expr), rule.alert).toEqual([]);
  });

  it("gives every alert a unique name, a for:, a severity and annotations naming the connection", () => {
    const names = allRules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of allRules) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(["critical", "warning"], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      // absent() has no series, so no labels to name.
      if (!rule.expr.startsWith("absent("))
        expect(rule.annotations?.summary, rule.alert).toContain("$labels.connection");
    }
  });

  it("covers what a plant's on-call needs to hear about", () => {
    const read = new Set(allRules.flatMap((r) => promqlNames(r.expr).series));
    for (const s of [
      "up",
      `${METRIC_PREFIX}odoo_up`,
      `${METRIC_PREFIX}last_heartbeat_ok_timestamp_seconds`,
      `${METRIC_PREFIX}spool_depth`,
      `${METRIC_PREFIX}spool_waiting_appends`,
      `${METRIC_PREFIX}events_out_total`,
      `${METRIC_PREFIX}events_rejected_total`,
      `${METRIC_PREFIX}spool_parked`,
      `${METRIC_PREFIX}clock_offset_seconds`,
      `${METRIC_PREFIX}source_skew_seconds`,
      `${METRIC_PREFIX}source_connected`,
      `${METRIC_PREFIX}catchup`,
    ])
      expect(read, s).toContain(s);
  });
});

describe("shopfloor-sidecar.json (Grafana dashboard)", () => {
  it("is valid against the dashboard schema, each query against its Prometheus query part", () => {
    expect(validDashboard(dashboard), ajv.errorsText(validDashboard.errors)).toBe(true);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets)
        expect(validPromQuery(target), ajv.errorsText(validPromQuery.errors)).toBe(true);
    }
  });

  it("the schema check itself rejects a broken dashboard", () => {
    const broken = structuredClone(dashboard) as unknown as { panels: Record<string, unknown>[] };
    delete broken.panels[0]?.type;
    expect(validDashboard(broken)).toBe(false);
    const outOfGrid = structuredClone(dashboard);
    (outOfGrid.panels[0] as Panel).gridPos.w = 25;
    expect(validDashboard(outOfGrid)).toBe(false);
    expect(validPromQuery({ refId: "A", legendFormat: "no expr" })).toBe(false);
  });

  it("queries only series and labels the sidecar exports, each filtered by the connection variable", () => {
    const variable = dashboard.templating.list.find((v) => v.name === "connection");
    expect(variable?.query).toBe(`label_values(${METRIC_PREFIX}build_info, connection)`);
    expect(unknownNames(variable?.query.replace(/, connection\)$/, ")") ?? "")).toEqual([]);
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        expect(unknownNames(expr), `${panel.title}: ${expr}`).toEqual([]);
        const selectors = [...expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
        expect(selectors.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const s of selectors) expect(s, `${panel.title}: ${expr}`).toContain('connection=~"$connection"');
      }
    }
  });

  it("lays panels out without overlap, with unique ids, titles and refIds and a valid uid", () => {
    expect(overlaps(dashboard.panels)).toEqual([]);
    expect(
      overlaps([
        { title: "a", gridPos: { x: 0, y: 0, w: 12, h: 8 } },
        { title: "b", gridPos: { x: 11, y: 7, w: 4, h: 4 } },
      ]),
    ).toEqual(["a / b"]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = dashboard.panels.map((p) => p.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const panel of dashboard.panels) {
      const refIds = panel.targets.map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
    // Grafana's uid: at most 40 characters of letters, digits, - and _.
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
  });

  it("shows ingest, delivery and batch sizes, spool, Odoo latency, dead letters, sources, clocks and catch-up", () => {
    const shown = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => promqlNames(t.expr).series)));
    for (const s of [
      "events_in_total",
      "events_out_total",
      "batch_duration_seconds_count",
      "batch_duration_seconds_bucket",
      "spool_depth",
      "events_rejected_total",
      "source_connected",
      "clock_offset_seconds",
      "source_skew_seconds",
      "catchup",
    ])
      expect(shown, s).toContain(`${METRIC_PREFIX}${s}`);
  });
});
