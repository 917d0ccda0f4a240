#!/usr/bin/env bash
# actionlint, zizmor (offline) and SchemaStore's schemas over every workflow
# in .github/workflows/ and over action.yml. Installs the three pinned tools
# into .tools/ first (the same parts the test suite uses).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"
log() { printf 'lint-workflows: %s\n' "$*" >&2; }
for part in actionlint zizmor workflow-schema; do
  # shellcheck source=/dev/null
  . "$root/scripts/test-deps.d/$part.sh"
done
cd "$root"
"$tools/bin/actionlint" .github/workflows/*.yml
"$tools/bin/zizmor" --offline .github/workflows action.yml
"$tools/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$tools/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
log "ok"
