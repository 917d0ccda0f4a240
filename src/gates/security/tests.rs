//! Rule behaviour on hand-built resource changes, acknowledgements and the
//! verdict, and the stability of the rule catalog.

use serde_json::{json, Value};

use super::*;
use crate::plan::{Engine, ResourceChange};

fn rc(address: &str, action: Action, after: Value, after_unknown: Value) -> ResourceChange {
    let (rtype, name) = address.split_once('.').expect("type.name");
    ResourceChange {
        address: address.to_string(),
        module: None,
        mode: Mode::Managed,
        resource_type: rtype.to_string(),
        name: name.to_string(),
        index: None,
        provider: "registry.terraform.io/hashicorp/aws".to_string(),
        action,
        action_reason: None,
        previous_address: None,
        importing: None,
        deposed: None,
        before: Value::Null.into(),
        after: after.into(),
        after_unknown: after_unknown.into(),
        after_sensitive: json!({}).into(),
        diff: Vec::new(),
    }
}

fn plan(resources: Vec<ResourceChange>) -> ChangeSet {
    ChangeSet {
        format_version: "1.2".into(),
        engine: Engine::Terraform,
        engine_version: Some("1.9.0".into()),
        resources,
        drift: Vec::new(),
        outputs: Vec::new(),
        errored: None,
        applyable: Some(true),
        complete: Some(true),
        provider_config: json!({}),
        references: Default::default(),
        digest: String::new(),
        sensitive_values: Default::default(),
        groups: Default::default(),
    }
}

fn ctx() -> SecurityContext {
    SecurityContext {
        policy: SecurityPolicy::Standard,
        protected: false,
        phase: Some("prod".into()),
        acknowledgements: Vec::new(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
        imported: Vec::new(),
        unknown: UnknownPolicy::Pass,
    }
}

fn ids(r: &SecurityReport) -> Vec<(String, Severity, String)> {
    r.findings
        .iter()
        .map(|f| (f.id.clone(), f.severity, f.address.clone()))
        .collect()
}

fn ssh_sg(cidr: &str) -> Value {
    json!({"name": "sg", "ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": [cidr]}], "egress": []})
}

fn ack(id: &str, address: Option<&str>, expires: Option<&str>) -> Acknowledgement {
    Acknowledgement {
        id: id.into(),
        address: address.map(str::to_string),
        reason: "bastion during migration".into(),
        by: None,
        expires: expires.map(str::to_string),
        phase: None,
    }
}

#[test]
fn ssh_open_to_the_world_needs_an_acknowledgement() {
    let cs = plan(vec![rc(
        "aws_security_group.a",
        Action::Create,
        ssh_sg("0.0.0.0/0"),
        json!({}),
    )]);
    let r = evaluate(&cs, &ctx());
    assert_eq!(
        ids(&r),
        vec![(
            "PG-AWS-001".into(),
            Severity::High,
            "aws_security_group.a".into()
        )]
    );
    assert_eq!(r.verdict, Verdict::AckRequired);
}

#[test]
fn ssh_from_a_private_range_passes() {
    let cs = plan(vec![rc(
        "aws_security_group.a",
        Action::Update,
        ssh_sg("10.0.0.0/8"),
        json!({}),
    )]);
    assert_eq!(evaluate(&cs, &ctx()).verdict, Verdict::Pass);
}

#[test]
fn deleted_resources_are_never_flagged() {
    let cs = plan(vec![rc(
        "aws_security_group.a",
        Action::Delete,
        ssh_sg("0.0.0.0/0"),
        json!({}),
    )]);
    assert!(evaluate(&cs, &ctx()).findings.is_empty());
}

#[test]
fn unknown_cidr_is_an_unknown_outcome_without_crosswalk_that_never_blocks() {
    let after =
        json!({"ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp"}], "egress": []});
    let unk = json!({"ingress": [{"cidr_blocks": true}]});
    let cs = plan(vec![rc("aws_security_group.a", Action::Create, after, unk)]);
    let r = evaluate(&cs, &ctx());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "PG-AWS-001")
        .expect("unknown finding");
    assert_eq!(f.outcome, FindingOutcome::Unknown);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.crosswalk, Crosswalk::default(), "no other scanner failed");
    assert!(
        f.message.contains("known only after apply"),
        "{}",
        f.message
    );
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!((r.unknown_count(), r.count(Severity::Info)), (4, 0));
    // Nothing to acknowledge: an acknowledgement for it matches nothing.
    let acked = evaluate(
        &cs,
        &SecurityContext {
            acknowledgements: vec![ack("PG-AWS-001", None, None)],
            ..ctx()
        },
    );
    assert!(acked.findings.iter().all(|f| !f.acknowledged));
    assert_eq!(acked.unmatched_acknowledgements.len(), 1);
}

#[test]
fn the_unknown_setting_can_raise_unknowns_to_warn_or_block() {
    let after = json!({"user_data": null});
    let unk = json!({"user_data": true, "metadata_options": [{"http_tokens": true}]});
    let cs = plan(vec![rc(
        "aws_instance.a",
        Action::Create,
        json!({"metadata_options": [{"http_endpoint": "enabled"}], "root_block_device": [{"encrypted": true}], "user_data": after["user_data"]}),
        unk,
    )]);
    for (policy, verdict) in [
        (UnknownPolicy::Pass, Verdict::Pass),
        (UnknownPolicy::Warn, Verdict::Warn),
        (UnknownPolicy::Block, Verdict::Block),
    ] {
        let r = evaluate(
            &cs,
            &SecurityContext {
                unknown: policy,
                ..ctx()
            },
        );
        assert_eq!(r.unknown_count(), 2, "{:?}", r.findings);
        assert_eq!(r.verdict, verdict, "{policy:?}");
    }
}

