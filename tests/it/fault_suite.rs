//! The fault suite (issue 14 §5): every kind of GitHub call phasegate makes,
//! crossed with every fault GitHub (or the path to it) produces — 500, 502,
//! 503, 403 with `retry-after`, 429, a timeout, a reset connection — against
//! the fake GitHub. For each cell: a single fault is retried away or reported;
//! a persistent fault ends in an external failure (exit 3) after a bounded
//! number of requests and bounded time; no create is carried out twice. The
//! outcomes are published in docs/reliability.md (generated here).

use std::time::{Duration, Instant};

use fakehub::{FakeHub, Fault, FaultKind};
use phasegate::error::ExitCode;
use phasegate::github::{
    Annotation, CheckRunRequest, Forge, ForgeConfig, GithubError, OctoForge, PrTarget, RepoRef,
    RetryPolicy, TreeEntry,
};

use crate::doc_sync::sync_section;
use crate::engine_cancel;
use crate::suite_support::{pr_hub, saved_dev_plan_json, Runner};

const TOKEN: &str = "ghs_faultSuiteToken0123456789";
const HEAD: &str = "4444444444444444444444444444444444444444";

/// Short waits, and a read timeout (the policy's total) short enough to
/// test: a server that stops answering is given up on within 0.6 s.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        max_total: Duration::from_millis(600),
    }
}

/// Generous: the bound on a retry loop, not a speed check.
const ELAPSED_BOUND: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy)]
enum Call {
    Identity,
    ListComments,
    CreateComment,
    UpdateComment,
    CreateCheckRun,
    UpdateCheckRunWithAnnotations,
    CreateBlob,
    GetBlob,
    CreateTree,
    GetTree,
    CreateCommit,
    GetCommit,
    GetRef,
    UpdateRef,
    WorkflowRun,
    RunApprovals,
    GetEnvironment,
    CommitPulls,
}

const CALLS: [Call; 18] = [
    Call::Identity,
    Call::ListComments,
    Call::CreateComment,
    Call::UpdateComment,
    Call::CreateCheckRun,
    Call::UpdateCheckRunWithAnnotations,
    Call::CreateBlob,
    Call::GetBlob,
    Call::CreateTree,
    Call::GetTree,
    Call::CreateCommit,
    Call::GetCommit,
    Call::GetRef,
    Call::UpdateRef,
    Call::WorkflowRun,
    Call::RunApprovals,
    Call::GetEnvironment,
    Call::CommitPulls,
];

/// A fault's name in the table, and the fault.
type NamedFault = (&'static str, fn() -> FaultKind);

const FAULTS: [NamedFault; 7] = [
    ("500", || FaultKind::Status(500)),
    ("502", || FaultKind::Status(502)),
    ("503", || FaultKind::Status(503)),
    ("403 + retry-after", || FaultKind::SecondaryRateLimit {
        retry_after_secs: 1,
    }),
    ("429", || FaultKind::RateLimit429 {
        retry_after_secs: 1,
    }),
    ("timeout", || FaultKind::Slow(Duration::from_millis(1000))),
    ("reset", || FaultKind::Drop),
];

/// What a cell needs to exist before the call: a comment, a check run, Git
/// objects and a ref, a run with an approval, an environment, a PR.
struct Seed {
    repo: RepoRef,
    pr: PrTarget,
    comment: u64,
    check_run: u64,
    blob: String,
    tree: String,
    commit: String,
}

fn hub() -> FakeHub {
    let hub = pr_hub(TOKEN, HEAD);
    hub.add_environment("acme", "infra", "prod", Default::default());
    hub.set_run("acme", "infra", 100, "in_progress", None);
    hub.add_run_approvals(
        "acme",
        "infra",
        100,
        vec![("prod", "rita", "2026-01-01T00:00:00Z", "approved")],
    );
    hub.add_commit("acme", "infra", HEAD, &[]);
    hub
}

fn forge(hub: &FakeHub) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: None,
        token: TOKEN.to_owned(),
        retry: policy(),
    })
    .expect("client")
}

