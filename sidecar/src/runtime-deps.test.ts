// The production image (sidecar/Dockerfile, build context the repository
// root, filtered by the root .dockerignore) keeps what runs and nothing else:
// no test, contract suite, fixture, fake, benchmark or dev-stack file, but
// every file the sidecar (sidecar/bin) and compose's simulator service
// (sidecar/devstack/demo-shift.ts, same image) load, transitively. It installs
// `dependencies` only (npm ci --omit=dev): no file it keeps may import a
// package that is a dev dependency or not declared at all.
import { existsSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { copySources, keptFiles, parseDockerignore } from "../test/support/dockerignore.ts";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const sidecar = join(repo, "sidecar");
const manifest = JSON.parse(readFileSync(join(sidecar, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const rules = parseDockerignore(readFileSync(join(repo, ".dockerignore"), "utf8"));
const image = new Set(keptFiles(repo, rules, copySources(join(sidecar, "Dockerfile"))));
const NOT_RUNTIME =
  /\.(test|contract|fixtures|bench)\.ts$|(^|\/)(testing|test|bench)(\/|\.ts$)|^sidecar\/(deploy|devstack)\/(?!demo-shift\.ts$)/;

/** The image's entry points: the Dockerfile's ENTRYPOINT and every `node <file>` entrypoint in compose. */
function entries(): string[] {
  const found = new Set<string>();
  const texts = [
    readFileSync(join(sidecar, "Dockerfile"), "utf8"),
    readFileSync(join(repo, "docker-compose.yml"), "utf8"),
  ];
  for (const text of texts) for (const m of text.matchAll(/"node",\s*"(sidecar\/[^"]+)"/g)) found.add(m[1] as string);
  return [...found];
}

interface Reference {
  readonly from: string;
  readonly specifier: string;
}

function specifiers(text: string): string[] {
  return [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ...text.matchAll(/new URL\(\s*["'](\.[^"']*)["']\s*,\s*import\.meta\.url\s*\)/g),
  ].map((m) => m[1] ?? "");
}

/** Repository-relative files a file loads: relative imports, `new URL(…, import.meta.url)` and `sidecar/…` paths it spawns. */
function localTargets(file: string): Reference[] {
  const text = readFileSync(join(repo, file), "utf8");
  const refs = specifiers(text)
    .filter((s) => s.startsWith("."))
    .map((s) => ({ from: file, specifier: relative(repo, join(repo, dirname(file), s)) }));
  for (const m of text.matchAll(/["'](sidecar\/[\w./-]+\.(?:ts|js))["']/g))
    refs.push({ from: file, specifier: m[1] as string });
  return refs.filter((r) => !(existsSync(join(repo, r.specifier)) && statSync(join(repo, r.specifier)).isDirectory()));
}

function runtimeClosure(): Map<string, string> {
  const seen = new Map<string, string>();
  const queue = entries().map((e) => ({ from: "(entrypoint)", specifier: e }));
  for (let ref = queue.shift(); ref; ref = queue.shift()) {
    if (seen.has(ref.specifier)) continue;
    seen.set(ref.specifier, ref.from);
    if (/\.(ts|js)$/.test(ref.specifier) && existsSync(join(repo, ref.specifier)))
      queue.push(...localTargets(ref.specifier));
  }
  return seen;
}

function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier))
    return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

describe("the sidecar's production image keeps what runs and only that", () => {
  it("starts from the sidecar and the simulator entry points", () => {
    expect(entries()).toEqual(
      expect.arrayContaining(["sidecar/bin/shopfloor-sidecar.js", "sidecar/devstack/demo-shift.ts"]),
    );
  });

  it("keeps no test, contract suite, fixture, fake, benchmark or dev-stack file", () => {
    expect(image.size).toBeGreaterThan(50);
    expect([...image].filter((f) => NOT_RUNTIME.test(f))).toEqual([]);
  });

  it("keeps every file the sidecar and the simulator load, transitively", () => {
    const closure = runtimeClosure();
    expect(closure.has("sidecar/src/main.ts")).toBe(true);
    expect(closure.has("sidecar/simulator/cli.ts")).toBe(true);
    expect(closure.has("odoo_addon/shopfloor_bridge/schemas/cloudevent.schema.json")).toBe(true);
    const missing = [...closure]
      .filter(([file]) => !image.has(file))
      .map(([file, from]) => `${file} (loaded by ${from})`);
    expect(missing).toEqual([]);
  });

  it("every relative import of a kept file resolves to a kept file", () => {
    const dangling: string[] = [];
    for (const file of image) {
      if (!/\.(ts|js)$/.test(file)) continue;
      for (const ref of localTargets(file)) if (!image.has(ref.specifier)) dangling.push(`${file} → ${ref.specifier}`);
    }
    expect(dangling).toEqual([]);
  });

  it("every file it keeps imports declared dependencies only", () => {
    const wrong: string[] = [];
    for (const file of image) {
      if (!/\.(ts|js)$/.test(file)) continue;
      for (const specifier of specifiers(readFileSync(join(repo, file), "utf8"))) {
        const pkg = packageOf(specifier);
        if (pkg && !(pkg in manifest.dependencies)) wrong.push(`${file} imports ${pkg}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("aedes (a test broker) is a dev dependency", () => {
    expect(manifest.dependencies).not.toHaveProperty("aedes");
  });
});
