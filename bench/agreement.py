"""Findings agreement between Checkov and phasegate's security gate on one
plan, over the crosswalked rules (the Checkov ids the rule catalog names in
src/gates/security/rules/*.rs). Prints one JSON line for scripts/bench.sh.

  agreement.py CHECKOV_JSON GATE_JSON

Precision: phasegate findings (not "unknown until apply") confirmed by a
Checkov failure of one of the rule's ids on the same address. Recall:
Checkov failures of crosswalked ids found by phasegate on that address.
The full two-way comparison with every difference explained is the test
security_gate::phasegate_agrees_with_recorded_checkov_both_ways_and_every_difference_is_documented.
"""
import glob, json, re, sys

crosswalked = set()
for path in glob.glob("src/gates/security/rules/*.rs"):
    for line in open(path):
        m = re.match(r"\s*checkov: &\[(.*)\]", line)
        if m:
            crosswalked.update(re.findall(r'"([^"]+)"', m.group(1)))

ck = json.load(open(sys.argv[1]))
reports = ck if isinstance(ck, list) else [ck]
failed = set()
for rep in reports:
    for c in rep.get("results", {}).get("failed_checks", []):
        if c["check_id"] in crosswalked:
            failed.add((c["check_id"], c.get("resource_address") or c["resource"]))

gate = json.load(open(sys.argv[2]))
findings = gate.get("findings", gate.get("report", {}).get("findings", []))
ours = []
for f in findings:
    ids = f.get("crosswalk", {}).get("checkov", [])
    if not ids or f.get("unknown") or f.get("severity") == "unknown":
        continue
    ours.append((f.get("id") or f.get("rule"), f["address"], ids))
confirmed = sum(1 for _, a, ids in ours if any((i, a) in failed for i in ids))
found = sum(1 for i, a in failed if any(a == oa and i in ids for _, oa, ids in ours))
print(json.dumps({
    "name": "checkov-agreement",
    "crosswalked_ids": len(crosswalked),
    "phasegate_findings": len(ours), "confirmed_by_checkov": confirmed,
    "checkov_failures": len(failed), "found_by_phasegate": found,
    "precision": confirmed / len(ours) if ours else None,
    "recall": found / len(failed) if failed else None,
}))
