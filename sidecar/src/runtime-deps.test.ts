// The production image installs `dependencies` only (npm ci --omit=dev): no
// file that runs there may import a package that is a dev dependency or not
// declared at all. Tests, contract suites and fixtures are exempt.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sidecar = join(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(join(sidecar, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const TEST_FILE = /(\.test|\.contract|\.fixtures)\.ts$|\/testing(\/|\.ts$)/;

function runtimeFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return runtimeFiles(path);
    return /\.(ts|js)$/.test(name) && !TEST_FILE.test(path) ? [path] : [];
  });
}

function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier))
    return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

describe("what the production image runs imports only runtime dependencies", () => {
  it("sidecar/src, bin and simulator import declared dependencies only", () => {
    const wrong: string[] = [];
    for (const file of ["src", "bin", "simulator"].flatMap((d) => runtimeFiles(join(sidecar, d)))) {
      const text = readFileSync(file, "utf8");
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm),
        ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
        ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1] ?? "");
      for (const specifier of specifiers) {
        const pkg = packageOf(specifier);
        if (pkg && !(pkg in manifest.dependencies)) wrong.push(`${relative(sidecar, file)} imports ${pkg}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("aedes (a test broker) is a dev dependency", () => {
    expect(manifest.dependencies).not.toHaveProperty("aedes");
  });
});
