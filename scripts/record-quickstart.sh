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
terraform="$root/.tools/bin/terraform"
example="$root/examples/quickstart"
version="5.0.0" # must match PROVIDER_VERSION in tests/it/testbed.rs

log() { printf 'record-quickstart: %s\n' "$*" >&2; }

if [ ! -x "$terraform" ]; then
  log "no Terraform at $terraform: run scripts/install-test-deps.sh first"
  exit 3
fi

log "building the testcloud provider"
(cd "$root" && cargo build --quiet -p terraform-provider-aws)
provider="${CARGO_TARGET_DIR:-$root/target}/debug/terraform-provider-aws"
case "$provider" in /*) ;; *) provider="$root/$provider" ;; esac

# Nothing from the machine's Terraform settings (its TF_CLI_CONFIG_FILE, ~/.terraformrc, TF_LOG…)
# may reach the recording: everything lives in a throwaway directory.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^TF_' || true)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mirror="$tmp/mirror"
platform_dir="$mirror/registry.terraform.io/hashicorp/aws/$version/linux_amd64"
mkdir -p "$platform_dir" "$tmp/plugin-cache" "$tmp/cloud" "$tmp/work"
cp "$provider" "$platform_dir/terraform-provider-aws_v$version"
cat >"$tmp/terraformrc" <<EOF
plugin_cache_dir = "$tmp/plugin-cache"
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
cp "$example"/infra/*.tf "$tmp/work/"

export TF_CLI_CONFIG_FILE="$tmp/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export TESTCLOUD_DIR="$tmp/cloud"
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
