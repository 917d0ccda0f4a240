#!/usr/bin/env bash
# The quickstart for real: Terraform 1.0.3 (installed by scripts/install-test-deps.sh) plans
# examples/quickstart/infra against testcloud, the test provider that emulates a small cloud on the
# local disk, and phasegate runs the dev phase's plan job over it and prints the PR comment.
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
PATH="$(dirname "$terraform"):$PATH" "$phasegate" \
  --config phasegate.yml --change change.yml \
  plan --env dev --out "$tmp/out" --format markdown
