# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# zizmor (GitHub Actions security audits) from PyPI, pinned, into its own
# virtualenv. The tests run it with --offline: no audit may reach GitHub.
zizmor_version=1.32.0
zizmor_shown="$("$tools/zizmor/bin/zizmor" --version 2>/dev/null || true)"
if [ "$zizmor_shown" != "zizmor $zizmor_version" ]; then
  log "installing zizmor==$zizmor_version from PyPI into a virtualenv"
  python3 -m venv "$tools/zizmor"
  "$tools/zizmor/bin/pip" install --quiet --disable-pip-version-check "zizmor==$zizmor_version"
fi
ln -sf ../zizmor/bin/zizmor "$tools/bin/zizmor"
