//! The GitHub API budget of one change: N project jobs of one change run
//! concurrently (apply one at a time, as the generated promote workflow's
//! `max-parallel: 1` runs it), each with its own token (GitHub mints one per job), against
//! fakehub, step by step (plan, apply, verify, review) through every
//! environment. Each job makes the GitHub calls its step makes through
//! phasegate's own code: the journal appends of the step
//! (`runner::session::append` on the `github` store, as many as the command
//! makes), the lock for apply (`store::lock`), the journal block
//! (`runner::post::post_progress`) and the check run. Terraform is not run:
//! it makes no GitHub request. fakehub counts per token: total,
//! content-creating and 304s; compare-and-swap retries are the ref updates
//! GitHub refused.
//!
//! `small_change_stays_within_budget` runs in the suite (3 projects) and
//! holds the per-step figures; `bench_api_budget` (ignored) runs 10, 50 and
//! 200 projects and writes `target/api-budget.json` for
//! `scripts/bench-api.sh`.

use std::time::Instant;

use fakehub::{FakeHub, TokenKind, Usage};
use phasegate::config::{load_config_str, resolve_phases, ResolvedPhase};
use phasegate::github::{
    CheckRunRequest, Forge, ForgeConfig, OctoForge, PrTarget, RepoRef, RetryPolicy,
};
use phasegate::journal::{Event, EventKind, LockOwner, PlanRecord, RunRef, Step};
use phasegate::runner::post::post_progress;
use phasegate::runner::session::{append, Writer};
use phasegate::runner::workspace::Workspace;
use phasegate::store::github::GitRefStore;
use phasegate::store::lock::{self, Holder};
use serde_json::json;

const CHANGE: &str = "PR-9";
const PR: u64 = 9;
const HEAD: &str = "9999999999999999999999999999999999999999";
const ENVS: [&str; 3] = ["dev", "staging", "prod"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Plan,
    Apply,
    Verify,
    Review,
}

const STEPS: [StepKind; 4] = [
    StepKind::Plan,
    StepKind::Apply,
    StepKind::Verify,
    StepKind::Review,
];

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            StepKind::Plan => "plan",
            StepKind::Apply => "apply",
            StepKind::Verify => "verify",
            StepKind::Review => "review",
        }
    }
}

/// How the jobs report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comment {
    /// Every matrix job writes the journal block (today's workflows).
    PerJob,
    /// No matrix job does; one final job per step writes it once.
    FinalJob,
}

fn workspace(projects: usize) -> Workspace {
    let mut yml = String::from(
        "version: 1\nenvironments:\n  - name: dev\n  - name: staging\n  - name: prod\nprojects:\n",
    );
    for i in 0..projects {
        yml.push_str(&format!("  - name: p{i:03}\n    dir: p{i:03}\n"));
    }
    Workspace {
        base_dir: ".".into(),
        config_path: None,
        config: Some(load_config_str(&yml, "phasegate.yml").unwrap()),
        change: None,
    }
}

fn token(env: &str, step: StepKind, job: &str) -> String {
    format!("ghs_{env}_{}_{job}", step.name())
}

fn forge(hub: &FakeHub, token: &str) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: Some(hub.graphql_url()),
        token: token.to_owned(),
        retry: RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::fast()
        },
    })
    .unwrap()
}

fn writer(job: &str) -> Writer {
    Writer {
        run: RunRef {
            id: Some(4242),
            attempt: Some(1),
            job: Some(job.to_owned()),
        },
        actor: "alice".into(),
        change: CHANGE.into(),
        pid: None,
        host: None,
        clock: phasegate::runner::session::now,
    }
}

fn digest(project: &str, env: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{project}/{env}")))
}

