export interface TierResult {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  /** Reasons the tier cannot count as green besides failed tests. */
  problems: string[];
}

/** A tier is green only when it ran tests, none failed, none skipped. */
export function tierIsGreen(t: TierResult): boolean {
  return t.failed === 0 && t.skipped === 0 && t.passed > 0 && t.problems.length === 0;
}

export function summaryLine(tiers: TierResult[]): string {
  const passed = tiers.reduce((n, t) => n + t.passed, 0);
  // A skipped test, an empty tier or a tier that could not run counts as a failure.
  const failed = tiers.reduce(
    (n, t) => n + t.failed + t.skipped + (t.problems.length > 0 && t.failed + t.skipped === 0 ? 1 : 0),
    0,
  );
  return `${passed} passed, ${failed} failed`;
}
