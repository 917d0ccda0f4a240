//! The quickstart as a user runs it: every environment plans against its
//! own state (a workspace each), and phasegate writes its results beside
//! the quickstart's config, not above it.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::testbed::{describe, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

fn phasegate(tb: &Testbed, args: &[&str]) -> Output {
    let (k, v) = tb.path_env();
    tb.command(PHASEGATE)
        .env(k, v)
        .env("NO_COLOR", "1")
        .env("PHASEGATE_STORE_DIR", tb.root().join("store"))
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_EVENT_PATH")
        .args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args(args)
        .output()
        .expect("run phasegate")
}

/// `plan --phase N` into `out-N`; the first project's counts.
fn plan_phase(tb: &Testbed, phase: &str) -> Value {
    let out_dir = tb.root().join(format!("out-{phase}"));
    let out = phasegate(
        tb,
        &[
            "plan",
            "--phase",
            phase,
            "--out",
            out_dir.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(&out)));
    result["projects"][0]["counts"].clone()
}

fn counts(add: u64, change: u64, destroy: u64) -> Value {
    serde_json::json!({"add": add, "change": change, "destroy": destroy, "import": 0, "move": 0, "forget": 0})
}

#[test]
fn each_quickstart_environment_plans_against_its_own_state() {
    let tb = Testbed::new("examples/quickstart");
    assert_eq!(plan_phase(&tb, "1"), counts(7, 0, 0));
    let plan = tb.root().join("out-1/plans/app-dev.tfplan");
    let applied = tb
        .terraform_command_in("infra", &["apply", "-input=false", plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", describe(&applied));
    assert!(tb
        .workdir()
        .join("infra/terraform.tfstate.d/dev/terraform.tfstate")
        .is_file());

    // Staging sees none of dev's resources: everything is new to it, and
    // nothing of dev's is replaced or destroyed.
    assert_eq!(plan_phase(&tb, "2"), counts(7, 0, 0));
    // And dev, planned again, is where its apply left it.
    assert_eq!(plan_phase(&tb, "1"), counts(0, 0, 0));
    assert!(!tb.workdir().join("infra/terraform.tfstate").exists());
}

#[test]
fn the_readme_command_writes_beside_the_quickstart_config() {
    // The README's command, run from a repository root holding the quickstart.
    let repo = tempfile::tempdir().unwrap();
    let quickstart = repo.path().join("examples/quickstart");
    crate::workflows::copy_dir(
        &crate::testbed::repo_root().join("examples/quickstart"),
        &quickstart,
    );
    let out = std::process::Command::new(PHASEGATE)
        .current_dir(repo.path())
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env_remove("PHASEGATE_STORE_DIR")
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
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plan: 7 to add"));
    assert!(quickstart.join(".phasegate/comment.md").is_file());
    let above: Vec<_> = std::fs::read_dir(repo.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(above, ["examples"], "nothing written above the quickstart");
    assert!(gitignored(&quickstart.join(".phasegate/comment.md")));
}

/// Whether the repository's own ignore rules keep `path` (the quickstart's
/// copy, mapped back into the repository) out of git.
fn gitignored(path: &Path) -> bool {
    let inside = path
        .to_string_lossy()
        .split_once("examples/quickstart/")
        .map(|(_, rest)| format!("examples/quickstart/{rest}"))
        .unwrap();
    std::process::Command::new("git")
        .current_dir(crate::testbed::repo_root())
        .args(["check-ignore", "-q", &inside])
        .status()
        .unwrap()
        .success()
}