/// The appends one project's step makes, each a batch of events, in the
/// order the command makes them (apply: lock taken, started, engine
/// started, finished, converged, lock released; verify: started, result).
fn appends(w: &Writer, env: &str, project: &str, step: StepKind) -> Vec<Vec<Event>> {
    let d = digest(project, env);
    let ev = |step: Step, kind: EventKind| w.event(env, Some(project), step, Some(&d), kind);
    match step {
        StepKind::Plan => vec![vec![ev(
            Step::Plan,
            EventKind::StepSucceeded {
                plan: Some(PlanRecord {
                    has_changes: true,
                    ..Default::default()
                }),
            },
        )]],
        // As `runner/apply` journals: the lock taken and the checkpoint held
        // for the append of `apply_started`; the engine started; finished;
        // converged; the lock released.
        StepKind::Apply => vec![
            vec![
                ev(Step::Lock, EventKind::StepStarted),
                ev(Step::Checkpoint, EventKind::StepStarted),
                ev(Step::Apply, EventKind::ApplyStarted),
            ],
            vec![ev(Step::Apply, EventKind::StepStarted)],
            vec![ev(
                Step::Apply,
                EventKind::ApplyFinished {
                    results: vec![],
                    error: None,
                    class: None,
                },
            )],
            vec![ev(Step::Apply, EventKind::StepSucceeded { plan: None })],
            vec![ev(Step::Lock, EventKind::StepSucceeded { plan: None })],
        ],
        StepKind::Verify => vec![
            vec![ev(Step::Verify, EventKind::StepStarted)],
            vec![ev(Step::Verify, EventKind::StepSucceeded { plan: None })],
        ],
        StepKind::Review => vec![vec![ev(
            Step::Review,
            EventKind::StepSucceeded { plan: None },
        )]],
    }
}

