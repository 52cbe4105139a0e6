// An alert seen by a person, against a real Odoo 18: a connection's sidecar
// stops sending heartbeats, "Check now" on the connection's Alerts tab opens
// one alert (listed under Shop Floor → Alerts and counted on the dashboard
// tile), and the next heartbeat resolves it.
import { expect, test } from "@playwright/test";
import { login, odooUrl, rpc, shot } from "./support.ts";

test("a silent sidecar opens an alert, visible in the list, the form and the dashboard; a heartbeat resolves it", async ({
  page,
}) => {
  const admin = rpc();
  const code = `alert-ui-${process.pid}`;
  const [sidecarUser] = (await admin.execute("res.users", "search", [[["login", "=", "sidecar@plant1"]]])) as number[];
  const connectionId = (await admin.execute("shopfloor.connection", "create", [
    {
      code,
      name: "Alert demo line",
      kind: "mqtt",
      mqtt_url: "mqtt://127.0.0.1:1883",
      topic_filters: `${code}/#`,
      integration_user_ids: [[6, 0, [sidecarUser]]],
    },
  ])) as number;
  const rules = (await admin.execute("shopfloor.alert.rule", "search_read", [[["connection_id", "=", connectionId]]], {
    fields: ["kind"],
  })) as { id: number; kind: string }[];
  await admin.execute("shopfloor.alert.rule", "write", [
    rules.filter((r) => r.kind !== "heartbeat_age").map((r) => r.id),
    { active: false },
  ]);
  await admin.execute("shopfloor.alert.rule", "write", [
    rules.filter((r) => r.kind === "heartbeat_age").map((r) => r.id),
    { threshold: 3 },
  ]);
  const sidecar = rpc("sidecar@plant1", "sidecar");
  await sidecar.heartbeat(code, { spool_depth: 0 });
  // The sidecar falls silent.
  await new Promise((r) => setTimeout(r, 4_500));

  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/${connectionId}`);
  await page.getByRole("tab", { name: "Alerts" }).click();
  await page.getByRole("button", { name: "Check now" }).click();
  const heartbeatRule = page
    .locator(".o_field_widget[name=alert_rule_ids] .o_data_row")
    .filter({ hasText: "Heartbeat older than" });
  await expect(heartbeatRule.locator("td[name=state]")).toContainText("Alert");

  await page.goto(`${odooUrl()}/odoo/shopfloor-alerts`);
  const row = page.locator(".o_data_row").filter({ hasText: code });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(`${code}: Heartbeat older than 3 s`);
  await expect(row).toContainText(/last heartbeat \d+ s ago/);
  await expect(row).toContainText("Open");
  await row.click();
  await expect(page.locator(".o_form_view .o_field_widget[name=title]")).toContainText("Heartbeat older than 3 s");
  await expect(page.locator(".o-mail-Chatter")).toContainText("Open the alert in Odoo");
  await page.screenshot({ path: shot("alert"), fullPage: true });

  await page.goto(`${odooUrl()}/odoo/shopfloor-dashboard`);
  const tile = page.locator(`.o_sfb_tile[data-connection="${code}"]`);
  await expect(tile.locator(".o_sfb_alerts_count")).toHaveText("1");
  await expect(tile.locator(".o_sfb_alerts_link")).toHaveClass(/btn-danger/);

  // The sidecar is back: its heartbeat resolves the alert.
  await sidecar.heartbeat(code, { spool_depth: 0 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-alerts`);
  await expect(page.locator(".o_data_row").filter({ hasText: code })).toHaveCount(0);
  await page.locator(".o_searchview_facet .o_facet_remove").first().click();
  const resolved = page.locator(".o_data_row").filter({ hasText: code });
  await expect(resolved).toHaveCount(1);
  await expect(resolved).toContainText("Resolved");
  await expect(resolved).toContainText("last heartbeat 0 s ago");
  await page.screenshot({ path: shot("alert_resolved"), fullPage: true });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dashboard`);
  await expect(page.locator(`.o_sfb_tile[data-connection="${code}"] .o_sfb_alerts_count`)).toHaveText("0");
});
