//! The `github` store against the fake GitHub: compare-and-swap through the
//! Git Data API, no lost event among concurrent appenders (with and without
//! injected server errors), writes whose answer was lost are re-checked and
//! not resent, and the runner's two questions (is a run finished? which PR
//! did a push come from?), and locks in that store, stale once their
//! workflow run completed.

use std::collections::BTreeSet;

use fakehub::{FakeHub, Fault, FaultKind, TokenKind};
use phasegate::github::runs::{pr_for_push, run_completed};
use phasegate::github::{Forge, ForgeConfig, OctoForge, PrTarget, RepoRef, RetryPolicy};
use phasegate::journal::{LockOwner, RunRef};
use phasegate::store::github::GitRefStore;
use phasegate::store::lock::{self, Holder, LockError};
use phasegate::store::runs::RunsLiveness;
use phasegate::store::{update, Contention, Store, StoreError};

const TOKEN: &str = "ghs_fake_store_token_0123456789";

fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_token(
        TOKEN,
        "",
        TokenKind::Installation,
        &[
            ("contents", "write"),
            ("actions", "read"),
            ("pull_requests", "read"),
        ],
    );
    hub
}

/// Fast retries, and more attempts than the faults any test injects on one
/// endpoint, so no client can be unlucky enough to run out.
fn forge(hub: &FakeHub, token: &str) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: None,
        token: token.to_owned(),
        retry: RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::fast()
        },
    })
    .expect("client")
}

fn repo() -> RepoRef {
    RepoRef::new("acme", "infra")
}

fn store(hub: &FakeHub) -> GitRefStore<OctoForge> {
    GitRefStore::new(forge(hub, TOKEN), repo())
}

fn assert_clean(hub: &FakeHub) {
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
    assert!(hub.requests().iter().all(|r| r.api_version));
}

