//! The gates on the applied state (issue 19 §1): what the security gate
//! could not check until apply is checked again by `verify` on the state
//! Terraform shows after apply, and so are the team's Rego policies. Real
//! Terraform 1.0.3 and testcloud: an IAM policy whose document names a
//! bucket ARN testcloud computes only at apply.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use phasegate::config::{EngineKind, SecurityPolicy, UnknownPolicy};
use phasegate::gates::security::{self, applied};
use phasegate::iac::{plan_project, CliEngine, IacEngine, PlanRequest};
use phasegate::journal::{CheckStatus, GateFinding};
use phasegate::plan::{parse_state_json, Action, SENSITIVE_MASK};
use serde_json::Value;

use crate::iac_fake::FakeEngine;
use crate::runner_review::Runner;
use crate::suite_support::{as_pr_job, pr_hub, pull_request_event};
use crate::testbed::{describe, files_under, Testbed};

const FIXTURE: &str = "tests/fixtures/runner/applied-gate";
/// The sensitive `owner` variable's default: on the IAM policy's
/// description, in the state, and quoted by the team's policy message.
const CANARY: &str = "canary-owner-Zq81xT";
const TOKEN: &str = "ghs_appliedGateToken0123456789";
const HEAD: &str = "4444444444444444444444444444444444444444";

/// The fixture's IAM policy allowing every action instead of reading.
fn allow_every_action(tb: &Testbed) {
    let file = tb.workdir().join("infra/policy.tf");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"s3:GetObject\""));
    std::fs::write(&file, text.replace("\"s3:GetObject\"", "\"*\"")).unwrap();
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

/// Every readable file phasegate wrote (the binary plans hold secrets by
/// design and are never shown).
fn written(root: &std::path::Path) -> Vec<(String, String)> {
    files_under(root)
        .into_iter()
        .filter(|f| !f.to_string_lossy().ends_with(".tfplan"))
        .map(|f| {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            (f.display().to_string(), text)
        })
        .collect()
}

