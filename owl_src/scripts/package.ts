// Makes the installable zip of the module and its odoo-addon-shopfloor_bridge
// wheel (whool, in .venv-tools/), both with the built bundle inside.
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

// The wheel: tools/packaging/venv.sh makes .venv-tools/ when it is missing.
execFileSync(join(repoRoot, "tools/packaging/venv.sh"), { stdio: "inherit" });
const wheelPath = execFileSync(
  join(repoRoot, ".venv-tools/bin/python"),
  [join(repoRoot, "tools/packaging/build_wheel.py"), outDir],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
)
  .trim()
  .split("\n")
  .at(-1);
console.log(`module wheel: ${relative(process.cwd(), wheelPath ?? "")}`);
