// A live view tile as shopfloor.live.view.get_live_view sends it, for unit tests.
import type { PlantTile } from "../../src/components/live_view/plant.ts";

export function plantTile(overrides: Partial<PlantTile> = {}): PlantTile {
  return {
    workcenter_id: 1,
    name: "L1 Press 01",
    code: "L1-PR01",
    line: "Line 1",
    state: "running",
    since: "2026-11-23 08:01:00",
    reason: false,
    hold_id: false,
    production_id: 7,
    production: "WH/MO/00007",
    workorder_id: 11,
    operation: "Cutting",
    product: "Bracket",
    uom: "Units",
    shift_start: "2026-11-23 06:00:00",
    shift_end: "2026-11-23 14:00:00",
    shift_source: "calendar",
    good: 30,
    scrap: 2,
    plan: 160,
    oee: 18.75,
    availability: 49.58,
    performance: 40.34,
    quality: 93.75,
    oee_flags: [],
    last_event_time: "2026-11-23 09:00:00",
    last_event_type: "production.reported",
    last_event_age_s: 3600,
    ...overrides,
  };
}
