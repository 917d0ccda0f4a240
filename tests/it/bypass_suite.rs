//! The bypass suite (issue 14 §6): attempts to get a change applied without
//! the review it needs, each of which must be refused with exit 1 and
//! recorded in the journal as a `refusal`. Real Terraform 1.0.3 and testcloud;
//! the runner's steps are separate processes sharing the store. The list and
//! the outcomes are published in docs/security.md (generated here).

use serde_json::Value;

use crate::doc_sync::sync_section;
use crate::suite_support::Runner;
use crate::testbed::describe;

/// The runner's change, plus what the bypass attempts need.
struct Change(Runner);

impl std::ops::Deref for Change {
    type Target = Runner;
    fn deref(&self) -> &Runner {
        &self.0
    }
}

impl Change {
    fn new() -> Change {
        Change(Runner::new("tests/fixtures/runner/two-env"))
    }

    fn prod_digest(&self) -> String {
        let out = self.run(&["status", "--format", "json"]);
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        status["phases"][1]["digest"].as_str().unwrap().to_string()
    }

    /// What the approve job journals once GitHub reports an approval.
    fn record_approval(&self, environment: &str, digest: &str) {
        let line = serde_json::json!({
            "time": "2030-01-01T00:00:00Z",
            "run": {"id": 99},
            "actor": "reviewer",
            "change": "CHG-RUN",
            "phase": "prod",
            "step": "approval",
            "digest": digest,
            "event": "approval_recorded",
            "environment": environment,
            "approver": "reviewer",
            "source": "comment",
            "at": "2030-01-01T00:00:00Z",
        });
        crate::journal_chain::append_event(&self.store.join("changes/CHG-RUN/journal.jsonl"), line);
    }

    /// dev planned, applied, verified and reviewed, prod planned: the point
    /// where prod needs its approval.
    fn prod_awaiting_approval() -> Change {
        let c = Change::new();
        for step in ["plan", "apply", "verify", "review"] {
            c.ok(&[step, "--phase", "1"]);
        }
        c.ok(&["plan", "--phase", "2"]);
        c
    }
}

/// An instance whose user data holds an AWS secret key: PG-AWS-024, critical.
const KEY_IN_USER_DATA: &str = r#"resource "aws_instance" "web" {
  ami           = "ami-0c55b159cbfafe1f0"
  instance_type = "t3.micro"
  user_data     = "export AWS_ACCESS_KEY_ID=AKIAQ7PGBYPASSKEY042"

  root_block_device {
    encrypted = true
  }
}
"#;

/// SSH open to the internet: PG-AWS-001, high (needs an acknowledgement).
const OPEN_SSH: &str = r#"resource "aws_security_group" "web" {
  name        = "bypass-${var.environment}-web"
  description = "SSH from anywhere"

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;

const CHANGE_HEAD: &str = "version: 1\nid: CHG-RUN\ntitle: Runner end to end\nphases:\n  - name: dev\n    environment: dev\n  - name: prod\n    environment: prod\n";

/// One attempt's outcome: refused with exit 1 and a new refusal journaled.
struct Attempt {
    name: &'static str,
    exit: Option<i32>,
    journaled: Option<String>,
    said: String,
}

fn attempt(name: &'static str, c: &Change, args: &[&str]) -> Attempt {
    let before = c.refusals().len();
    let out = c.run(args);
    let after = c.refusals();
    let new = after.get(before..).unwrap_or_default();
    // The journaled reason; for a refusal journaled nowhere, what it printed.
    let said = match new.last() {
        Some(r) => r["why"].as_str().unwrap_or_default().to_string(),
        None => describe(&out).lines().take(4).collect::<Vec<_>>().join(" "),
    };
    Attempt {
        name,
        exit: out.status.code(),
        journaled: new
            .last()
            .map(|r| r["what"].as_str().unwrap_or_default().to_string()),
        said,
    }
}

