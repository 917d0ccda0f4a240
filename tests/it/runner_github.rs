//! The phase runner with the `github` store, as GitHub Actions runs it:
//! every step is its own `phasegate` process with `store: {backend: github}`
//! against the fake GitHub, real Terraform 1.0.3 and testcloud, and the steps
//! share only the repository's refs (and the saved plan files, as an
//! artifact would carry them). After the merge the push reports to the PR
//! it came from; a push of no PR reports to the job summary alone; eight
//! concurrent plan processes leave one comment that shows all eight.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use fakehub::{EnvSpec, FakeHub, Fault, FaultKind, Reviewer, TokenKind};
use phasegate::github::{ForgeConfig, OctoForge, RepoRef, RetryPolicy};
use phasegate::journal::{LockOwner, RunRef};
use phasegate::store::github::GitRefStore;
use phasegate::store::lock::{lock_key, Holder, LockRecord};
use phasegate::store::Store;
use serde_json::Value;

use crate::testbed::{describe, repo_root, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_runnerGithubStore0123456789";
const HEAD: &str = "1111111111111111111111111111111111111111";
const MERGE: &str = "3333333333333333333333333333333333333333";

/// The fake GitHub with the repository, PR 7 and a token that may write
/// the journal's refs, comments and check runs and read runs and reviews.
fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", HEAD);
    hub.add_token(
        TOKEN,
        "",
        TokenKind::Installation,
        &[
            ("pull_requests", "write"),
            ("issues", "write"),
            ("checks", "write"),
            ("actions", "read"),
            ("contents", "write"),
        ],
    );
    hub
}

/// Which event a run is for.
#[derive(Clone, Copy)]
enum On<'a> {
    PullRequest,
    /// A push of this commit to `main`.
    Push(&'a str),
}

/// One workflow run (id) and job, as `GITHUB_*` variables.
#[derive(Clone, Copy)]
struct Run<'a> {
    id: u64,
    job: &'a str,
    on: On<'a>,
}

/// The `GITHUB_*` environment of `run` against `hub`, with its event
/// payload written under `dir`.
fn actions_env(hub: &FakeHub, dir: &Path, run: Run<'_>) -> Vec<(String, String)> {
    let (name, payload, sha, git_ref) = match run.on {
        On::PullRequest => (
            "pull_request",
            format!(
                r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}","ref":"feat"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
            ),
            HEAD.to_owned(),
            "refs/pull/7/merge".to_owned(),
        ),
        On::Push(sha) => (
            "push",
            format!(r#"{{"after":"{sha}","ref":"refs/heads/main"}}"#),
            sha.to_owned(),
            "refs/heads/main".to_owned(),
        ),
    };
    let event = dir.join(format!("event-{}-{}.json", run.id, run.job));
    std::fs::write(&event, payload).unwrap();
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    [
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_REPOSITORY", "acme/infra".to_owned()),
        ("GITHUB_EVENT_NAME", name.to_owned()),
        ("GITHUB_EVENT_PATH", path(event)),
        ("GITHUB_API_URL", hub.url().to_owned()),
        ("GITHUB_RUN_ID", run.id.to_string()),
        ("GITHUB_RUN_ATTEMPT", "1".to_owned()),
        ("GITHUB_JOB", run.job.to_owned()),
        ("GITHUB_ACTOR", "alice".to_owned()),
        ("GITHUB_SHA", sha),
        ("GITHUB_REF", git_ref),
        ("GITHUB_TOKEN", TOKEN.to_owned()),
        ("GITHUB_STEP_SUMMARY", path(dir.join("summary.md"))),
        ("NO_COLOR", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A client of the fake for reading what the processes left there.
fn read_store<T>(hub: &FakeHub, f: impl AsyncFnOnce(GitRefStore<OctoForge>) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let forge = OctoForge::new(&ForgeConfig {
            api_url: hub.url().to_owned(),
            graphql_url: None,
            token: TOKEN.to_owned(),
            retry: RetryPolicy::fast(),
        })
        .unwrap();
        f(GitRefStore::new(forge, RepoRef::new("acme", "infra"))).await
    })
}

/// The change's journal as the fake's refs hold it.
fn journal_in_refs(hub: &FakeHub, change: &str) -> Vec<Value> {
    let key = format!("changes/{change}/journal.jsonl");
    let bytes = read_store(hub, async |s| s.read(&key).await.unwrap())
        .map(|o| o.bytes)
        .unwrap_or_default();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events_of<'a>(journal: &'a [Value], kind: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == kind).collect()
}

