// A message-queue connection made in the connection form of a real Odoo 18:
// the Message queue group shows for Kafka (MQTT's hides), a wrong topic name
// is refused with a message naming it, and the saved connection holds what
// was typed (the password write-only).
import { expect, test } from "@playwright/test";
import { login, odooUrl, rpc, shot } from "./support.ts";

test("connection form: a Kafka connection is configured, checked and saved", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const code = `kafka-${Date.now()}`;
  await login(page, "admin", "admin");
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/new`);
  await page.locator('div[name="name"] input').fill("Plant 1 Kafka");
  await page.locator('div[name="code"] input').fill(code);
  await page.locator('div[name="kind"] select').selectOption({ label: "Kafka" });
  const queue = page.locator(".o_inner_group:has(div[name='backbone_url'])");
  await expect(queue).toBeVisible();
  await expect(page.locator('div[name="mqtt_url"]')).toHaveCount(0);
  await expect(page.locator('div[name="backbone_sasl_mechanism"]')).toBeVisible();
  await page.locator('div[name="backbone_url"] input').fill("kafka1.plant:9092, kafka2.plant:9092");
  await page.locator('div[name="backbone_names"] textarea').fill("orders/line1");
  await page.locator('div[name="backbone_group"] input').fill("sfb-plant1");
  await page.locator('div[name="backbone_password"] input').fill("kafka-secret");
  await page.locator(".o_form_button_save").click();
  const dialog = page.locator(".modal-dialog");
  await expect(dialog).toContainText("a topic name holds only letters a-z and A-Z, digits, '.', '_' and '-'");
  await expect(dialog).toContainText(`Connection ${code} (Kafka): Queues / topics / streams`);
  await page.screenshot({ path: shot("connection_kafka_refused"), fullPage: true });
  await dialog
    .getByRole("button", { name: /Close|Ok/ })
    .first()
    .click();
  await page.locator('div[name="backbone_names"] textarea').fill("shopfloor.line1\nshopfloor.line2");
  await page.locator('div[name="backbone_password"] input').fill("kafka-secret");
  await page.locator(".o_form_button_save").click();
  await page.waitForURL(/\/odoo\/action-[^/]+\/\d+$/);
  await page.screenshot({ path: shot("connection_kafka"), fullPage: true });
  await page.locator(".o_notebook_headers a", { hasText: "Security" }).click();
  await expect(page.locator('div[name="secrets_set"]')).toContainText("Queue password");
  const [saved] = (await rpc().execute("shopfloor.connection", "search_read", [
    [["code", "=", code]],
    ["kind", "backbone_url", "backbone_names", "backbone_group", "backbone_password", "delivery_partitions"],
  ])) as Record<string, unknown>[];
  expect(saved).toMatchObject({
    kind: "kafka",
    backbone_url: "kafka1.plant:9092, kafka2.plant:9092",
    backbone_names: "shopfloor.line1\nshopfloor.line2",
    backbone_group: "sfb-plant1",
    backbone_password: false,
    delivery_partitions: 2,
  });
  expect(errors).toEqual([]);
});
