//! The journal as a specification: its committed schema follows the types,
//! and any prefix of any journal folds into a consistent progress view.

use phasegate::journal::{
    fold, schema, ApprovalSource, EngineExit, EngineProcess, Event, EventKind, Overall, PhaseRef,
    PlanRecord, ResourceOutcome, ResourceResult, RunRef, Step, StepState,
};
use proptest::prelude::*;

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_journal_schema_matches_the_event_type() {
    let path = repo().join("schemas").join(schema::SCHEMA_FILE);
    let mut fresh = serde_json::to_string_pretty(&schema::event_schema()).unwrap();
    fresh.push('\n');
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schemas/{} is out of date; run `UPDATE_SCHEMAS=1 cargo test --test it runner_journal::committed_journal_schema_matches_the_event_type` and commit it",
        schema::SCHEMA_FILE
    );
}

#[test]
fn every_event_kind_validates_against_the_committed_schema() {
    let text = std::fs::read_to_string(repo().join("schemas").join(schema::SCHEMA_FILE)).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    for kind in kinds() {
        let e = event("dev", Some("app"), Step::Apply, Some("d1"), 1, kind);
        let value = serde_json::to_value(&e).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{value}: {errors:?}");
        let back: Event = serde_json::from_value(value).unwrap();
        assert_eq!(back, e);
    }
}

pub(crate) fn phases() -> Vec<PhaseRef> {
    ["dev", "prod"]
        .iter()
        .enumerate()
        .map(|(i, n)| PhaseRef {
            index: i + 1,
            name: n.to_string(),
            environment: n.to_string(),
            projects: vec!["app".into(), "net".into()],
            approval_required: *n == "prod",
            steps: vec![],
            rule_may_approve: false,
        })
        .collect()
}

fn event(
    phase: &str,
    project: Option<&str>,
    step: Step,
    digest: Option<&str>,
    t: u32,
    kind: EventKind,
) -> Event {
    Event {
        time: format!("2026-12-01T10:{:02}:{:02}Z", t / 60 % 60, t % 60),
        run: RunRef {
            id: Some(7),
            attempt: Some(1),
            job: Some("apply".into()),
        },
        actor: "octocat".into(),
        change: "CHG-1".into(),
        phase: phase.into(),
        project: project.map(str::to_string),
        step,
        digest: digest.map(str::to_string),
        prev: None,
        kind,
    }
}

