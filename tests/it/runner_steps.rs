//! Operation steps end to end (issue 21): a change of three phases, each
//! its Terraform apply, a replication polled to its end, a validation and
//! an irreversible DNS-like swap (`tests/fixtures/operations/op.sh`, which
//! keeps its state in files and counts its executions). Real Terraform
//! 1.0.3 and testcloud; every next step is run as printed.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner_review::Runner;
use crate::testbed::{describe, repo_root};

const CHANGE: &str = "CHG-OPS";

/// The runner's root module (`tests/fixtures/runner/two-env/infra`) with the
/// steps fixture's config and change plan, and the fixture operation.
fn runner() -> Runner {
    let c = Runner::new("tests/fixtures/runner/two-env", CHANGE);
    for file in ["phasegate.yml", "change.yml"] {
        let text =
            std::fs::read_to_string(repo_root().join("tests/fixtures/runner/steps").join(file))
                .unwrap();
        c.tb.write_file(file, &text);
    }
    let op = std::fs::read_to_string(repo_root().join("tests/fixtures/operations/op.sh")).unwrap();
    c.tb.write_file("ops/op.sh", &op);
    use std::os::unix::fs::PermissionsExt;
    let path = c.tb.workdir().join("ops/op.sh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    c
}

/// The fixture operation's state for target `name`.
fn state(c: &Runner, name: &str) -> PathBuf {
    c.tb.workdir().join("state").join(name)
}

fn counter(c: &Runner, name: &str, what: &str) -> u32 {
    std::fs::read_to_string(state(c, name).join(what))
        .map(|t| t.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Steers the fixture operation of `name` (`end`, `fail-start`, `exists`).
fn steer(c: &Runner, name: &str, file: &str, value: &str) {
    std::fs::create_dir_all(state(c, name)).unwrap();
    std::fs::write(state(c, name).join(file), value).unwrap();
}

/// Runs `next` (a `phasegate ...` line) word for word.
fn run_printed(c: &Runner, next: &str) -> Output {
    let words: Vec<&str> = next.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"phasegate"), "not a command: {next}");
    c.run(&words[1..])
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The `next:` and `or:` lines a command printed, in order.
fn printed_next(out: &Output) -> Vec<String> {
    text(out)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("next: ")
                .or_else(|| l.strip_prefix("or: "))
                .map(str::to_string)
        })
        .collect()
}

