#!/usr/bin/env bash
# Regenerates the module's README.rst and static/description/index.html from
# readme/*.md and __manifest__.py, in the layout of OCA modules' READMEs, with
# tools/packaging/gen_readme.py (run in .venv-tools/, see venv.sh).
# ADDON_DIR names another module directory (the README test uses a copy).
# Extra arguments go to the generator (e.g. --if-source-changed).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/packaging/venv.sh
ADDON_DIR="${ADDON_DIR:-odoo_addon/shopfloor_bridge}"
exec .venv-tools/bin/python tools/packaging/gen_readme.py --addon-dir "$ADDON_DIR" "$@"
