#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (project-local,
# under .tools/), checks formatting and lints, builds every binary the tests drive
# (phasegate and the testcloud provider), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
export PATH="$PWD/.tools/bin:$PATH"

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
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, so the count is not that of whichever ran last.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
