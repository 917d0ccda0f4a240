#!/usr/bin/env bash
# The quickstart for real: Terraform 1.0.3 (installed by scripts/install-test-deps.sh) plans
# examples/quickstart/infra against testcloud, the test provider that emulates a small cloud on the
# local disk, and phasegate runs phase 1 (dev) as CI would, one process per step: plan (prints the
# PR comment), apply (checkpoint, digest-bound apply of the saved plan, convergence re-plan), then
# status, which prints where the change stands and the next step.
# No GitHub token and no cloud credentials are used; everything happens in a temporary directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/testcloud-env.sh
. "$root/scripts/lib/testcloud-env.sh"

[ -x "$terraform" ] || bash "$root/scripts/install-test-deps.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
testcloud_env "$tmp"
cp -r "$root/examples/quickstart" "$tmp/work"
(cd "$root" && cargo build --quiet --bin phasegate)
phasegate="${CARGO_TARGET_DIR:-$root/target}/debug/phasegate"
case "$phasegate" in /*) ;; *) phasegate="$root/$phasegate" ;; esac

cd "$tmp/work"
export PATH="$(dirname "$terraform"):$PATH"
# The journal's store: a directory here; in Actions the repository itself.
export PHASEGATE_STORE_DIR="$tmp/store"
pg() { "$phasegate" --config phasegate.yml --change change.yml "$@"; }

echo "== phasegate plan --phase 1"
pg plan --phase 1 --out "$tmp/out" --format markdown
echo
echo "== phasegate apply --phase 1"
pg apply --phase 1 --out "$tmp/out"
echo
echo "== phasegate status"
pg status