fn check_run(annotations: usize) -> CheckRunRequest {
    CheckRunRequest {
        name: "phasegate / dev".into(),
        head_sha: HEAD.into(),
        status: Some("completed".into()),
        conclusion: Some("success".into()),
        title: "dev".into(),
        summary: "summary".into(),
        annotations: (0..annotations)
            .map(|i| Annotation {
                path: "infra/main.tf".into(),
                start_line: 1 + i as u64,
                end_line: 1 + i as u64,
                annotation_level: "warning".into(),
                message: format!("finding {i}"),
                title: None,
            })
            .collect(),
        ..Default::default()
    }
}

async fn seed(hub: &FakeHub) -> Seed {
    let f = forge(hub);
    let repo = RepoRef::new("acme", "infra");
    let pr = PrTarget {
        repo: repo.clone(),
        number: 7,
    };
    let comment = f.create_comment(&pr, "seed").await.unwrap().id;
    let check_run = f.create_check_run(&repo, &check_run(0)).await.unwrap();
    let blob = f.create_blob(&repo, b"seed").await.unwrap();
    let tree = f
        .create_tree(
            &repo,
            &[TreeEntry {
                path: "journal.jsonl".into(),
                mode: "100644".into(),
                kind: "blob".into(),
                sha: blob.clone(),
            }],
        )
        .await
        .unwrap();
    let commit = f.create_commit(&repo, "seed", &tree, &[]).await.unwrap();
    f.create_ref(&repo, "refs/heads/phasegate/fault", &commit)
        .await
        .unwrap();
    Seed {
        repo,
        pr,
        comment,
        check_run,
        blob,
        tree,
        commit,
    }
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Identity => "identity (`GET /user`, GraphQL viewer)",
            Call::ListComments => "comment list",
            Call::CreateComment => "comment create",
            Call::UpdateComment => "comment update",
            Call::CreateCheckRun => "check run create",
            Call::UpdateCheckRunWithAnnotations => "check run update with annotations",
            Call::CreateBlob => "Git Data blob create",
            Call::GetBlob => "Git Data blob read",
            Call::CreateTree => "Git Data tree create",
            Call::GetTree => "Git Data tree read",
            Call::CreateCommit => "Git Data commit create",
            Call::GetCommit => "Git Data commit read",
            Call::GetRef => "Git Data ref read",
            Call::UpdateRef => "Git Data ref update",
            Call::WorkflowRun => "workflow-run status",
            Call::RunApprovals => "approvals read",
            Call::GetEnvironment => "environment read",
            Call::CommitPulls => "commit → PR",
        }
    }

    /// A create that must never happen twice.
    fn creates(self) -> bool {
        matches!(self, Call::CreateComment | Call::CreateCheckRun)
    }

    async fn perform(self, f: &OctoForge, s: &Seed) -> Result<(), GithubError> {
        let r = &s.repo;
        match self {
            Call::Identity => f.identity().await.map(drop),
            Call::ListComments => f.list_comments(&s.pr).await.map(drop),
            Call::CreateComment => f.create_comment(&s.pr, "cell").await.map(drop),
            Call::UpdateComment => f.update_comment(r, s.comment, "cell").await.map(drop),
            Call::CreateCheckRun => f.create_check_run(r, &check_run(0)).await.map(drop),
            Call::UpdateCheckRunWithAnnotations => {
                f.update_check_run(r, s.check_run, &check_run(3)).await
            }
            Call::CreateBlob => f.create_blob(r, b"cell").await.map(drop),
            Call::GetBlob => f.get_blob(r, &s.blob).await.map(drop),
            Call::CreateTree => f
                .create_tree(
                    r,
                    &[TreeEntry {
                        path: "cell".into(),
                        mode: "100644".into(),
                        kind: "blob".into(),
                        sha: s.blob.clone(),
                    }],
                )
                .await
                .map(drop),
            Call::GetTree => f.get_tree(r, &s.tree).await.map(drop),
            Call::CreateCommit => f
                .create_commit(r, "cell", &s.tree, std::slice::from_ref(&s.commit))
                .await
                .map(drop),
            Call::GetCommit => f.get_commit(r, &s.commit).await.map(drop),
            Call::GetRef => f.get_ref(r, "refs/heads/phasegate/fault").await.map(drop),
            Call::UpdateRef => f
                .update_ref(r, "refs/heads/phasegate/fault", &s.commit)
                .await
                .map(drop),
            Call::WorkflowRun => f.workflow_run(r, 100).await.map(drop),
            Call::RunApprovals => f.run_approvals(r, 100).await.map(drop),
            Call::GetEnvironment => f.get_environment(r, "prod").await.map(drop),
            Call::CommitPulls => f.commit_pulls(r, HEAD).await.map(drop),
        }
    }
}

