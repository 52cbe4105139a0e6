// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../../test/support/setup_dom.ts";

vi.mock("../../shared/web.ts", () => import("../../../test/support/fake_web.ts"));

import { FakeOrm } from "../../../test/support/fake_services.ts";
import { actionProps, makeDeferred, mountComponent, settle } from "../../../test/support/helpers.ts";
import { type DashboardData, ShopfloorDashboard } from "./dashboard.ts";

function tile(overrides: Partial<DashboardData["tiles"][number]> = {}): DashboardData["tiles"][number] {
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
    rejected: 1,
    dlq: 100000,
    pending: 2,
    failed: 0,
    p95_lag_ms: 850,
    worst_skew_ms: -2500,
    sparkline: Array.from({ length: 60 }, (_, i) => i % 7),
    catchup: false,
    catchup_backlog: 3,
    drain_rate: 0,
    drain_eta_s: 0,
    source_down: false,
    source_error: "",
    source_warning: "",
    open_alerts: 0,
    ...overrides,
  };
}

afterEach(() => {
  document.body.innerHTML = "";
});

test("loading, then one tile per connection with its figures", async () => {
  const answer = makeDeferred<DashboardData>();
  const orm = new FakeOrm(() => answer);
  const mounting = mountComponent(ShopfloorDashboard, orm, actionProps());
  await settle();
  answer.resolve({ server_time: "2026-11-22 08:00:12", tiles: [tile()], cost_variances: false });
  const { fixture } = await mounting;
  const el = fixture.querySelector('.o_sfb_tile[data-connection="plant1-mqtt"]') as HTMLElement;
  expect(el.querySelector(".o_sfb_dlq_count")?.textContent).toBe("100,000");
  expect(el.querySelector(".o_sfb_in")?.textContent).toBe("12.5");
  expect(el.querySelector(".o_sfb_lag")?.textContent).toBe("850 ms");
  expect(el.querySelector(".o_sfb_skew")?.textContent).toBe("−2.5 s");
  expect(el.querySelector(".o_sfb_heartbeat")?.textContent).toContain("12 s");
  expect(el.querySelector(".o_sfb_spark polyline")?.getAttribute("points")?.split(" ")).toHaveLength(60);
  expect(el.querySelector(".o_sfb_spark")?.getAttribute("aria-label")).toMatch(/events received in the last hour/);
  expect(fixture.querySelector(".o_sfb_variances")).toBeNull();
  expect(el.querySelector(".o_sfb_endpoint")?.textContent?.trim()).toBe(
    "MQTT (JSON CloudEvents) · mqtt://broker.plant:1883",
  );
});

test("a message-queue connection's tile names its broker and what it consumes", async () => {
  const kafka = tile({
    code: "plant1-kafka",
    kind: "kafka",
    kind_label: "Kafka",
    endpoint: "kafka1:9092,kafka2:9092 · shopfloor.events",
  });
  const orm = new FakeOrm(() => ({ server_time: "2026-11-22 08:00:12", tiles: [kafka], cost_variances: false }));
  const { fixture } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  await settle();
  const endpoint = fixture.querySelector('.o_sfb_tile[data-connection="plant1-kafka"] .o_sfb_endpoint');
  expect(endpoint?.textContent?.trim()).toBe("Kafka · kafka1:9092,kafka2:9092 · shopfloor.events");
  expect(endpoint?.getAttribute("title")).toBe("kafka1:9092,kafka2:9092 · shopfloor.events");
});

test("nothing half-rendered before the first answer; no connection gives an empty-state sentence", async () => {
  const answer = makeDeferred<DashboardData>();
  const orm = new FakeOrm(() => answer);
  const { ShopfloorDashboard: C } = await import("./dashboard.ts");
  const fixtureHolder = document.createElement("div");
  document.body.appendChild(fixtureHolder);
  const { mount } = await import("@odoo/owl");
  const { fakeServices } = await import("../../../test/support/fake_services.ts");
  // Mount without awaiting onWillStart's data: OWL renders after willStart, so
  // the screen's own loading text is what a slow server shows first on reloads.
  const mounted = mount(C, fixtureHolder, { env: { services: fakeServices(orm) }, props: actionProps(), test: true });
  await settle();
  expect(fixtureHolder.textContent).toBe(""); // nothing half-rendered before the data
  answer.resolve({ server_time: "", tiles: [], cost_variances: false });
  await mounted;
  await settle();
  expect(fixtureHolder.querySelector(".o_sfb_empty")?.textContent).toBe("No connection is configured yet.");
});

