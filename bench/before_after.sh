#!/usr/bin/env bash
# Two builds of phasegate on the same plans, in the same run, each against
# the IgnoredAny floor (issue 20's before/after table), then the byte
# comparison of what both show (bench/compare.py) on the same plans.
#
#   bench/before_after.sh BEFORE_BIN AFTER_BIN FLOOR_BIN WORK RUNS PLAN...
#
# Writes $WORK/results.jsonl (one line per binary and plan, as
# scripts/bench.sh does) and prints the figures table.
set -euo pipefail
before="$1" after="$2" floor="$3" work="$4" runs="$5"
shift 5
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$work"
results="$work/results.jsonl"
: >"$results"
{
  echo "{\"machine\": {"
  echo "\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo "\"cores\": $(nproc), \"mem_gib\": $(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),"
  echo "\"kernel\": \"$(uname -r)\", \"load_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "\"rustc\": \"$(rustc --version)\", \"date\": \"$(date -u +%FT%TZ)\"}}"
} | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' >>"$results"
for plan in "$@"; do
  name=$(basename "$plan" .json)
  bytes=$(stat -c %s "$plan")
  for side in before after; do
    bin=$before
    [ "$side" = after ] && bin=$after
    ws="$work/ws-$side-$name"
    mkdir -p "$ws"
    python3 "$root/bench/measure.py" pair "$runs" "$side $name" --ok=0,1 --bytes="$bytes" -- \
      sh -c "cd '$ws' && exec '$bin' plan --plan-json '$plan' --out '$ws/out' --format json" -- \
      "$floor" "$plan" | tee -a "$results"
  done
done
python3 "$root/bench/report.py" "$results"
