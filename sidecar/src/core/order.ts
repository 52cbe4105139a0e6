// Per-workcenter order. Odoo applies one workcenter's events in `time`
// order inside a batch; the sidecar's part is never to let a later event of
// a workcenter overtake an earlier one across batches, and to hand each
// batch sorted by (workcenter, time, arrival).

export interface Ordered {
  seq: number;
  workcenter: string;
  /** Event time in ms (source time; arrival time for rejected input). */
  timeMs: number;
}

/** Stable sort: one workcenter's events by time, ties by arrival; workcenters by first arrival. */
export function orderForDelivery<T extends Ordered>(items: readonly T[]): T[] {
  const firstSeq = new Map<string, number>();
  for (const it of items) if (!firstSeq.has(it.workcenter)) firstSeq.set(it.workcenter, it.seq);
  return [...items].sort(
    (a, b) =>
      (firstSeq.get(a.workcenter) as number) - (firstSeq.get(b.workcenter) as number) ||
      a.timeMs - b.timeMs ||
      a.seq - b.seq,
  );
}

/** Resolves a CloudEvent source to its workcenter key (the source itself when unmapped). */
export function workcenterResolver(sources: { source: string; workcenter: string }[]): (source: string) => string {
  const exact = new Map(sources.map((s) => [s.source, s.workcenter]));
  return (source) => exact.get(source) ?? `source:${source}`;
}
