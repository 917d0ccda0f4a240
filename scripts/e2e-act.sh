#!/usr/bin/env bash
# End to end under a real workflow runner: the workflows `phasegate init`
# generates, run by nektos/act (on the host, no Docker) from PR to prod,
# against fakehub-server (GitHub's REST API, every request checked against
# GitHub's OpenAPI description), real Terraform 1.0.3 and testcloud.
# Nothing leaves 127.0.0.1. What is real and what is a stand-in:
# tests/act/README.md.
#
# Steps, each one act invocation with its own event payload:
#   install   the action installs phasegate from a loopback mirror through
#             scripts/action-install.sh (checksum verified); a tampered
#             binary is refused (exit 1) and deleted
#   pr7       pull_request opened: one comment, a check run per environment
#   push7     the merge lands: dev -> staging (approved) -> prod (approved)
#   pr8       the next PR (app only) is opened and planned
#   push8     its merge with prod NOT approved: prod's apply refuses
#   approve-* `/phasegate approve staging <digest>` by a maintainer, and by a
#             user without permission
#   drift-*   schedule after an out-of-band edit: opens, updates, closes;
#             dev's health check (a status page on loopback) is probed by the
#             same runs and keeps the issue open while it fails
#   ops-*     PR 9's change plan: an operation step outlives its apply job
#             (waiting) and the continuation workflow finishes it
#   push10    with app reading network's group id (tests/act/changes/order/
#             project-order.yml: an input), PR 10 changes both: dev's chain
#             applies network, then plans app with the id and applies it
#             (dev only: `-j review-dev`)
#
# Prints one JSON line on stdout (everything else goes to stderr):
#   {"jobs": {"<step>:<workflow>/<job>": "success|failure|skipped"},
#    "journal_state": ..., "comments": N, "check_runs": N,
#    "drift_issues_open": N, "refusals": [...], ...}
# Exit 0 when every step ran (the JSON says how each went), 3 when the
# harness itself failed.
#
# Environment: CARGO_TARGET_DIR (shared builds), PHASEGATE_BIN (a phasegate
# binary already built from this tree; else it is built here), E2E_ACT_KEEP=1
# keeps the work directory and prints where it is, E2E_ACT_UNTIL=<step> stops
# after that step (install, pr7, push7, push8, approve, drift, ops).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
log() { printf 'e2e-act: %s\n' "$*" >&2; }
die() { log "$*"; exit 3; }

# The runner's jobs inherit this environment: nothing of an outer CI job or
# of the caller's phasegate settings may reach them.
phasegate_bin="${PHASEGATE_BIN:-}"
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(GITHUB_|ACTIONS_|RUNNER_|PHASEGATE_)' || true)

# --- tools and binaries, built once -----------------------------------------
bash "$root/scripts/install-test-deps.sh" >&2 </dev/null
act="$root/.tools/bin/act"
[ -x "$act" ] || die "no act at $act after scripts/install-test-deps.sh"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
log "building phasegate, fakehub-server and testcloud"
if [ -n "$phasegate_bin" ]; then
  # The caller built phasegate already (the test suite passes its own).
  (cd "$root" && cargo build --quiet -p fakehub -p terraform-provider-aws --bins) >&2
  phasegate="$phasegate_bin"
