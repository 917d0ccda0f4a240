//! Properties that must hold for any input (issue 14 §3), checked with
//! proptest:
//! - for any plan, the comment stays within GitHub's 65,536 characters and
//!   keeps its always-present parts (counts, digest, every destroy warning or
//!   the note saying how many more are in the summary), never shows a
//!   sensitive value, and stays inert;
//! - every prefix of any journal with verification and review events folds
//!   into a view whose verification and review are the latest ones recorded;
//! - the local store's compare-and-swap loses no journal event when many
//!   writers append at once, whatever the interleaving.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use phasegate::journal::{
    append_line, chain, fold, parse_lines, CheckResult, CheckStatus, Event, EventKind,
    ReviewVerdict, RunRef, Step, StepState,
};
use phasegate::plan::parse_plan_json;
use phasegate::render::{self, escape, PhaseView, ProjectView, COMMENT_BUDGET, DETAILS_MARKER};
use phasegate::store::local::LocalStore;
use phasegate::store::{update, Contention, Object, Store, StoreError, Version};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::runner_journal::phases;

const CANARY: &str = "CANARY-prop-5e1f-sensitive";

/// One resource of a random plan.
#[derive(Debug, Clone)]
struct Res {
    module: usize,
    ty: usize,
    index: usize,
    action: usize,
    /// Length of the changed value: short, or long enough to need shedding.
    value_len: usize,
    attrs: usize,
}

fn arb_res() -> impl Strategy<Value = Res> {
    (
        0..4usize,
        0..5usize,
        0..400usize,
        0..6usize,
        prop_oneof![3 => 1..40usize, 1 => 500..6_000usize],
        1..6usize,
    )
        .prop_map(|(module, ty, index, action, value_len, attrs)| Res {
            module,
            ty,
            index,
            action,
            value_len,
            attrs,
        })
}

