import { describe, expect, it } from "vitest";
import { formatNumber, reportHtml } from "./report.ts";

describe("benchmark report", () => {
  it("shows value, baseline, ratio and whether the target is met", () => {
    const html = reportHtml(
      [
        {
          bench: "ingest",
          issue: 3,
          figure: "store+apply events/s <batch 500>",
          value: 1200,
          unit: "events/s",
          baseline: { name: "per-event RPC", value: 100 },
          target: { text: "≥ 10× <baseline>", met: true },
        },
        {
          bench: "ui",
          issue: 7,
          figure: "bundle",
          value: 160_000,
          unit: "B",
          target: { text: "< 150 KB", met: false },
        },
      ],
      "2026-11-22T00:00:00Z",
    );
    expect(html).toContain("12.00×");
    expect(html).toContain("&lt;batch 500&gt;");
    expect(html).toContain("≥ 10× &lt;baseline&gt;");
    expect(html).toContain('<td class="yes">yes</td>');
    expect(html).toContain('<td class="no">NO</td>');
  });

  it("formats integers with separators and fractions briefly", () => {
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(formatNumber(0.12345)).toBe("0.123");
    expect(formatNumber(123.456)).toBe("123.5");
  });
});
