import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { event } from "../../test/support/spool/spool.contract.ts";
import { Redactor } from "../core/secrets.ts";
import { SqliteSpool } from "../spool/sqlite-spool.ts";
import { METRIC_PREFIX, SidecarMetrics, startOpsServer } from "./metrics.ts";
import { readiness } from "./readiness.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The value of a metric (with its labels as printed, e.g. `{kind="event"}`) in the Prometheus text a scrape returns. */
async function scraped(metrics: SidecarMetrics, name: string, labels = ""): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** `# TYPE name type` of every family in a scrape. */
function families(text: string): { name: string; type: string }[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("# TYPE "))
    .map((l) => {
      const [, , name = "", type = ""] = l.split(" ");
      return { name, type };
    });
}

/** The families collectDefaultMetrics makes: Prometheus' standard process_* / nodejs_* names, not ours to prefix. */
async function defaultFamilies(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return new Set(families(await registry.metrics()).map((f) => f.name));
}

// Time words: such a metric must be in seconds.
const TIME_WORD = /(^|_)(duration|latency|offset|skew|age|elapsed|lag|time|delay|uptime)(_|$)/;
// Units Prometheus says not to use (base units: seconds, bytes).
const NON_BASE_UNIT =
  /(^|_)(ms|msec|millis|milliseconds|us|microseconds|ns|nanoseconds|minutes|hours|days|kb|kib|mb|mib|gb)(_|$)/;

/**
 * Every way a scrape breaks Prometheus' naming conventions
 * (https://prometheus.io/docs/practices/naming/), one line each.
 */
function namingProblems(text: string, standard: Set<string>): string[] {
  const problems: string[] = [];
  for (const { name, type } of families(text)) {
    // prom-client's process and runtime metrics keep the names it gives them (some gauges end in _total there).
    if (standard.has(name)) continue;
    if (!name.startsWith(METRIC_PREFIX)) problems.push(`${name}: not prefixed ${METRIC_PREFIX}`);
    if (type === "counter" && !name.endsWith("_total")) problems.push(`${name}: a counter without _total`);
    if (type !== "counter" && name.endsWith("_total")) problems.push(`${name}: a ${type} ending in _total`);
    if (NON_BASE_UNIT.test(name)) problems.push(`${name}: not in a base unit (seconds, bytes)`);
    if (TIME_WORD.test(name) && !/_seconds(_total)?$/.test(name)) problems.push(`${name}: a time not in _seconds`);
    if (/(^|_)(size|bytes)(_|$)/.test(name) && !/_bytes(_total)?$/.test(name))
      problems.push(`${name}: a size not in _bytes`);
    if ((type === "histogram" || type === "summary") && !/_(seconds|bytes)$/.test(name))
      problems.push(`${name}: a ${type} without a unit`);
  }
  return problems;
}

