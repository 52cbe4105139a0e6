// Events of a time range grouped per work center, each placed on a
// horizontal axis; pure so the grouping and placement are unit-tested.
import { parseServerDatetime } from "../../shared/format.ts";

export interface ExplorerEvent {
  id: number;
  time: string | false;
  type: string | false;
  state: string;
  source: string;
  subject: string | false;
  workcenter_id: [number, string] | false;
  result_refs: string | false;
}

export interface TimelineRow {
  key: string;
  label: string;
  events: (ExplorerEvent & { left: number })[];
}

export interface RecordRef {
  model: string;
  id: number;
}

/** result_refs holds one "model,id" per line; anything else is ignored. */
export function parseResultRefs(text: string | false | null | undefined): RecordRef[] {
  if (!text) return [];
  const refs: RecordRef[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*([a-z_][a-z0-9_.]*),(\d+)\s*$/.exec(line);
    if (m) refs.push({ model: m[1] as string, id: Number(m[2]) });
  }
  return refs;
}

export function buildTimeline(
  events: readonly ExplorerEvent[],
  from: Date,
  to: Date,
  noWorkcenter: string,
): TimelineRow[] {
  const span = Math.max(1, to.getTime() - from.getTime());
  const rows = new Map<string, TimelineRow>();
  for (const ev of events) {
    const key = ev.workcenter_id ? String(ev.workcenter_id[0]) : "none";
    const label = ev.workcenter_id ? ev.workcenter_id[1] : noWorkcenter;
    let row = rows.get(key);
    if (!row) {
      row = { key, label, events: [] };
      rows.set(key, row);
    }
    const at = parseServerDatetime(ev.time)?.getTime() ?? from.getTime();
    const left = Math.min(100, Math.max(0, ((at - from.getTime()) / span) * 100));
    row.events.push({ ...ev, left: Math.round(left * 100) / 100 });
  }
  for (const row of rows.values())
    row.events.sort((a, b) => String(a.time).localeCompare(String(b.time)) || a.id - b.id);
  return [...rows.values()].sort((a, b) =>
    a.key === "none" ? 1 : b.key === "none" ? -1 : a.label.localeCompare(b.label),
  );
}

/** The hour ticks of the axis: position in % and a label. */
export function axisTicks(
  from: Date,
  to: Date,
  maxTicks = 9,
  label: (d: Date) => string = (d) => d.toISOString().slice(11, 16),
): { left: number; label: string }[] {
  const span = to.getTime() - from.getTime();
  if (span <= 0) return [];
  const hour = 3_600_000;
  const step = Math.max(1, Math.ceil(span / hour / maxTicks)) * hour;
  const first = Math.ceil(from.getTime() / step) * step;
  const ticks = [];
  for (let t = first; t <= to.getTime(); t += step) {
    const d = new Date(t);
    ticks.push({
      left: Math.round(((t - from.getTime()) / span) * 10000) / 100,
      label: label(d),
    });
  }
  return ticks;
}
