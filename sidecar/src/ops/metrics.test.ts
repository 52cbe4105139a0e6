import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Redactor } from "../core/secrets.ts";
import { event } from "../spool/spool.contract.ts";
import { SqliteSpool } from "../spool/sqlite-spool.ts";
import { SidecarMetrics, startOpsServer } from "./metrics.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The value of an unlabelled metric in the Prometheus text a scrape returns. */
async function scraped(metrics: SidecarMetrics, name: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

describe("SidecarMetrics spool gauges", () => {
  it("show queued, parked and skipped items as the spool counts them, also after another process changed it", async () => {
    const path = join(dir, "spool.db");
    const spool = new SqliteSpool({ path, maxAttempts: 1 });
    await spool.append([event(1), event(2), event(3)]);
    const [s1, s2] = (await spool.queued(3)).map((e) => e.seq) as [number, number];
    await spool.markAttempt([s1], "OdooFault: boom");
    const metrics = new SidecarMetrics();
    metrics.setSpool(spool.depth);
    expect(await scraped(metrics, "sidecar_spool_depth")).toBe(2);
    expect(await scraped(metrics, "sidecar_spool_parked")).toBe(1);
    expect(await scraped(metrics, "sidecar_spool_skipped")).toBe(0);
    // The CLI skips a row through its own connection.
    const cli = new SqliteSpool({ path });
    await cli.skip([s1, s2], "test data", "ana");
    await cli.close();
    metrics.setSpool(spool.depth);
    expect(await scraped(metrics, "sidecar_spool_depth")).toBe(1);
    expect(await scraped(metrics, "sidecar_spool_parked")).toBe(0);
    expect(await scraped(metrics, "sidecar_spool_skipped")).toBe(2);
    await spool.close();
  });
});

describe("ops server bodies", () => {
  it("pass the redactor: /healthz and /metrics carry no registered secret and no URL password", async () => {
    const metrics = new SidecarMetrics();
    metrics.skew.set({ source: "mqtt://edge:label-password@plant" }, 5);
    const redactor = new Redactor();
    redactor.add("registered-api-key-123");
    const ops = await startOpsServer(metrics, {
      port: 0,
      host: "127.0.0.1",
      redactor,
      health: () => ({
        ok: false,
        problems: ["intake: connect mqtts://sidecar:url-password@broker failed with registered-api-key-123"],
      }),
    });
    try {
      const health = await (await fetch(`http://127.0.0.1:${ops.port}/healthz`)).text();
      const scrape = await (await fetch(`http://127.0.0.1:${ops.port}/metrics`)).text();
      expect(health).toContain("mqtts://sidecar:[redacted]@broker failed with [redacted]");
      expect(health).not.toMatch(/url-password|registered-api-key-123/);
      expect(scrape).toContain('source="mqtt://edge:[redacted]@plant"');
    } finally {
      await ops.close();
    }
  });
});
