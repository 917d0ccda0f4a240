//! Test support for the leak, fault and bypass suites: the runner's change
//! with each step its own process, and a pull-request job against fakehub.
#![allow(dead_code)] // Each suite uses a different part.

use std::path::Path;
use std::process::Command;

use fakehub::{FakeHub, TokenKind};

/// The runner's two-environment change, each step its own process.
pub struct Runner {
    pub tb: crate::testbed::Testbed,
    pub store: std::path::PathBuf,
}

impl Runner {
    pub fn new(fixture: &str) -> Runner {
        let tb = crate::testbed::Testbed::new(fixture);
        let store = tb.root().join("store");
        Runner { tb, store }
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let (k, v) = self.tb.path_env();
        let mut cmd = self.tb.command(env!("CARGO_BIN_EXE_phasegate"));
        cmd.env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &self.store)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        let shown = crate::testbed::describe(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{shown}");
        out
    }

    pub fn journal_text(&self) -> String {
        std::fs::read_to_string(self.store.join("changes/CHG-RUN/journal.jsonl"))
            .unwrap_or_default()
    }

    /// The journal's events, parsed.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        self.journal_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The journal's refusals.
    pub fn refusals(&self) -> Vec<serde_json::Value> {
        self.journal()
            .into_iter()
            .filter(|e| e["event"] == "refusal")
            .collect()
    }

    /// Every line parses; the kinds of the events after the first `skip`.
    pub fn journal_after(&self, skip: usize) -> Vec<String> {
        self.journal_text()
            .lines()
            .map(|l| {
                let e: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a corrupted journal line ({e}): {l}"));
                e["event"].as_str().unwrap_or_default().to_string()
            })
            .skip(skip)
            .collect()
    }

    pub fn next(&self) -> String {
        let out = self.ok(&["status", "--format", "json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status["next"]["command"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }
}

/// A fake GitHub with acme/infra, PR 7 by alice at `head`, and an
/// installation token allowed what the runner's jobs do.
pub fn pr_hub(token: &str, head: &str) -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", head);
    hub.add_token(
        token,
        "",
        TokenKind::Installation,
        &[
            ("pull_requests", "write"),
            ("issues", "write"),
            ("checks", "write"),
            ("actions", "read"),
            ("contents", "write"),
        ],
    );
    hub
}

/// The environment of a GitHub Actions job of PR 7 (or a comment on it):
/// `event_name` with `payload` as its event, against `hub`.
pub fn as_pr_job(
    cmd: &mut Command,
    hub: &FakeHub,
    token: &str,
    head: &str,
    job_dir: &Path,
    event_name: &str,
    payload: &str,
) {
    let event = job_dir.join("event.json");
    std::fs::write(&event, payload).unwrap();
    cmd.env("NO_COLOR", "1")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_EVENT_NAME", event_name)
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_API_URL", hub.url())
        .env("GITHUB_RUN_ID", "100")
        .env("GITHUB_SHA", head)
        .env("GITHUB_OUTPUT", job_dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", job_dir.join("summary.md"))
        .env("GITHUB_TOKEN", token);
}

/// The `pull_request` event of PR 7 by alice at `head`.
pub fn pull_request_event(head: &str) -> String {
    format!(
        r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{head}","ref":"feat"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
    )
}

/// `terraform show -json` of the dev plan phasegate saved in `out/plans`.
pub fn saved_dev_plan_json(tb: &crate::testbed::Testbed) -> Vec<u8> {
    let planfile = tb.workdir().join("out/plans/app-dev.tfplan");
    let shown = tb
        .terraform_command_in("infra", &["show", "-json", planfile.to_str().unwrap()])
        .env("TF_WORKSPACE", "dev")
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        crate::testbed::describe(&shown)
    );
    shown.stdout
}
