import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it } from "vitest";
import type { Evaluator } from "../src/components/mapping_try/try_run.ts";
import { buildBundle, enginePath, generatedDir } from "./build.ts";

it("emits one unminified ES module that Odoo's asset pipeline can load", async () => {
  const { path } = await buildBundle();
  const text = readFileSync(path, "utf8");
  expect(text.startsWith("/** @odoo-module **/")).toBe(true);
  // Odoo resolves these at run time; bundling them would load a second OWL.
  expect(text).toMatch(/from "@odoo\/owl"/);
  expect(text).toMatch(/from "@web\/core\/registry"/);
  expect(text).not.toMatch(/\brequire\s*\(/);
  expect(text).toContain('registry.category("actions").add("shopfloor_bridge.home"');
  expect(text).not.toContain("__commonJS");
  expect(text).toContain('registry.category("fields").add("shopfloor_mapping_try"');
});

it("builds the mapping evaluator as a self-contained ES module that runs the sidecar's evaluate.ts", async () => {
  await buildBundle();
  const text = readFileSync(enginePath, "utf8");
  expect(text).not.toMatch(/\brequire\s*\(/);
  expect(text).not.toContain("__commonJS");
  // The screens' bundle imports it by URL when first needed, never bundles it.
  const bundle = readFileSync(join(generatedDir, "shopfloor_bridge.js"), "utf8");
  expect(bundle).toMatch(/import\(\s*(\/\*.*?\*\/\s*)?url\s*\)/s);
  expect(bundle).toMatch(/"\/shopfloor_bridge\/static\/src\/generated\/lazy\/mapping_engine\.mjs\?v=[0-9a-f]{12}"/);
  expect(bundle).not.toContain("jsonata");
  const engine = (await import(`${pathToFileURL(enginePath).href}?t=${Date.now()}`)) as {
    evaluateSample: Evaluator;
    sha256hex(text: string): Promise<string>;
  };
  expect(await engine.sha256hex("abc")).toBe(createHash("sha256").update("abc").digest("hex"));
  const outcome = await engine.evaluateSample(
    {
      id: 1,
      name: "m",
      kind: "events",
      transport: "mqtt",
      match: "#",
      expression:
        '{"source": $topic, "type": "production.reported", "time": t, "data": {"order": o, "qty_good": $sum(n)}}',
      id_fields: ["data.order", "time"],
      payload_format: "json",
      revision: 1,
    },
    {
      payload: '{"t": "2026-11-22T08:00:00Z", "o": "WH/MO/1", "n": [1, 2]}',
      topic: "a/b",
      headers: {},
      connection: "c",
      receivedAt: "2026-11-22T08:00:01Z",
    },
  );
  expect(outcome).toMatchObject({
    status: "events",
    events: [{ source: "a/b", data: { order: "WH/MO/1", qty_good: 3 }, connection: "c", mappingrev: 1 }],
  });
  const looping = await engine.evaluateSample(
    {
      id: 2,
      name: "loop",
      kind: "events",
      transport: "mqtt",
      match: "#",
      expression: "($f := function($n){ $n + $f($n) }; $f(1))",
      id_fields: [],
      payload_format: "json",
      revision: 1,
    },
    { payload: "{}", topic: "a", headers: {}, connection: "c", receivedAt: "2026-11-22T08:00:01Z" },
  );
  expect(looping).toMatchObject({ status: "error", message: expect.stringMatching(/stopped/) });
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
