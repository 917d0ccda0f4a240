//! The policy gate end to end: the same Rego policies and plans give the
//! same denials, warnings and messages in phasegate (regorus, in-process) as
//! in OPA's own Go engine; findings behave like the built-in ones (a deny in
//! prod needs an acknowledgement, an acknowledged one passes, a critical one
//! blocks, annotations land on the resource block); bad policies exit 2
//! naming file and line; a sensitive canary never reaches any output; and
//! `policy test` runs the policies' own tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::cli::{phasegate, text};
use crate::testbed::Testbed;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// One policy set of the corpus, as `gate policy` flags and as files for OPA.
struct Corpus {
    name: &'static str,
    policy: PathBuf,
    data: Option<PathBuf>,
    /// `*` for all.
    namespaces: &'static str,
}

fn corpora() -> Vec<Corpus> {
    vec![
        Corpus {
            name: "team, all namespaces",
            policy: fixture("policy/team/policy"),
            data: Some(fixture("policy/team/data")),
            namespaces: "*",
        },
        Corpus {
            name: "team, main and destroys",
            policy: fixture("policy/team/policy"),
            data: Some(fixture("policy/team/data")),
            namespaces: "main,destroys",
        },
        Corpus {
            name: "conftest examples, default namespace",
            policy: fixture("policy/conftest/policy"),
            data: None,
            namespaces: "main",
        },
        Corpus {
            name: "conftest examples, all namespaces",
            policy: fixture("policy/conftest/policy"),
            data: None,
            namespaces: "*",
        },
    ]
}

fn files_in(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.to_string_lossy();
            exts.iter().any(|x| name.ends_with(x)) && !name.ends_with("_test.rego")
        })
        .collect();
    out.sort();
    out
}

/// (namespace, rule, kind, message, metadata) of every finding.
type Row = (String, String, String, String, String);

