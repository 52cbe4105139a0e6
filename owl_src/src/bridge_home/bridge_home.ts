import { Component, onWillStart, useState, xml } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

interface ModuleRow {
  latest_version: string | false;
  state: string;
}

/**
 * Landing screen of Shop Floor Bridge. It reads the installed module's
 * version through the `orm` service, which proves the whole chain:
 * TypeScript -> esbuild bundle -> Odoo asset pipeline -> OWL -> RPC.
 */
export class BridgeHome extends Component {
  static override template = xml`
    <div class="o_shopfloor_bridge_home p-4" role="main">
      <h1 class="h3">Shop Floor Bridge</h1>
      <p class="text-muted" t-esc="state.subtitle"/>
      <p t-if="state.version" class="o_shopfloor_bridge_version">
        <span t-esc="state.versionLabel"/> <strong t-esc="state.version"/>
      </p>
    </div>`;
  static override props = ["*"];

  declare state: { subtitle: string; version: string; versionLabel: string };

  override setup(): void {
    const orm = useService("orm");
    this.state = useState({
      subtitle: _t("Production events from the floor, planning back to it."),
      version: "",
      versionLabel: _t("Module version"),
    });
    onWillStart(async () => {
      const rows = await orm.searchRead<ModuleRow>(
        "ir.module.module",
        [["name", "=", "shopfloor_bridge"]],
        ["latest_version", "state"],
      );
      this.state.version = rows[0]?.latest_version || "";
    });
  }
}

registry.category("actions").add("shopfloor_bridge.home", BridgeHome);
