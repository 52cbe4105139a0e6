import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { expect, it } from "vitest";
import { buildBundle, generatedDir } from "./build.ts";

it("emits one unminified ES module that Odoo's asset pipeline can load", async () => {
  const { path } = await buildBundle();
  const text = readFileSync(path, "utf8");
  expect(text.startsWith("/** @odoo-module **/")).toBe(true);
  // Odoo resolves these at run time; bundling them would load a second OWL.
  expect(text).toMatch(/from "@odoo\/owl"/);
  expect(text).toMatch(/from "@web\/core\/registry"/);
  expect(text).not.toMatch(/\brequire\s*\(/);
  expect(text).toContain('registry.category("actions").add("shopfloor_bridge.home"');
});

it("copies every component's template and style beside the bundle, and only those", async () => {
  const stale = join(generatedDir, "components/gone/gone.xml");
  mkdirSync(dirname(stale), { recursive: true });
  writeFileSync(stale, "<templates/>");
  const { assets } = await buildBundle();
  const components = join(dirname(generatedDir), "../../../../owl_src/src/components");
  for (const name of readdirSync(components)) {
    for (const ext of ["xml", "scss"]) {
      const file = `components/${name}/${name}.${ext}`;
      expect(assets).toContain(file);
      expect(readFileSync(join(generatedDir, file), "utf8")).toBe(
        readFileSync(join(components, name, basename(file)), "utf8"),
      );
    }
  }
  expect(assets).toContain("shared/screen.scss");
  expect(existsSync(stale)).toBe(false);
  expect(existsSync(dirname(stale))).toBe(false);
});
