#!/usr/bin/env bash
# The Odoo module's gates, as OCA repositories run them through pre-commit
# (.pre-commit-config.yaml): ruff (format + lint), pylint-odoo (the mandatory
# checks of .pylintrc-mandatory; tools/lint/check_translations.py for the
# user-facing text they do not see), OCA's odoo-pre-commit-hooks (XML, CSV and
# manifest checks; PO/POT checks on i18n/) and prettier with
# @prettier/plugin-xml on the XML. Part of `npm run lint`; check only, nothing
# is rewritten. To fix:
#   .venv-lint/bin/ruff format odoo_addon && .venv-lint/bin/ruff check --fix odoo_addon
#   node_modules/.bin/prettier --write 'odoo_addon/**/*.xml'
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-lint
REQ=tools/lint/requirements.txt

fail() { printf 'lint-odoo: %s\n' "$*" >&2; exit 1; }

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/ruff" ] || [ ! -x "$VENV/bin/pylint" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  fail "the Python lint tools are missing or not at the versions of $REQ.
  Create them with: bash tools/lint/venv.sh   (.ci/run does it too; they go into $VENV/, never into Odoo's Python)"
fi

# The same versions as .pre-commit-config.yaml: one place may not drift from the other.
pin() { grep -E "^$1==" "$REQ" | cut -d= -f3; }
npm_version() { node -p "require('./node_modules/$1/package.json').version"; }
precommit=.pre-commit-config.yaml
grep -q "rev: v$(pin ruff)\$" "$precommit" || fail "$precommit: ruff-pre-commit rev is not v$(pin ruff) ($REQ)"
grep -q "rev: v$(pin pylint-odoo)\$" "$precommit" || fail "$precommit: pylint-odoo rev is not v$(pin pylint-odoo) ($REQ)"
grep -q "rev: v$(pin oca-odoo-pre-commit-hooks)\$" "$precommit" ||
  fail "$precommit: odoo-pre-commit-hooks rev is not v$(pin oca-odoo-pre-commit-hooks) ($REQ)"
grep -q "\"prettier@$(npm_version prettier)\"" "$precommit" ||
  fail "$precommit: prettier is not $(npm_version prettier) (node_modules, package.json)"
grep -q "\"@prettier/plugin-xml@$(npm_version @prettier/plugin-xml)\"" "$precommit" ||
  fail "$precommit: @prettier/plugin-xml is not $(npm_version @prettier/plugin-xml) (node_modules, package.json)"

echo "ruff format --check"
# test/odoo_addons: the bench-only addon (shopfloor_bridge_bench), held to the same gates.
"$VENV/bin/ruff" format --check odoo_addon test/odoo_addons
echo "ruff check"
"$VENV/bin/ruff" check --no-fix odoo_addon test/odoo_addons
echo "pylint-odoo (.pylintrc-mandatory)"
"$VENV/bin/pylint" --rcfile=.pylintrc-mandatory --output-format=text odoo_addon/shopfloor_bridge test/odoo_addons/shopfloor_bridge_bench
echo "user-facing text through _() (tools/lint/check_translations.py)"
"$VENV/bin/python" tools/lint/check_translations.py odoo_addon/shopfloor_bridge
echo "oca-checks-odoo-module"
"$VENV/bin/oca-checks-odoo-module" odoo_addon/shopfloor_bridge test/odoo_addons/shopfloor_bridge_bench
echo "oca-checks-po (i18n/)"
shopt -s nullglob
po_files=(odoo_addon/*/i18n/*.po odoo_addon/*/i18n/*.pot)
shopt -u nullglob
# po-pretty-format off as in OCA's template: the layout is Odoo's exporter's (npm run i18n).
[ "${#po_files[@]}" -eq 0 ] || "$VENV/bin/oca-checks-po" --disable=po-pretty-format "${po_files[@]}"
echo "prettier --check (XML)"
node_modules/.bin/prettier --check 'odoo_addon/**/*.xml'
echo "lint-odoo: ruff, pylint-odoo, check_translations, OCA's odoo-pre-commit-hooks and prettier pass"
