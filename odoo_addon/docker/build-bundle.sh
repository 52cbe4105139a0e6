#!/bin/sh
# Builds the OWL bundle into the module: the build stage of odoo_addon/Dockerfile
# runs it, and test/compose/build-bundle.int.test.ts runs it in a copy of what
# that stage copies (no host Node needed for `docker compose build`).
# Run from the repository root (or the stage's WORKDIR, which mirrors it).
set -eu
# Only owl_src's packages (esbuild and the OWL types); lifecycle scripts off:
# the root `prepare` would build before owl_src is complete.
npm ci --workspace owl_src --include-workspace-root=false --ignore-scripts --no-audit --no-fund
node owl_src/scripts/build.ts
bundle=odoo_addon/shopfloor_bridge/static/src/generated/shopfloor_bridge.js
test -s "$bundle" || { echo "build-bundle: $bundle is missing or empty" >&2; exit 1; }
# The components' templates and styles are copied beside the bundle; without
# them the screens render nothing ("Missing template").
generated=$(dirname "$bundle")
test -s "$generated/components/dlq_review/dlq_review.xml" || {
  echo "build-bundle: the component templates are missing under $generated/components" >&2
  exit 1
}
