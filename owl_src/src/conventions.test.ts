// The screens follow Odoo's conventions (addons/mrp/static/src/components/mo_overview):
// one folder per component with its .ts, .xml template and .scss style; the
// template named "shopfloor_bridge.<Name>" in the .xml, never inline; typed
// props; numbers and dates through Odoo's formatters. A static check over
// the source, so a new component that breaks them fails here.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const src = dirname(fileURLToPath(import.meta.url));
const components = join(src, "components");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testing" ? [] : sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

const folders = readdirSync(components, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

test("every component folder has <name>.ts, <name>.xml and <name>.scss", () => {
  expect(folders.length).toBeGreaterThanOrEqual(6);
  for (const name of folders) {
    for (const ext of ["ts", "xml", "scss"]) {
      expect(existsSync(join(components, name, `${name}.${ext}`)), `components/${name}/${name}.${ext}`).toBe(true);
    }
  }
});

test("each component class lives in its folder's <name>.ts and names a template of its .xml", () => {
  let classes = 0;
  for (const file of sourceFiles(components)) {
    const text = readFileSync(file, "utf8");
    const declared = [...text.matchAll(/export class (\w+) extends Component\b/g)];
    if (!declared.length) continue;
    const rel = relative(components, file);
    const folder = dirname(rel);
    expect(rel, `${rel}: a component's file is <folder>/<folder>.ts`).toBe(`${folder}/${folder}.ts`);
    expect(declared, `${rel}: one component per file`).toHaveLength(1);
    classes++;
    const template = /static override template = "([\w.]+)";/.exec(text)?.[1];
    expect(template, `${rel}: static template = "shopfloor_bridge.<Name>"`).toMatch(/^shopfloor_bridge\.\w+$/);
    const xmlText = readFileSync(join(components, folder, `${folder}.xml`), "utf8");
    expect(xmlText, `${folder}.xml defines ${template}`).toContain(`t-name="${template}"`);
    expect(text, `${rel}: typed props`).toMatch(/static override props = \{/);
  }
  expect(classes).toBe(folders.length);
});

test("no inline template, CSS string or untyped props anywhere in the screens", () => {
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, "utf8");
    const rel = relative(src, file);
    expect(text, `${rel}: inline xml template`).not.toMatch(/\bxml`/);
    expect(text, `${rel}: props = ["*"]`).not.toMatch(/props\s*=\s*\[\s*["']\*["']\s*\]/);
    expect(text, `${rel}: CSS in TypeScript`).not.toMatch(/useStyles|createElement\("style"\)/);
    expect(text, `${rel}: hard-coded number or date format`).not.toMatch(/toLocale(?:String|TimeString|DateString)\(/);
  }
});

test("every template in the .xml files is named shopfloor_bridge.*", () => {
  for (const name of folders) {
    const text = readFileSync(join(components, name, `${name}.xml`), "utf8");
    const names = [...text.matchAll(/t-name="([^"]+)"/g)].map((m) => m[1]);
    expect(names.length, `${name}.xml`).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^shopfloor_bridge\./);
  }
});
