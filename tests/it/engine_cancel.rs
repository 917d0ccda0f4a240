//! The engine survives phasegate, and a cancelled job stops it gracefully:
//! the real binary, real Terraform 1.0.3 and testcloud slowed by
//! `TESTCLOUD_DELAY_MS`. Terraform runs in its own process group and writes
//! to files, not pipes, so SIGKILL of phasegate leaves it to finish and
//! write its state; SIGINT or SIGTERM of phasegate reaches it as one SIGINT.
//! After either, the next step `status` names is run verbatim and must
//! create nothing twice (testcloud's `calls.log` counts every create). An
//! engine this host cannot see (it ran on another runner) is held off by
//! Terraform's own state lock.
//!
//! The change: a bucket and a security group created side by side, then a
//! group that needs the bucket. Signals land while the first two creates
//! are in flight, which Terraform's own stream (its stdout file, read
//! through `/proc/<pid>/fd/1`) shows.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner_e2e::{events_of, Change};
use crate::testbed::describe;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// Created after the bucket, so it is still to do when the first two are in flight.
const AFTER_ASSETS: &str = r#"resource "aws_security_group" "after" {
  name        = "after-${aws_s3_bucket.assets.id}"
  description = "created only after the assets bucket"
}
"#;

const NAMES: [&str; 3] = [
    "runner-dev-assets",
    "runner-dev-web",
    "after-runner-dev-assets",
];

fn change() -> Change {
    let c = Change::new();
    c.tb.write_file("infra/after.tf", AFTER_ASSETS);
    c.ok(&["plan", "--phase", "1"]);
    c
}

/// `phasegate apply --phase 1`, each create slowed to `delay_ms`.
fn spawn_apply(c: &Change, delay_ms: u64) -> Child {
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
        .stderr(std::fs::File::create(c.tb.root().join("apply.log")).unwrap())
        .spawn()
        .expect("spawn phasegate apply")
}

/// What the spawned apply logged, for assertion messages.
fn apply_log(c: &Change) -> String {
    std::fs::read_to_string(c.tb.root().join("apply.log")).unwrap_or_default()
}

pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn journal_of(store: &Path) -> Vec<Value> {
    std::fs::read_to_string(store.join("changes/CHG-RUN/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The pid of the engine an apply of change `change` started, once the
/// journal in `store` names it.
pub(crate) fn engine_started(store: &Path, change: &str) -> u32 {
    let path = store.join(format!("changes/{change}/journal.jsonl"));
    let mut pid = 0;
    wait_until(
        "the journal names the engine",
        Duration::from_secs(120),
        || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let started = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| e["event"] == "engine_started");
            match started {
                Some(e) => {
                    pid = e["engine"]["pid"].as_u64().unwrap() as u32;
                    true
                }
                None => false,
            }
        },
    );
    pid
}

/// The pid of the apply's engine, once the journal in `store` names it and
/// its stream shows the bucket and the web group being created.
pub(crate) fn engine_mid_apply(store: &Path) -> u32 {
    engine_creating(store, &["aws_s3_bucket.assets", "aws_security_group.web"])
}

/// The pid of the apply's engine, once its stream shows each of `addresses` being created.
fn engine_creating(store: &Path, addresses: &[&str]) -> u32 {
    let mut pid = 0;
    wait_until(
        "the journal names the engine",
        Duration::from_secs(120),
        || {
            let journal = journal_of(store);
            match events_of(&journal, "engine_started").first() {
                Some(e) => {
                    pid = e["engine"]["pid"].as_u64().unwrap() as u32;
                    true
                }
                None => false,
            }
        },
    );
    wait_until(
        "terraform starts creating each resource awaited",
        Duration::from_secs(60),
        || {
            let stream = std::fs::read_to_string(format!("/proc/{pid}/fd/1")).unwrap_or_default();
            addresses.iter().all(|addr| {
                stream.lines().any(|l| {
                    l.contains(r#""type":"apply_start""#) && l.contains(&format!("\"{addr}\""))
                })
            })
        },
    );
    pid
}

pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

pub(crate) fn kill(sig: &str, target: &str) {
    let status = Command::new("kill")
        .args([sig, "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {target}");
}

/// How GitHub Actions cancels a job: SIGINT; SIGTERM 7.5 s later; SIGKILL
/// (of every process left) 2.5 s after that. Returns the signals it had to
/// send and phasegate's exit status.
pub(crate) fn cancel_as_actions_does(job: &mut Child, engine: u32) -> (Vec<&'static str>, i32) {
    let pid = job.id().to_string();
    let mut sent = vec!["INT"];
    kill("-INT", &pid);
    let exited_within = |job: &mut Child, limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = job.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let status = match exited_within(job, Duration::from_millis(7500)) {
        Some(s) => s,
        None => {
            sent.push("TERM");
            kill("-TERM", &pid);
            match exited_within(job, Duration::from_millis(2500)) {
                Some(s) => s,
                None => {
                    sent.push("KILL");
                    kill("-KILL", &pid);
                    if alive(engine) {
                        kill("-KILL", &format!("-{engine}"));
                    }
                    job.wait().unwrap()
                }
            }
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().or(status.signal().map(|s| 128 + s)).unwrap();
    (sent, code)
}

/// Runs a `next:` command exactly as `status` printed it.
fn run_verbatim(c: &Change, command: &str) -> std::process::Output {
    let args: Vec<&str> = command
        .strip_prefix("phasegate ")
        .unwrap_or_else(|| panic!("not a phasegate command: {command}"))
        .split_whitespace()
        .collect();
    c.run(&args, &[])
}

fn next(c: &Change) -> (String, String) {
    let status = c.status();
    (
        status["next"]["command"].as_str().unwrap_or("").to_string(),
        status["next"]["reason"].as_str().unwrap_or("").to_string(),
    )
}

/// The cloud holds exactly what the state says: every state instance is a
/// stored object and nothing else is stored.
fn assert_cloud_equals_state(c: &Change) {
    let state = c.state_pull();
    let mut in_state = BTreeSet::new();
    for r in state["resources"].as_array().unwrap() {
        if r["mode"] != "managed" {
            continue;
        }
        let ty = r["type"].as_str().unwrap().to_string();
        for i in r["instances"].as_array().unwrap() {
            let id = i["attributes"]["id"].as_str().unwrap();
            let file = c.tb.resource_path(&ty, id);
            in_state.insert(file.file_name().unwrap().to_string_lossy().into_owned());
            assert!(
                file.is_file(),
                "{ty} {id} is in the state, not in the cloud"
            );
        }
    }
    let mut in_cloud = BTreeSet::new();
    for dir in std::fs::read_dir(c.tb.cloud_dir()).unwrap().flatten() {
        if dir.path().is_dir() {
            let ty = dir.file_name().to_string_lossy().into_owned();
            for id in c.tb.resource_ids(&ty) {
                in_cloud.insert(format!("{id}.json"));
            }
        }
    }
    assert_eq!(
        in_cloud,
        in_state,
        "the cloud and the state differ\n--- phasegate's log ---\n{}\n--- testcloud's calls ---\n{}\n--- journal ---\n{:#?}",
        apply_log(c),
        std::fs::read_to_string(c.tb.cloud_dir().join("calls.log")).unwrap_or_default(),
        c.journal()
    );
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_sigkilled_phasegate_leaves_terraform_to_finish_and_the_named_recovery_creates_nothing_twice() {
    let c = change();
    let mut job = spawn_apply(&c, 2000);
    let engine = engine_mid_apply(&c.store);
    kill("-KILL", &job.id().to_string());
    job.wait().unwrap();
    assert!(
        alive(engine),
        "terraform (pid {engine}) died with phasegate"
    );

    // While the orphan runs, status says so and names the re-verify.
    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate apply --phase 1", "{reason}");
    assert!(
        reason.contains(&format!("(pid {engine}) still runs on this host")),
        "{reason}"
    );

    // Run verbatim: it waits for the orphan, then re-verifies what it did.
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!alive(engine));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("waiting up to"), "{stderr}");
    let said = text(&out);
    assert!(said.contains("had finished"), "{said}");
    assert!(said.contains("converged"), "{said}");
    assert_cloud_equals_state(&c);
    for name in NAMES {
        assert_eq!(c.creates(name, "ok"), 1, "{name} created once");
    }
    let journal = c.journal();
    assert_eq!(events_of(&journal, "apply_started").len(), 1);
    assert_eq!(
        events_of(&journal, "apply_finished")[0]["results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(next(&c).0, "phasegate verify --phase 1");
}

#[test]
fn the_actions_cancel_sequence_stops_terraform_gracefully_and_the_named_recovery_works_verbatim() {
    let c = change();
    let mut job = spawn_apply(&c, 1500);
    let engine = engine_mid_apply(&c.store);
    let (sent, code) = cancel_as_actions_does(&mut job, engine);
    assert_eq!(code, 130, "signals sent: {sent:?}");
    assert_eq!(sent, ["INT"], "phasegate ended before Actions' SIGTERM");
    assert!(!alive(engine));

    // Terraform finished the two creates in flight, saved them, started nothing else.
    assert_cloud_equals_state(&c);
    assert_eq!(c.creates("runner-dev-assets", "ok"), 1);
    assert_eq!(c.creates("runner-dev-web", "ok"), 1);
    assert_eq!(
        c.creates("after-runner-dev-assets", "ok"),
        0,
        "{}",
        apply_log(&c)
    );
    let journal = c.journal();
    let stopped = events_of(&journal, "interrupted");
    assert_eq!(stopped.len(), 1, "{journal:#?}");
    assert_eq!(stopped[0]["signal"], "SIGINT");
    assert_eq!(stopped[0]["engine"], "exited");
    assert_eq!(
        events_of(&journal, "lock_taken").len(),
        events_of(&journal, "lock_released").len()
    );

    // status names the re-verify; it says what stopped the apply, never "running".
    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate apply --phase 1", "{reason}");
    assert!(reason.contains("stopped by SIGINT"), "{reason}");
    assert!(!reason.contains("running"), "{reason}");
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = text(&out);
    assert!(said.contains("was interrupted"), "{said}");
    assert!(
        said.contains("still to change: aws_security_group.after"),
        "{said}"
    );

    // Part of the plan is applied: the refusal and status name the same
    // step, a new plan of what remains, and each works as printed.
    assert!(said.contains("next: phasegate plan --phase 1"), "{said}");
    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate plan --phase 1", "{reason}");
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate apply --phase 1", "{reason}");
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(text(&out).contains("converged"), "{}", describe(&out));
    assert_cloud_equals_state(&c);
    for name in NAMES {
        assert_eq!(c.creates(name, "ok"), 1, "{name} created once");
    }
    assert_eq!(next(&c).0, "phasegate verify --phase 1");
}

/// A group testcloud creates and then answers with an error, as a provider
/// whose answer is lost after the cloud acted.
const LOST_ANSWER: &str = r#"resource "aws_security_group" "lost" {
  name        = "runner-lost-answer"
  description = "created, its answer lost"
}
"#;

#[test]
fn a_create_cut_off_by_the_stop_is_named_uncertain_by_the_re_verify() {
    let c = Change::new();
    c.tb.write_file("infra/after.tf", AFTER_ASSETS);
    c.tb.write_file("infra/lost.tf", LOST_ANSWER);
    c.ok(&["plan", "--phase", "1"]);
    let mut job = spawn_apply(&c, 1500);
    // The signal must find the lost group's create in flight, not yet to start.
    let engine = engine_creating(
        &c.store,
        &[
            "aws_s3_bucket.assets",
            "aws_security_group.web",
            "aws_security_group.lost",
        ],
    );
    let (sent, code) = cancel_as_actions_does(&mut job, engine);
    assert_eq!((sent, code), (vec!["INT"], 130), "{}", apply_log(&c));
    // The cloud holds the group, the state does not: nothing can tell this
    // apart from a create the cloud refused.
    assert_eq!(c.creates("runner-lost-answer", "lost"), 1);
    let state = c.state_pull();
    let in_state = state["resources"].as_array().unwrap();
    assert!(!in_state.iter().any(|r| r["name"] == "lost"), "{state:#}");

    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate apply --phase 1", "{reason}");
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = text(&out);
    assert!(
        said.contains("Uncertain: aws_security_group.lost (its create failed while the apply stopped: the object may exist outside the state"),
        "{said}"
    );
    // Only the cut-off create is uncertain: the finished ones and the one
    // never started are not.
    let uncertain = said.split("Uncertain:").nth(1).unwrap_or_default();
    let uncertain = uncertain.split('(').next().unwrap_or_default();
    for sure in [
        "aws_s3_bucket.assets",
        "aws_security_group.web",
        "aws_security_group.after",
    ] {
        assert!(!uncertain.contains(sure), "{sure} in {uncertain}");
    }
}

#[test]
fn a_second_signal_while_terraform_stops_is_not_passed_on() {
    let c = change();
    let mut job = spawn_apply(&c, 3000);
    let engine = engine_mid_apply(&c.store);
    let pid = job.id().to_string();
    // Impatient: SIGINT, SIGTERM and SIGINT again while the creates in
    // flight still have seconds to go. Terraform takes a second SIGINT as
    // "exit now", leaving them unfinished and unsaved.
    kill("-INT", &pid);
    std::thread::sleep(Duration::from_millis(300));
    kill("-TERM", &pid);
    std::thread::sleep(Duration::from_millis(300));
    kill("-INT", &pid);
    let status = job.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!alive(engine));
    assert_eq!(
        c.creates("runner-dev-assets", "ok"),
        1,
        "finished, not aborted"
    );
    assert_eq!(
        c.creates("runner-dev-web", "ok"),
        1,
        "finished, not aborted"
    );
    assert_cloud_equals_state(&c);
    let journal = c.journal();
    let stopped = events_of(&journal, "interrupted");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["engine"], "exited", "{:#}", stopped[0]);
}

#[test]
fn an_engine_this_host_cannot_see_is_stopped_by_terraform_s_state_lock_until_it_ends() {
    let c = change();
    let mut job = spawn_apply(&c, 3000);
    let engine = engine_mid_apply(&c.store);
    kill("-KILL", &job.id().to_string());
    job.wait().unwrap();
    // As if the job had run on another runner: its engine cannot be seen here.
    let path = c.store.join("changes/CHG-RUN/journal.jsonl");
    let journal = std::fs::read_to_string(&path).unwrap();
    let moved: Vec<String> = journal
        .lines()
        .map(|l| {
            let mut e: Value = serde_json::from_str(l).unwrap();
            if e["event"] == "engine_started" {
                e["engine"]["host"] = "another-runner".into();
            }
            e.to_string()
        })
        .collect();
    std::fs::write(&path, moved.join("\n") + "\n").unwrap();
    assert!(alive(engine));

    // The re-verify's plan meets the running engine's state lock: refused,
    // naming the re-run, which status names too.
    let out = c.run(&["apply", "--phase", "1"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = text(&out);
    assert!(said.contains("is locked"), "{said}");
    assert!(
        said.contains(&format!("pid {engine} on another-runner")),
        "{said}"
    );
    let (command, reason) = next(&c);
    assert_eq!(command, "phasegate apply --phase 1", "{reason}");
    assert!(reason.contains("is locked"), "{reason}");

    wait_until("terraform ends", Duration::from_secs(60), || !alive(engine));
    let out = run_verbatim(&c, &command);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(text(&out).contains("converged"), "{}", describe(&out));
    assert_cloud_equals_state(&c);
    for name in NAMES {
        assert_eq!(c.creates(name, "ok"), 1, "{name} created once");
    }
}
