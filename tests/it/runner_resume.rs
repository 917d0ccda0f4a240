//! Resume after a crash, end to end: the real binary, real Terraform 1.0.3
//! and testcloud. An apply is killed with SIGKILL between ApplyStarted and
//! ApplyFinished (the journal in the local store is polled to find the
//! moment); the re-run re-verifies before anything else and never applies a
//! resource twice, which testcloud's create log shows.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner_e2e::{events_of, Change};
use crate::testbed::describe;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// Created after the bucket, so a kill can fall between the two.
const AFTER_ASSETS: &str = r#"resource "aws_security_group" "after" {
  name        = "after-${aws_s3_bucket.assets.id}"
  description = "created only after the assets bucket"
}
"#;

/// `phasegate apply --phase 1`, slowed by testcloud, in its own process
/// group so the whole job (phasegate, Terraform, the provider) can be killed
/// as a CI runner kills a cancelled job.
fn spawn_apply(c: &Change, delay_ms: u64) -> Child {
    use std::os::unix::process::CommandExt;
    let (k, v) = c.tb.path_env();
    c.tb.command(PHASEGATE)
        .env(k, v)
        .env("NO_COLOR", "1")
        .env("PHASEGATE_STORE_DIR", &c.store)
        .env("TESTCLOUD_DELAY_MS", delay_ms.to_string())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args(["apply", "--phase", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn phasegate apply")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn signal(sig: &str, target: &str) {
    let status = Command::new("kill")
        .args([sig, "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {target}");
}

/// SIGKILL to every process of the job, as a runner tearing it down does:
/// phasegate's process group, and its engine's (the engine runs in a group
/// of its own, so that it outlives phasegate alone).
fn kill_job(child: &mut Child) {
    let pid = child.id();
    signal("-STOP", &pid.to_string());
    for engine in children(pid) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{engine}")])
            .status();
    }
    signal("-KILL", &format!("-{pid}"));
    let _ = child.wait();
}

fn journal_kinds(c: &Change) -> Vec<String> {
    let path = c.store.join("changes/CHG-RUN/journal.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn started_not_finished(c: &Change) -> bool {
    let kinds = journal_kinds(c);
    kinds.iter().filter(|k| *k == "apply_started").count()
        > kinds.iter().filter(|k| *k == "apply_finished").count()
}

/// The dev workspace's state file, as Terraform writes it after each resource.
fn dev_state(c: &Change) -> String {
    let path: PathBuf =
        c.tb.workdir()
            .join("infra/terraform.tfstate.d/dev/terraform.tfstate");
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The direct children of `pid` (every thread's).
fn children(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let file = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// Whether `pid` has exited (gone, or a zombie nobody reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_killed_apply_that_had_finished_is_journaled_done_and_never_applied_twice() {
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    let mut job = spawn_apply(&c, 1500);
    wait_until("the journal shows apply_started", || {
        started_not_finished(&c)
    });
    // Freeze phasegate itself; its Terraform runs on to the end, so the job
    // dies after the cloud and the state changed but before ApplyFinished.
    signal("-STOP", &job.id().to_string());
    let engine = children(job.id());
    assert!(!engine.is_empty(), "phasegate runs terraform");
    wait_until("terraform exits", || engine.iter().all(|p| exited(*p)));
    kill_job(&mut job);
    assert!(
        started_not_finished(&c),
        "killed between ApplyStarted and ApplyFinished"
    );
    assert_eq!(c.creates("runner-dev-assets", "ok"), 1);
    assert_eq!(c.creates("runner-dev-web", "ok"), 1);
    let status = c.status();
    assert_eq!(
        status["phases"][0]["projects"][0]["apply"], "in_progress",
        "{status:#}"
    );

    // The re-run re-verifies: the serial moved, a re-plan shows nothing left.
    let out = c.ok(&["apply", "--phase", "1"]);
    let said = text(&out);
    assert!(said.contains("interrupted apply"), "{said}");
    assert!(said.contains("converged"), "{said}");
    assert!(
        said.contains("applied   aws_s3_bucket.assets (create)"),
        "{said}"
    );
    let journal = c.journal();
    assert_eq!(
        events_of(&journal, "apply_started").len(),
        1,
        "no second apply"
    );
    let finished = events_of(&journal, "apply_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(
        finished[0]["results"].as_array().unwrap().len(),
        2,
        "{:#}",
        finished[0]
    );
    assert_eq!(
        events_of(&journal, "convergence_checked").last().unwrap()["converged"],
        true
    );
    assert_eq!(
        events_of(&journal, "lock_broken").len(),
        1,
        "the dead job's lock"
    );
    assert_eq!(c.creates("runner-dev-assets", "ok"), 1);
    assert_eq!(c.creates("runner-dev-web", "ok"), 1);
    assert_eq!(c.next(), "phasegate verify --phase 1");

    // A finished step is never repeated.
    let out = c.ok(&["apply", "--phase", "1"]);
    assert!(text(&out).contains("already applied"), "{}", describe(&out));
    assert_eq!(events_of(&c.journal(), "apply_started").len(), 1);
}

#[test]
fn a_killed_apply_with_changes_left_is_refused_until_a_decision() {
    let c = Change::new();
    c.tb.write_file("infra/after.tf", AFTER_ASSETS);
    c.ok(&["plan", "--phase", "1"]);
    let mut job = spawn_apply(&c, 2000);
    // Killed once the bucket and the web group are in the state and the
    // group that needs the bucket is still being created. (A create the
    // cloud finished but Terraform never wrote to the state is invisible to
    // any re-plan; the test does not kill in that window.)
    wait_until("the bucket and the web group are in the state", || {
        let state = dev_state(&c);
        state.contains("runner-dev-assets") && state.contains("runner-dev-web")
    });
    kill_job(&mut job);
    assert!(started_not_finished(&c));
    assert_eq!(c.creates("after-runner-dev-assets", "ok"), 0);

    let out = c.refused(&["apply", "--phase", "1"]);
    let said = text(&out);
    assert!(said.contains("was interrupted"), "{said}");
    assert!(
        said.contains("applied   aws_s3_bucket.assets (create)"),
        "{said}"
    );
    assert!(
        said.contains("untouched aws_security_group.after (create)"),
        "{said}"
    );
    // Part of the plan is applied, so a retry (which applies only the
    // approved digest) cannot work: the refusal and status both name a new
    // plan of what remains; rollback and abort are the other ways.
    assert!(said.contains("next: phasegate plan --phase 1"), "{said}");
    assert!(said.contains("phasegate rollback --phase 1"), "{said}");
    assert!(said.contains("phasegate apply --phase 1 --abort"), "{said}");
    let status = c.status();
    let project = &status["phases"][0]["projects"][0];
    assert_eq!(project["apply"], "in_progress", "{status:#}");
    assert_eq!(project["last_refusal"]["what"], "interrupted", "{status:#}");
    assert_eq!(
        status["next"]["command"], "phasegate plan --phase 1",
        "{status:#}"
    );

    // A retry anyway: the fresh plan is only what is left, not the approved
    // plan, so it refuses to apply it and names the same new plan.
    let out = c.refused(&["apply", "--phase", "1", "--retry"]);
    assert!(
        text(&out).contains("is not the approved plan"),
        "{}",
        describe(&out)
    );
    assert!(
        text(&out).contains("next: phasegate plan --phase 1"),
        "{}",
        describe(&out)
    );
    assert_eq!(c.next(), "phasegate plan --phase 1");
    assert_eq!(events_of(&c.journal(), "apply_started").len(), 1);

    // Abort: journaled, the lock released; then the normal way on.
    let out = c.ok(&["apply", "--phase", "1", "--abort"]);
    assert!(text(&out).contains("aborted"), "{}", describe(&out));
    assert_eq!(c.next(), "phasegate plan --phase 1");
    let journal = c.journal();
    assert_eq!(
        events_of(&journal, "lock_taken").len(),
        events_of(&journal, "lock_released").len() + 1,
        "every lock but the killed job's was released"
    );
    c.ok(&["plan", "--phase", "1"]);
    c.ok(&["apply", "--phase", "1"]);
    for name in [
        "runner-dev-assets",
        "runner-dev-web",
        "after-runner-dev-assets",
    ] {
        assert_eq!(c.creates(name, "ok"), 1, "{name} created once");
    }
    assert_eq!(c.status()["next"]["command"], "phasegate verify --phase 1");
}

#[test]
fn a_retry_applies_the_fresh_plan_only_when_it_is_the_approved_one() {
    let c = Change::new();
    let out = c.run(&["apply", "--phase", "1", "--retry"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing to retry: {}",
        describe(&out)
    );
    c.ok(&["plan", "--phase", "1"]);
    let mut job = spawn_apply(&c, 4000);
    wait_until("the journal shows apply_started", || {
        started_not_finished(&c)
    });
    // Killed while the first creates wait in testcloud: nothing applied.
    kill_job(&mut job);
    assert_eq!(c.creates("runner-dev-assets", "ok"), 0);

    let out = c.refused(&["apply", "--phase", "1"]);
    assert!(text(&out).contains("applied: none"), "{}", describe(&out));
    // Nothing of the plan applied: the fresh plan is the approved one, and
    // the refusal and status name the retry.
    assert!(
        text(&out).contains("next: phasegate apply --phase 1 --retry"),
        "{}",
        describe(&out)
    );
    assert_eq!(c.next(), "phasegate apply --phase 1 --retry");
    let out = c.ok(&["apply", "--phase", "1", "--retry"]);
    assert!(text(&out).contains("converged"), "{}", describe(&out));
    assert_eq!(c.creates("runner-dev-assets", "ok"), 1);
    assert_eq!(c.creates("runner-dev-web", "ok"), 1);
    let journal = c.journal();
    assert_eq!(events_of(&journal, "apply_started").len(), 2);
    assert_eq!(
        events_of(&journal, "checkpoint_taken").len(),
        2,
        "the retry took its own"
    );
    assert_eq!(c.next(), "phasegate verify --phase 1");
}
