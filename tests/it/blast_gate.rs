//! The blast-radius gate and the destroy guard: scoring what a phase can
//! break, and refusing data loss in protected environments unless the change
//! plan allows it by name.

use std::path::PathBuf;

use phasegate::config::{Acknowledgement, AllowDestroy, BlastRadius};
use phasegate::gates::blast::{self, BlastContext, BlastReport};
use phasegate::gates::Verdict;
use phasegate::plan::{parse_plan_json, ChangeSet};
use serde_json::{json, Value};

fn fixture(name: &str) -> ChangeSet {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/blast")
        .join(name);
    parse_plan_json(&std::fs::read_to_string(path).unwrap(), name).unwrap()
}

/// A plan with one change per `(address, actions)`.
fn plan(changes: &[(&str, &[&str])]) -> ChangeSet {
    let resource_changes: Vec<Value> = changes
        .iter()
        .map(|(address, actions)| {
            let (t, n) = address.rsplit_once('.').unwrap();
            let creates = actions == &["create"];
            let deletes = actions == &["delete"];
            json!({
                "address": address, "mode": "managed", "type": t, "name": n,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": if creates { Value::Null } else { json!({"id": "x"}) },
                    "after": if deletes { Value::Null } else { json!({"tags": {}}) },
                    "after_unknown": {},
                }
            })
        })
        .collect();
    let text = json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": resource_changes,
        "configuration": {"root_module": {}}
    })
    .to_string();
    parse_plan_json(&text, "inline.json").unwrap()
}

fn ctx(protected: bool, declared: BlastRadius) -> BlastContext {
    BlastContext {
        environment: "prod".into(),
        protected,
        declared: Some(declared),
        allow_destroy: Vec::new(),
        phase: Some("prod".into()),
        acknowledgements: Vec::new(),
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    }
}

fn run(changes: &ChangeSet, ctx: &BlastContext) -> BlastReport {
    blast::evaluate(&[("app".to_string(), changes)], ctx)
}

#[test]
fn replaced_database_in_protected_environment_blocks() {
    let report = run(
        &fixture("db-replace.json"),
        &ctx(true, BlastRadius::Critical),
    );
    assert_eq!(report.verdict, Verdict::Block);
    assert_eq!(report.guarded, vec!["aws_db_instance.main"]);
    assert!(report.allowed.is_empty());
}

#[test]
fn allow_destroy_naming_the_database_lets_the_replace_through() {
    let mut c = ctx(true, BlastRadius::Critical);
    c.allow_destroy = vec![AllowDestroy {
        address: "aws_db_instance.main".into(),
        reason: "rename; restored from snapshot".into(),
        phase: Some("prod".into()),
    }];
    let report = run(&fixture("db-replace.json"), &c);
    assert_eq!(report.verdict, Verdict::Warn);
    assert!(report.guarded.is_empty());
    assert_eq!(report.allowed, vec!["aws_db_instance.main"]);
}

#[test]
fn allow_destroy_matches_globs_but_not_other_phases_or_addresses() {
    let allow = |address: &str, phase: Option<&str>| AllowDestroy {
        address: address.into(),
        reason: "r".into(),
        phase: phase.map(str::to_string),
    };
    let mut c = ctx(true, BlastRadius::Critical);
    c.allow_destroy = vec![allow("aws_db_instance.*", None)];
    assert!(run(&fixture("db-replace.json"), &c).guarded.is_empty());
    c.allow_destroy = vec![allow("aws_db_instance.main", Some("staging"))];
    assert_eq!(run(&fixture("db-replace.json"), &c).verdict, Verdict::Block);
    c.allow_destroy = vec![allow("aws_db_instance.other", None)];
    assert_eq!(run(&fixture("db-replace.json"), &c).verdict, Verdict::Block);
}

#[test]
fn replaced_database_in_unprotected_environment_is_high_not_blocked() {
    let report = run(&fixture("db-replace.json"), &ctx(false, BlastRadius::High));
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.actual, BlastRadius::High);
    assert!(report.guarded.is_empty());
}

