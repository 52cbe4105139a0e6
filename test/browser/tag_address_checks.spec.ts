// A tag rule's address checked in the rule form of a real Odoo 18: an OPC UA
// address without its ns=…;s= is refused with why and how to write it, a
// Sparkplug metric of another group than the host's is refused naming both
// groups, and an OPC UA rule left on an MQTT connection is saved but the
// rule's and the connection's forms say it is never read.
import { expect, type Page, test } from "@playwright/test";
import { login, odooUrl, refusedWith, rpc, shot } from "./support.ts";

async function newRule(page: Page, connectionName: string, address: string): Promise<void> {
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/new`);
  await page.locator('div[name="connection_id"] input').fill(connectionName);
  await page.locator(".o-autocomplete--dropdown-item", { hasText: connectionName }).first().click();
  await page.locator('div[name="address"] input').fill(address);
  await page.locator('div[name="source"] input').fill("plant1/line5/press-05");
  await page.locator('div[name="event_type"] input').fill("production.reported");
}

test("tag rule addresses: refused with their reason, and a rule its connection never reads is said", async ({
  page,
}) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const stamp = Date.now();
  const admin = rpc();
  const ua = `Line 5 UA ${stamp}`;
  const spb = `Line 5 SpB ${stamp}`;
  const mqtt = `Line 5 MQTT ${stamp}`;
  await admin.execute("shopfloor.connection", "create", [
    [
      { code: `ua-${stamp}`, name: ua, kind: "opcua", opcua_endpoint: "opc.tcp://127.0.0.1:4840" },
      {
        code: `spb-${stamp}`,
        name: spb,
        kind: "sparkplug",
        mqtt_url: "mqtt://127.0.0.1",
        sparkplug_group_id: "Plant5",
      },
      { code: `mq-${stamp}`, name: mqtt, kind: "mqtt", mqtt_url: "mqtt://127.0.0.1" },
    ],
  ]);
  await login(page, "admin", "admin");

  // OPC UA: the tag path without its ns=2;s=, then as a node id.
  await newRule(page, ua, "Line5/Press05/Good");
  await expect(page.locator('div[name="protocol"] select')).toHaveValue('"opcua"');
  await page.locator(".o_form_button_save").click();
  await refusedWith(page, "'Line5/Press05/Good' is not an OPC UA node id: write ns=<index>;s=<name>");
  await page.locator('div[name="address"] input').fill("ns=2;s=Line5/Press05/Good");
  await page.locator(".o_form_button_save").click();
  await page.waitForURL(/\/odoo\/action-[^/]+\/\d+$/);
  await expect(page.locator(".o_sfb_rule_never_read")).toHaveCount(0);

  // Sparkplug: a metric of another group than the host's.
  await newRule(page, spb, "Plant9/Edge5/Press05/Good");
  await expect(page.locator('div[name="protocol"] select')).toHaveValue('"sparkplug"');
  await page.locator(".o_form_button_save").click();
  await refusedWith(page, "is a metric of group 'Plant9', and the connection's host reads group 'Plant5' only");
  await page.screenshot({ path: shot("tag_address_refused"), fullPage: true });

  // An OPC UA rule on the MQTT connection (as an import or an RPC may leave it): saved, and said.
  const [mqttId] = (await admin.execute("shopfloor.connection", "search", [
    [["code", "=", `mq-${stamp}`]],
  ])) as number[];
  const ruleId = (await admin.execute("shopfloor.mapping.rule", "create", [
    {
      connection_id: mqttId,
      protocol: "opcua",
      kind: "counter",
      address: "ns=2;s=Line5/Press05/Scrap",
      source: "plant1/line5/press-05",
      event_type: "scrap.reported",
    },
  ])) as number;
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/${ruleId}`);
  await expect(page.locator(".o_sfb_rule_never_read")).toContainText(
    `Connection mq-${stamp} is MQTT (JSON CloudEvents): its sidecar reads no OPC UA tag, so this rule is never read.`,
  );
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/${mqttId}`);
  await expect(page.locator(".o_sfb_rules_never_read")).toContainText(
    "1 tag rule(s) are never read: this MQTT (JSON CloudEvents) connection's sidecar reads no tag of their " +
      "protocol (ns=2;s=Line5/Press05/Scrap)",
  );
  await page.screenshot({ path: shot("tag_rule_never_read"), fullPage: true });
  expect(errors).toEqual([]);
});