fn phasegate_rows(corpus: &Corpus, plan: &Path) -> (Vec<Row>, Value) {
    let mut args: Vec<String> = vec![
        "gate".into(),
        "policy".into(),
        "--plan-json".into(),
        plan.display().to_string(),
        "--policy".into(),
        corpus.policy.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(d) = &corpus.data {
        args.extend(["--data".into(), d.display().to_string()]);
    }
    if corpus.namespaces == "*" {
        args.push("--all-namespaces".into());
    } else {
        for ns in corpus.namespaces.split(',') {
            args.extend(["--namespace".into(), ns.to_string()]);
        }
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = phasegate(&root(), &argv);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {}",
        corpus.name,
        text(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("gate policy prints JSON");
    let mut rows: Vec<Row> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["namespace"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
                canonical(f.get("metadata").cloned().unwrap_or(json!({}))),
            )
        })
        .collect();
    rows.sort();
    (rows, report)
}

fn canonical(v: Value) -> String {
    phasegate::plan::canonical_json(&v)
}

fn opa_rows(corpus: &Corpus, masked_plan: &Path) -> Vec<Row> {
    let tools = root().join(".tools/opa-py");
    assert!(
        tools.join("opa_bindings").is_dir(),
        "{} is missing; install it with `bash scripts/install-test-deps.sh`",
        tools.display()
    );
    let mut files = files_in(&corpus.policy, &[".rego"]);
    if let Some(d) = &corpus.data {
        files.extend(files_in(d, &[".json", ".yaml", ".yml"]));
    }
    let out = Command::new("python3")
        .env("PYTHONPATH", &tools)
        .arg(fixture("policy/opa_eval.py"))
        .arg(masked_plan)
        .arg(corpus.namespaces)
        .args(&files)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "OPA: {}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).expect("opa_eval prints JSON");
    let mut rows: Vec<Row> = result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["namespace"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
                canonical(f["metadata"].clone()),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The plans of the corpus: hand-written ones, conftest's own, and real
/// Terraform output (conftest's 0.12 plan, Terraform 1.0.3's from the suite,
/// and one planned now against testcloud).
fn plans(live_dir: &Path) -> Vec<PathBuf> {
    let bed = Testbed::new("tests/fixtures/testcloud/stack");
    bed.init();
    let live = bed.plan_json("stack.tfplan", &[]);
    let live_path = live_dir.join("testcloud-stack.json");
    std::fs::write(&live_path, serde_json::to_string(&live).unwrap()).unwrap();
    vec![
        fixture("policy/plans/team.json"),
        fixture("policy/conftest/plans/gke-show.json"),
        fixture("security/planted.json"),
        fixture("blast/db-replace.json"),
        fixture("plans/format-1.2.json"),
        fixture("plans/sensitive-canary.json"),
        fixture("plans/terraform-1.0.3-outputs.json"),
        live_path,
    ]
}

#[test]
fn phasegate_and_opa_agree_on_every_policy_and_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    let mut rules_seen = BTreeSet::new();
    for plan in plans(tmp.path()) {
        let text = std::fs::read_to_string(&plan).unwrap();
        let masked = phasegate::gates::policy::mask_plan(serde_json::from_str(&text).unwrap());
        let masked_path = tmp.path().join("masked.json");
        std::fs::write(&masked_path, masked.plan.to_string()).unwrap();
        for corpus in corpora() {
            let (ours, _) = phasegate_rows(&corpus, &plan);
            let theirs = opa_rows(&corpus, &masked_path);
            assert_eq!(
                ours,
                theirs,
                "{} over {}: phasegate (left) and OPA (right) disagree",
                corpus.name,
                plan.display()
            );
            compared += ours.len();
            rules_seen.extend(ours.iter().map(|r| format!("{}.{}", r.0, r.1)));
        }
    }
    // Not vacuous: many findings, and every rule of the corpus fired somewhere.
    assert!(compared > 60, "only {compared} findings compared");
    for rule in [
        "main.deny_missing_tags",
        "main.deny_region",
        "main.deny_instance_family",
        "main.warn_large_instance",
        "main.deny_forbidden_type",
        "main.deny_module_source",
        "destroys.deny",
        "destroys.warn_destroy",
        "terraform.s3.violation_public_bucket",
        "main.deny_open_admin_port",
        "main.deny_unencrypted_db",
        "main.warn_db_replace",
        "main.warn_naming",
        "main.warn_output",
        "main.deny",
        "main.gke.deny",
    ] {
        assert!(
            rules_seen.contains(rule),
            "{rule} never fired: {rules_seen:?}"
        );
    }
}

#[test]
fn a_sensitive_canary_never_reaches_the_policy_output() {
    let tmp = tempfile::tempdir().unwrap();
    let bed = Testbed::new("tests/fixtures/testcloud/stack");
    bed.init();
    let live = bed.plan_json("stack.tfplan", &[]);
    let live_path = tmp.path().join("stack.json");
    std::fs::write(&live_path, live.to_string()).unwrap();
    // Real Terraform puts the sensitive default in clear in `variables`.
    assert!(live.to_string().contains("canary-S3cr3t-do-not-print"));
    for (plan, canary) in [
        (live_path, "canary-S3cr3t-do-not-print"),
        (fixture("policy/plans/team.json"), "CANARY"),
        (fixture("plans/sensitive-canary.json"), "CANARY"),
    ] {
        let masked = phasegate::gates::policy::mask_plan(
            serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap(),
        );
        assert!(
            !masked.plan.to_string().contains(canary),
            "{}",
            plan.display()
        );
        for format in ["json", "markdown"] {
            let sarif = tmp.path().join("policy.sarif");
            let out = phasegate(
                &root(),
                &[
                    "gate",
                    "policy",
                    "--plan-json",
                    plan.to_str().unwrap(),
                    "--policy",
                    fixture("policy/team/policy").to_str().unwrap(),
                    "--data",
                    fixture("policy/team/data").to_str().unwrap(),
                    "--all-namespaces",
                    "--format",
                    format,
                    "--sarif-out",
                    sarif.to_str().unwrap(),
                ],
            );
            let sarif_text = std::fs::read_to_string(&sarif)
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", sarif.display(), text(&out)));
            let all = format!("{}{sarif_text}", text(&out));
            assert!(!all.contains(canary), "{}: {all}", plan.display());
            // The careless policies did run and print the masked value.
            assert!(all.contains("(sensitive value)"), "{all}");
        }
    }
}

/// A repository with a config whose `prod` environment runs the team
/// policies over the testcloud stack's code.
fn repo_with_policies(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".git")).unwrap();
    std::fs::create_dir_all(d.join("stack")).unwrap();
    std::fs::copy(fixture("testcloud/stack/main.tf"), d.join("stack/main.tf")).unwrap();
    std::fs::write(
        d.join("phasegate.yml"),
        format!(
            "version: 1\nenvironments:\n  - name: prod\n    protected: true\nprojects:\n  - name: stack\n    dir: stack\npolicies:\n  - name: team\n    paths: [{}, {}]\n    data: [{}]\n    namespaces: [main]\n{extra}",
            fixture("policy/team/policy/lib.rego").display(),
            fixture("policy/team/policy/tags.rego").display(),
            fixture("policy/team/data").display(),
        ),
    )
    .unwrap();
    dir
}

