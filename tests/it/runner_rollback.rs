//! Rollback end to end: a partial apply in an environment that needs an
//! approval, then a revert plan of the base commit through the same gates
//! and approval; and the state restore's lineage guard. Real Terraform
//! 1.0.3, testcloud, a git repository for the base commit.

use std::process::Command;

use serde_json::Value;

use crate::runner_review::Runner;
use crate::testbed::describe;

/// The change under test: a security group that applies, a bucket that
/// testcloud fails to create, and one that waits for it.
const CHANGE: &str = r#"resource "aws_security_group" "extra" {
  name        = "rollback-${var.environment}-extra"
  description = "added by the change"
}

resource "aws_s3_bucket" "broken" {
  bucket = "rollback-${var.environment}-fail-apply"

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

resource "aws_security_group" "after_broken" {
  name        = "after-${aws_s3_bucket.broken.id}"
  description = "created only after the broken bucket"
}
"#;

fn git(c: &Runner, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(c.tb.workdir())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn terraform(c: &Runner, args: &[&str]) -> Value {
    let out =
        c.tb.terraform_command_in("infra", args)
            .env("TF_WORKSPACE", "staging")
            .env("TF_VAR_environment", "staging")
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "terraform {args:?}: {}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn addresses(state: &Value) -> Vec<String> {
    let mut list: Vec<String> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mode"] == "managed" && !r["instances"].as_array().unwrap().is_empty())
        .map(|r| {
            format!(
                "{}.{}",
                r["type"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    list.sort();
    list
}

/// The base deployed outside phasegate and committed; the change written
/// on top, planned, approved and applied: the apply fails part-way.
fn partially_applied() -> (Runner, String) {
    // The runner's root module, with this test's config: one environment
    // that needs an approval.
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RB");
    for file in ["phasegate.yml", "change.yml"] {
        let config = crate::testbed::repo_root()
            .join("tests/fixtures/runner/rollback")
            .join(file);
        c.tb.write_file(file, &std::fs::read_to_string(config).unwrap());
    }
    git(&c, &["init", "-q"]);
    git(&c, &["add", "."]);
    git(&c, &["commit", "-qm", "base"]);
    let base = git(&c, &["rev-parse", "HEAD"]);
    let init =
        c.tb.terraform_command_in("infra", &["init", "-input=false"])
            .output()
            .unwrap();
    assert!(init.status.success(), "{}", describe(&init));
    let new =
        c.tb.terraform_command_in("infra", &["workspace", "new", "staging"])
            .output()
            .unwrap();
    assert!(new.status.success(), "{}", describe(&new));
    terraform(&c, &["apply", "-auto-approve", "-input=false"]);

    c.tb.write_file("infra/change.tf", CHANGE);
    c.code(0, &["plan", "--phase", "1"]);
    c.approve("staging", &c.phase_digest(0));
    let out = c.code(3, &["apply", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed    aws_s3_bucket.broken"), "{text}");
    (c, base)
}

fn checkpoint_state(c: &Runner) -> Value {
    let journal = c.journal();
    let cp = journal
        .iter()
        .find(|e| e["event"] == "checkpoint_taken")
        .unwrap();
    serde_json::from_str(&std::fs::read_to_string(cp["file"].as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn a_partial_apply_is_reverted_through_the_same_approval_to_the_checkpoints_resources() {
    let (c, base) = partially_applied();
    let before = addresses(&checkpoint_state(&c));
    assert_eq!(before, ["aws_s3_bucket.assets", "aws_security_group.web"]);
    let now = addresses(&terraform(&c, &["state", "pull"]));
    assert!(
        now.contains(&"aws_security_group.extra".to_string()),
        "{now:?}"
    );

    // No revert plan yet.
    c.code(1, &["rollback", "--phase", "1", "--apply"]);
    // No --base: the plan recorded the commit the change started from.
    let recorded: Vec<String> = c
        .journal()
        .iter()
        .filter(|e| e["step"] == "plan" && e["event"] == "step_succeeded")
        .map(|e| e["plan"]["base"].as_str().unwrap_or("none").to_string())
        .collect();
    assert_eq!(
        recorded,
        std::slice::from_ref(&base),
        "the plan's recorded base"
    );
    let planned = c.json(0, &["rollback", "--phase", "1", "--format", "json"]);
    let revert = planned["projects"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let next = planned["projects"][0]["command"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        next,
        format!(
            "phasegate approve --local --env staging --digest {} --as {}, then phasegate rollback --phase 1 --apply",
            &revert[..12],
            c.journal().last().unwrap()["actor"].as_str().unwrap()
        ),
        "{planned:#}"
    );
    let comment = std::fs::read_to_string(c.out().join("rollback/app-staging.comment.md")).unwrap();
    assert!(
        comment.contains("0 to add, 0 to change, 1 to destroy"),
        "{comment}"
    );
    assert!(
        comment.contains("aws&#95;security&#95;group.extra</code> will be destroyed"),
        "{comment}"
    );
    // The revert digest is not approved: refused, nothing applied.
    let refused = c.json(
        1,
        &["rollback", "--phase", "1", "--apply", "--format", "json"],
    );
    assert_eq!(refused["projects"][0]["result"], "refused", "{refused:#}");
    assert!(refused["projects"][0]["message"]
        .as_str()
        .unwrap()
        .contains("the revert plan"));
    // The approval and the apply, each exactly as printed.
    let (approve, apply) = next.split_once(", then ").unwrap();
    let mut said = vec![];
    for printed in [approve, apply] {
        let words: Vec<&str> = printed.split_whitespace().skip(1).collect();
        said.push(String::from_utf8_lossy(&c.code(0, &words).stdout).into_owned());
    }
    assert!(said[1].contains("app: rolled back"), "{}", said[1]);
    assert_eq!(addresses(&terraform(&c, &["state", "pull"])), before);

    let journal = c.journal();
    let rolled: Vec<&Value> = journal
        .iter()
        .filter(|e| e["event"] == "rolled_back")
        .collect();
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0]["step"], "rollback");
    let status = c.status();
    assert_eq!(status["phases"][0]["projects"][0]["apply"], "rolled_back");
    assert_eq!(status["next"]["command"], "phasegate plan --phase 1");
    // Applied once: a second run has nothing to do.
    let again = c.json(
        0,
        &[
            "rollback", "--phase", "1", "--apply", "--base", &base, "--format", "json",
        ],
    );
    assert_eq!(again["projects"][0]["result"], "nothing to do", "{again:#}");
}

#[test]
fn a_state_restore_needs_confirmation_and_refuses_another_lineage() {
    let (c, _) = partially_applied();
    let out = c.code(2, &["rollback", "--phase", "1", "--restore-state"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--confirm-restore"),
        "{}",
        describe(&out)
    );
    // Someone replaced the state with another lineage.
    let mut state = terraform(&c, &["state", "pull"]);
    state["lineage"] = "00000000-0000-0000-0000-000000000000".into();
    state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
    let file = c.tb.root().join("other.tfstate");
    std::fs::write(&file, state.to_string()).unwrap();
    terraform(&c, &["state", "push", "-force", file.to_str().unwrap()]);

    let out = c.code(
        1,
        &[
            "rollback",
            "--phase",
            "1",
            "--restore-state",
            "--confirm-restore",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lineage 00000000-0000-0000-0000-000000000000 is not the checkpoint's"),
        "{text}"
    );
    let refusal = c
        .journal()
        .into_iter()
        .rfind(|e| e["event"] == "refusal")
        .unwrap();
    assert_eq!(refusal["what"], "lineage");
    // The state was not touched.
    assert_eq!(
        terraform(&c, &["state", "pull"])["lineage"],
        "00000000-0000-0000-0000-000000000000"
    );
    // The step it names instead, a revert plan, runs as printed.
    let next = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("next: "))
        .unwrap_or_else(|| panic!("no next line: {text}"));
    assert_eq!(next, "phasegate rollback --phase 1", "{text}");
    let words: Vec<&str> = next.split_whitespace().skip(1).collect();
    let planned = c.code(0, &words);
    assert!(
        String::from_utf8_lossy(&planned.stdout).contains("revert"),
        "{}",
        describe(&planned)
    );
}

#[test]
fn a_state_restore_pushes_the_checkpoint_when_only_this_phase_moved_the_serial() {
    let (c, _) = partially_applied();
    let before = addresses(&checkpoint_state(&c));
    let out = c.code(
        0,
        &[
            "rollback",
            "--phase",
            "1",
            "--restore-state",
            "--confirm-restore",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("state restored from checkpoint"), "{text}");
    let state = terraform(&c, &["state", "pull"]);
    assert_eq!(addresses(&state), before);
    assert_eq!(state["lineage"], checkpoint_state(&c)["lineage"]);
    let journal = c.journal();
    assert_eq!(
        journal
            .iter()
            .filter(|e| e["event"] == "checkpoint_taken")
            .count(),
        2,
        "the state before the restore is checkpointed too"
    );
    assert!(journal.iter().any(|e| e["event"] == "rolled_back"));
}
