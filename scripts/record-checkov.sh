#!/usr/bin/env bash
# Records what Checkov 3.3.30 says about every plan the security agreement
# test compares against (tests/it/security_gate.rs), so the test does not run
# Checkov (about a minute on a large plan) every time. One live test still runs
# Checkov on a small plan to prove these recordings are current.
#
# Plans recorded:
#   tests/fixtures/checkov/plans/*.json      Checkov's own terraform_plan fixtures
#   tests/fixtures/checkov/terraform/*.json  plans real Terraform 1.0.3 makes in the test suite
#   tests/fixtures/security/*.json           the security gate's planted/clean fixtures
#   tests/fixtures/checkov/generated/*.json  two large plans from tests/fixtures/checkov/generate.py
# Results go to tests/fixtures/checkov/results/<set>/<plan>.json: for each
# check Checkov ran, the resource and PASSED/FAILED, sorted.
#
# Usage: bash scripts/record-checkov.sh [--no-terraform] [--no-generated] [--sets "plans generated terraform security"] [--only NAME]
# Offline: Checkov runs with --skip-download and a dead proxy.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/.tools/bin:$PATH"
checkov="$root/.tools/bin/checkov"
[ -x "$checkov" ] || { echo "checkov missing: run bash scripts/install-test-deps.sh" >&2; exit 3; }
version="$("$checkov" --version 2>/dev/null | tail -n1)"
[ "$version" = "3.3.30" ] || { echo "checkov $version found, 3.3.30 expected" >&2; exit 3; }

terraform=1
generated=1
sets="plans generated terraform security"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-terraform) terraform=0 ;;
    --no-generated) generated=0 ;;
    --sets) sets="$2"; shift ;;
    --only) only="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

out="$root/tests/fixtures/checkov/results"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The large generated plans come from a deterministic generator; the
# real-Terraform plans from the test crate, where the test bed is.
mkdir -p "$root/tests/fixtures/checkov/generated" "$root/tests/fixtures/checkov/terraform"
if [ "$generated" = 1 ]; then
  python3 tests/fixtures/checkov/generate.py tests/fixtures/checkov/generated
fi
if [ "$terraform" = 1 ]; then
  PG_CHECKOV_WRITE="$root/tests/fixtures/checkov/terraform" cargo test --quiet --test it \
    security_gate::write_real_terraform_plans -- --ignored --exact >/dev/null
fi

# Checkov takes seconds to start, so each set runs as one Checkov over a
# directory; the report is split per plan file, reduced to sorted
# (check, resource, result) rows.
split_py='
import json, os, sys
out_dir, set_name, plans_dir = sys.argv[1], sys.argv[2], sys.argv[3]
raw = sys.stdin.read()
data = json.loads(raw) if raw.strip() else []
reports = data if isinstance(data, list) else [data]
rows = {name: set() for name in os.listdir(plans_dir) if name.endswith(".json")}
for rep in reports:
    if not isinstance(rep, dict) or "results" not in rep:
        continue
    for key, result in (("passed_checks", "PASSED"), ("failed_checks", "FAILED")):
        for c in rep["results"].get(key, []):
            name = os.path.basename(c["file_path"])
            rows.setdefault(name, set()).add((c["check_id"], c.get("resource_address") or c["resource"], result))
os.makedirs(out_dir, exist_ok=True)
for name, found in sorted(rows.items()):
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump({"checkov": "3.3.30", "plan": set_name + "/" + name,
                   "results": [{"check_id": i, "resource": r, "result": s} for i, r, s in sorted(found)]},
                  f, indent=1)
        f.write("\n")
'

record_set() { # set directory-of-plans
  local set="$1" dir="$2" tmp="$work/set-$1"
  mkdir -p "$tmp"
  for p in "$dir"/*.json; do
    [ -e "$p" ] || continue
    [ -z "$only" ] || [ "$only" = "$(basename "$p")" ] || continue
    cp "$p" "$tmp/"
  done
  [ -n "$(ls "$tmp")" ] || return 0
  # Checkov exits 1 when a check fails: that is the point, not an error.
  { HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
      "$checkov" --framework terraform_plan -o json --skip-download --compact -d "$tmp" \
      2>/dev/null || true; } | python3 -c "$split_py" "$out/$set" "$set" "$tmp"
  echo "recorded $set: $(ls "$tmp" | wc -l) plans" >&2
}

for set in $sets; do
  case "$set" in
    plans) record_set plans tests/fixtures/checkov/plans ;;
    generated) record_set generated tests/fixtures/checkov/generated ;;
    terraform) record_set terraform tests/fixtures/checkov/terraform ;;
    security) record_set security tests/fixtures/security ;;
  esac
done