test("an error is shown where the person looks, and a bus ping reloads without a page reload", async () => {
  let calls = 0;
  const orm = new FakeOrm(() => {
    calls++;
    if (calls === 1) throw Object.assign(new Error("boom"), { data: { message: "Access denied" } });
    return { server_time: "", tiles: [tile({ dlq: 5 })], cost_variances: [] };
  });
  const { fixture, bus } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  expect(fixture.querySelector(".o_sfb_error")?.textContent).toBe("The dashboard could not be loaded: Access denied");
  bus.emit("shopfloor_bridge/events_changed", { at: "2026-11-22 08:00:00" });
  await settle();
  expect(fixture.querySelector(".o_sfb_error")).toBeNull();
  expect(fixture.querySelector(".o_sfb_dlq_count")?.textContent).toBe("5");
  expect(bus.started).toBe(1);
});

test("parked spool rows are counted on the tile and highlighted only when there are some", async () => {
  const orm = new FakeOrm(() => ({
    server_time: "",
    tiles: [tile(), tile({ connection_id: 10, code: "plant2-opcua", spool_parked: 1200 })],
    cost_variances: false,
  }));
  const { fixture } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const calm = fixture.querySelector('.o_sfb_tile[data-connection="plant1-mqtt"] .o_sfb_parked') as HTMLElement;
  expect(calm.textContent).toBe("0");
  expect(calm.className).not.toContain("o_sfb_alert");
  expect(calm.getAttribute("title")).toBeFalsy();
  const parked = fixture.querySelector('.o_sfb_tile[data-connection="plant2-opcua"] .o_sfb_parked') as HTMLElement;
  expect(parked.textContent).toBe("1,200");
  expect(parked.className).toContain("o_sfb_alert");
  expect(parked.getAttribute("title")).toMatch(/spool list --state parked/);
  expect(parked.previousElementSibling?.textContent).toBe("Parked in spool");
});

test("stale heartbeat is flagged; cost variances link to their order; DLQ link opens the review", async () => {
  const orm = new FakeOrm(() => ({
    server_time: "",
    tiles: [tile({ heartbeat_age_s: -1, p95_lag_ms: false, worst_skew_ms: false })],
    cost_variances: [
      { model: "mrp.production", res_id: 7, name: "WH/MO/00007", variance: 12.5, variance_pct: 8.25, currency: "EUR" },
    ],
  }));
  const { fixture, env } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const heartbeat = fixture.querySelector(".o_sfb_heartbeat") as HTMLElement;
  expect(heartbeat.className).toContain("o_sfb_stale");
  expect(heartbeat.textContent).toContain("never");
  expect(fixture.querySelector(".o_sfb_lag")?.textContent).toBe("–");
  const row = fixture.querySelector(".o_sfb_variances tbody tr") as HTMLElement;
  expect(row.textContent).toContain("+12.50 EUR (+8.3 %)");
  (row.querySelector("a") as HTMLElement).click();
  (fixture.querySelector(".o_sfb_dlq_link") as HTMLElement).click();
  await settle();
  const actions = (env.services.action as unknown as { actions: unknown[] }).actions;
  expect(actions[0]).toMatchObject({ res_model: "mrp.production", res_id: 7 });
  expect(actions[1]).toBe("shopfloor_bridge.shopfloor_dlq_action");
});

test("a connection whose source does not read its floor says why, while its sidecar is alive", async () => {
  const orm = new FakeOrm(() => ({
    server_time: "2026-11-22 08:00:12",
    tiles: [
      tile({ code: "plc", connection_id: 1, source_down: true, source_error: "cannot connect: Modbus 10.0.0.7:502" }),
      tile({ code: "quiet", connection_id: 2, source_down: true }),
      tile({ code: "fine", connection_id: 3 }),
      tile({ code: "gone", connection_id: 4, source_down: true, source_error: "old", heartbeat_age_s: 900 }),
    ],
    cost_variances: false,
  }));
  const { fixture } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const line = (code: string) =>
    fixture.querySelector(`.o_sfb_tile[data-connection="${code}"] .o_sfb_source_down`)?.textContent ?? null;
  expect(line("plc")).toBe("Not reading its source: cannot connect: Modbus 10.0.0.7:502");
  expect(line("quiet")).toBe("Not reading its source: not connected");
  expect(line("fine")).toBeNull();
  expect(line("gone")).toBeNull();
});

