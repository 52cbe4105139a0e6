// What every benchmark returns. `npm run bench` runs each `*.bench.ts` in this
// folder in one process, side by side, and prints one table over all figures.

import type { Intake, SourceSink } from "../src/core/ports.ts";

export interface Figure {
  /** e.g. "ingest events/s, batch 500, store+apply" */
  figure: string;
  value: number;
  unit: string;
  /** The same figure for the baseline measured in the same run, if any. */
  baseline?: { name: string; value: number };
  /** The target this figure is held to, as text and as a check on `value`. */
  target?: { text: string; met: boolean };
}

export interface BenchContext {
  /** Scale factor from --scale (1 = the default sizes, < 10 minutes in all). */
  scale: number;
  log(message: string): void;
  /** Progress of a long step, shown as a bar. */
  progress(label: string, done: number, total: number): void;
}

export interface Benchmark {
  name: string;
  /** Issue number the figures belong to. */
  issue: number;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function ratio(f: Figure): number | undefined {
  return f.baseline && f.baseline.value !== 0 ? f.value / f.baseline.value : undefined;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

/** The 50th percentile of unsorted values (the lower middle one of an even count). */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Commits nothing, counts events: for benches of a source, whose spool cost is measured elsewhere. */
export class CountingSink implements SourceSink {
  events = 0;
  async accept(items: Intake[]): Promise<undefined> {
    this.events += items.length;
    return undefined;
  }
  async loadState(): Promise<Record<string, unknown>> {
    return {};
  }
}