#[test]
fn an_unknown_policy_that_allows_every_action_fails_verify_and_holds_the_next_environment() {
    let c = Runner::new(FIXTURE, "CHG-APPLIED");
    allow_every_action(&c.tb);
    let mut printed = vec![];

    // Plan: the document is unknown, so the gate lists its rules as checked
    // again after apply; the journal keeps them for verify.
    printed.push(stdout(&c.code(0, &["plan", "--phase", "1"])));
    let comment = std::fs::read_to_string(c.out().join("comment.md")).unwrap();
    assert!(
        comment.contains("Could not be checked until apply: 4"),
        "{comment}"
    );
    let row = comment
        .lines()
        .find(|l| l.contains("PG-AWS-035"))
        .expect("PG-AWS-035 is listed");
    assert!(row.contains("checked again after apply"), "{row}");
    let journal = c.journal();
    let found = journal
        .iter()
        .find(|e| e["event"] == "gate_findings" && e["gate"] == "security")
        .expect("the plan's security findings are journaled");
    let found: Vec<GateFinding> = serde_json::from_value(found["findings"].clone()).unwrap();
    assert!(
        found.contains(&GateFinding {
            id: "PG-AWS-035".into(),
            address: Some("aws_iam_policy.reader".into()),
            unknown: Some("policy".into()),
        }),
        "{found:#?}"
    );
    let status = stdout(&c.code(0, &["status"]));
    assert!(
        status.contains("could not be checked until apply: 4"),
        "{status}"
    );

    printed.push(stdout(&c.code(0, &["apply", "--phase", "1"])));

    // Verify: the applied document allows `*`. PG-AWS-035 fails with the
    // document as evidence; the policy rule that could not see it fails too.
    let report = c.json(1, &["verify", "--phase", "1", "--format", "json"]);
    printed.push(report.to_string());
    assert_eq!(report["result"], "fail", "{report:#}");
    let checks = report["projects"][0]["checks"].as_array().unwrap().clone();
    let star = check(&checks, "PG-AWS-035 aws_iam_policy.reader");
    assert_eq!(
        (star["kind"].as_str(), star["status"].as_str()),
        (Some("security"), Some("fail"))
    );
    let evidence = star["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("`policy` after apply: {") && evidence.contains(r#""Action":"*""#),
        "{evidence}"
    );
    assert!(
        evidence.contains("statement `Read` allows action `*`"),
        "{evidence}"
    );
    // Not `*` on `Resource: *`: the administrator rule passes.
    let admin = check(&checks, "PG-AWS-020 aws_iam_policy.reader");
    assert_eq!(admin["status"], "pass", "{admin:#}");
    let team = checks
        .iter()
        .find(|c| c["kind"] == "policy")
        .expect("the team's policy ran on the applied state");
    assert_eq!(team["status"], "fail", "{team:#}");
    let said = team["evidence"].as_str().unwrap();
    assert!(said.contains("allows every action"), "{said}");
    assert!(said.contains(SENSITIVE_MASK), "{said}");

    let journal = c.journal();
    let finished = journal
        .iter()
        .rfind(|e| e["event"] == "verification_finished")
        .unwrap();
    assert_eq!(finished["status"], "fail");
    assert!(finished["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "PG-AWS-035 aws_iam_policy.reader" && c["status"] == "fail"));
    assert!(journal
        .iter()
        .any(|e| e["step"] == "verify" && e["event"] == "step_failed"));
    let status = stdout(&c.code(0, &["status"]));
    assert!(
        status.contains("after apply FAIL PG-AWS-035 aws_iam_policy.reader (security)"),
        "{status}"
    );
    assert!(
        !status.contains("could not be checked until apply"),
        "the list gave way to the results: {status}"
    );

    // Review: needs-fixes, naming the rule.
    let out = c.code(1, &["review", "--phase", "1"]);
    let text = stdout(&out);
    printed.push(text.clone());
    assert!(text.contains("needs-fixes"), "{text}");
    assert!(
        text.contains("security (app): after apply: PG-AWS-035 aws_iam_policy.reader FAIL"),
        "{text}"
    );
    let phase_report: Value = serde_json::from_str(
        &std::fs::read_to_string(c.out().join("reports/phase-1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(phase_report["verdict"], "needs-fixes");

    // The next environment cannot start.
    printed.push(stdout(&c.code(0, &["plan", "--phase", "2"])));
    let out = c.code(1, &["apply", "--phase", "2"]);
    let text = stdout(&out);
    printed.push(text.clone());
    assert!(text.contains("its review said needs-fixes"), "{text}");
    assert!(text.contains("PG-AWS-035"), "{text}");
    assert!(c
        .journal()
        .iter()
        .any(|e| e["phase"] == "prod" && e["event"] == "refusal" && e["what"] == "previous-phase"));
    let cloud: Vec<(String, String)> = written(c.tb.cloud_dir());
    assert!(cloud.iter().any(|(_, t)| t.contains("applied-dev-reader")));
    assert!(
        !cloud.iter().any(|(_, t)| t.contains("applied-prod-reader")),
        "prod was applied"
    );

    // The sensitive description reached the state and a policy message,
    // but no surface: stdout, the journal, reports and comment files.
    let mut surfaces: Vec<(String, String)> = printed
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("output {i}"), t))
        .collect();
    surfaces.extend(written(&c.store));
    surfaces.extend(written(&c.out()));
    assert!(surfaces.len() > 6);
    for (surface, text) in &surfaces {
        assert!(!text.contains(CANARY), "{CANARY} in {surface}");
    }
}

/// One step as a pull-request job against the fake GitHub, journal local.
fn pr_step(tb: &Testbed, hub: &fakehub::FakeHub, job: &std::path::Path, args: &[&str]) -> Output {
    let (k, v) = tb.path_env();
    let mut cmd = tb.command(env!("CARGO_BIN_EXE_phasegate"));
    cmd.env(k, v)
        .env("PHASEGATE_STORE_DIR", tb.root().join("store"));
    as_pr_job(
        &mut cmd,
        hub,
        TOKEN,
        HEAD,
        job,
        "pull_request",
        &pull_request_event(HEAD),
    );
    cmd.args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args(args)
        .output()
        .unwrap()
}

fn the_comment(hub: &fakehub::FakeHub) -> String {
    let comments = hub.comments("acme", "infra", 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    comments[0]["body"].as_str().unwrap().to_string()
}

/// The journal-driven block of a phase in the comment.
fn progress_block<'a>(comment: &'a str, env: &str) -> &'a str {
    let start = format!("<!-- phasegate:phase={env}-progress -->");
    let end = format!("<!-- phasegate:phase-end={env}-progress -->");
    let from = comment
        .find(&start)
        .unwrap_or_else(|| panic!("no {start} in {comment}"));
    let to = comment[from..]
        .find(&end)
        .map_or(comment.len(), |i| from + i);
    &comment[from..to]
}

#[test]
fn a_fine_applied_policy_turns_every_unknown_into_a_pass_on_the_pr_comment() {
    let tb = Testbed::new(FIXTURE);
    let hub = pr_hub(TOKEN, HEAD);
    let job = tempfile::tempdir().unwrap();
    let step = |code: i32, args: &[&str]| {
        let out = pr_step(&tb, &hub, job.path(), args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
        out
    };

    step(0, &["plan", "--phase", "1"]);
    let comment = the_comment(&hub);
    let block = progress_block(&comment, "dev");
    assert!(
        block.contains("Could not be checked until apply, app: 4"),
        "{block}"
    );
    assert!(block.contains("<code>PG-AWS-035</code>"), "{block}");

    step(0, &["apply", "--phase", "1"]);
    let out = step(0, &["verify", "--phase", "1"]);
    let text = stdout(&out);
    assert!(text.contains("verification pass"), "{text}");

    // The list of unknowns is replaced by their results after apply.
    let comment = the_comment(&hub);
    let block = progress_block(&comment, "dev");
    assert!(
        !block.contains("Could not be checked until apply"),
        "{block}"
    );
    assert!(
        block.contains("Gates checked again after apply, app: PASS"),
        "{block}"
    );
    let rows: Vec<&str> = block.lines().filter(|l| l.contains("(security)")).collect();
    assert_eq!(rows.len(), 4, "{block}");
    assert!(rows.iter().all(|r| r.starts_with("| PASS |")), "{block}");
    assert!(
        rows.iter().any(|r| r.contains("PG-AWS-035")
            && r.contains("s3:GetObject")
            && r.contains("passes")),
        "{block}"
    );
    assert!(!comment.contains(CANARY));

    // The review lets the next environment in.
    let out = step(0, &["review", "--phase", "1"]);
    let text = stdout(&out);
    assert!(!text.contains("needs-fixes"), "{text}");
    step(0, &["plan", "--phase", "2"]);
    step(0, &["apply", "--phase", "2"]);
    let violations = hub.take_violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_engine_shows_the_applied_state_with_child_modules_and_sensitive_values_masked() {
    let tb = Testbed::new(FIXTURE);
    allow_every_action(&tb);
    std::fs::create_dir_all(tb.workdir().join("infra/child")).unwrap();
    std::fs::write(
        tb.workdir().join("infra/child/main.tf"),
        "variable \"owner\" {\n  type = string\n  sensitive = true\n}\n\
         resource \"aws_iam_policy\" \"child\" {\n  name = \"applied-child\"\n  description = var.owner\n  \
         policy = jsonencode({ Statement = [{ Effect = \"Allow\", Action = \"*\", Resource = \"*\" }] })\n}\n",
    )
    .unwrap();
    std::fs::write(
        tb.workdir().join("infra/child.tf"),
        "module \"child\" {\n  source = \"./child\"\n  owner  = var.owner\n}\n",
    )
    .unwrap();
    let engine = CliEngine {
        kind: EngineKind::Terraform,
        binary: tb.terraform_path().to_path_buf(),
        timeout: Duration::from_secs(300),
    };
    let req = PlanRequest {
        dir: tb.workdir().join("infra"),
        env: tb.env(),
        plan_file: tb.root().join("state-test.tfplan"),
        ..PlanRequest::default()
    };
    plan_project(&engine, &req).unwrap();
    engine.apply(&req).unwrap();
    let json = engine.show_state_json(&req).unwrap();
    assert!(json.contains(CANARY), "the canary never reached the state");

    let state = parse_state_json(&json, "show -json").unwrap();
    let child = state
        .resource("module.child.aws_iam_policy.child")
        .expect("child modules are read");
    assert_eq!(child.module.as_deref(), Some("module.child"));
    assert_eq!(child.values["description"], SENSITIVE_MASK);
    assert!(state.sensitive_values.0.iter().any(|s| s == CANARY));
    assert!(!format!("{:?}", state.resources).contains(CANARY));

    // The security gate reads the applied values: the root policy's `*` on
    // a bucket, the child's `*` on `*`.
    let touched = BTreeMap::from([
        ("aws_iam_policy.reader".to_string(), Action::Create),
        (
            "module.child.aws_iam_policy.child".to_string(),
            Action::Create,
        ),
    ]);
    let unknown = |address: &str| GateFinding {
        id: "PG-AWS-035".into(),
        address: Some(address.into()),
        unknown: Some("policy".into()),
    };
    let (out, _) = applied::recheck(
        &state.as_change_set(&touched),
        &[unknown("aws_iam_policy.reader")],
        &context(),
    );
    assert_eq!(out[0].status, CheckStatus::Fail, "{out:#?}");
    // The child's administrator policy was no unknown: new after apply.
    assert!(out.iter().any(|r| r.id == "PG-AWS-020"
        && r.address == "module.child.aws_iam_policy.child"
        && r.unknown_at_plan.is_none()
        && r.status == CheckStatus::Fail));
    assert!(out.iter().all(|r| !r.evidence.contains(CANARY)));
}

fn context() -> security::SecurityContext {
    security::SecurityContext {
        policy: SecurityPolicy::Standard,
        protected: false,
        phase: Some("dev".into()),
        acknowledgements: vec![],
        today: chrono::Utc::now().date_naive(),
        imported: vec![],
        unknown: UnknownPolicy::Pass,
    }
}

#[test]
fn the_fake_engine_serves_a_state_through_the_same_seam() {
    let engine = FakeEngine::with_state(
        r#"{"format_version":"0.2","values":{"root_module":{"resources":[
            {"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","name":"p",
             "values":{"policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"},
             "sensitive_values":{}}]}}}"#,
    );
    let req = PlanRequest {
        dir: "infra".into(),
        ..PlanRequest::default()
    };
    let state = parse_state_json(&engine.show_state_json(&req).unwrap(), "fake").unwrap();
    assert_eq!(engine.calls(), ["show-state infra"]);
    let cs = state.as_change_set(&BTreeMap::from([(
        "aws_iam_policy.p".to_string(),
        Action::Update,
    )]));
    let planned = [GateFinding {
        id: "PG-AWS-036".into(),
        address: Some("aws_iam_policy.p".into()),
        unknown: Some("policy".into()),
    }];
    let (out, _) = applied::recheck(&cs, &planned, &context());
    // `s3:*` is a whole-service wildcard (medium): a warning, not a failure.
    assert_eq!(out[0].id, "PG-AWS-036");
    assert_eq!(out[0].status, CheckStatus::Warn, "{out:#?}");
    assert!(out[0].evidence.contains("s3:*"), "{}", out[0].evidence);
}