describe("metric names follow Prometheus' conventions", () => {
  it("every family of the sidecar's registry: prefix, counters with _total, seconds, bytes", async () => {
    const metrics = new SidecarMetrics("9.9.9");
    const text = await metrics.registry.metrics();
    const standard = await defaultFamilies();
    expect(namingProblems(text, standard)).toEqual([]);
    const ours = families(text).filter((f) => f.name.startsWith(METRIC_PREFIX));
    // The families the README's table lists, with their types.
    expect(Object.fromEntries(ours.map((f) => [f.name.slice(METRIC_PREFIX.length), f.type]))).toEqual({
      build_info: "gauge",
      events_in_total: "counter",
      events_out_total: "counter",
      duplicates_in_total: "counter",
      events_rejected_total: "counter",
      scope_dropped_total: "counter",
      http_requests_total: "counter",
      http_auth_failures_total: "counter",
      spool_depth: "gauge",
      spool_bytes: "gauge",
      spool_parked: "gauge",
      spool_skipped: "gauge",
      spool_waiting_appends: "gauge",
      spool_checkpoint_thread: "gauge",
      spool_checkpoint_rounds_total: "counter",
      spool_checkpoint_behind_total: "counter",
      batch_duration_seconds: "histogram",
      delivery_failures_total: "counter",
      delivery_conflicts_total: "counter",
      delivery_in_flight: "gauge",
      delivery_partitions: "gauge",
      catchup: "gauge",
      backlog_drain_seconds: "gauge",
      odoo_up: "gauge",
      clock_offset_seconds: "gauge",
      source_skew_seconds: "gauge",
      source_connected: "gauge",
      last_heartbeat_ok_timestamp_seconds: "gauge",
      config_revision: "gauge",
    });
    // collectDefaultMetrics is in: the process metrics every Prometheus client exports.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"])
      expect(families(text).map((f) => f.name)).toContain(name);
  });

  it("sidecar/README.md's table lists each family once, with its type", async () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const rows = [...readme.matchAll(/^\| `(shopfloor_sidecar_[a-z_]+)(?:\{[a-z_,]+\})?` \| ([a-z]+) \|/gm)];
    const documented = rows.map(([, name, type]) => `${name} ${type}`).sort();
    const text = await new SidecarMetrics("0").registry.metrics();
    const ours = families(text).filter((f) => f.name.startsWith(METRIC_PREFIX));
    expect(documented).toEqual(ours.map((f) => `${f.name} ${f.type}`).sort());
  });

  it("the check itself finds each kind of mistake (it is not one that cannot fail)", async () => {
    const bad = new Registry();
    new Counter({ name: `${METRIC_PREFIX}events_in`, help: "h", registers: [bad] });
    new Gauge({ name: `${METRIC_PREFIX}clock_offset_ms`, help: "h", registers: [bad] });
    new Gauge({ name: `${METRIC_PREFIX}dropped_total`, help: "h", registers: [bad] });
    new Gauge({ name: "sidecar_spool_depth", help: "h", registers: [bad] });
    new Gauge({ name: `${METRIC_PREFIX}heartbeat_age`, help: "h", registers: [bad] });
    new Gauge({ name: `${METRIC_PREFIX}payload_size`, help: "h", registers: [bad] });
    new Histogram({ name: `${METRIC_PREFIX}batch_latency_milliseconds`, help: "h", registers: [bad] });
    expect(namingProblems(await bad.metrics(), new Set())).toEqual([
      `${METRIC_PREFIX}events_in: a counter without _total`,
      `${METRIC_PREFIX}clock_offset_ms: not in a base unit (seconds, bytes)`,
      `${METRIC_PREFIX}clock_offset_ms: a time not in _seconds`,
      `${METRIC_PREFIX}dropped_total: a gauge ending in _total`,
      "sidecar_spool_depth: not prefixed shopfloor_sidecar_",
      `${METRIC_PREFIX}heartbeat_age: a time not in _seconds`,
      `${METRIC_PREFIX}payload_size: a size not in _bytes`,
      `${METRIC_PREFIX}batch_latency_milliseconds: not in a base unit (seconds, bytes)`,
      `${METRIC_PREFIX}batch_latency_milliseconds: a time not in _seconds`,
      `${METRIC_PREFIX}batch_latency_milliseconds: a histogram without a unit`,
    ]);
  });
});