/// The outcome of one call under one fault.
struct Outcome {
    ok: bool,
    requests: usize,
    exit: Option<ExitCode>,
    elapsed: Duration,
}

/// Runs `call` with `fault` injected `times` times on the request the call
/// makes (found by running it once clean).
async fn cell(hub: &FakeHub, s: &Seed, call: Call, fault: FaultKind, times: u32) -> Outcome {
    hub.clear_requests();
    call.perform(&forge(hub), s).await.unwrap_or_else(|e| {
        let seen: Vec<String> = hub
            .requests()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.body))
            .collect();
        panic!("{} fails without a fault: {e}\n{seen:#?}", call.name())
    });
    let target = hub
        .requests()
        .last()
        .cloned()
        .expect("the call made a request");
    let method: &'static str = Box::leak(target.method.clone().into_boxed_str());
    hub.clear_requests();
    hub.inject(Fault {
        method: Some(method),
        path_prefix: target.path.clone(),
        kind: fault,
        times,
    });
    let comments_before = hub.comments("acme", "infra", 7).len();
    let checks_before = hub.check_runs("acme", "infra").len();
    let started = Instant::now();
    let result = call.perform(&forge(hub), s).await;
    let elapsed = started.elapsed();
    // The next cell starts clean, however much of this fault is left.
    hub.clear_faults();
    let requests = hub
        .requests()
        .iter()
        .filter(|r| r.method == target.method && r.path == target.path)
        .count();
    if call.creates() {
        let made = (hub.comments("acme", "infra", 7).len() - comments_before)
            + (hub.check_runs("acme", "infra").len() - checks_before);
        assert!(
            made <= 1,
            "{} created {made} objects under one call",
            call.name()
        );
    }
    Outcome {
        ok: result.is_ok(),
        requests,
        exit: result
            .err()
            .map(|e| phasegate::error::Error::from(e).exit_code()),
        elapsed,
    }
}

