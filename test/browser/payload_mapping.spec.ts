// Issue #17 in the browser, against a real Odoo 18: a payload that is no
// CloudEvent reaches Odoo as the sidecar sends it (rejected, raw bytes kept);
// the admin finds it in the dead-letter review, creates a payload mapping
// from it, tries it in the form (the sidecar's evaluator, in the page),
// saves it, retries the rejected items it now accepts — and the production
// reports apply to the manufacturing order.
import { expect, type Page, test } from "@playwright/test";
import { reject } from "../../sidecar/src/core/validate.ts";
import { login, odooUrl, rpc, shot } from "./support.ts";

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

/** A confirmed MO with a work order on L1 Press 01 (the demo source plant1/line1/press-01). */
async function pressOrder(): Promise<{ id: number; name: string; qty_producing: number }> {
  const admin = rpc();
  const drafts = (await admin.execute("mrp.production", "search", [
    [
      ["state", "=", "draft"],
      ["workorder_ids.workcenter_id.name", "=", "L1 Press 01"],
    ],
  ])) as number[];
  if (drafts.length) await admin.execute("mrp.production", "action_confirm", [drafts]);
  const [order] = (await admin.execute("mrp.production", "search_read", [
    [
      ["state", "in", ["confirmed", "progress"]],
      ["workorder_ids.workcenter_id.name", "=", "L1 Press 01"],
    ],
    ["name", "qty_producing"],
    0,
    1,
    "id desc",
  ])) as { id: number; name: string; qty_producing: number }[];
  if (!order) throw new Error("the demo data has no open MO on L1 Press 01");
  return order;
}

