// `npm run i18n`: writes odoo_addon/shopfloor_bridge/i18n/shopfloor_bridge.pot
// with Odoo's own exporter (odoo-bin --i18n-export). The module is installed
// without demo data (as Odoo exports its own templates) into a throwaway copy
// of the base template database; the export then scans the module's Python
// (`_`, `_lt`, `env._`), its records, and the .js and .xml files under
// static/src (`_t(...)` calls of the OWL bundle, QWeb templates), so the
// bundle is built first. test/i18n/pot.int.test.ts runs the same export and
// fails when the committed file differs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle, bundlePath } from "../../owl_src/scripts/build.ts";
import {
  addonDir,
  DevStackError,
  dropDatabase,
  duplicateDatabase,
  ensureBaseTemplate,
  odooTree,
  repoRoot,
  runOdooBin,
  tail,
} from "../../sidecar/devstack/odoo.ts";

export const MODULE = "shopfloor_bridge";
export const potPath = join(addonDir, MODULE, "i18n", `${MODULE}.pot`);

/**
 * The header lines whose value is the time of the run; blanked so that an
 * export of unchanged sources gives the same bytes.
 */
const RUN_DEPENDENT_HEADERS = ["POT-Creation-Date", "PO-Revision-Date"];

export function normalisePot(text: string): string {
  let out = text;
  for (const header of RUN_DEPENDENT_HEADERS) {
    out = out.replace(new RegExp(`^"${header}: [^"\\\\]*\\\\n"$`, "m"), `"${header}: \\n"`);
  }
  return out;
}

/**
 * Calls of Odoo's `_t` in the bundle under a name Odoo's exporter does not
 * look for: it extracts `_t("…")` (and `x._t("…")`) only, while esbuild
 * renames an import that two bundled modules make (`import { _t as _t2 }`)
 * and may call it as `(0, _t)("…")`. Each such string would be missing from
 * the POT, so the export refuses the bundle.
 */
export function hiddenTranslationCalls(bundle: string): string[] {
  const found: string[] = [];
  const imports = /import\s*\{([^}]*)\}\s*from\s*["']@web\/core\/l10n\/translation["']/g;
  for (const [, specifiers = ""] of bundle.matchAll(imports)) {
    for (const specifier of specifiers.split(",")) {
      const [name, alias] = specifier.trim().split(/\s+as\s+/);
      if (name !== "_t" || !alias || alias === "_t") continue;
      const calls = bundle.match(new RegExp(`(?<![\\w$.])${alias.replace(/\$/g, "\\$")}\\(`, "g"))?.length ?? 0;
      found.push(`import { _t as ${alias} }: ${calls} call(s) ${alias}(…)`);
    }
  }
  const indirect = bundle.match(/\(0,\s*_t\)\(/g)?.length ?? 0;
  if (indirect) found.push(`${indirect} call(s) (0, _t)(…)`);
  return found;
}

/** Builds the bundle, exports the module's terms with Odoo and returns the normalised POT text. */
export async function exportPot(log: (msg: string) => void = () => {}): Promise<string> {
  const tree = odooTree();
  log("building the OWL bundle (npm run build)…");
  await buildBundle();
  const hidden = hiddenTranslationCalls(readFileSync(bundlePath, "utf8"));
  if (hidden.length) {
    throw new DevStackError(
      `${relative(repoRoot, bundlePath)} calls _t under names Odoo's exporter does not read:\n  ${hidden.join("\n  ")}\n` +
        "Their strings would be missing from the POT. Import _t in owl_src from one module only " +
        "(e.g. owl_src/src/shared/web.ts) so that esbuild keeps its name.",
    );
  }
  const base = await ensureBaseTemplate(log);
  const db = `sfb_i18n_${process.pid}_${Date.now().toString(36)}`;
  const work = mkdtempSync(join(tmpdir(), "sfb-i18n-"));
  const logFile = join(repoRoot, "artifacts/logs", `${db}.log`);
  try {
    await duplicateDatabase(base, db);
    log(`installing ${MODULE} without demo data into ${db}…`);
    const install = await runOdooBin(
      tree,
      [
        "-d",
        db,
        "-i",
        MODULE,
        "--without-demo=all",
        "--stop-after-init",
        "--max-cron-threads=0",
        "--http-port=0",
        "--log-level=warn",
      ],
      logFile,
    );
    failOnErrors(`installing ${MODULE}`, install, logFile);
    log(`exporting the terms of ${MODULE} (odoo-bin --i18n-export)…`);
    const raw = join(work, `${MODULE}.pot`);
    // Odoo logs a file it cannot parse (e.g. JavaScript its extractor does not
    // read) at ERROR and goes on; that would silently drop its terms.
    const exported = await runOdooBin(
      tree,
      ["-d", db, `--i18n-export=${raw}`, `--modules=${MODULE}`, "--log-level=warn"],
      logFile.replace(/\.log$/, "-export.log"),
    );
    failOnErrors("exporting the terms", exported, logFile.replace(/\.log$/, "-export.log"));
    return normalisePot(readFileSync(raw, "utf8"));
  } finally {
    rmSync(work, { recursive: true, force: true });
    await dropDatabase(db);
  }
}

function failOnErrors(what: string, run: { code: number; log: string }, logFile: string): void {
  if (run.code !== 0 || /\b(ERROR|CRITICAL)\b/.test(run.log)) {
    throw new DevStackError(`${what} failed (exit ${run.code}); see ${logFile}\n${tail(run.log, 40)}`);
  }
}

/** The msgids of a PO/POT text (multi-line strings joined), header entry left out. */
export function msgids(pot: string): Set<string> {
  const ids = new Set<string>();
  const lines = pot.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (!line.startsWith("msgid ")) continue;
    let id = JSON.parse(line.slice("msgid ".length)) as string;
    while ((lines[i + 1] ?? "").startsWith('"')) {
      i++;
      id += JSON.parse(lines[i] ?? '""') as string;
    }
    if (id !== "") ids.add(id);
  }
  return ids;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pot = await exportPot((msg) => console.log(msg));
  mkdirSync(dirname(potPath), { recursive: true });
  writeFileSync(potPath, pot);
  console.log(`${relative(process.cwd(), potPath)}: ${msgids(pot).size} terms`);
}
