// The live view's tiles as the server sends them, grouped by line, and the
// words and figures a tile shows. Plain functions: tested without a browser.
import { displayValue, formatAge, formatCount, formatPercent, NO_VALUE } from "../../shared/format.ts";
import { _t } from "../../shared/web.ts";

export type TileState = "held" | "down" | "setup" | "running" | "idle";

/** One work center as `shopfloor.live.view.get_live_view` reports it. */
export interface PlantTile {
  workcenter_id: number;
  name: string;
  code: string | false;
  /** Its line; false when it has none (shown last, as "No line"). */
  line: string | false;
  state: TileState;
  /** Since when the state holds (server datetime, UTC); false when idle. */
  since: string | false;
  /** The loss reason (down, setup) or the hold's reason (held). */
  reason: string | false;
  hold_id: number | false;
  production_id: number | false;
  production: string | false;
  workorder_id: number | false;
  operation: string | false;
  product: string | false;
  uom: string | false;
  shift_start: string;
  shift_end: string;
  /** "calendar": the attendance containing now; "midnight": since midnight in the user's zone. */
  shift_source: "calendar" | "midnight";
  good: number;
  scrap: number;
  /** The count the routing expects by now; false without a current operation with a cycle time. */
  plan: number | false;
  oee: number | false;
  availability: number | false;
  performance: number | false;
  quality: number | false;
  /** Why a ratio passes 100 % or cannot be trusted. */
  oee_flags: string[];
  last_event_time: string | false;
  last_event_type: string | false;
  /** Seconds from the last event's time to the server's now; false without any event. */
  last_event_age_s: number | false;
}

export interface LineGroup {
  /** The line's name, as shown ("No line" for the work centers without one). */
  line: string;
  /** False for the work centers without a line. */
  known: boolean;
  tiles: PlantTile[];
  /** Work centers per state on this line, for its header. */
  counts: Record<TileState, number>;
}

export const STATE_ORDER: readonly TileState[] = ["held", "down", "setup", "running", "idle"];

/** Lines by name (the user's collation), the work centers without one last; tiles in the server's order (sequence, name). */
export function groupByLine(tiles: readonly PlantTile[]): LineGroup[] {
  const groups = new Map<string | false, LineGroup>();
  for (const tile of tiles) {
    const key = typeof tile.line === "string" && tile.line.trim() ? tile.line : false;
    let group = groups.get(key);
    if (!group) {
      group = {
        line: key === false ? _t("No line") : key,
        known: key !== false,
        tiles: [],
        counts: { held: 0, down: 0, setup: 0, running: 0, idle: 0 },
      };
      groups.set(key, group);
    }
    group.tiles.push(tile);
    if (tile.state in group.counts) group.counts[tile.state]++;
  }
  return [...groups.values()].sort((a, b) => Number(b.known) - Number(a.known) || a.line.localeCompare(b.line));
}

/** Replaces the tiles a partial read returned, keeps the others and their order. */
export function mergeTiles(current: readonly PlantTile[], fresh: readonly PlantTile[]): PlantTile[] {
  const byId = new Map(fresh.map((tile) => [tile.workcenter_id, tile]));
  const merged = current.map((tile) => byId.get(tile.workcenter_id) ?? tile);
  const known = new Set(current.map((tile) => tile.workcenter_id));
  return merged.concat(fresh.filter((tile) => !known.has(tile.workcenter_id)));
}

export function stateLabel(state: string): string {
  const labels: Record<string, string> = {
    held: _t("Held"),
    down: _t("Down"),
    setup: _t("Setup"),
    running: _t("Running"),
    idle: _t("Idle"),
  };
  return labels[state] ?? displayValue(state);
}

/** "Good 30 · scrap 2 / plan 160"; plan "—" when the routing gives no pace. */
export function countsText(tile: PlantTile): string {
  return _t("Good %(good)s · scrap %(scrap)s / plan %(plan)s", {
    good: formatCount(tile.good),
    scrap: formatCount(tile.scrap),
    plan: tile.plan === false ? NO_VALUE : formatCount(tile.plan),
  });
}

/** The share of plan made good, 0-100+ (for the bar); false without a plan. */
export function planShare(tile: PlantTile): number | false {
  if (tile.plan === false || !(tile.plan > 0)) return false;
  return (100 * tile.good) / tile.plan;
}

/** OEE as a percentage ("—" when it cannot be computed); a flagged one is marked. */
export function oeeText(tile: PlantTile): string {
  const value = tile.oee === false ? NO_VALUE : formatPercent(tile.oee);
  return tile.oee_flags.length ? `${value} ⚠` : value;
}

/** "A 49.6 % · P 40.3 % · Q 93.8 %" for the OEE's title. */
export function oeeParts(tile: PlantTile): string {
  const part = (value: number | false) => (value === false ? NO_VALUE : formatPercent(value));
  const parts = _t("Availability %(a)s · performance %(p)s · quality %(q)s", {
    a: part(tile.availability),
    p: part(tile.performance),
    q: part(tile.quality),
  });
  return [parts, ...tile.oee_flags].join("\n");
}

/** The age of the last event now, `elapsedS` after the server computed it; "no event yet" without one. */
export function lastEventText(tile: PlantTile, elapsedS: number): string {
  if (tile.last_event_age_s === false) return _t("No event yet");
  return _t("Last event %s ago", formatAge(tile.last_event_age_s + Math.max(0, elapsedS)));
}

/** Bus notification type sent by models/shopfloor_live_view.py: `{workcenter_ids: number[]}`. */
export const WORKCENTERS_CHANGED = "shopfloor_bridge/workcenters_changed";

/** The ids a bus message names; none for anything else. */
export function changedIds(payload: unknown): number[] {
  const ids = (payload as { workcenter_ids?: unknown } | null)?.workcenter_ids;
  return Array.isArray(ids) ? ids.filter((id): id is number => Number.isInteger(id) && id > 0) : [];
}
