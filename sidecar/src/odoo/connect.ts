// The transport a bootstrap config names (ODOO_API): JSON-RPC for Odoo 18, JSON-2 for Odoo 19+.
import type { BootstrapConfig } from "../config.ts";
import type { BaseOdooClient } from "./client.ts";
import { Json2OdooClient } from "./json2-client.ts";
import { JsonRpcOdooClient } from "./jsonrpc-client.ts";

export function createOdooClient(boot: BootstrapConfig, timeoutMs?: number): BaseOdooClient {
  const opts = { url: boot.odooUrl, db: boot.odooDb, user: boot.odooUser, apiKey: boot.odooApiKey, timeoutMs };
  return boot.odooApi === "json2" ? new Json2OdooClient(opts) : new JsonRpcOdooClient(opts);
}