#[test]
fn separate_rule_resources_are_checked_too() {
    let cs = plan(vec![
        rc(
            "aws_security_group_rule.rdp",
            Action::Create,
            json!({"type": "ingress", "from_port": 3389, "to_port": 3389, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}),
            json!({}),
        ),
        rc(
            "aws_vpc_security_group_ingress_rule.pg",
            Action::Create,
            json!({"from_port": 5432, "to_port": 5432, "ip_protocol": "tcp", "cidr_ipv6": "::/0"}),
            json!({}),
        ),
    ]);
    let got: Vec<_> = ids(&evaluate(&cs, &ctx()))
        .into_iter()
        .map(|(i, _, a)| (i, a))
        .collect();
    assert!(got.contains(&("PG-AWS-002".into(), "aws_security_group_rule.rdp".into())));
    assert!(got.contains(&(
        "PG-AWS-003".into(),
        "aws_vpc_security_group_ingress_rule.pg".into()
    )));
}

#[test]
fn user_data_key_is_critical_masked_and_handed_to_the_redactor() {
    let key = "AKIAPGUNITTEST000042";
    let cs = plan(vec![rc(
        "aws_instance.web",
        Action::Create,
        json!({"user_data": format!("export K={key}"), "root_block_device": [{"encrypted": true}],
               "metadata_options": [{"http_tokens": "required"}]}),
        json!({}),
    )]);
    let r = evaluate(&cs, &ctx());
    assert_eq!(
        ids(&r),
        vec![(
            "PG-AWS-024".into(),
            Severity::Critical,
            "aws_instance.web".into()
        )]
    );
    assert_eq!(r.verdict, Verdict::Block);
    assert_eq!(r.secrets(), [key.to_string()]);
    assert!(!to_json(&r).contains(key));
    assert!(r.findings[0].message.contains("AKIA************0042"));
}

#[test]
fn imds_v1_is_flagged_only_where_the_schema_has_metadata_options() {
    let with = json!({"root_block_device": [{"encrypted": true}], "metadata_options": []});
    let without = json!({"root_block_device": [{"encrypted": true}]});
    let cs = plan(vec![
        rc("aws_instance.real", Action::Create, with, json!({})),
        rc("aws_instance.testcloud", Action::Create, without, json!({})),
    ]);
    assert_eq!(
        ids(&evaluate(&cs, &ctx())),
        vec![(
            "PG-AWS-019".into(),
            Severity::High,
            "aws_instance.real".into()
        )]
    );
}

#[test]
fn an_instance_without_metadata_options_fails_imdsv2_even_when_the_block_is_computed() {
    let root = json!([{"encrypted": true}]);
    let cs = plan(vec![
        // Not configured: the provider computes the block after apply.
        rc(
            "aws_instance.computed",
            Action::Create,
            json!({"root_block_device": root, "metadata_options": []}),
            json!({"metadata_options": true}),
        ),
        rc(
            "aws_launch_template.optional",
            Action::Create,
            json!({"metadata_options": [{"http_tokens": "optional", "http_endpoint": "enabled"}]}),
            json!({}),
        ),
        rc(
            "aws_launch_template.disabled",
            Action::Create,
            json!({"metadata_options": [{"http_tokens": "optional", "http_endpoint": "disabled"}]}),
            json!({}),
        ),
        rc(
            "aws_launch_template.required",
            Action::Create,
            json!({"metadata_options": [{"http_tokens": "required"}]}),
            json!({}),
        ),
    ]);
    let got: Vec<String> = evaluate(&cs, &ctx())
        .findings
        .iter()
        .filter(|f| f.id == "PG-AWS-019")
        .map(|f| format!("{} {:?}", f.address, f.outcome))
        .collect();
    assert_eq!(
        got,
        [
            "aws_instance.computed Fail",
            "aws_launch_template.optional Fail"
        ]
    );
}

#[test]
fn provider_credentials_are_found() {
    let mut cs = plan(vec![]);
    cs.provider_config = json!({"aws": {"name": "aws", "expressions": {"access_key": {"constant_value": "AKIAPGUNITTEST000043"}}}});
    let r = evaluate(&cs, &ctx());
    assert_eq!(
        ids(&r),
        vec![(
            "PG-GEN-002".into(),
            Severity::Critical,
            "provider.aws".into()
        )]
    );
}

#[test]
fn wildcard_policy_and_open_trust_are_found() {
    let cs = plan(vec![
        rc(
            "aws_iam_policy.p",
            Action::Create,
            json!({"policy": r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#}),
            json!({}),
        ),
        rc(
            "aws_iam_role.r",
            Action::Create,
            json!({"assume_role_policy": r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"*"}}]}"#}),
            json!({}),
        ),
    ]);
    let got: Vec<_> = ids(&evaluate(&cs, &ctx()))
        .into_iter()
        .map(|(i, s, _)| (i, s))
        .collect();
    assert!(got.contains(&("PG-AWS-020".into(), Severity::High)));
    assert!(got.contains(&("PG-AWS-021".into(), Severity::Medium)));
    assert!(got.contains(&("PG-AWS-022".into(), Severity::High)));
    assert!(got.contains(&("PG-AWS-035".into(), Severity::High)));
}