test("dead letter → new payload mapping → try it → save → retry: the production reports apply", async ({ page }) => {
  test.setTimeout(240_000);
  const errors = watchConsole(page);
  const order = await pressOrder();
  const tag = `${process.pid}-${Date.now()}`;
  const topic = `shopfloor/press-01/counts/${tag}`;
  // What the press's bespoke gateway publishes: not a CloudEvent.
  const payloads = [
    { machine: "press-01", order: order.name, good: 4, at: new Date(Date.now() - 60_000).toISOString() },
    { machine: "press-01", order: order.name, good: 3, at: new Date(Date.now() - 30_000).toISOString() },
  ];
  const rejectedInputs = payloads.map((payload) =>
    reject(
      new TextEncoder().encode(JSON.stringify(payload)),
      { connection: "plant1-mqtt", origin: topic, receivedAt: new Date() },
      "not a CloudEvent: no mapping takes this payload",
    ),
  );
  // As the demo plant's sidecar sends input it cannot read as an event.
  const ingested = await rpc("sidecar@plant1", "sidecar").ingest(rejectedInputs as never);
  expect(ingested.map((r) => r.status)).toEqual(["rejected", "rejected"]);

  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await page.getByLabel("Search").fill(rejectedInputs[0]?.id ?? "");
  await page.getByRole("button", { name: "Filter" }).click();
  const row = page.locator(`.o_sfb_row[data-uid="${rejectedInputs[0]?.id}"]`);
  await expect(row).toHaveCount(1);
  await row.click();
  const detail = page.locator(".o_sfb_detail");
  await expect(detail.locator(".o_sfb_detail_error")).toContainText("no mapping takes this payload");
  await page.screenshot({ path: shot("payload_mapping_dlq"), fullPage: true });
  await detail.getByRole("button", { name: "Create mapping from this payload" }).click();

  // The new mapping's form, prefilled from the rejected payload.
  const form = page.locator(".o_form_view");
  await expect(form.locator('div[name="match"] input')).toHaveValue(topic, { timeout: 30_000 });
  await expect(form.locator('div[name="connection_id"] input')).toHaveValue(/Plant 1|plant1/i);
  await expect(form.locator('div[name="transport"] select')).toHaveValue('"mqtt"');
  await form
    .locator('div[name="expression"] textarea')
    .fill(
      '{"source": "plant1/line1/press-01", "type": "production.reported", "time": at,' +
        ' "data": {"order": order, "qty_good": good}}',
    );
  await form.locator('div[name="id_fields"] textarea').fill("source\ntime\ndata.order");

  await form.getByRole("tab", { name: "Try it" }).click();
  const panel = form.locator(".o_sfb_try");
  await expect(panel.locator(".o_sfb_try_sample")).toHaveValue(JSON.stringify(payloads[0]));
  // The sidecar's evaluator ran in the page: one CloudEvent, its deterministic id, the schema's verdict.
  await expect(panel.locator(".o_sfb_result_summary")).toContainText("1 CloudEvent", { timeout: 15_000 });
  await expect(panel.locator(".o_sfb_result_id")).toHaveText(/^sfb-m-[0-9a-f]{40}$/);
  await expect(panel.locator(".o_sfb_result_check")).toHaveText("Every event passes the module's schema.", {
    timeout: 15_000,
  });
  const shown = JSON.parse((await panel.locator(".o_sfb_result_event .o_sfb_json").textContent()) ?? "{}");
  expect(shown).toMatchObject({
    source: "plant1/line1/press-01",
    type: "production.reported",
    time: payloads[0]?.at,
    data: { order: order.name, qty_good: 4 },
    connection: "plant1-mqtt",
  });
  const firstId = (await panel.locator(".o_sfb_result_id").textContent()) ?? "";
  // A mistake in the expression shows the error, not a broken form.
  await form.getByRole("tab", { name: "Expression" }).click();
  const expression = form.locator('div[name="expression"] textarea');
  const good = await expression.inputValue();
  await expression.fill('{"source": "plant1/line1/press-01", "type": "production.reported", "time": at,');
  await form.getByRole("tab", { name: "Try it" }).click();
  await expect(panel.locator(".o_sfb_result_error")).toContainText("does not compile", { timeout: 15_000 });
  await form.getByRole("tab", { name: "Expression" }).click();
  await expression.fill(good);
  await form.getByRole("tab", { name: "Try it" }).click();
  await expect(panel.locator(".o_sfb_result_id")).toHaveText(firstId, { timeout: 15_000 });
  await page.screenshot({ path: shot("payload_mapping_try"), fullPage: true });

  await form.locator(".o_form_button_save").click();
  await expect(page).toHaveURL(/\/\d+(\?|$)/, { timeout: 15_000 });
  const mappingId = Number(/\/(\d+)(?:\?|$)/.exec(page.url())?.[1]);
  expect(mappingId).toBeGreaterThan(0);
  expect(errors).toEqual([]);
  // The saved form loads its side panels (the chatter) after the save: none may fail.
  await page.waitForTimeout(2_000);
  await expect(page.locator(".o_error_dialog")).toHaveCount(0);
  expect(errors).toEqual([]);

  await panel.getByRole("button", { name: "Retry the rejected items this mapping now accepts" }).click();
  await expect(panel.locator(".o_sfb_retry_summary")).toHaveText(
    "This mapping accepts 2 of the 2 recent rejected payloads it matches.",
    { timeout: 30_000 },
  );
  await expect(panel.locator(".o_sfb_retry_failing")).toHaveCount(0);
  await page.screenshot({ path: shot("payload_mapping_retry_review"), fullPage: true });
  await panel.getByRole("button", { name: "Retry 2 items" }).click();
  await expect(panel.locator(".o_sfb_retry_done_summary")).toHaveText(
    "2 of 2 items re-mapped into 2 events, 2 applied.",
    { timeout: 60_000 },
  );
  await page.screenshot({ path: shot("payload_mapping_retry_done"), fullPage: true });

  // In Odoo: the MO's producing quantity grew by 4 + 3, the reports are applied
  // under the mapping's revision, the rejected items are closed with a reason.
  const admin = rpc();
  const [after] = (await admin.execute("mrp.production", "read", [[order.id], ["qty_producing"]])) as {
    qty_producing: number;
  }[];
  expect(after?.qty_producing).toBeCloseTo(order.qty_producing + 7, 6);
  const produced = (await admin.execute("shopfloor.event", "search_read", [
    [
      ["source", "=", "plant1/line1/press-01"],
      ["type", "=", "production.reported"],
      ["event_uid", "=like", "sfb-m-%"],
      ["subject", "=", false],
      ["ingest_time", ">=", new Date(Date.now() - 600_000).toISOString().slice(0, 19).replace("T", " ")],
    ],
    ["event_uid", "state", "data_json"],
  ])) as { event_uid: string; state: string; data_json: string }[];
  const ours = produced.filter((ev) => JSON.parse(ev.data_json).order === order.name);
  expect(ours.map((ev) => ev.state)).toEqual(["applied", "applied"]);
  expect(ours.map((ev) => ev.event_uid)).toContain(firstId);
  const closed = (await admin.execute("shopfloor.event", "search_read", [
    [["event_uid", "in", rejectedInputs.map((r) => r.id)]],
    ["state", "discard_reason"],
  ])) as { state: string; discard_reason: string }[];
  expect(closed.map((ev) => ev.state)).toEqual(["discarded", "discarded"]);
  for (const ev of closed) expect(ev.discard_reason).toContain("re-mapped by mapping");

  // Again: nothing left to retry, nothing applied twice.
  await panel.getByRole("button", { name: "Retry the rejected items this mapping now accepts" }).click();
  await expect(panel.locator(".o_sfb_retry_summary")).toHaveText(
    "No rejected payload matches this mapping's connection and pattern.",
    { timeout: 30_000 },
  );
  const [still] = (await admin.execute("mrp.production", "read", [[order.id], ["qty_producing"]])) as {
    qty_producing: number;
  }[];
  expect(still?.qty_producing).toBeCloseTo(order.qty_producing + 7, 6);
  expect(errors).toEqual([]);
});
