// Makes the installable zip of the module, with the built bundle inside.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "./build.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
const manifest = execFileSync(
  "/usr/bin/python3",
  [
    "-c",
    "import ast,sys;print(ast.literal_eval(open(sys.argv[1]).read())['version'])",
    join(repoRoot, "odoo_addon/shopfloor_bridge/__manifest__.py"),
  ],
  { encoding: "utf8" },
).trim();

await buildBundle();
const outDir = join(repoRoot, "dist");
mkdirSync(outDir, { recursive: true });
const zipPath = join(outDir, `shopfloor_bridge-${manifest}.zip`);
rmSync(zipPath, { force: true });
execFileSync("zip", ["-q", "-r", zipPath, "shopfloor_bridge", "-x", "*/__pycache__/*", "*.pyc"], {
  cwd: join(repoRoot, "odoo_addon"),
  stdio: "inherit",
});
console.log(`module package: ${relative(process.cwd(), zipPath)}`);