fn kinds() -> Vec<EventKind> {
    let result = |outcome| ResourceResult {
        address: "aws_s3_bucket.a".into(),
        action: "create".into(),
        outcome,
        error: None,
    };
    vec![
        EventKind::StepStarted,
        EventKind::StepSucceeded {
            plan: Some(PlanRecord {
                has_changes: true,
                plan_file: Some("/p.tfplan".into()),
                plan_sha256: Some("ab".into()),
                destroys: false,
                base: None,
                inputs: vec![phasegate::journal::PlannedInput {
                    var: "vpc_id".into(),
                    source: "network.outputs.vpc_id".into(),
                    sha256: "cd".into(),
                    sensitive: false,
                    value: Some("\"sg-1\"".into()),
                }],
            }),
        },
        EventKind::StepSucceeded {
            plan: Some(PlanRecord::default()),
        },
        EventKind::StepFailed {
            error: "boom".into(),
            class: phasegate::journal::ErrorClass::Transient,
        },
        EventKind::StepSkipped { reason: "r".into() },
        EventKind::RolledBack { reason: "r".into() },
        EventKind::GateEvaluated {
            gate: "security".into(),
            verdict: "block".into(),
            blocking: true,
        },
        EventKind::GateEvaluated {
            gate: "security".into(),
            verdict: "pass".into(),
            blocking: false,
        },
        EventKind::GateFindings {
            gate: "security".into(),
            findings: vec![
                phasegate::journal::GateFinding {
                    id: "PG-AWS-035".into(),
                    address: Some("aws_iam_policy.app".into()),
                    unknown: Some("policy".into()),
                },
                phasegate::journal::GateFinding {
                    id: "POL-main-deny".into(),
                    address: None,
                    unknown: None,
                },
            ],
        },
        EventKind::AcknowledgementApplied {
            id: "cost-budget".into(),
            reason: "r".into(),
            by: None,
        },
        EventKind::ApprovalRecorded {
            environment: "prod".into(),
            approver: "reviewer".into(),
            source: ApprovalSource::Comment,
            at: "2026-12-01T10:00:00Z".into(),
            conditions: vec![],
        },
        EventKind::CheckpointTaken {
            file: "c.tfstate".into(),
            sha256: "ab".into(),
            serial: Some(3),
            lineage: Some("l".into()),
        },
        EventKind::ApplyStarted,
        EventKind::EngineStarted {
            engine: EngineProcess {
                pid: 4242,
                start_time: Some(987_654),
                host: Some("runner-1".into()),
            },
        },
        EventKind::Interrupted {
            signal: "SIGINT".into(),
            engine: EngineExit::Exited,
            exit_code: Some(1),
            results: vec![],
        },
        EventKind::ApplyFinished {
            results: vec![result(ResourceOutcome::Applied)],
            error: None,
            class: None,
        },
        EventKind::ApplyFinished {
            results: vec![
                result(ResourceOutcome::Failed),
                result(ResourceOutcome::Untouched),
            ],
            error: Some("failed".into()),
            class: Some(phasegate::journal::ErrorClass::Validation),
        },
        EventKind::ConvergenceChecked { converged: true },
        EventKind::ConvergenceChecked { converged: false },
        EventKind::VerificationFinished {
            status: phasegate::journal::CheckStatus::Warn,
            checks: vec![phasegate::journal::CheckResult {
                name: "site".into(),
                kind: "http".into(),
                status: phasegate::journal::CheckStatus::Warn,
                evidence: "HTTP 200 after 2 attempts, 812 ms".into(),
                attempts: 2,
                duration_ms: 812,
            }],
        },
        EventKind::Reviewed {
            verdict: phasegate::journal::ReviewVerdict::NeedsFixes,
            reasons: vec!["verification failed: site".into()],
            report: Some("reports/phase-1.json".into()),
        },
        EventKind::Reviewed {
            verdict: phasegate::journal::ReviewVerdict::Pass,
            reasons: vec![],
            report: None,
        },
        EventKind::LockTaken {
            environment: "dev".into(),
            owner: Default::default(),
        },
        EventKind::LockReleased {
            environment: "dev".into(),
        },
        EventKind::LockBroken {
            environment: "dev".into(),
            owner: Default::default(),
            reason: "stale".into(),
        },
        EventKind::Refusal {
            what: "approval".into(),
            why: "none".into(),
            command: Some("/phasegate approve prod ab".into()),
        },
        EventKind::DriftChecked {
            drifted: 2,
            pending: 1,
            issue_action: Some("opened".into()),
            issue: Some(7),
        },
        EventKind::JournalOpened {
            config_digest: Some("ab".into()),
        },
        EventKind::JournalOpened {
            config_digest: None,
        },
        EventKind::TornLineSetAside {
            line: 4,
            length: 17,
            sha256: "ab".into(),
        },
        EventKind::PlanWaiting {
            waiting_on: vec!["network.outputs.vpc_id".into()],
        },
        EventKind::PlanStale {
            environment: "dev".into(),
            by_change: "CHG-1".into(),
            link: None,
            inputs: vec!["vpc_id (network.outputs.vpc_id)".into()],
        },
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    let kinds = kinds();
    (
        prop::sample::select(vec!["dev", "prod"]),
        prop::sample::select(vec![Some("app"), Some("net"), None]),
        prop::sample::select(vec![
            Step::Plan,
            Step::Gate,
            Step::Approval,
            Step::Apply,
            Step::Verify,
            Step::Review,
            Step::Rollback,
            Step::Lock,
        ]),
        prop::sample::select(vec![Some("d1"), Some("d2"), None]),
        0..kinds.len(),
        0u32..3600,
    )
        .prop_map(move |(phase, project, step, digest, k, t)| {
            event(phase, project, step, digest, t, kinds[k].clone())
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_prefix_of_a_journal_folds_into_a_consistent_view(
        events in prop::collection::vec(arb_event(), 0..40)
    ) {
        for end in 0..=events.len() {
            let p = fold("CHG-1", &phases(), &events[..end]);
            prop_assert_eq!(p.events, end);
            // Done exactly when there is nothing left to run.
            prop_assert_eq!(p.overall == Overall::Done, p.next.is_none());
            if end == 0 {
                prop_assert_eq!(p.overall, Overall::NotStarted);
            }
            // The next step belongs to the first phase that is not
            // complete (applied, verified, reviewed pass or warn), and every
            // earlier phase is complete.
            if let Some(next) = &p.next {
                let first = p.phases.iter().position(|ph| !ph.complete()).unwrap();
                prop_assert!(p.phases[..first].iter().all(|ph| ph.complete()));
                let ph = &p.phases[first];
                let names_phase = next.command.ends_with(&format!("--phase {}", ph.index))
                    || next.command.starts_with(&format!("/phasegate approve {}", ph.environment));
                prop_assert!(names_phase, "{} for phase {}", next.command, ph.name);
            }
            for ph in &p.phases {
                for pr in &ph.projects {
                    // Converged is only ever claimed for an applied or
                    // skipped project, or after a plan without changes.
                    if pr.done() {
                        prop_assert!(matches!(pr.apply, StepState::Succeeded | StepState::Skipped));
                    }
                    let (a, f, u) = pr.result_counts();
                    prop_assert_eq!(a + f + u, pr.results.len());
                    // A blocking gate shows in the gate verdicts too.
                    for g in &pr.blocking_gates {
                        prop_assert!(pr.gates.contains_key(g));
                    }
                }
                // Approvals that count name the phase's current digest.
                for a in ph.approvals_of_current() {
                    prop_assert_eq!(&a.digest, &ph.digest);
                }
            }
            // Folding is a pure function of the events.
            prop_assert_eq!(&p, &fold("CHG-1", &phases(), &events[..end]));
        }
    }
}
