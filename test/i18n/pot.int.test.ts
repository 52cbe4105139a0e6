// The committed i18n/shopfloor_bridge.pot is what Odoo exports from the
// module as it is now: a translatable string added (Python `_()`, a field
// label, a view, `_t()` in the OWL screens, a QWeb template) without running
// `npm run i18n` fails here, and so does one the sources no longer have.
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../../sidecar/devstack/odoo.ts";
import { exportPot, msgids, potPath } from "../../tools/i18n/pot.ts";

const list = (ids: string[]) => ids.map((id) => `  ${JSON.stringify(id)}`).join("\n");

it("the committed POT holds every term Odoo exports from the module, and no other", { timeout: 600_000 }, async () => {
  const file = relative(repoRoot, potPath);
  expect(existsSync(potPath), `${file} is missing: run \`npm run i18n\` and commit it`).toBe(true);
  const exported = msgids(await exportPot());
  const committed = msgids(readFileSync(potPath, "utf8"));
  const missing = [...exported].filter((id) => !committed.has(id)).sort();
  const stale = [...committed].filter((id) => !exported.has(id)).sort();
  const problems = [
    missing.length ? `missing from ${file} (${missing.length}):\n${list(missing)}` : "",
    stale.length ? `in ${file} but no longer in the sources (${stale.length}):\n${list(stale)}` : "",
  ].filter(Boolean);
  expect(problems, `${file} is out of date: run \`npm run i18n\` and commit it.\n${problems.join("\n")}`).toEqual([]);
  // The export itself found terms in every kind of source the module has.
  expect(exported.size).toBeGreaterThan(100);
});
