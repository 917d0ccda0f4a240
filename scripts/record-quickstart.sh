#!/usr/bin/env bash
# Re-records the quickstart's Terraform plans from scratch, with the project-local Terraform 1.0.3
# planning examples/quickstart/infra against testcloud (the test provider served as hashicorp/aws):
#
#   examples/quickstart/plan.json          `terraform show -json` of the first plan (all creates)
#   examples/quickstart/plan-replace.json  after applying it: the bucket renamed (a replace) and
#                                          the instance resized behind Terraform's back (drift)
#
# The output of `terraform show -json` is written as Terraform prints it; nothing is scrubbed.
# Ids are derived from the configuration, so re-recording an unchanged stack gives the same files.
# Needs: scripts/install-test-deps.sh run once (Terraform in .tools/), and cargo.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
example="$root/examples/quickstart"

log() { printf 'record-quickstart: %s\n' "$*" >&2; }

# shellcheck source=lib/testcloud-env.sh
. "$root/scripts/lib/testcloud-env.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "building the testcloud provider"
testcloud_env "$tmp"
mkdir -p "$tmp/work"
cp "$example"/infra/*.tf "$tmp/work/"

tf() { (cd "$tmp/work" && "$terraform" "$@"); }

log "init"
tf init -no-color -input=false >/dev/null
log "plan (everything new) -> examples/quickstart/plan.json"
tf plan -no-color -input=false -lock=false -out=first.tfplan >/dev/null
tf show -no-color -json first.tfplan >"$example/plan.json"

log "apply the first plan"
tf apply -no-color -input=false -lock=false first.tfplan >/dev/null

log "rename the bucket in the code, resize the instance out of band"
sed -i 's/bucket = "quickstart-${var.environment}-assets"/bucket = "quickstart-${var.environment}-assets-v2"/' \
  "$tmp/work/main.tf"
grep -q 'assets-v2' "$tmp/work/main.tf" || { log "the bucket name was not found in main.tf"; exit 2; }
instance_files=("$tmp/cloud/aws_instance/"*.json)
[ "${#instance_files[@]}" = 1 ] || { log "expected one stored instance"; exit 2; }
sed -i 's/"instance_type": "t3.micro"/"instance_type": "t3.large"/' "${instance_files[0]}"
grep -q '"t3.large"' "${instance_files[0]}" || { log "the instance type was not found"; exit 2; }

log "plan (replace + drift) -> examples/quickstart/plan-replace.json"
tf plan -no-color -input=false -lock=false -out=replace.tfplan >/dev/null
tf show -no-color -json replace.tfplan >"$example/plan-replace.json"

log "done"
