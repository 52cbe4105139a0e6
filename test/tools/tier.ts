import { relative } from "node:path";

export interface TierResult {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  /** Reasons the tier cannot count as green besides failed tests. */
  problems: string[];
  /** Each failed test: its name and the first line of why, for the summary. */
  failures?: string[];
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

/** The summary's list of failed tests: every name, at most `limit` of them. */
export function failureLines(tiers: TierResult[], limit = 20): string[] {
  const all = tiers.flatMap((t) => (t.failures ?? []).map((f) => `  ${t.name}: ${f}`));
  if (all.length <= limit) return all;
  return [...all.slice(0, limit), `  … and ${all.length - limit} more (see the tiers' output above)`];
}

/** One line of a failure message, short enough for a summary. */
export function firstLine(message: string | undefined, max = 200): string {
  const line = (message ?? "").split("\n").find((l) => l.trim()) ?? "";
  const plain = line.trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}

export interface VitestJson {
  testResults?: {
    name: string;
    status?: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
}

/** Every failed test of a vitest report (and every file that failed to load). */
export function vitestFailures(r: VitestJson, root: string): string[] {
  const failures: string[] = [];
  for (const file of r.testResults ?? []) {
    const where = relative(root, file.name);
    const failed = (file.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failed) failures.push(`${where} › ${a.fullName} — ${firstLine(a.failureMessages?.[0])}`);
    if (!failed.length && file.status === "failed") failures.push(`${where} — ${firstLine(file.message)}`);
  }
  return failures;
}

export interface PlaywrightSuite {
  title: string;
  specs?: {
    title: string;
    file: string;
    line: number;
    tests: { status: string; results?: { error?: { message?: string } }[] }[];
  }[];
  suites?: PlaywrightSuite[];
}

export interface PlaywrightJson {
  suites?: PlaywrightSuite[];
  stats: { expected: number; unexpected: number; skipped: number; flaky: number };
  errors?: { message?: string }[];
}

/** Every spec that failed or only passed on retry, with its first error. */
export function playwrightFailures(suites: PlaywrightSuite[]): string[] {
  return suites.flatMap((suite) => [
    ...(suite.specs ?? []).flatMap((spec) =>
      spec.tests
        .filter((t) => t.status === "unexpected" || t.status === "flaky")
        .map((t) => {
          const error = t.results?.find((r) => r.error)?.error?.message;
          const flaky = t.status === "flaky" ? " (passed on retry)" : "";
          return `${spec.file}:${spec.line} › ${spec.title}${flaky} — ${firstLine(error)}`;
        }),
    ),
    ...playwrightFailures(suite.suites ?? []),
  ]);
}