describe("SidecarMetrics values", () => {
  it("build_info is 1 with the version", async () => {
    const metrics = new SidecarMetrics("1.2.3");
    expect(await scraped(metrics, `${METRIC_PREFIX}build_info`, '{version="1.2.3"}')).toBe(1);
  });

  it("the delivery gauges: in flight, partitions, catch-up 0/1 and the drain estimate (NaN while nothing drains)", async () => {
    const metrics = new SidecarMetrics("0");
    metrics.setDelivery({ inFlight: 2, partitions: 3, catchup: true, etaS: 540 });
    expect(await scraped(metrics, `${METRIC_PREFIX}delivery_in_flight`)).toBe(2);
    expect(await scraped(metrics, `${METRIC_PREFIX}delivery_partitions`)).toBe(3);
    expect(await scraped(metrics, `${METRIC_PREFIX}catchup`)).toBe(1);
    expect(await scraped(metrics, `${METRIC_PREFIX}backlog_drain_seconds`)).toBe(540);
    metrics.setDelivery({ inFlight: 0, partitions: 3, catchup: false, etaS: undefined });
    expect(await scraped(metrics, `${METRIC_PREFIX}catchup`)).toBe(0);
    expect(await scraped(metrics, `${METRIC_PREFIX}backlog_drain_seconds`)).toBeNaN();
  });

  it("source_connected is 1 for a connected or a running silent source, 0 otherwise; one kind at a time", async () => {
    const metrics = new SidecarMetrics("0");
    const connected = (kind: string) => scraped(metrics, `${METRIC_PREFIX}source_connected`, `{kind="${kind}"}`);
    metrics.setLiveness({ kind: "mqtt", running: true, connected: true, lastHeartbeatOkMs: 0 });
    expect(await connected("mqtt")).toBe(1);
    expect(await scraped(metrics, `${METRIC_PREFIX}last_heartbeat_ok_timestamp_seconds`)).toBe(0);
    metrics.setLiveness({ kind: "mqtt", running: true, connected: false, lastHeartbeatOkMs: 1_700_000_000_500 });
    expect(await connected("mqtt")).toBe(0);
    expect(await scraped(metrics, `${METRIC_PREFIX}last_heartbeat_ok_timestamp_seconds`)).toBe(1_700_000_000.5);
    metrics.setLiveness({ kind: "mqtt", running: false, connected: null, lastHeartbeatOkMs: 0 });
    expect(await connected("mqtt")).toBe(0);
    // A reload to another kind leaves no stale series of the old one.
    metrics.setLiveness({ kind: "opcua", running: true, connected: null, lastHeartbeatOkMs: 0 });
    expect(await connected("opcua")).toBe(1);
    expect(await connected("mqtt")).toBeUndefined();
  });

  it("times given in milliseconds come out in seconds", async () => {
    const metrics = new SidecarMetrics("0");
    metrics.setClockOffsetMs(-1_500);
    metrics.setSkewMs("plant/line1", 250);
    metrics.observeBatchMs(2_000);
    expect(await scraped(metrics, `${METRIC_PREFIX}clock_offset_seconds`)).toBe(-1.5);
    expect(await scraped(metrics, `${METRIC_PREFIX}source_skew_seconds`, '{source="plant/line1"}')).toBe(0.25);
    expect(await scraped(metrics, `${METRIC_PREFIX}batch_duration_seconds_sum`)).toBe(2);
    expect(await scraped(metrics, `${METRIC_PREFIX}batch_duration_seconds_bucket`, '{le="1"}')).toBe(0);
    expect(await scraped(metrics, `${METRIC_PREFIX}batch_duration_seconds_bucket`, '{le="2.5"}')).toBe(1);
  });

  it("scope drops only grow, also when a reload restarts the source's count from 0", async () => {
    const metrics = new SidecarMetrics("0");
    const dropped = () => scraped(metrics, `${METRIC_PREFIX}scope_dropped_total`, '{protocol="opcua"}');
    metrics.scopeDroppedSoFar("opcua", 5);
    expect(await dropped()).toBe(5);
    metrics.scopeDroppedSoFar("opcua", 5);
    metrics.scopeDroppedSoFar("opcua", 8);
    expect(await dropped()).toBe(8);
    metrics.scopeDroppedSoFar("opcua", 2); // a new source after a reload
    expect(await dropped()).toBe(10);
  });

  it("the checkpoint thread: up 1 then 0 once failed, its rounds and rounds left behind counted from its own totals", async () => {
    const metrics = new SidecarMetrics("0");
    const thread = () => scraped(metrics, `${METRIC_PREFIX}spool_checkpoint_thread`);
    const rounds = () => scraped(metrics, `${METRIC_PREFIX}spool_checkpoint_rounds_total`);
    const behind = () => scraped(metrics, `${METRIC_PREFIX}spool_checkpoint_behind_total`);
    metrics.setCheckpoints(undefined); // a spool without a thread (the CLI's) sets nothing
    expect(await thread()).toBe(0);
    metrics.setCheckpoints({ rounds: 3, behind: 0, longestMs: 12 });
    expect([await thread(), await rounds(), await behind()]).toEqual([1, 3, 0]);
    metrics.setCheckpoints({ rounds: 7, behind: 2, longestMs: 40 });
    metrics.setCheckpoints({ rounds: 7, behind: 2, longestMs: 40 });
    expect([await thread(), await rounds(), await behind()]).toEqual([1, 7, 2]);
    metrics.setCheckpoints({ rounds: 7, behind: 2, longestMs: 40, failed: "the checkpoint thread exited (code 1)" });
    expect([await thread(), await rounds(), await behind()]).toEqual([0, 7, 2]);
  });

  it("the spool gauges show queued, parked and skipped items as the spool counts them, also after another process changed it", async () => {
    const path = join(dir, "spool.db");
    const spool = new SqliteSpool({ path, maxAttempts: 1 });
    await spool.append([event(1), event(2), event(3)]);
    const [s1, s2] = (await spool.queued(3)).map((e) => e.seq) as [number, number];
    await spool.markAttempt([s1], "OdooFault: boom");
    const metrics = new SidecarMetrics("0");
    metrics.setSpool(spool.depth);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_depth`)).toBe(2);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_parked`)).toBe(1);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_skipped`)).toBe(0);
    // The CLI skips a row through its own connection.
    const cli = new SqliteSpool({ path });
    await cli.skip([s1, s2], "test data", "ana");
    await cli.close();
    metrics.setSpool(spool.depth);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_depth`)).toBe(1);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_parked`)).toBe(0);
    expect(await scraped(metrics, `${METRIC_PREFIX}spool_skipped`)).toBe(2);
    expect(spool.open).toBe(true);
    await spool.close();
    expect(spool.open).toBe(false);
  });
});

describe("readiness (from what /healthz computes)", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const fresh = {
    problems: [],
    source: "mqtt",
    source_connected: true,
    spool_open: true,
    last_heartbeat_ok: "2026-12-01T11:59:55.000Z",
  };
  it("is ready when the source is connected, the spool open and Odoo answered recently", () => {
    expect(readiness(fresh, now, 45_000)).toEqual({ ok: true, reasons: [] });
    // A source that does not say whether it is connected counts while it runs; parked rows are /healthz's, not readiness'.
    expect(readiness({ ...fresh, source_connected: null, problems: ["spool: 2 items parked"] }, now, 45_000)).toEqual({
      ok: true,
      reasons: [],
    });
  });
  it("names each reason it is not", () => {
    expect(
      readiness(
        { ...fresh, source_connected: false, spool_open: false, last_heartbeat_ok: "2026-12-01T11:58:00.000Z" },
        now,
        45_000,
      ),
    ).toEqual({
      ok: false,
      reasons: [
        "source: mqtt is not connected",
        "spool: closed",
        "odoo: last answered a heartbeat 120 s ago (more than 45 s)",
      ],
    });
    expect(readiness({ ...fresh, source: null, last_heartbeat_ok: null }, now, 45_000).reasons).toEqual([
      "intake: no source runs",
      "odoo: has not answered a heartbeat yet",
    ]);
    expect(
      readiness(
        { ...fresh, source: null, problems: ["intake: the cached configuration lacks its secrets"] },
        now,
        45_000,
      ).reasons,
    ).toEqual(["intake: the cached configuration lacks its secrets"]);
    expect(readiness({ ...fresh, problems: ["stopped"] }, now, 45_000).reasons).toEqual(["stopped"]);
  });
});

describe("ops server", () => {
  it("/livez answers 200; /readyz 200 or 503 with the reasons; /healthz as before", async () => {
    let ready = { ok: false, reasons: ["source: mqtt is not connected"] };
    const ops = await startOpsServer(new SidecarMetrics("0"), {
      port: 0,
      host: "127.0.0.1",
      health: () => ({ ok: false, problems: ["spool: 1 items parked"] }),
      ready: () => ready,
    });
    const get = (path: string) => fetch(`http://127.0.0.1:${ops.port}${path}`);
    try {
      expect((await get("/livez")).status).toBe(200);
      const notReady = await get("/readyz");
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ok: false, reasons: ["source: mqtt is not connected"] });
      ready = { ok: true, reasons: [] };
      expect((await get("/readyz")).status).toBe(200);
      expect((await get("/healthz")).status).toBe(503);
      expect((await get("/nothing")).status).toBe(404);
    } finally {
      await ops.close();
    }
  });

  it("bodies pass the redactor: /healthz, /readyz and /metrics carry no registered secret and no URL password", async () => {
    const metrics = new SidecarMetrics("0");
    metrics.setSkewMs("mqtt://edge:label-password@plant", 5);
    const redactor = new Redactor();
    redactor.add("registered-api-key-123");
    const problem = "intake: connect mqtts://sidecar:url-password@broker failed with registered-api-key-123";
    const ops = await startOpsServer(metrics, {
      port: 0,
      host: "127.0.0.1",
      redactor,
      health: () => ({ ok: false, problems: [problem] }),
      ready: () => ({ ok: false, reasons: [problem] }),
    });
    try {
      const health = await (await fetch(`http://127.0.0.1:${ops.port}/healthz`)).text();
      const ready = await (await fetch(`http://127.0.0.1:${ops.port}/readyz`)).text();
      const scrape = await (await fetch(`http://127.0.0.1:${ops.port}/metrics`)).text();
      for (const body of [health, ready]) {
        expect(body).toContain("mqtts://sidecar:[redacted]@broker failed with [redacted]");
        expect(body).not.toMatch(/url-password|registered-api-key-123/);
      }
      expect(scrape).toContain('source="mqtt://edge:[redacted]@plant"');
    } finally {
      await ops.close();
    }
  });
});
