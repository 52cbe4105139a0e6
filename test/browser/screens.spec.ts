// The OWL screens against a real Odoo 18 with demo data: live dashboard,
// dead-letter review (edit+retry, bulk discard, rights), event explorer,
// dispatch board. Each test saves a screenshot of its screen.
import { expect, type Page, test } from "@playwright/test";
import { demoEvent, ensurePlainUser, login, odooUrl, rpc, shot } from "./support.ts";

test.describe.configure({ mode: "serial" });

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

async function ingest(events: Record<string, unknown>[]) {
  // As the demo plant's sidecar: only a connection's integration users may send its events.
  return rpc("sidecar@plant1", "sidecar").ingest(events as never);
}

test("dashboard: the connection's counts move live when events are ingested", async ({ page }) => {
  const errors = watchConsole(page);
  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dashboard`);
  const tile = page.locator('.o_sfb_tile[data-connection="plant1-mqtt"]');
  await expect(tile).toBeVisible();
  const dlqBefore = Number((await tile.locator(".o_sfb_dlq_count").textContent())?.replace(/,/g, ""));
  const marker = await page.evaluate(() => {
    (window as unknown as { __sfbNoReload: boolean }).__sfbNoReload = true;
    return true;
  });
  expect(marker).toBe(true);

  const results = await ingest([
    demoEvent("downtime.started", { reason_code: "MAT", downtime_id: `d-${Date.now()}` }),
    demoEvent("downtime.started", {}), // no reason_code: rejected by the schema
  ]);
  expect(results.map((r) => r.status)).toEqual(["applied", "rejected"]);

  // No reload: the bus ping makes the tile re-read its figures.
  await expect(tile.locator(".o_sfb_dlq_count")).toHaveText(
    String(dlqBefore + 1).replace(/\B(?=(\d{3})+(?!\d))/g, ","),
    {
      timeout: 15_000,
    },
  );
  await expect(tile.locator(".o_sfb_applied")).not.toHaveText("0");
  expect(await page.evaluate(() => (window as unknown as { __sfbNoReload?: boolean }).__sfbNoReload)).toBe(true);
  await expect(tile.locator(".o_sfb_spark polyline")).toHaveAttribute("points", /\d/);

  // Standard OEE: an order runs on the press and counts 6 good parts, then 2 scrap; the
  // dashboard's quality moves from 100 % to 75 % without a reload, Odoo's OEE beside it.
  const [mo] = (await rpc().execute(
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "=", "demo_mo_mount_2"],
      ],
    ],
    { fields: ["res_id"] },
  )) as { res_id: number }[];
  const [order] = (await rpc().execute("mrp.production", "read", [[mo?.res_id]], { fields: ["name"] })) as {
    name: string;
  }[];
  // On line 2's press: the dispatch board's test below reorders line 1's queue.
  const at = (secondsAgo: number) => ({
    source: "plant1/line2/press-02",
    time: new Date(Date.now() - secondsAgo * 1000).toISOString(),
  });
  const run = { order: order?.name, operation: "Stamping" };
  const counted = await ingest([
    demoEvent("workorder.started", run, at(120)),
    demoEvent("production.reported", { ...run, qty_good: 6 }, at(60)),
    demoEvent("workorder.paused", run, at(30)),
  ]);
  expect(counted.map((r) => r.status)).toEqual(["applied", "applied", "applied"]);
  const press = page.locator('.o_sfb_oee tr[data-workcenter="L2 Press 02"]');
  await expect(press.locator(".o_sfb_oee_quality")).toHaveText("100.0 %", { timeout: 15_000 });
  await expect(press.locator(".o_sfb_oee_oee")).toHaveText(/^\d+(\.\d)? %$/);
  await expect(press.locator(".o_sfb_oee_odoo")).toHaveText(/^\d+(\.\d)? %$/);
  const [scrapped] = await ingest([demoEvent("scrap.reported", { order: order?.name, qty: 2 }, at(20))]);
  expect(scrapped?.status).toBe("applied");
  await expect(press.locator(".o_sfb_oee_quality")).toHaveText("75.0 %", { timeout: 15_000 });
  await page.screenshot({ path: shot("dashboard"), fullPage: true });
  await press.locator("a").click();
  await expect(page.locator(".o_list_view .o_data_row").first()).toBeVisible();
  expect(errors).toEqual([]);
});

test("dead letters: edit a rejected event's payload, retry it, see it applied", async ({ page }) => {
  const errors = watchConsole(page);
  const event = demoEvent("downtime.started", { downtime_id: "edit-me" });
  const [result] = await ingest([event]);
  expect(result?.status).toBe("rejected");

  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await page.getByLabel("Search").fill(event.id);
  await page.getByRole("button", { name: "Filter" }).click();
  const row = page.locator(`.o_sfb_row[data-uid="${event.id}"]`);
  await expect(row).toHaveCount(1);
  await row.click();
  const detail = page.locator(".o_sfb_detail");
  await expect(detail.locator(".o_sfb_detail_title")).toContainText(event.id);
  await expect(detail.locator(".o_sfb_detail_error")).toContainText("reason_code");
  await expect(detail.locator(".o_sfb_json .j-key").first()).toHaveText('"downtime_id"');
  await page.screenshot({ path: shot("dlq_detail"), fullPage: true });

  await page.keyboard.press("e");
  const editor = page.getByLabel("Event data (JSON). The original payload is kept.");
  await editor.fill('{ "downtime_id": "edit-me", "reason_code": "MAT", }');
  await expect(page.locator(".o_sfb_edit_error")).toContainText("Not valid JSON");
  await expect(page.locator(".o_sfb_edit_save")).toBeDisabled();
  await editor.fill('{ "downtime_id": "edit-me", "reason_code": "MAT" }');
  await expect(page.locator(".o_sfb_edit_error")).toHaveText("");
  await page.screenshot({ path: shot("dlq_edit"), fullPage: true });
  await page.locator(".o_sfb_edit_save").click();

  await expect(detail.locator(".o_sfb_detail_state")).toHaveText("Applied", { timeout: 15_000 });
  await expect(page.locator(".o_sfb_history")).toContainText("Payload edited");
  await expect(row).toHaveCount(0);
  const [stored] = (await rpc().execute("shopfloor.event", "search_read", [
    [["event_uid", "=", event.id]],
    ["state", "data_json", "original_data_json", "raw_payload"],
  ])) as { state: string; data_json: string; original_data_json: string; raw_payload: string }[];
  expect(stored?.state).toBe("applied");
  expect(JSON.parse(stored?.data_json ?? "{}")).toEqual({ downtime_id: "edit-me", reason_code: "MAT" });
  expect(stored?.raw_payload).toContain('"edit-me"'); // the original is kept
  expect(errors).toEqual([]);
});

test("dead letters: bulk discard of a selection, with a reason; j/k move the cursor", async ({ page }) => {
  const errors = watchConsole(page);
  const tag = `bulk-${Date.now()}`;
  const events = [1, 2, 3].map((n) => demoEvent("scrap.reported", { note: "no qty" }, { id: `${tag}-${n}` }));
  const results = await ingest(events);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);

  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await page.getByLabel("Search").fill(tag);
  await page.keyboard.press("Enter");
  await expect(page.locator(".o_sfb_row")).toHaveCount(3);
  await page.getByRole("heading", { name: "Dead letters" }).click(); // out of the search field
  await expect(page.locator(".o_sfb_row.o_sfb_cursor")).toHaveCount(0);
  await page.keyboard.press("j");
  await expect(page.locator(".o_sfb_row").nth(0)).toHaveClass(/o_sfb_cursor/);
  await page.keyboard.press("j");
  await expect(page.locator(".o_sfb_row").nth(1)).toHaveClass(/o_sfb_cursor/);
  await page.keyboard.press("k");
  await expect(page.locator(".o_sfb_row").nth(0)).toHaveClass(/o_sfb_cursor/);

  await expect(page.locator(".o_sfb_detail_title")).toContainText(`${tag}-`);
  await page.keyboard.press("Escape"); // close the detail: the bulk bar asks for the reason itself
  await expect(page.locator(".o_sfb_detail_title")).toHaveCount(0);
  await page.getByLabel("Select every event on this page").check();
  await expect(page.locator(".o_sfb_selected_count")).toHaveText("3 selected");
  await page.locator(".o_sfb_bulk_discard").click();
  await expect(page.getByLabel(/Why discard the 3 selected events/)).toBeFocused();
  await page.keyboard.type("test bench noise");
  await page.screenshot({ path: shot("dlq_bulk"), fullPage: true });
  await page.locator(".o_sfb_reason_ok").click();
  await expect(page.locator(".o_sfb_no_rows")).toBeVisible({ timeout: 15_000 });
  const states = (await rpc().execute("shopfloor.event", "search_read", [
    [["event_uid", "=like", `${tag}-%`]],
    ["state", "discard_reason"],
  ])) as { state: string; discard_reason: string }[];
  expect(states.map((s) => [s.state, s.discard_reason])).toEqual([
    ["discarded", "test bench noise"],
    ["discarded", "test bench noise"],
    ["discarded", "test bench noise"],
  ]);
  expect(errors).toEqual([]);
});

test("dead letters as a plain user: no actions on screen, and the server refuses them", async ({ page }) => {
  const reader = await ensurePlainUser();
  const event = demoEvent("downtime.started", {});
  const [result] = await ingest([event]);
  await login(page, reader.login, reader.password);
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await page.getByLabel("Search").fill(event.id);
  await page.keyboard.press("Enter");
  await page.locator(`.o_sfb_row[data-uid="${event.id}"]`).click();
  await expect(page.locator(".o_sfb_detail_title")).toContainText(event.id);
  await expect(page.locator(".o_sfb_actions")).toHaveCount(0);
  await expect(
    page.locator(".o_sfb_retry, .o_sfb_discard, .o_sfb_edit_btn, .o_sfb_select, .o_sfb_bulk_retry"),
  ).toHaveCount(0);
  await page.keyboard.press("r"); // the shortcut does nothing either
  await page.keyboard.press("d");
  await expect(page.locator(".o_sfb_reason")).toHaveCount(0);
  await page.screenshot({ path: shot("dlq_plain_user"), fullPage: true });
  const asReader = rpc(reader.login, reader.password);
  await expect(asReader.execute("shopfloor.event", "action_retry", [[result?.event_id]])).rejects.toThrow(
    /managers may act on the dead-letter queue/,
  );
  await expect(asReader.execute("shopfloor.event", "dlq_bulk", [[], "discard", "x"])).rejects.toThrow(
    /managers may act/,
  );
  const [stored] = (await rpc().execute("shopfloor.event", "read", [[result?.event_id], ["state"]])) as {
    state: string;
  }[];
  expect(stored?.state).toBe("rejected");
});

test("event explorer: the press's timeline links an event to the records it produced", async ({ page }) => {
  const errors = watchConsole(page);
  const started = demoEvent("downtime.started", { reason_code: "MAT", downtime_id: "explorer-1" });
  const [result] = await ingest([started]);
  expect(result?.status).toBe("applied");
  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-events`);
  const press = page.locator('.o_sfb_timeline_row[data-workcenter="L1 Press 01"]');
  await expect(press).toBeVisible();
  const mark = press.locator(".o_sfb_mark.o_sfb_state_applied").last();
  await mark.click();
  await expect(page.locator(".o_sfb_x_title")).toContainText("downtime.started");
  const link = page.locator(".o_sfb_ref").first();
  await expect(link).toBeVisible();
  await page.screenshot({ path: shot("event_explorer"), fullPage: true });
  await link.click();
  await expect(page.locator(".o_form_view")).toBeVisible();
  expect(errors).toEqual([]);
});

