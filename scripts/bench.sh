#!/usr/bin/env bash
# Reproduces the figures of bench/RESULTS.md (issue 14 §1). Every figure is
# a ratio to a baseline measured in the same run, alternating subject and
# baseline, as child processes timed by bench/measure.py (wall clock and the
# child's peak RSS from wait4). Medians with min and max.
#
#   scripts/bench.sh [--runs N] [--only pipeline|big|checkov|matrix|binary] [--work DIR]
#
# `big` (not part of the default run: it writes a ~400 MB plan and takes
# minutes) runs the whole pipeline once on a 100,000-resource plan under a
# 7 GiB memory limit (`systemd-run --scope -p MemoryMax=7G` where a systemd
# bus answers, else `prlimit --as`), against the IgnoredAny parse.
#
# Writes JSON lines to $work/results.jsonl and the figures table to
# $work/results.md (and stdout). Nothing big is committed: the plans and the
# 2,000-project repository are generated into $work (default a temp dir).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/.tools/bin:$PATH"
runs=7
only=""
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --only) only="$2"; shift ;;
    --work) work="$2"; shift ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
work="${work:-$(mktemp -d /tmp/phasegate-bench.XXXXXX)}"
mkdir -p "$work"
results="$work/results.jsonl"
: >"$results"
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
measure() { python3 bench/measure.py pair "$@" | tee -a "$results"; }
log() { echo "bench.sh: $*" >&2; }

log "building release binaries"
cargo build --release --quiet --bin phasegate --example plangen --example parse_floor
target="${CARGO_TARGET_DIR:-$root/target}"
pg="$target/release/phasegate"
floor="$target/release/examples/parse_floor"
plangen="$target/release/examples/plangen"

{
  echo "{\"machine\": {"
  echo "\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo "\"cores\": $(nproc), \"mem_gib\": $(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),"
  echo "\"kernel\": \"$(uname -r)\", \"load_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "\"rustc\": \"$(rustc --version)\", \"date\": \"$(date -u +%FT%TZ)\"}}"
} | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' | tee -a "$results"

# (a) the whole `phasegate plan --plan-json` (every gate, the comment, the
# summary and the files it writes) against parsing the same bytes into
# serde::de::IgnoredAny; peak RSS against the file's size.
if want pipeline; then
  for n in 1000 5000 20000; do
    plan="$work/plan-$n.json"
    [ -s "$plan" ] || "$plangen" "$n" "$plan"
    ws="$work/ws-$n"
    mkdir -p "$ws"
    bytes=$(stat -c %s "$plan")
    log "pipeline: $n resources, $bytes bytes"
    # exit 1 is a gate saying no (the plan destroys a stateful resource).
    measure "$runs" "pipeline-$n" --ok=0,1 --bytes="$bytes" -- \
      sh -c "cd '$ws' && exec '$pg' plan --plan-json '$plan' --out '$ws/out' --format json" -- \
      "$floor" "$plan"
  done
fi

# (a') 100,000 resources, once, under the memory of a standard 7 GB
# private-repository runner: it must complete; time and peak RSS reported.
if [ "$only" = big ]; then
  n=100000
  plan="$work/plan-$n.json"
  [ -s "$plan" ] || "$plangen" "$n" "$plan"
  ws="$work/ws-$n"
  mkdir -p "$ws"
  bytes=$(stat -c %s "$plan")
  if systemd-run --scope -q -p MemoryMax=7G true 2>/dev/null; then
    limit="systemd-run --scope -q -p MemoryMax=7G -p MemorySwapMax=0"
  else
    limit="prlimit --as=$((7 * 1024 * 1024 * 1024))"
  fi
  log "big: $n resources, $bytes bytes, under: $limit"
  measure 1 "pipeline-$n (limit: $limit)" --ok=0,1 --bytes="$bytes" -- \
    $limit sh -c "cd '$ws' && exec '$pg' plan --plan-json '$plan' --out '$ws/out' --format json" -- \
    $limit "$floor" "$plan"
fi

# (b) the security gate against Checkov on the same plan of ~5,000 created
# AWS resources (the Checkov agreement test's generator, 357 stacks).
if want checkov; then
  plan="$work/checkov-5k.json"
  if [ ! -s "$plan" ]; then
    python3 - "$plan" <<'PY'
import json, sys
src = open("tests/fixtures/checkov/generate.py").read()
exec(src.split("\nout = sys.argv[1]")[0])  # only the generator's definitions
with open(sys.argv[1], "w") as f:
    json.dump(generated_plan(357), f, separators=(",", ":"))
PY
  fi
  log "checkov: $(python3 -c "import json;print(len(json.load(open('$plan'))['resource_changes']))" ) resources"
  ws="$work/ws-checkov"; mkdir -p "$ws"
  ck="$work/ck"; rm -rf "$ck"; mkdir -p "$ck"; cp "$plan" "$ck/"
  # Checkov exits 1 when a check fails; the gate exits 1 when it blocks.
  measure "$(( runs < 3 ? runs : 3 ))" checkov-vs-security-gate --ok=0,1 -- \
    env HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
      "$root/.tools/bin/checkov" --framework terraform_plan -o json --skip-download --compact -f "$ck/checkov-5k.json" -- \
    sh -c "cd '$ws' && exec '$pg' gate security --plan-json '$plan' --format json"
  # Agreement on the crosswalked rules: one more run of each, outputs kept.
  HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 "$root/.tools/bin/checkov" \
    --framework terraform_plan -o json --skip-download --compact -f "$ck/checkov-5k.json" >"$work/checkov.json" 2>/dev/null || true
  (cd "$ws" && "$pg" gate security --plan-json "$plan" --format json >"$work/gate.json") || true
  python3 bench/agreement.py "$work/checkov.json" "$work/gate.json" | tee -a "$results"
fi

# (c) `phasegate matrix` over 2,000 projects against a bare git diff.
if want matrix; then
  repo="$work/repo-2000"
  [ -d "$repo/.git" ] || python3 bench/gen_repo.py "$repo" 2000
  measure "$runs" matrix-2000 -- \
    sh -c "cd '$repo' && exec '$pg' matrix --base HEAD~1 --head HEAD --format json" -- \
    git -C "$repo" diff --name-only HEAD~1 HEAD
fi

# (d) binary size and cold start.
if want binary; then
  size=$(stat -c %s "$pg")
  cp "$pg" "$work/phasegate-stripped" && strip "$work/phasegate-stripped"
  stripped=$(stat -c %s "$work/phasegate-stripped")
  musl="not built: the x86_64-unknown-linux-musl target is not installed"
  if rustup target list --installed | grep -q musl; then
    cargo build --release --quiet --bin phasegate --target x86_64-unknown-linux-musl
    musl=$(stat -c %s "$root/target/x86_64-unknown-linux-musl/release/phasegate")
  fi
  echo "{\"name\": \"binary\", \"release_bytes\": $size, \"stripped_bytes\": $stripped, \"musl\": \"$musl\"}" | tee -a "$results"
  measure $(( runs * 7 )) cold-start -- "$pg" --version -- /bin/true
fi

python3 bench/report.py "$results" | tee "$work/results.md"
log "results in $work"
