// sidecar/deploy/prometheus checked by Prometheus' own promtool (Debian's
// `prometheus` package, installed by .ci/run): the rules and the scrape
// config parse as the server would read them, the rules' unit tests
// (shopfloor-alerts.test.yml: which alerts fire, and when) pass, and a
// wrong expectation makes them fail. The sidecar's scrape text passes
// promtool's metrics lint (only prom-client's standard Node.js families,
// whose names are not ours, draw remarks).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
import { METRIC_PREFIX, SidecarMetrics } from "../../sidecar/src/ops/metrics.ts";

const DIR = join(repoRoot, "sidecar/deploy/prometheus");
const tmp = mkdtempSync(join(tmpdir(), "sfb-promtool-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function promtool(args: string[], opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync("promtool", args, { cwd: opts.cwd ?? DIR, input: opts.input, encoding: "utf8" });
  if (r.error) throw new Error(`promtool: ${r.error.message} (apt-get install prometheus; .ci/run does)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("sidecar/deploy/prometheus with promtool", () => {
  it("promtool check rules: every alerting rule parses", () => {
    const r = promtool(["check", "rules", "shopfloor-alerts.yml"]);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.out).toBe(0);
  });

  it("promtool check config: the scrape config and the rule file it names", () => {
    const r = promtool(["check", "config", "prometheus.yml"]);
    expect(r.out).toMatch(/SUCCESS: 1 rule files found/);
    expect(r.status, r.out).toBe(0);
  });

  it("promtool test rules: sidecar down, spool growing, dead letters growing and a source disconnected fire when expected", () => {
    const r = promtool(["test", "rules", "shopfloor-alerts.test.yml"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain("SUCCESS");
    const tests = readFileSync(join(DIR, "shopfloor-alerts.test.yml"), "utf8");
    for (const alert of [
      "ShopfloorSidecarDown",
      "ShopfloorSpoolGrowing",
      "ShopfloorDeadLettersGrowing",
      "ShopfloorSourceDisconnected",
    ])
      expect(tests).toContain(`alertname: ${alert}\n        exp_alerts:\n          - exp_labels:`);
  });

  it("the rule tests can fail: the sidecar down alert expected before its for: has passed", () => {
    copyFileSync(join(DIR, "shopfloor-alerts.yml"), join(tmp, "shopfloor-alerts.yml"));
    const tests = readFileSync(join(DIR, "shopfloor-alerts.test.yml"), "utf8");
    // At minute 6 the target has been down 1 minute of the 2 its for: asks.
    const early = tests.replace(
      "      - eval_time: 6m\n        alertname: ShopfloorSidecarDown\n        exp_alerts: []",
      '      - eval_time: 6m\n        alertname: ShopfloorSidecarDown\n        exp_alerts:\n          - exp_labels: {severity: critical, job: shopfloor-sidecar, instance: "sidecar:9464", connection: plant1-mqtt}',
    );
    expect(early).not.toBe(tests);
    writeFileSync(join(tmp, "early.test.yml"), early);
    const r = promtool(["test", "rules", "early.test.yml"], { cwd: tmp });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/FAILED[\s\S]*ShopfloorSidecarDown, time: 6m/);
  });

  it("promtool check rules refuses an expression that does not parse", () => {
    const broken = readFileSync(join(DIR, "shopfloor-alerts.yml"), "utf8").replace(
      "expr: shopfloor_sidecar_catchup == 1",
      "expr: shopfloor_sidecar_catchup == ",
    );
    writeFileSync(join(tmp, "broken.yml"), broken);
    const r = promtool(["check", "rules", "broken.yml"], { cwd: tmp });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/FAILED/);
  });

  it("promtool check metrics: the sidecar's own families draw no remark", async () => {
    const metrics = new SidecarMetrics("1.0.0");
    metrics.setLiveness({ kind: "mqtt", running: true, connected: true, lastHeartbeatOkMs: Date.now() });
    metrics.eventsIn.inc({ kind: "event" });
    metrics.eventsOut.inc({ status: "applied" });
    metrics.observeBatchMs(120);
    const r = promtool(["check", "metrics"], { input: await metrics.registry.metrics() });
    const remarks = r.out.split("\n").filter((l) => l.trim());
    expect(remarks.filter((l) => l.startsWith(METRIC_PREFIX))).toEqual([]);
  });
});
