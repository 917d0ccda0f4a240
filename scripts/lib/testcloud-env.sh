# Sourced by scripts that run the project-local Terraform against testcloud.
# `testcloud_env DIR` builds the provider, lays out a filesystem mirror that serves it as
# registry.terraform.io/hashicorp/aws, writes a CLI config, and exports the environment
# Terraform needs. Nothing from the machine's own Terraform settings is kept.
# Expects: $root (the repository). Sets: $terraform, $provider_version.

provider_version="5.0.0" # must match PROVIDER_VERSION in tests/it/testbed.rs
terraform="$root/.tools/bin/terraform"

testcloud_env() {
  local tmp="$1"
  if [ ! -x "$terraform" ]; then
    printf 'no Terraform at %s: run scripts/install-test-deps.sh first\n' "$terraform" >&2
    exit 3
  fi
  (cd "$root" && cargo build --quiet -p terraform-provider-aws)
  local provider="${CARGO_TARGET_DIR:-$root/target}/debug/terraform-provider-aws"
  case "$provider" in /*) ;; *) provider="$root/$provider" ;; esac

  while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^TF_' || true)
  local mirror="$tmp/mirror"
  local platform_dir="$mirror/registry.terraform.io/hashicorp/aws/$provider_version/linux_amd64"
  mkdir -p "$platform_dir" "$tmp/plugin-cache" "$tmp/cloud"
  cp "$provider" "$platform_dir/terraform-provider-aws_v$provider_version"
  cat >"$tmp/terraformrc" <<CFG
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
CFG
  export TF_CLI_CONFIG_FILE="$tmp/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
  export TESTCLOUD_DIR="$tmp/cloud"
}
