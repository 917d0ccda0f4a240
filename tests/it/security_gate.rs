//! The security gate end to end: planted problems in a realistic plan each
//! get their finding, the clean twin gets none that stops a phase, secrets
//! never reach any output, SARIF validates against the official schema, and
//! Checkov agrees with every crosswalked rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use phasegate::config::SecurityPolicy;
use phasegate::gates::security::{
    catalog, evaluate, import_sarif, scan, to_json, to_sarif, SecurityContext, SecurityReport,
};
use phasegate::gates::{Severity, Verdict};
use phasegate::plan::{parse_plan_json, ChangeSet};
use serde_json::Value;

/// The made-up access key planted in `planted.json`'s user data.
const PLANTED_KEY: &str = "AKIAPG7QZ3X9DEMOKEY1";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_path(name: &str) -> PathBuf {
    root().join("tests/fixtures/security").join(name)
}

fn fixture(name: &str) -> ChangeSet {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    parse_plan_json(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

fn ctx() -> SecurityContext {
    SecurityContext {
        policy: SecurityPolicy::Standard,
        protected: true,
        phase: Some("prod".into()),
        acknowledgements: Vec::new(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
        imported: Vec::new(),
    }
}

fn report(name: &str) -> SecurityReport {
    evaluate(&fixture(name), &ctx())
}

#[test]
fn each_planted_problem_gets_its_finding_at_the_right_severity() {
    let r = report("planted.json");
    let planted = [
        ("PG-AWS-001", "aws_security_group.bastion", Severity::High),
        ("PG-AWS-006", "aws_s3_bucket.assets", Severity::High),
        ("PG-AWS-012", "aws_db_instance.orders", Severity::High),
        ("PG-AWS-020", "aws_iam_policy.deployer", Severity::High),
        ("PG-AWS-024", "aws_instance.web", Severity::Critical),
    ];
    for (id, address, severity) in planted {
        let hits: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == id && f.address == address)
            .collect();
        assert_eq!(hits.len(), 1, "{id} on {address}: {hits:?}");
        assert_eq!(hits[0].severity, severity, "{id} on {address}");
    }
    // High and critical findings land only on the planted resources (the
    // public bucket's access block is part of the same planted problem).
    let planted_addresses: BTreeSet<&str> = planted
        .iter()
        .map(|p| p.1)
        .chain(["aws_s3_bucket_public_access_block.assets"])
        .collect();
    for f in r.findings.iter().filter(|f| f.severity <= Severity::High) {
        assert!(
            planted_addresses.contains(f.address.as_str()),
            "unexpected {f:?}"
        );
    }
    assert!(
        r.findings
            .iter()
            .all(|f| f.address != "aws_security_group.legacy"),
        "deleted resource flagged"
    );
    assert_eq!(r.verdict, Verdict::Block);
}

#[test]
fn clean_twin_has_no_high_or_critical_finding() {
    let r = report("clean.json");
    let serious: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity <= Severity::High)
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
    assert!(!r.verdict.stops());
}

#[test]
fn planted_access_key_appears_in_no_output() {
    let r = report("planted.json");
    assert_eq!(r.secrets(), [PLANTED_KEY.to_string()]);
    let s = phasegate::render::security::section(&r);
    let (essentials, details) = (s.essentials_md, s.details_md);
    let sarif = serde_json::to_string(&to_sarif(&r)).expect("sarif serializes");
    for (name, text) in [
        ("json", to_json(&r)),
        ("essentials", essentials),
        ("details", details),
        ("sarif", sarif),
    ] {
        assert!(!text.contains(PLANTED_KEY), "the key leaked into {name}");
        assert!(
            !text.contains("QZ3X9DEMO"),
            "part of the key leaked into {name}"
        );
    }
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "PG-AWS-024")
        .expect("secret finding");
    assert!(f.message.contains("AKIA************KEY1"), "{}", f.message);
}

