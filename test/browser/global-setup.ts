// One real Odoo 18 (template with the module and demo data) for the browser tier.
import { existsSync } from "node:fs";
import { CHROMIUM_PATH } from "../../sidecar/devstack/chromium.ts";
import { startOdoo } from "../../sidecar/devstack/odoo.ts";

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing. Fix: apt-get install -y chromium`);
  const odoo = await startOdoo({ db: `sfb_browser_${process.pid}`, log: (m) => console.log(m) });
  process.env.ODOO_URL = odoo.url;
  process.env.ODOO_DB = odoo.db;
  return () => odoo.destroy();
}
