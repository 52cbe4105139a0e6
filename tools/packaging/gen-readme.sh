#!/usr/bin/env bash
# Regenerates the module's README.rst and static/description/index.html from
# readme/*.md and __manifest__.py with OCA's oca-gen-addon-readme (vendored in
# tools/vendor/oca_maintainer_tools; run in .venv-tools/, see venv.sh).
# Extra arguments go to the generator (e.g. --if-source-changed).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/packaging/venv.sh
ADDON_DIR="${ADDON_DIR:-odoo_addon/shopfloor_bridge}"
PYTHONPATH=tools/vendor exec .venv-tools/bin/python -m oca_maintainer_tools.gen_addon_readme \
  --org-name shopfloor-bridge --repo-name shopfloor-bridge --branch 18.0 \
  --addon-dir "$ADDON_DIR" "$@"
