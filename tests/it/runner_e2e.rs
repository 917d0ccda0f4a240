//! The phase runner end to end: the real binary, real Terraform 1.0.3 and
//! testcloud. Every step is its own process, as CI jobs are, and the steps
//! share only the store (the local backend here) and the output directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::testbed::{describe, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// A bucket the security gate passes, named `runner-<env>-<suffix>`.
pub(crate) fn bucket(name: &str, suffix: &str) -> String {
    format!(
        r#"resource "aws_s3_bucket" "{name}" {{
  bucket = "runner-${{var.environment}}-{suffix}"

  versioning {{
    enabled = true
  }}

  server_side_encryption_configuration {{
    rule {{
      apply_server_side_encryption_by_default {{
        sse_algorithm = "AES256"
      }}
    }}
  }}
}}
"#
    )
}

const OPEN_SSH: &str = r#"resource "aws_security_group" "web" {
  name        = "runner-${var.environment}-web"
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

/// One change of the two-environment fixture: its testbed and its store.
pub(crate) struct Change {
    pub(crate) tb: Testbed,
    pub(crate) store: PathBuf,
}

impl Change {
    pub(crate) fn new() -> Change {
        let tb = Testbed::new("tests/fixtures/runner/two-env");
        let store = tb.root().join("store");
        Change { tb, store }
    }

