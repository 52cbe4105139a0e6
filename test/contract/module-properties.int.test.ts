// The hypothesis properties of the module's pure-Python parts
// (test/contract/python/test_module_properties.py), one test each, run by the
// peers' Python (.venv-peers: hypothesis, and the jsonschema Odoo's Python
// runs), never by Odoo's. SFB_HYPOTHESIS_EXAMPLES sets the examples per
// property (400 by default).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
import { peerPython } from "../../sidecar/devstack/python-peers.ts";

const DIR = join(import.meta.dirname, "python");
const MODULE = "test_module_properties";

function python(args: string[]) {
  return spawnSync(peerPython(), args, {
    cwd: DIR,
    encoding: "utf8",
    timeout: 600_000,
    // Hypothesis keeps a folder of its own: in the ignored artifacts/, not beside the tests.
    env: { ...process.env, HYPOTHESIS_STORAGE_DIRECTORY: join(repoRoot, "artifacts/tmp/hypothesis") },
  });
}

/** The ids of the module's tests, as unittest's loader finds them. */
function testIds(): string[] {
  const listed = python([
    "-c",
    `import unittest, ${MODULE} as m\nfor suite in unittest.defaultTestLoader.loadTestsFromModule(m):\n    for test in suite:\n        print(test.id())`,
  ]);
  if (listed.status !== 0) throw new Error(`listing ${MODULE}: ${listed.stderr}`);
  return listed.stdout.split("\n").filter(Boolean);
}

describe("the module's pure-Python parts hold their properties (hypothesis)", () => {
  const ids = testIds();

  it("finds every property", () => {
    expect(ids.map((id) => id.split(".").slice(1).join("."))).toEqual([
      "TestCompiledSchema.test_compiled_check_gives_jsonschemas_verdict",
      "TestCompiledSchema.test_the_event_schema_compiles",
      "TestParseTime.test_any_rfc3339_text_reads_as_its_instant",
      "TestStorableText.test_a_lone_high_then_low_surrogate_reads_back_as_one_character",
      "TestStorableText.test_any_json_value_is_stored_and_read_back_the_same",
      "TestStorableText.test_the_pre_check_never_misses_what_needs_escaping",
    ]);
  });

  it.each(ids)(
    "%s",
    (id) => {
      const run = python(["-m", "unittest", id]);
      // unittest writes its report, and hypothesis its falsifying example, to stderr.
      expect(run.status, run.stderr.slice(-6_000)).toBe(0);
      expect(run.stderr).toMatch(/Ran 1 test/);
    },
    600_000,
  );
});