fn calls(hub: &FakeHub) -> Vec<String> {
    hub.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_the_ref_lives_outside_branches() {
    let hub = hub();
    let s = store(&hub);
    let key = "locks/prod/app.json";
    assert!(s.read(key).await.unwrap().is_none());
    let v1 = s.write(key, None, b"one").await.unwrap();
    assert!(matches!(
        s.write(key, None, b"two").await,
        Err(StoreError::Conflict { .. })
    ));
    let v2 = s.write(key, Some(&v1), b"two").await.unwrap();
    assert!(matches!(
        s.write(key, Some(&v1), b"three").await,
        Err(StoreError::Conflict { .. })
    ));
    let got = store(&hub).read(key).await.unwrap().unwrap();
    assert_eq!((got.bytes.as_slice(), &got.version), (&b"two"[..], &v2));
    assert_eq!(
        hub.git_refs("acme", "infra", ""),
        vec![("phasegate/locks/prod/app.json".to_owned(), v2.0.clone())]
    );
    // The version is a commit whose parent is the version it replaced.
    let c = forge(&hub, TOKEN).get_commit(&repo(), &v2.0).await.unwrap();
    assert_eq!(c.parents, vec![v1.0]);
    assert_clean(&hub);
}

#[tokio::test]
async fn any_bytes_round_trip_and_list_filters_by_prefix() {
    let hub = hub();
    let s = store(&hub);
    let bytes: Vec<u8> = (0..=255u8).chain(b"\r\n\0end".iter().copied()).collect();
    for key in [
        "changes/CHG-1/journal.jsonl",
        "changes/CHG-12/journal.jsonl",
        "changes/CHG-2/journal.jsonl",
        "locks/prod eu/app_1.json",
    ] {
        s.write(key, None, &bytes).await.unwrap();
    }
    let fresh = store(&hub);
    let got = fresh
        .read("locks/prod eu/app_1.json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, bytes);
    assert_eq!(
        fresh.list("changes/CHG-1").await.unwrap(),
        [
            "changes/CHG-1/journal.jsonl",
            "changes/CHG-12/journal.jsonl"
        ]
    );
    assert_eq!(
        fresh.list("locks/").await.unwrap(),
        ["locks/prod eu/app_1.json"]
    );
    assert_eq!(fresh.list("").await.unwrap().len(), 4);
    assert_clean(&hub);
}

/// A text object costs one tree (its content inline, no blob) to write and
/// one contents request to read in a fresh job; one over the 1 MB GitHub
/// serves inline is read through its blob; bytes that are not text still
/// go through a blob.
#[tokio::test]
async fn text_is_written_inline_and_read_in_one_request() {
    let hub = hub();
    let key = "locks/prod/app.json";
    let big = "changes/CHG-1/journal.jsonl";
    let large: Vec<u8> = "{\"line\":\"x\"}\n".repeat(90_000).into_bytes();
    assert!(large.len() > 1_048_576);
    let s = store(&hub);
    s.write(key, None, b"{\"held\":true}").await.unwrap();
    s.write(big, None, &large).await.unwrap();
    let writes = calls(&hub);
    assert!(
        !writes.iter().any(|c| c.contains("/git/blobs")),
        "{writes:#?}"
    );
    assert_eq!(
        writes.iter().filter(|c| c.ends_with("/git/trees")).count(),
        2,
        "{writes:#?}"
    );
    hub.clear_requests();
    let fresh = store(&hub);
    let got = fresh.read(key).await.unwrap().unwrap();
    assert_eq!(got.bytes, b"{\"held\":true}");
    assert_eq!(
        calls(&hub),
        [
            "GET /repos/acme/infra/git/ref/phasegate/locks/prod/app.json".to_owned(),
            "GET /repos/acme/infra/contents/app.json".to_owned(),
        ]
    );
    hub.clear_requests();
    assert_eq!(fresh.read(big).await.unwrap().unwrap().bytes, large);
    let reads = calls(&hub);
    assert!(
        reads.iter().any(|c| c.contains("/contents/journal.jsonl")),
        "{reads:#?}"
    );
    assert!(
        reads.iter().any(|c| c.contains("/git/blobs/")),
        "{reads:#?}"
    );
    assert!(
        !reads.iter().any(|c| c.contains("/git/commits/")),
        "{reads:#?}"
    );
    hub.clear_requests();
    s.write("locks/prod/bin.json", None, &[0xff, 0xfe, 0])
        .await
        .unwrap();
    assert!(calls(&hub).iter().any(|c| c.ends_with("/git/blobs")));
    assert_eq!(
        store(&hub)
            .read("locks/prod/bin.json")
            .await
            .unwrap()
            .unwrap()
            .bytes,
        [0xff, 0xfe, 0]
    );
    assert_clean(&hub);
}

/// `appenders` threads, each its own process-like client, each appending
/// `events` lines through `store::update`; returns the final journal lines.
fn append_concurrently(hub: &FakeHub, appenders: usize, events: usize) -> Vec<String> {
    let key = "changes/CHG-1/journal.jsonl";
    std::thread::scope(|scope| {
        for t in 0..appenders {
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let s = store(hub);
                    for i in 0..events {
                        let contention = Contention {
                            attempts: 200,
                            ..Contention::default()
                        };
                        update(&s, key, contention, |cur| {
                            let mut next = cur.unwrap_or_default().to_vec();
                            next.extend_from_slice(
                                format!("{{\"job\":{t},\"n\":{i}}}\n").as_bytes(),
                            );
                            Ok::<_, ()>(next)
                        })
                        .await
                        .expect("store")
                        .expect("change");
                    }
                });
            });
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt
        .block_on(async { store(hub).read(key).await })
        .unwrap()
        .unwrap();
    String::from_utf8(got.bytes)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Walks the ref's commit chain: one commit per successful write.
fn history_len(hub: &FakeHub, name: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let f = forge(hub, TOKEN);
        let mut next = f.get_ref(&repo(), name).await.unwrap();
        let mut n = 0;
        while let Some(sha) = next {
            n += 1;
            next = f.get_commit(&repo(), &sha).await.unwrap().parents.pop();
        }
        n
    })
}

#[test]
fn eight_concurrent_appenders_lose_no_event() {
    let hub = hub();
    let lines = append_concurrently(&hub, 8, 6);
    let distinct: BTreeSet<&String> = lines.iter().collect();
    assert_eq!((lines.len(), distinct.len()), (48, 48), "{lines:?}");
    assert_eq!(
        history_len(&hub, "phasegate/changes/CHG-1/journal.jsonl"),
        48
    );
    // Races were real: some writes lost and were redone.
    let losses = hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("/git/refs"))
        .count();
    assert!(
        losses > 48,
        "only {losses} ref writes: no contention happened"
    );
    assert_clean(&hub);
}