fn stack_plan(dir: &Path) -> PathBuf {
    // aws_db_instance.main lacks the owner and team tags: one deny.
    let plan = json!({
        "format_version": "1.0",
        "resource_changes": [{
            "address": "aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main",
            "change": {"actions": ["create"], "before": null,
                "after": {"identifier": "stack-db", "storage_encrypted": true, "tags": {"team": "data"}},
                "after_unknown": {}, "before_sensitive": false, "after_sensitive": {}}
        }]
    });
    let path = dir.join("plan.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    path
}

fn gate_prod(dir: &Path, change: Option<&str>) -> Output {
    let plan = stack_plan(dir);
    let mut args = vec![
        "gate",
        "policy",
        "--env",
        "prod",
        "--plan-json",
        plan.to_str().unwrap(),
    ];
    let change_path = dir.join("change.yml");
    if let Some(c) = change {
        std::fs::write(&change_path, c).unwrap();
        args.extend(["--change", change_path.to_str().unwrap()]);
    }
    phasegate(dir, &args)
}

#[test]
fn a_deny_in_prod_needs_an_acknowledgement_and_an_acknowledged_one_passes() {
    let repo = repo_with_policies("");
    let out = gate_prod(repo.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "ack_required");
    let id = report["findings"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("POL-main-deny_missing_tags-"), "{id}");

    let ack = format!(
        "version: 1\nid: CHG-1\nacknowledgements:\n  - id: {id}\n    reason: tags follow in CHG-2\n"
    );
    let out = gate_prod(repo.path(), Some(&ack));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["acknowledged"], true);
    assert_eq!(report["verdict"], "warn");
}

#[test]
fn a_rule_raised_to_critical_blocks_even_when_acknowledged() {
    let repo = repo_with_policies("    rules:\n      deny_missing_tags: critical\n");
    let ack = "version: 1\nid: CHG-1\nacknowledgements:\n  - id: POL-main-deny_missing_tags\n    reason: no\n";
    let out = gate_prod(repo.path(), Some(ack));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "block");
    assert_eq!(report["findings"][0]["severity"], "critical");
    assert_eq!(report["findings"][0]["acknowledged"], false);
}