async fn project_job(
    hub: &FakeHub,
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &str,
    step: StepKind,
    comment: Comment,
) -> Result<(), String> {
    let env = phase.environment.name.as_str();
    let tok = token(env, step, project);
    let client = forge(hub, &tok);
    let repo = RepoRef::new("acme", "infra");
    let store = GitRefStore::new(client, repo.clone());
    let w = writer(&format!("{}-{env}", step.name()));
    let mut held = None;
    for (i, batch) in appends(&w, env, project, step).into_iter().enumerate() {
        if step == StepKind::Apply && i == 0 {
            let owner = LockOwner {
                run: w.run.clone(),
                actor: w.actor.clone(),
                pid: None,
                host: None,
            };
            let holder = Holder {
                owner,
                change: CHANGE.into(),
                since: phasegate::runner::session::now(),
            };
            held = Some(
                lock::acquire(&store, &lock::LocalLiveness, env, project, holder)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        if step == StepKind::Apply && i == 4 {
            if let Some(h) = &held {
                lock::release(&store, h).await.map_err(|e| e.to_string())?;
            }
        }
        append(&store, CHANGE, &batch)
            .await
            .map_err(|e| e.to_string())?;
    }
    let target = PrTarget {
        repo: repo.clone(),
        number: PR,
    };
    if comment == Comment::PerJob {
        post_progress(&store, store.forge(), &target, ws, CHANGE, phase)
            .await
            .map_err(|e| e.to_string())?;
    }
    let run = CheckRunRequest {
        name: format!("phasegate / {env} / {project}"),
        head_sha: HEAD.into(),
        status: Some("completed".into()),
        conclusion: Some("success".into()),
        details_url: None,
        title: format!("{env}: {}", step.name()),
        summary: "done".into(),
        text: None,
        annotations: vec![],
    };
    store
        .forge()
        .create_check_run(&repo, &run)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The final job of a step: the journal block once, for every project.
async fn final_job(
    hub: &FakeHub,
    ws: &Workspace,
    phase: &ResolvedPhase,
    step: StepKind,
) -> Result<(), String> {
    let env = phase.environment.name.as_str();
    let client = forge(hub, &token(env, step, "final"));
    let repo = RepoRef::new("acme", "infra");
    let store = GitRefStore::new(client, repo.clone());
    let target = PrTarget { repo, number: PR };
    post_progress(&store, store.forge(), &target, ws, CHANGE, phase)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Runs every job concurrently on this thread, as matrix jobs run at once.
async fn join_all(mut jobs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>>) {
    let mut done = vec![false; jobs.len()];
    std::future::poll_fn(|cx| {
        for (job, done) in jobs.iter_mut().zip(done.iter_mut()) {
            if !*done && job.as_mut().poll(cx).is_ready() {
                *done = true;
            }
        }
        match done.iter().all(|d| *d) {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        }
    })
    .await
}

/// What a step of a change cost across its jobs.
#[derive(Debug, Clone, Default)]
struct StepFigures {
    env: String,
    step: &'static str,
    jobs: usize,
    usage: Usage,
    cas_retries: u64,
    max_job_total: u64,
    seconds: f64,
    /// Jobs that failed, with why (the first few).
    failed: Vec<String>,
}

fn register_tokens(hub: &FakeHub, projects: usize) {
    let perms = [
        ("contents", "write"),
        ("pull_requests", "write"),
        ("issues", "write"),
        ("checks", "write"),
        ("actions", "read"),
    ];
    for env in ENVS {
        for step in STEPS {
            for i in 0..projects {
                let t = token(env, step, &format!("p{i:03}"));
                hub.add_token(&t, "", TokenKind::Installation, &perms);
            }
            hub.add_token(
                &token(env, step, "final"),
                "",
                TokenKind::Installation,
                &perms,
            );
        }
    }
}

/// Refused fast-forwards: a ref update answered 422 is a lost race.
fn cas_retries(hub: &FakeHub) -> u64 {
    hub.requests()
        .iter()
        .filter(|r| {
            r.method == "PATCH" && r.path.contains("/git/refs/phasegate/") && r.status == 422
        })
        .count() as u64
}

fn run_change(projects: usize, comment: Comment) -> Vec<StepFigures> {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", PR, "alice", HEAD);
    hub.set_rate_limit(1_000_000, false);
    register_tokens(&hub, projects);
    let ws = workspace(projects);
    let mut phases = resolve_phases(ws.config.as_ref().unwrap(), None);
    // PHASEGATE_BENCH_ENVS=1: only the first environments, for a bench
    // that must fit its time.
    if let Some(n) = std::env::var("PHASEGATE_BENCH_ENVS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        phases.truncate(n);
    }
    let names: Vec<String> = (0..projects).map(|i| format!("p{i:03}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = vec![];
    for phase in &phases {
        for step in STEPS {
            hub.clear_requests();
            let started = Instant::now();
            let failed = std::cell::RefCell::new(vec![]);
            rt.block_on(async {
                let jobs = names
                    .iter()
                    .map(|p| {
                        let failed = &failed;
                        let hub = &hub;
                        let ws = &ws;
                        Box::pin(async move {
                            if let Err(e) = project_job(hub, ws, phase, p, step, comment).await {
                                failed.borrow_mut().push(format!("{p}: {e}"));
                            }
                        })
                            as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>
                    })
                    .collect::<Vec<_>>();
                // The generated promote workflow applies one project at a
                // time (`max-parallel: 1`); every other step's matrix runs
                // at once.
                if step == StepKind::Apply {
                    for job in jobs {
                        job.await;
                    }
                } else {
                    join_all(jobs).await;
                }
                if comment == Comment::FinalJob {
                    if let Err(e) = final_job(&hub, &ws, phase, step).await {
                        failed.borrow_mut().push(format!("final: {e}"));
                    }
                }
            });
            let by = hub.usage_by_token();
            if std::env::var_os("PHASEGATE_BENCH_OUT").is_some() {
                let u = hub.usage();
                eprintln!(
                    "  {projects} projects {comment:?} {} {}: {} requests, {} counted, {} content-creating, {} CAS retries, {} failed, {:.0} s",
                    phase.environment.name,
                    step.name(),
                    u.total,
                    u.counted(),
                    u.content_creating,
                    cas_retries(&hub),
                    failed.borrow().len(),
                    started.elapsed().as_secs_f64()
                );
            }
            out.push(StepFigures {
                env: phase.environment.name.clone(),
                step: step.name(),
                jobs: projects,
                usage: hub.usage(),
                cas_retries: cas_retries(&hub),
                max_job_total: by.values().map(|u| u.total).max().unwrap_or(0),
                seconds: started.elapsed().as_secs_f64(),
                failed: failed.into_inner(),
            });
        }
    }
    assert!(hub.take_violations().is_empty());
    out
}

fn summary(projects: usize, comment: Comment, steps: &[StepFigures]) -> serde_json::Value {
    let mut total = Usage::default();
    for s in steps {
        total.add(s.usage);
    }
    let project_steps = (projects * steps.len()) as f64;
    json!({
        "projects": projects,
        "comment": format!("{comment:?}"),
        "project_steps": projects * steps.len(),
        "requests": total.total,
        "counted": total.counted(),
        "content_creating": total.content_creating,
        "not_modified": total.not_modified,
        "per_project_step": total.total as f64 / project_steps,
        "counted_per_project_step": total.counted() as f64 / project_steps,
        "content_creating_per_project_step": total.content_creating as f64 / project_steps,
        "cas_retries": steps.iter().map(|s| s.cas_retries).sum::<u64>(),
        "failed_jobs": steps.iter().map(|s| s.failed.len()).sum::<usize>(),
        "failures": steps.iter().flat_map(|s| s.failed.iter().take(2).map(|f| format!("{} {}: {f}", s.env, s.step))).take(6).collect::<Vec<_>>(),
        "steps": steps.iter().map(|s| json!({
            "env": s.env, "step": s.step, "jobs": s.jobs,
            "requests": s.usage.total, "counted": s.usage.counted(),
            "content_creating": s.usage.content_creating, "not_modified": s.usage.not_modified,
            "cas_retries": s.cas_retries, "max_job_requests": s.max_job_total,
            "failed_jobs": s.failed.len(),
            "seconds": s.seconds,
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn small_change_stays_within_budget() {
    let steps = run_change(3, Comment::PerJob);
    assert_eq!(steps.len(), 12, "3 environments × 4 steps");
    let s = summary(3, Comment::PerJob, &steps);
    eprintln!("{s:#}");
    // Every step made requests, and fakehub counted every one of them.
    assert!(steps.iter().all(|s| s.usage.total > 0));
    assert!(steps.iter().all(|s| s.failed.is_empty()), "{s:#}");
    let per = s["per_project_step"].as_f64().unwrap();
    assert!(per > 0.0);
    // The final-job layout writes the comment once per step instead of once
    // per project: it never costs more.
    let f = summary(3, Comment::FinalJob, &run_change(3, Comment::FinalJob));
    assert!(
        f["requests"].as_u64().unwrap() <= s["requests"].as_u64().unwrap(),
        "{f:#}"
    );
}

#[test]
#[ignore = "benchmark: scripts/bench-api.sh"]
fn bench_api_budget() {
    let sizes: Vec<usize> = std::env::var("PHASEGATE_BENCH_PROJECTS")
        .unwrap_or_else(|_| "10,50,200".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut all = vec![];
    let layouts: Vec<Comment> = match std::env::var("PHASEGATE_BENCH_LAYOUT").as_deref() {
        Ok("per-job") => vec![Comment::PerJob],
        Ok("final-job") => vec![Comment::FinalJob],
        _ => vec![Comment::PerJob, Comment::FinalJob],
    };
    for &n in &sizes {
        for &comment in &layouts {
            let started = Instant::now();
            let steps = run_change(n, comment);
            let mut s = summary(n, comment, &steps);
            s["seconds"] = json!(started.elapsed().as_secs_f64());
            eprintln!(
                "{n} projects, {comment:?}: {} requests ({} counted, {} content-creating), {:.2}/project-step, {} CAS retries, {} failed jobs",
                s["requests"], s["counted"], s["content_creating"], s["per_project_step"].as_f64().unwrap(), s["cas_retries"], s["failed_jobs"]
            );
            all.push(s);
        }
    }
    let out =
        std::env::var("PHASEGATE_BENCH_OUT").unwrap_or_else(|_| "target/api-budget.json".into());
    std::fs::write(&out, serde_json::to_string_pretty(&all).unwrap()).unwrap();
}

/// With the budget nearly spent, the journal is still written in full, and
/// the journal block is written once, with no convergence rounds.
#[test]
fn a_low_budget_writes_the_journal_and_the_block_once() {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", PR, "alice", HEAD);
    register_tokens(&hub, 1);
    // 50 of an hour's 1,000 remain: below the reserve of 100.
    hub.set_rate_limit(1_000, false);
    let ws = workspace(1);
    let phase = resolve_phases(ws.config.as_ref().unwrap(), None).remove(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Spend 950 requests of the budget first.
        let warm = forge(&hub, &token("dev", StepKind::Plan, "p000"));
        for _ in 0..95 {
            for _ in 0..10 {
                warm.get_ref(&RepoRef::new("acme", "infra"), "phasegate/none")
                    .await
                    .unwrap();
            }
        }
        hub.clear_requests();
        let tok = token("dev", StepKind::Verify, "p000");
        let store = GitRefStore::new(forge(&hub, &tok), RepoRef::new("acme", "infra"));
        let w = writer("verify-dev");
        for batch in appends(&w, "dev", "p000", StepKind::Verify) {
            append(&store, CHANGE, &batch).await.unwrap();
        }
        let budget = store.forge().budget();
        assert!(budget.low(), "{budget:?}");
        // Two appends of six requests each: witness and ref read, then an
        // inline tree, a commit, the ref and the witness moved.
        assert_eq!(budget.remaining, Some(1_000 - 950 - 12));
        let target = PrTarget {
            repo: RepoRef::new("acme", "infra"),
            number: PR,
        };
        let shown = post_progress(&store, store.forge(), &target, &ws, CHANGE, &phase)
            .await
            .unwrap();
        assert_eq!(shown.events, 3, "journal_opened and both events");
    });
    let calls: Vec<String> = hub
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let journal_writes = calls
        .iter()
        .filter(|c| c.starts_with("PATCH /repos/acme/infra/git/refs/phasegate/changes/"))
        .count();
    assert_eq!(
        journal_writes, 1,
        "the second append moved the ref: {calls:#?}"
    );
    let comment_writes = calls
        .iter()
        .filter(|c| c.starts_with("POST /repos/acme/infra/issues/9/comments"))
        .count();
    assert_eq!(comment_writes, 1, "{calls:#?}");
    // No convergence round after the write: the journal is not read again
    // (the comment is listed once more only to confirm its creation).
    let written = calls
        .iter()
        .position(|c| c.starts_with("POST /repos/acme/infra/issues/9/comments"))
        .unwrap();
    assert!(
        calls[written..].iter().all(|c| !c.contains("/git/")),
        "{calls:#?}"
    );
    let comments = hub.comments("acme", "infra", PR);
    assert_eq!(comments.len(), 1);
}

#[test]
fn the_deferred_note_says_why_and_that_the_journal_is_written() {
    let note = phasegate::runner::post::deferred_note(&phasegate::github::budget::BudgetState {
        remaining: Some(42),
        limit: Some(1_000),
        secondary_hits: 1,
        secondary_recent: true,
    });
    assert!(
        note.contains("42 of the token's 1000 requests this hour remain"),
        "{note}"
    );
    assert!(note.contains("secondary rate limit"), "{note}");
    assert!(note.contains("The journal is written in full"), "{note}");
}