/// What phasegate said, without what changes from run to run (who holds a
/// lock, and since when).
fn stable(said: &str) -> String {
    let holder = regex::Regex::new(r"locked by .*? since \S+;").unwrap();
    holder
        .replace_all(said, "locked by <the first job> since <then>;")
        .into_owned()
}

#[test]
fn every_bypass_attempt_is_refused_with_exit_1_and_journaled() {
    let mut attempts = vec![];

    let c = Change::prod_awaiting_approval();
    attempts.push(attempt(
        "apply with no approval",
        &c,
        &["apply", "--phase", "2"],
    ));

    let digest = c.prod_digest();
    c.record_approval("dev", &digest);
    attempts.push(attempt(
        "apply with an approval for another environment",
        &c,
        &["apply", "--phase", "2"],
    ));

    // The other environment's approval was not counted: refused again.
    c.record_approval("prod", &"0".repeat(64));
    attempts.push(attempt(
        "apply with an approval bound to an older digest",
        &c,
        &["apply", "--phase", "2"],
    ));

    // Approved, then the plan file is gone and the code moved on.
    c.record_approval("prod", &digest);
    std::fs::remove_file(c.tb.workdir().join("out/plans/app-prod.tfplan")).unwrap();
    c.tb.write_file(
        "infra/extra.tf",
        "resource \"aws_security_group\" \"extra\" {\n  name        = \"bypass-extra\"\n  description = \"added after the approval\"\n}\n",
    );
    attempts.push(attempt(
        "apply after the plan changed since approval",
        &c,
        &["apply", "--phase", "2"],
    ));

    // The code gains a critical finding (a secret key in user data) after the
    // plan, and the saved plan is deleted: apply re-plans, and that plan is
    // gated and journaled like any other. Neither this apply nor the next
    // applies it.
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    c.tb.write_file("infra/web.tf", KEY_IN_USER_DATA);
    std::fs::remove_file(c.tb.workdir().join("out/plans/app-dev.tfplan")).unwrap();
    attempts.push(attempt(
        "apply after a critical finding was added and the saved plan deleted",
        &c,
        &["apply", "--phase", "1"],
    ));
    attempts.push(attempt(
        "the same apply again, once the re-plan is journaled",
        &c,
        &["apply", "--phase", "1"],
    ));
    let journal = c.journal();
    let replan = journal
        .iter()
        .rev()
        .find(|e| e["event"] == "step_succeeded" && e["step"] == "plan")
        .and_then(|e| e["digest"].as_str())
        .unwrap()
        .to_string();
    let security = journal
        .iter()
        .find(|e| {
            e["event"] == "gate_evaluated"
                && e["gate"] == "security"
                && e["digest"] == replan.as_str()
        })
        .unwrap_or_else(|| panic!("the re-plan {replan} has no security verdict"));
    assert_eq!(security["blocking"], true, "{security}");
    assert!(
        c.tb.resource_ids("aws_instance").is_empty(),
        "the instance with the key was created: {:?}",
        c.tb.resource_ids("aws_instance")
    );

    // The saved plan replaced by another file: refused as tampering, not
    // silently planned again.
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    let saved = c.tb.workdir().join("out/plans/app-dev.tfplan");
    let mut bytes = std::fs::read(&saved).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&saved, bytes).unwrap();
    attempts.push(attempt(
        "apply with a replaced saved plan file",
        &c,
        &["apply", "--phase", "1"],
    ));
    assert_eq!(
        c.refusals().last().unwrap()["what"],
        "tampered",
        "{:?}",
        c.refusals()
    );
    assert!(
        !c.journal().iter().any(|e| e["event"] == "apply_started"),
        "a replaced plan was applied"
    );

    // prod before the earlier environment was reviewed: dev is applied and
    // verified, prod planned (a plan changes nothing) and even approved.
    let fresh = Change::new();
    for step in ["plan", "apply", "verify"] {
        fresh.ok(&[step, "--phase", "1"]);
    }
    fresh.ok(&["plan", "--phase", "2"]);
    let digest = fresh.prod_digest();
    fresh.record_approval("prod", &digest);
    attempts.push(attempt(
        "apply prod before staging (the earlier environment) was applied and reviewed",
        &fresh,
        &["apply", "--phase", "2"],
    ));

    // An acknowledgement cannot wave a critical finding through.
    let c = Change::new();
    c.tb.write_file("infra/web.tf", KEY_IN_USER_DATA);
    c.tb.write_file(
        "change.yml",
        &format!("{CHANGE_HEAD}acknowledgements:\n  - id: PG-AWS-024\n    reason: we know\n    by: mallory\n"),
    );
    attempts.push(attempt(
        "plan with an acknowledgement of a critical finding",
        &c,
        &["plan", "--phase", "1"],
    ));

    // An acknowledgement past its date no longer counts.
    let c = Change::new();
    c.tb.write_file("infra/web.tf", OPEN_SSH);
    c.tb.write_file(
        "change.yml",
        &format!("{CHANGE_HEAD}acknowledgements:\n  - id: PG-AWS-001\n    reason: temporary\n    by: rita\n    expires: \"2020-01-01\"\n"),
    );
    attempts.push(attempt(
        "plan with an expired acknowledgement",
        &c,
        &["plan", "--phase", "1"],
    ));

    // A stateful resource destroyed without allow_destroy.
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    c.ok(&["apply", "--phase", "1"]);
    std::fs::remove_file(c.tb.workdir().join("infra/main.tf")).unwrap();
    c.tb.write_file(
        "infra/main.tf",
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }\n  }\n}\n\nprovider \"aws\" {\n  region = \"us-east-1\"\n}\n\nvariable \"environment\" {\n  type    = string\n  default = \"dev\"\n}\n",
    );
    attempts.push(attempt(
        "plan destroying a stateful resource without allow_destroy",
        &c,
        &["plan", "--phase", "1"],
    ));
    attempts.push(attempt(
        "apply destroying a stateful resource without allow_destroy",
        &c,
        &["apply", "--phase", "1"],
    ));

    // Two applies of one environment and project: the second comes while
    // the first holds the lock (testcloud slowed so it is surely held).
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    let first = c
        .command(&["apply", "--phase", "1"])
        .env("TESTCLOUD_DELAY_MS", "3000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while !c.journal().iter().any(|e| e["event"] == "lock_taken") {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(120),
            "the first apply never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    attempts.push(attempt(
        "a second apply of the same environment and project while the first runs",
        &c,
        &["apply", "--phase", "1"],
    ));
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    let applies = c
        .journal()
        .iter()
        .filter(|e| e["event"] == "apply_started")
        .count();
    assert_eq!(applies, 1, "two applies ran");

    let mut table = String::from(
        "| attempt | exit | journaled refusal | why (as journaled, and shown in the comment) |\n|---|---|---|---|\n",
    );
    for a in &attempts {
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            a.name,
            a.exit.map_or("killed".into(), |c| c.to_string()),
            a.journaled.as_deref().unwrap_or("**none**"),
            stable(&a.said).replace('|', "\\|").replace('`', "'"),
        ));
    }
    for a in &attempts {
        assert_eq!(a.exit, Some(1), "{}: not refused\n{table}", a.name);
    }
    sync_section(
        "docs/security.md",
        "bypass-attempts",
        &table,
        "cargo test --test it bypass_suite::",
    );
    for a in &attempts {
        assert!(
            a.journaled.is_some(),
            "{}: refused but not journaled\n{table}",
            a.name
        );
    }
}

