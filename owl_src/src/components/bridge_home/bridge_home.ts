import { Component, onWillStart, useState } from "@odoo/owl";
import { useScreen } from "../../shared/use_screen.ts";
import { registry, standardActionServiceProps } from "../../shared/web.ts";

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
  static override template = "shopfloor_bridge.BridgeHome";
  static override props = { ...standardActionServiceProps };

  declare state: { version: string };

  override setup(): void {
    const { orm } = useScreen();
    this.state = useState({ version: "" });
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
