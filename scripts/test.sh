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
cargo test --workspace --locked "$@"