fn comment_bodies(hub: &FakeHub) -> Vec<String> {
    hub.comments("acme", "infra", 7)
        .iter()
        .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_clean(hub: &FakeHub) {
    let violations = hub.take_violations();
    assert!(violations.is_empty(), "{violations:#?}");
    for r in hub.requests() {
        assert!(!r.body.contains(TOKEN), "token in a request: {}", r.path);
    }
}

/// The two-environment change of `runner_e2e`, with its journal in the
/// repository's refs.
struct Change {
    hub: FakeHub,
    tb: Testbed,
    dir: tempfile::TempDir,
}

impl Change {
    fn new() -> Change {
        let tb = Testbed::new("tests/fixtures/runner/two-env");
        let config = tb.workdir().join("phasegate.yml");
        let mut yaml = std::fs::read_to_string(&config).unwrap();
        yaml.push_str("store:\n  backend: github\n");
        std::fs::write(&config, yaml).unwrap();
        Change {
            hub: hub(),
            tb,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, run: Run<'_>, args: &[&str]) -> Output {
        let (k, v) = self.tb.path_env();
        let out = self
            .tb
            .command(PHASEGATE)
            .env(k, v)
            .env_remove("PHASEGATE_STORE_DIR")
            .envs(actions_env(&self.hub, self.dir.path(), run))
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args)
            .output()
            .expect("run phasegate");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(TOKEN), "the token was printed:\n{all}");
        out
    }

    fn expect(&self, code: i32, run: Run<'_>, args: &[&str]) -> String {
        let out = self.run(run, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self, run: Run<'_>) -> Value {
        let text = self.expect(0, run, &["status", "--format", "json"]);
        serde_json::from_str(&text).expect("status --format json prints JSON")
    }

    fn next(&self, run: Run<'_>) -> String {
        self.status(run)["next"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn journal(&self) -> Vec<Value> {
        journal_in_refs(&self.hub, "CHG-RUN")
    }

    fn comment(&self) -> String {
        let bodies = comment_bodies(&self.hub);
        assert_eq!(bodies.len(), 1, "{bodies:#?}");
        bodies[0].clone()
    }

    /// A lock on prod/app held by another workflow run, as its apply job
    /// would have left it.
    fn lock_prod_as_run(&self, run_id: u64) {
        let record = LockRecord {
            holder: Some(Holder {
                owner: LockOwner {
                    run: RunRef {
                        id: Some(run_id),
                        attempt: Some(1),
                        job: Some("apply".into()),
                    },
                    actor: "bob".into(),
                    pid: None,
                    host: None,
                },
                change: "CHG-RUN".into(),
                since: "2026-12-02T00:00:00Z".into(),
            }),
        };
        let bytes = serde_json::to_vec(&record).unwrap();
        read_store(&self.hub, async |s| {
            let key = lock_key("prod", "app");
            let current = s.read(&key).await.unwrap();
            s.write(&key, current.as_ref().map(|o| &o.version), &bytes)
                .await
                .unwrap();
        });
    }
}

/// An RFC 3339 time a minute from now: a review given after the plan.
fn in_a_minute() -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn a_change_runs_through_the_github_store_from_the_pr_to_after_the_merge() {
    let c = Change::new();
    c.hub.add_environment(
        "acme",
        "infra",
        "prod",
        EnvSpec {
            reviewers: vec![Reviewer::User("rita".into())],
            ..Default::default()
        },
    );
    let pr = |id, job| Run {
        id,
        job,
        on: On::PullRequest,
    };
    let push = |id, job| Run {
        id,
        job,
        on: On::Push(MERGE),
    };

    // On the PR: dev is planned and applied, each step its own job.
    assert_eq!(c.next(pr(100, "status")), "phasegate plan --phase 1");
    c.expect(0, pr(101, "plan"), &["plan", "--phase", "1"]);
    assert_eq!(c.next(pr(101, "status")), "phasegate apply --phase 1");
    let journal_writes = |hub: &FakeHub| {
        hub.requests()
            .iter()
            .filter(|r| {
                r.method == "PATCH"
                    && r.path
                        .ends_with("/refs/phasegate/changes/CHG-RUN/journal.jsonl")
            })
            .count()
    };
    let (writes, lines) = (journal_writes(&c.hub), c.journal().len());
    let text = c.expect(0, pr(101, "apply"), &["apply", "--phase", "1"]);
    assert!(text.contains("converged"), "{text}");
    // Seven events in five appends: the lock taken and the checkpoint go
    // with `apply_started`, before the engine runs (docs/journal.md).
    let added: Vec<String> = c.journal()[lines..]
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        added,
        [
            "lock_taken",
            "checkpoint_taken",
            "apply_started",
            "engine_started",
            "apply_finished",
            "convergence_checked",
            "lock_released"
        ],
        "{added:?}"
    );
    assert_eq!(journal_writes(&c.hub) - writes, 5);
    assert_eq!(c.next(pr(101, "status")), "phasegate verify --phase 1");
    c.expect(0, pr(101, "verify"), &["verify", "--phase", "1"]);
    assert_eq!(c.next(pr(101, "status")), "phasegate review --phase 1");
    c.expect(0, pr(101, "review"), &["review", "--phase", "1"]);
    assert_eq!(c.next(pr(101, "status")), "phasegate plan --phase 2");
    c.expect(0, pr(102, "plan"), &["plan", "--phase", "2"]);
    let status = c.status(pr(102, "status"));
    assert_eq!(status["overall"], "awaiting_approval", "{status:#}");
    let digest = status["phases"][1]["digest"].as_str().unwrap().to_owned();
    assert!(c
        .next(pr(102, "status"))
        .starts_with(&format!("/phasegate approve prod {}", &digest[..12])));
    // The pre-apply approval check takes the digest from the journal.
    let text = c.expect(
        1,
        pr(102, "approve"),
        &["approvals", "check", "--env", "prod"],
    );
    assert!(text.contains(&digest[..12]), "{text}");
    // Nothing of the journal is on disk: it lives in the repository's refs.
    assert!(!c.tb.workdir().join("out/store").exists());
    assert!(c
        .hub
        .git_refs("acme", "infra", "phasegate/changes/")
        .iter()
        .any(|(name, _)| name == "phasegate/changes/CHG-RUN/journal.jsonl"));

    // Merged. The push run's apply of prod has no review: refused, and
    // the refusal is journaled and shown on the PR the push came from.
    c.hub.merge_pull("acme", "infra", 7, MERGE, "main");
    let text = c.expect(1, push(200, "apply"), &["apply", "--phase", "2"]);
    assert!(text.contains("has no approval"), "{text}");
    let refusals = events_of(&c.journal(), "refusal")
        .iter()
        .map(|e| e["what"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(refusals, ["approval"]);
    let body = c.comment();
    assert!(body.contains("refused (approval)"), "{body}");
    assert_eq!(
        c.status(push(200, "status"))["phases"][1]["projects"][0]["last_refusal"]["what"],
        "approval"
    );

    // The next push run plans prod, and rita approves the deployment to
    // prod in that run: GitHub's review log is the evidence.
    c.expect(0, push(201, "plan"), &["plan", "--phase", "2"]);
    c.hub.add_run_approvals(
        "acme",
        "infra",
        201,
        vec![("prod", "rita", &in_a_minute(), "approved")],
    );
    // A lock left by a run that still runs holds the apply off ...
    c.hub.set_run("acme", "infra", 150, "in_progress", None);
    c.lock_prod_as_run(150);
    let text = c.expect(1, push(201, "apply"), &["apply", "--phase", "2"]);
    assert!(text.contains("is locked by run 150"), "{text}");
    // The next step is the apply again, never breaking a live job's lock;
    // how to release a lock whose job is surely gone is advice in the reason.
    let next = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("next: "))
        .unwrap_or_else(|| panic!("no next line: {text}"))
        .to_string();
    assert_eq!(next, "phasegate apply --phase 2", "{text}");
    assert!(
        text.contains("`phasegate unlock --env prod --project"),
        "{text}"
    );
    // ... until that run completes: then the lock is stale and broken, and
    // the printed step, run word for word, applies.
    c.hub
        .set_run("acme", "infra", 150, "completed", Some("cancelled"));
    let words: Vec<&str> = next.split_whitespace().skip(1).collect();
    let text = c.expect(0, push(201, "apply"), &words);
    assert!(text.contains("applied"), "{text}");

    let journal = c.journal();
    let approvals = events_of(&journal, "approval_recorded");
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    assert_eq!(approvals[0]["source"], "environment_review");
    assert_eq!(approvals[0]["approver"], "rita");
    assert_eq!(approvals[0]["run"]["id"], 201);
    assert_eq!(approvals[0]["digest"], digest.as_str());
    let broken = events_of(&journal, "lock_broken");
    assert_eq!(broken.len(), 1, "{broken:#?}");
    assert_eq!(broken[0]["owner"]["run"]["id"], 150);
    assert!(broken[0]["reason"].as_str().unwrap().contains("stale"));
    assert_eq!(events_of(&journal, "apply_started").len(), 2);

    // Done only once prod is verified and reviewed too.
    assert_eq!(c.next(push(201, "status")), "phasegate verify --phase 2");
    c.expect(0, push(201, "verify"), &["verify", "--phase", "2"]);
    c.expect(0, push(201, "review"), &["review", "--phase", "2"]);
    let status = c.status(push(201, "status"));
    assert_eq!(status["overall"], "done", "{status:#}");
    assert!(status["next"].is_null());
    let body = c.comment();
    assert!(body.contains("applied"), "{body}");
    // The last review puts the change report in the comment: in Actions
    // the report files stay behind in the review job's workspace.
    let report = body
        .split_once("#### Change report")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no change report in the comment:\n{body}"));
    assert!(
        report.contains("| phase | environment | verdict |"),
        "{report}"
    );
    assert!(report.contains("Approved by &#64;"), "{report}");
    assert!(
        c.hub
            .check_runs("acme", "infra")
            .iter()
            .any(|r| r["name"] == "phasegate / prod" && r["head_sha"] == MERGE),
        "the prod check run follows the journal on the merge commit"
    );

    // A lock whose run GitHub still shows running is released by hand,
    // and who did it and why is journaled.
    c.hub.set_run("acme", "infra", 151, "in_progress", None);
    c.lock_prod_as_run(151);
    let text = c.expect(
        0,
        push(202, "unlock"),
        &[
            "unlock",
            "--env",
            "prod",
            "--project",
            "app",
            "--reason",
            "runner vanished",
        ],
    );
    assert!(text.contains("held by run 151"), "{text}");
    let broken = events_of(&c.journal(), "lock_broken")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        broken.last().unwrap(),
        "unlocked by @alice: runner vanished"
    );
    assert_clean(&c.hub);
}

/// `plan --plan-json` of the quickstart in a run for `on`, in `dir`.
fn quickstart_plan(hub: &FakeHub, dir: &Path, run: Run<'_>, extra: &[&str]) -> Command {
    let mut cmd = Command::new(PHASEGATE);
    cmd.current_dir(repo_root())
        .env_remove("PHASEGATE_STORE_DIR")
        .envs(actions_env(hub, dir, run))
        .args(["--config", "examples/quickstart/phasegate.yml"])
        .args(["--change", "examples/quickstart/change.yml"])
        .args(["plan", "--env", "dev", "--plan-json"])
        .arg(repo_root().join("examples/quickstart/plan.json"))
        .arg("--out")
        .arg(dir.join(format!("out-{}", run.id)))
        .args(extra);
    cmd
}

#[test]
fn a_push_that_merged_a_pr_reports_there_and_any_other_push_to_the_job_summary() {
    let hub = hub();
    let dir = tempfile::tempdir().unwrap();
    let merged = "4444444444444444444444444444444444444444";
    hub.merge_pull("acme", "infra", 7, merged, "main");
    let direct = "5555555555555555555555555555555555555555";
    let run = |id, sha| Run {
        id,
        job: "plan",
        on: On::Push(sha),
    };

    let out = quickstart_plan(&hub, dir.path(), run(300, direct), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(hub.comments("acme", "infra", 7).is_empty());
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("**Phase 1 dev (dev)"), "{summary}");

    let out = quickstart_plan(&hub, dir.path(), run(301, merged), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let bodies = comment_bodies(&hub);
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert!(bodies[0].contains("**Phase 1 dev (dev)"), "{}", bodies[0]);
    // Both pushes journaled the one change.
    assert_eq!(
        events_of(&journal_in_refs(&hub, "CHG-1"), "step_succeeded").len(),
        2
    );
    assert_clean(&hub);
}

#[test]
fn eight_concurrent_plan_processes_leave_one_comment_with_all_eight() {
    const PROJECTS: usize = 8;
    let hub = hub();
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "version: 1\nstore:\n  backend: github\nenvironments:\n  - name: dev\nprojects:\n",
    );
    for i in 0..PROJECTS {
        yaml.push_str(&format!("  - name: proj{i}\n    dir: proj{i}\n"));
    }
    let config = dir.path().join("phasegate.yml");
    std::fs::write(&config, yaml).unwrap();
    let plan = repo_root().join("examples/quickstart/plan.json");
    let spawn = |i: usize| -> Child {
        let job = format!("plan-proj{i}");
        let run = Run {
            id: 400,
            job: &job,
            on: On::PullRequest,
        };
        Command::new(PHASEGATE)
            .current_dir(dir.path())
            .env_remove("PHASEGATE_STORE_DIR")
            .envs(actions_env(&hub, dir.path(), run))
            .arg("--config")
            .arg(&config)
            .args(["plan", "--env", "dev", "--project", &format!("proj{i}")])
            .arg("--plan-json")
            .arg(&plan)
            .arg("--out")
            .arg(dir.path().join(format!("out-{i}")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn phasegate")
    };
    // The first job's journal block (its first PATCH: its plan block
    // created the comment) is slow to land, so it lands after the other
    // seven wrote theirs, though it was rendered from a journal holding its
    // own plan alone: only re-reading the journal after the write converges.
    hub.inject(Fault {
        method: Some("PATCH"),
        path_prefix: "/repos/acme/infra/issues/comments/".into(),
        kind: FaultKind::Slow(std::time::Duration::from_secs(8)),
        times: 1,
    });
    let mut jobs = vec![spawn(0)];
    let started = std::time::Instant::now();
    while hub.comments("acme", "infra", 7).is_empty() {
        assert!(
            started.elapsed().as_secs() < 120,
            "the first job posted nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    jobs.extend((1..PROJECTS).map(spawn));
    for job in jobs {
        let out = job.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    let bodies = comment_bodies(&hub);
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    for i in 0..PROJECTS {
        assert!(
            bodies[0].contains(&format!("proj{i}: plan succeeded")),
            "proj{i} missing from the comment:\n{}",
            bodies[0]
        );
    }
    let journal = journal_in_refs(&hub, "PR-7");
    assert_eq!(events_of(&journal, "step_succeeded").len(), PROJECTS);
    assert_clean(&hub);
}
