# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# check-jsonschema from PyPI, pinned: it vendors SchemaStore's `github-workflow`
# and `github-action` schemas, used offline through `--builtin-schema
# vendor.github-workflows` / `vendor.github-actions`.
check_jsonschema_version=0.39.0
cj_shown="$("$tools/check-jsonschema/bin/check-jsonschema" --version 2>/dev/null || true)"
case "$cj_shown" in
  *" $check_jsonschema_version") ;;
  *)
    log "installing check-jsonschema==$check_jsonschema_version from PyPI into a virtualenv"
    python3 -m venv "$tools/check-jsonschema"
    "$tools/check-jsonschema/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$check_jsonschema_version"
    ;;
esac
ln -sf ../check-jsonschema/bin/check-jsonschema "$tools/bin/check-jsonschema"
