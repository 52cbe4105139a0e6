// Reverse and re-apply from the event explorer, against a real Odoo 18 with demo data:
// a wrong source → work center mapping books the counts of line 2's assembly bench on line 1's;
// the manager fixes the mapping, picks the shift's events in the explorer, reverses and
// re-applies them, and the dashboard's figures of the wrongly booked work center move back.
import { expect, type Page, test } from "@playwright/test";
import { demoEvent, login, odooUrl, rpc, shot } from "./support.ts";

const SOURCE = "plant1/line2/assembly-02";
const WRONG = "L1 Assembly 01";
const RIGHT = "L2 Assembly 02";

async function workcenterId(name: string): Promise<number> {
  const [id] = (await rpc().execute("mrp.workcenter", "search", [[["name", "=", name]]])) as number[];
  if (!id) throw new Error(`no work center ${name} in the demo data`);
  return id;
}

async function mapSource(workcenter: number): Promise<void> {
  const maps = (await rpc().execute("shopfloor.source.map", "search", [[["source", "=", SOURCE]]])) as number[];
  expect(maps.length).toBe(1);
  await rpc().execute("shopfloor.source.map", "write", [maps, { workcenter_id: workcenter }]);
}

/**
 * The dashboard's OEE quality of a work center (good / total count, "(no row)" when it has
 * none): the counts' own figure. The others move with the clock while a run is under way.
 */
async function oeeQuality(page: Page, name: string): Promise<string> {
  await page.goto(`${odooUrl()}/odoo/shopfloor-dashboard`);
  await expect(page.locator(".o_sfb_tile").first()).toBeVisible({ timeout: 30_000 });
  const row = page.locator(`.o_sfb_oee tr[data-workcenter="${name}"]`);
  return (await row.count()) ? (await row.locator(".o_sfb_oee_quality").innerText()).trim() : "(no row)";
}

/** Units the OEE report counts on a work center over the dashboard's seven days. */
async function countedUnits(workcenter: number): Promise<number> {
  const since = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
  const rows = (await rpc().execute("shopfloor.oee.report", "search_read", [
    [
      ["workcenter_id", "=", workcenter],
      ["date", ">=", since],
    ],
    ["total_count"],
  ])) as { total_count: number }[];
  return rows.reduce((sum, row) => sum + row.total_count, 0);
}

test("a shift booked on the wrong work center is reversed and re-applied from the explorer", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const wrong = await workcenterId(WRONG);
  const right = await workcenterId(RIGHT);
  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 900 });
  const before = await oeeQuality(page, WRONG);
  const [unitsWrong, unitsRight] = [await countedUnits(wrong), await countedUnits(right)];

  const [mo] = (await rpc().execute(
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "=", "demo_mo_hinge_2"],
      ],
    ],
    { fields: ["res_id"] },
  )) as { res_id: number }[];
  // An order of its own (a copy of the demo's, confirmed): the other specs' events on the demo's
  // orders come later and would make a reversal of this shift wait for theirs.
  const copied = (await rpc().execute("mrp.production", "copy", [[mo?.res_id]])) as number | number[];
  const orderId = Array.isArray(copied) ? (copied[0] as number) : copied;
  await rpc().execute("mrp.production", "action_confirm", [[orderId]]);
  const [order] = (await rpc().execute("mrp.production", "read", [[orderId]], { fields: ["name"] })) as {
    name: string;
  }[];

  await mapSource(wrong); // the configuration fault
  const tag = `shift-${Date.now()}`;
  const at = (minutesAgo: number) => ({
    source: SOURCE,
    subject: tag,
    time: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
  });
  // Counts of the shift: the standard OEE counts them on the event's work center.
  const shift = [
    demoEvent("production.reported", { order: order?.name, qty_good: 5, qty_scrap: 1 }, at(50)),
    demoEvent("production.reported", { order: order?.name, qty_good: 3 }, at(20)),
  ];
  const results = await rpc("sidecar@plant1", "sidecar").ingest(shift as never);
  expect(results.map((r) => r.status)).toEqual(["applied", "applied"]);
  const ids = results.map((r) => r.event_id);
  const booked = (await rpc().execute("shopfloor.event", "read", [ids, ["workcenter_id"]])) as {
    workcenter_id: [number, string];
  }[];
  expect(booked.map((e) => e.workcenter_id[0])).toEqual([wrong, wrong]);
  await expect.poll(() => countedUnits(wrong)).toBeCloseTo(unitsWrong + 9, 6);
  await expect.poll(() => oeeQuality(page, WRONG), { timeout: 30_000 }).not.toBe(before);

  await mapSource(right); // fixed
  await page.goto(`${odooUrl()}/odoo/shopfloor-events`);
  const row = page.locator(`.o_sfb_timeline_row[data-workcenter="${WRONG}"]`);
  const marks = row.locator(`.o_sfb_mark[aria-label*="${tag}"]`);
  await expect(marks).toHaveCount(2);
  for (const index of [0, 1]) {
    await marks.nth(index).click();
    // The detail shows the clicked event on OWL's next render: until then the checkbox on
    // screen is the previous event's (already ticked, so check() would do nothing).
    await expect(marks.nth(index)).toHaveClass(/o_sfb_active/);
    await page.locator(".o_sfb_x_pick input").check();
    await expect(marks.nth(index)).toHaveClass(/o_sfb_picked/);
  }
  await expect(page.locator(".o_sfb_x_reverse_bar")).toContainText("2");
  await page.screenshot({ path: shot("explorer_reverse_pick"), fullPage: true });
  await page.locator(".o_sfb_x_reverse_reapply").click();
  const dialog = page.locator(".modal-dialog");
  await expect(dialog).toContainText("Reverse events");
  await dialog.locator("div[name=reason] textarea").fill(`${SOURCE} was mapped to ${WRONG}`);
  await expect(dialog.locator("div[name=reapply] input")).toBeChecked();
  await page.screenshot({ path: shot("explorer_reverse_wizard"), fullPage: true });
  await dialog.locator(".modal-footer button", { hasText: "Reverse" }).click();
  await expect(dialog).toHaveCount(0, { timeout: 30_000 });

  const after = (await rpc().execute("shopfloor.event", "read", [ids, ["state", "workcenter_id"]])) as {
    state: string;
    workcenter_id: [number, string];
  }[];
  expect(after.map((e) => [e.state, e.workcenter_id[0]])).toEqual([
    ["applied", right],
    ["applied", right],
  ]);
  const history = (await rpc().execute("shopfloor.event.log", "search_read", [
    [
      ["event_id", "in", ids],
      ["action", "in", ["reverse", "reapply"]],
    ],
    ["action", "note"],
  ])) as { action: string; note: string }[];
  expect(history.map((h) => h.action).sort()).toEqual(["reapply", "reapply", "reverse", "reverse"]);
  await expect.poll(() => oeeQuality(page, WRONG), { timeout: 30_000 }).toBe(before);
  expect(await countedUnits(wrong)).toBeCloseTo(unitsWrong, 6);
  expect(await countedUnits(right)).toBeCloseTo(unitsRight + 9, 6);
  expect(await oeeQuality(page, RIGHT)).not.toBe("(no row)");
  await page.screenshot({ path: shot("dashboard_after_reverse"), fullPage: true });
  expect(errors).toEqual([]);
  // Out of the queues the later specs read (the dispatch board's).
  await rpc().execute("mrp.production", "action_cancel", [[orderId]]);
});
