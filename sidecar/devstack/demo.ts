// `npm run demo`: Odoo 18 with the module and its demo plant on a fresh
// database, printed URL and login; Ctrl-C stops everything cleanly.
import { parseArgs } from "node:util";
import { DevStackError, type OdooServer, startOdoo } from "./odoo.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.DEMO_PORT ?? "8069" },
    db: { type: "string", default: process.env.DEMO_DB ?? "shopfloor_demo" },
  },
});

const log = (msg: string) => console.log(`[demo] ${msg}`);
let odoo: OdooServer | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping…");
    await odoo?.stop();
    log("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  log(`starting Odoo 18 with shopfloor_bridge on a fresh database "${values.db}"…`);
  odoo = await startOdoo({ db: values.db, port: Number(values.port), log });
  console.log("");
  console.log(`  Odoo:   ${odoo.url}/odoo/shopfloor-bridge`);
  console.log(`  Login:  ${odoo.login} / ${odoo.password}`);
  console.log(`  Logs:   ${odoo.logFile}`);
  console.log("");
  log("running — press Ctrl-C to stop");
} catch (err) {
  console.error(err instanceof DevStackError ? err.message : (err as Error).stack);
  await shutdown(1);
}
