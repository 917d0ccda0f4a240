//! The follow-up issue of a failed apply (issue 22 §4), end to end: pull
//! request jobs of PR 7 (by alice) against fakehub, real Terraform 1.0.3 and
//! testcloud. A partial apply opens one issue with the applied and failed
//! resources, the redacted error, the checkpoint and the commands `status`
//! names, assigned to the PR's author; a second failed apply updates it;
//! the phase applied after a fix, or rolled back, closes it. Each command
//! the issue names is run here as the issue prints it. A failure to post the
//! issue leaves the apply's own exit code.

use std::process::{Command, Output};

use fakehub::{FakeHub, Fault, FaultKind};
use serde_json::Value;

use crate::suite_support::{as_pr_job, pr_hub, pull_request_event};
use crate::testbed::{describe, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_followUpIssueToken0123456789";
const HEAD: &str = "4444444444444444444444444444444444444444";
/// Reaches Terraform as a sensitive variable, and the name of a bucket
/// testcloud refuses to create: its error quotes it.
const CANARY: &str = "canary-followup-Zq81x";
/// The label of every follow-up issue.
const LABEL: &str = "phasegate-apply-failed";

/// A security group that applies, one whose hostile name testcloud refuses,
/// and a bucket named from a secret that it refuses too.
const CHANGE: &str = r#"variable "bucket_suffix" {
  type      = string
  sensitive = true
}

resource "aws_security_group" "extra" {
  name        = "followup-${var.environment}-extra"
  description = "added by the change"
}

resource "aws_security_group" "hostile" {
  name        = "fail-apply @mallory <!-- phasegate:apply-failed change=CHG-RUN phase=dev --> [x](https://evil.example/x) </pre> #1"
  description = "a name nobody should see rendered"
}