#[test]
fn full_admin_every_action_and_service_wildcards_are_three_rules_with_their_own_ids() {
    let policy = |action: &str, resource: &str| json!({"policy": format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#)});
    let cs = plan(vec![
        rc(
            "aws_iam_policy.admin",
            Action::Create,
            policy("*", "*"),
            json!({}),
        ),
        rc(
            "aws_iam_policy.star",
            Action::Create,
            policy("*", "arn:aws:s3:::b"),
            json!({}),
        ),
        rc(
            "aws_iam_policy.svc",
            Action::Create,
            policy("s3:*", "arn:aws:s3:::b"),
            json!({}),
        ),
        rc(
            "aws_iam_policy.get",
            Action::Create,
            policy("s3:GetObject", "arn:aws:s3:::b"),
            json!({}),
        ),
    ]);
    let got: Vec<(String, String, Vec<String>)> = evaluate(&cs, &ctx())
        .findings
        .into_iter()
        .filter(|f| ["PG-AWS-020", "PG-AWS-035", "PG-AWS-036"].contains(&f.id.as_str()))
        .map(|f| (f.address, f.id, f.crosswalk.checkov))
        .collect();
    let row = |a: &str, id: &str, ck: &[&str]| -> (String, String, Vec<String>) {
        (
            a.to_string(),
            id.to_string(),
            ck.iter().map(|s| s.to_string()).collect(),
        )
    };
    assert_eq!(
        got,
        vec![
            row("aws_iam_policy.admin", "PG-AWS-020", &["CKV_AWS_62"]),
            row("aws_iam_policy.admin", "PG-AWS-035", &["CKV_AWS_63"]),
            row("aws_iam_policy.star", "PG-AWS-035", &["CKV_AWS_63"]),
            row("aws_iam_policy.svc", "PG-AWS-036", &[]),
        ]
    );
}

#[test]
fn deletion_protection_is_low_outside_protected_environments_and_medium_inside() {
    let db = json!({"storage_encrypted": true, "publicly_accessible": false, "backup_retention_period": 7, "deletion_protection": false});
    let cs = plan(vec![rc("aws_db_instance.d", Action::Create, db, json!({}))]);
    assert_eq!(
        ids(&evaluate(&cs, &ctx())),
        vec![(
            "PG-AWS-015".into(),
            Severity::Low,
            "aws_db_instance.d".into()
        )]
    );
    let protected = SecurityContext {
        protected: true,
        ..ctx()
    };
    assert_eq!(
        ids(&evaluate(&cs, &protected)),
        vec![(
            "PG-AWS-015".into(),
            Severity::Medium,
            "aws_db_instance.d".into()
        )]
    );
}

#[test]
fn gcp_and_azure_firewalls_are_checked() {
    let cs = plan(vec![
        rc(
            "google_compute_firewall.f",
            Action::Create,
            json!({"direction": "INGRESS", "source_ranges": ["0.0.0.0/0"], "allow": [{"protocol": "tcp", "ports": ["22", "80"]}]}),
            json!({}),
        ),
        rc(
            "azurerm_network_security_rule.r",
            Action::Create,
            json!({"direction": "Inbound", "access": "Allow", "source_address_prefix": "Internet", "destination_port_range": "3389"}),
            json!({}),
        ),
    ]);
    let got: Vec<_> = ids(&evaluate(&cs, &ctx()))
        .into_iter()
        .map(|(i, s, _)| (i, s))
        .collect();
    assert_eq!(
        got,
        vec![
            ("PG-AZ-002".into(), Severity::Critical),
            ("PG-GCP-001".into(), Severity::Critical)
        ]
    );
}

#[test]
fn matching_acknowledgement_turns_ack_required_into_warn() {
    let cs = plan(vec![rc(
        "aws_security_group.a",
        Action::Create,
        ssh_sg("0.0.0.0/0"),
        json!({}),
    )]);
    let c = SecurityContext {
        acknowledgements: vec![ack(
            "PG-AWS-001",
            Some("aws_security_group.*"),
            Some("2026-12-31"),
        )],
        ..ctx()
    };
    let r = evaluate(&cs, &c);
    assert!(r.findings[0].acknowledged);
    assert_eq!(r.verdict, Verdict::Warn);
    assert!(r.unmatched_acknowledgements.is_empty());
}

#[test]
fn expired_unmatched_and_other_phase_acknowledgements_do_not_count() {
    let cs = plan(vec![rc(
        "aws_security_group.a",
        Action::Create,
        ssh_sg("0.0.0.0/0"),
        json!({}),
    )]);
    let mut other_phase = ack("PG-AWS-001", None, None);
    other_phase.phase = Some("staging".into());
    let c = SecurityContext {
        acknowledgements: vec![
            ack("PG-AWS-001", None, Some("2026-11-22")),
            ack("PG-AWS-002", None, None),
            other_phase,
        ],
        ..ctx()
    };
    let r = evaluate(&cs, &c);
    assert_eq!(r.verdict, Verdict::AckRequired);
    assert_eq!(r.expired_acknowledgements.len(), 1);
    assert_eq!(r.unmatched_acknowledgements.len(), 1);
    assert_eq!(r.unmatched_acknowledgements[0].id, "PG-AWS-002");
}

#[test]
fn critical_findings_cannot_be_acknowledged() {
    let cs = plan(vec![rc(
        "aws_instance.w",
        Action::Create,
        json!({"user_data": "AKIAPGUNITTEST000044", "root_block_device": [{"encrypted": true}], "metadata_options": [{"http_tokens": "required"}]}),
        json!({}),
    )]);
    let c = SecurityContext {
        acknowledgements: vec![ack("PG-AWS-024", None, None)],
        ..ctx()
    };
    let r = evaluate(&cs, &c);
    assert_eq!(r.verdict, Verdict::Block);
    assert!(!r.findings[0].acknowledged);
}

#[test]
fn strict_policy_requires_acknowledging_medium_findings() {
    let bucket = json!({"bucket": "b", "acl": "private", "server_side_encryption_configuration": {"rule": {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}},
        "logging": [{"target_bucket": "l"}], "versioning": {"enabled": false}});
    let cs = plan(vec![rc(
        "aws_s3_bucket.b",
        Action::Create,
        bucket,
        json!({}),
    )]);
    assert_eq!(evaluate(&cs, &ctx()).verdict, Verdict::Warn);
    let strict = SecurityContext {
        policy: SecurityPolicy::Strict,
        ..ctx()
    };
    assert_eq!(evaluate(&cs, &strict).verdict, Verdict::AckRequired);
}

#[test]
fn rule_ids_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    let re = regex::Regex::new(r"^PG-(AWS|GCP|AZ|GEN)-\d{3}$").expect("regex");
    for r in catalog() {
        assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
        assert!(re.is_match(r.id), "bad id {}", r.id);
        for c in r.checkov {
            assert!(c.starts_with("CKV_") || c.starts_with("CKV2_"), "{c}");
        }
        for t in r.trivy {
            assert!(t.starts_with("AVD-"), "{t}");
        }
    }
    assert!(seen.len() >= 40, "only {} rules", seen.len());
}

#[test]
fn rule_catalog_is_stable() {
    let rows: Vec<Value> = catalog()
        .map(|r| json!({"id": r.id, "severity": r.severity, "title": r.title, "checkov": r.checkov, "trivy": r.trivy}))
        .collect();
    insta::assert_json_snapshot!("rule_catalog", rows);
}

/// Severities from Trivy's published check metadata (trivy-checks,
/// `checks/cloud/**.rego`, `severity:`), for every Trivy id we crosswalk to.
const TRIVY_SEVERITY: &[(&str, Severity)] = &[
    ("AVD-AWS-0014", Severity::Medium),
    ("AVD-AWS-0016", Severity::High),
    ("AVD-AWS-0024", Severity::Medium),
    ("AVD-AWS-0131", Severity::High),
    ("AVD-AWS-0026", Severity::High),
    ("AVD-AWS-0028", Severity::High),
    ("AVD-AWS-0104", Severity::Critical),
    ("AVD-AWS-0107", Severity::High),
    ("AVD-AWS-0164", Severity::High),
    ("AVD-AWS-0029", Severity::Critical),
    ("AVD-AWS-0178", Severity::Medium),
    ("AVD-AWS-0036", Severity::Critical),
    ("AVD-AWS-0057", Severity::High),
    ("AVD-AWS-0180", Severity::High),
    ("AVD-AWS-0177", Severity::Medium),
    ("AVD-AWS-0079", Severity::High),
    ("AVD-AWS-0080", Severity::High),
    ("AVD-AWS-0077", Severity::Medium),
    ("AVD-AWS-0086", Severity::High),
    ("AVD-AWS-0087", Severity::High),
    ("AVD-AWS-0088", Severity::High),
    // aws-s3-encryption-customer-key: "S3 encryption should use Customer Managed Keys".
    ("AVD-AWS-0132", Severity::High),
    ("AVD-AWS-0089", Severity::Low),
    ("AVD-AWS-0090", Severity::Medium),
    ("AVD-AWS-0091", Severity::High),
    ("AVD-AWS-0092", Severity::High),
    ("AVD-AWS-0093", Severity::High),
    ("AVD-AWS-0095", Severity::High),
    ("AVD-AWS-0096", Severity::High),
    ("AVD-AZU-0039", Severity::High),
    ("AVD-AZU-0037", Severity::Medium),
    ("AVD-AZU-0022", Severity::Medium),
    ("AVD-AZU-0029", Severity::High),
    ("AVD-AZU-0016", Severity::Medium),
    ("AVD-AZU-0048", Severity::Critical),
    ("AVD-AZU-0051", Severity::Critical),
    ("AVD-AZU-0047", Severity::Critical),
    ("AVD-AZU-0050", Severity::Critical),
    ("AVD-AZU-0008", Severity::High),
    ("AVD-AZU-0007", Severity::High),
    ("AVD-AZU-0011", Severity::Critical),
    ("AVD-GCP-0072", Severity::Medium),
    ("AVD-GCP-0029", Severity::Low),
    ("AVD-GCP-0043", Severity::High),
    ("AVD-GCP-0070", Severity::High),
    ("AVD-GCP-0035", Severity::Critical),
    ("AVD-GCP-0027", Severity::Critical),
    ("AVD-GCP-0031", Severity::High),
    ("AVD-GCP-0071", Severity::Medium),
    ("AVD-GCP-0024", Severity::Medium),
    ("AVD-GCP-0017", Severity::High),
    ("AVD-GCP-0077", Severity::Medium),
    ("AVD-GCP-0078", Severity::Medium),
    ("AVD-GCP-0002", Severity::Medium),
    ("AVD-GCP-0001", Severity::High),
];

/// Rules whose severity departs from Trivy's on purpose; each rule's doc
/// comment says why.
const SEVERITY_EXCEPTIONS: &[&str] = &[
    "PG-AWS-005",
    // Trivy rates "no customer-managed key" high; since January 2023 every
    // bucket is encrypted with SSE-S3, so a missing KMS key only informs.
    "PG-AWS-009",
    "PG-AWS-036",
    "PG-AWS-021",
    "PG-GCP-005",
    "PG-AZ-005",
    "PG-AZ-013",
];

#[test]
fn severities_follow_trivy_for_the_first_crosswalked_check() {
    for r in catalog().filter(|r| !r.trivy.is_empty()) {
        let trivy = TRIVY_SEVERITY
            .iter()
            .find(|(id, _)| *id == r.trivy[0])
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("{}: {} is not a known Trivy id", r.id, r.trivy[0]));
        if SEVERITY_EXCEPTIONS.contains(&r.id) {
            assert_ne!(
                r.severity, trivy,
                "{} is listed as an exception but agrees",
                r.id
            );
        } else {
            assert_eq!(r.severity, trivy, "{} vs {}", r.id, r.trivy[0]);
        }
    }
    for r in catalog() {
        for t in r.trivy {
            assert!(
                TRIVY_SEVERITY.iter().any(|(id, _)| id == t),
                "{}: unknown Trivy id {t}",
                r.id
            );
        }
    }
}

