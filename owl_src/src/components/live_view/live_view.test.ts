// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm } from "../../../test/support/fake_services.ts";
import { actionProps, makeDeferred, mountComponent, settle } from "../../../test/support/helpers.ts";
import { plantTile } from "../../../test/support/plant_tiles.ts";
import type { ConnectionTile } from "../dashboard/dashboard.ts";
import { LiveView, type LiveViewData } from "./live_view.ts";
import { WORKCENTERS_CHANGED } from "./plant.ts";

function connection(overrides: Partial<ConnectionTile> = {}): ConnectionTile {
  return {
    connection_id: 9,
    code: "plant1-mqtt",
    name: "Plant 1 MQTT",
    kind: "mqtt",
    kind_label: "MQTT (JSON CloudEvents)",
    endpoint: "mqtt://broker.plant:1883",
    last_seen: "2026-11-22 08:00:00",
    heartbeat_age_s: 12,
    sidecar_version: "0.1.0",
    spool_depth: 3,
    spool_parked: 0,
    in_per_min: 12.5,
    applied_per_min: 12,
    rejected: 0,
    dlq: 0,
    pending: 0,
    failed: 0,
    p95_lag_ms: 850,
    worst_skew_ms: false,
    sparkline: [],
    catchup: false,
    catchup_backlog: 0,
    drain_rate: 0,
    drain_eta_s: false,
    source_down: false,
    open_alerts: 0,
    source_error: "",
    source_warning: "",
    ...overrides,
  };
}

const PLANT = [
  plantTile({ workcenter_id: 1, name: "L1 Press 01", line: "Line 1" }),
  plantTile({
    workcenter_id: 2,
    name: "L1 Assembly 01",
    line: "Line 1",
    state: "down",
    reason: "Equipment Failure",
    since: "2026-11-23 08:05:00",
  }),
  plantTile({
    workcenter_id: 3,
    name: "L2 Press 02",
    line: "Line 2",
    state: "idle",
    since: false,
    production: false,
    production_id: false,
    operation: false,
    product: false,
    plan: false,
    oee: false,
    availability: false,
    performance: false,
    quality: false,
    last_event_age_s: false,
  }),
];