#[test]
fn the_annotation_lands_on_the_resource_block_and_the_section_is_escaped() {
    let repo = repo_with_policies("");
    let d = repo.path();
    let plan = stack_plan(d);
    let global = phasegate::cli::GlobalArgs {
        config: Some(d.join("phasegate.yml")),
        ..Default::default()
    };
    let ws = phasegate::runner::workspace::Workspace::load(&global, true).unwrap();
    let select = phasegate::cli::PhaseSelector {
        env: Some("prod".into()),
        ..Default::default()
    };
    let (phase, projects) =
        phasegate::runner::plan::collect_projects(&ws, &select, Some(&plan), None).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let run = phasegate::runner::policy::gate_run(&ws, &phase, &projects, &[], today)
        .unwrap()
        .expect("the prod policies apply");
    let main_tf = std::fs::read_to_string(d.join("stack/main.tf")).unwrap();
    let line = main_tf
        .lines()
        .position(|l| l.starts_with("resource \"aws_db_instance\" \"main\""))
        .unwrap()
        + 1;
    assert_eq!(run.annotations.len(), 1, "{:?}", run.annotations);
    assert_eq!(run.annotations[0].path, "stack/main.tf");
    assert_eq!(run.annotations[0].start_line, line as u64);
    assert_eq!(run.annotations[0].annotation_level, "failure");
    // The section quotes the finding through the escaper.
    assert!(
        run.section
            .details_md
            .contains("aws&#95;db&#95;instance.main"),
        "{}",
        run.section.details_md
    );
    assert!(
        !run.section.details_md.contains("[\"owner\""),
        "{}",
        run.section.details_md
    );
    // The whole plan's gates include the policy run.
    let outcome = phasegate::runner::gating::evaluate(
        &ws,
        &phase,
        &projects,
        &Default::default(),
        &d.join(".phasegate"),
        phasegate::runner::gating::GateSet::All,
    )
    .unwrap();
    assert_eq!(
        outcome.get("policy").map(|r| r.verdict),
        Some(phasegate::gates::Verdict::AckRequired)
    );
}

#[test]
fn policy_sarif_validates_against_the_official_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let sarif = tmp.path().join("p.sarif");
    let out = phasegate(
        &root(),
        &[
            "gate",
            "policy",
            "--plan-json",
            fixture("policy/plans/team.json").to_str().unwrap(),
            "--policy",
            fixture("policy/team/policy").to_str().unwrap(),
            "--data",
            fixture("policy/team/data").to_str().unwrap(),
            "--all-namespaces",
            "--sarif-out",
            sarif.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let schema_path = root().join(".tools/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(doc["runs"][0]["results"].as_array().unwrap().len() > 10);
}

/// Writes one bad policy and runs the gate over it.
fn bad_policy(rego: &str, extra: &[&str]) -> (Output, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.rego"), rego).unwrap();
    let plan = fixture("policy/plans/team.json").display().to_string();
    let mut args = vec!["gate", "policy", "--plan-json", &plan, "--policy", "policy"];
    args.extend_from_slice(extra);
    let out = phasegate(tmp.path(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stderr)
}

#[test]
fn a_syntax_error_exits_2_naming_file_line_and_column() {
    let (out, stderr) = bad_policy(
        "package main\n\ndeny contains msg if {\n  msg := \"x\" +\n}\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("policy/bad.rego:4:"), "{stderr}");
}

#[test]
fn an_undefined_namespace_exits_2_naming_the_files() {
    let (out, stderr) = bad_policy(
        "package main\n\ndeny contains \"x\" if false\n",
        &["--namespace", "terraform"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("namespace `terraform`"), "{stderr}");
    assert!(stderr.contains("policy/bad.rego:1"), "{stderr}");
}

#[test]
fn a_namespace_without_rules_exits_2_instead_of_passing() {
    let (out, stderr) = bad_policy("package main\n\nden contains \"x\" if true\n", &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("policy/bad.rego:1"), "{stderr}");
    assert!(
        stderr.contains("no deny, violation or warn rule"),
        "{stderr}"
    );
}

#[test]
fn a_runaway_policy_is_stopped_and_exits_2_naming_file_and_line() {
    let (out, stderr) = bad_policy(
        "package main\n\nwarn contains x if {\n  some x in numbers.range(1, 1000000000)\n  x < 0\n}\n",
        &["--timeout-ms", "300"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("policy/bad.rego:3"), "{stderr}");
    assert!(stderr.contains("300 ms"), "{stderr}");
}

#[test]
fn policy_test_runs_the_policies_own_test_rules() {
    let out = phasegate(
        &root(),
        &[
            "policy",
            "test",
            fixture("policy/selftest").to_str().unwrap(),
            "--data",
            fixture("policy/team/data").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    // One of the team's tests fails on purpose.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    let failed: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["result"] != "pass")
        .map(|t| t["test"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["data.main_test.test_this_one_fails_on_purpose"]);
}