/// One resource on each side of every rule's boundary: `(rule, type,
/// passes, fails)`. Relationship cases (companions, flow logs) have their own
/// tests below; here the boundary is in the resource itself.
fn boundaries() -> Vec<(&'static str, &'static str, Value, Value)> {
    let sg = |from: i64, to: i64, proto: &str, cidr: &str| json!({"ingress": [{"from_port": from, "to_port": to, "protocol": proto, "cidr_blocks": [cidr]}], "egress": []});
    let pol = |doc: &str| json!({"policy": doc});
    let trust = |p: &str| json!({"assume_role_policy": format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"AWS":"{p}"}}}}]}}"#)});
    let fw = |port: &str, range: &str| json!({"direction": "INGRESS", "source_ranges": [range], "allow": [{"protocol": "tcp", "ports": [port]}]});
    let nsg = |dir: &str, port: &str, prefix: &str| json!({"direction": dir, "access": "Allow", "source_address_prefix": prefix, "destination_address_prefix": prefix, "destination_port_range": port});
    let key = "AKIAPGUNITTEST000043";
    vec![
        (
            "PG-AWS-001",
            "aws_security_group",
            sg(22, 22, "tcp", "10.0.0.0/8"),
            sg(20, 30, "tcp", "0.0.0.0/0"),
        ),
        (
            "PG-AWS-002",
            "aws_security_group",
            sg(3380, 3388, "tcp", "0.0.0.0/0"),
            sg(3389, 3389, "tcp", "0.0.0.0/0"),
        ),
        (
            "PG-AWS-003",
            "aws_security_group",
            sg(5432, 5432, "tcp", "10.0.0.0/8"),
            sg(5432, 5432, "tcp", "0.0.0.0/0"),
        ),
        (
            "PG-AWS-004",
            "aws_security_group",
            sg(1, 65534, "tcp", "10.0.0.0/8"),
            sg(0, 0, "-1", "::/0"),
        ),
        (
            "PG-AWS-005",
            "aws_security_group_rule",
            json!({"type": "egress", "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}),
            json!({"type": "egress", "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}),
        ),
        (
            "PG-AWS-006",
            "aws_s3_bucket",
            json!({"acl": "private"}),
            json!({"acl": "authenticated-read"}),
        ),
        (
            "PG-AWS-007",
            "aws_s3_bucket_policy",
            pol(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}"#,
            ),
            pol(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject"}]}"#,
            ),
        ),
        (
            "PG-AWS-008",
            "aws_s3_bucket_public_access_block",
            json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}),
            json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": false}),
        ),
        (
            "PG-AWS-009",
            "aws_s3_bucket",
            json!({"server_side_encryption_configuration": [{"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}]}),
            json!({"server_side_encryption_configuration": [{"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]}]}),
        ),
        (
            "PG-AWS-010",
            "aws_s3_bucket",
            json!({"versioning": [{"enabled": true}]}),
            json!({"versioning": [{"enabled": false}]}),
        ),
        (
            "PG-AWS-011",
            "aws_s3_bucket",
            json!({"logging": [{"target_bucket": "logs"}]}),
            json!({"logging": []}),
        ),
        (
            "PG-AWS-012",
            "aws_db_instance",
            json!({"storage_encrypted": false, "replicate_source_db": "src", "backup_retention_period": 7, "deletion_protection": true}),
            json!({"storage_encrypted": false, "backup_retention_period": 7, "deletion_protection": true}),
        ),
        (
            "PG-AWS-013",
            "aws_rds_cluster_instance",
            json!({"publicly_accessible": false}),
            json!({"publicly_accessible": true}),
        ),
        (
            "PG-AWS-014",
            "aws_rds_cluster",
            json!({"storage_encrypted": true, "backup_retention_period": 1, "deletion_protection": true}),
            json!({"storage_encrypted": true, "backup_retention_period": 0, "deletion_protection": true}),
        ),
        (
            "PG-AWS-015",
            "aws_rds_cluster",
            json!({"storage_encrypted": true, "deletion_protection": true}),
            json!({"storage_encrypted": true}),
        ),
        (
            "PG-AWS-016",
            "aws_rds_cluster",
            json!({"storage_encrypted": true, "deletion_protection": true}),
            json!({"storage_encrypted": false, "deletion_protection": true}),
        ),
        (
            "PG-AWS-017",
            "aws_launch_configuration",
            json!({"root_block_device": [{"encrypted": true}], "ebs_block_device": [{"encrypted": true}]}),
            json!({"root_block_device": [{"encrypted": true}], "ebs_block_device": [{"encrypted": false}]}),
        ),
        (
            "PG-AWS-018",
            "aws_ebs_volume",
            json!({"encrypted": true}),
            json!({}),
        ),
        (
            "PG-AWS-019",
            "aws_launch_template",
            json!({"metadata_options": [{"http_tokens": "required"}]}),
            json!({"metadata_options": [{"http_tokens": "optional"}]}),
        ),
        (
            "PG-AWS-020",
            "aws_iam_role_policy",
            pol(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}"#),
            pol(r#"{"Statement":[{"Action":["*"],"Resource":["*"]}]}"#),
        ),
        (
            "PG-AWS-021",
            "aws_iam_user_policy",
            pol(r#"{"Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#),
            pol(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#),
        ),
        (
            "PG-AWS-022",
            "aws_iam_role",
            trust("arn:aws:iam::123456789012:root"),
            trust("*"),
        ),
        (
            "PG-AWS-023",
            "aws_iam_role_policy_attachment",
            json!({"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            json!({"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ),
        (
            "PG-AWS-024",
            "aws_instance",
            json!({"user_data": "echo hello", "metadata_options": [{"http_tokens": "required"}], "root_block_device": [{"encrypted": true}]}),
            json!({"user_data": format!("export AWS_ACCESS_KEY_ID={key}"), "metadata_options": [{"http_tokens": "required"}], "root_block_device": [{"encrypted": true}]}),
        ),
        (
            "PG-AWS-025",
            "aws_lambda_function",
            json!({"environment": [{"variables": {"REGION": "eu-west-1"}}]}),
            json!({"environment": [{"variables": {"KEY": key}}]}),
        ),
        (
            "PG-AWS-026",
            "aws_ecs_task_definition",
            json!({"container_definitions": r#"[{"name":"app","environment":[{"name":"MODE","value":"prod"}]}]"#}),
            json!({"container_definitions": format!(r#"[{{"name":"app","environment":[{{"name":"AWS_ACCESS_KEY_ID","value":"{key}"}}]}}]"#)}),
        ),
        (
            "PG-AWS-027",
            "aws_cloudtrail",
            json!({"is_multi_region_trail": true, "enable_log_file_validation": true}),
            json!({"is_multi_region_trail": false, "enable_log_file_validation": true}),
        ),
        (
            "PG-AWS-028",
            "aws_cloudtrail",
            json!({"is_multi_region_trail": true, "enable_log_file_validation": true}),
            json!({"is_multi_region_trail": true}),
        ),
        ("PG-AWS-029", "aws_vpc", json!({}), json!({})),
        (
            "PG-AWS-030",
            "aws_sns_topic",
            json!({"kms_master_key_id": "alias/aws/sns"}),
            json!({"kms_master_key_id": ""}),
        ),
        (
            "PG-AWS-031",
            "aws_sqs_queue",
            json!({"sqs_managed_sse_enabled": true}),
            json!({"sqs_managed_sse_enabled": false}),
        ),
        (
            "PG-AWS-032",
            "aws_dynamodb_table",
            json!({"point_in_time_recovery": [{"enabled": true}]}),
            json!({"point_in_time_recovery": [{"enabled": false}]}),
        ),
        (
            "PG-AWS-033",
            "aws_subnet",
            json!({"map_public_ip_on_launch": false}),
            json!({"map_public_ip_on_launch": true}),
        ),
        (
            "PG-AWS-034",
            "aws_db_instance",
            json!({"password": crate::plan::SENSITIVE_MASK, "storage_encrypted": true, "deletion_protection": true}),
            json!({"password": "hunter2hunter2", "storage_encrypted": true, "deletion_protection": true}),
        ),
        (
            "PG-AWS-035",
            "aws_iam_group_policy",
            pol(
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b"}]}"#,
            ),
            pol(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}"#),
        ),
        (
            "PG-AWS-036",
            "aws_iam_policy",
            pol(r#"{"Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#),
            pol(
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b"}]}"#,
            ),
        ),
        (
            "PG-GCP-001",
            "google_compute_firewall",
            fw("22", "10.0.0.0/8"),
            fw("20-25", "0.0.0.0/0"),
        ),
        (
            "PG-GCP-002",
            "google_compute_firewall",
            fw("3390", "0.0.0.0/0"),
            fw("3389", "0.0.0.0/0"),
        ),
        (
            "PG-GCP-003",
            "google_compute_firewall",
            fw("80", "0.0.0.0/0"),
            fw("3306", "0.0.0.0/0"),
        ),
        (
            "PG-GCP-004",
            "google_compute_firewall",
            fw("1-1000", "0.0.0.0/0"),
            json!({"direction": "INGRESS", "source_ranges": ["0.0.0.0/0"], "allow": [{"protocol": "all"}]}),
        ),
        (
            "PG-GCP-005",
            "google_compute_firewall",
            json!({"direction": "EGRESS", "destination_ranges": ["10.0.0.0/8"], "allow": [{"protocol": "all"}]}),
            json!({"direction": "EGRESS", "destination_ranges": ["0.0.0.0/0"], "allow": [{"protocol": "all"}]}),
        ),
        (
            "PG-GCP-006",
            "google_storage_bucket_iam_member",
            json!({"member": "user:a@example.com"}),
            json!({"member": "allUsers"}),
        ),
        (
            "PG-GCP-007",
            "google_storage_bucket",
            json!({"uniform_bucket_level_access": true, "versioning": [{"enabled": true}], "logging": [{"log_bucket": "l"}]}),
            json!({"uniform_bucket_level_access": false, "versioning": [{"enabled": true}], "logging": [{"log_bucket": "l"}]}),
        ),
        (
            "PG-GCP-008",
            "google_storage_bucket",
            json!({"uniform_bucket_level_access": true, "versioning": [{"enabled": true}], "logging": [{"log_bucket": "l"}]}),
            json!({"uniform_bucket_level_access": true, "versioning": [], "logging": [{"log_bucket": "l"}]}),
        ),
        (
            "PG-GCP-009",
            "google_storage_bucket",
            json!({"uniform_bucket_level_access": true, "versioning": [{"enabled": true}], "logging": [{"log_bucket": "l"}]}),
            json!({"uniform_bucket_level_access": true, "versioning": [{"enabled": true}], "logging": []}),
        ),
        (
            "PG-GCP-010",
            "google_sql_database_instance",
            json!({"settings": [{"ip_configuration": [{"authorized_networks": [{"value": "203.0.113.0/24"}]}], "backup_configuration": [{"enabled": true}]}]}),
            json!({"settings": [{"ip_configuration": [{"authorized_networks": [{"value": "0.0.0.0/0"}]}], "backup_configuration": [{"enabled": true}]}]}),
        ),
        (
            "PG-GCP-011",
            "google_sql_database_instance",
            json!({"settings": [{"backup_configuration": [{"enabled": true}]}]}),
            json!({"settings": [{"backup_configuration": [{"enabled": false}]}]}),
        ),
        (
            "PG-GCP-012",
            "google_compute_instance",
            json!({"network_interface": [{"access_config": []}]}),
            json!({"network_interface": [{"access_config": [{"nat_ip": ""}]}]}),
        ),
        (
            "PG-GCP-013",
            "google_compute_instance",
            json!({"can_ip_forward": false}),
            json!({"can_ip_forward": true}),
        ),
        (
            "PG-GCP-014",
            "google_compute_subnetwork",
            json!({"log_config": [{"aggregation_interval": "INTERVAL_5_SEC"}]}),
            json!({"log_config": []}),
        ),
        (
            "PG-GCP-015",
            "google_compute_instance_template",
            json!({"metadata": {"mode": "prod"}}),
            json!({"metadata": {"startup": format!("AWS_ACCESS_KEY_ID={key}")}}),
        ),
        (
            "PG-AZ-001",
            "azurerm_network_security_rule",
            nsg("Inbound", "22", "10.0.0.0/8"),
            nsg("Inbound", "22", "Internet"),
        ),
        (
            "PG-AZ-002",
            "azurerm_network_security_rule",
            nsg("Inbound", "3389", "VirtualNetwork"),
            nsg("Inbound", "3000-4000", "*"),
        ),
        (
            "PG-AZ-003",
            "azurerm_network_security_rule",
            nsg("Inbound", "443", "*"),
            nsg("Inbound", "1433", "*"),
        ),
        (
            "PG-AZ-004",
            "azurerm_network_security_rule",
            nsg("Inbound", "1-100", "*"),
            nsg("Inbound", "*", "*"),
        ),
        (
            "PG-AZ-005",
            "azurerm_network_security_rule",
            nsg("Outbound", "443", "*"),
            nsg("Outbound", "*", "*"),
        ),
        (
            "PG-AZ-006",
            "azurerm_storage_account",
            json!({"allow_nested_items_to_be_public": false}),
            json!({"allow_nested_items_to_be_public": true}),
        ),
        (
            "PG-AZ-007",
            "azurerm_storage_container",
            json!({"container_access_type": "private"}),
            json!({"container_access_type": "blob"}),
        ),
        (
            "PG-AZ-008",
            "azurerm_storage_account",
            json!({"enable_https_traffic_only": true}),
            json!({"enable_https_traffic_only": false}),
        ),
        (
            "PG-AZ-009",
            "azurerm_storage_account",
            json!({"min_tls_version": "TLS1_2"}),
            json!({"min_tls_version": "TLS1_1"}),
        ),
        (
            "PG-AZ-010",
            "azurerm_mssql_firewall_rule",
            json!({"start_ip_address": "0.0.0.0", "end_ip_address": "0.0.0.0"}),
            json!({"start_ip_address": "0.0.0.0", "end_ip_address": "255.255.255.255"}),
        ),
        (
            "PG-AZ-011",
            "azurerm_mssql_server",
            json!({"public_network_access_enabled": false}),
            json!({}),
        ),
        (
            "PG-AZ-012",
            "azurerm_linux_virtual_machine",
            json!({}),
            json!({"disable_password_authentication": false}),
        ),
        (
            "PG-AZ-013",
            "azurerm_linux_virtual_machine",
            json!({"custom_data": "#cloud-config"}),
            json!({"custom_data": format!("AWS_ACCESS_KEY_ID={key}")}),
        ),
        (
            "PG-AZ-014",
            "azurerm_key_vault",
            json!({"purge_protection_enabled": true}),
            json!({"purge_protection_enabled": false}),
        ),
        (
            "PG-GEN-001",
            "aws_sns_topic",
            json!({"kms_master_key_id": "k", "tags": {"owner": "team"}}),
            json!({"kms_master_key_id": "k", "tags": {"deploy": format!("AWS_ACCESS_KEY_ID={key}")}}),
        ),
    ]
}

#[test]
fn every_rule_has_a_checkov_note_and_a_boundary_case_on_each_side() {
    let table = boundaries();
    for rule in catalog() {
        assert!(
            rule.checkov_note.len() > 20,
            "{} needs a one-line note on what Checkov's check tests",
            rule.id
        );
        if rule.id == "PG-GEN-002" {
            continue; // provider configuration: provider_credentials_are_found
        }
        assert!(
            table.iter().any(|(id, ..)| *id == rule.id),
            "{} has no boundary case",
            rule.id
        );
    }
    for (id, rtype, passes, fails) in table {
        let fires = |after: &Value, env_flow_log: bool| {
            let mut resources = vec![rc(
                &format!("{rtype}.x"),
                Action::Create,
                after.clone(),
                json!({}),
            )];
            if env_flow_log {
                resources.push(rc(
                    "aws_flow_log.f",
                    Action::Create,
                    json!({"vpc_id": "vpc-1"}),
                    json!({}),
                ));
                resources[0].after = json!({"id": "vpc-1"}).into();
            }
            evaluate(&plan(resources), &ctx())
                .findings
                .iter()
                .any(|f| f.id == id && f.address == format!("{rtype}.x") && !f.is_unknown())
        };
        // The VPC rule's boundary is a flow log naming it.
        let flow = id == "PG-AWS-029";
        assert!(
            !fires(&passes, flow),
            "{id} fires on the passing side {passes}"
        );
        assert!(
            fires(&fails, false),
            "{id} does not fire on the failing side {fails}"
        );
    }
}

fn with_refs(mut cs: ChangeSet, refs: &[(&str, &str, &str)]) -> ChangeSet {
    for (from, attr, to) in refs {
        cs.references
            .entry(from.to_string())
            .or_default()
            .insert(attr.to_string(), vec![to.to_string()]);
    }
    cs
}

#[test]
fn a_flow_log_covers_only_the_vpc_its_vpc_id_refers_to() {
    let unknown_id = json!({"id": true});
    let cs = with_refs(
        plan(vec![
            rc("aws_vpc.a", Action::Create, json!({}), unknown_id.clone()),
            rc("aws_vpc.b", Action::Create, json!({}), unknown_id.clone()),
            rc(
                "aws_flow_log.f",
                Action::Create,
                json!({}),
                json!({"vpc_id": true}),
            ),
        ]),
        &[("aws_flow_log.f", "vpc_id", "aws_vpc.a")],
    );
    let flagged: Vec<String> = evaluate(&cs, &ctx())
        .findings
        .into_iter()
        .filter(|f| f.id == "PG-AWS-029")
        .map(|f| f.address)
        .collect();
    assert_eq!(flagged, ["aws_vpc.b"]);
}

#[test]
fn bucket_companions_count_only_for_the_bucket_they_refer_to() {
    let bucket = json!({"bucket": null, "versioning": [], "logging": []});
    let unknown_name = json!({"bucket": true});
    let companion = |t: &str, after: Value| rc(t, Action::Create, after, json!({"bucket": true}));
    let cs = with_refs(
        plan(vec![
            rc(
                "aws_s3_bucket.a",
                Action::Create,
                bucket.clone(),
                unknown_name.clone(),
            ),
            rc("aws_s3_bucket.b", Action::Create, bucket, unknown_name),
            companion(
                "aws_s3_bucket_versioning.a",
                json!({"versioning_configuration": [{"status": "Enabled"}]}),
            ),
            companion(
                "aws_s3_bucket_versioning.b",
                json!({"versioning_configuration": [{"status": "Suspended"}]}),
            ),
            companion("aws_s3_bucket_logging.a", json!({"target_bucket": "logs"})),
            companion(
                "aws_s3_bucket_server_side_encryption_configuration.a",
                json!({"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}),
            ),
            companion("aws_s3_bucket_acl.b", json!({"acl": "public-read"})),
        ]),
        &[
            ("aws_s3_bucket_versioning.a", "bucket", "aws_s3_bucket.a"),
            ("aws_s3_bucket_versioning.b", "bucket", "aws_s3_bucket.b"),
            ("aws_s3_bucket_logging.a", "bucket", "aws_s3_bucket.a"),
            (
                "aws_s3_bucket_server_side_encryption_configuration.a",
                "bucket",
                "aws_s3_bucket.a",
            ),
            ("aws_s3_bucket_acl.b", "bucket", "aws_s3_bucket.b"),
        ],
    );
    let mut got: Vec<(String, String)> = evaluate(&cs, &ctx())
        .findings
        .into_iter()
        .filter(|f| !f.is_unknown() && f.address.starts_with("aws_s3_bucket."))
        .map(|f| (f.id, f.address))
        .collect();
    got.sort();
    let row = |id: &str, a: &str| (id.to_string(), a.to_string());
    assert_eq!(
        got,
        [
            row("PG-AWS-006", "aws_s3_bucket.b"),
            row("PG-AWS-009", "aws_s3_bucket.b"),
            row("PG-AWS-010", "aws_s3_bucket.b"),
            row("PG-AWS-011", "aws_s3_bucket.b"),
        ]
    );
}

#[test]
fn rules_and_attachments_name_the_group_and_role_they_refer_to() {
    let cs = with_refs(
        plan(vec![
            rc(
                "aws_security_group_rule.ssh",
                Action::Create,
                json!({"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}),
                json!({"security_group_id": true}),
            ),
            rc(
                "aws_iam_role_policy_attachment.admin",
                Action::Create,
                json!({"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                json!({"role": true}),
            ),
            // A policy made in this plan: its ARN is unknown, but it is not AdministratorAccess.
            rc(
                "aws_iam_role_policy_attachment.own",
                Action::Create,
                json!({}),
                json!({"policy_arn": true, "role": true}),
            ),
        ]),
        &[
            (
                "aws_security_group_rule.ssh",
                "security_group_id",
                "aws_security_group.web",
            ),
            (
                "aws_iam_role_policy_attachment.admin",
                "role",
                "aws_iam_role.ci",
            ),
            (
                "aws_iam_role_policy_attachment.own",
                "policy_arn",
                "aws_iam_policy.mine",
            ),
        ],
    );
    let r = evaluate(&cs, &ctx());
    let msg = |id: &str| {
        r.findings
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    assert!(
        msg("PG-AWS-001").contains("`aws_security_group.web`"),
        "{}",
        msg("PG-AWS-001")
    );
    assert!(
        msg("PG-AWS-023").contains("`aws_iam_role.ci`"),
        "{}",
        msg("PG-AWS-023")
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.address == "aws_iam_role_policy_attachment.own"),
        "{:?}",
        r.findings
    );
}
