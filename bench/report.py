"""Turns scripts/bench.sh's results.jsonl into the markdown figures table
of bench/RESULTS.md.  report.py RESULTS_JSONL"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ms = lambda s: f"{s['median']*1e3:.1f} ms ({s['min']*1e3:.1f}–{s['max']*1e3:.1f})"
mib = lambda s: f"{s['median']/1048576:.1f} MiB ({s['min']/1048576:.1f}–{s['max']/1048576:.1f})"
out = []
for r in rows:
    if "machine" in r:
        m = r["machine"]
        out.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, Linux {m['kernel']}, "
                   f"load at start {m['load_at_start']}; {m['rustc']}; {m['date']}.\n")
        out.append("| measurement | subject (median, min–max) | baseline (median, min–max) | ratio of medians | peak RSS subject / baseline |")
        out.append("|---|---|---|---|---|")
    elif "subject" in r:
        per_input = (f"; subject ÷ input ({r['input_bytes']/1048576:.1f} MiB) = {r['rss_over_input']:.2f}×"
                     if "rss_over_input" in r else "")
        out.append(f"| {r['name']} (n={r['subject']['wall_s']['n']}) | {ms(r['subject']['wall_s'])} | {ms(r['baseline']['wall_s'])} "
                   f"| {r['wall_ratio']:.2f}× | {mib(r['subject']['rss_bytes'])} / {mib(r['baseline']['rss_bytes'])}{per_input} |")
    elif r.get("name") == "checkov-agreement":
        p = "n/a" if r["precision"] is None else f"{r['precision']*100:.1f}%"
        c = "n/a" if r["recall"] is None else f"{r['recall']*100:.1f}%"
        out.append(f"| agreement on {r['crosswalked_ids']} crosswalked Checkov ids | phasegate {r['phasegate_findings']} findings, {r['confirmed_by_checkov']} confirmed | Checkov {r['checkov_failures']} failures, {r['found_by_phasegate']} found | precision {p}, recall {c} | |")
    elif r.get("name") == "binary":
        out.append(f"| binary size | release {r['release_bytes']/1048576:.1f} MiB, stripped {r['stripped_bytes']/1048576:.1f} MiB | static musl: {r['musl']} | | |")
print("\n".join(out))
