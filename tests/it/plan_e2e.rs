//! `phasegate plan` end to end: the real binary drives real Terraform 1.0.3
//! against testcloud, on the quickstart example.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::testbed::{describe, files_under, Testbed, CANARY_PASSWORD};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// The quickstart copied into a testbed, with phasegate's output kept in the
/// testbed too.
struct Quickstart {
    tb: Testbed,
    out: PathBuf,
    /// Everything phasegate printed, across all runs, for the leak check.
    printed: std::cell::RefCell<String>,
}

impl Quickstart {
    fn new() -> Quickstart {
        let tb = Testbed::new("examples/quickstart");
        let out = tb.root().join("out");
        Quickstart {
            tb,
            out,
            printed: Default::default(),
        }
    }

    fn phasegate(&self, args: &[&str]) -> Output {
        let (k, v) = self.tb.path_env();
        let out = self
            .tb
            .command(PHASEGATE)
            .env(k, v)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .args(["--config", "phasegate.yml"])
            .args(args)
            .output()
            .expect("run phasegate");
        let mut printed = self.printed.borrow_mut();
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    /// `plan --env dev --format json`, which must succeed; returns the result JSON.
    fn plan_dev(&self) -> Value {
        let out_dir = self.out.to_string_lossy().into_owned();
        let out = self.phasegate(&[
            "plan", "--env", "dev", "--format", "json", "--out", &out_dir,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("plan --format json prints JSON")
    }

    /// Applies the plan phasegate saved, with Terraform itself: the apply
    /// step belongs to the phase runner, not to this test's subject.
    fn apply_saved_plan(&self) {
        let plan = self.out.join("plans/app-dev.tfplan");
        let plan = plan.to_string_lossy();
        let out = self
            .tb
            .terraform_command_in("infra", &["apply", "-input=false", &plan])
            .env("TF_VAR_environment", "dev")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }

    fn comment(&self) -> String {
        std::fs::read_to_string(self.out.join("comment.md")).unwrap()
    }

    fn counts(result: &Value) -> &Value {
        &result["projects"][0]["counts"]
    }

    /// The canary must be in no file phasegate wrote and nowhere it printed.
    fn assert_no_canary(&self) {
        let printed = self.printed.borrow();
        assert!(
            !printed.contains(CANARY_PASSWORD),
            "the sensitive password was printed"
        );
        for file in files_under(&self.out) {
            if file.extension().is_some_and(|e| e == "tfplan") {
                // Terraform's own binary plan holds the secret by design; it is
                // an artifact for apply, never displayed.
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(CANARY_PASSWORD),
                "the sensitive password is in {}",
                file.display()
            );
        }
    }
}

#[test]
fn first_plan_counts_every_resource_to_create() {
    let q = Quickstart::new();
    let result = q.plan_dev();
    assert_eq!(
        Quickstart::counts(&result),
        &serde_json::json!({"add": 7, "change": 0, "destroy": 0, "import": 0, "move": 0, "forget": 0})
    );
    let digest = result["projects"][0]["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    let comment = q.comment();
    assert!(comment.contains("Plan: 7 to add, 0 to change, 0 to destroy."));
    assert!(comment.contains(digest), "the comment names the digest");
    assert!(q.out.join("summary.md").is_file());
    assert!(q.out.join("plans/app-dev.json").is_file());
    q.assert_no_canary();
}

#[test]
fn changing_an_immutable_attribute_plans_one_add_and_one_destroy() {
    let q = Quickstart::new();
    q.plan_dev();
    q.apply_saved_plan();
    let main_tf = q.tb.workdir().join("infra/main.tf");
    let text = std::fs::read_to_string(&main_tf).unwrap();
    let renamed = text.replace(
        "\"quickstart-${var.environment}-assets\"",
        "\"quickstart-${var.environment}-assets-v2\"",
    );
    assert_ne!(text, renamed, "the fixture names its bucket as expected");
    std::fs::write(&main_tf, renamed).unwrap();

    let result = q.plan_dev();
    let counts = Quickstart::counts(&result);
    assert_eq!(counts["add"], 1, "{counts}");
    assert_eq!(counts["destroy"], 1, "{counts}");
    let resources = result["projects"][0]["resources"].as_array().unwrap();
    let bucket = resources
        .iter()
        .find(|r| r["address"] == "aws_s3_bucket.assets")
        .expect("the bucket is listed");
    assert!(bucket["action"].as_str().unwrap().starts_with("replace"));
    let comment = q.comment();
    assert!(comment.contains("[!CAUTION]"), "a destroy warning is shown");
    assert!(
        comment.contains("aws&#95;s3&#95;bucket.assets")
            || comment.contains("aws_s3_bucket.assets")
    );
    q.assert_no_canary();
}

#[test]
fn out_of_band_edit_shows_as_a_change_outside_terraform() {
    let q = Quickstart::new();
    q.plan_dev();
    q.apply_saved_plan();
    let ids = q.tb.resource_ids("aws_instance");
    assert_eq!(ids.len(), 1);
    q.tb.edit_resource("aws_instance", &ids[0], |obj| {
        obj.insert("instance_type".into(), Value::String("t3.large".into()));
    });

    let result = q.plan_dev();
    assert_eq!(Quickstart::counts(&result)["change"], 1);
    let comment = q.comment();
    let summary = std::fs::read_to_string(q.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("Changes outside Terraform"),
        "drift is in the summary"
    );
    assert!(
        comment.contains("Changes outside Terraform"),
        "drift is in the comment"
    );
    let normalized: Value =
        serde_json::from_str(&std::fs::read_to_string(q.out.join("plans/app-dev.json")).unwrap())
            .unwrap();
    let drift = normalized["drift"].as_array().unwrap();
    assert!(drift.iter().any(|d| d["address"] == "aws_instance.web"));
    q.assert_no_canary();
}

#[test]
fn readme_quickstart_command_prints_the_comment_without_terraform_or_token() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(PHASEGATE)
        .current_dir(&repo)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env("PATH", "/nonexistent")
        .args([
            "--config",
            "examples/quickstart/phasegate.yml",
            "--change",
            "examples/quickstart/change.yml",
            "plan",
            "--env",
            "dev",
            "--plan-json",
            "examples/quickstart/plan.json",
            "--format",
            "markdown",
            "--out",
        ])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Plan: 7 to add, 0 to change, 0 to destroy."),
        "{}",
        describe(&out)
    );
    assert!(stdout.contains("CHG-1"));
    assert!(!stdout.contains(CANARY_PASSWORD));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(CANARY_PASSWORD));
    assert!(out_dir.path().join("comment.md").is_file());
}

/// A plan JSON in UTF-16 (PowerShell's `>` writes it) or with a byte that is
/// not UTF-8 is bad input naming the file, line and column: exit 2, and
/// nothing written.
#[test]
fn a_plan_json_that_is_not_utf8_is_bad_input_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(crate::testbed::repo_root().join("examples/quickstart/plan.json"))
            .unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let latin1 = b"{\n  \"a\": \"caf\xe9\"}\n".to_vec();
    for (name, bytes, shown) in [
        (
            "utf16.json",
            utf16,
            "utf16.json:1:1: the plan JSON is UTF-16",
        ),
        (
            "latin1.json",
            latin1,
            "latin1.json:2:12: the plan JSON is not UTF-8",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out_dir = dir.path().join(format!("out-{name}"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_phasegate"))
            .args(["plan", "--plan-json"])
            .arg(&file)
            .arg("--out")
            .arg(&out_dir)
            .env_remove("GITHUB_ACTIONS")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(shown), "{}", describe(&out));
        assert!(!out_dir.exists(), "something was written for {name}");
    }
}
