// The sidecar image's dependency stage, run without Docker: the COPY, ENV and
// RUN lines of sidecar/Dockerfile's `deps` stage are replayed in a temporary
// directory (the apt-get line aside: .ci/run gives this machine the same
// python3, make and g++), and the S7 driver's native addon must then load
// from the node_modules the final stage copies. The image's own Node headers
// (/usr/local) are this machine's Node's here.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";

const dockerfile = readFileSync(join(repoRoot, "sidecar/Dockerfile"), "utf8");
const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith("FROM "));
const depsStage = stages.find((s) => /^FROM \S+ AS deps$/m.test(s)) ?? "";
const finalStage = stages.at(-1) ?? "";
// This Node's headers, as /usr/local holds the image's: where .ci/run points
// npm (npm_config_nodedir), else this Node's install prefix (prefix/include/node).
const hostNodeDir = process.env.npm_config_nodedir || dirname(dirname(realpathSync(process.execPath)));

const dir = mkdtempSync(join(tmpdir(), "sfb-sidecar-deps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("builds the S7 driver's native addon the way the image's deps stage does, where the final stage copies it from", () => {
  expect(depsStage, "a `FROM … AS deps` stage").not.toBe("");
  expect(/^WORKDIR (\S+)$/m.exec(depsStage)?.[1]).toBe("/app");
  expect(finalStage).toMatch(/^COPY --from=deps \/app\/node_modules node_modules$/m);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "" };
  const steps = [...depsStage.matchAll(/^(COPY|RUN|ENV) (.+(?:\\\n.+)*)$/gm)];
  expect(steps.some(([, op, args]) => op === "RUN" && args?.includes("node-snap7"))).toBe(true);
  for (const [, op, args = ""] of steps) {
    if (op === "ENV") {
      const [name = "", value = ""] = args.split("=");
      env[name] = name === "npm_config_nodedir" && value === "/usr/local" ? hostNodeDir : value;
    } else if (op === "COPY") {
      const parts = args.split(/\s+/);
      const dest = parts.pop() ?? "";
      for (const src of parts) {
        const target = dest.endsWith("/") ? join(dir, dest, src.split("/").pop() ?? "") : join(dir, dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(repoRoot, src), target, { recursive: true });
      }
    } else if (!args.startsWith("apt-get")) {
      execFileSync("sh", ["-c", args.replace(/\\\n/g, " ")], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 600_000,
      });
    }
  }
  // The final stage runs `node sidecar/bin/…` from /app: the addon loads from /app/node_modules.
  const loaded = execFileSync(
    process.execPath,
    ["-e", "const s = require('node-snap7'); const c = new s.S7Client(); console.log(typeof c.ConnectTo)"],
    { cwd: dir, encoding: "utf8" },
  );
  expect(loaded.trim()).toBe("function");
}, 900_000);