resource "aws_s3_bucket" "secret" {
  bucket = "fail-apply-${var.bucket_suffix}"

  versioning {
    enabled = true
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}
"#;

/// The two-environment runner change in a git repository (its base commit
/// is what a rollback returns to), the change written on top, as PR 7's
/// jobs run it against fakehub.
struct FollowUp {
    tb: Testbed,
    hub: FakeHub,
    dir: tempfile::TempDir,
}

impl FollowUp {
    fn new() -> FollowUp {
        let tb = Testbed::new("tests/fixtures/runner/two-env");
        // A revert deletes what the change created: up to high is expected
        // (as in the rollback fixture).
        tb.write_file(
            "change.yml",
            "version: 1\nid: CHG-RUN\ntitle: Follow-up end to end\nphases:\n  - name: dev\n    environment: dev\n    blast_radius: high\n  - name: prod\n    environment: prod\n",
        );
        let f = FollowUp {
            tb,
            hub: pr_hub(TOKEN, HEAD),
            dir: tempfile::tempdir().unwrap(),
        };
        f.git(&["init", "-q"]);
        f.git(&["add", "."]);
        f.git(&["commit", "-qm", "base"]);
        f.tb.write_file("infra/change.tf", CHANGE);
        f
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(self.tb.workdir())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    }

    /// One step as a pull-request job runs it.
    fn run(&self, args: &[&str]) -> Output {
        let (k, v) = self.tb.path_env();
        let mut cmd = self.tb.command(PHASEGATE);
        cmd.env(k, v)
            .env("PHASEGATE_STORE_DIR", self.tb.root().join("store"))
            .env("TF_VAR_bucket_suffix", CANARY);
        as_pr_job(
            &mut cmd,
            &self.hub,
            TOKEN,
            HEAD,
            self.dir.path(),
            "pull_request",
            &pull_request_event(HEAD),
        );
        cmd.args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args);
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(TOKEN), "the token was printed:\n{all}");
        out
    }

    fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command as the issue prints it, run word for word.
    fn run_printed(&self, code: i32, printed: &str) -> String {
        let words: Vec<&str> = printed.split_whitespace().collect();
        assert_eq!(words[0], "phasegate", "{printed}");
        self.expect(code, &words[1..])
    }

    fn status_next(&self) -> String {
        let text = self.expect(0, &["status", "--format", "json"]);
        let status: Value = serde_json::from_str(&text).unwrap();
        status["next"]["command"]
            .as_str()
            .unwrap_or("none")
            .to_owned()
    }

    /// Our follow-up issues (with the label), as the fake holds them.
    fn issues(&self) -> Vec<Value> {
        self.hub
            .issues("acme", "infra")
            .into_iter()
            .filter(|i| {
                i["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["name"] == LABEL)
            })
            .collect()
    }

    /// The one follow-up issue.
    fn issue(&self) -> Value {
        let issues = self.issues();
        assert_eq!(issues.len(), 1, "{issues:#?}");
        issues[0].clone()
    }

    fn comments_on(&self, number: u64) -> Vec<String> {
        self.hub
            .comments("acme", "infra", number)
            .iter()
            .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The apply fails part-way (exit 3), as it would without any issue.
    fn failing_apply(&self, printed: &str) {
        let text = self.run_printed(3, printed);
        assert!(text.contains("failed    aws_s3_bucket.secret"), "{text}");
    }

    /// Nothing secret or hostile in anything GitHub received, and no
    /// request fakehub found invalid against GitHub's OpenAPI.
    fn assert_inert(&self) {
        let violations = self.hub.take_violations();
        assert!(violations.is_empty(), "{violations:#?}");
        for r in self.hub.requests() {
            assert!(!r.body.contains(CANARY), "the secret in {}", r.path);
            assert!(!r.body.contains(TOKEN), "the token in {}", r.path);
            assert!(!r.body.contains("@mallory"), "a mention in {}", r.path);
            assert!(
                !r.body.contains("](https://evil"),
                "a hostile link in {}",
                r.path
            );
        }
    }
}

/// The `<code>phasegate …</code>` commands of a body, in order, each once.
fn commands(body: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for piece in body.split("<code>").skip(1) {
        let code = piece.split("</code>").next().unwrap();
        if code.starts_with("phasegate ") && !out.iter().any(|c| c == code) {
            out.push(code.to_owned());
        }
    }
    out
}

fn assigned(issue: &Value) -> Vec<String> {
    issue["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["login"].as_str().unwrap().to_owned())
        .collect()
}

fn body(issue: &Value) -> String {
    issue["body"].as_str().unwrap().to_owned()
}

#[test]
fn a_failed_apply_opens_one_issue_updated_on_the_next_failure_and_closed_once_applied() {
    let f = FollowUp::new();
    f.expect(0, &["plan", "--phase", "1"]);
    f.failing_apply("phasegate apply --phase 1");

    let issue = f.issue();
    let number = issue["number"].as_u64().unwrap();
    let text = body(&issue);
    assert_eq!(issue["state"], "open");
    assert_eq!(
        issue["title"], "Apply failed: CHG-RUN phase dev (dev)",
        "{issue:#}"
    );
    assert_eq!(assigned(&issue), ["alice"], "the PR's author");
    assert!(
        text.starts_with("<!-- phasegate:apply-failed change=CHG-RUN phase=dev -->\n"),
        "{text}"
    );
    assert_eq!(text.matches("<!--").count(), 1, "one marker only:\n{text}");
    assert!(text.contains("pull request #7"), "{text}");
    assert!(text.contains("so far: **1**"), "{text}");
    assert!(
        text.contains("| <code>aws&#95;security&#95;group.extra</code> | create | applied |"),
        "{text}"
    );
    assert!(
        text.contains("| <code>aws&#95;s3&#95;bucket.secret</code> | create | **failed** |"),
        "{text}"
    );
    assert!(
        text.contains("| <code>aws&#95;security&#95;group.hostile</code> | create | **failed** |"),
        "{text}"
    );
    // The error, quoting the hostile name inertly and the secret masked.
    assert!(text.contains("testcloud refuses to create"), "{text}");
    assert!(text.contains("&#64;&#8203;mallory"), "{text}");
    assert!(
        text.contains("creating aws_s3_bucket \"***\" failed"),
        "the bucket's secret name masked:\n{text}"
    );
    // The checkpoint the journal holds, and the run that took it.
    let journal =
        std::fs::read_to_string(f.tb.root().join("store/changes/CHG-RUN/journal.jsonl")).unwrap();
    let checkpoint: Value = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "checkpoint_taken")
        .unwrap();
    assert!(
        text.contains(&format!(
            "<code>{}</code>",
            checkpoint["sha256"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(text.contains("<code>app-dev-1.tfstate</code>"), "{text}");
    assert!(text.contains("/actions/runs/100#artifacts"), "{text}");
    // The commands: first what `status` names, then the apply, then the
    // revert and its apply.
    let printed = commands(&text);
    assert_eq!(printed[0], f.status_next(), "{text}");
    assert_eq!(
        printed,
        [
            "phasegate plan --phase 1",
            "phasegate apply --phase 1",
            "phasegate rollback --phase 1",
            "phasegate rollback --phase 1 --apply",
        ]
    );

    // Again as printed: the new plan, then its apply fails too. The same
    // issue is updated, not a second one opened.
    f.run_printed(0, &printed[0]);
    f.failing_apply(&printed[1]);
    let issue = f.issue();
    assert_eq!(issue["number"].as_u64(), Some(number));
    assert_eq!(issue["state"], "open");
    assert!(body(&issue).contains("so far: **2**"), "{}", body(&issue));
    assert_eq!(assigned(&issue), ["alice"]);
    assert!(f.comments_on(number).is_empty());

    // Fixed: nothing is named `fail-apply` any more. The printed plan and
    // apply succeed, and the issue is closed with a comment.
    f.tb.write_file("infra/change.tf", &CHANGE.replace("fail-apply", "fixed"));
    f.run_printed(0, &printed[0]);
    let text = f.run_printed(0, &printed[1]);
    assert!(text.contains("app: applied"), "{text}");
    let issue = f.issue();
    assert_eq!(issue["number"].as_u64(), Some(number));
    assert_eq!(issue["state"], "closed");
    let comments = f.comments_on(number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].contains("phase <code>dev</code> (<code>dev</code>) was applied"),
        "{}",
        comments[0]
    );
    // Applied again: nothing to do, and nothing more on the issue.
    let requests = f.hub.requests().len();
    f.expect(0, &["apply", "--phase", "1"]);
    assert_eq!(f.comments_on(number).len(), 1);
    assert!(f.hub.requests()[requests..]
        .iter()
        .all(|r| !r.path.contains(&format!("/issues/{number}"))));
    f.assert_inert();
}

#[test]
fn a_rolled_back_phase_closes_its_issue_and_a_failure_to_post_leaves_the_apply_exit_code() {
    let f = FollowUp::new();
    f.expect(0, &["plan", "--phase", "1"]);
    // GitHub refuses to create the label: the issue cannot be opened. The
    // apply still exits 3 for its own failure, and says why in a warning.
    f.hub.inject(Fault {
        method: Some("POST"),
        path_prefix: "/repos/acme/infra/labels".into(),
        kind: FaultKind::Status(403),
        times: 100,
    });
    let out = f.run(&["apply", "--phase", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("follow-up issue of phase dev was not brought up to date"),
        "{stderr}"
    );
    assert!(f.issues().is_empty());
    f.hub.clear_faults();

    // The next failed apply opens it.
    f.expect(0, &["plan", "--phase", "1"]);
    f.failing_apply("phasegate apply --phase 1");
    let issue = f.issue();
    let number = issue["number"].as_u64().unwrap();
    assert!(body(&issue).contains("so far: **2**"), "{}", body(&issue));
    let printed = commands(&body(&issue));

    // Rolled back, each step as printed: the issue is closed.
    let revert = &printed[2];
    assert_eq!(revert, "phasegate rollback --phase 1");
    f.run_printed(0, revert);
    assert_eq!(f.issue()["state"], "open", "a revert plan changes nothing");
    let text = f.run_printed(0, &printed[3]);
    assert!(text.contains("app: rolled back"), "{text}");
    let issue = f.issue();
    assert_eq!(issue["state"], "closed");
    let comments = f.comments_on(number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(comments[0].contains("was rolled back"), "{}", comments[0]);
    f.assert_inert();
}
