// Registers every component template (src/components/*/*.xml) with OWL, as
// Odoo's asset bundle does with registerTemplate: components name their
// template (`static template = "shopfloor_bridge.X"`) and find it at render.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "@odoo/owl";

export const componentsDir = join(dirname(fileURLToPath(import.meta.url)), "../../src/components");

/** Every .xml file under src/components, with its path. */
export function templateFiles(): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  for (const dir of readdirSync(componentsDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const name of readdirSync(join(componentsDir, dir.name))) {
      if (!name.endsWith(".xml")) continue;
      const path = join(componentsDir, dir.name, name);
      files.push({ path, text: readFileSync(path, "utf8") });
    }
  }
  return files;
}

let registered = false;

export function registerTemplates(): void {
  if (registered) return;
  registered = true;
  for (const { path, text } of templateFiles()) {
    const doc = new DOMParser().parseFromString(text, "text/xml");
    const error = doc.querySelector("parsererror");
    if (error) throw new Error(`${path}: ${error.textContent}`);
    for (const el of doc.querySelectorAll("[t-name]")) {
      // OWL compiles a raw template (string or Element) on first use, as it does for xml``.
      const register = App.registerTemplate as unknown as (name: string, template: Element) => void;
      register(el.getAttribute("t-name") as string, el);
    }
  }
}
