"""Times commands as child processes: wall clock (time.perf_counter around
spawn and wait) and peak resident memory (ru_maxrss of the child, from
os.wait4), so a subject and its baseline are measured the same way.

Used by scripts/bench.sh; no dependencies beyond Python 3.

  measure.py pair RUNS NAME -- SUBJECT... -- BASELINE...
      runs subject and baseline alternately RUNS times (after one warm-up
      each) and prints one JSON object: medians, minima and maxima of both,
      and the ratios of the medians. Options before the first `--`:
      --ok=0,1   exit codes that count as success (default 0);
      --bytes=N  also report the subject's peak RSS divided by N (the size
                 of its input file).
"""
import json, os, statistics, subprocess, sys, time


def once(argv, cwd=None, env=None):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return wall, usage.ru_maxrss * 1024, proc.returncode, err


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def pair(runs, name, subject, baseline, ok_codes, size=None):
    sw, sm, bw, bm = [], [], [], []
    for argv in (subject, baseline):  # warm-up: page cache, binaries loaded
        once(argv)
    for _ in range(runs):
        for argv, walls, mems in ((subject, sw, sm), (baseline, bw, bm)):
            wall, rss, code, err = once(argv)
            if code not in ok_codes:
                sys.exit(f"{name}: {' '.join(argv)} exited {code}\n{err[-2000:]}")
            walls.append(wall)
            mems.append(rss)
    out = {
        "name": name,
        "subject": {"argv": subject, "wall_s": summary(sw), "rss_bytes": summary(sm)},
        "baseline": {"argv": baseline, "wall_s": summary(bw), "rss_bytes": summary(bm)},
    }
    out["wall_ratio"] = out["subject"]["wall_s"]["median"] / out["baseline"]["wall_s"]["median"]
    out["rss_ratio"] = out["subject"]["rss_bytes"]["median"] / out["baseline"]["rss_bytes"]["median"]
    if size:
        out["input_bytes"] = size
        out["rss_over_input"] = out["subject"]["rss_bytes"]["median"] / size
    print(json.dumps(out))


def main():
    args = sys.argv[1:]
    if not args or args[0] != "pair":
        sys.exit(__doc__)
    runs, name = int(args[1]), args[2]
    ok, size = {0}, None
    rest = args[3:]
    while rest and rest[0] != "--":
        if rest[0].startswith("--ok="):
            ok = {int(c) for c in rest[0][5:].split(",")}
        elif rest[0].startswith("--bytes="):
            size = int(rest[0][8:])
        else:
            sys.exit(f"unknown option {rest[0]}")
        rest = rest[1:]
    split = rest.index("--", 1)
    pair(runs, name, rest[1:split], rest[split + 1:], ok, size)


if __name__ == "__main__":
    main()
