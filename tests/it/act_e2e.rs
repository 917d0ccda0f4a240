//! The generated workflows under a real workflow runner (issue 18):
//! `scripts/e2e-act.sh` runs them with nektos/act on this machine from the PR
//! to prod, against fakehub-server, Terraform 1.0.3 and testcloud, with
//! phasegate's action from this working tree installed through its real
//! install path. It installs what it needs itself, so this test never skips.
//! What is real and what is a stand-in: tests/act/README.md.

use std::process::Command;

use serde_json::Value;

use crate::testbed::repo_root;

fn run_scenario() -> Value {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/e2e-act.sh"))
        .env("PHASEGATE_BIN", env!("CARGO_BIN_EXE_phasegate"))
        .env_remove("E2E_ACT_UNTIL")
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    assert_eq!(out.status.code(), Some(0), "e2e-act.sh failed:\n{tail}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not one JSON line: {line}\n{tail}"))
}

fn job<'a>(summary: &'a Value, key: &str) -> &'a str {
    summary["jobs"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no job {key} in {:#}", summary["jobs"]))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn generated_workflows_run_under_act_from_the_pr_to_prod_drift_included() {
    let s = run_scenario();
    let all = format!("{s:#}");

    // The action installs phasegate from a loopback mirror, checksum checked;
    // a tampered binary is refused with exit 1 and nothing of it is left.
    assert_eq!(job(&s, "install:install/verified"), "success", "{all}");
    assert_eq!(job(&s, "install:install/tampered"), "failure", "{all}");
    assert_eq!(s["install"]["verified_binary_ran"], true, "{all}");
    assert_eq!(s["install"]["tampered_refused"], true, "{all}");
    assert_eq!(s["install"]["tampered_files_left"], 0, "{all}");

    // 1. The PR is planned for every environment: one comment, and check
    // runs for each environment on the PR's head commit.
    for j in ["changes", "plan-dev", "plan-staging", "plan-prod"] {
        assert_eq!(
            job(&s, &format!("pr7:phasegate-pr/{j}")),
            "success",
            "{all}"
        );
    }
    let on_head = strings(&s["check_runs_on_head"]["7"]);
    assert_eq!(
        on_head,
        ["phasegate / dev", "phasegate / prod", "phasegate / staging"],
        "{all}"
    );

    // 2. The merge goes dev -> staging -> prod, each approved in fakehub;
    // the journal in the repository's refs ends done, and the PR's one
    // comment carries the change report.
    for env in ["dev", "staging", "prod"] {
        for j in ["plan", "apply", "review"] {
            let key = format!("push7:phasegate-promote/{j}-{env}");
            assert_eq!(job(&s, &key), "success", "{key}\n{all}");
        }
    }
    assert_eq!(job(&s, "push7:phasegate-promote/promoted"), "success");
    assert_eq!(s["journal_state"], "done", "{all}");
    assert_eq!(s["change_report_in_comment"]["PR-7"], true, "{all}");

    // 3. The next change with prod not approved: prod's apply exits 1, the
    // refusal is journaled and shown, and prod's cloud is untouched.
    assert_eq!(job(&s, "push8:phasegate-promote/apply-staging"), "success");
    assert_eq!(job(&s, "push8:phasegate-promote/apply-prod"), "failure");
    assert_eq!(job(&s, "push8:phasegate-promote/review-prod"), "skipped");
    assert_eq!(job(&s, "push8:phasegate-promote/promoted"), "failure");
    assert_eq!(s["journal_states"]["PR-8"], "awaiting_approval", "{all}");
    let journaled = s["journaled_refusals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        journaled.iter().any(|r| r["change"] == "PR-8"
            && r["phase"] == "prod"
            && r["step"] == "apply"
            && r["why"].as_str().is_some_and(|w| w.contains("no approval"))),
        "{all}"
    );
    assert_eq!(s["prod_cloud_unchanged_by_push8"], true, "{all}");

    // 4. `/phasegate approve staging <digest>`: a maintainer's is recorded,
    // a reader's is refused and shown.
    assert_eq!(
        job(&s, "approve-maintainer:phasegate-approve/approve"),
        "success"
    );
    assert_eq!(
        job(&s, "approve-outsider:phasegate-approve/approve"),
        "failure"
    );
    let refusals = strings(&s["refusals"]);
    assert!(
        refusals
            .iter()
            .any(|r| r.starts_with("PR-8:") && r.contains("outsider-eve refused")),
        "{refusals:#?}"
    );
    assert!(
        refusals
            .iter()
            .any(|r| r.starts_with("PR-8:") && r.contains("phase prod (prod) has no approval")),
        "{refusals:#?}"
    );
    assert_eq!(s["staging_approved_by_maintainer"], true, "{all}");

    // 5. Drift and health: one issue opened for both (the bucket edited, the
    // status page down), the same one updated for the drift alone, kept open
    // while the page is down again with no drift, then closed.
    let timeline = s["drift_timeline"].as_array().cloned().unwrap_or_default();
    let steps: Vec<&str> = timeline.iter().filter_map(|t| t["step"].as_str()).collect();
    assert_eq!(
        steps,
        ["drift-open", "drift-update", "drift-health", "drift-close"],
        "{all}"
    );
    assert_eq!(timeline[0]["open"], 1, "{all}");
    assert_eq!(timeline[0]["mentions"]["edited_by"], 1, "{all}");
    // The status page is dev's, not a project's: its results ride in the
    // issue of dev's first project (app, the one whose bucket drifted).
    assert_eq!(
        timeline[0]["titles"],
        serde_json::json!(["Drift and health: app in dev"]),
        "{all}"
    );
    assert_eq!(timeline[0]["health_failing"], 1, "{all}");
    assert_eq!(timeline[1]["numbers"], timeline[0]["numbers"], "{all}");
    assert_eq!(timeline[1]["open"], 1, "{all}");
    assert_eq!(timeline[1]["mentions"]["cost_center"], 1, "updated: {all}");
    assert_eq!(timeline[1]["health_failing"], 0, "{all}");
    assert_eq!(
        timeline[1]["titles"],
        serde_json::json!(["Drift: app in dev"]),
        "{all}"
    );
    assert_eq!(timeline[2]["numbers"], timeline[0]["numbers"], "{all}");
    assert_eq!(timeline[2]["open"], 1, "health alone keeps it open: {all}");
    assert_eq!(timeline[2]["health_failing"], 1, "{all}");
    assert_eq!(
        timeline[2]["titles"],
        serde_json::json!(["Health: app in dev"]),
        "{all}"
    );
    assert_eq!(timeline[3]["open"], 0, "{all}");
    assert_eq!(s["drift_issues"], 1, "{all}");
    assert_eq!(s["drift_issues_open"], 0, "{all}");
    assert_eq!(job(&s, "drift-open:phasegate-drift/drift"), "failure");
    assert_eq!(job(&s, "drift-health:phasegate-drift/drift"), "failure");
    assert_eq!(job(&s, "drift-close:phasegate-drift/drift"), "success");

    // 6. Operation steps (issue 21): PR 9's change plan runs a replication
    // after dev's apply. Its poll outlasts the apply job (a 1 s job time):
    // journaled waiting, dev's review refuses while it is open, the chain
    // stops. The continuation workflow polls it to COMPLETED, verifies and
    // reviews dev. The operation ran once.
    assert_eq!(
        job(&s, "ops-push9:phasegate-promote/apply-dev"),
        "success",
        "{all}"
    );
    assert_eq!(
        job(&s, "ops-push9:phasegate-promote/review-dev"),
        "failure",
        "{all}"
    );
    assert_eq!(
        job(&s, "ops-push9:phasegate-promote/plan-staging"),
        "skipped",
        "{all}"
    );
    let waiting = &s["operations"]["waiting_after_push9"];
    assert_eq!(waiting["operations"][0]["id"], "dev-replicate", "{all}");
    assert_eq!(waiting["operations"][0]["waiting"], true, "{all}");
    assert_eq!(
        waiting["next"]["command"], "phasegate steps --phase 1",
        "{all}"
    );
    assert_eq!(
        job(&s, "ops-continue:phasegate-continue/continue"),
        "success",
        "{all}"
    );
    let ops = &s["operations"];
    assert_eq!(ops["change"], "CHG-9", "{all}");
    let replicate = &ops["status"]["operations"][0];
    assert_eq!(replicate["ended"]["how"], "succeeded", "{all}");
    assert_eq!(ops["counters"]["executions"], 1, "executed once: {all}");
    assert_eq!(
        ops["counters"]["polls"], 4,
        "RUNNING three times, then COMPLETED: {all}"
    );
    let verdict = ops["status"]["review"]["verdict"]
        .as_str()
        .unwrap_or_default();
    assert!(
        verdict == "pass" || verdict == "warn",
        "dev reviewed: {all}"
    );

    // 7. Project order: with app reading network's group id
    // (tests/act/changes/order/project-order.yml), PR 10 changes both. dev's chain applies network
    // (level 0), then plans and applies app (level 1), then reviews both.
    for j in [
        "changes",
        "plan-dev",
        "apply-dev",
        "plan-dev-level-1",
        "apply-dev-level-1",
        "review-dev",
    ] {
        let key = format!("push10:phasegate-promote/{j}");
        assert_eq!(job(&s, &key), "success", "{key}\n{all}");
    }
    let order = &s["project_order"];
    let at = |k: &str| {
        order[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in PR-10's journal: {all}"))
    };
    assert!(
        at("network_applied") < at("app_planned"),
        "app planned only after network applied: {all}"
    );
    assert!(at("app_planned") < at("app_apply_started"), "{all}");
    assert!(at("app_apply_started") < at("app_applied"), "{all}");
    // Each job ran only its level's projects, and app's plan job started
    // once network's apply job had succeeded (act's log, to the second).
    let legs = &order["legs"];
    let projects = |j: &str| {
        let mut p: Vec<String> = legs[j]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        p.sort();
        p
    };
    assert_eq!(projects("plan-dev"), ["network"], "{all}");
    assert_eq!(projects("apply-dev"), ["network"], "{all}");
    assert_eq!(projects("plan-dev-level-1"), ["app"], "{all}");
    assert_eq!(projects("apply-dev-level-1"), ["app"], "{all}");
    assert_eq!(projects("review-dev"), ["app", "network"], "{all}");
    let network_apply = &legs["apply-dev"]["network"];
    assert_eq!(network_apply["result"], "success", "{all}");
    let (applied, app_plan) = (
        network_apply["ended"].as_str().unwrap_or_default(),
        legs["plan-dev-level-1"]["app"]["started"]
            .as_str()
            .unwrap_or_default(),
    );
    // RFC 3339 in UTC: as strings they order as times.
    assert!(
        !applied.is_empty() && app_plan >= applied,
        "{app_plan} < {applied}: {all}"
    );
    assert_eq!(
        order["release10_objects"],
        serde_json::json!(["acme-dev-app", "acme-dev-assets"]),
        "network's security group and app's bucket in dev carry PR 10's tag, nothing else: {all}"
    );
    // app's plan read network's output after network's apply: the id it
    // was planned with (journaled, bound into its digest) is the one the
    // cloud holds, and app's bucket carries it.
    let sg_id = order["cloud"]["network_sg_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no network group in dev: {all}"));
    assert!(sg_id.starts_with("sg-"), "{all}");
    assert_eq!(order["cloud"]["bucket_network_tag"], sg_id, "{all}");
    let input = &order["app_plan_inputs"][0];
    assert_eq!(input["var"], "network_sg_id", "{all}");
    assert_eq!(input["source"], "network.outputs.sg_id", "{all}");
    assert_eq!(input["value"], format!("\"{sg_id}\""), "{all}");

    // One comment per PR, every request was one GitHub's description
    // allows, and no job's token lacked a permission it needed.
    assert_eq!(s["comments"], 4, "{all}");
    assert_eq!(s["comments_per_pr"]["7"], 1, "{all}");
    assert_eq!(s["comments_per_pr"]["8"], 1, "{all}");
    assert_eq!(s["comments_per_pr"]["9"], 1, "{all}");
    assert_eq!(s["comments_per_pr"]["10"], 1, "{all}");
    assert_eq!(s["openapi_violations"], serde_json::json!([]), "{all}");
    assert!(
        !refusals.iter().any(|r| r.starts_with("403 ")),
        "{refusals:#?}"
    );
}
