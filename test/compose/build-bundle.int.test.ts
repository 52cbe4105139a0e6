// The Odoo image's build stage, run without Docker: the COPY and RUN lines of
// odoo_addon/Dockerfile's `bundle` stage are replayed in a temporary copy of
// the repository (files .dockerignore leaves out are left out here too, the
// host's bundle included), and the bundle must then be where the odoo stage
// copies the module from.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

const dockerfile = readFileSync(join(repoRoot, "odoo_addon/Dockerfile"), "utf8");
const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith("FROM "));
const bundleStage = stages.find((s) => /^FROM \S+ AS bundle$/m.test(s)) ?? "";
const odooStage = stages.at(-1) ?? "";
// .dockerignore patterns (plain paths and **/name), as the build context sees them.
const ignored = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const isIgnored = (rel: string) =>
  ignored.some((p) =>
    p.startsWith("**/") ? rel.split("/").includes(p.slice(3)) : rel === p || rel.startsWith(`${p}/`),
  );

const dir = mkdtempSync(join(tmpdir(), "sfb-odoo-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("builds the OWL bundle the way the image's build stage does, where the odoo stage copies it from", () => {
  expect(bundleStage, "a `FROM … AS bundle` stage").not.toBe("");
  const workdir = /^WORKDIR (\S+)$/m.exec(bundleStage)?.[1] ?? "";
  expect(workdir).toBe("/src");
  const steps = [...bundleStage.matchAll(/^(COPY|RUN) (.+)$/gm)];
  expect(steps.filter(([, op]) => op === "RUN").length).toBeGreaterThan(0);
  for (const [, op, args = ""] of steps) {
    if (op === "COPY") {
      const parts = args.split(/\s+/);
      const dest = parts.pop() ?? "";
      for (const src of parts) {
        const target = dest.endsWith("/") ? join(dir, dest, src.split("/").pop() ?? "") : join(dir, dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(repoRoot, src), target, {
          recursive: true,
          filter: (from) => !isIgnored(relative(repoRoot, from)),
        });
      }
    } else {
      execFileSync("sh", ["-c", args], {
        cwd: dir,
        env: { ...process.env, NODE_ENV: "" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 300_000,
      });
    }
  }
  // COPY --from=bundle /src/<module> /mnt/extra-addons/<module>: the bundle inside it.
  const from = /^COPY --from=bundle \S* ?(\/src\/\S+) \/mnt\/extra-addons\/shopfloor_bridge$/m.exec(odooStage)?.[1];
  expect(from).toBe("/src/odoo_addon/shopfloor_bridge");
  const bundle = join(dir, relative(workdir, from ?? ""), "static/src/generated/shopfloor_bridge.js");
  expect(existsSync(bundle), bundle).toBe(true);
  const text = readFileSync(bundle, "utf8");
  expect(text.startsWith("/** @odoo-module **/")).toBe(true);
  // The manifest loads it from there.
  const manifest = readFileSync(join(repoRoot, "odoo_addon/shopfloor_bridge/__manifest__.py"), "utf8");
  expect(manifest).toContain("shopfloor_bridge/static/src/generated/");
});
