#!/usr/bin/env python3
"""Byte comparison of what `phasegate plan --plan-json` shows, before and
after a change to the pipeline (issue 20: "findings and comment, before and
after: identical on every existing fixture and on the generated plans").

    bench/compare.py capture BIN DIR PLAN...   # run BIN on each plan into DIR
    bench/compare.py diff DIR_BEFORE DIR_AFTER  # exit 1 on any difference

`capture` runs `BIN plan --plan-json PLAN --out out --format json` in
DIR/<n>/ (a relative `--out`, so the paths it prints are the same in both
runs) and keeps: the exit code, `comment.md`, `summary.md` and every SARIF
file as bytes; the gates' findings (`result.json`'s `gates`), the whole
result and the normalized plan as parsed JSON (their whitespace is not what
is compared: they are files for machines, written compactly after). A plan
the command refuses keeps its exit code and stderr.

`diff` compares the two directories entry by entry and names every
difference; byte files must be equal byte for byte.
"""
import json
import os
import subprocess
import sys


def capture(binary, out, plans):
    os.makedirs(out, exist_ok=True)
    index = []
    for i, plan in enumerate(plans):
        d = os.path.join(out, str(i))
        os.makedirs(d, exist_ok=True)
        run = subprocess.run(
            [binary, "plan", "--plan-json", os.path.abspath(plan), "--out", "out", "--format", "json"],
            cwd=d, capture_output=True,
            env={**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": "", "RUST_LOG": "warn"},
        )
        entry = {"plan": os.path.basename(plan), "exit": run.returncode}
        o = os.path.join(d, "out")
        files = {}
        for name in ["comment.md", "summary.md"]:
            p = os.path.join(o, name)
            if os.path.exists(p):
                files[name] = p
        for root, _, names in os.walk(o):
            for n in names:
                if n.endswith(".sarif"):
                    files[os.path.relpath(os.path.join(root, n), o)] = os.path.join(root, n)
        entry["bytes"] = sorted(files)
        parsed = {}
        rp = os.path.join(o, "result.json")
        if os.path.exists(rp):
            result = json.load(open(rp))
            parsed["findings"] = result.get("gates")
            parsed["result"] = result
            try:
                parsed["stdout"] = json.loads(run.stdout)
            except ValueError:
                parsed["stdout"] = run.stdout.decode(errors="replace")
        else:
            # Refused: the message is what the user sees.
            parsed["stderr_tail"] = run.stderr.decode(errors="replace").strip().splitlines()[-1:]
        plans_dir = os.path.join(o, "plans")
        if os.path.isdir(plans_dir):
            for n in sorted(os.listdir(plans_dir)):
                if n.endswith(".json"):
                    parsed["plans/" + n] = json.load(open(os.path.join(plans_dir, n)))
        with open(os.path.join(d, "parsed.json"), "w") as f:
            json.dump(parsed, f, sort_keys=True)
        entry["files"] = {k: os.path.relpath(v, d) for k, v in files.items()}
        index.append(entry)
        print(f"captured {plan}: exit {run.returncode}", file=sys.stderr)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


def diff(a, b):
    ia = json.load(open(os.path.join(a, "index.json")))
    ib = json.load(open(os.path.join(b, "index.json")))
    problems = []
    if [e["plan"] for e in ia] != [e["plan"] for e in ib]:
        problems.append("the two runs cover different plans")
    for i, (ea, eb) in enumerate(zip(ia, ib)):
        name = ea["plan"]
        if ea["exit"] != eb["exit"]:
            problems.append(f"{name}: exit {ea['exit']} vs {eb['exit']}")
        if ea["bytes"] != eb["bytes"]:
            problems.append(f"{name}: files {ea['bytes']} vs {eb['bytes']}")
        for k in set(ea["files"]) & set(eb["files"]):
            x = open(os.path.join(a, str(i), ea["files"][k]), "rb").read()
            y = open(os.path.join(b, str(i), eb["files"][k]), "rb").read()
            if x != y:
                problems.append(f"{name}: {k} differs ({len(x)} vs {len(y)} bytes)")
        pa = json.load(open(os.path.join(a, str(i), "parsed.json")))
        pb = json.load(open(os.path.join(b, str(i), "parsed.json")))
        for k in sorted(set(pa) | set(pb)):
            if pa.get(k) != pb.get(k):
                problems.append(f"{name}: {k} differs")
    for p in problems:
        print(p)
    checked = sum(len(e["files"]) for e in ia)
    print(f"compared {len(ia)} plans, {checked} byte files: "
          + ("identical" if not problems else f"{len(problems)} differences"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
