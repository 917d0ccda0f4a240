#!/usr/bin/env bash
# Interrupts real Terraform mid-apply many times and counts the runs whose
# state misses an object testcloud created. Not part of the test suite: a
# race that hits 1 run in 20 needs many runs to show, and each takes ~5 s.
#
#   bash tests/testcloud/stress-interrupt.sh [RUNS]    (default 60)
#
# Needs `bash scripts/install-test-deps.sh` and `cargo build -p
# terraform-provider-aws` first. Prints one line per mismatch and a total;
# exits 1 if any run mismatched.
set -euo pipefail
runs="${1:-60}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
terraform="$repo/.tools/bin/terraform"
provider="${CARGO_TARGET_DIR:-$repo/target}/debug/terraform-provider-aws"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

platform="$work/mirror/registry.terraform.io/hashicorp/aws/5.0.0/linux_amd64"
mkdir -p "$platform" "$work/cache"
cp "$provider" "$platform/terraform-provider-aws_v5.0.0"
cat >"$work/terraformrc" <<X
plugin_cache_dir = "$work/cache"
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }
}
X
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1

# Two creates side by side, a third after the first: the shape of the
# engine_cancel tests.
one_run() { # $1: ms to wait after both creates started
  local dir="$work/run" tf n
  rm -rf "$dir" && mkdir -p "$dir/cloud" && cd "$dir"
  cat >main.tf <<'X'
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" { region = "us-east-1" }
resource "aws_s3_bucket" "assets" { bucket = "stress-assets" }
resource "aws_security_group" "web" {
  name        = "stress-web"
  description = "web"
}
resource "aws_security_group" "after" {
  name        = "after-${aws_s3_bucket.assets.id}"
  description = "after"
}
X
  export TESTCLOUD_DIR="$dir/cloud"
  "$terraform" init -input=false >/dev/null
  "$terraform" plan -input=false -out=plan >/dev/null
  TESTCLOUD_DELAY_MS=1500 setsid "$terraform" apply -input=false -json plan >out.json 2>&1 &
  tf=$!
  for _ in $(seq 1 3000); do
    n="$(grep -c '"type":"apply_start"' out.json || true)"
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.01
  done
  sleep "$(awk "BEGIN { print $1 / 1000 }")"
  kill -INT -- "-$tf"
  wait "$tf" || true
  local in_state in_cloud
  in_state="$("$terraform" state list | wc -l)"
  in_cloud="$(find cloud -name '*.json' | wc -l)"
  cd "$work"
  if [ "$in_state" != "$in_cloud" ]; then
    echo "mismatch after ${1} ms: $in_state in the state, $in_cloud in the cloud"
    return 1
  fi
}

bad=0
for i in $(seq 1 "$runs"); do
  one_run $(((i * 37) % 1700)) || bad=$((bad + 1))
done
echo "$bad of $runs interrupted applies left the state short of the cloud"
[ "$bad" -eq 0 ]
