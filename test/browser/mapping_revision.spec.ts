// Change control in a real Odoo 18: a source mapping changed in its form is
// recorded as a revision whose diff names the old and the new work center;
// comparing it with the revision before and restoring that one writes the old
// work center back and records the restore as a new revision.
import { expect, test } from "@playwright/test";
import { login, odooUrl, rpc, shot } from "./support.ts";

type Revision = { id: number; sequence: number; restored_from_id: [number, string] | false; summary: string };

async function revisions(connectionId: number): Promise<Revision[]> {
  return (await rpc().execute("shopfloor.mapping.revision", "search_read", [
    [["connection_id", "=", connectionId]],
    ["sequence", "restored_from_id", "summary"],
  ])) as Revision[];
}

test("mapping revision: a change shows its diff and is restored", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const admin = rpc();
  const [connection] = (await admin.execute("shopfloor.connection", "search_read", [
    [["code", "=", "plant1-mqtt"]],
    ["id", "revision"],
  ])) as { id: number; revision: number }[];
  if (!connection) throw new Error("the demo connection plant1-mqtt is missing");
  const [pressL1] = (await admin.execute("mrp.workcenter", "search", [[["code", "=", "L1-PR01"]]])) as number[];
  const source = `plant1/line9/revision-${Date.now()}`;
  const rowId = (await admin.execute("shopfloor.source.map", "create", [
    { connection_id: connection.id, source, workcenter_id: pressL1 },
  ])) as number;
  const [before] = await revisions(connection.id);
  if (!before) throw new Error("no revision recorded for the new source row");

  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_source_map_action/${rowId}`);
  const workcenter = page.locator('div[name="workcenter_id"] input');
  await expect(workcenter).toHaveValue("L1 Press 01");
  await workcenter.fill("L2 Press 02");
  await page.locator(".o-autocomplete--dropdown-item", { hasText: "L2 Press 02" }).first().click();
  await page.locator(".o_form_button_save").click();
  await expect(page.locator(".o_form_button_save")).toBeHidden();

  // The connection's revisions: the newest first, its changes old → new.
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/${connection.id}`);
  await page.locator("button.oe_stat_button", { hasText: "Revisions" }).click();
  await page.locator(".o_data_row").first().click();
  const changes = page.locator("div[name='changes_html'] table.o_sfb_diff");
  await expect(changes).toBeVisible();
  const changed = changes.locator("tr.o_sfb_diff_changed", { hasText: source });
  await expect(changed.locator(".o_sfb_diff_old")).toHaveText("L1 Press 01");
  await expect(changed.locator(".o_sfb_diff_new")).toHaveText("L2 Press 02");

  // Compared with the revision before it, then that one restored.
  await page.locator("button[name='action_compare']").click();
  const dialog = page.locator(".modal-dialog").last();
  await expect(dialog.locator("div[name='changed_count']")).toContainText("1");
  const diffRow = dialog.locator("table.o_sfb_diff tr", { hasText: source });
  await expect(diffRow.locator(".o_sfb_diff_old")).toHaveText("L1 Press 01");
  await expect(diffRow.locator(".o_sfb_diff_new")).toHaveText("L2 Press 02");
  await page.screenshot({ path: shot("revision-diff"), fullPage: true });
  await dialog.locator("button[name='action_restore_from']").click();
  await page.locator(".modal-dialog").last().getByRole("button", { name: "Ok" }).click();

  await expect
    .poll(async () => {
      const [row] = (await admin.execute("shopfloor.source.map", "read", [[rowId], ["workcenter_id"]])) as {
        workcenter_id: [number, string];
      }[];
      return row?.workcenter_id[1];
    })
    .toBe("L1 Press 01");
  const [restored] = await revisions(connection.id);
  const restoredFrom = restored?.restored_from_id;
  expect(restoredFrom ? restoredFrom[0] : undefined).toBe(before.id);
  expect(restored?.sequence).toBe(before.sequence + 2);
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/${connection.id}`);
  await expect(page.locator(".o-mail-Message").first()).toContainText("restored revision plant1-mqtt #");
  await expect(page.locator(".o-mail-Message").first()).toContainText("L1 Press 01");
  await page.screenshot({ path: shot("revision-restored"), fullPage: true });

  await admin.execute("shopfloor.source.map", "unlink", [[rowId]]);
  expect(errors).toEqual([]);
});
