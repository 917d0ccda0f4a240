#!/usr/bin/env bash
# Runs one cargo-fuzz target for a wall-clock budget and records the outcome.
#
#   scripts/fuzz.sh <target> <seconds>      # e.g. scripts/fuzz.sh plan_json 600
#   scripts/fuzz.sh --install               # only install the pinned cargo-fuzz
#
# cargo-fuzz is installed pinned into .tools (idempotent). The run uses the
# nightly toolchain (libFuzzer needs -Zsanitizer), `nice -n 10` because the
# machine is shared, the committed seed corpus fuzz/seeds/<target> read-only
# and a scratch corpus under fuzz/corpus/<target> (ignored by git). The last
# libFuzzer status line and any crash files go to fuzz/runs/<target>.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
cargo_fuzz_version=0.13.2
export PATH="$tools/bin:$PATH"

if ! cargo-fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  echo "fuzz.sh: installing cargo-fuzz $cargo_fuzz_version into .tools" >&2
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version" --root "$tools" >&2
fi
[[ "${1:-}" == "--install" ]] && exit 0

target="${1:?usage: scripts/fuzz.sh <target> <seconds>}"
seconds="${2:?usage: scripts/fuzz.sh <target> <seconds>}"
cd "$root/fuzz"
mkdir -p "corpus/$target" runs "seeds/$target"
log="runs/$target.log"
start=$(date -u +%FT%TZ)
set +e
nice -n 10 cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  >"$log" 2>&1
status=$?
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
crashes=$(ls artifacts/"$target" 2>/dev/null | grep -c '^\(crash\|oom\|timeout\|leak\)' || true)
echo "$target start=$start seconds=$seconds execs=${execs:-?} artifacts=${crashes:-0} exit=$status" | tee -a runs/summary.txt
exit $status
