// "Read once" on a PLC tag rule: a Shop Floor manager reads the rule's
// address from pymodbus's Modbus TCP server (an implementation nobody here
// wrote) through a running sidecar (in-process), and sees the value and type;
// an address the PLC refuses and one that does not parse show the driver's
// error. Runs once the module has the PLC connection kinds (the PLC part of
// the module); skipped, saying so, where it has not.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { startModbusPeer } from "../../sidecar/devstack/modbus-peer.ts";
import { addonDir } from "../../sidecar/devstack/odoo.ts";
import { Sidecar } from "../../sidecar/src/main.ts";
import { createLogger } from "../../sidecar/src/ops/log.ts";
import { login, odooDb, odooUrl, rpc, shot } from "./support.ts";

/** True once the module's connections may be of kind modbus. */
function moduleHasPlcKinds(): boolean {
  const file = join(addonDir, "shopfloor_bridge/models/shopfloor_connection.py");
  return existsSync(file) && /\("modbus", "Modbus TCP"\)/.test(readFileSync(file, "utf8"));
}

test("read once: a Modbus rule's address read through the sidecar, and the PLC's and the driver's errors", async ({
  page,
}) => {
  test.skip(!moduleHasPlcKinds(), "the module has no PLC connection kinds yet");
  test.setTimeout(180_000);
  const admin = rpc();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "sfb-browser-read-once-"));
  const peer = await startModbusPeer({ size: 200, holes: ["hr:150-159"] });
  const made: { model: string; id: number }[] = [];
  let sidecar: Sidecar | undefined;
  try {
    await peer.put("hr", 10, "uint16", "ABCD", "1234");
    const groups = async (xmlIds: string[]) =>
      Promise.all(
        xmlIds.map(async (xmlId) => {
          const [module, name] = xmlId.split(".");
          const [row] = (await admin.execute("ir.model.data", "search_read", [
            [
              ["module", "=", module],
              ["name", "=", name],
            ],
            ["res_id"],
          ])) as { res_id: number }[];
          if (!row) throw new Error(`no record ${xmlId}`);
          return row.res_id;
        }),
      );
    const [integration, userGroup, floorManager] = await groups([
      "shopfloor_bridge.shopfloor_bridge_group_integration",
      "base.group_user",
      "shopfloor_bridge.shopfloor_bridge_group_manager",
    ]);
    const sidecarLogin = `read-once-sidecar-${tag}`;
    const sidecarUser = (await admin.execute("res.users", "create", [
      { name: `Sidecar ${tag}`, login: sidecarLogin, password: sidecarLogin, groups_id: [[6, 0, [integration]]] },
    ])) as number;
    made.push({ model: "res.users", id: sidecarUser });
    const managerLogin = `read-once-admin-${tag}`;
    made.push({
      model: "res.users",
      id: (await admin.execute("res.users", "create", [
        {
          name: "Robin Admin",
          login: managerLogin,
          password: managerLogin,
          groups_id: [[6, 0, [userGroup, floorManager]]],
        },
      ])) as number,
    });
    const code = `read-once-${tag}`;
    const connectionId = (await admin.execute("shopfloor.connection", "create", [
      {
        code,
        name: `Press PLC (${tag})`,
        kind: "modbus",
        plc_host: "127.0.0.1",
        plc_port: peer.port,
        plc_unit_id: 1,
        integration_user_ids: [[6, 0, [sidecarUser]]],
      },
    ])) as number;
    made.push({ model: "shopfloor.connection", id: connectionId });
    const ruleId = (await admin.execute("shopfloor.mapping.rule", "create", [
      {
        connection_id: connectionId,
        kind: "counter",
        protocol: "modbus",
        address: "hr10",
        source: `plant1/${tag}/press`,
        event_type: "production.reported",
      },
    ])) as number;
    made.push({ model: "shopfloor.mapping.rule", id: ruleId });
    sidecar = await Sidecar.start({
      boot: {
        odooUrl: odooUrl(),
        odooDb: odooDb(),
        odooUser: sidecarLogin,
        odooApiKey: sidecarLogin,
        odooApi: "jsonrpc",
        connection: code,
        spoolDir: join(dir, "spool"),
        metricsPort: 0,
      },
      log: createLogger("warn"),
      heartbeatMs: 1_000,
    });

    await login(page, managerLogin, managerLogin);
    await page.goto(`${odooUrl()}/odoo/action-shopfloor_bridge.shopfloor_mapping_rule_action/${ruleId}`);
    await expect(page.locator(".o_sfb_browse")).toHaveCount(0);
    await page.locator(".o_sfb_read_once").click();
    await expect(page.locator(".o_sfb_read_result")).toHaveText("hr10 = 1234 (uint16)", { timeout: 15_000 });
    await page.screenshot({ path: shot("read_once_value"), fullPage: true });
    // The address as typed in the form, before saving: one the PLC refuses, one that does not parse.
    const address = page.locator('div[name="address"] input');
    await address.fill("hr155");
    await page.locator(".o_sfb_read_once").click();
    await expect(page.locator(".o_sfb_probe_error")).toContainText("illegal data address", { timeout: 15_000 });
    await expect(page.locator(".o_sfb_read_result")).toHaveCount(0);
    await address.fill("hr10:float99");
    await page.locator(".o_sfb_read_once").click();
    await expect(page.locator(".o_sfb_probe_error")).toContainText('hr10:float99: unknown type "float99"', {
      timeout: 15_000,
    });
    await page.screenshot({ path: shot("read_once_error"), fullPage: true });
  } finally {
    await sidecar?.stop().catch(() => {});
    await peer.kill().catch(() => {});
    for (const { model, id } of made.reverse()) {
      const remove =
        model === "res.users"
          ? admin.execute(model, "write", [[id], { active: false }])
          : admin.execute(model, "unlink", [[id]]);
      await remove.catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