#[test]
fn json_view_keeps_the_documented_keys() {
    let v: Value = serde_json::from_str(&to_json(&report("planted.json"))).expect("json");
    assert_eq!(v["gate"], "security");
    assert_eq!(v["verdict"], "block");
    let f = &v["findings"][0];
    for key in [
        "id",
        "severity",
        "address",
        "message",
        "remediation",
        "crosswalk",
        "acknowledged",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    assert!(f["crosswalk"]["checkov"].is_array() && f["crosswalk"]["trivy"].is_array());
}

#[test]
fn sarif_export_validates_against_the_official_schema() {
    let path = root().join(".tools/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; install the SARIF schema with `bash scripts/install-test-deps.sh`",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for name in ["planted.json", "clean.json"] {
        let sarif = to_sarif(&report(name));
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert!(rules.iter().all(
            |r| r["help"]["text"].is_string() && r["defaultConfiguration"]["level"].is_string()
        ));
    }
}

#[test]
fn exported_sarif_imports_back_to_the_same_findings() {
    let r = report("planted.json");
    let back = import_sarif(&to_sarif(&r).to_string(), "phasegate.sarif").expect("imports");
    let ours: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.address.as_str(), f.severity))
        .collect();
    let theirs: Vec<_> = back
        .iter()
        .map(|f| (f.id.as_str(), f.address.as_str(), f.severity))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn checkov_trivy_and_tfsec_sarif_import_with_ids_severities_and_addresses() {
    let checkov = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Checkov","rules":[
        {"id":"CKV_AWS_24","name":"Ensure no security groups allow ingress from 0.0.0.0:0 to port 22","defaultConfiguration":{"level":"error"}}]}},
        "results":[{"ruleId":"CKV_AWS_24","ruleIndex":0,"level":"error","message":{"text":"Ensure no security groups allow ingress from 0.0.0.0:0 to port 22"},
        "locations":[{"physicalLocation":{"artifactLocation":{"uri":"main.tf"},"region":{"startLine":12}}}]}]}]}"#;
    let trivy = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Trivy","rules":[
        {"id":"AVD-AWS-0107","shortDescription":{"text":"An ingress security group rule allows traffic from /0"},
         "properties":{"security-severity":"8.0","tags":["misconfiguration","HIGH"]}}]}},
        "results":[{"ruleId":"AVD-AWS-0107","ruleIndex":0,"level":"error","message":{"text":"Artifact: main.tf\nResource: aws_security_group.bastion\nSecurity group rule allows ingress from public internet."}}]}]}"#;
    let tfsec = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"tfsec","rules":[{"id":"aws-s3-enable-versioning","shortDescription":{"text":"S3 Data should be versioned"},"helpUri":"https://aquasecurity.github.io/tfsec/"}]}},
        "results":[{"ruleId":"aws-s3-enable-versioning","level":"warning","message":{"text":"Bucket does not have versioning enabled"},
        "locations":[{"physicalLocation":{"artifactLocation":{"uri":"s3.tf"},"region":{"startLine":3}}}]}]}]}"#;
    let c = import_sarif(checkov, "checkov.sarif").expect("checkov");
    assert_eq!(
        (
            c[0].id.as_str(),
            c[0].severity,
            c[0].address.as_str(),
            c[0].source.as_str()
        ),
        ("CKV_AWS_24", Severity::High, "main.tf:12", "Checkov")
    );
    assert_eq!(c[0].crosswalk.checkov, ["CKV_AWS_24"]);
    let t = import_sarif(trivy, "trivy.sarif").expect("trivy");
    assert_eq!(
        (t[0].id.as_str(), t[0].severity, t[0].address.as_str()),
        ("AVD-AWS-0107", Severity::High, "aws_security_group.bastion")
    );
    let s = import_sarif(tfsec, "tfsec.sarif").expect("tfsec");
    assert_eq!(
        (s[0].id.as_str(), s[0].severity, s[0].address.as_str()),
        ("aws-s3-enable-versioning", Severity::Medium, "s3.tf:3")
    );
    let err = import_sarif("{\"runs\": 3}", "bad.sarif").expect_err("not SARIF");
    assert!(err.to_string().contains("bad.sarif"), "{err}");
}

