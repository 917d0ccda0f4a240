//! Unit tests of the policy gate over small inline policies.

use std::time::Duration;

use serde_json::json;

use super::*;

fn source(modules: &[(&str, &str)], namespaces: &[&str]) -> PolicySource {
    PolicySource {
        name: "team".into(),
        modules: modules
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
        data: vec![],
        namespaces: Namespaces::from_list(
            &namespaces.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ),
        timeout: Duration::from_millis(2000),
    }
}

fn ctx() -> AckContext {
    AckContext {
        phase: Some("prod".into()),
        acknowledgements: vec![],
        today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    }
}

const TAGS: &str = r#"package main

deny_tags contains {"msg": sprintf("%s has no owner tag", [rc.address]), "address": rc.address} if {
    some rc in input.resource_changes
    not rc.change.after.tags.owner
}

warn contains "plans are big" if count(input.resource_changes) > 1
"#;

fn plan() -> PolicyInput {
    mask_plan(json!({"resource_changes": [
        {"address": "aws_s3_bucket.a", "type": "aws_s3_bucket", "change": {"actions": ["create"], "after": {"tags": {}}}},
        {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "change": {"actions": ["create"], "after": {"tags": {"owner": "x"}}}}
    ]}))
}

#[test]
fn deny_with_address_needs_acknowledgement_and_warn_is_medium() {
    let set = compile(&source(&[("p/tags.rego", TAGS)], &[])).unwrap();
    let found = findings(&set, &SetSeverity::default(), &plan(), "app").unwrap();
    let r = report(found, vec!["team".into()], &ctx());
    assert_eq!(r.verdict, Verdict::AckRequired);
    let deny = r
        .findings
        .iter()
        .find(|f| f.kind == RuleKind::Deny)
        .unwrap();
    assert_eq!(deny.severity, Severity::High);
    assert!(deny.id.starts_with("POL-main-deny_tags-"), "{}", deny.id);
    assert_eq!(deny.address.as_deref(), Some("aws_s3_bucket.a"));
    assert_eq!((deny.file.as_str(), deny.line), ("p/tags.rego", 3));
    let warn = r
        .findings
        .iter()
        .find(|f| f.kind == RuleKind::Warn)
        .unwrap();
    assert_eq!(
        (warn.severity, warn.id.as_str()),
        (Severity::Medium, "POL-main-warn")
    );
}

#[test]
fn an_acknowledged_deny_passes_with_a_warning_and_a_critical_one_blocks() {
    let set = compile(&source(&[("tags.rego", TAGS)], &[])).unwrap();
    let mut c = ctx();
    c.acknowledgements.push(Acknowledgement {
        id: "POL-main-deny_tags".into(),
        address: Some("aws_s3_bucket.*".into()),
        reason: "legacy bucket".into(),
        by: None,
        expires: None,
        phase: None,
    });
    let found = findings(&set, &SetSeverity::default(), &plan(), "app").unwrap();
    assert_eq!(report(found, vec![], &c).verdict, Verdict::Warn);
    let raise = SetSeverity {
        default: None,
        rules: [("deny_tags".to_string(), PolicySeverity::Critical)].into(),
    };
    let found = findings(&set, &raise, &plan(), "app").unwrap();
    assert_eq!(report(found, vec![], &c).verdict, Verdict::Block);
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let err = compile(&source(
        &[(
            "bad.rego",
            "package main\n\ndeny contains msg if {\n  msg := \n}\n",
        )],
        &[],
    ))
    .unwrap_err();
    match &err {
        PolicyError::Rego {
            file, line, column, ..
        } => {
            assert_eq!(file, "bad.rego");
            assert!(*line >= 4 && *column > 0, "{err}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_namespace_without_package_or_rules_is_an_error_not_a_pass() {
    let err = compile(&source(&[("tags.rego", TAGS)], &["terraform"])).unwrap_err();
    assert!(
        matches!(err, PolicyError::UndefinedNamespace { .. }),
        "{err}"
    );
    let err = compile(&source(
        &[("h.rego", "package helpers\n\nis_big(x) if x > 3\n")],
        &["helpers"],
    ))
    .unwrap_err();
    assert!(matches!(err, PolicyError::UndefinedRule { .. }), "{err}");
}

#[test]
fn a_runaway_rule_is_stopped_naming_its_file_and_line() {
    let mut src = source(
        &[("slow.rego", "package main\n\ndeny contains x if {\n  some x in numbers.range(1, 100000000)\n  x < 0\n}\n")],
        &[],
    );
    src.timeout = Duration::from_millis(200);
    let set = compile(&src).unwrap();
    let err = findings(&set, &SetSeverity::default(), &plan(), "app").unwrap_err();
    assert!(matches!(err, PolicyError::Timeout { line: 3, .. }), "{err}");
}

#[test]
fn messages_never_carry_a_masked_value() {
    let input = mask_plan(json!({"resource_changes": [{"address": "a.b", "change": {
        "after": {"pw": "CANARY-policy-secret"}, "after_sensitive": {"pw": true}}}]}));
    assert!(!input.plan.to_string().contains("CANARY"));
    // A policy that got the secret some other way (its own data) is scrubbed too.
    let mut src = source(
        &[(
            "leak.rego",
            "package main\n\ndeny contains msg if {\n  msg := sprintf(\"pw=%v\", [data.copy])\n}\n",
        )],
        &[],
    );
    src.data = vec![("d.json".into(), json!({"copy": "CANARY-policy-secret"}))];
    let set = compile(&src).unwrap();
    let found = findings(&set, &SetSeverity::default(), &input, "app").unwrap();
    assert_eq!(found.len(), 1);
    assert!(!found[0].message.contains("CANARY"), "{}", found[0].message);
}
