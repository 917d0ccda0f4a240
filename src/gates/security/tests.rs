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
        before: Value::Null,
        after,
        after_unknown,
        after_sensitive: json!({}),
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
        digest: String::new(),
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
fn unknown_cidr_is_an_info_finding_not_a_pass() {
    let after =
        json!({"ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp"}], "egress": []});
    let unk = json!({"ingress": [{"cidr_blocks": true}]});
    let cs = plan(vec![rc("aws_security_group.a", Action::Create, after, unk)]);
    let r = evaluate(&cs, &ctx());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "PG-AWS-001")
        .expect("info finding");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message.contains("cannot be determined until apply"),
        "{}",
        f.message
    );
    assert_eq!(r.verdict, Verdict::Pass);
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
}

#[test]
fn deletion_protection_matters_only_in_protected_environments() {
    let db = json!({"storage_encrypted": true, "publicly_accessible": false, "backup_retention_period": 7, "deletion_protection": false});
    let cs = plan(vec![rc("aws_db_instance.d", Action::Create, db, json!({}))]);
    assert!(evaluate(&cs, &ctx()).findings.is_empty());
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