fn next(c: &Runner) -> String {
    c.status()["next"]["command"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

fn operation(c: &Runner, phase: usize, id: &str) -> Value {
    c.status()["phases"][phase]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no operation {id}"))
}

/// Plan phase `n`, approve it as status says, apply it.
fn planned_approved_applied(c: &Runner, n: usize) {
    c.code(0, &["plan", "--phase", &n.to_string()]);
    let approve = next(c);
    assert!(
        approve.starts_with("phasegate approve --local"),
        "{approve}"
    );
    let out = run_printed(c, &approve);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(next(c), format!("phasegate apply --phase {n}"));
    c.code(0, &["apply", "--phase", &n.to_string()]);
    assert_eq!(next(c), format!("phasegate steps --phase {n}"));
}

#[test]
fn three_phases_run_apply_poll_validate_and_an_irreversible_swap_each_executed_once() {
    let c = runner();
    // The plan shows each step's preview and flags the swap.
    c.code(0, &["plan", "--phase", "1"]);
    let comment = std::fs::read_to_string(c.out().join("comment.md")).unwrap();
    assert!(comment.contains("#### Steps of phase dev"), "{comment}");
    assert!(
        comment.contains("**Irreversible:** <code>dev-swap</code> cannot be undone"),
        "{comment}"
    );
    assert!(
        comment.contains("would start dev-db in eu-west-1, 2 polls long"),
        "{comment}"
    );
    assert!(
        comment.contains("**Awaiting approval for `dev`**"),
        "{comment}"
    );
    // Nothing runs before the phase is approved: dev has no required
    // reviewers, but the swap cannot be undone.
    let refused = c.code(1, &["steps", "--phase", "1"]);
    assert!(
        text(&refused).contains("has no approval"),
        "{}",
        describe(&refused)
    );
    assert_eq!(
        counter(&c, "dev-db", "executions"),
        0,
        "a step ran without approval"
    );
    let phase_digest = c.phase_digest(0);
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(c.out().join("result.json")).unwrap())
            .unwrap();
    assert_eq!(result["digest"], phase_digest.as_str());
    assert_eq!(result["steps"].as_array().unwrap().len(), 3);

    for n in 1..=3usize {
        let env = ["dev", "staging", "prod"][n - 1];
        if n > 1 {
            c.code(0, &["plan", "--phase", &n.to_string()]);
        }
        // Follow the printed steps until the phase is reviewed.
        let mut ran = vec![];
        for _ in 0..8 {
            let command = next(&c);
            if command == format!("phasegate plan --phase {}", n + 1) || command == "none" {
                break;
            }
            let out = run_printed(&c, &command);
            assert_eq!(out.status.code(), Some(0), "{command}\n{}", describe(&out));
            ran.push(command.split_whitespace().nth(1).unwrap().to_string());
        }
        assert_eq!(
            ran,
            ["approve", "apply", "steps", "verify", "review"],
            "phase {n}"
        );
        let db = format!("{env}-db");
        let dns = format!("{env}-dns");
        assert_eq!(counter(&c, &db, "executions"), 1, "{env}");
        assert_eq!(
            counter(&c, &db, "polls"),
            3,
            "{env}: RUNNING twice, COMPLETED"
        );
        assert_eq!(counter(&c, &dns, "swaps"), 1, "{env}");
        let swap = operation(&c, n - 1, &format!("{env}-swap"));
        assert_eq!(swap["ended"]["how"], "succeeded", "{swap:#}");
        // A rerun finds every step done and runs nothing.
        let again = c.code(0, &["steps", "--phase", &n.to_string()]);
        assert!(
            text(&again).contains(&format!("step {env}-swap (IRREVERSIBLE): succeeded")),
            "{}",
            describe(&again)
        );
        assert_eq!(counter(&c, &db, "executions"), 1);
        assert_eq!(counter(&c, &dns, "swaps"), 1);
    }
    assert_eq!(c.status()["overall"], "done");
    // Every step's records are journaled, with the logs they name on disk.
    let journal = c.journal();
    let executed: Vec<&Value> = journal
        .iter()
        .filter(|e| e["event"] == "operation" && e["record"]["what"] == "executed")
        .collect();
    assert_eq!(executed.len(), 9, "3 steps in 3 phases");
    for e in executed {
        let log = e["record"]["run"]["log"].as_str().unwrap();
        assert!(c.out().join("steps").join(log).is_file(), "{log}");
    }
    // The report lists the steps.
    let report = std::fs::read_to_string(c.out().join("reports/change.md")).unwrap();
    assert!(report.contains("prod-swap"), "{report}");
}

#[test]
fn a_changed_argv_is_a_new_digest_that_needs_a_new_approval() {
    let c = runner();
    planned_approved_applied(&c, 1);
    let approved = c.phase_digest(0);
    let change = std::fs::read_to_string(c.tb.workdir().join("change.yml")).unwrap();
    // dev's swap points the record elsewhere (and checks for it there).
    let edited = change
        .replacen(
            r#"execute: ["./ops/op.sh", "swap", "dev-dns", "green"]"#,
            r#"execute: ["./ops/op.sh", "swap", "dev-dns", "teal"]"#,
            1,
        )
        .replacen(
            r#"success_pattern: "^green$""#,
            r#"success_pattern: "^teal$""#,
            1,
        );
    assert_ne!(change, edited);
    c.tb.write_file("change.yml", &edited);
    // The steps before the swap are as approved and run; the swap is not.
    let out = c.code(1, &["steps", "--phase", "1"]);
    let shown = text(&out);
    assert!(shown.contains("step dev-replicate: succeeded"), "{shown}");
    assert!(
        shown.contains("step dev-swap (IRREVERSIBLE): refused: step dev-swap changed since the plan that previewed it"),
        "{shown}"
    );
    assert_eq!(counter(&c, "dev-dns", "swaps"), 0);
    let plan = printed_next(&out);
    assert_eq!(plan, ["phasegate plan --phase 1"]);
    let out = run_printed(&c, &plan[0]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let fresh = c.phase_digest(0);
    assert_ne!(
        fresh, approved,
        "a changed argv must change the phase digest"
    );
    // The approval of the old digest does not count for the new one.
    let refused = c.code(1, &["steps", "--phase", "1"]);
    assert!(
        text(&refused).contains("has no approval"),
        "{}",
        describe(&refused)
    );
    let approve = printed_next(&refused);
    assert!(approve[0].starts_with("phasegate approve --local --env dev --digest "));
    let out = run_printed(&c, &approve[0]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    c.code(0, &["steps", "--phase", "1"]);
    assert_eq!(counter(&c, "dev-dns", "swaps"), 1);
    assert_eq!(
        std::fs::read_to_string(state(&c, "dev-dns").join("record"))
            .unwrap()
            .trim(),
        "teal"
    );
    assert_eq!(counter(&c, "dev-db", "executions"), 1);
}

#[test]
fn a_failed_terminal_state_leads_to_the_rollback_on_request() {
    let c = runner();
    planned_approved_applied(&c, 1);
    steer(&c, "dev-db", "end", "FAILED");
    let out = c.code(1, &["steps", "--phase", "1"]);
    let shown = text(&out);
    assert!(
        shown.contains("step dev-replicate: refused: step `dev-replicate` failed: the poll reported a failure state"),
        "{shown}"
    );
    let offers = printed_next(&out);
    assert_eq!(
        offers,
        [
            "phasegate steps --phase 1 --retry dev-replicate",
            "phasegate steps --phase 1 --rollback dev-replicate",
            "phasegate steps --phase 1 --abort dev-replicate",
        ]
    );
    // status offers the same, first the retry.
    assert_eq!(next(&c), offers[0]);
    let out = run_printed(&c, &offers[1]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out).contains("step dev-replicate: rolled back"),
        "{}",
        describe(&out)
    );
    assert_eq!(counter(&c, "dev-db", "rollbacks"), 1);
    assert_eq!(counter(&c, "dev-db", "executions"), 1);
    // Nothing after the failed step ran, and the phase needs a new plan.
    assert_eq!(counter(&c, "dev-dns", "swaps"), 0);
    assert_eq!(printed_next(&out), ["phasegate plan --phase 1"]);
    assert_eq!(next(&c), "phasegate plan --phase 1");
    let out = run_printed(&c, "phasegate plan --phase 1");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn three_retries_then_the_step_is_refused_and_never_run_again() {
    let c = runner();
    planned_approved_applied(&c, 1);
    steer(&c, "dev-db", "fail-start", "1");
    let mut out = c.code(1, &["steps", "--phase", "1"]);
    for attempt in 2..=4 {
        let offers = printed_next(&out);
        assert_eq!(offers[0], "phasegate steps --phase 1 --retry dev-replicate");
        out = run_printed(&c, &offers[0]);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert_eq!(counter(&c, "dev-db", "executions"), attempt);
    }
    let offers = printed_next(&out);
    assert_eq!(
        offers,
        [
            "phasegate steps --phase 1 --rollback dev-replicate",
            "phasegate steps --phase 1 --abort dev-replicate",
        ]
    );
    let refused = c.code(1, &["steps", "--phase", "1", "--retry", "dev-replicate"]);
    assert!(
        text(&refused).contains("failed 4 times, the first run and 3 retries: it is not run again"),
        "{}",
        describe(&refused)
    );
    assert_eq!(counter(&c, "dev-db", "executions"), 4);
    let out = run_printed(&c, &offers[1]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out).contains("step dev-replicate: aborted"),
        "{}",
        describe(&out)
    );
    assert_eq!(printed_next(&out), ["phasegate plan --phase 1"]);
}

#[test]
fn a_target_that_already_exists_is_not_executed() {
    let c = runner();
    planned_approved_applied(&c, 1);
    steer(&c, "dev-db", "exists", "");
    let out = c.code(0, &["steps", "--phase", "1"]);
    assert!(
        text(&out).contains(
            "step dev-replicate: succeeded: succeeded (target already existed; execute skipped)"
        ),
        "{}",
        describe(&out)
    );
    assert_eq!(counter(&c, "dev-db", "executions"), 0);
    assert_eq!(counter(&c, "dev-dns", "swaps"), 1);
    assert_eq!(printed_next(&out), ["phasegate verify --phase 1"]);
}

#[test]
fn a_sigkill_mid_poll_resumes_by_polling_and_executes_nothing_twice() {
    let c = runner();
    planned_approved_applied(&c, 1);
    steer(&c, "dev-db", "running-polls", "6");
    let mut child =
        c.tb.command(env!("CARGO_BIN_EXE_phasegate"))
            .env(c.tb.path_env().0, c.tb.path_env().1)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &c.store)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(["steps", "--phase", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let started = Instant::now();
    loop {
        let ticks = c
            .journal()
            .iter()
            .filter(|e| e["record"]["what"] == "poll_tick")
            .count();
        if ticks >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no poll began");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A repeated answer is journaled once in ten polls: let a few more run.
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(counter(&c, "dev-db", "executions"), 1);
    let replicate = operation(&c, 0, "dev-replicate");
    assert!(replicate["ended"].is_null(), "{replicate:#}");
    // status names the run that re-polls; it continues the poll.
    let command = next(&c);
    assert_eq!(command, "phasegate steps --phase 1");
    let reason = c.status()["next"]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("before anything runs again"), "{reason}");
    let out = run_printed(&c, &command);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out).contains("step dev-swap (IRREVERSIBLE): succeeded"),
        "{}",
        describe(&out)
    );
    assert_eq!(counter(&c, "dev-db", "executions"), 1, "executed twice");
    assert_eq!(
        counter(&c, "dev-db", "polls"),
        7,
        "six RUNNING, then COMPLETED"
    );
    assert_eq!(counter(&c, "dev-dns", "swaps"), 1);
}

#[test]
fn a_poll_that_outlasts_the_job_waits_and_the_next_run_continues_it() {
    let c = runner();
    planned_approved_applied(&c, 1);
    let out = c.code(0, &["steps", "--phase", "1", "--job-time", "1s"]);
    let shown = text(&out);
    assert!(shown.contains("step dev-replicate: waiting"), "{shown}");
    assert_eq!(printed_next(&out), ["phasegate steps --phase 1"]);
    let reason = c.status()["next"]["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("the poll of step dev-replicate goes on"),
        "{reason}"
    );
    let out = run_printed(&c, "phasegate steps --phase 1");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(counter(&c, "dev-db", "executions"), 1);
    assert_eq!(counter(&c, "dev-dns", "swaps"), 1);
}

#[test]
fn the_change_plan_the_config_names_is_read_without_change() {
    let c = runner();
    let config = std::fs::read_to_string(c.tb.workdir().join("phasegate.yml")).unwrap();
    c.tb.write_file(
        "phasegate.yml",
        &format!("{config}change_plan: change.yml\n"),
    );
    let (k, v) = c.tb.path_env();
    let out =
        c.tb.command(env!("CARGO_BIN_EXE_phasegate"))
            .env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &c.store)
            .env_remove("GITHUB_ACTIONS")
            .args(["--config", "phasegate.yml", "validate", "--format", "json"])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["change"], "CHG-OPS", "{shown:#}");
    // Without the file, no change plan: the config's phases.
    std::fs::remove_file(c.tb.workdir().join("change.yml")).unwrap();
    let (k, v) = c.tb.path_env();
    let out =
        c.tb.command(env!("CARGO_BIN_EXE_phasegate"))
            .env(k, v)
            .args(["--config", "phasegate.yml", "validate", "--format", "json"])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(shown["change"].is_null(), "{shown:#}");
}