#[test]
fn concurrent_appenders_lose_no_event_despite_server_errors() {
    let hub = hub();
    let fault = |method: &'static str, path: &str, kind: FaultKind| Fault {
        method: Some(method),
        path_prefix: path.to_owned(),
        kind,
        times: 3,
    };
    let git = "/repos/acme/infra/git/";
    hub.inject(fault(
        "POST",
        &format!("{git}blobs"),
        FaultKind::Status(502),
    ));
    hub.inject(fault("POST", &format!("{git}commits"), FaultKind::Drop));
    hub.inject(fault("GET", &format!("{git}ref/"), FaultKind::Status(500)));
    hub.inject(fault("GET", &format!("{git}blobs"), FaultKind::Status(503)));
    hub.inject(fault(
        "POST",
        &format!("{git}refs"),
        FaultKind::StatusAfterApplying(502),
    ));
    hub.inject(fault(
        "PATCH",
        &format!("{git}refs/"),
        FaultKind::StatusAfterApplying(500),
    ));
    hub.inject(fault(
        "PATCH",
        &format!("{git}refs/"),
        FaultKind::Status(502),
    ));
    hub.inject(fault("PATCH", &format!("{git}refs/"), FaultKind::Drop));
    let lines = append_concurrently(&hub, 8, 4);
    let distinct: BTreeSet<&String> = lines.iter().collect();
    assert_eq!((lines.len(), distinct.len()), (32, 32), "{lines:?}");
    assert_eq!(
        history_len(&hub, "phasegate/changes/CHG-1/journal.jsonl"),
        32
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn a_ref_update_that_landed_but_answered_5xx_is_rechecked_not_resent() {
    let hub = hub();
    let s = store(&hub);
    let key = "changes/CHG-1/journal.jsonl";
    let v1 = s.write(key, None, b"a\n").await.unwrap();
    hub.inject(Fault {
        method: Some("PATCH"),
        path_prefix: "/repos/acme/infra/git/refs/".into(),
        kind: FaultKind::StatusAfterApplying(502),
        times: 1,
    });
    hub.clear_requests();
    let v2 = s.write(key, Some(&v1), b"a\nb\n").await.unwrap();
    // The journal's own ref (its witness is moved after it).
    let c: Vec<String> = calls(&hub)
        .into_iter()
        .filter(|c| !c.contains("/phasegate-witness/"))
        .collect();
    let patches = c.iter().filter(|c| c.starts_with("PATCH ")).count();
    assert_eq!(patches, 1, "the update was sent again: {c:?}");
    assert_eq!(
        c.last().map(String::as_str),
        Some("GET /repos/acme/infra/git/ref/phasegate/changes/CHG-1/journal.jsonl")
    );
    assert_eq!(
        hub.git_ref(
            "acme",
            "infra",
            "phasegate-witness/changes/CHG-1/journal.jsonl"
        ),
        Some(v2.0.clone())
    );
    assert_eq!(
        hub.git_ref("acme", "infra", "phasegate/changes/CHG-1/journal.jsonl"),
        Some(v2.0)
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn a_token_without_contents_write_is_told_which_permission_to_grant() {
    let hub = hub();
    hub.add_token(
        "ghs_readonly",
        "",
        TokenKind::Installation,
        &[("contents", "read")],
    );
    let s = GitRefStore::new(forge(&hub, "ghs_readonly"), repo());
    let err = s.write("locks/dev/app.json", None, b"x").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("contents: write"), "{text}");
    assert!(hub.git_refs("acme", "infra", "").is_empty());
    assert_clean(&hub);
}

#[tokio::test]
async fn a_lock_is_stale_only_once_its_run_has_completed() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    hub.set_run("acme", "infra", 4242, "in_progress", None);
    assert!(!run_completed(&f, &repo(), 4242).await.unwrap());
    hub.set_run("acme", "infra", 4242, "completed", Some("cancelled"));
    assert!(run_completed(&f, &repo(), 4242).await.unwrap());
    let run = f.workflow_run(&repo(), 4242).await.unwrap().unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("cancelled"));
    // An unknown run is no evidence: the lock is not broken.
    let err = run_completed(&f, &repo(), 7).await.unwrap_err();
    assert!(err.to_string().contains("phasegate unlock"), "{err}");
    assert_clean(&hub);
}

