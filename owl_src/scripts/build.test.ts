import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { buildBundle } from "./build.ts";

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