    pub(crate) fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let (k, v) = self.tb.path_env();
        let mut cmd = self.tb.command(PHASEGATE);
        cmd.env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &self.store)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run phasegate")
    }

    pub(crate) fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", describe(&out));
        out
    }

    pub(crate) fn refused(&self, args: &[&str]) -> Output {
        let out = self.run(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", describe(&out));
        out
    }

    pub(crate) fn status(&self) -> Value {
        let out = self.ok(&["status", "--format", "json"]);
        serde_json::from_slice(&out.stdout).expect("status --format json prints JSON")
    }

    pub(crate) fn next(&self) -> String {
        self.status()["next"]["command"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub(crate) fn journal(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.store.join("changes/CHG-RUN/journal.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// What the approve job journals once GitHub reports an approval.
    pub(crate) fn record_approval(&self, digest: &str) {
        self.record_approval_of("prod", digest)
    }

    /// What the approve job journals for the phase (and environment) `phase`.
    pub(crate) fn record_approval_of(&self, phase: &str, digest: &str) {
        let line = serde_json::json!({
            "time": "2030-01-01T00:00:00Z",
            "run": {"id": 99},
            "actor": "reviewer",
            "change": "CHG-RUN",
            "phase": phase,
            "step": "approval",
            "digest": digest,
            "event": "approval_recorded",
            "environment": phase,
            "approver": "reviewer",
            "source": "comment",
            "at": "2030-01-01T00:00:00Z",
        });
        crate::journal_chain::append_event(&self.store.join("changes/CHG-RUN/journal.jsonl"), line);
    }

    /// How many create calls testcloud logged for the resource named
    /// `name`, by outcome (`ok`, `failed`, `throttled`).
    pub(crate) fn creates(&self, name: &str, outcome: &str) -> usize {
        let log =
            std::fs::read_to_string(self.tb.cloud_dir().join("calls.log")).unwrap_or_default();
        log.lines()
            .filter(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                f.len() == 4 && f[0] == "create" && f[2] == name && f[3] == outcome
            })
            .count()
    }

    /// What `phasegate verify` journals: an HTTP check with its evidence.
    fn verified(&self, phase: &str) {
        let index = if phase == "dev" { 0 } else { 1 };
        let digest = self.status()["phases"][index]["digest"].clone();
        let line = serde_json::json!({
            "time": "2030-01-01T00:00:01Z", "run": {}, "actor": "verifier",
            "change": "CHG-RUN", "phase": phase, "project": "app", "step": "verify",
            "digest": digest, "event": "verification_finished", "status": "pass",
            "checks": [{"name": "site", "kind": "http", "status": "pass",
                        "evidence": "HTTP 200 in 3 ms", "attempts": 1, "duration_ms": 3}],
        });
        crate::journal_chain::append_event(&self.store.join("changes/CHG-RUN/journal.jsonl"), line);
    }

    pub(crate) fn prod_digest(&self) -> String {
        self.status()["phases"][1]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `terraform state pull` of the dev workspace.
    pub(crate) fn state_pull(&self) -> Value {
        let out = self
            .tb
            .terraform_command_in("infra", &["state", "pull"])
            .env("TF_WORKSPACE", "dev")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("state pull prints the state")
    }
}

pub(crate) fn events_of<'a>(journal: &'a [Value], kind: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn a_change_runs_dev_then_prod_only_as_reviewed() {
    let c = Change::new();
    // Nothing yet: the first step is the dev plan; an apply is refused.
    assert_eq!(c.next(), "phasegate plan --phase 1");
    let out = c.refused(&["apply", "--phase", "1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("phasegate plan --phase 1"));

    // A gate blocks: SSH open to the world.
    c.tb.write_file("infra/web.tf", OPEN_SSH);
    c.refused(&["plan", "--phase", "1"]);
    let status = c.status();
    assert_eq!(status["overall"], "blocked", "{status:#}");
    assert_eq!(status["next"]["command"], "phasegate plan --phase 1");
    c.refused(&["apply", "--phase", "1"]);
    let refusals = events_of(&c.journal(), "refusal")
        .into_iter()
        .map(|e| e["what"].clone())
        .collect::<Vec<_>>();
    assert!(refusals.contains(&"gate".into()), "{refusals:?}");

    // Fixed: the gate passes, dev applies and converges.
    std::fs::copy(
        crate::testbed::repo_root().join("tests/fixtures/runner/two-env/infra/web.tf"),
        c.tb.workdir().join("infra/web.tf"),
    )
    .unwrap();
    c.ok(&["plan", "--phase", "1"]);
    assert_eq!(c.next(), "phasegate apply --phase 1");
    let out = c.ok(&["apply", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("applied   aws_s3_bucket.assets"), "{text}");
    assert!(text.contains("converged"), "{text}");
    let journal = c.journal();
    let checkpoint = events_of(&journal, "checkpoint_taken");
    assert_eq!(checkpoint.len(), 1);
    assert!(Path::new(checkpoint[0]["file"].as_str().unwrap()).is_file());
    assert_eq!(checkpoint[0]["sha256"].as_str().unwrap().len(), 64);
    // dev is verified and reviewed before prod may be entered.
    assert_eq!(c.next(), "phasegate verify --phase 1");
    c.verified("dev");
    assert_eq!(c.next(), "phasegate review --phase 1");
    c.ok(&["review", "--phase", "1"]);
    assert_eq!(c.next(), "phasegate plan --phase 2");

    // prod: planned, then refused without an approval — journaled.
    c.ok(&["plan", "--phase", "2"]);
    let status = c.status();
    assert_eq!(status["overall"], "awaiting_approval", "{status:#}");
    let first = c.prod_digest();
    assert!(c.next().starts_with(&format!(
        "phasegate approve --local --env prod --digest {} --as ",
        &first[..12]
    )));
    let out = c.refused(&["apply", "--phase", "2"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("has no approval"));
    let status = c.status();
    assert_eq!(
        status["phases"][1]["projects"][0]["last_refusal"]["what"],
        "approval"
    );

    // An approval of an older digest is refused once the plan changed.
    c.record_approval(&first);
    c.tb.write_file("infra/extra.tf", &bucket("logs", "logs"));
    c.ok(&["plan", "--phase", "2"]);
    let second = c.prod_digest();
    assert_ne!(first, second);
    let out = c.refused(&["apply", "--phase", "2"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("older plan"));

    // The plan file is gone and the code moved on: plan changed since approval.
    c.record_approval(&second);
    std::fs::remove_file(c.tb.workdir().join("out/plans/app-prod.tfplan")).unwrap();
    c.tb.write_file("infra/extra.tf", &bucket("audit", "audit"));
    let out = c.refused(&["apply", "--phase", "2"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("plan changed since it was reviewed"),
        "{}",
        describe(&out)
    );
    let third = c.prod_digest();
    assert!(third != second && third != first);
    assert_eq!(c.status()["overall"], "awaiting_approval");

    // Approved: prod applies exactly the re-plan the journal recorded.
    c.record_approval(&third);
    assert_eq!(c.next(), "phasegate apply --phase 2");
    c.ok(&["apply", "--phase", "2"]);
    c.verified("prod");
    c.ok(&["review", "--phase", "2"]);
    let status = c.status();
    assert_eq!(status["overall"], "done", "{status:#}");
    assert!(status["next"].is_null());
    let journal = c.journal();
    // dev, the prod apply refused after its re-plan, and the prod apply:
    // every lock taken was released.
    assert_eq!(events_of(&journal, "lock_taken").len(), 3);
    assert_eq!(events_of(&journal, "lock_released").len(), 3);
}

#[test]
fn a_failing_resource_reports_applied_failed_and_untouched() {
    let c = Change::new();
    let broken = bucket("broken", "fail-apply");
    c.tb.write_file(
        "infra/broken.tf",
        &(broken
            + r#"
resource "aws_security_group" "after_broken" {
  name        = "after-${aws_s3_bucket.broken.id}"
  description = "created only after the broken bucket"
}
"#),
    );
    c.ok(&["plan", "--phase", "1"]);
    // As the apply job in Actions runs it: the job summary gets the tables.
    let summary = c.tb.root().join("summary.md");
    let out = c.run(
        &["apply", "--phase", "1"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/infra"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("applied   aws_s3_bucket.assets"), "{text}");
    assert!(text.contains("failed    aws_s3_bucket.broken"), "{text}");
    assert!(
        text.contains("untouched aws_security_group.after_broken"),
        "{text}"
    );
    // The failing create is not transient: it was tried once.
    assert_eq!(c.creates("runner-dev-fail-apply", "failed"), 1);
    let summary = std::fs::read_to_string(c.tb.root().join("summary.md")).unwrap();
    for table in ["#### Applied (2)", "#### Failed (1)", "#### Untouched (1)"] {
        assert!(summary.contains(table), "{summary}");
    }
    assert!(
        summary.contains("<code>aws&#95;security&#95;group.after&#95;broken</code>"),
        "{summary}"
    );
    let status = c.status();
    let project = &status["phases"][0]["projects"][0];
    assert_eq!(project["apply"], "failed");
    assert_eq!(status["overall"], "failed");
    assert_eq!(status["next"]["command"], "phasegate plan --phase 1");
    let text = String::from_utf8_lossy(&c.ok(&["status"]).stdout).into_owned();
    assert!(text.contains("applied, 1 failed, 1 untouched"), "{text}");
}

#[test]
fn two_concurrent_applies_never_apply_at_once() {
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    let spawn = || {
        let (k, v) = c.tb.path_env();
        let mut cmd = c.tb.command(PHASEGATE);
        cmd.env(k, v)
            .env("PHASEGATE_STORE_DIR", &c.store)
            .env("TESTCLOUD_DELAY_MS", "2000")
            .env_remove("GITHUB_ACTIONS")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(["apply", "--phase", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let first = spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let second = spawn();
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(a.status.code(), Some(0), "{}", describe(&a));
    // The second either found the lock held or, had it started late, the
    // plan already applied; it never applied.
    match b.status.code() {
        Some(1) => assert!(text(&b).contains("is locked by"), "{}", describe(&b)),
        Some(0) => assert!(text(&b).contains("already applied"), "{}", describe(&b)),
        _ => panic!("{}", describe(&b)),
    }
    assert_eq!(events_of(&c.journal(), "apply_started").len(), 1);
    let state = c.state_pull();
    let resources = state["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{state:#}");
    assert!(state["lineage"].is_string());
}

#[test]
fn a_fresh_quickstart_names_its_first_step_and_refuses_an_apply() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("quickstart");
    copy_dir(
        &crate::testbed::repo_root().join("examples/quickstart"),
        &work,
    );
    let run = |args: &[&str]| {
        std::process::Command::new(PHASEGATE)
            .current_dir(&work)
            .env("PHASEGATE_STORE_DIR", dir.path().join("store"))
            .env_remove("GITHUB_ACTIONS")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["overall"], "not_started");
    assert_eq!(status["next"]["command"], "phasegate plan --phase 1");
    let out = run(&["apply", "--phase", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no succeeded plan for app"), "{text}");
    assert!(text.contains("next: phasegate plan --phase 1"), "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_throttled_create_is_retried_once_after_a_backoff() {
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    c.ok(&["apply", "--phase", "1"]);
    // Alone in its plan, so the engine reports that nothing else changed.
    c.tb.write_file("infra/extra.tf", &bucket("flaky", "transient-once"));
    c.ok(&["plan", "--phase", "1"]);
    let out = c.ok(&["apply", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("applied   aws_s3_bucket.flaky"), "{text}");
    assert_eq!(c.creates("runner-dev-transient-once", "throttled"), 1);
    assert_eq!(c.creates("runner-dev-transient-once", "ok"), 1);
    let journal = c.journal();
    let finished = events_of(&journal, "apply_finished");
    assert!(finished.last().unwrap()["error"].is_null(), "{finished:#?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("retrying once"));
}

/// The fixture's config with dev protected: destroying a bucket there needs
/// an `allow_destroy` entry, and an approval. The change plan declares the
/// blast radius such a phase reaches, so only the destroy guard speaks.
fn protect_dev(c: &Change) {
    let config = std::fs::read_to_string(c.tb.workdir().join("phasegate.yml")).unwrap();
    let protected = config.replacen("  - name: dev\n", "  - name: dev\n    protected: true\n", 1);
    assert_ne!(config, protected);
    c.tb.write_file("phasegate.yml", &protected);
    let change = std::fs::read_to_string(c.tb.workdir().join("change.yml")).unwrap();
    let declared = change.replacen(
        "    environment: dev\n",
        "    environment: dev\n    blast_radius: critical\n",
        1,
    );
    assert_ne!(change, declared);
    c.tb.write_file("change.yml", &declared);
}

fn dev_digest(c: &Change) -> String {
    c.status()["phases"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn apply_checks_allow_destroy_again_before_a_destroy() {
    let c = Change::new();
    protect_dev(&c);
    c.ok(&["plan", "--phase", "1"]);
    c.record_approval_of("dev", &dev_digest(&c));
    c.ok(&["apply", "--phase", "1"]);

    // Renaming the bucket replaces it; the change plan allows it and the
    // plan is gated and approved with that entry.
    let change = std::fs::read_to_string(c.tb.workdir().join("change.yml")).unwrap();
    c.tb.write_file(
        "change.yml",
        &format!(
            "{change}allow_destroy:\n  - address: aws_s3_bucket.assets\n    reason: renamed\n"
        ),
    );
    let main = std::fs::read_to_string(c.tb.workdir().join("infra/main.tf")).unwrap();
    c.tb.write_file("infra/main.tf", &main.replace("-assets\"", "-assets2\""));
    c.ok(&["plan", "--phase", "1"]);
    c.record_approval_of("dev", &dev_digest(&c));

    // The entry is gone by the time the apply runs: refused, journaled.
    c.tb.write_file("change.yml", &change);
    let out = c.refused(&["apply", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("destroys aws_s3_bucket.assets"), "{text}");
    assert!(text.contains("allow_destroy"), "{text}");
    let journal = c.journal();
    let refusal = events_of(&journal, "refusal");
    assert_eq!(refusal.last().unwrap()["what"], "destroy");
    assert_eq!(
        events_of(&journal, "apply_started").len(),
        1,
        "only the first apply"
    );
    assert_eq!(c.creates("runner-dev-assets2", "ok"), 0);
}

#[test]
fn accepted_acknowledgements_are_journaled_with_reason_and_author() {
    let c = Change::new();
    let change = std::fs::read_to_string(c.tb.workdir().join("change.yml")).unwrap();
    c.tb.write_file(
        "change.yml",
        &format!(
            "{change}acknowledgements:\n  - id: PG-AWS-001\n    reason: bastion during the migration\n    by: rita\n"
        ),
    );
    c.tb.write_file("infra/web.tf", OPEN_SSH);
    c.ok(&["plan", "--phase", "1"]);
    let journal = c.journal();
    let acks = events_of(&journal, "acknowledgement_applied");
    assert_eq!(acks.len(), 1, "{journal:#?}");
    assert_eq!(acks[0]["id"], "PG-AWS-001");
    assert_eq!(acks[0]["reason"], "bastion during the migration");
    assert_eq!(acks[0]["by"], "rita");
    assert_eq!(acks[0]["project"], "app");
    let status = c.status();
    assert_eq!(
        status["phases"][0]["projects"][0]["acknowledgements"],
        serde_json::json!(["PG-AWS-001"])
    );
}

#[test]
fn the_check_run_follows_the_apply_through_applying_to_applied_and_failed() {
    const TOKEN: &str = "ghs_runnerCheckRunToken0123456789";
    const HEAD: &str = "1111111111111111111111111111111111111111";
    let hub = crate::suite_support::pr_hub(TOKEN, HEAD);
    let c = Change::new();
    let event = c.tb.root().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}","ref":"feat"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
        ),
    )
    .unwrap();
    let event = event.to_str().unwrap().to_string();
    let gh = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/infra"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_API_URL", hub.url()),
        ("GITHUB_SHA", "2222222222222222222222222222222222222222"),
        ("GITHUB_TOKEN", TOKEN),
    ];
    let run = |args: &[&str], code: i32| {
        let out = c.run(args, &gh);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
    };
    // (title, status, conclusion) of every write to `phasegate / dev`.
    let writes = || -> Vec<(String, String, String)> {
        hub.requests()
            .iter()
            .filter(|r| r.path.contains("/check-runs") && r.method != "GET")
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter(|b| b["name"] == "phasegate / dev")
            .map(|b| {
                let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
                (
                    b["output"]["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    s("status"),
                    s("conclusion"),
                )
            })
            .collect()
    };
    run(&["plan", "--phase", "1"], 0);
    hub.clear_requests();
    run(&["apply", "--phase", "1"], 0);
    let seen = writes();
    assert_eq!(
        seen,
        vec![
            (
                "dev: applying".to_string(),
                "in_progress".to_string(),
                String::new()
            ),
            (
                "dev: applied".to_string(),
                "completed".to_string(),
                "success".to_string()
            ),
        ]
    );
    // One run moved through the states: the applying run was completed.
    let runs: Vec<Value> = hub
        .check_runs("acme", "infra")
        .into_iter()
        .filter(|r| r["name"] == "phasegate / dev" && r["head_sha"] == HEAD)
        .collect();
    assert!(
        runs.iter()
            .any(|r| r["conclusion"] == "success" && r["status"] == "completed"),
        "{runs:#?}"
    );

    c.tb.write_file("infra/broken.tf", &bucket("broken", "fail-apply"));
    run(&["plan", "--phase", "1"], 0);
    hub.clear_requests();
    run(&["apply", "--phase", "1"], 3);
    let seen = writes();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, "dev: applying");
    assert_eq!(
        seen[1],
        (
            "dev: failed".to_string(),
            "completed".to_string(),
            "failure".to_string()
        )
    );
    assert!(hub.take_violations().is_empty());
}
