import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { expect, it } from "vitest";
import { buildBundle, generatedDir, jsonataAsEsm } from "./build.ts";

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

it("bundles jsonata as a strict ES module that evaluates, with the sidecar's evaluator around it", async () => {
  const dir = join(tmpdir(), `sfb-jsonata-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, "entry.ts");
  const evaluator = join(dirname(generatedDir), "../../../../sidecar/src/mapping/evaluate.ts");
  writeFileSync(
    entry,
    `import jsonata from "jsonata";\nimport { runMapping } from ${JSON.stringify(evaluator)};\nexport { jsonata, runMapping };\n`,
  );
  const outfile = join(dir, "out.mjs");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    plugins: [jsonataAsEsm],
    nodePaths: [join(dirname(generatedDir), "../../../../node_modules")],
    logLevel: "silent",
  });
  const text = readFileSync(outfile, "utf8");
  expect(text).not.toMatch(/\brequire\s*\(/);
  expect(text).not.toContain("__commonJS");
  const loaded = (await import(pathToFileURL(outfile).href)) as {
    jsonata: (expr: string) => { evaluate(input: unknown): Promise<unknown> };
    runMapping: (...args: unknown[]) => Promise<{ ok: boolean; events?: { id: string }[] }>;
  };
  expect(await loaded.jsonata("$sum(values.v)").evaluate({ values: [{ v: 2 }, { v: 3 }] })).toBe(5);
  const outcome = await loaded.runMapping(
    {
      id: 1,
      name: "m",
      kind: "events",
      transport: "mqtt",
      match: "#",
      expression: '{"source": $topic, "type": "production.reported", "time": t, "data": {"order": o, "qty_good": n}}',
      id_fields: ["data.order", "time"],
      payload_format: "json",
      revision: 1,
    },
    {
      payload: '{"t": "2026-11-22T08:00:00Z", "o": "WH/MO/1", "n": 3}',
      topic: "a/b",
      receivedAt: new Date(),
      connection: "c",
      revision: 1,
    },
    async (s: string) => s.length.toString(16).padStart(40, "0"),
  );
  expect(outcome.ok).toBe(true);
  expect(outcome.events?.[0]?.id).toMatch(/^sfb-m-/);
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