fn describe(single: &Outcome, persistent: &Outcome) -> String {
    let first = if single.ok {
        format!("recovers ({} req)", single.requests)
    } else {
        format!(
            "exit {} ({} req)",
            single.exit.unwrap() as i32,
            single.requests
        )
    };
    match persistent.exit {
        Some(code) => format!(
            "{first}; persistent: exit {} ({} req)",
            code as i32, persistent.requests
        ),
        None => format!(
            "{first}; persistent: verified by reading back ({} req)",
            persistent.requests
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_github_call_under_every_fault_is_bounded_and_ends_in_exit_3() {
    let hub = hub();
    let s = seed(&hub).await;
    let mut table = String::from("| call |");
    for (name, _) in FAULTS {
        table.push_str(&format!(" {name} |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(FAULTS.len()));
    table.push('\n');
    for call in CALLS {
        table.push_str(&format!("| {} |", call.name()));
        for (name, fault) in FAULTS {
            let single = cell(&hub, &s, call, fault(), 1).await;
            let persistent = cell(&hub, &s, call, fault(), 1_000).await;
            let at = format!("{} × {name}", call.name());
            // Only a write that checks its own outcome by reading back (a
            // ref already moved) may succeed while its endpoint keeps failing.
            if persistent.ok {
                assert!(matches!(call, Call::UpdateRef), "{at}: fault not hit");
            } else {
                assert_eq!(persistent.exit, Some(ExitCode::External), "{at}");
            }
            if let Some(code) = single.exit {
                assert_eq!(code, ExitCode::External, "{at}: one fault");
            }
            for o in [&single, &persistent] {
                assert!(
                    (1..=policy().max_attempts as usize).contains(&o.requests),
                    "{at}: {} requests",
                    o.requests
                );
                assert!(o.elapsed < ELAPSED_BOUND, "{at}: {:?}", o.elapsed);
            }
            // A read or an idempotent write recovers from one fault.
            if !call.creates() && name != "timeout" {
                assert!(single.ok, "{at}: one fault was not retried away");
            }
            table.push_str(&format!(" {} |", describe(&single, &persistent)));
        }
        table.push('\n');
    }
    let v = hub.take_violations();
    assert!(v.is_empty(), "{v:#?}");
    sync_section(
        "docs/reliability.md",
        "fault-matrix",
        &table,
        "cargo test --test it fault_suite::",
    );
}

/// SIGKILLs the Terraform child running `subcommand` under `phasegate args`.
trait KillsTerraform {
    fn killing_terraform(
        &self,
        args: &[&str],
        subcommand: &str,
        env: &[(&str, &str)],
    ) -> std::process::Output;
}

impl KillsTerraform for Runner {
    /// Runs `args` and SIGKILLs its Terraform child once one runs `subcommand`.
    fn killing_terraform(
        &self,
        args: &[&str],
        subcommand: &str,
        env: &[(&str, &str)],
    ) -> std::process::Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let victim = loop {
            if let Some(pid) = terraform_child(child.id(), subcommand) {
                break pid;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "terraform {subcommand} never ran under {args:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &victim.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "could not kill terraform ({victim})");
        child.wait_with_output().unwrap()
    }
}

/// `phasegate apply --phase 1` started, each create taking 1.5 s.
fn slow_apply(r: &Runner) -> std::process::Child {
    r.command(&["apply", "--phase", "1"])
        .env("TESTCLOUD_DELAY_MS", "1500")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The pid of a `terraform <subcommand>` process whose parent is `parent`.
fn terraform_child(parent: u32, subcommand: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after ')'.
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
            continue;
        };
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        if ppid != parent {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_terraform = argv
            .first()
            .is_some_and(|a| a.ends_with("/terraform") || a == "terraform");
        if is_terraform && argv.iter().any(|a| a == subcommand) {
            return Some(pid);
        }
    }
    None
}

/// A tiny tmpfs (the output directory with no room left), unmounted on drop.
struct FullDisk(std::path::PathBuf);

impl FullDisk {
    fn mount(at: &std::path::Path) -> FullDisk {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the full-disk case mounts a 16 KiB tmpfs and needs root (as in the CI container): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Fill it: the next write of any size fails with ENOSPC.
        let filler = at.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![b'x'; 1024];
        while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
        FullDisk(at.to_path_buf())
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn killed_terraform_a_full_disk_and_a_truncated_plan_are_clear_errors_and_leave_the_journal_whole()
{
    let mut table = String::from(
        "| fault | exit | journal afterwards | next step `status` names |\n|---|---|---|---|\n",
    );
    let mut row = |fault: &str, out: &std::process::Output, r: &Runner, before: usize| {
        let added = r.journal_after(before);
        let journal = if added.is_empty() {
            "unchanged, every line parses".to_string()
        } else {
            format!("every line parses; added {}", added.join(", "))
        };
        let code = out.status.code();
        table.push_str(&format!(
            "| {fault} | {} | {journal} | `{}` |\n",
            code.map_or("killed".into(), |c| c.to_string()),
            r.next()
        ));
        code
    };

    // A plan JSON cut off halfway: bad input, nothing journaled.
    let r = Runner::new("tests/fixtures/runner/two-env");
    r.ok(&["plan", "--phase", "1"]);
    let shown = saved_dev_plan_json(&r.tb);
    let half = &shown[..shown.len() / 2];
    let truncated = r.tb.root().join("truncated.json");
    std::fs::write(&truncated, half).unwrap();
    let before = r.journal_after(0).len();
    let out = r.run(&[
        "plan",
        "--phase",
        "1",
        "--plan-json",
        truncated.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("truncated.json"),
        "the error names no file:\n{stderr}"
    );
    assert_eq!(
        row(
            "a plan JSON truncated halfway (`--plan-json`)",
            &out,
            &r,
            before
        ),
        Some(2),
        "{stderr}"
    );

    // The output directory is full: an external failure, nothing half-written.
    let full = std::fs::write(r.tb.root().join("whole.json"), &shown);
    full.unwrap();
    let disk = FullDisk::mount(&r.tb.root().join("fullout"));
    let before = r.journal_after(0).len();
    let whole = r.tb.root().join("whole.json");
    let out = r.run(&[
        "plan",
        "--phase",
        "1",
        "--plan-json",
        whole.to_str().unwrap(),
        "--out",
        disk.0.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("No space left on device"),
        "the error does not say the disk is full:\n{stderr}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&disk.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "filler")
        .collect();
    assert_eq!(
        row(
            "the output directory full (16 KiB tmpfs, ENOSPC)",
            &out,
            &r,
            before
        ),
        Some(3),
        "{stderr}"
    );
    drop(disk);
    assert!(
        leftovers.iter().all(|n| !n.contains(".tmp-")),
        "half-written files left: {leftovers:?}"
    );

    // Terraform killed mid-plan.
    let r = Runner::new("tests/fixtures/runner/two-env");
    let out = r.killing_terraform(&["plan", "--phase", "1"], "plan", &[]);
    assert_eq!(
        row(
            "Terraform killed (SIGKILL) during `terraform plan`",
            &out,
            &r,
            0
        ),
        Some(3),
        "{}",
        crate::testbed::describe(&out)
    );

    // Terraform killed mid-apply, while testcloud creates slowly.
    let r = Runner::new("tests/fixtures/runner/two-env");
    r.ok(&["plan", "--phase", "1"]);
    let before = r.journal_after(0).len();
    let out = r.killing_terraform(
        &["apply", "--phase", "1"],
        "apply",
        &[("TESTCLOUD_DELAY_MS", "3000")],
    );
    assert_eq!(
        row(
            "Terraform killed (SIGKILL) during `terraform apply`",
            &out,
            &r,
            before
        ),
        Some(3),
        "{}",
        crate::testbed::describe(&out)
    );
    let kinds = r.journal_after(before);
    assert_eq!(
        kinds.iter().filter(|k| *k == "lock_taken").count(),
        kinds.iter().filter(|k| *k == "lock_released").count(),
        "the lock was left held: {kinds:?}"
    );

    // phasegate itself killed mid-apply: its Terraform runs on to the end.
    let r = Runner::new("tests/fixtures/runner/two-env");
    r.ok(&["plan", "--phase", "1"]);
    let before = r.journal_after(0).len();
    let job = slow_apply(&r);
    let engine = engine_cancel::engine_mid_apply(&r.store);
    engine_cancel::kill("-KILL", &job.id().to_string());
    let out = job.wait_with_output().unwrap();
    engine_cancel::wait_until("terraform ends", Duration::from_secs(60), || {
        !engine_cancel::alive(engine)
    });
    assert_eq!(
        row(
            "phasegate killed (SIGKILL) during `terraform apply`; Terraform runs on to the end",
            &out,
            &r,
            before
        ),
        None
    );

    // The job cancelled: one SIGINT reaches Terraform, which saves its state.
    let r = Runner::new("tests/fixtures/runner/two-env");
    r.ok(&["plan", "--phase", "1"]);
    let before = r.journal_after(0).len();
    let mut job = slow_apply(&r);
    let engine = engine_cancel::engine_mid_apply(&r.store);
    let (sent, code) = engine_cancel::cancel_as_actions_does(&mut job, engine);
    let out = job.wait_with_output().unwrap();
    assert_eq!(sent, ["INT"]);
    table.push_str(&format!(
        "| the job cancelled as GitHub Actions does (SIGINT; SIGTERM 7.5 s later; SIGKILL 2.5 s after that) | {code} | every line parses; added {} | `{}` |\n",
        r.journal_after(before).join(", "),
        r.next()
    ));
    assert_eq!(code, 130, "{}", crate::testbed::describe(&out));

    sync_section(
        "docs/reliability.md",
        "machine-faults",
        &table,
        "cargo test --test it fault_suite::",
    );
}
