// The module installs the way Odoo users install packaged addons: the
// odoo-addon-shopfloor_bridge wheel that `npm run package` builds goes into a
// fresh virtual environment next to the Odoo tree, and Odoo installs the module
// from that environment's odoo/addons, not from this repository.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  dropDatabase,
  duplicateDatabase,
  ensureBaseTemplate,
  odooAddonsDirs,
  odooTree,
  PYTHON,
  repoRoot,
  tail,
} from "../../sidecar/devstack/odoo.ts";

/** The module version the manifest declares: what an install or upgrade must end at. */
const MODULE_VERSION = /"version":\s*"([^"]+)"/.exec(
  readFileSync(join(repoRoot, "odoo_addon/shopfloor_bridge/__manifest__.py"), "utf8"),
)?.[1] as string;

const BUNDLE = "shopfloor_bridge/static/src/generated/shopfloor_bridge.js";

/** runOdooBin, with the virtual environment's Python instead of the system one. */
async function runOdooIn(python: string, args: string[], logFile: string, input?: string) {
  const tree = odooTree();
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "w");
  try {
    const child = spawn(python, [tree.odooBin, ...args], {
      cwd: tree.src,
      stdio: [input === undefined ? "ignore" : "pipe", fd, fd],
    });
    if (input !== undefined) child.stdin?.end(input);
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    return { code, log: readFileSync(logFile, "utf8") };
  } finally {
    closeSync(fd);
  }
}

describe("odoo-addon-shopfloor_bridge wheel", () => {
  const db = `sfb_wheel_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "sfb-wheel-"));
  afterAll(async () => {
    await dropDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it("installs into a fresh virtual environment and Odoo installs the module from it", async () => {
    const tree = odooTree();
    // Build the wheel as `npm run package` does (owl_src/scripts/package.ts).
    execFileSync(join(repoRoot, "tools/packaging/venv.sh"), { stdio: "pipe" });
    const wheel = execFileSync(
      join(repoRoot, ".venv-tools/bin/python"),
      [join(repoRoot, "tools/packaging/build_wheel.py"), join(dir, "dist")],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    )
      .trim()
      .split("\n")
      .at(-1) as string;
    expect(wheel).toMatch(
      new RegExp(`odoo_addon_shopfloor_bridge-${MODULE_VERSION.replaceAll(".", "\\.")}(\\.\\d+)?-py3-none-any\\.whl$`),
    );

    // A fresh environment that sees Debian's packages (Odoo's dependencies).
    // --no-deps: the wheel requires odoo==18.0.*, and the Odoo here is a source
    // tree run by odoo-bin, not an installed distribution; its other requirement
    // is checked below.
    const venv = join(dir, "venv");
    execFileSync(PYTHON, ["-m", "venv", "--system-site-packages", venv]);
    const python = join(venv, "bin/python");
    execFileSync(python, ["-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], { stdio: "pipe" });
    const requires = execFileSync(
      python,
      ["-c", "import importlib.metadata as m; print('\\n'.join(m.requires('odoo-addon-shopfloor_bridge')))"],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n");
    expect(requires.sort()).toEqual(["jsonschema", "odoo==18.0.*"]);
    execFileSync(python, ["-c", "import jsonschema"]);
    const purelib = execFileSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {
      encoding: "utf8",
    }).trim();
    const installedAddons = join(purelib, "odoo/addons");
    expect(existsSync(join(installedAddons, BUNDLE)), `the bundle is not in the installed package`).toBe(true);

    // Odoo's addons path: its own addons and the environment's, not odoo_addon/.
    const addonsPath = [...odooAddonsDirs(tree.src), installedAddons].join(",");
    await duplicateDatabase(await ensureBaseTemplate(), db);
    const logs = join(repoRoot, "artifacts/logs");
    const install = await runOdooIn(
      python,
      [
        `--addons-path=${addonsPath}`,
        "-d",
        db,
        "-i",
        "shopfloor_bridge",
        "--stop-after-init",
        "--without-demo=all",
        "--max-cron-threads=0",
        "--http-port=0",
        "--log-level=warn",
      ],
      join(logs, `${db}-install.log`),
    );
    expect(install.code, tail(install.log, 40)).toBe(0);
    expect(install.log, tail(install.log, 40)).not.toMatch(/\bERROR\b|\bCRITICAL\b/);

    // The module and its bundle resolve to the installed package, and the
    // backend asset bundle lists the bundle file.
    const shell = await runOdooIn(
      python,
      ["shell", `--addons-path=${addonsPath}`, "-d", db, "--log-level=warn", "--http-port=0", "--no-http"],
      join(logs, `${db}-shell.log`),
      [
        "import json",
        "from odoo.modules.module import get_module_path",
        "from odoo.tools.misc import file_path",
        "mod = env['ir.module.module'].search([('name', '=', 'shopfloor_bridge')])",
        "assets = [a[0] for a in env['ir.asset']._get_asset_paths('web.assets_backend', {})]",
        `print('RESULT ' + json.dumps({'state': mod.state, 'version': mod.latest_version,` +
          ` 'path': get_module_path('shopfloor_bridge'), 'bundle': file_path('${BUNDLE}'),` +
          ` 'in_assets': any(a.endswith('/${BUNDLE}') for a in assets)}))`,
        "",
      ].join("\n"),
    );
    const line = shell.log.split("\n").find((l) => l.startsWith("RESULT "));
    expect(line, tail(shell.log, 40)).toBeDefined();
    const result = JSON.parse((line as string).slice("RESULT ".length));
    expect(result).toEqual({
      state: "installed",
      version: MODULE_VERSION,
      path: join(installedAddons, "shopfloor_bridge"),
      bundle: join(installedAddons, BUNDLE),
      in_assets: true,
    });
  });
});
