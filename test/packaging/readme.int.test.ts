// The module's README.rst and static/description/index.html are what
// tools/packaging/gen_readme.py makes from readme/*.md and __manifest__.py:
// the test regenerates them from a copy and fails when the committed ones differ.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

const addon = join(repoRoot, "odoo_addon/shopfloor_bridge");
const generated = ["README.rst", "static/description/index.html"];

/** OCA's order of the readme/ fragments that get a section of their own. */
const FRAGMENT_SECTIONS: [string, string][] = [
  ["CONTEXT", "Use Cases / Context"],
  ["INSTALL", "Installation"],
  ["CONFIGURE", "Configuration"],
  ["USAGE", "Usage"],
  ["DEVELOP", "Development"],
  ["ROADMAP", "Known issues / Roadmap"],
  ["HISTORY", "Changelog"],
];

/** Section titles of a reStructuredText text: a line underlined by = or - of its length. */
/** Titles underlined with `underline` (`=` the sections, `-` their subsections). */
function sectionTitles(rst: string, underline: "=" | "-"): { title: string; line: number }[] {
  const lines = rst.split("\n");
  const rule = underline === "=" ? /^=+$/ : /^-+$/;
  return lines
    .map((title, line) => ({ title, line }))
    .filter(
      ({ title, line }) =>
        title.trim() !== "" && rule.test(lines[line + 1] ?? "") && lines[line + 1]?.length === title.length,
    );
}

describe("module README", () => {
  const dir = mkdtempSync(join(tmpdir(), "sfb-readme-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("README.rst has the layout of OCA modules' READMEs", () => {
    const rst = readFileSync(join(addon, "README.rst"), "utf8");
    const manifest = readFileSync(join(addon, "__manifest__.py"), "utf8");
    const field = (key: string) => manifest.match(new RegExp(`"${key}": "([^"]*)"`))?.[1];
    const name = field("name") as string;
    const has = (fragment: string) => existsSync(join(addon, "readme", `${fragment}.md`));
    expect(rst.startsWith(`${"=".repeat(name.length)}\n${name}\n${"=".repeat(name.length)}\n`)).toBe(true);
    expect(rst).toContain(`:alt: ${field("development_status")}`);
    expect(rst).toContain(`:alt: License: ${field("license")}`);
    expect(rst).toContain(field("summary"));
    expect(rst).toContain(".. contents::");
    const sections = sectionTitles(rst, "=");
    expect(sections.map((s) => s.title)).toEqual([
      name,
      ...FRAGMENT_SECTIONS.filter(([fragment]) => has(fragment)).map(([, title]) => title),
      "Bug Tracker",
      "Credits",
    ]);
    // A fragment may have subsections of its own; Credits' are fixed.
    const credits = sections.at(-1)?.line ?? 0;
    expect(
      sectionTitles(rst, "-")
        .filter((s) => s.line > credits)
        .map((s) => s.title),
    ).toEqual([
      "Authors",
      ...(has("CONTRIBUTORS") ? ["Contributors"] : []),
      ...(has("CREDITS") ? ["Other credits"] : []),
      "Maintainers",
    ]);
    const html = readFileSync(join(addon, "static/description/index.html"), "utf8");
    expect(html).toContain(`<h1 class="title">${name}</h1>`);
  });

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
