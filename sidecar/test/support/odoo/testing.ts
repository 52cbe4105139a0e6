// Test fixtures against a real Odoo (integration/e2e tiers and benchmarks):
// an integration user and a connection made over JSON-RPC as admin, the way
// an administrator sets a sidecar up.
import { existsSync, readFileSync } from "node:fs";
import type { OdooServer } from "../../../devstack/odoo.ts";
import { addonDir } from "../../../devstack/odoo.ts";
import type { BootstrapConfig } from "../../../src/config.ts";
import { JsonRpcOdooClient } from "../../../src/odoo/jsonrpc-client.ts";

/** True once the module serves the sidecar API (ingest, sidecar_config, heartbeat). */
export function moduleHasSidecarApi(): boolean {
  const event = `${addonDir}/shopfloor_bridge/models/shopfloor_event.py`;
  const connection = `${addonDir}/shopfloor_bridge/models/shopfloor_connection.py`;
  if (!existsSync(event) || !existsSync(connection)) return false;
  const e = readFileSync(event, "utf8");
  const c = readFileSync(connection, "utf8");
  return /def ingest\(/.test(e) && /def sidecar_config\(/.test(c) && /def heartbeat\(/.test(c);
}

export interface OdooFixture {
  admin: JsonRpcOdooClient;
  /** Login and password of the integration user (a password works where an API key does). */
  user: string;
  password: string;
  code: string;
  connectionId: number;
  client(): JsonRpcOdooClient;
  /** Rows of shopfloor.event for this connection. */
  events(fields?: string[], domain?: unknown[]): Promise<Record<string, unknown>[]>;
  countEvents(domain?: unknown[]): Promise<number>;
  /** The sidecar's bootstrap settings for this connection as its integration user (ops server off). */
  boot(spoolDir: string): BootstrapConfig;
}

export async function makeOdooFixture(
  odoo: OdooServer,
  opts: {
    code: string;
    mqttUrl?: string;
    topics?: string[];
    protocolVersion?: 4 | 5;
    batchSize?: number;
    batchWaitMs?: number;
  },
): Promise<OdooFixture> {
  const admin = new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user: odoo.login, apiKey: odoo.password });
  const [groupId] = (await admin.execute(
    "ir.model.data",
    "search_read",
    [
      [
        ["module", "=", "shopfloor_bridge"],
        ["name", "=", "shopfloor_bridge_group_integration"],
      ],
    ],
    { fields: ["res_id"] },
  )) as { res_id: number }[] as unknown as [{ res_id: number }];
  const user = `sidecar_${opts.code}`;
  const password = `pw-${opts.code}-${Math.random().toString(36).slice(2)}`;
  const userId = (await admin.execute("res.users", "create", [
    { name: `Sidecar ${opts.code}`, login: user, password, groups_id: [[6, 0, [groupId.res_id]]] },
  ])) as number;
  const connectionId = (await admin.execute("shopfloor.connection", "create", [
    {
      code: opts.code,
      name: `Test ${opts.code}`,
      kind: "mqtt",
      mqtt_url: opts.mqttUrl ?? "mqtt://127.0.0.1:1883",
      topic_filters: (opts.topics ?? ["shopfloor/#"]).join("\n"),
      client_id: `sfb-${opts.code}`,
      mqtt_protocol_version: String(opts.protocolVersion ?? 5),
      batch_size: opts.batchSize ?? 500,
      batch_wait_ms: opts.batchWaitMs ?? 100,
      // Only this user may act for the connection (its sidecar's account).
      integration_user_ids: [[6, 0, [userId]]],
    },
  ])) as number;
  const client = () => new JsonRpcOdooClient({ url: odoo.url, db: odoo.db, user, apiKey: password });
  const events = async (fields = ["event_uid", "source", "state", "error_message"], domain: unknown[] = []) =>
    (await admin.execute("shopfloor.event", "search_read", [[["connection_id", "=", connectionId], ...domain]], {
      fields,
      context: { active_test: false },
    })) as Record<string, unknown>[];
  const countEvents = async (domain: unknown[] = []) =>
    (await admin.execute("shopfloor.event", "search_count", [[...domain]], {
      context: { active_test: false },
    })) as number;
  const boot = (spoolDir: string): BootstrapConfig => ({
    odooUrl: odoo.url,
    odooDb: odoo.db,
    odooUser: user,
    odooApiKey: password,
    odooApi: "jsonrpc",
    connection: opts.code,
    spoolDir,
    metricsPort: 0,
  });
  return { admin, user, password, code: opts.code, connectionId, client, events, countEvents, boot };
}