else
  (cd "$root" && cargo build --quiet -p phasegate -p fakehub -p terraform-provider-aws --bins) >&2
  phasegate="$target/debug/phasegate"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/phasegate-e2e-act.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${E2E_ACT_KEEP:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work"/{git/acme,action,release,tampered,artifacts,act-cache,home,logs,events,state}
# act reads ~/.actrc (and asks for an image on a terminal without one).
: >"$work/home/.actrc"

# Terraform with testcloud as hashicorp/aws from a filesystem mirror
# (exports TF_CLI_CONFIG_FILE, TESTCLOUD_DIR: the jobs inherit them).
# shellcheck source=lib/testcloud-env.sh
. "$root/scripts/lib/testcloud-env.sh"
testcloud_env "$work/tf"
export PATH="$root/.tools/bin:$PATH"

# --- phasegate's action: the working tree, at the SHA the workflows pin ------
# Its files as they are on disk, committed or not. The test, benchmark and
# documentation trees are left out: the action never reads them, and act
# copies the action's whole directory for every step that uses it.
action_sha="$(git -C "$root" rev-parse HEAD)"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do
    case "$f" in tests/* | fuzz/* | bench/* | benches/* | examples/* | docs/*) continue ;; esac
    [ -e "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf -) | tar -C "$work/action" -xf -

# The release the action installs: the binary named as action-install.sh
# expects it, and SHA256SUMS. The tampered one lists the real sum for a
# binary that differs by one byte.
asset=phasegate-x86_64-unknown-linux-musl
cp "$phasegate" "$work/release/$asset"
# Without debug info: every job downloads and hashes it.
strip "$work/release/$asset" 2>/dev/null || true
(cd "$work/release" && sha256sum "$asset" >SHA256SUMS)
cp "$work/release/SHA256SUMS" "$work/tampered/SHA256SUMS"
{ cat "$work/release/$asset"; printf '\0'; } >"$work/tampered/$asset"

# --- servers on loopback ------------------------------------------------------
serve_dir() { # serve_dir DIR VAR: a static server of DIR on 127.0.0.1; its URL into VAR
  # (not run in a command substitution: its pid must reach the cleanup)
  local out="$work/logs/http-$(basename "$1").log"
  python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0 >"$out" 2>&1 &
  pids+=($!)
  local i port
  for i in $(seq 100); do
    port="$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$out" | head -n1)"
    if [ -n "$port" ]; then printf -v "$2" 'http://127.0.0.1:%s' "$port"; return; fi
    sleep 0.05
  done
  die "the static server for $1 did not start: $(cat "$out")"
}
mirror=""
tampered_mirror=""
serve_dir "$work/release" mirror
serve_dir "$work/tampered" tampered_mirror

"$target/debug/fakehub-server" --addr-file "$work/fakehub.json" >"$work/logs/fakehub.out" 2>"$work/logs/fakehub.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/fakehub.json" ] && break; sleep 0.05; done
[ -s "$work/fakehub.json" ] || die "fakehub-server did not start: $(cat "$work/logs/fakehub.err")"
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
api="$(json_field "$work/fakehub.json" api)"
graphql="$(json_field "$work/fakehub.json" graphql)"
control="$(json_field "$work/fakehub.json" control)"

hub() { # hub METHOD PATH [JSON]: the control API; prints the answer
  local out
  out="$(curl --silent --show-error --fail-with-body -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$control$2")" || die "fakehub control $1 $2: $out"
  printf '%s\n' "$out"
}

# --- the repository: tests/act/repo, configured by `phasegate init` ----------
repo="$work/git/acme/infra"
cp -R "$root/tests/act/repo" "$repo"
find "$repo" -name '*.hcl' -exec sed -i "s|@STATE_DIR@|$work/state|" {} +
"$phasegate" init --dir "$repo" --action "phasegate/phasegate@$action_sha" </dev/null >&2
grep -q 'backend_config: \["backend/dev.hcl"\]' "$repo/phasegate.yml" ||
  die "phasegate init gave the projects no per-environment backend config: $(cat "$repo/phasegate.yml")"
# dev's one health check: a status page the harness serves (and breaks).
printf 'ok\n' >"$work/release/status.txt"
python3 - "$repo/phasegate.yml" "$mirror/status.txt" <<'PY'
import sys
path, url = sys.argv[1:3]
text = open(path).read()
dev = '  - name: "dev"\n'
if dev not in text:
    raise SystemExit(f"{path}: no dev environment")
check = f'    checks:\n      - kind: http\n        name: status page\n        url: "{url}"\n        body_contains: ok\n'
open(path, "w").write(text.replace(dev, dev + check, 1))
PY
wf="$repo/.github/workflows"
for f in pr promote approve drift; do
  [ -f "$wf/phasegate-$f.yml" ] || die "phasegate init wrote no $wf/phasegate-$f.yml"
done

git_() { git -C "$repo" -c user.name=e2e -c user.email=e2e@example.invalid -c commit.gpgsign=false "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m "infrastructure with phasegate"
base="$(git_ rev-parse HEAD)"

# PR 7 changes all three projects; PR 8, opened after 7 merged, only app.
# Each PR's merge commit is what refs/pull/<n>/merge shows and, once merged,
# what main points at.
pr_branch() { # pr_branch N FROM: prints "head merge"
  git_ checkout -q -b "pr-$1" "$2"
  cp -R "$root/tests/act/changes/pr-$1/." "$repo/"
  # A PR that brings a change plan names it in the config and carries the
  # fixture operation its steps run.
  if [ -f "$repo/phasegate.yml.append" ]; then
    cat "$repo/phasegate.yml.append" >>"$repo/phasegate.yml"
    rm "$repo/phasegate.yml.append"
    mkdir -p "$repo/ops"
    cp "$root/tests/fixtures/operations/op.sh" "$repo/ops/op.sh"
    sed -i "s|@OPS_STATE@|$work/ops-state|" "$repo/change.yml"
  fi
  git_ add -A
  git_ commit -q -m "change $1"
  local head
  head="$(git_ rev-parse HEAD)"
  git_ checkout -q --detach "$2"
  git_ merge -q --no-ff -m "Merge pull request #$1" "pr-$1"
  local merge
  merge="$(git_ rev-parse HEAD)"
  git_ update-ref "refs/pull/$1/merge" "$merge"
  echo "$head $merge"
}
read -r head7 merge7 < <(pr_branch 7 "$base")
read -r head8 merge8 < <(pr_branch 8 "$merge7")
read -r head9 merge9 < <(pr_branch 9 "$merge8")
# Before PR 10, main orders the projects: tests/act/changes/order/
# project-order.yml goes into phasegate.yml (each key a project, its lines
# added to that project's entry) with the output and variable it names
# (order/network, order/app), `phasegate workflows generate` writes the
# per-level chain, and PR 9's change plan is retired. That commit's own push
# run is not part of the scenario; PR 10's diff is its two projects.
order_commit() { # order_commit FROM: prints the commit
  git_ checkout -q --detach "$1"
  cp -R "$root/tests/act/changes/order/network/." "$repo/network/"
  cp -R "$root/tests/act/changes/order/app/." "$repo/app/"
  python3 - "$repo/phasegate.yml" "$root/tests/act/changes/order/project-order.yml" <<'PY'
import re, sys
path, order = sys.argv[1:3]
text = open(path).read()
entries, name = {}, None
for line in open(order):
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    if not line.startswith(" "):
        name = line.split(":", 1)[0].strip()
        entries[name] = []
    else:
        entries[name].append("  " + line)
for name, lines in entries.items():
    entry = re.search(rf'^  - name: "{re.escape(name)}"\n    dir: .*\n', text, re.M)
    if not entry:
        raise SystemExit(f"{path}: no project {name}")
    text = text[: entry.end()] + "".join(lines) + text[entry.end() :]
open(path, "w").write(text)
PY
  git_ rm -q change.yml
  (cd "$repo" && "$phasegate" workflows generate) >&2
  grep -q 'apply-dev-level-1:' "$wf/phasegate-promote.yml" ||
    die "workflows generate wrote no per-level chain: $(cat "$repo/phasegate.yml")"
  git_ add -A
  git_ commit -q -m "order the projects"
  git_ rev-parse HEAD
}
ordered="$(order_commit "$merge9")"
read -r head10 merge10 < <(pr_branch 10 "$ordered")
git_ checkout -q main
printf '{"7": "%s", "8": "%s", "9": "%s", "10": "%s"}\n' "$head7" "$head8" "$head9" "$head10" >"$work/heads.json"

runner_token="ghs_actRunnerToken$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
harness_token="ghs_harnessReader$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
hub POST /seed "$(cat <<JSON
{"repo": "acme/infra", "runner_token": "$runner_token",
 "permissions": {"lead-bob": "maintain", "dev-alice": "write", "outsider-eve": "read"},
 "pulls": [{"number": 7, "author": "dev-alice", "head": "$head7"},
           {"number": 8, "author": "dev-alice", "head": "$head8"},
           {"number": 9, "author": "dev-alice", "head": "$head9"},
           {"number": 10, "author": "dev-alice", "head": "$head10"}],
 "environments": {"dev": {}, "staging": {"reviewers": ["lead-bob"], "prevent_self_review": true},
                  "prod": {"reviewers": ["lead-bob"], "prevent_self_review": true}},
 "tokens": [{"token": "$harness_token", "permissions": {"contents": "read", "pull_requests": "read", "issues": "read", "checks": "read", "actions": "read"}}]}
JSON
)" >/dev/null

# The change's journal as the product folds it, read with a read-only token.
status_of() { # status_of PR: `phasegate status --format json` for change PR-<n>
  local dir="$work/status-$1"
  mkdir -p "$dir"
  printf '{"number": %s, "pull_request": {"number": %s, "user": {"login": "dev-alice"}, "head": {"sha": "0000000000000000000000000000000000000000"}, "base": {"ref": "main"}}}' "$1" "$1" >"$dir/event.json"
  (cd "$repo" && env GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/infra GITHUB_EVENT_NAME=pull_request \
    GITHUB_EVENT_PATH="$dir/event.json" GITHUB_API_URL="$api" GITHUB_GRAPHQL_URL="$graphql" \
    GITHUB_TOKEN="$harness_token" GITHUB_RUN_ID=1 GITHUB_OUTPUT="$dir/output" GITHUB_STEP_SUMMARY="$dir/summary" \
    NO_COLOR=1 "$phasegate" status --format json) 2>"$dir/stderr"
}
# --- the summary ----------------------------------------------------------------------
summary() {
  hub GET "/state?repo=acme/infra" >"$work/state.json"
  # PR 7 and 8 are read before main carries PR 9's change plan (which names
  # the change every command reads from then on).
  [ -s "$work/status-7.json" ] || status_of 7 >"$work/status-7.json" || true
  [ -s "$work/status-8.json" ] || status_of 8 >"$work/status-8.json" || true
  if [ -f "$repo/change.yml" ]; then status_of 9 >"$work/status-9.json" || true; fi
  python3 - "$work" "${prod_before:-}" "${prod_after:-}" <<'PY'
import json, os, sys
work, prod_before, prod_after = sys.argv[1:4]
state = json.load(open(os.path.join(work, "state.json")))
jobs = {}
for line in open(os.path.join(work, "results.jsonl")):
    r = json.loads(line)
    jobs[r["key"]] = r["result"]

def status(n):
    try:
        return json.load(open(os.path.join(work, f"status-{n}.json")))
    except (OSError, ValueError):
        return {}

s7, s8 = status(7), status(8)
ours = lambda c: c["user"]["login"] == "github-actions[bot]"
drift = [i for i in state["issues"] if any("drift" in l["name"] for l in i["labels"])]
drift_numbers = {str(i["number"]) for i in drift}
# The PRs' comments (the drift issues' own comments are counted apart).
comments = {n: [c for c in cs if ours(c)] for n, cs in state["comments"].items() if n not in drift_numbers}
timeline = []
try:
    timeline = [json.loads(l) for l in open(os.path.join(work, "drift-timeline.jsonl"))]
except OSError:
    pass
refusals = []
for n, cs in sorted(comments.items()):
    for c in cs:
        for line in c["body"].splitlines():
            if "refused" in line.lower() or "no approval recorded" in line.lower():
                refusals.append(f"PR-{n}: {line.strip()[:300]}")
refusals += [f"403 {d['method']} {d['path']} ({d.get('job')})" for d in state["denied"]]
heads = json.load(open(os.path.join(work, "heads.json")))

def journal(change):
    for name, ref in state["refs"].items():
        if name == f"phasegate/changes/{change}/journal.jsonl" or name.startswith(f"phasegate/changes/{change}/"):
            for text in ref["files"].values():
                return [json.loads(l) for l in text.splitlines() if l.strip()]
    return []

# PR 10: each (project, step, event) of dev in journal order.
order10 = [(e.get("project"), e.get("step"), e.get("event"), e.get("error")) for e in journal("PR-10")
           if e.get("phase") == "dev" and e.get("step") in ("plan", "apply")]
def first(project, step, event):
    return next((i for i, x in enumerate(order10) if x[:3] == (project, step, event) and not x[3]), None)
def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.exists(path) else None
journaled_refusals = [
    {"change": ch, "phase": e.get("phase"), "project": e.get("project"), "step": e.get("step"), "why": e.get("why")}
    for ch in ("PR-7", "PR-8") for e in journal(ch) if e.get("event") == "refusal"
]
pr_comment = lambda n: "\n".join(c["body"] for c in comments.get(str(n), []))
out = {
    "jobs": jobs,
    "journal_state": s7.get("overall"),
    "journal_states": {"PR-7": s7.get("overall"), "PR-8": s8.get("overall")},
    "comments": sum(len(cs) for cs in comments.values()),
    "comments_per_pr": {n: len(cs) for n, cs in comments.items()},
    "check_runs": len(state["check_runs"]),
    "drift_issues_open": sum(1 for i in drift if i["state"] == "open"),
    "drift_issues": len(drift),
    "drift_timeline": timeline,
    "drift_issue_comments": sum(len([c for c in cs if ours(c)]) for n, cs in state["comments"].items() if n in drift_numbers),
    "refusals": refusals,
    "journaled_refusals": journaled_refusals,
    "check_runs_on_head": {n: sorted({c["name"] for c in state["check_runs"] if c["head_sha"] == h}) for n, h in heads.items()},
    "change_report_in_comment": {"PR-7": "#### Change report" in pr_comment(7), "PR-8": "#### Change report" in pr_comment(8)},
    "staging_approved_by_maintainer": "Approved by &#64;lead-bob for `staging`" in pr_comment(8),
    "prod_cloud_unchanged_by_push8": prod_before == prod_after,
    "install": json.load(open(os.path.join(work, "install-check.json"))),
    "operations": {
        "status": status(9).get("phases", [{}])[0] if status(9).get("phases") else {},
        "change": status(9).get("change"),
        "counters": {name: int(open(os.path.join(work, "ops-state", "dev-db", name)).read().strip())
                     for name in ("executions", "polls")
                     if os.path.exists(os.path.join(work, "ops-state", "dev-db", name))},
        "waiting_after_push9": json.load(open(os.path.join(work, "ops-after-push9.json")))
            if os.path.exists(os.path.join(work, "ops-after-push9.json")) else None,
    },
    "project_order": {
        # Journal positions: network's apply finished without error, app's
        # plan journaled, app's apply started and finished without error.
        "network_applied": first("network", "apply", "apply_finished"),
        "app_planned": first("app", "plan", "step_succeeded"),
        "app_apply_started": first("app", "apply", "apply_started"),
        "app_applied": first("app", "apply", "apply_finished"),
        "journal": [list(x[:3]) for x in order10],
        "legs": load("legs10.json"),
        "release10_objects": load("release10.json"),
        "cloud": load("inputs10.json"),
        # The inputs app's plan in dev was journaled with.
        "app_plan_inputs": next((e.get("plan", {}).get("inputs") for e in journal("PR-10")
                                 if e.get("phase") == "dev" and e.get("project") == "app"
                                 and e.get("event") == "step_succeeded" and e.get("step") == "plan"), None),
    },
    "seconds": {r["step"]: r["seconds"] for r in map(json.loads, open(os.path.join(work, "timings.jsonl")))},
    "openapi_violations": state["violations"],
    "requests": state["requests"],
}
print(json.dumps(out, sort_keys=True))
PY
}

# After STEP, with E2E_ACT_UNTIL=STEP: print the summary and stop (for
# working on one step at a time).
until_step() { if [ "${E2E_ACT_UNTIL:-}" = "$1" ]; then summary; exit 0; fi; }

# --- running one workflow -------------------------------------------------------
pin_of() { # pin_of OWNER/NAME FILE: the SHA FILE pins the action at
  sed -n "s|.*uses: $1@\([0-9a-f]\{40\}\).*|\1|p" "$2" | head -n1
}
checkout_pin="$(pin_of actions/checkout "$wf/phasegate-promote.yml")"
upload_pin="$(pin_of actions/upload-artifact "$wf/phasegate-promote.yml")"
download_pin="$(pin_of actions/download-artifact "$wf/phasegate-promote.yml")"
cache_pin="$(pin_of actions/cache "$root/action.yml")"
for p in checkout_pin upload_pin download_pin cache_pin; do
  [ -n "${!p}" ] || die "no pinned SHA found for $p"
done
standins="$root/tests/act/actions"
results="$work/results.jsonl"
: >"$results"

# run_act STEP EVENT WORKFLOW_FILE RUN_ID ACTOR [EXTRA_ACT_ARGS...]
# The event payload is $work/events/STEP.json. Job results are appended to
# $results as {"key": "STEP:<workflow>/<job>", "result": ...}.
run_act() {
  local step="$1" event="$2" file="$3" run_id="$4" actor="$5"
  shift 5
  hub POST /workflow "{\"path\": \"$file\"}" >/dev/null
  hub POST /run "{\"repo\": \"acme/infra\", \"id\": $run_id, \"status\": \"in_progress\"}" >/dev/null
  log "$step: act $event -W $(basename "$file") (run $run_id)"
  local started=$SECONDS rc=0
  (cd "$work" && HOME="$work/home" ACT_DISABLE_VERSION_CHECK=1 "$act" "$event" \
    -W "$file" -e "$work/events/$step.json" -C "$repo" \
    -P ubuntu-latest=-self-hosted --no-skip-checkout --action-offline-mode --no-cache-server \
    --action-cache-path "$work/act-cache" --actor "$actor" \
    --local-repository "phasegate/phasegate@$action_sha=$work/action" \
    --local-repository "actions/checkout@$checkout_pin=$standins/checkout" \
    --local-repository "actions/upload-artifact@$upload_pin=$standins/upload-artifact" \
    --local-repository "actions/download-artifact@$download_pin=$standins/download-artifact" \
    --local-repository "actions/cache@$cache_pin=$standins/cache" \
    -s "GITHUB_TOKEN=$runner_token" \
    --env "GITHUB_API_URL=$api" --env "GITHUB_GRAPHQL_URL=$graphql" \
    --env "GITHUB_REPOSITORY=acme/infra" --env "GITHUB_REPOSITORY_OWNER=acme" \
    --env "GITHUB_RUN_ID=$run_id" \
    --env "ACT_STANDIN_GIT_DIR=$work/git" --env "ACT_STANDIN_ARTIFACTS=$work/artifacts" \
    --env "PHASEGATE_INSTALL_BASE_URL=$mirror" \
    --env "NO_COLOR=1" \
    --json -v "$@" >"$work/logs/$step.jsonl" 2>&1) || rc=$?
  local conclusion=success
  [ "$rc" = 0 ] || conclusion=failure
  hub POST /run "{\"repo\": \"acme/infra\", \"id\": $run_id, \"status\": \"completed\", \"conclusion\": \"$conclusion\"}" >/dev/null
  python3 - "$work/logs/$step.jsonl" "$step" "$(basename "$file" .yml)" >>"$results" <<'PY'
import json, sys
log, step, workflow = sys.argv[1:4]
rank = {"failure": 3, "cancelled": 2, "success": 1, "skipped": 0}
jobs = {}
for line in open(log, encoding="utf-8", errors="replace"):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if not isinstance(rec, dict) or "jobResult" not in rec:
        continue
    key = f"{step}:{workflow}/{rec.get('jobID', rec.get('job', '?')).strip()}"
    r = rec["jobResult"]
    # A matrix job is as bad as its worst leg.
    if key not in jobs or rank.get(r, 3) > rank.get(jobs[key], 3):
        jobs[key] = r
for key, result in jobs.items():
    print(json.dumps({"key": key, "result": result}))
PY
  printf '{"step": "%s", "seconds": %s}\n' "$step" "$((SECONDS - started))" >>"$work/timings.jsonl"
  log "$step: act exited $rc after $((SECONDS - started))s: $(grep "\"$step:" "$results" | python3 -c 'import json,sys; rs=[json.loads(l) for l in sys.stdin]; print(", ".join(r["key"].split("/",1)[1]+"="+r["result"] for r in rs))')"
}

repository_json='{"full_name": "acme/infra", "name": "infra", "owner": {"login": "acme"}, "default_branch": "main"}'
event() { # event STEP: writes stdin as the step's event payload
  cat >"$work/events/$1.json"
}

# --- step: the action installs phasegate from the loopback mirror -------------
mkdir -p "$work/install-check"
cat >"$work/install-check/install.yml" <<YAML
name: install check
on: push
permissions: {}
jobs:
  verified:
    runs-on: ubuntu-latest
    steps:
      - uses: phasegate/phasegate@$action_sha
        with:
          command: --version
          install-base-url: $mirror
  tampered:
    runs-on: ubuntu-latest
    steps:
      - uses: phasegate/phasegate@$action_sha
        with:
          command: --version
          version: 0.0.0-tampered
          install-base-url: $tampered_mirror
YAML
event install <<JSON
{"ref": "refs/heads/main", "before": "$base", "after": "$base", "deleted": false, "repository": $repository_json}
JSON
run_act install push "$work/install-check/install.yml" 600 lead-bob
# What each job's install step said: the verified binary ran, the tampered
# one was refused with exit 1 and nothing of it is left in the tool cache.
tampered_left="$(find "$work/act-cache/tool_cache/phasegate/0.0.0-tampered" -type f 2>/dev/null | wc -l)"
python3 - "$work/logs/install.jsonl" "$tampered_left" >"$work/install-check.json" <<'PY'
import json, sys
msgs = {"verified": [], "tampered": []}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if isinstance(rec, dict) and rec.get("jobID") in msgs and rec.get("level") != "debug":
        msgs[rec["jobID"]].append(rec.get("msg", ""))
t = "\n".join(msgs["tampered"])
print(json.dumps({
    "verified_binary_ran": any(m.startswith("phasegate ") for m in msgs["verified"]),
    "tampered_refused": "checksum mismatch" in t and "exit status 1" in t,
    "tampered_files_left": int(sys.argv[2]),
}))
PY
until_step install

# --- step pr7: the PR is opened -------------------------------------------------
git_ checkout -q --detach "$merge7"
event pr7 <<JSON
{"action": "opened", "number": 7,
 "pull_request": {"number": 7, "draft": false, "user": {"login": "dev-alice"},
   "head": {"sha": "$head7", "ref": "pr-7"}, "base": {"sha": "$base", "ref": "main"}},
 "repository": $repository_json, "sender": {"login": "dev-alice"}}
JSON
run_act pr7 pull_request "$wf/phasegate-pr.yml" 701 dev-alice
until_step pr7

# --- step push7: the merge lands; staging and prod are approved ------------------
git_ checkout -q main
git_ reset -q --hard "$merge7"
hub POST /merge "{\"repo\": \"acme/infra\", \"number\": 7, \"merge_commit_sha\": \"$merge7\", \"base\": \"main\"}" >/dev/null
for env in staging prod; do
  hub POST /approval "{\"repo\": \"acme/infra\", \"run_id\": 702, \"environment\": \"$env\", \"user\": \"lead-bob\", \"state\": \"approved\"}" >/dev/null
done
event push7 <<JSON
{"ref": "refs/heads/main", "before": "$base", "after": "$merge7", "deleted": false, "created": false,
 "forced": false, "head_commit": {"id": "$merge7"}, "repository": $repository_json,
 "pusher": {"name": "lead-bob"}, "sender": {"login": "lead-bob"}}
JSON
run_act push7 push "$wf/phasegate-promote.yml" 702 lead-bob
until_step push7

# --- step pr8: the next PR, opened after 7 merged --------------------------------
git_ checkout -q --detach "$merge8"
event pr8 <<JSON
{"action": "opened", "number": 8,
 "pull_request": {"number": 8, "draft": false, "user": {"login": "dev-alice"},
   "head": {"sha": "$head8", "ref": "pr-8"}, "base": {"sha": "$merge7", "ref": "main"}},
 "repository": $repository_json, "sender": {"login": "dev-alice"}}
JSON
run_act pr8 pull_request "$wf/phasegate-pr.yml" 801 dev-alice

# --- step push8: the merge of 8 lands, prod NOT approved ---------------------------
git_ checkout -q main
prod_cloud() { # a fingerprint of every testcloud object of prod
  (cd "$TESTCLOUD_DIR" && grep -rl --include='*.json' -e '-prod-' -e '"prod"' . | sort | xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}
prod_before="$(prod_cloud)"
git_ reset -q --hard "$merge8"
hub POST /merge "{\"repo\": \"acme/infra\", \"number\": 8, \"merge_commit_sha\": \"$merge8\", \"base\": \"main\"}" >/dev/null
hub POST /approval '{"repo": "acme/infra", "run_id": 802, "environment": "staging", "user": "lead-bob", "state": "approved"}' >/dev/null
event push8 <<JSON
{"ref": "refs/heads/main", "before": "$merge7", "after": "$merge8", "deleted": false, "created": false,
 "forced": false, "head_commit": {"id": "$merge8"}, "repository": $repository_json,
 "pusher": {"name": "lead-bob"}, "sender": {"login": "lead-bob"}}
JSON
run_act push8 push "$wf/phasegate-promote.yml" 802 lead-bob
prod_after="$(prod_cloud)"
until_step push8

# --- steps approve-*: `/phasegate approve staging <digest>` on PR 8 -------------
staging_digest="$(status_of 8 | python3 -c 'import json,sys; p=[p for p in json.load(sys.stdin)["phases"] if p["name"]=="staging"][0]; print(p.get("digest") or "")')"
[ -n "$staging_digest" ] || die "no staging digest in PR-8's journal"
approve_step() { # approve_step STEP USER RUN_ID
  local body="/phasegate approve staging ${staging_digest:0:12}"
  local made
  made="$(hub POST /comment "{\"repo\": \"acme/infra\", \"issue\": 8, \"author\": \"$2\", \"body\": \"$body\"}")"
  local id created
  id="$(printf '%s' "$made" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  created="$(printf '%s' "$made" | python3 -c 'import json,sys; print(json.load(sys.stdin)["created_at"])')"
  event "$1" <<JSON
{"action": "created",
 "issue": {"number": 8, "user": {"login": "dev-alice"}, "pull_request": {"url": "$api/repos/acme/infra/pulls/8"}},
 "comment": {"id": $id, "body": "$body", "user": {"login": "$2"}, "created_at": "$created"},
 "repository": $repository_json, "sender": {"login": "$2"}}
JSON
  run_act "$1" issue_comment "$wf/phasegate-approve.yml" "$3" "$2"
}
approve_step approve-maintainer lead-bob 803
approve_step approve-outsider outsider-eve 804
until_step approve

# --- steps drift-*: schedule after an out-of-band edit ----------------------------
bucket="$(grep -rl '"acme-dev-assets"' "$TESTCLOUD_DIR" --include='*.json' | head -n1)"
[ -n "$bucket" ] || die "no testcloud object for acme-dev-assets"
cp "$bucket" "$work/bucket.orig"
edit_tag() { # edit_tag KEY VALUE: a tag set on the dev bucket outside Terraform
  python3 - "$bucket" "$1" "$2" <<'PY'
import json, sys
path, key, value = sys.argv[1:4]
obj = json.load(open(path))
if not isinstance(obj, dict):
    raise SystemExit(f"{path}: not an object")
obj.setdefault("tags", {})[key] = value
json.dump(obj, open(path, "w"))
PY
}
drift_step() { # drift_step STEP RUN_ID
  event "$1" <<JSON
{"schedule": "17 3 * * *", "repository": $repository_json}
JSON
  run_act "$1" schedule "$wf/phasegate-drift.yml" "$2" lead-bob
  # The drift issues as this run left them.
  hub GET "/state?repo=acme/infra" | python3 -c '
import json, sys
step = sys.argv[1]
issues = [i for i in json.load(sys.stdin)["issues"] if any("drift" in l["name"] for l in i["labels"])]
print(json.dumps({"step": step, "issues": len(issues), "open": sum(i["state"] == "open" for i in issues),
    "numbers": sorted(i["number"] for i in issues),
    "titles": sorted(i["title"] for i in issues if i["state"] == "open"),
    "health_failing": sum("| FAIL | status page (http) |" in (i["body"] or "") for i in issues if i["state"] == "open"),
    # Bodies escape `_` as &#95;.
    "mentions": {k: sum(k in (i["body"] or "").replace("&#95;", "_") for i in issues) for k in ("edited_by", "cost_center")}}))' "$1" >>"$work/drift-timeline.jsonl"
}
# Someone tags the dev bucket in the console while the status page is down:
# one issue opens for both. They tag it again and the page comes back: the
# same issue is updated to show the drift alone. The tags are undone but the
# page is down again: the issue stays open for health. The page comes back:
# it closes.
edit_tag edited_by console
printf 'down\n' >"$work/release/status.txt"
drift_step drift-open 901
edit_tag cost_center 0042
printf 'ok\n' >"$work/release/status.txt"
drift_step drift-update 902
cp "$work/bucket.orig" "$bucket"
printf 'down\n' >"$work/release/status.txt"
drift_step drift-health 903
printf 'ok\n' >"$work/release/status.txt"
drift_step drift-close 904
until_step drift

# --- steps ops-*: PR 9's change plan runs an operation step after dev's apply ---
# The merge of 9 lands with a job time of 1s for `steps`: the replication's
# poll outlasts the apply job and is journaled waiting; dev's review refuses
# while the step is open. The continuation workflow, on its schedule, polls
# it to COMPLETED, verifies and reviews dev. The operation counts its runs.
status_of 7 >"$work/status-7.json" || true
status_of 8 >"$work/status-8.json" || true
git_ checkout -q main
git_ reset -q --hard "$merge9"
hub POST /merge "{\"repo\": \"acme/infra\", \"number\": 9, \"merge_commit_sha\": \"$merge9\", \"base\": \"main\"}" >/dev/null
event ops-push9 <<JSON
{"ref": "refs/heads/main", "before": "$merge8", "after": "$merge9", "deleted": false, "created": false,
 "forced": false, "head_commit": {"id": "$merge9"}, "repository": $repository_json,
 "pusher": {"name": "lead-bob"}, "sender": {"login": "lead-bob"}}
JSON
run_act ops-push9 push "$wf/phasegate-promote.yml" 905 lead-bob --env PHASEGATE_STEPS_JOB_TIME=1s
status_of 9 | python3 -c '
import json, sys
s = json.load(sys.stdin)
ops = s["phases"][0].get("operations", [])
print(json.dumps({"next": s.get("next"), "operations": ops}))' >"$work/ops-after-push9.json" || true
event ops-continue <<JSON
{"schedule": "*/30 * * * *", "repository": $repository_json}
JSON
run_act ops-continue schedule "$wf/phasegate-continue.yml" 906 lead-bob
until_step ops

# --- step push10: app after network, in one environment ------------------------
# PR 10 changes network and app; main orders app after network. The merge's
# promotion chain runs for dev (`-j review-dev` and the jobs it needs): plan
# and apply network (level 0), then plan and apply app (level 1), then verify
# and review both. PR 9's change plan is gone from main, so its status is
# read first.
status_of 9 >"$work/status-9.json" || true
git_ checkout -q main
git_ reset -q --hard "$merge10"
hub POST /merge "{\"repo\": \"acme/infra\", \"number\": 10, \"merge_commit_sha\": \"$merge10\", \"base\": \"main\"}" >/dev/null
event push10 <<JSON
{"ref": "refs/heads/main", "before": "$ordered", "after": "$merge10", "deleted": false, "created": false,
 "forced": false, "head_commit": {"id": "$merge10"}, "repository": $repository_json,
 "pusher": {"name": "lead-bob"}, "sender": {"login": "lead-bob"}}
JSON
run_act push10 push "$wf/phasegate-promote.yml" 1001 lead-bob -j review-dev
# From act's log: which projects each job's legs ran, when each leg started
# (its "Set up job") and when it ended (its result), to the second.
python3 - "$work/logs/push10.jsonl" >"$work/legs10.json" <<'PY'
import json, sys
legs = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if not isinstance(rec, dict) or "jobID" not in rec:
        continue
    project = (rec.get("matrix") or {}).get("project")
    if not project:
        continue
    leg = legs.setdefault(rec["jobID"], {}).setdefault(project, {})
    if rec.get("step") == "Set up job" and "started" not in leg:
        leg["started"] = rec["time"]
    if "jobResult" in rec:
        leg["ended"], leg["result"] = rec["time"], rec["jobResult"]
print(json.dumps(legs))
PY
# From testcloud: which objects carry PR 10's tag (release10.json), and
# network's group id in dev with the tag app's bucket got from it
# (inputs10.json).
python3 - "$TESTCLOUD_DIR" "$work" <<'PY'
import json, os, sys
found, inputs = [], {}
for base, _, files in os.walk(sys.argv[1]):
    for f in files:
        if not f.endswith(".json"):
            continue
        try:
            obj = json.load(open(os.path.join(base, f)))
        except (OSError, ValueError):
            continue
        if not isinstance(obj, dict):
            continue
        if (obj.get("tags") or {}).get("release") == "10":
            found.append(obj.get("name") or obj.get("bucket") or f)
        if obj.get("name") == "acme-dev-app":
            inputs["network_sg_id"] = obj.get("id")
        if obj.get("bucket") == "acme-dev-assets":
            inputs["bucket_network_tag"] = (obj.get("tags") or {}).get("network")
json.dump(sorted(found), open(os.path.join(sys.argv[2], "release10.json"), "w"))
json.dump(inputs, open(os.path.join(sys.argv[2], "inputs10.json"), "w"))
PY

summary