test("dispatch board: dragging an order to the top of its queue stars it in Odoo", async ({ page }) => {
  const errors = watchConsole(page);
  const admin = rpc();
  // The demo MOs may still be drafts: confirm them so the press has a queue.
  const drafts = (await admin.execute("mrp.production", "search", [
    [
      ["state", "=", "draft"],
      ["workorder_ids", "!=", false],
    ],
  ])) as number[];
  if (drafts.length) await admin.execute("mrp.production", "action_confirm", [drafts]);
  await admin.execute("mrp.production", "write", [
    (await admin.execute("mrp.production", "search", [[["state", "in", ["confirmed", "progress"]]]])) as number[],
    { priority: "0" },
  ]);

  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dispatch-board`);
  const column = page.locator('.o_sfb_column[data-workcenter="L1 Press 01"]');
  const cards = column.locator(".o_sfb_card");
  await expect(cards.nth(1)).toBeVisible();
  const count = await cards.count();
  const last = cards.nth(count - 1);
  const mo = (await last.getAttribute("data-mo")) as string;
  await last.dragTo(cards.nth(0), { targetPosition: { x: 20, y: 5 } });
  await expect(cards.nth(0)).toHaveAttribute("data-mo", mo, { timeout: 15_000 });
  await expect(cards.nth(0).locator(".o_sfb_star")).toBeVisible();
  const [stored] = (await admin.execute("mrp.production", "search_read", [[["name", "=", mo]], ["priority"]])) as {
    priority: string;
  }[];
  expect(stored?.priority).toBe("1");
  // Keyboard alternative: move it back down one place.
  await cards.nth(0).locator(".o_sfb_down").click();
  await expect(cards.nth(1)).toHaveAttribute("data-mo", mo, { timeout: 15_000 });
  await page.screenshot({ path: shot("dispatch_board"), fullPage: true });
  await page.setViewportSize({ width: 820, height: 1180 }); // a tablet on the floor
  await page.screenshot({ path: shot("dispatch_board_tablet"), fullPage: true });
  expect(errors).toEqual([]);
});

test("screens fit a tablet: the DLQ stacks its detail under the list", async ({ page }) => {
  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await expect(page.locator(".o_sfb_dlq_table, .o_sfb_no_rows").first()).toBeVisible();
  const overflow = await page.evaluate(() => {
    const el = document.querySelector(".o_sfb_dlq") as HTMLElement;
    return el.scrollWidth - el.clientWidth;
  });
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: shot("dlq_tablet"), fullPage: true });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dashboard`);
  await expect(page.locator(".o_sfb_tile").first()).toBeVisible();
  await page.screenshot({ path: shot("dashboard_tablet"), fullPage: true });
});

