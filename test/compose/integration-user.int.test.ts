// The production profile's init step (odoo_addon/docker/create_integration_user.py,
// run by sfb-init.sh in `odoo shell`) against a real Odoo 18: on a database
// duplicated from the module's template it creates the connection and its
// integration user, and writes an API key that Odoo accepts for RPC as that
// user; a second run keeps a working key, and a dead key is renewed. The
// first run also replaces the admin user's "admin" password, once.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  dropDatabase,
  duplicateDatabase,
  ensureTemplate,
  odooTree,
  PYTHON,
  repoRoot,
  tail,
} from "../../sidecar/devstack/odoo.ts";

const SCRIPT = join(repoRoot, "odoo_addon/docker/create_integration_user.py");
const db = `sfb_compose_init_${process.pid}`;
const code = "compose-prod";
let dir: string;
let envFile: string;

/** `odoo shell -d db` with `input` on stdin, as sfb-init.sh runs it. */
function odooShell(input: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const tree = odooTree();
  const child = spawn(
    PYTHON,
    [tree.odooBin, "shell", `--addons-path=${tree.addonsPath}`, "-d", db, "--no-http", "--log-level=warn"],
    { cwd: tree.src, env: { ...process.env, ...extraEnv }, stdio: ["pipe", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  child.stdin.end(input);
  return new Promise((resolve, reject) =>
    child.on("exit", (c) =>
      c === 0 ? resolve(out) : reject(new Error(`odoo shell exited with ${c}:\n${tail(out, 40)}`)),
    ),
  );
}

const runInit = (adminPassword = "first-admin-secret") =>
  odooShell(readFileSync(SCRIPT, "utf8"), {
    SFB_ADMIN_USER_PASSWORD: adminPassword,
    SHOPFLOOR_CONNECTION: code,
    SFB_SIDECAR_ENV_FILE: envFile,
    SFB_MQTT_URL: "mqtt://mosquitto:1883",
  });
const readEnvFile = () =>
  Object.fromEntries(
    readFileSync(envFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2) as [string, string]),
  );

/** What Odoo says of the key: the uid it logs in as, that user's login and groups, the connection's users. */
async function check(key: string) {
  const out = await odooShell(
    [
      "import json",
      "env.cr.execute('SELECT password FROM res_users WHERE id = %s', [env.ref('base.user_admin').id])",
      "_admin_hash = env.cr.fetchone()[0]",
      "_admin_ok = lambda p: env['res.users']._crypt_context().verify(p, _admin_hash)",
      `uid = env["res.users.apikeys"]._check_credentials(scope="rpc", key=${JSON.stringify(key)})`,
      "user = env['res.users'].browse(uid) if uid else env['res.users']",
      `conn = env["shopfloor.connection"].search([("code", "=", ${JSON.stringify(code)})])`,
      "print('RESULT=' + json.dumps({'uid': uid or None, 'login': user.login or None,",
      "  'groups': sorted(user.groups_id.get_external_id().values()),",
      "  'connection_users': conn.integration_user_ids.mapped('login'), 'mqtt_url': conn.mqtt_url,",
      "  'keys': env['res.users.apikeys'].sudo().search_count([('user_id', '=', uid or 0)]),",
      "  'admin': [p for p in ('admin', 'first-admin-secret', 'second-admin-secret') if _admin_ok(p)]}))",
    ].join("\n"),
  );
  const line = /^RESULT=(.*)$/m.exec(out)?.[1];
  if (!line) throw new Error(`no RESULT line:\n${tail(out, 30)}`);
  return JSON.parse(line) as {
    uid: number | null;
    login: string | null;
    groups: string[];
    connection_users: string[];
    mqtt_url: string | null;
    keys: number;
    admin: string[];
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sfb-compose-init-"));
  envFile = join(dir, "sidecar.env");
  await duplicateDatabase(await ensureTemplate(), db);
}, 600_000);
afterAll(async () => {
  await dropDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

it("creates the integration user on its connection and writes a key Odoo accepts as that user", async () => {
  const out = await runInit();
  expect(out).toContain(`connection ${code} created`);
  const file = readEnvFile();
  expect(Object.keys(file).sort()).toEqual(["ODOO_API_KEY", "ODOO_USER", "SHOPFLOOR_CONNECTION"]);
  expect(file.ODOO_USER).toBe(`sidecar-${code}`);
  expect(file.SHOPFLOOR_CONNECTION).toBe(code);
  expect(statSync(envFile).mode & 0o777).toBe(0o600);

  const got = await check(file.ODOO_API_KEY ?? "");
  expect(got.uid).not.toBeNull();
  expect(got.login).toBe(`sidecar-${code}`);
  // Only the integration group (and what Odoo gives every internal user implicitly, none here).
  expect(got.groups).toContain("shopfloor_bridge.shopfloor_bridge_group_integration");
  expect(got.groups.filter((g) => g.startsWith("shopfloor_bridge."))).toEqual([
    "shopfloor_bridge.shopfloor_bridge_group_integration",
  ]);
  expect(got.groups).not.toContain("base.group_system");
  expect(got.groups).not.toContain("mrp.group_mrp_user");
  expect(got.connection_users).toEqual([`sidecar-${code}`]);
  expect(got.mqtt_url).toBe("mqtt://mosquitto:1883");
  expect(got.keys).toBe(1);
  expect(got.admin, "the admin user's password").toEqual(["first-admin-secret"]);
}, 300_000);

it("keeps a working key on the next start, and renews a dead one", async () => {
  const before = readEnvFile();
  // Set once: a later run (another secret, or a password changed in Odoo) leaves it.
  expect(await runInit("second-admin-secret")).toContain("holds a working key");
  expect((await check(before.ODOO_API_KEY ?? "")).admin).toEqual(["first-admin-secret"]);
  expect(readEnvFile()).toEqual(before);
  expect((await check(before.ODOO_API_KEY ?? "")).keys).toBe(1);

  writeFileSync(envFile, `ODOO_USER=${before.ODOO_USER}\nODOO_API_KEY=not-a-key\nSHOPFLOOR_CONNECTION=${code}\n`);
  expect(await runInit()).toContain("API key for");
  const after = readEnvFile();
  expect(after.ODOO_API_KEY).not.toBe(before.ODOO_API_KEY);
  const got = await check(after.ODOO_API_KEY ?? "");
  expect(got.login).toBe(`sidecar-${code}`);
  expect(got.connection_users).toEqual([`sidecar-${code}`]);
  // The old key stays until it expires or is revoked (the wizard's rule), so two now.
  expect(got.keys).toBe(2);
}, 300_000);
