//! Approval rules on plan content (issue 22 §2): an environment's
//! `approvals.auto` approves a plan without a person when every stated
//! condition holds, journaled with its conditions and the digest; a rule
//! that does not hold names the failed condition; a rule never stands in
//! for GitHub's required reviewers. Real Terraform 1.0.3 and testcloud, the
//! comment posted to fakehub.

use serde_json::Value;

use crate::runner_review::Runner;
use crate::suite_support::{as_pr_job, pr_hub, pull_request_event};
use crate::testbed::describe;

const TOKEN: &str = "ghs_ruleTestToken000000000000000000000";

/// The runner's change with dev protected (an approval is needed) and the
/// rule `rule` (YAML lines under `auto:`), prod with its reviewers and the
/// same rule.
fn with_rule(rule: &str) -> Runner {
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RUN");
    let auto: String = rule.lines().map(|l| format!("        {l}\n")).collect();
    let config = format!(
        r#"version: 1
engine:
  kind: terraform
  timeout_seconds: 300
store:
  backend: local
environments:
  - name: dev
    protected: true
    approvals:
      auto:
{auto}    plan:
      workspace: dev
      env:
        TF_VAR_environment: dev
  - name: prod
    reviewers_required: true
    approvals:
      auto:
{auto}    plan:
      workspace: prod
      env:
        TF_VAR_environment: prod
projects:
  - name: app
    dir: infra
output_dir: out
"#
    );
    c.tb.write_file("phasegate.yml", &config);
    // A protected environment measures two new resources as more than the
    // default declared radius: the change declares it.
    c.tb.write_file(
        "change.yml",
        "version: 1\nid: CHG-RUN\nphases:\n  - name: dev\n    environment: dev\n    blast_radius: high\n  - name: prod\n    environment: prod\n    blast_radius: high\n",
    );
    c
}

fn approvals(c: &Runner) -> Vec<Value> {
    c.journal()
        .into_iter()
        .filter(|e| e["event"] == "approval_recorded")
        .collect()
}

fn comment(c: &Runner) -> String {
    std::fs::read_to_string(c.out().join("comment.md")).unwrap()
}

#[test]
fn a_plan_within_the_rule_is_approved_by_it_journaled_with_its_conditions() {
    let c = with_rule(
        "no_destroys: true\nno_replaces: true\nmax_blast_radius: high\nresource_types: [aws_s3_bucket, aws_security_group]",
    );
    // The PR's plan job posts the comment to fakehub; the journal is local.
    let hub = pr_hub(TOKEN, "abc123");
    let job = tempfile::tempdir().unwrap();
    let (k, v) = c.tb.path_env();
    let mut cmd = c.tb.command(env!("CARGO_BIN_EXE_phasegate"));
    cmd.env(k, v)
        .env("PHASEGATE_STORE_DIR", &c.store)
        .args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args(["plan", "--phase", "1"]);
    as_pr_job(
        &mut cmd,
        &hub,
        TOKEN,
        "abc123",
        job.path(),
        "pull_request",
        &pull_request_event("abc123"),
    );
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let posted: String = hub
        .comments("acme", "infra", 7)
        .iter()
        .map(|c| c["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        posted.contains("**Approved by rule** for `dev`"),
        "{posted}"
    );
    assert!(
        posted.contains("no destroys; no replaces; blast radius"),
        "{posted}"
    );
    assert_eq!(hub.take_violations(), Vec::<String>::new());

    let approved = approvals(&c);
    assert_eq!(approved.len(), 1, "{approved:#?}");
    let a = &approved[0];
    assert_eq!(a["source"], "rule");
    assert_eq!(a["approver"], "rule");
    assert_eq!(a["environment"], "dev");
    assert_eq!(a["digest"], c.phase_digest(0).as_str());
    assert_eq!(
        a["conditions"][0], "no destroys",
        "the conditions that held: {a:#}"
    );
    assert_eq!(a["conditions"].as_array().unwrap().len(), 4, "{a:#}");
    // No person is asked: the next step is the apply, and it goes through.
    assert_eq!(c.status()["next"]["command"], "phasegate apply --phase 1");
    c.code(0, &["apply", "--phase", "1"]);
}

#[test]
fn a_rule_that_does_not_hold_names_the_failed_condition_and_a_person_approves() {
    let c = with_rule("no_destroys: true\nresource_types: [aws_s3_bucket]");
    c.code(0, &["plan", "--phase", "1"]);
    let md = comment(&c);
    assert!(
        md.contains("The automatic approval rule of `dev` did not hold: only listed resource types: the plan also changes aws&#95;security&#95;group")
            || md.contains("The automatic approval rule of `dev` did not hold: only listed resource types: the plan also changes aws_security_group"),
        "{md}"
    );
    assert!(approvals(&c).is_empty());
    let next = c.status()["next"]["command"].as_str().unwrap().to_string();
    assert!(
        next.starts_with("phasegate approve --local --env dev"),
        "{next}"
    );
    let refused = c.code(1, &["apply", "--phase", "1"]);
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("has no approval"),
        "{}",
        describe(&refused)
    );
}

#[test]
fn a_rule_never_stands_in_for_github_s_required_reviewers() {
    let c = with_rule("no_destroys: true");
    let out = c.code(0, &["validate"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(
            "note: environment `prod`: approvals.auto never overrides GitHub's required reviewers"
        ),
        "{shown}"
    );
    assert!(
        !shown.contains("environment `dev`: approvals.auto"),
        "{shown}"
    );
    // dev is approved by its rule; prod's plan is not, though it holds.
    for step in ["plan", "apply", "verify", "review"] {
        c.code(0, &[step, "--phase", "1"]);
    }
    c.code(0, &["plan", "--phase", "2"]);
    let md = comment(&c);
    assert!(
        md.contains("The automatic approval rule of `prod` approves nothing here: GitHub's required reviewers hold this environment"),
        "{md}"
    );
    let by_rule: Vec<Value> = approvals(&c)
        .into_iter()
        .filter(|a| a["environment"] == "prod")
        .collect();
    assert!(by_rule.is_empty(), "{by_rule:#?}");
    c.code(1, &["apply", "--phase", "2"]);
}

#[test]
fn a_rule_without_a_condition_is_refused_with_its_line() {
    let c = with_rule("{}");
    let out = c.code(2, &["validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("phasegate.yml:11:7:")
            && err.contains("environments[0].approvals.auto: states no condition"),
        "{err}"
    );
}
