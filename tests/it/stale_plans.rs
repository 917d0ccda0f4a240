//! Stale plans in other PRs (issue 22 §3): PR 7 applies app in dev while
//! PR 8 holds a reviewed plan of app in dev. PR 8's plan is against an older
//! state: it is journaled stale in PR 8's change, its comment block says so
//! with a link to the apply, its check run asks for action, its plan run is
//! re-run, and its apply is refused until a new plan. Real Terraform 1.0.3
//! and testcloud; GitHub is fakehub.

use std::process::Output;

use fakehub::FakeHub;
use serde_json::Value;

use crate::suite_support::{as_pr_job, pr_hub};
use crate::testbed::{describe, Testbed};

const TOKEN: &str = "ghs_stalePlanToken00000000000000000000";
const HEAD7: &str = "7777777777777777777777777777777777777777";
const HEAD8: &str = "8888888888888888888888888888888888888888";

struct Bed {
    tb: Testbed,
    hub: FakeHub,
    jobs: tempfile::TempDir,
}

impl Bed {
    fn new() -> Bed {
        let tb = Testbed::new("tests/fixtures/runner/two-env");
        let config = tb.workdir().join("phasegate.yml");
        let mut yaml = std::fs::read_to_string(&config).unwrap();
        yaml.push_str("store:\n  backend: local\n");
        std::fs::write(&config, yaml).unwrap();
        // The change plan names a change; each PR here is its own (PR-<n>).
        std::fs::remove_file(tb.workdir().join("change.yml")).unwrap();
        let hub = pr_hub(TOKEN, HEAD7);
        hub.add_pull("acme", "infra", 8, "bob", HEAD8);
        for run in [700, 701, 800] {
            hub.set_run("acme", "infra", run, "completed", Some("success"));
        }
        Bed {
            tb,
            hub,
            jobs: tempfile::tempdir().unwrap(),
        }
    }

    /// A job of PR `pr` (head `head`), run `run`: `phasegate args`.
    fn job(&self, pr: u64, head: &str, run: u64, args: &[&str]) -> Output {
        let dir = self.jobs.path().join(format!("{run}-{}", args[0]));
        std::fs::create_dir_all(&dir).unwrap();
        let (k, v) = self.tb.path_env();
        let mut cmd = self.tb.command(env!("CARGO_BIN_EXE_phasegate"));
        cmd.env(k, v)
            .env("PHASEGATE_STORE_DIR", self.tb.root().join("store"))
            .args(["--config", "phasegate.yml"])
            .args(args);
        let event = format!(
            r#"{{"number":{pr},"pull_request":{{"number":{pr},"head":{{"sha":"{head}","ref":"pr-{pr}"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
        );
        as_pr_job(
            &mut cmd,
            &self.hub,
            TOKEN,
            head,
            &dir,
            "pull_request",
            &event,
        );
        cmd.env("GITHUB_RUN_ID", run.to_string());
        cmd.output().unwrap()
    }

    fn ok(&self, pr: u64, head: &str, run: u64, args: &[&str]) -> Output {
        let out = self.job(pr, head, run, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", describe(&out));
        out
    }

    fn journal(&self, change: &str) -> Vec<Value> {
        let path = self
            .tb
            .root()
            .join(format!("store/changes/{change}/journal.jsonl"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn status(&self, pr: u64, head: &str, run: u64) -> Value {
        let out = self.ok(pr, head, run, &["status", "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn an_apply_marks_another_pr_s_plan_of_the_same_project_and_environment_stale() {
    let b = Bed::new();
    // PR 8 plans dev; then PR 7 plans and applies dev.
    b.ok(8, HEAD8, 800, &["plan", "--phase", "1"]);
    let planned8 = b.status(8, HEAD8, 800)["phases"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    b.ok(7, HEAD7, 700, &["plan", "--phase", "1"]);
    b.ok(7, HEAD7, 701, &["apply", "--phase", "1"]);

    // PR 8's journal says its plan is stale, by PR 7's apply.
    let stale: Vec<Value> = b
        .journal("PR-8")
        .into_iter()
        .filter(|e| e["event"] == "plan_stale")
        .collect();
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert_eq!(stale[0]["by_change"], "PR-7");
    assert_eq!(stale[0]["project"], "app");
    assert_eq!(stale[0]["digest"], planned8.as_str());
    assert!(
        stale[0]["link"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/actions/runs/701"),
        "{:#}",
        stale[0]
    );
    // PR 7's own journal is untouched by it.
    assert!(!b.journal("PR-7").iter().any(|e| e["event"] == "plan_stale"));

    // Its comment block says so, its check run asks for action, its plan run
    // is queued again.
    let comment: String = b
        .hub
        .comments("acme", "infra", 8)
        .iter()
        .map(|c| c["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        comment.contains("**stale**: change PR-7 applied app in dev"),
        "{comment}"
    );
    let runs = b.hub.check_runs("acme", "infra");
    assert!(
        runs.iter().any(|r| r["head_sha"] == HEAD8
            && r["conclusion"] == "action_required"
            && r["name"] == "phasegate / dev"),
        "{runs:#?}"
    );
    assert!(
        b.hub
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/repos/acme/infra/actions/runs/800/rerun"),
        "no re-run of PR 8's plan run"
    );
    assert_eq!(b.hub.take_violations(), Vec::<String>::new());

    // The stale plan is never applied; status names the new plan.
    let status = b.status(8, HEAD8, 802);
    assert_eq!(status["next"]["command"], "phasegate plan --phase 1");
    assert!(
        status["next"]["reason"]
            .as_str()
            .unwrap()
            .contains("is stale: change PR-7 applied app in dev"),
        "{status:#}"
    );
    let refused = b.job(8, HEAD8, 803, &["apply", "--phase", "1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout)
            .contains("is stale: change PR-7 applied app in dev"),
        "{}",
        describe(&refused)
    );
    // The plan status names, run as printed, clears it.
    b.ok(8, HEAD8, 804, &["plan", "--phase", "1"]);
    let status = b.status(8, HEAD8, 805);
    assert!(
        status["phases"][0]["projects"][0]["stale"].is_null(),
        "{status:#}"
    );
    assert_ne!(status["next"]["command"], "phasegate plan --phase 1");
}