#[test]
fn imported_findings_take_part_in_the_verdict() {
    let trivy = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Trivy","rules":[{"id":"AVD-AWS-0104","properties":{"security-severity":"9.8"}}]}},
        "results":[{"ruleId":"AVD-AWS-0104","ruleIndex":0,"level":"error","message":{"text":"Resource: aws_security_group.x egress"}}]}]}"#;
    let c = SecurityContext {
        imported: import_sarif(trivy, "trivy.sarif").expect("imports"),
        ..ctx()
    };
    let r = evaluate(&fixture("clean.json"), &c);
    assert_eq!(r.verdict, Verdict::Block);
}

// ---- Checkov as a peer -----------------------------------------------------

/// `(rule, checkov id, address pattern)` rows of docs/checkov-differences.md.
fn documented_differences() -> Vec<(String, String, String)> {
    let path = root().join("docs/checkov-differences.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| l.starts_with("| PG-"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_string(),
                cells[1].to_string(),
                cells[2].to_string(),
            )
        })
        .collect()
}

/// Runs Checkov once on a plan file: `(check id, resource) -> failed`.
fn checkov_results(plan: &Path) -> std::process::Child {
    let checkov = root().join(".tools/bin/checkov");
    assert!(
        checkov.exists(),
        "{} is missing; install it with `bash scripts/install-test-deps.sh`",
        checkov.display()
    );
    Command::new(&checkov)
        .args([
            "--framework",
            "terraform_plan",
            "-o",
            "json",
            "--skip-download",
            "-f",
        ])
        .arg(plan)
        // Checkov looks guidelines up online; a dead proxy makes that fail at
        // once instead of waiting for DNS, and the test stays offline.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("checkov starts")
}

fn parse_checkov(out: std::process::Output) -> BTreeMap<(String, String), bool> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let reports = match v {
        Value::Array(list) => list,
        one => vec![one],
    };
    let mut map = BTreeMap::new();
    for rep in reports {
        for (key, failed) in [("passed_checks", false), ("failed_checks", true)] {
            for c in rep["results"][key].as_array().into_iter().flatten() {
                let id = c["check_id"].as_str().unwrap_or_default().to_string();
                let res = c["resource"].as_str().unwrap_or_default().to_string();
                map.insert((id, res), failed);
            }
        }
    }
    map
}

#[test]
fn checkov_agrees_on_crosswalked_rules() {
    let names = ["planted.json", "clean.json"];
    let runs: Vec<_> = names
        .iter()
        .map(|n| checkov_results(&fixture_path(n)))
        .collect();
    let differences = documented_differences();
    let (mut compared, mut agreed, mut documented) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for (name, child) in names.iter().zip(runs) {
        let checkov = parse_checkov(child.wait_with_output().expect("checkov runs"));
        let cs = fixture(name);
        let (findings, _) = scan(&cs, true);
        for rule in catalog().filter(|r| !r.checkov.is_empty()) {
            for rc in cs
                .resources
                .iter()
                .filter(|r| rule.types.contains(&r.resource_type.as_str()))
            {
                let ours = findings.iter().any(|f| {
                    f.id == rule.id && f.address == rc.address && f.severity != Severity::Info
                });
                for ck in rule.checkov {
                    let Some(&theirs) = checkov.get(&(ck.to_string(), rc.address.clone())) else {
                        continue;
                    };
                    // A rule crosswalked to several checks fails when any of them does.
                    let theirs_any = rule
                        .checkov
                        .iter()
                        .any(|c| checkov.get(&(c.to_string(), rc.address.clone())) == Some(&true));
                    let theirs = if rule.checkov.len() > 1 {
                        theirs_any
                    } else {
                        theirs
                    };
                    compared += 1;
                    if ours == theirs {
                        agreed += 1;
                    } else if differences
                        .iter()
                        .any(|(r, c, a)| r == rule.id && c == ck && (a == "*" || *a == rc.address))
                    {
                        documented += 1;
                    } else {
                        disagreements.push(format!(
                            "{name}: {} vs {ck} on {}: ours {ours}, checkov {theirs}",
                            rule.id, rc.address
                        ));
                    }
                }
            }
        }
    }
    eprintln!("checkov agreement: {agreed} agreed, {documented} documented differences, {compared} compared");
    assert!(
        disagreements.is_empty(),
        "undocumented differences with Checkov:\n{}",
        disagreements.join("\n")
    );
    assert!(
        compared >= 20,
        "only {compared} comparisons: is Checkov evaluating the fixtures?"
    );
}
