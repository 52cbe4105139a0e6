#!/usr/bin/env bash
# Creates (or brings up to date) .venv-tools/, the git-ignored virtual
# environment of the packaging tools, from tools/packaging/requirements.txt.
# Idempotent: does nothing when the installed requirements are current.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-tools
REQ=tools/packaging/requirements.txt
stamp="$VENV/.packaging-requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
# Made afresh when the requirements change: a package dropped from them must
# not linger in the venv and hide that something still needs it.
/usr/bin/python3 -m venv --clear "$VENV" || {
  echo "cannot create $VENV: install Debian's python3-venv (apt-get install python3-venv)" >&2
  exit 1
}
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" >"$stamp"
echo "packaging tools installed in $VENV"