test("test mapping: a sample payload is validated and resolved on the connection, nothing applied", async ({
  page,
}) => {
  const errors = watchConsole(page);
  const admin = rpc();
  const [connection] = (await admin.execute("shopfloor.connection", "search_read", [
    [["code", "=", "plant1-mqtt"]],
    ["id"],
  ])) as { id: number }[];
  const before = (await admin.execute("shopfloor.event", "search_count", [[]])) as number;
  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/${connection?.id}`);
  await page.getByRole("button", { name: "Test mapping" }).click();
  const dialog = page.locator(".modal-dialog");
  await expect(dialog).toBeVisible();
  const payload = JSON.stringify({
    source: "plant1/line1/press-01",
    type: "downtime.started",
    time: new Date().toISOString(),
    data: { reason_code: "MAT" },
  });
  const editor = dialog.locator('div[name="payload"] textarea');
  await editor.fill(payload);
  await dialog.getByRole("button", { name: "Run test" }).click();
  await expect(dialog.locator('div[name="outcome"]')).toContainText("Applying would succeed", { timeout: 15_000 });
  await expect(dialog.locator('div[name="workcenter_id"]')).toContainText("L1 Press 01");
  await expect(dialog.locator('div[name="produced"]')).toContainText("mrp.workcenter.productivity");
  await page.screenshot({ path: shot("mapping_test"), fullPage: true });
  expect((await admin.execute("shopfloor.event", "search_count", [[]])) as number).toBe(before);
  expect(errors).toEqual([]);
});