/// The same change in pull-request jobs against the fake GitHub: approvals
/// come from GitHub (environment reviews of the run, `/phasegate approve`
/// comments recorded in phasegate's own comment), refusals show in it.
mod github {
    use std::path::PathBuf;
    use std::process::Output;

    use base64::Engine as _;
    use fakehub::{EnvSpec, FakeHub, Reviewer};
    use phasegate::github::comment::{
        change_marker, ApprovalSource, CommentState, PhaseState, RecordedApproval,
    };
    use serde_json::Value;

    use crate::doc_sync::sync_section;
    use crate::suite_support::{as_pr_job, pr_hub, pull_request_event};
    use crate::testbed::{describe, Testbed};

    const TOKEN: &str = "ghs_bypassSuiteToken0123456789";
    const HEAD: &str = "5555555555555555555555555555555555555555";

    struct Flow {
        tb: Testbed,
        hub: FakeHub,
        store: PathBuf,
        dir: tempfile::TempDir,
    }

    impl Flow {
        fn new() -> Flow {
            let tb = Testbed::new("tests/fixtures/runner/two-env");
            std::fs::copy(
                crate::testbed::repo_root().join("tests/fixtures/suites/bypass/phasegate.yml"),
                tb.workdir().join("phasegate.yml"),
            )
            .unwrap();
            let store = tb.root().join("store");
            let hub = pr_hub(TOKEN, HEAD);
            hub.set_permission("acme", "infra", "rita", "maintain");
            hub.set_permission("acme", "infra", "vic", "read");
            hub.set_permission("acme", "infra", "alice", "write");
            Flow {
                tb,
                hub,
                store,
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn run(&self, event_name: &str, payload: &str, args: &[&str]) -> Output {
            let (k, v) = self.tb.path_env();
            let mut cmd = self.tb.command(env!("CARGO_BIN_EXE_phasegate"));
            cmd.env(k, v).env("PHASEGATE_STORE_DIR", &self.store);
            as_pr_job(
                &mut cmd,
                &self.hub,
                TOKEN,
                HEAD,
                self.dir.path(),
                event_name,
                payload,
            );
            cmd.args(["--config", "phasegate.yml", "--change", "change.yml"])
                .args(args)
                .output()
                .unwrap()
        }

        fn step(&self, args: &[&str]) -> Output {
            self.run("pull_request", &pull_request_event(HEAD), args)
        }

        fn comment_by(&self, user: &str, text: &str) -> Output {
            self.run(
                "issue_comment",
                &format!(
                    r#"{{"issue":{{"number":7,"pull_request":{{"url":"x"}},"user":{{"login":"alice"}}}},"comment":{{"id":900,"body":"{text}","user":{{"login":"{user}"}}}}}}"#
                ),
                &["approve"],
            )
        }

        fn refusals(&self) -> Vec<Value> {
            std::fs::read_to_string(self.store.join("changes/CHG-RUN/journal.jsonl"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|e| e["event"] == "refusal")
                .collect()
        }

        /// phasegate's own comment (the bot's), not a copy.
        fn our_comment(&self) -> String {
            self.hub
                .comments("acme", "infra", 7)
                .iter()
                .filter(|c| c["user"]["login"] == "github-actions[bot]")
                .map(|c| c["body"].as_str().unwrap_or_default().to_string())
                .next()
                .unwrap_or_default()
        }

        fn prod_digest(&self) -> String {
            let out = self.step(&["status", "--format", "json"]);
            let status: Value = serde_json::from_slice(&out.stdout).unwrap();
            status["phases"][1]["digest"].as_str().unwrap().to_string()
        }
    }

    struct Row {
        name: &'static str,
        exit: Option<i32>,
        journaled: String,
        shown: bool,
    }

    /// `out` refused; what the journal and our comment say afterwards.
    fn row(f: &Flow, name: &'static str, out: &Output, refusals_before: usize) -> Row {
        let refusals = f.refusals();
        let new = refusals.get(refusals_before..).unwrap_or_default();
        let comment = f.our_comment();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // Shown: the journaled reason (or, for `approve`, its refusal line)
        // is in phasegate's comment.
        let shown = match new.last() {
            Some(r) => comment.contains(r["why"].as_str().unwrap_or("\u{0}")),
            None => stdout
                .lines()
                .find(|l| l.contains("refused"))
                .is_some_and(|l| comment.contains(l.trim())),
        };
        Row {
            name,
            exit: out.status.code(),
            journaled: new
                .last()
                .map(|r| r["what"].as_str().unwrap_or_default().to_string())
                .unwrap_or_else(|| "**none**".into()),
            shown,
        }
    }

    #[test]
    fn approval_bypasses_through_github_are_refused_journaled_and_shown_in_the_comment() {
        let f = Flow::new();
        for args in [
            &["plan", "--phase", "1"][..],
            &["apply", "--phase", "1"],
            &["verify", "--phase", "1"],
            &["review", "--phase", "1"],
            &["plan", "--phase", "2"],
        ] {
            let out = f.step(args);
            assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", describe(&out));
        }
        let digest = f.prod_digest();
        let apply = ["apply", "--phase", "2"];
        let mut rows = vec![];

        // prod's GitHub environment does not exist, so has no reviewers.
        let n = f.refusals().len();
        let out = f.step(&apply);
        rows.push(row(
            &f,
            "apply into an environment whose mandatory reviewers are missing",
            &out,
            n,
        ));

        f.hub.add_environment(
            "acme",
            "infra",
            "prod",
            EnvSpec {
                reviewers: vec![Reviewer::User("rita".into())],
                prevent_self_review: true,
                ..Default::default()
            },
        );

        // Someone else pastes phasegate's marker and a state claiming rita
        // approved this very plan.
        let mut state = CommentState::default();
        state.phases.insert(
            "prod".into(),
            PhaseState {
                digest: Some(digest.clone()),
                approvals: vec![RecordedApproval {
                    env: "prod".into(),
                    approver: "rita".into(),
                    digest: digest.clone(),
                    at: "2030-01-01T00:00:00Z".into(),
                    source: ApprovalSource::Comment,
                }],
            },
        );
        let forged = format!(
            "{}\n<!-- phasegate:state={} -->\napproved",
            change_marker("CHG-RUN"),
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&state).unwrap())
        );
        f.hub.add_comment("acme", "infra", 7, "mallory", &forged);
        let n = f.refusals().len();
        let out = f.step(&apply);
        rows.push(row(
            &f,
            "apply on a forged phasegate marker comment written by another user",
            &out,
            n,
        ));

        // A fallback approval by a user with only read permission.
        let n = f.refusals().len();
        let out = f.comment_by("vic", &format!("/phasegate approve prod {}", &digest[..12]));
        rows.push(row(
            &f,
            "a fallback `/phasegate approve` by a user without permission",
            &out,
            n,
        ));
        let n = f.refusals().len();
        let out = f.step(&apply);
        rows.push(row(&f, "apply after that fallback approval", &out, n));

        // The PR author approves the deployment of prod themselves.
        f.hub.add_run_approvals(
            "acme",
            "infra",
            100,
            vec![("prod", "alice", "2030-01-01T00:00:00Z", "approved")],
        );
        let n = f.refusals().len();
        let out = f.step(&apply);
        rows.push(row(
            &f,
            "apply approved (environment review) by the PR author where self-review is forbidden",
            &out,
            n,
        ));

        let mut table = String::from(
            "| attempt (GitHub flow) | exit | journaled refusal | shown in phasegate's comment |\n|---|---|---|---|\n",
        );
        for r in &rows {
            table.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.name,
                r.exit.map_or("killed".into(), |c| c.to_string()),
                r.journaled,
                if r.shown { "yes" } else { "**no**" }
            ));
        }
        for r in &rows {
            assert_eq!(r.exit, Some(1), "{}: not refused\n{table}", r.name);
        }
        assert!(f.hub.violations().is_empty(), "{:?}", f.hub.violations());
        sync_section(
            "docs/security.md",
            "bypass-github",
            &table,
            "cargo test --test it bypass_suite::",
        );
        for r in &rows {
            assert!(r.shown, "{}: not shown in the comment\n{table}", r.name);
        }
    }
}
