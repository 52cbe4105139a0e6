// A Modbus TCP connection and its tag rules made in the forms of a real Odoo
// 18: the PLC group shows for Modbus, a unit id out of range and an address
// the Modbus driver would not parse are refused with their reasons, a state
// rule gets its value map as rows and a counter rule its scale, offset and
// window as fields — and the connection's sidecar_config carries exactly
// those params to the sidecar.
import { expect, type Page, test } from "@playwright/test";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";
import { login, odooDb, odooUrl, refusedWith, rpc, shot } from "./support.ts";

async function save(page: Page): Promise<void> {
  await page.locator(".o_form_button_save").click();
  await page.waitForURL(/\/odoo\/action-[^/]+\/\d+$/);
}

async function newRule(page: Page, code: string, kind: string, address: string): Promise<void> {
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/new`);
  await page.locator('div[name="connection_id"] input').fill(code);
  // The connection's name (its display name) holds the code; "Create …" does not start with "Line 4".
  await page
    .locator(".o-autocomplete--dropdown-item", { hasText: `Line 4 PLC ${code}` })
    .first()
    .click();
  // The rule's protocol follows the connection's kind.
  await expect(page.locator('div[name="protocol"] select')).toHaveValue('"modbus"');
  await page.locator('div[name="kind"] select').selectOption({ label: kind });
  await page.locator('div[name="address"] input').fill(address);
  await page.locator('div[name="source"] input').fill("plant1/line4/press-04");
}

async function addValueMapRow(page: Page, value: string, state: string, reason?: string): Promise<void> {
  const list = page.locator('div[name="value_map_ids"]');
  const before = await list.locator(".o_data_row").count();
  await list.locator(".o_field_x2many_list_row_add a").first().click();
  // The new row, once it is the one being edited (the previous one may still be for a moment).
  const row = list.locator(".o_data_row").nth(before);
  await expect(row).toHaveClass(/o_selected_row/);
  await row.locator('div[name="value"] input').fill(value);
  await row.locator('div[name="state"] select').selectOption({ label: state });
  if (reason) await row.locator('div[name="reason_code"] input').fill(reason);
}

test("PLC connection and rule forms: a Modbus connection, a state and a counter rule, typed", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  const code = `modbus-${Date.now()}`;
  await login(page, "admin", "admin");

  // The connection.
  await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_connection_action/new`);
  await page.locator('div[name="name"] input').fill(`Line 4 PLC ${code}`);
  await page.locator('div[name="code"] input').fill(code);
  await page.locator('div[name="kind"] select').selectOption({ label: "Modbus TCP" });
  await expect(page.locator(".o_inner_group:has(div[name='plc_host'])")).toBeVisible();
  await expect(page.locator('div[name="mqtt_url"]')).toHaveCount(0);
  await expect(page.locator('div[name="plc_rack"]')).toHaveCount(0);
  await expect(page.locator('div[name="plc_port_hint"]')).toContainText("502 (the Modbus TCP default)");
  await page.locator('div[name="plc_host"] input').fill("10.4.0.2");
  await page.locator('div[name="plc_unit_id"] input').fill("300");
  await page.locator('div[name="plc_poll_interval_ms"] input').fill("500");
  await page.locator(".o_form_button_save").click();
  await refusedWith(page, `Connection ${code} (Modbus TCP): Unit id: 300 is not a Modbus unit id (0 to 255)`);
  await page.locator('div[name="plc_unit_id"] input').fill("7");
  await save(page);
  await page.screenshot({ path: shot("plc_connection_modbus"), fullPage: true });

  // A state rule: the value map as rows.
  await newRule(page, code, "State", "hr:7");
  await page.locator(".o_notebook_headers a", { hasText: "Value map" }).click();
  await addValueMapRow(page, "1", "Running");
  await addValueMapRow(page, "2", "Idle");
  await addValueMapRow(page, "3", "Down", "JAM");
  // Out of the row being edited before typing elsewhere: typed while the list still
  // held its row, the address went into the row's value.
  await page.locator('div[name="reason_address"] input').click();
  await expect(page.locator('div[name="value_map_ids"] .o_selected_row')).toHaveCount(0);
  await page.locator('div[name="reason_address"] input').fill("hr8");
  await page.locator(".o_form_button_save").click();
  await refusedWith(page, "write the offset right after the area, without ':' (hr7)");
  await page.locator('div[name="address"] input').fill("hr7");
  await save(page);
  await page.locator(".o_notebook_headers a", { hasText: "JSON" }).click();
  await expect(page.locator('div[name="params_json"]')).toContainText('"3": "down:JAM"');
  await page.screenshot({ path: shot("plc_rule_state"), fullPage: true });

  // A counter rule: scale, offset and a window in seconds.
  await newRule(page, code, "Counter", "hr10:uint32:CDAB");
  await page.locator('div[name="event_type"] input').fill("production.reported");
  await page.locator('div[name="use_scale"] input[type="checkbox"]').check();
  await page.locator('div[name="scale"] input').fill("0.5");
  await page.locator('div[name="use_offset"] input[type="checkbox"]').check();
  await page.locator('div[name="offset"] input').fill("-2");
  await page.locator('div[name="window"] input').fill("30");
  await page.locator('div[name="order_address"] input').fill("hr20:string10");
  await page.locator('div[name="deadband"] input').fill("1");
  await save(page);
  await page.screenshot({ path: shot("plc_rule_counter"), fullPage: true });

  // What the connection's sidecar gets, as its integration user asks for it.
  const admin = rpc();
  const login_ = `plc-sidecar-${Date.now()}`;
  const [group] = (await admin.execute("ir.model.data", "search_read", [
    [
      ["module", "=", "shopfloor_bridge"],
      ["name", "=", "shopfloor_bridge_group_integration"],
    ],
    ["res_id"],
  ])) as { res_id: number }[];
  const userId = (await admin.execute("res.users", "create", [
    { name: "PLC sidecar", login: login_, password: login_, groups_id: [[6, 0, [group?.res_id]]] },
  ])) as number;
  const [connectionId] = (await admin.execute("shopfloor.connection", "search", [[["code", "=", code]]])) as number[];
  await admin.execute("shopfloor.connection", "write", [[connectionId], { integration_user_ids: [[4, userId]] }]);
  const sidecar = new JsonRpcOdooClient({ url: odooUrl(), db: odooDb(), user: login_, apiKey: login_ });
  const config = (await sidecar.execute("shopfloor.connection", "sidecar_config", [code])) as {
    kind: string;
    plc: Record<string, unknown>;
    rules: { kind: string; protocol: string; address: string; event_type: string; params: unknown }[];
  };
  expect(config.kind).toBe("modbus");
  expect(config.plc).toEqual({
    host: "10.4.0.2",
    port: 0,
    unit_id: 7,
    rack: 0,
    slot: 0,
    poll_interval_ms: 500,
    timeout_ms: 2000,
  });
  const rules = config.rules.map(({ kind, protocol, address, event_type, params }) => ({
    kind,
    protocol,
    address,
    event_type,
    params,
  }));
  expect(rules).toEqual([
    {
      kind: "state",
      protocol: "modbus",
      address: "hr7",
      event_type: "",
      params: { value_map: { "1": "running", "2": "idle", "3": "down:JAM" }, reason_address: "hr8" },
    },
    {
      kind: "counter",
      protocol: "modbus",
      address: "hr10:uint32:CDAB",
      event_type: "production.reported",
      params: { scale: 0.5, offset: -2, window_ms: 30000, order_address: "hr20:string10", deadband: 1 },
    },
  ]);
  expect(errors).toEqual([]);
});
