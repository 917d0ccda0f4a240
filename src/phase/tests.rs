//! The step machine's rules, one behaviour per test, over hand-built journals.

use super::*;
use crate::journal::{
    fold, ApprovalSource, Event, EventKind, PhaseRef, PlanRecord, ResourceOutcome, ResourceResult,
    RunRef, Step,
};

fn phases() -> Vec<PhaseRef> {
    vec![
        PhaseRef {
            index: 1,
            name: "dev".into(),
            environment: "dev".into(),
            projects: vec!["app".into()],
            approval_required: false,
        },
        PhaseRef {
            index: 2,
            name: "prod".into(),
            environment: "prod".into(),
            projects: vec!["app".into()],
            approval_required: true,
        },
    ]
}

fn ev(phase: &str, step: Step, digest: Option<&str>, run: u64, t: u32, kind: EventKind) -> Event {
    Event {
        time: format!("2026-12-01T10:00:{t:02}Z"),
        run: RunRef {
            id: Some(run),
            attempt: Some(1),
            job: None,
        },
        actor: "octocat".into(),
        change: "CHG-1".into(),
        phase: phase.into(),
        project: Some("app".into()),
        step,
        digest: digest.map(str::to_string),
        kind,
    }
}

fn planned(phase: &str, digest: &str, run: u64, t: u32) -> Event {
    ev(
        phase,
        Step::Plan,
        Some(digest),
        run,
        t,
        EventKind::StepSucceeded {
            plan: Some(PlanRecord {
                has_changes: true,
                plan_file: Some(format!("/tmp/{phase}.tfplan")),
                plan_sha256: Some("f".repeat(64)),
                destroys: false,
            }),
        },
    )
}

fn applied(phase: &str, digest: &str, t: u32) -> Vec<Event> {
    vec![
        ev(
            phase,
            Step::Apply,
            Some(digest),
            1,
            t,
            EventKind::ApplyFinished {
                results: vec![ResourceResult {
                    address: "aws_s3_bucket.a".into(),
                    action: "create".into(),
                    outcome: ResourceOutcome::Applied,
                    error: None,
                }],
                error: None,
                class: None,
            },
        ),
        ev(
            phase,
            Step::Verify,
            Some(digest),
            1,
            t + 1,
            EventKind::ConvergenceChecked { converged: true },
        ),
    ]
}

fn approval(digest: &str, source: ApprovalSource, run: u64, t: u32) -> Event {
    let mut e = ev(
        "prod",
        Step::Approval,
        Some(digest),
        run,
        t,
        EventKind::ApprovalRecorded {
            environment: "prod".into(),
            approver: "reviewer".into(),
            source,
            at: format!("2026-12-01T10:00:{t:02}Z"),
        },
    );
    e.project = None;
    e
}

fn apply(events: &[Event], phase: &str) -> Decision {
    let progress = fold("CHG-1", &phases(), events);
    decide(
        &progress,
        &Request {
            action: Action::Apply,
            phase,
            project: "app",
        },
    )
}

fn missing(d: Decision) -> Missing {
    match d {
        Decision::Refuse(m) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn apply_without_a_plan_names_the_plan_command() {
    let m = missing(apply(&[], "dev"));
    assert_eq!(m.what, "plan");
    assert_eq!(m.command, "phasegate plan --phase 1");
}

#[test]
fn a_blocking_gate_stops_the_apply_until_a_new_plan_passes() {
    let mut events = vec![
        planned("dev", "d1", 1, 1),
        ev(
            "dev",
            Step::Gate,
            Some("d1"),
            1,
            2,
            EventKind::GateEvaluated {
                gate: "security".into(),
                verdict: "block".into(),
                blocking: true,
            },
        ),
    ];
    assert_eq!(missing(apply(&events, "dev")).what, "gate");
    events.push(planned("dev", "d2", 1, 3));
    events.push(ev(
        "dev",
        Step::Gate,
        Some("d2"),
        1,
        4,
        EventKind::GateEvaluated {
            gate: "security".into(),
            verdict: "pass".into(),
            blocking: false,
        },
    ));
    assert!(
        matches!(apply(&events, "dev"), Decision::Proceed(a) if a.digest.as_deref() == Some("d2"))
    );
}

#[test]
fn entering_prod_needs_dev_applied_and_converged() {
    let events = vec![
        planned("dev", "d1", 1, 1),
        planned("prod", "p1", 1, 2),
        approval("p1", ApprovalSource::Comment, 1, 3),
    ];
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "previous-phase");
    assert_eq!(m.command, "phasegate apply --phase 1");
}

#[test]
fn prod_apply_without_approval_is_refused_naming_the_approve_command() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(planned("prod", "p1abcdef123456", 1, 5));
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "approval");
    assert_eq!(m.command, "/phasegate approve prod p1abcdef1234");
    events.push(approval("p1abcdef123456", ApprovalSource::Comment, 2, 6));
    assert!(matches!(apply(&events, "prod"), Decision::Proceed(_)));
}

#[test]
fn an_approval_of_an_older_digest_does_not_count() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(planned("prod", "old", 1, 5));
    events.push(approval("old", ApprovalSource::Comment, 1, 6));
    events.push(planned("prod", "new", 1, 7));
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "approval");
    assert!(m.why.contains("older plan"), "{}", m.why);
}

#[test]
fn an_environment_review_counts_only_in_the_run_that_planned_before_it() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(planned("prod", "p1", 7, 10));
    // A review of another run does not approve this run's plan.
    let mut other = events.clone();
    other.push(approval("p1", ApprovalSource::EnvironmentReview, 8, 11));
    assert_eq!(missing(apply(&other, "prod")).what, "approval");
    // A review given before the plan was recorded does not either.
    let mut early = events.clone();
    early.push(approval("p1", ApprovalSource::EnvironmentReview, 7, 9));
    assert_eq!(missing(apply(&early, "prod")).what, "approval");
    events.push(approval("p1", ApprovalSource::EnvironmentReview, 7, 11));
    assert!(matches!(apply(&events, "prod"), Decision::Proceed(_)));
}

#[test]
fn an_applied_digest_is_not_applied_twice() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    assert!(matches!(apply(&events, "dev"), Decision::NothingToDo(_)));
}

#[test]
fn next_step_walks_the_change_in_order() {
    let progress = |events: &[Event]| fold("CHG-1", &phases(), events);
    assert_eq!(
        progress(&[]).next.unwrap().command,
        "phasegate plan --phase 1"
    );
    let mut events = vec![planned("dev", "d1", 1, 1)];
    assert_eq!(
        progress(&events).next.unwrap().command,
        "phasegate apply --phase 1"
    );
    events.extend(applied("dev", "d1", 2));
    assert_eq!(
        progress(&events).next.unwrap().command,
        "phasegate plan --phase 2"
    );
    events.push(planned("prod", "p1", 1, 5));
    let p = progress(&events);
    assert_eq!(p.overall, crate::journal::Overall::AwaitingApproval);
    assert!(p
        .next
        .unwrap()
        .command
        .starts_with("/phasegate approve prod p1"));
    events.push(approval("p1", ApprovalSource::Comment, 1, 6));
    assert_eq!(
        progress(&events).next.unwrap().command,
        "phasegate apply --phase 2"
    );
    events.extend(applied("prod", "p1", 7));
    let done = progress(&events);
    assert_eq!(done.overall, crate::journal::Overall::Done);
    assert!(done.next.is_none());
}