test("a connection whose source reads only part of its configuration says what it leaves out", async () => {
  const refused =
    '1 topic filter is not subscribed: the broker refused topic filter "secret/#" (SUBACK 0x87: not authorized)';
  const orm = new FakeOrm(() => ({
    server_time: "2026-11-22 08:00:12",
    tiles: [
      tile({ code: "part", connection_id: 1, source_warning: refused }),
      tile({ code: "fine", connection_id: 2 }),
      tile({ code: "gone", connection_id: 3, source_warning: refused, heartbeat_age_s: 900 }),
    ],
    cost_variances: false,
  }));
  const { fixture } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const line = (code: string) =>
    fixture.querySelector(`.o_sfb_tile[data-connection="${code}"] .o_sfb_source_warning`)?.textContent ?? null;
  expect(line("part")).toBe(`Does not read all of its source: ${refused}`);
  expect(line("fine")).toBeNull();
  expect(line("gone")).toBeNull();
});

test("a connection catching up says how much is queued and about how long it takes to drain", async () => {
  const orm = new FakeOrm(async () => ({
    server_time: "2026-11-22 08:00:12",
    tiles: [
      tile({ code: "busy", connection_id: 1, catchup: true, catchup_backlog: 360000, drain_eta_s: 443 }),
      tile({ code: "stuck", connection_id: 2, catchup: true, catchup_backlog: 5000, drain_eta_s: false }),
      tile({ code: "calm", connection_id: 3 }),
      tile({ code: "gone", connection_id: 4, catchup: true, catchup_backlog: 9, drain_eta_s: 9, heartbeat_age_s: 900 }),
    ],
    cost_variances: false,
  }));
  const { fixture } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const line = (code: string) =>
    fixture.querySelector(`.o_sfb_tile[data-connection="${code}"] .o_sfb_catchup`)?.textContent ?? null;
  expect(line("busy")).toBe("Catching up: 360,000 queued, about 8 min to drain");
  expect(line("stuck")).toBe("Catching up: 5,000 queued, not draining yet");
  expect(line("calm")).toBeNull();
  // A sidecar not heard from for long: what it said last is no longer shown as the present.
  expect(line("gone")).toBeNull();
});

test("standard OEE per work center: figures, Odoo's own OEE beside them, flags, and a link to the report rows", async () => {
  const orm = new FakeOrm(() => ({
    server_time: "",
    tiles: [],
    cost_variances: false,
    oee: [
      {
        workcenter_id: 4,
        name: "L1 Press 01",
        date_from: "2026-11-17",
        date_to: "2026-11-23",
        std_oee: 26.6667,
        std_availability: 35.5556,
        std_performance: 79.5,
        std_quality: false,
        odoo_oee: 10.87,
        flag_count: 1,
        flags: ["2026-11-23: Overlapping time logs: 30.0 min logged twice, counted once in run time"],
      },
    ],
  }));
  const { fixture, env } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const row = fixture.querySelector(".o_sfb_oee tbody tr") as HTMLElement;
  expect(row.querySelector(".o_sfb_oee_oee")?.textContent).toBe("26.7 %");
  expect(row.querySelector(".o_sfb_oee_availability")?.textContent).toBe("35.6 %");
  expect(row.querySelector(".o_sfb_oee_performance")?.textContent).toBe("79.5 %");
  expect(row.querySelector(".o_sfb_oee_quality")?.textContent).toBe("–");
  expect(row.querySelector(".o_sfb_oee_odoo")?.textContent).toBe("10.9 %");
  expect(row.querySelector(".o_sfb_oee_flags")?.textContent).toContain("Overlapping time logs");
  (row.querySelector("a") as HTMLElement).click();
  await settle();
  const actions = (env.services.action as unknown as { actions: unknown[] }).actions;
  expect(actions[0]).toMatchObject({
    res_model: "shopfloor.oee.report",
    domain: [
      ["workcenter_id", "=", 4],
      ["date", ">=", "2026-11-17"],
      ["date", "<=", "2026-11-23"],
    ],
  });
});

test("the open alerts count turns red and opens the connection's open alerts", async () => {
  const orm = new FakeOrm(() => ({
    server_time: "",
    tiles: [tile({ code: "calm" }), tile({ code: "loud", connection_id: 12, open_alerts: 3 })],
    cost_variances: false,
  }));
  const { fixture, env } = await mountComponent(ShopfloorDashboard, orm, actionProps());
  const link = (code: string) =>
    fixture.querySelector(`.o_sfb_tile[data-connection="${code}"] .o_sfb_alerts_link`) as HTMLElement;
  expect(link("calm").className).toContain("btn-outline-secondary");
  expect(link("loud").className).toContain("btn-danger");
  expect(link("loud").querySelector(".o_sfb_alerts_count")?.textContent).toBe("3");
  link("loud").click();
  await settle();
  const actions = (env.services.action as unknown as { actions: unknown[] }).actions;
  expect(actions[0]).toMatchObject({
    res_model: "shopfloor.alert",
    domain: [
      ["state", "=", "open"],
      ["connection_id", "=", 12],
    ],
  });
});
