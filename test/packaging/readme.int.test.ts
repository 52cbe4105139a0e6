// The module's README.rst and static/description/index.html are what OCA's
// oca-gen-addon-readme makes from readme/*.md and __manifest__.py: the test
// regenerates them from a copy and fails when the committed ones differ.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

const addon = join(repoRoot, "odoo_addon/shopfloor_bridge");
const generated = ["README.rst", "static/description/index.html"];

describe("module README", () => {
  const dir = mkdtempSync(join(tmpdir(), "sfb-readme-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("README.rst and index.html are regenerated identical from readme/ and the manifest", () => {
    const copy = join(dir, "shopfloor_bridge");
    mkdirSync(join(copy, "static/description"), { recursive: true });
    cpSync(join(addon, "__manifest__.py"), join(copy, "__manifest__.py"));
    cpSync(join(addon, "readme"), join(copy, "readme"), { recursive: true });
    execFileSync(join(repoRoot, "tools/packaging/gen-readme.sh"), {
      env: { ...process.env, ADDON_DIR: copy },
      stdio: "pipe",
    });
    const stale = generated.filter(
      (file) => readFileSync(join(copy, file), "utf8") !== readFileSync(join(addon, file), "utf8"),
    );
    expect(
      stale,
      `stale generated ${stale.join(", ")}: run tools/packaging/gen-readme.sh and commit the result`,
    ).toEqual([]);
  });
});