/// A random plan of up to `max` resources, one sensitive attribute (holding
/// the canary) in each.
fn plan_json(items: &[Res]) -> String {
    let types = [
        "aws_instance",
        "aws_db_instance",
        "google_storage_bucket",
        "azurerm_storage_account",
        "aws_s3_bucket",
    ];
    let actions = [
        json!(["create"]),
        json!(["update"]),
        json!(["delete"]),
        json!(["delete", "create"]),
        json!(["create", "delete"]),
        json!(["no-op"]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut changes = vec![];
    for r in items {
        let ty = types[r.ty];
        let module = (r.module > 0).then(|| format!("module.m{}[\"k{}\"]", r.module, r.index % 7));
        let local = format!("{ty}.r[{}]", r.index);
        let address = match &module {
            Some(m) => format!("{m}.{local}"),
            None => local,
        };
        if !seen.insert(address.clone()) {
            continue;
        }
        let values = |tag: &str| {
            let mut m = serde_json::Map::new();
            for a in 0..r.attrs {
                m.insert(
                    format!("attr_{a}"),
                    json!(format!("{tag}{}", "x".repeat(r.value_len))),
                );
            }
            m.insert("password".into(), json!(CANARY));
            Value::Object(m)
        };
        let act = &actions[r.action];
        let (before, after) = match r.action {
            0 => (Value::Null, values("new")),
            2 => (values("old"), Value::Null),
            5 => (values("same"), values("same")),
            _ => (values("old"), values("new")),
        };
        let marks = |v: &Value| {
            if v.is_null() {
                json!(false)
            } else {
                json!({"password": true})
            }
        };
        let mut rc = json!({
            "address": address, "mode": "managed", "type": ty, "name": "r", "index": r.index,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": act, "before_sensitive": marks(&before), "after_sensitive": marks(&after),
                       "before": before, "after": after,
                       "after_unknown": {"id": true}}
        });
        if let Some(m) = module {
            rc["module_address"] = json!(m);
        }
        changes.push(rc);
    }
    json!({"format_version": "1.2", "resource_changes": changes,
           "configuration": {"provider_config": {}}})
    .to_string()
}

fn view(changes: phasegate::plan::ChangeSet) -> PhaseView {
    PhaseView {
        change_id: "CHG-1".into(),
        change_title: Some("a change".into()),
        phase_name: "prod".into(),
        phase_index: 2,
        environment: "prod".into(),
        projects: vec![ProjectView {
            name: "app".into(),
            changes: changes.into(),
        }],
        sections: vec![],
        run_url: Some("https://github.com/o/r/actions/runs/1".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_plan_renders_a_comment_within_budget_with_its_essentials(
        items in prop::collection::vec(arb_res(), 0..300)
    ) {
        let changes = parse_plan_json(&plan_json(&items), "p.json").unwrap();
        let digest = changes.digest.clone();
        let destroyed: Vec<String> = changes.destroyed().map(|r| r.address.clone()).collect();
        // A plan with changes states its counts; one without says so instead.
        let counts = if changes.has_changes() {
            render::counts_line(&changes.counts())
        } else {
            render::NO_CHANGES.to_string()
        };
        let comment = render::comment(&view(changes));
        prop_assert!(comment.chars().count() <= COMMENT_BUDGET, "{} chars", comment.chars().count());
        let (essentials, _) = comment.split_once(DETAILS_MARKER).expect("the details marker");
        prop_assert!(essentials.contains(&digest), "the digest");
        prop_assert!(essentials.contains(&counts), "the counts line {}", counts);
        let shown = destroyed.iter().filter(|a| essentials.contains(&escape::inline(a))).count();
        if shown < destroyed.len() {
            let more = format!("…and {} more, listed in the job summary", destroyed.len() - shown);
            prop_assert!(essentials.contains(&more), "{} of {} destroys and no note", shown, destroyed.len());
        }
        prop_assert!(!comment.contains(CANARY), "the sensitive canary leaked");
        prop_assert_eq!(comment.matches("<details>").count(), comment.matches("</details>").count());
        let found = crate::inert::violations(&comment, &["github.com"]);
        prop_assert!(found.is_empty(), "{:#?}", found);
    }
}

fn event(phase: &str, project: Option<&str>, step: Step, digest: &str, kind: EventKind) -> Event {
    Event {
        time: "2026-12-02T01:00:00Z".into(),
        run: RunRef::default(),
        actor: "octocat".into(),
        change: "CHG-1".into(),
        phase: phase.into(),
        project: project.map(str::to_string),
        step,
        digest: Some(digest.into()),
        prev: None,
        kind,
    }
}

/// Verification and review events among the plan/apply steps they follow,
/// for either phase, a project or the whole phase, over two digests.
fn arb_event() -> impl Strategy<Value = Event> {
    let status = prop::sample::select(vec![
        CheckStatus::Pass,
        CheckStatus::Warn,
        CheckStatus::Fail,
    ]);
    let verdict = prop::sample::select(vec![
        ReviewVerdict::Pass,
        ReviewVerdict::Warn,
        ReviewVerdict::NeedsFixes,
    ]);
    (
        prop::sample::select(vec!["dev", "prod", "gone"]),
        prop::sample::select(vec![Some("app"), Some("net"), None]),
        prop::sample::select(vec!["d1", "d2"]),
        0..5usize,
        status,
        verdict,
    )
        .prop_map(|(phase, project, digest, k, status, verdict)| {
            let (step, kind) = match k {
                0 => (Step::Plan, EventKind::StepSucceeded { plan: None }),
                1 => (Step::Apply, EventKind::ApplyStarted),
                2 => (
                    Step::Verify,
                    EventKind::VerificationFinished {
                        status,
                        checks: vec![CheckResult {
                            name: "site".into(),
                            kind: "http".into(),
                            status,
                            evidence: format!("{status:?}"),
                            attempts: 1,
                            duration_ms: 5,
                        }],
                    },
                ),
                3 => (
                    Step::Review,
                    EventKind::Reviewed {
                        verdict,
                        reasons: vec![format!("{verdict:?}")],
                        report: Some("reports/phase.json".into()),
                    },
                ),
                _ => (Step::Verify, EventKind::StepStarted),
            };
            event(phase, project, step, digest, kind)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_prefix_shows_the_latest_verification_and_review(
        events in prop::collection::vec(arb_event(), 0..30)
    ) {
        for end in 0..=events.len() {
            let prefix = &events[..end];
            let p = fold("CHG-1", &phases(), prefix);
            prop_assert_eq!(p.events, end);
            for ph in &p.phases {
                let last_review = prefix.iter().rev().find(|e| {
                    e.phase == ph.name && e.project.is_none() && matches!(e.kind, EventKind::Reviewed { .. })
                });
                match (last_review, &ph.review) {
                    (None, None) => {}
                    (Some(e), Some(r)) => {
                        let EventKind::Reviewed { verdict, .. } = &e.kind else { unreachable!() };
                        prop_assert_eq!(*verdict, r.verdict);
                        prop_assert_eq!(&e.digest, &r.digest);
                    }
                    (e, r) => prop_assert!(false, "phase {}: event {:?}, view {:?}", ph.name, e, r),
                }
                for pr in &ph.projects {
                    // A phase-level event (no project) is every project's.
                    let last = prefix.iter().rev().find(|e| {
                        e.phase == ph.name
                            && e.project.as_deref().is_none_or(|p| p == pr.project)
                            && matches!(e.kind, EventKind::VerificationFinished { .. })
                    });
                    match (last, &pr.verification) {
                        (None, None) => prop_assert_ne!(pr.verify, StepState::Failed),
                        (Some(e), Some(v)) => {
                            let EventKind::VerificationFinished { status, checks } = &e.kind else { unreachable!() };
                            prop_assert_eq!(*status, v.status);
                            prop_assert_eq!(checks, &v.checks);
                            prop_assert_eq!(&e.digest, &v.digest);
                        }
                        (e, v) => prop_assert!(false, "{}: event {:?}, view {:?}", pr.project, e, v),
                    }
                }
            }
            prop_assert_eq!(&p, &fold("CHG-1", &phases(), prefix));
        }
    }
}

/// A store that sleeps a scripted while before each read and write, so the
/// writers interleave differently in every case.
struct Jittery {
    inner: LocalStore,
    delays: Arc<Vec<u64>>,
    next: AtomicU64,
}

impl Jittery {
    async fn pause(&self) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let micros = self.delays[i % self.delays.len()];
        if micros == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
    }
}

impl Store for Jittery {
    async fn read(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.pause().await;
        self.inner.read(key).await
    }
    async fn write(
        &self,
        key: &str,
        expected: Option<&Version>,
        bytes: &[u8],
    ) -> Result<Version, StoreError> {
        self.pause().await;
        self.inner.write(key, expected, bytes).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
}

fn appended(writer: usize, n: usize) -> Event {
    event(
        "dev",
        Some("app"),
        Step::Plan,
        &format!("w{writer}-e{n}"),
        EventKind::StepStarted,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_appends_through_compare_and_swap_lose_no_event(
        writers in 2..8usize,
        per_writer in 1..6usize,
        delays in prop::collection::vec(prop_oneof![0u64..1, 50u64..2_000], 1..16),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let delays = Arc::new(delays);
        let contention = Contention {
            attempts: 10_000,
            backoff: Duration::from_micros(100),
            max_backoff: Duration::from_millis(2),
        };
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let store = Jittery {
                    inner: LocalStore::new(dir.path()),
                    delays: delays.clone(),
                    next: AtomicU64::new(w as u64 * 3),
                };
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
                    rt.block_on(async {
                        for n in 0..per_writer {
                            let e = appended(w, n);
                            update(&store, "changes/CHG-1/journal.jsonl", contention, |cur| {
                                append_line(cur, "CHG-1", std::slice::from_ref(&e))
                            })
                            .await
                            .unwrap()
                            .unwrap();
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let bytes = std::fs::read(dir.path().join("changes/CHG-1/journal.jsonl")).unwrap();
        // Each append linked to the bytes it actually appended to: the
        // chain holds, opened once by whichever writer came first.
        let events = chain::read(&bytes, "CHG-1").unwrap().events;
        prop_assert_eq!(&events, &parse_lines(&bytes).unwrap());
        let events = &events[1..];
        prop_assert_eq!(events.len(), writers * per_writer, "every append landed exactly once");
        // Each writer's events appear once and in the order it wrote them.
        let mut by_writer: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in events {
            let d = e.digest.clone().unwrap();
            let (w, n) = d.split_once('-').unwrap();
            by_writer.entry(w.to_string()).or_default().push(n.to_string());
        }
        prop_assert_eq!(by_writer.len(), writers);
        for seq in by_writer.values() {
            let want: Vec<String> = (0..per_writer).map(|n| format!("e{n}")).collect();
            prop_assert_eq!(seq, &want);
        }
    }
}