function server(tiles = PLANT, health = [connection()]) {
  return new FakeOrm((_model, method, args, kwargs) => {
    if (method !== "get_live_view") throw new Error(`unexpected ${method}`);
    const ids = args[0] as number[] | undefined;
    const picked = ids ? tiles.filter((t) => ids.includes(t.workcenter_id)) : tiles;
    const data: LiveViewData = { server_time: "2026-11-23 10:00:00", tiles: picked, partial: Boolean(ids) };
    if (!ids || kwargs.with_health) data.health = health;
    return data;
  });
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("loading, then the health strip and one tile per work center under its line", async () => {
  const answer = makeDeferred<LiveViewData>();
  const mounting = mountComponent(LiveView, new FakeOrm(() => answer), actionProps());
  await settle();
  answer.resolve({ server_time: "2026-11-23 10:00:00", tiles: PLANT, partial: false, health: [connection()] });
  const { fixture } = await mounting;
  await settle();
  const lines = [...fixture.querySelectorAll(".o_sfb_line")].map((el) => el.getAttribute("data-line"));
  expect(lines).toEqual(["Line 1", "Line 2"]);
  expect(fixture.querySelector('.o_sfb_line[data-line="Line 1"] h2 small')?.textContent).toBe(
    "1 running · 1 down · 0 held · 0 setup · 0 idle",
  );
  const press = fixture.querySelector('.o_sfb_live_tile[data-workcenter="L1 Press 01"]') as HTMLElement;
  expect(press.querySelector(".o_sfb_live_state")?.textContent).toBe("Running");
  expect(press.querySelector(".o_sfb_live_order")?.textContent).toBe("WH/MO/00007 · Cutting");
  expect(press.querySelector(".o_sfb_live_counts")?.textContent).toBe("Good 30 · scrap 2 / plan 160");
  expect(press.querySelector(".o_sfb_live_oee")?.textContent).toBe("OEE 18.8 %");
  expect(press.querySelector(".o_sfb_live_age")?.textContent).toMatch(/^Last event 1 h ago$/);
  const down = fixture.querySelector('.o_sfb_live_tile[data-state="down"]') as HTMLElement;
  expect(down.querySelector(".o_sfb_live_since")?.textContent).toMatch(/^Equipment Failure · since .+ \(.+\)$/);
  const idle = fixture.querySelector('.o_sfb_live_tile[data-state="idle"]') as HTMLElement;
  expect(idle.querySelector(".o_sfb_live_order")?.textContent).toBe("No order");
  expect(idle.querySelector(".o_sfb_live_counts")?.textContent).toBe("Good 30 · scrap 2 / plan —");
  expect(idle.querySelector(".o_sfb_live_oee")?.textContent).toBe("OEE —");
  expect(idle.querySelector(".o_sfb_live_since")).toBeNull();
  const strip = fixture.querySelector('.o_sfb_health_item[data-connection="plant1-mqtt"]') as HTMLElement;
  expect(strip.textContent).toContain("heartbeat 12 s");
  expect(strip.textContent).toContain("spool 3 · dead letters 0 · lag 850 ms · clock –");
  expect(strip.classList.contains("o_sfb_health_alert")).toBe(false);
  expect(fixture.textContent).not.toMatch(/\bfalse\b|\bnull\b|undefined|NaN|\[object Object\]/);
});

test("a bus message re-reads only the tiles it names, without a page reload", async () => {
  const tiles = PLANT.map((t) => ({ ...t }));
  const orm = server(tiles);
  const { fixture, bus } = await mountComponent(LiveView, orm, actionProps());
  await settle();
  tiles[2] = {
    ...(tiles[2] as (typeof tiles)[number]),
    state: "held",
    reason: "Burrs on edge",
    since: "2026-11-23 09:59:00",
  };
  bus.emit(WORKCENTERS_CHANGED, { workcenter_ids: [3] });
  await settle();
  expect(orm.callsTo("get_live_view").map((c) => c.args)).toEqual([[], [[3]]]);
  const held = fixture.querySelector('.o_sfb_live_tile[data-workcenter="L2 Press 02"]') as HTMLElement;
  expect(held.getAttribute("data-state")).toBe("held");
  expect(held.querySelector(".o_sfb_live_since")?.textContent).toMatch(/^Burrs on edge · since /);
  expect(fixture.querySelectorAll(".o_sfb_live_tile")).toHaveLength(3);
  expect(fixture.querySelector(".o_sfb_live_view")?.getAttribute("data-reads")).toBe("2");
});

test("the events-changed ping reads the health strip alone", async () => {
  const orm = server();
  const { bus } = await mountComponent(LiveView, orm, actionProps());
  await settle();
  bus.emit("shopfloor_bridge/events_changed", { at: "2026-11-23 10:00:00" });
  await settle();
  const last = orm.callsTo("get_live_view").at(-1);
  expect(last?.args).toEqual([[]]);
  expect(last?.kwargs).toEqual({ with_health: true });
});

test("a stale sidecar or dead letters mark its strip item", async () => {
  const orm = server(PLANT, [connection({ heartbeat_age_s: 600, dlq: 4 })]);
  const { fixture } = await mountComponent(LiveView, orm, actionProps());
  await settle();
  const strip = fixture.querySelector(".o_sfb_health_item") as HTMLElement;
  expect(strip.classList.contains("o_sfb_health_alert")).toBe(true);
  expect(strip.textContent).toContain("heartbeat 10 min");
});

test("a click on a tile opens that work center's timeline in the event explorer", async () => {
  const { fixture, env } = await mountComponent(LiveView, server(), actionProps());
  await settle();
  (fixture.querySelector('.o_sfb_live_tile[data-workcenter="L1 Assembly 01"]') as HTMLElement).click();
  await settle();
  const action = env.services.action as unknown as { actions: unknown[]; options: unknown[] };
  expect(action.actions.at(-1)).toBe("shopfloor_bridge.shopfloor_event_explorer_action");
  expect(action.options.at(-1)).toEqual({ additionalContext: { sfb_workcenter_id: 2 } });
});

test("an error is shown where the person looks", async () => {
  const orm = new FakeOrm(() => {
    throw Object.assign(new Error("rpc"), { data: { message: "User x may not open the Shop Floor live view" } });
  });
  const { fixture } = await mountComponent(LiveView, orm, actionProps());
  await settle();
  expect(fixture.querySelector(".o_sfb_error")?.textContent).toBe(
    "The live view could not be loaded: User x may not open the Shop Floor live view",
  );
});
