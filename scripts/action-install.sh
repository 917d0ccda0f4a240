#!/usr/bin/env bash
# Installs the phasegate release binary for this runner, verified against the
# release's SHA256SUMS BEFORE it is ever executed. Used by action.yml.
#
# Environment:
#   PHASEGATE_VERSION    release version (`0.1.0`); default: the version in
#                        Cargo.toml next to this script (the action's own commit)
#   PHASEGATE_BASE_URL   where the release assets are: an https:// URL, an
#                        http:// URL of this machine (127.0.0.1, localhost or
#                        [::1]: a mirror on the runner itself, nothing crosses
#                        a network), or a local directory; default the GitHub
#                        release of PHASEGATE_REPO
#   PHASEGATE_REPO       owner/name of the release; default phasegate/phasegate
#   PHASEGATE_INSTALL_DIR  install (and cache) directory; default
#                        $RUNNER_TOOL_CACHE/phasegate/<version>
#   RUNNER_OS, RUNNER_ARCH  as set by GitHub Actions (Linux|macOS, X64|ARM64)
# Prints the binary's path on stdout, and adds its directory to GITHUB_PATH.
# Exit 1 when the checksum does not match (the binary is deleted), 3 when a
# download fails, 2 on an unsupported runner.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

fail() { code="$1"; shift; printf 'phasegate install: %s\n' "$*" >&2; exit "$code"; }

version="${PHASEGATE_VERSION:-}"
if [ -z "$version" ]; then
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../Cargo.toml" | head -n1)"
fi
case "$version" in
  ''|*[!0-9A-Za-z.+-]*) fail 2 "version '$version' is not a release version" ;;
esac

case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64|Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64|Linux/aarch64) target=aarch64-unknown-linux-musl ;;
  macOS/X64|Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64|Darwin/arm64) target=aarch64-apple-darwin ;;
  *) fail 2 "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; set build-from-source: true" ;;
esac
asset="phasegate-$target"
base="${PHASEGATE_BASE_URL:-https://github.com/${PHASEGATE_REPO:-phasegate/phasegate}/releases/download/v$version}"
dir="${PHASEGATE_INSTALL_DIR:-${RUNNER_TOOL_CACHE:-$HOME/.cache}/phasegate/$version}"
mkdir -p "$dir"

# Plain http only to this machine: the host must be exactly a loopback name
# (no userinfo, so `http://127.0.0.1@evil.example/` is not loopback), and
# redirects are not followed, so the answer cannot come from elsewhere.
loopback_http() { # loopback_http URL
  local authority="${1#http://}"
  authority="${authority%%/*}"
  case "$authority" in *@*) return 1 ;; esac
  local host="${authority%:*}"
  case "$authority" in
    \[*\]) host="$authority" ;;
    \[*\]:*) host="${authority%]:*}]" ;;
    *:*) ;;
    *) host="$authority" ;;
  esac
  case "$host" in 127.0.0.1|localhost|\[::1\]) return 0 ;; *) return 1 ;; esac
}

fetch() { # fetch NAME DEST
  case "$base" in
    https://*) curl --fail --silent --show-error --location --proto '=https' --retry 3 -o "$2" "$base/$1" \
                 || fail 3 "could not download $base/$1" ;;
    http://*)
      loopback_http "$base" || fail 2 "refusing plain http to a host other than 127.0.0.1, localhost or [::1]: $base"
      curl --fail --silent --show-error --proto '=http' --max-redirs 0 --retry 3 -o "$2" "$base/$1" \
        || fail 3 "could not download $base/$1" ;;
    *) cp "$base/$1" "$2" 2>/dev/null || fail 3 "no $1 in $base" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# The checksums file is fetched fresh on every run, so a cached binary is
# re-verified against the release, not against the cache.
sums="$(mktemp)"
trap 'rm -f "$sums" "$dir/.$asset.part"' EXIT
fetch SHA256SUMS "$sums"
expected="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$sums" | head -n1)"
[ -n "$expected" ] || fail 1 "SHA256SUMS of v$version lists no $asset"

bin="$dir/phasegate"
if [ ! -f "$bin" ] || [ "$(sha256 "$bin")" != "$expected" ]; then
  rm -f "$bin"
  fetch "$asset" "$dir/.$asset.part"
  actual="$(sha256 "$dir/.$asset.part")"
  if [ "$actual" != "$expected" ]; then
    rm -f "$dir/.$asset.part"
    fail 1 "checksum mismatch for $asset v$version: expected $expected, got $actual; refusing to run it"
  fi
  mv "$dir/.$asset.part" "$bin"
fi
chmod +x "$bin"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$dir" >> "$GITHUB_PATH"; fi
echo "$bin"
