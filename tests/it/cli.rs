//! The binary's contract: exit codes, located errors, and the machine-readable
//! output of `render`, `validate`, `schema` and `plan`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::testbed::files_under;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary outside Actions, with no token; shared by the CLI
/// specifications of every area.
pub(crate) fn phasegate(dir: &Path, args: &[&str]) -> Output {
    Command::new(PHASEGATE)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("run phasegate")
}

/// Exit status, stdout and stderr, for assertion messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn render_json(fixture: &str) -> Value {
    let out = phasegate(
        &repo(),
        &[
            "render",
            "--plan-json",
            &format!("tests/fixtures/plans/{fixture}"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn render_counts_a_replace_in_either_order_as_one_add_and_one_destroy() {
    for fixture in [
        "action-replace-destroy-first.json",
        "action-replace-create-first.json",
    ] {
        let v = render_json(fixture);
        let counts = &v["projects"][0]["counts"];
        assert_eq!(counts["add"], 1, "{fixture}: {counts}");
        assert_eq!(counts["destroy"], 1, "{fixture}: {counts}");
        assert_eq!(counts["change"], 0, "{fixture}: {counts}");
        assert_eq!(v["projects"][0]["digest"].as_str().unwrap().len(), 64);
        assert!(!v["projects"][0]["resources"].as_array().unwrap().is_empty());
    }
}

#[test]
fn render_counts_read_and_no_op_as_nothing() {
    for fixture in ["action-read.json", "action-no-op.json"] {
        let v = render_json(fixture);
        let counts = &v["projects"][0]["counts"];
        for key in ["add", "change", "destroy", "import", "move", "forget"] {
            assert_eq!(counts[key], 0, "{fixture}: {key} in {counts}");
        }
    }
}

#[test]
fn malformed_config_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phasegate.yml"),
        "version: 1\nenvironments:\n  - name: dev\n    protectd: true\nprojects: []\n",
    )
    .unwrap();
    let out = phasegate(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("phasegate.yml:4:5: environments[0].protectd: unknown field"),
        "{stderr}"
    );
    // Nothing was written for a config that failed to load.
    let plan = phasegate(dir.path(), &["plan", "--env", "dev"]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(!dir.path().join(".phasegate").exists());
}

#[test]
fn usage_errors_and_missing_files_exit_2() {
    let out = phasegate(&repo(), &["plan", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = phasegate(&repo(), &["render", "--plan-json", "no/such/plan.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/plan.json"));
    let out = phasegate(
        &repo(),
        &[
            "render",
            "--plan-json",
            "tests/fixtures/plans/malformed.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed.json:"));
}

#[test]
fn unknown_plan_format_major_version_is_refused_with_exit_2() {
    let out = phasegate(
        &repo(),
        &[
            "render",
            "--plan-json",
            "tests/fixtures/plans/format-2.0.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn validate_reports_the_quickstart_phases() {
    let out = phasegate(
        &repo(),
        &[
            "--config",
            "examples/quickstart/phasegate.yml",
            "--change",
            "examples/quickstart/change.yml",
            "validate",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("phase 3 prod -> prod [app]"), "{stdout}");
}

#[test]
fn schema_prints_the_committed_schemas() {
    let out = phasegate(&repo(), &["schema", "config"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo().join("schemas/phasegate.schema.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

/// `plan --plan-json` of the quickstart's plan, no config, `--format json`, run in `dir`.
fn plan_quickstart_json(dir: &Path) -> Output {
    let plan = repo().join("examples/quickstart/plan.json");
    phasegate(
        dir,
        &[
            "plan",
            "--plan-json",
            plan.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
}

#[test]
fn plan_json_without_config_needs_no_phase_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan_quickstart_json(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for file in ["comment.md", "summary.md", "result.json"] {
        assert!(dir.path().join(".phasegate").join(file).is_file(), "{file}");
    }
}

/// `result.json` is for machines: written once, compactly; the phase's copy
/// that later phases read is the same file, and `--format json` prints the
/// bytes written, not a second serialization (issue 20).
#[test]
fn plan_result_is_written_once_and_printed_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan_quickstart_json(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out_dir = dir.path().join(".phasegate");
    let written = std::fs::read(out_dir.join("result.json")).unwrap();
    assert!(!written.contains(&b'\n'), "result.json is one compact line");
    let parsed: serde_json::Value = serde_json::from_slice(&written).unwrap();
    assert!(parsed["projects"][0]["digest"].is_string(), "{parsed}");
    assert_eq!(out.stdout, [written.as_slice(), b"\n"].concat());
    let phases: Vec<_> = std::fs::read_dir(out_dir.join("phases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(phases.len(), 1, "{phases:?}");
    assert_eq!(std::fs::read(&phases[0]).unwrap(), written);
}

#[test]
fn sensitive_canary_reaches_no_output_file_stdout_or_stderr() {
    let canary_plan = repo().join("tests/fixtures/plans/sensitive-canary.json");
    let raw = std::fs::read_to_string(&canary_plan).unwrap();
    let canary = "CANARY";
    assert!(raw.contains(canary), "the fixture carries the canary");
    let dir = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    for format in ["json", "markdown", "text"] {
        let out = phasegate(
            dir.path(),
            &[
                "plan",
                "--plan-json",
                canary_plan.to_str().unwrap(),
                "--format",
                format,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        printed.push_str(&text(&out));
    }
    let render = phasegate(
        dir.path(),
        &["render", "--plan-json", canary_plan.to_str().unwrap()],
    );
    printed.push_str(&text(&render));
    assert!(!printed.contains(canary), "printed:\n{printed}");
    for entry in files_under(&dir.path().join(".phasegate")) {
        let body = std::fs::read_to_string(&entry).unwrap();
        assert!(!body.contains(canary), "{}", entry.display());
    }
}

#[test]
fn in_actions_outputs_and_summary_are_written_as_the_runner_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"after":"abc"}"#).unwrap();
    let plan = repo().join("examples/quickstart/plan.json");
    let out = Command::new(PHASEGATE)
        .current_dir(dir.path())
        .env_remove("GITHUB_TOKEN")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--plan-json", plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let outputs = std::fs::read_to_string(&output).unwrap();
    let pairs: Vec<(String, String)> = outputs
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("has_changes").as_deref(), Some("true"));
    assert_eq!(get("digest").map(|d| d.len()), Some(64));
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("Plan: 7 to add"));
}

fn quickstart(args: &[&str]) -> Output {
    let mut all = vec![
        "--config",
        "examples/quickstart/phasegate.yml",
        "--change",
        "examples/quickstart/change.yml",
    ];
    all.extend_from_slice(args);
    phasegate(&repo(), &all)
}

#[test]
fn gate_blast_blocks_a_replaced_bucket_in_protected_prod() {
    let out = quickstart(&[
        "gate",
        "blast",
        "--env",
        "prod",
        "--plan-json",
        "examples/quickstart/plan-replace.json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gate"], "blast");
    assert_eq!(v["verdict"], "block");
    assert_eq!(v["guarded"], serde_json::json!(["aws_s3_bucket.assets"]));
    assert_eq!(v["declared"], "high");
}

#[test]
fn gate_security_on_planted_problems_exits_1_and_never_prints_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("out.sarif");
    let plan = repo().join("tests/fixtures/security/planted.json");
    let out = phasegate(
        dir.path(),
        &[
            "gate",
            "security",
            "--plan-json",
            plan.to_str().unwrap(),
            "--sarif-out",
            sarif.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gate"], "security");
    assert!(matches!(
        v["verdict"].as_str(),
        Some("block" | "ack_required")
    ));
    let sarif_text = std::fs::read_to_string(&sarif).unwrap();
    assert!(sarif_text.contains("\"2.1.0\""));
    for shown in [text(&out), sarif_text] {
        assert!(!shown.contains("AKIAPG7QZ3X9DEMOKEY1"));
    }
    // Through `plan`, the key reaches none of the files either.
    let out = phasegate(dir.path(), &["plan", "--plan-json", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("AKIAPG7QZ3X9DEMOKEY1"));
    for entry in files_under(&dir.path().join(".phasegate")) {
        let body = std::fs::read_to_string(&entry).unwrap();
        assert!(
            !body.contains("AKIAPG7QZ3X9DEMOKEY1"),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn gate_cost_prices_the_quickstart_in_dollars() {
    let out = quickstart(&[
        "gate",
        "cost",
        "--env",
        "dev",
        "--plan-json",
        "examples/quickstart/plan.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["currency"], "USD");
    assert!(v["monthly_after"].as_f64().unwrap() > 0.0);
    assert!(!v["unpriced"].as_array().unwrap().is_empty());
}

#[test]
fn a_piped_plan_shows_progress_as_plain_start_and_end_lines_without_a_spinner() {
    let tb = crate::testbed::Testbed::new("examples/quickstart");
    let (k, v) = tb.path_env();
    let out_dir = tb.root().join("out");
    let out = tb
        .command(PHASEGATE)
        .env(k, v)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .args([
            "--config",
            "phasegate.yml",
            "plan",
            "--env",
            "dev",
            "--no-post",
        ])
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run phasegate");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let start = stderr
        .lines()
        .find(|l| l.contains("plan in ") && l.ends_with(" ..."));
    let end = stderr
        .lines()
        .find(|l| l.contains("plan in ") && l.contains(": done in "));
    assert!(start.is_some() && end.is_some(), "{stderr}");
    // No spinner redraws and no colour codes in a pipe.
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
}
