#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (project-local,
# under .tools/), checks formatting and lints, builds every binary the tests drive
# (phasegate and the testcloud provider), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
export PATH="$PWD/.tools/bin:$PATH"
# Every locked crate, for every platform: cargo-deny runs offline in the suite
# and reads crates (windows-sys, android_system_properties, ...) that a build
# on this platform never downloads.
cargo fetch --locked

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --bins --locked
# TLS is rustls everywhere: no OpenSSL may enter the dependency tree.
if cargo tree --workspace --locked -e normal,build -i openssl-sys >/dev/null 2>&1; then
  echo "openssl-sys is in the dependency tree:" >&2
  cargo tree --workspace -i openssl-sys >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
# --no-fail-fast: one failing crate never hides another crate's count.
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, so the count is not that of whichever ran last.
# Per crate (each "Running" or "Doc-tests" line names the binary), then the total.
awk '
  /^ *Running / {
    bin = $NF; gsub(/[()]/, "", bin); sub(/.*\//, "", bin); sub(/-[0-9a-f]+$/, "", bin)
    name = bin " " (($2 == "unittests") ? $3 : $2)
  }
  /^ *Doc-tests / { name = "doc-tests " $2 }
  /^test result:/ { p += $4; f += $6; s += $8; printf "  %-60s %d passed, %d failed, %d skipped\n", name, $4, $6, $8 }
  END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