#[tokio::test]
async fn a_push_is_traced_to_the_pull_request_it_merged() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let (merge, head, other) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
    hub.add_pull("acme", "infra", 7, "alice", &head);
    hub.merge_pull("acme", "infra", 7, &merge, "main");
    // An open PR whose head is the same commit must not be picked.
    hub.add_pull("acme", "infra", 8, "bob", &merge);
    assert_eq!(
        pr_for_push(&f, &repo(), &merge).await.unwrap(),
        Some(PrTarget {
            repo: repo(),
            number: 7
        })
    );
    assert_eq!(pr_for_push(&f, &repo(), &other).await.unwrap(), None);
    assert_eq!(f.commit_pulls(&repo(), &merge).await.unwrap().len(), 2);
    assert_clean(&hub);
}

fn run_holder(id: u64, attempt: u64, job: &str) -> Holder {
    Holder {
        owner: LockOwner {
            run: RunRef {
                id: Some(id),
                attempt: Some(attempt),
                job: Some(job.into()),
            },
            actor: "octocat".into(),
            pid: None,
            host: None,
        },
        change: "CHG-1".into(),
        since: "2026-12-02T00:00:00Z".into(),
    }
}

#[tokio::test]
async fn a_lock_in_the_github_store_is_broken_only_once_its_run_completed() {
    let hub = hub();
    let s = store(&hub);
    let f = forge(&hub, TOKEN);
    let me = RunRef {
        id: Some(200),
        attempt: Some(1),
        job: Some("apply".into()),
    };
    let live = RunsLiveness {
        forge: &f,
        repo: &repo(),
        current: me.clone(),
    };
    hub.set_run("acme", "infra", 100, "in_progress", None);
    lock::acquire(&s, &live, "prod", "app", run_holder(100, 1, "apply"))
        .await
        .unwrap();
    // The owner's run still runs: held, and it says by whom.
    let err = lock::acquire(&s, &live, "prod", "app", run_holder(200, 1, "apply"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LockError::Held { holder, .. } if holder.owner.run.id == Some(100)),
        "{err}"
    );
    // Its run completed (cancelled, say): the lock is stale and broken.
    hub.set_run("acme", "infra", 100, "completed", Some("cancelled"));
    let held = lock::acquire(&s, &live, "prod", "app", run_holder(200, 1, "apply"))
        .await
        .unwrap();
    assert_eq!(held.broken.unwrap().owner.run.id, Some(100));
    assert_clean(&hub);
}

#[tokio::test]
async fn an_earlier_attempt_of_this_run_is_stale_and_an_unknown_run_is_not() {
    let hub = hub();
    let s = store(&hub);
    let f = forge(&hub, TOKEN);
    let repo = repo();
    let live = |attempt| RunsLiveness {
        forge: &f,
        repo: &repo,
        current: RunRef {
            id: Some(300),
            attempt: Some(attempt),
            job: Some("apply".into()),
        },
    };
    // Attempt 1 of run 300 died holding the lock; its re-run (attempt 2)
    // breaks it without asking GitHub: attempts never overlap.
    lock::acquire(&s, &live(1), "dev", "app", run_holder(300, 1, "apply"))
        .await
        .unwrap();
    // Another job of the same attempt (a matrix sibling) is alive.
    let err = lock::acquire(&s, &live(1), "dev", "app", run_holder(300, 1, "apply-2"))
        .await
        .unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    hub.clear_requests();
    let held = lock::acquire(&s, &live(2), "dev", "app", run_holder(300, 2, "apply"))
        .await
        .unwrap();
    assert_eq!(held.broken.unwrap().owner.run.attempt, Some(1));
    assert!(!calls(&hub).iter().any(|c| c.contains("/actions/runs/")));
    // A run GitHub does not know is no evidence: the lock stays.
    lock::acquire(&s, &live(1), "qa", "app", run_holder(999, 1, "apply"))
        .await
        .unwrap();
    let err = lock::acquire(&s, &live(1), "qa", "app", run_holder(300, 1, "apply"))
        .await
        .unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    assert_clean(&hub);
}
