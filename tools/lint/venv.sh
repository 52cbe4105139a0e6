#!/usr/bin/env bash
# Creates (or brings up to date) .venv-lint/, the git-ignored virtual
# environment of the Python lint tools, from tools/lint/requirements.txt.
# Idempotent: does nothing when the installed requirements are current.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-lint
REQ=tools/lint/requirements.txt
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV" || {
  echo "cannot create $VENV: install Debian's python3-venv (apt-get install python3-venv)" >&2
  exit 1
}
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" >"$stamp"
echo "lint tools installed in $VENV"
