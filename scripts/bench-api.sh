#!/usr/bin/env bash
# Reproduces bench/API-BUDGET.md (issue 20, "The GitHub API budget"): N
# concurrent project jobs of one change (plan, apply, verify, review in dev,
# staging and prod), each with its own token, against fakehub, through
# phasegate's own journal, lock and comment code (tests/it/api_budget.rs).
# Counts are requests, not times: a debug build measures the same.
#
#   scripts/bench-api.sh [--projects 10,50,200] [--layout per-job|final-job|both] [--envs 1|2|3] [--out FILE]
#
# --envs N runs only the first N environments (bench/API-BUDGET.md's 50-project row is --envs 1).
#
# Writes the figures as JSON to FILE (default target/api-budget.json) and a
# markdown table to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
projects="10,50,200"
layout="both"
envs=""
out="$root/target/api-budget.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --projects) projects="$2"; shift ;;
    --layout) layout="$2"; shift ;;
    --envs) envs="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "bench-api.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$(dirname "$out")"
if [ -n "$envs" ]; then export PHASEGATE_BENCH_ENVS="$envs"; fi
PHASEGATE_BENCH_PROJECTS="$projects" PHASEGATE_BENCH_LAYOUT="$layout" PHASEGATE_BENCH_OUT="$out" \
  cargo test --locked --test it -- --ignored --exact api_budget::bench_api_budget --nocapture >&2
python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
print("| projects | comment | project-steps | requests | counted (not 304) | content-creating | per project-step | content-creating per project-step | CAS retries | failed jobs | within 1,000/h | within 500/h content-creating |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
for r in runs:
    print(f"| {r['projects']} | {r['comment']} | {r['project_steps']} | {r['requests']} | {r['counted']} | "
          f"{r['content_creating']} | {r['per_project_step']:.1f} | {r['content_creating_per_project_step']:.1f} | "
          f"{r['cas_retries']} | {r['failed_jobs']} | {'yes' if r['counted'] <= 1000 else 'no'} | "
          f"{'yes' if r['content_creating'] <= 500 else 'no'} |")
PY
