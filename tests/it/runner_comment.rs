//! The comment follows the journal: eight plan jobs of one PR, each for its
//! own project, append to one journal and write the comment at the same
//! time against the fake GitHub; the last write shows all eight.

use fakehub::{FakeHub, TokenKind};
use phasegate::commands::runner::{append, Writer};
use phasegate::commands::runner_post::post_progress;
use phasegate::commands::workspace::Workspace;
use phasegate::config::{load_config_str, resolve_phases};
use phasegate::github::{ForgeConfig, OctoForge, PrTarget, RepoRef, RetryPolicy};
use phasegate::journal::{EventKind, PlanRecord, RunRef, Step};
use phasegate::store::local::LocalStore;

const TOKEN: &str = "ghs_runner_token";
const PROJECTS: usize = 8;

fn workspace() -> Workspace {
    let mut yaml = String::from("version: 1\nenvironments:\n  - name: dev\nprojects:\n");
    for i in 0..PROJECTS {
        yaml.push_str(&format!("  - name: proj{i}\n    dir: proj{i}\n"));
    }
    Workspace {
        base_dir: ".".into(),
        config_path: None,
        config: Some(load_config_str(&yaml, "phasegate.yml").unwrap()),
        change: None,
    }
}

#[test]
fn eight_concurrent_plan_jobs_leave_one_comment_with_all_eight() {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", &"a".repeat(40));
    hub.add_token(
        TOKEN,
        "",
        TokenKind::Installation,
        &[("pull_requests", "write"), ("issues", "write")],
    );
    let store_dir = tempfile::tempdir().unwrap();
    let ws = workspace();
    let phase = resolve_phases(ws.config.as_ref().unwrap(), None).remove(0);
    let url = hub.url().to_owned();
    let jobs: Vec<_> = (0..PROJECTS)
        .map(|i| {
            let (ws, phase, url) = (ws.clone(), phase.clone(), url.clone());
            let root = store_dir.path().to_path_buf();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let store = LocalStore::new(root);
                    let forge = OctoForge::new(&ForgeConfig {
                        api_url: url,
                        graphql_url: None,
                        token: TOKEN.to_owned(),
                        retry: RetryPolicy::fast(),
                    })
                    .unwrap();
                    let writer = Writer {
                        run: RunRef {
                            id: Some(100 + i as u64),
                            attempt: Some(1),
                            job: Some(format!("plan-proj{i}")),
                        },
                        actor: "alice".into(),
                        change: "PR-7".into(),
                    };
                    let project = format!("proj{i}");
                    let digest = format!("{i:064}");
                    let planned = writer.event(
                        "dev",
                        Some(&project),
                        Step::Plan,
                        Some(&digest),
                        EventKind::StepSucceeded {
                            plan: Some(PlanRecord {
                                has_changes: true,
                                ..Default::default()
                            }),
                        },
                    );
                    append(&store, "PR-7", &[planned]).await.unwrap();
                    let target = PrTarget {
                        repo: RepoRef::new("acme", "infra"),
                        number: 7,
                    };
                    post_progress(&store, &forge, &target, &ws, "PR-7", &phase)
                        .await
                        .unwrap();
                })
            })
        })
        .collect();
    for job in jobs {
        job.join().unwrap();
    }
    let comments = hub.comments("acme", "infra", 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = comments[0]["body"].as_str().unwrap();
    for i in 0..PROJECTS {
        assert!(
            body.contains(&format!("proj{i}: plan succeeded")),
            "proj{i} missing from the comment:\n{body}"
        );
    }
}
