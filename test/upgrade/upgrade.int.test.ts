// Upgrading a database of the previous release (18.0.0.1.0, before connections
// named their integration users) to this one, on real Odoo 18: the stored
// passwords move to the write-only columns and reach the sidecar unchanged,
// existing events get their connection's key scope, and the unique key is the
// scoped one. The previous release's module comes from this repository's history.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  dropDatabase,
  duplicateDatabase,
  ensureBaseTemplate,
  odooAddonsDirs,
  odooTree,
  PYTHON,
  repoRoot,
  runOdooBin,
} from "../../sidecar/devstack/odoo.ts";

/** The module version the manifest declares: what an install or upgrade must end at. */
const MODULE_VERSION = /"version":\s*"([^"]+)"/.exec(
  readFileSync(join(repoRoot, "odoo_addon/shopfloor_bridge/__manifest__.py"), "utf8"),
)?.[1] as string;

/** The last commit of release 18.0.0.1.0. */
const PREVIOUS_RELEASE = "667b1ef";

function odooShell(db: string, addonsPath: string, script: string): string {
  const tree = odooTree();
  const run = spawnSync(
    PYTHON,
    [tree.odooBin, "shell", "-d", db, `--addons-path=${addonsPath}`, "--log-level=warn", "--http-port=0"],
    { cwd: tree.src, input: script, encoding: "utf8", timeout: 300_000 },
  );
  if (run.status !== 0) throw new Error(`odoo shell failed (${run.status}): ${run.stderr.slice(-2000)}`);
  return run.stdout;
}

describe("module upgrade from the previous release", () => {
  const db = `sfb_upgrade_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "sfb-upgrade-"));
  afterAll(async () => {
    await dropDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the stored passwords, scopes the existing event keys and builds the scoped constraint", async () => {
    const tree = odooTree();
    let archive: Buffer;
    try {
      archive = execFileSync("git", ["-C", repoRoot, "archive", PREVIOUS_RELEASE, "odoo_addon"], { stdio: "pipe" });
    } catch (err) {
      throw new Error(
        `the previous release's module (commit ${PREVIOUS_RELEASE}) is not in this clone's history: ` +
          `run \`git fetch --unshallow\` (a shallow clone cannot test the upgrade). ${(err as Error).message}`,
      );
    }
    execFileSync("tar", ["-x", "-C", dir], { input: archive });
    const oldPath = [...odooAddonsDirs(tree.src), join(dir, "odoo_addon")].join(",");
    await duplicateDatabase(await ensureBaseTemplate(), db);
    const logs = join(repoRoot, "artifacts/logs");
    const install = await runOdooBin(
      { ...tree, addonsPath: oldPath },
      ["-d", db, "-i", "shopfloor_bridge", "--stop-after-init", "--without-demo=all", "--http-port=0"],
      join(logs, `${db}-install.log`),
    );
    expect(install.code).toBe(0);
    const seeded = odooShell(
      db,
      oldPath,
      `
c = env["shopfloor.connection"].create({"code": "old", "name": "Old", "mqtt_password": "old-mqtt-pw", "kind": "mqtt"})
env["shopfloor.connection"].create({"code": "ua", "name": "UA", "kind": "opcua", "opcua_password": "old-ua-pw"})
r = env["shopfloor.event"].ingest([{"specversion": "1.0", "id": "e1", "source": "s1", "type": "bogus.type",
    "time": "2026-11-23T08:00:00Z", "connection": "old", "data": {}}])
env.cr.commit()
print("SEEDED", r[0]["status"])
`,
    );
    expect(seeded).toContain("SEEDED rejected");
    const upgrade = await runOdooBin(
      tree,
      ["-d", db, "-u", "shopfloor_bridge", "--stop-after-init", "--http-port=0"],
      join(logs, `${db}-upgrade.log`),
    );
    expect(upgrade.code).toBe(0);
    expect(upgrade.log).not.toMatch(/ (ERROR|CRITICAL) /);
    const checked = odooShell(
      db,
      tree.addonsPath,
      `
import json
old = env["shopfloor.connection"].search([("code", "=", "old")])
ua = env["shopfloor.connection"].search([("code", "=", "ua")])
event = env["shopfloor.event"].search([("event_uid", "=", "e1")])
env.cr.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'shopfloor_event_source_uid_uniq'")
constraint = env.cr.fetchone()[0]
env.cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'shopfloor_connection' AND column_name IN ('mqtt_password', 'opcua_password')")
print("RESULT " + json.dumps({
    "version": env["ir.module.module"].search([("name", "=", "shopfloor_bridge")]).latest_version,
    "mqtt": old._sidecar_config()["mqtt"]["password"],
    "opcua": ua._sidecar_config()["opcua"]["password"],
    "read_back": old.mqtt_password,
    "scope_is_connection": event.key_scope == old.id,
    "constraint": constraint,
    "clear_columns": [row[0] for row in env.cr.fetchall()],
}))
`,
    );

    const line = checked.split("\n").find((l) => l.startsWith("RESULT ")) ?? "";
    expect(JSON.parse(line.slice("RESULT ".length))).toEqual({
      version: MODULE_VERSION,
      mqtt: "old-mqtt-pw",
      opcua: "old-ua-pw",
      read_back: false,
      scope_is_connection: true,
      constraint: "UNIQUE (key_scope, source, event_uid)",
      clear_columns: [],
    });
  }, 600_000);
});