#[test]
fn only_creates_and_updates_score_low() {
    let p = plan(&[
        ("aws_instance.a", &["create"]),
        ("aws_instance.b", &["update"]),
    ]);
    let report = run(&p, &ctx(false, BlastRadius::Low));
    assert_eq!(report.actual, BlastRadius::Low);
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn deleting_an_ordinary_resource_scores_medium() {
    let p = plan(&[("aws_instance.a", &["delete"])]);
    assert_eq!(
        run(&p, &ctx(false, BlastRadius::Low)).actual,
        BlastRadius::Medium
    );
}

#[test]
fn changing_identity_scores_medium_and_destroying_it_high() {
    let p = plan(&[("aws_iam_role.a", &["update"])]);
    assert_eq!(
        run(&p, &ctx(false, BlastRadius::Low)).actual,
        BlastRadius::Medium
    );
    let p = plan(&[("aws_iam_role.a", &["delete"])]);
    assert_eq!(
        run(&p, &ctx(false, BlastRadius::Low)).actual,
        BlastRadius::High
    );
}

#[test]
fn five_destroys_score_high_and_three_stateful_destroys_critical() {
    let p = plan(&[
        ("aws_instance.a", &["delete"]),
        ("aws_instance.b", &["delete"]),
        ("aws_instance.c", &["delete", "create"]),
        ("aws_instance.d", &["delete"]),
        ("aws_instance.e", &["delete"]),
    ]);
    assert_eq!(
        run(&p, &ctx(false, BlastRadius::Low)).actual,
        BlastRadius::High
    );
    let p = plan(&[
        ("aws_s3_bucket.a", &["delete"]),
        ("aws_dynamodb_table.lock", &["delete"]),
        ("aws_kms_key.k", &["delete"]),
    ]);
    assert_eq!(
        run(&p, &ctx(false, BlastRadius::Low)).actual,
        BlastRadius::Critical
    );
}

#[test]
fn protected_environment_raises_the_level_by_one() {
    let p = plan(&[("aws_instance.a", &["delete"])]);
    let report = run(&p, &ctx(true, BlastRadius::Low));
    assert_eq!(report.actual, BlastRadius::High);
    assert!(
        report.reasons.iter().any(|r| r.contains("protected")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn larger_than_declared_requires_the_blast_radius_acknowledgement() {
    let p = plan(&[("aws_instance.a", &["delete"])]);
    let mut c = ctx(false, BlastRadius::Low);
    let report = run(&p, &c);
    assert_eq!(report.verdict, Verdict::AckRequired);
    let json = report.to_json();
    assert_eq!(json["gate"], "blast");
    assert_eq!(json["declared"], "low");
    assert_eq!(json["actual"], "medium");
    assert!(json["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    c.acknowledgements = vec![Acknowledgement {
        id: "blast-radius".into(),
        address: None,
        reason: "decommissioning".into(),
        by: None,
        expires: None,
        phase: None,
    }];
    assert_eq!(run(&p, &c).verdict, Verdict::Warn);
}

#[test]
fn section_lists_guarded_addresses_escaped() {
    let report = run(&fixture("db-replace.json"), &ctx(true, BlastRadius::Low));
    let s = phasegate::render::blast::section(&report);
    assert_eq!(s.key, "blast");
    assert_eq!(s.badge, Some(Verdict::Block));
    assert!(
        s.essentials_md
            .contains("<code>aws&#95;db&#95;instance.main</code>"),
        "{}",
        s.essentials_md
    );
    assert!(s.essentials_md.contains("allow_destroy"));
    assert!(s
        .details_md
        .contains("stateful resource(s) destroyed or replaced"));
}

#[test]
fn blocked_section_snapshot() {
    let s = phasegate::render::blast::section(&run(
        &fixture("db-replace.json"),
        &ctx(true, BlastRadius::Medium),
    ));
    insta::assert_snapshot!(
        "blast_section_blocked",
        format!("{}\n---\n{}", s.essentials_md, s.details_md)
    );
}
