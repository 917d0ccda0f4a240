//! The step machine's rules, one behaviour per test, over hand-built journals.

use super::*;
use crate::journal::{
    fold, ApprovalSource, CheckResult, CheckStatus, Event, EventKind, PhaseRef, PlanRecord,
    ResourceOutcome, ResourceResult, ReviewVerdict, RunRef, Step,
};

fn phases() -> Vec<PhaseRef> {
    vec![
        PhaseRef {
            index: 1,
            name: "dev".into(),
            environment: "dev".into(),
            projects: vec!["app".into()],
            approval_required: false,
            steps: vec![],
            rule_may_approve: false,
        },
        PhaseRef {
            index: 2,
            name: "prod".into(),
            environment: "prod".into(),
            projects: vec!["app".into()],
            approval_required: true,
            steps: vec![],
            rule_may_approve: false,
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
        prev: None,
        kind,
    }
}

/// `events` with a passing verdict of every required gate after each plan
/// (and revert plan), as the runner journals them.
fn with_gates(events: &[Event]) -> Vec<Event> {
    let mut out = vec![];
    for e in events {
        out.push(e.clone());
        if matches!(e.kind, EventKind::StepSucceeded { plan: Some(_) }) {
            for gate in REQUIRED_GATES {
                let mut g = e.clone();
                g.step = if e.step == Step::Rollback {
                    Step::Rollback
                } else {
                    Step::Gate
                };
                g.kind = EventKind::GateEvaluated {
                    gate: gate.into(),
                    verdict: "pass".into(),
                    blocking: false,
                };
                out.push(g);
            }
        }
    }
    out
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
                base: None,
                inputs: vec![],
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

fn verified(phase: &str, digest: &str, status: CheckStatus, t: u32) -> Event {
    ev(
        phase,
        Step::Verify,
        Some(digest),
        1,
        t,
        EventKind::VerificationFinished {
            status,
            checks: vec![CheckResult {
                name: "site".into(),
                kind: "http".into(),
                status,
                evidence: "HTTP 200 in 12 ms".into(),
                attempts: 1,
                duration_ms: 12,
            }],
        },
    )
}

fn reviewed(phase: &str, digest: &str, verdict: ReviewVerdict, t: u32) -> Event {
    let mut e = ev(
        phase,
        Step::Review,
        Some(digest),
        1,
        t,
        EventKind::Reviewed {
            verdict,
            reasons: vec!["verification: site FAIL".into()],
            report: None,
        },
    );
    e.project = None;
    e
}

/// Applied, verified and reviewed `pass`: the next environment may start.
fn completed(phase: &str, digest: &str, t: u32) -> Vec<Event> {
    let mut events = applied(phase, digest, t);
    events.push(verified(phase, digest, CheckStatus::Pass, t + 2));
    events.push(reviewed(phase, digest, ReviewVerdict::Pass, t + 3));
    events
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
            conditions: vec![],
        },
    );
    e.project = None;
    e
}

fn apply(events: &[Event], phase: &str) -> Decision {
    act(events, Action::Apply, phase)
}

fn act(events: &[Event], action: Action, phase: &str) -> Decision {
    let progress = fold("CHG-1", &phases(), &with_gates(events));
    decide(
        &progress,
        &Request {
            action,
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
    events.extend(completed("dev", "d1", 2));
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
    events.extend(completed("dev", "d1", 2));
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
    events.extend(completed("dev", "d1", 2));
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
fn next_step_walks_apply_verify_review_then_the_next_phase() {
    let progress = |events: &[Event]| fold("CHG-1", &phases(), &with_gates(events));
    let next = |events: &[Event]| progress(events).next.unwrap().command;
    assert_eq!(next(&[]), "phasegate plan --phase 1");
    let mut events = vec![planned("dev", "d1", 1, 1)];
    assert_eq!(next(&events), "phasegate apply --phase 1");
    events.extend(applied("dev", "d1", 2));
    assert_eq!(next(&events), "phasegate verify --phase 1");
    events.push(verified("dev", "d1", CheckStatus::Pass, 4));
    assert_eq!(next(&events), "phasegate review --phase 1");
    events.push(reviewed("dev", "d1", ReviewVerdict::Warn, 5));
    assert_eq!(next(&events), "phasegate plan --phase 2");
    events.push(planned("prod", "p1", 1, 6));
    let p = progress(&events);
    assert_eq!(p.overall, crate::journal::Overall::AwaitingApproval);
    assert!(p
        .next
        .unwrap()
        .command
        .starts_with("/phasegate approve prod p1"));
    events.push(approval("p1", ApprovalSource::Comment, 1, 7));
    assert_eq!(next(&events), "phasegate apply --phase 2");
    events.extend(completed("prod", "p1", 8));
    let done = progress(&events);
    assert_eq!(done.overall, crate::journal::Overall::Done);
    assert!(done.next.is_none());
}

#[test]
fn a_needs_fixes_review_blocks_the_change_and_names_its_reasons() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(verified("dev", "d1", CheckStatus::Fail, 4));
    events.push(reviewed("dev", "d1", ReviewVerdict::NeedsFixes, 5));
    let p = fold("CHG-1", &phases(), &with_gates(&events));
    assert_eq!(p.overall, crate::journal::Overall::Blocked);
    let next = p.next.unwrap();
    assert_eq!(next.command, "phasegate plan --phase 1");
    assert!(next.reason.contains("site FAIL"), "{}", next.reason);
}

#[test]
fn entering_prod_needs_dev_verified_then_reviewed_for_its_current_digest() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(planned("prod", "p1", 1, 4));
    events.push(approval("p1", ApprovalSource::Comment, 1, 5));
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "previous-phase");
    assert_eq!(m.command, "phasegate verify --phase 1");
    events.push(verified("dev", "d1", CheckStatus::Pass, 6));
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.command, "phasegate review --phase 1");
    assert!(m.why.contains("not been reviewed"), "{}", m.why);
    // A review of another dev digest does not count.
    events.push(reviewed("dev", "d0", ReviewVerdict::Pass, 7));
    let m = missing(apply(&events, "prod"));
    assert!(m.why.contains("older plan"), "{}", m.why);
    events.push(reviewed("dev", "d1", ReviewVerdict::Pass, 8));
    // The approval came before dev was reviewed: it does not count.
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "approval");
    assert!(
        m.why.contains(
            "@reviewer approved at 2026-12-01T10:00:05Z before phase dev (dev) was reviewed"
        ),
        "{}",
        m.why
    );
    assert!(!m.why.contains("older plan"), "{}", m.why);
    events.push(approval("p1", ApprovalSource::Comment, 1, 9));
    assert!(matches!(apply(&events, "prod"), Decision::Proceed(_)));
}

#[test]
fn a_needs_fixes_review_refuses_the_next_environment_with_its_reasons() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(applied("dev", "d1", 2));
    events.push(verified("dev", "d1", CheckStatus::Fail, 4));
    events.push(reviewed("dev", "d1", ReviewVerdict::NeedsFixes, 5));
    events.push(planned("prod", "p1", 1, 6));
    events.push(approval("p1", ApprovalSource::Comment, 1, 7));
    let m = missing(apply(&events, "prod"));
    assert_eq!(m.what, "previous-phase");
    assert!(m.why.contains("needs-fixes"), "{}", m.why);
    assert!(m.why.contains("site FAIL"), "{}", m.why);
    // Reviewing again would repeat the verdict: the way on is a new plan,
    // the step status names too.
    assert_eq!(m.command, "phasegate plan --phase 1");
    let progress = fold("CHG-1", &phases(), &with_gates(&events));
    assert_eq!(progress.next.map(|n| n.command), Some(m.command));
}

#[test]
fn verify_needs_a_succeeded_apply_and_review_needs_verification() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    assert_eq!(missing(act(&events, Action::Verify, "dev")).what, "apply");
    assert_eq!(missing(act(&events, Action::Review, "dev")).what, "apply");
    events.extend(applied("dev", "d1", 2));
    assert!(matches!(
        act(&events, Action::Verify, "dev"),
        Decision::Proceed(a) if a.digest.as_deref() == Some("d1")
    ));
    let m = missing(act(&events, Action::Review, "dev"));
    assert_eq!(m.what, "verify");
    assert_eq!(m.command, "phasegate verify --phase 1");
    events.push(verified("dev", "d1", CheckStatus::Warn, 4));
    assert!(matches!(
        act(&events, Action::Review, "dev"),
        Decision::Proceed(_)
    ));
}

fn revert_planned(digest: &str, run: u64, t: u32) -> Event {
    ev(
        "prod",
        Step::Rollback,
        Some(digest),
        run,
        t,
        EventKind::StepSucceeded {
            plan: Some(PlanRecord {
                has_changes: true,
                plan_file: Some("/tmp/prod.revert.tfplan".into()),
                plan_sha256: Some("e".repeat(64)),
                destroys: true,
                base: None,
                inputs: vec![],
            }),
        },
    )
}

#[test]
fn a_rollback_needs_an_apply_that_started() {
    let events = vec![planned("dev", "d1", 1, 1)];
    let m = missing(act(&events, Action::Rollback, "dev"));
    assert_eq!(m.what, "apply");
    let mut started = events.clone();
    started.push(ev(
        "dev",
        Step::Apply,
        Some("d1"),
        1,
        2,
        EventKind::ApplyStarted,
    ));
    assert!(matches!(
        act(&started, Action::Rollback, "dev"),
        Decision::Proceed(_)
    ));
}

#[test]
fn a_revert_plan_is_applied_only_with_an_approval_of_its_own_digest() {
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.extend(completed("dev", "d1", 2));
    events.push(planned("prod", "p1", 1, 6));
    events.push(approval("p1", ApprovalSource::Comment, 1, 7));
    events.extend(applied("prod", "p1", 8));
    assert_eq!(
        missing(act(&events, Action::RollbackApply, "prod")).what,
        "rollback-plan"
    );
    events.push(revert_planned("r1", 3, 10));
    // The phase's approval names the change's digest, not the revert's.
    let m = missing(act(&events, Action::RollbackApply, "prod"));
    assert_eq!(m.what, "approval");
    assert!(m.why.starts_with("the revert plan r1"), "{}", m.why);
    assert_eq!(m.command, "/phasegate approve prod r1");
    // The revert plan never replaces the phase's plan or its gates.
    assert!(matches!(apply(&events, "prod"), Decision::NothingToDo(_)));
    events.push(approval("r1", ApprovalSource::EnvironmentReview, 3, 11));
    assert!(matches!(
        act(&events, Action::RollbackApply, "prod"),
        Decision::Proceed(a) if a.digest.as_deref() == Some("r1") && a.destroys
    ));
}

#[test]
fn a_project_s_review_waits_for_a_sibling_still_being_verified_and_the_last_one_reviews() {
    let two = vec![PhaseRef {
        index: 1,
        name: "dev".into(),
        environment: "dev".into(),
        projects: vec!["app".into(), "net".into()],
        approval_required: false,
        steps: vec![],
        rule_may_approve: false,
    }];
    let of = |project: &str, events: Vec<Event>| -> Vec<Event> {
        events
            .into_iter()
            .map(|mut e| {
                e.project = Some(project.into());
                e
            })
            .collect()
    };
    let mut events = of("app", vec![planned("dev", "d1", 1, 1)]);
    events.extend(of("net", vec![planned("dev", "d2", 1, 1)]));
    events.extend(of("app", applied("dev", "d1", 2)));
    events.extend(of("net", applied("dev", "d2", 2)));
    events.extend(of("app", vec![verified("dev", "d1", CheckStatus::Pass, 4)]));
    let progress = fold("CHG-1", &two, &with_gates(&events));
    // app's job is done with its part; net's verification is still running.
    let why = review_waits_for(&progress, "dev", "app").expect("app waits");
    assert!(why.contains("net") && why.contains("not verified"), "{why}");
    // net's own job is not ready itself: its review refuses as usual.
    assert_eq!(review_waits_for(&progress, "dev", "net"), None);
    // net verified last: nothing left to wait for, its job reviews.
    events.extend(of("net", vec![verified("dev", "d2", CheckStatus::Pass, 5)]));
    let progress = fold("CHG-1", &two, &with_gates(&events));
    assert_eq!(review_waits_for(&progress, "dev", "net"), None);
    assert_eq!(review_waits_for(&progress, "dev", "app"), None);
    assert!(matches!(
        decide(
            &progress,
            &Request {
                action: Action::Review,
                phase: "dev",
                project: ""
            }
        ),
        Decision::Proceed(_)
    ));
    // A sibling that failed is not waited for: the review refuses.
    let mut failed = of("app", vec![planned("dev", "d1", 1, 1)]);
    failed.extend(of("app", applied("dev", "d1", 2)));
    failed.extend(of("app", vec![verified("dev", "d1", CheckStatus::Pass, 4)]));
    failed.extend(of(
        "net",
        vec![ev(
            "dev",
            Step::Plan,
            None,
            1,
            1,
            EventKind::StepFailed {
                error: "boom".into(),
                class: crate::journal::ErrorClass::Validation,
            },
        )],
    ));
    assert_eq!(
        review_waits_for(&fold("CHG-1", &two, &with_gates(&failed)), "dev", "app"),
        None
    );
}

/// dev, staging and prod, each with its own root module (`infra/<env>`)
/// beside a project `shared` that every environment has.
fn per_environment_phases() -> Vec<PhaseRef> {
    ["dev", "staging", "prod"]
        .iter()
        .enumerate()
        .map(|(i, env)| PhaseRef {
            index: i + 1,
            name: env.to_string(),
            environment: env.to_string(),
            projects: vec![env.to_string(), "shared".into()],
            approval_required: i > 0,
            steps: vec![],
            rule_may_approve: false,
        })
        .collect()
}

fn for_project(mut e: Event, project: &str) -> Event {
    e.project = Some(project.into());
    e
}

#[test]
fn a_phase_the_change_never_touched_holds_no_later_phase_back() {
    // A PR that changes only infra/prod: dev and staging have nothing to do.
    let mut events = vec![for_project(planned("prod", "p1", 1, 1), "prod")];
    let mut approve = approval("p1", ApprovalSource::Comment, 1, 2);
    approve.phase = "prod".into();
    events.push(approve);
    let progress = fold("CHG-1", &per_environment_phases(), &with_gates(&events));
    assert!(!progress.phases[0].in_change() && !progress.phases[1].in_change());
    let prod = progress.phase("prod").unwrap();
    assert_eq!(
        prod.projects
            .iter()
            .map(|p| p.project.as_str())
            .collect::<Vec<_>>(),
        ["prod"],
        "a project the change never planned is no part of the phase"
    );
    assert_eq!(prod.digest.as_deref(), Some("p1"));
    let req = Request {
        action: Action::Apply,
        phase: "prod",
        project: "prod",
    };
    assert!(matches!(decide(&progress, &req), Decision::Proceed(_)));
}

#[test]
fn a_project_the_change_touches_must_pass_every_earlier_phase_that_has_it() {
    // `shared` planned in dev and prod only: staging has it too and was never
    // planned, and dev never applied it. Prod waits for staging, staging for dev.
    let events = vec![
        for_project(planned("dev", "d1", 1, 1), "shared"),
        for_project(planned("prod", "p1", 1, 2), "shared"),
    ];
    let progress = fold("CHG-1", &per_environment_phases(), &with_gates(&events));
    let req = Request {
        action: Action::Apply,
        phase: "prod",
        project: "shared",
    };
    let m = missing(decide(&progress, &req));
    assert_eq!(m.what, "previous-phase");
    assert_eq!(m.command, "phasegate plan --phase 2");
    assert_eq!(
        progress.next.as_ref().map(|n| n.command.as_str()),
        Some("phasegate apply --phase 1")
    );
}

#[test]
fn a_journal_without_plans_has_not_started_and_names_the_first_plan() {
    let progress = fold("CHG-1", &per_environment_phases(), &[]);
    assert_eq!(progress.overall, crate::journal::Overall::NotStarted);
    assert_eq!(
        progress.next.map(|n| n.command),
        Some("phasegate plan --phase 1".into())
    );
}

/// The journal of a dev apply that started, whose engine and job are named.
fn apply_in_flight() -> Vec<Event> {
    let owner = crate::journal::LockOwner {
        run: RunRef::default(),
        actor: "octocat".into(),
        pid: Some(7),
        host: Some("runner-1".into()),
    };
    vec![
        planned("dev", "d1", 1, 1),
        ev(
            "dev",
            Step::Lock,
            Some("d1"),
            1,
            2,
            EventKind::LockTaken {
                environment: "dev".into(),
                owner,
            },
        ),
        ev(
            "dev",
            Step::Apply,
            Some("d1"),
            1,
            3,
            EventKind::ApplyStarted,
        ),
        ev(
            "dev",
            Step::Apply,
            Some("d1"),
            1,
            4,
            EventKind::EngineStarted {
                engine: crate::journal::EngineProcess {
                    pid: 4242,
                    start_time: Some(99),
                    host: Some("runner-1".into()),
                },
            },
        ),
    ]
}

fn next_seeing(
    events: &[Event],
    seen: &dyn Fn(&crate::journal::EngineProcess) -> crate::journal::Seen,
) -> (String, String) {
    let next = crate::journal::fold_seeing("CHG-1", &phases(), events, seen)
        .next
        .unwrap();
    (next.command, next.reason)
}

#[test]
fn an_apply_in_flight_is_called_running_only_while_its_process_is_seen_running() {
    use crate::journal::{EngineProcess, Seen};
    let events = apply_in_flight();
    let engine_only = |p: &EngineProcess| match p.pid {
        4242 => Seen::Running,
        _ => Seen::Gone,
    };
    let (command, reason) = next_seeing(&events, &engine_only);
    assert_eq!(command, "phasegate apply --phase 1");
    assert!(reason.contains("(pid 4242) still runs"), "{reason}");
    assert!(reason.contains("its phasegate is gone"), "{reason}");
    let (command, reason) = next_seeing(&events, &|p| match p.pid {
        7 => Seen::Running,
        _ => Seen::Gone,
    });
    assert_eq!(command, "phasegate apply --phase 1");
    assert!(reason.contains("is running (phasegate pid 7"), "{reason}");
    for seen in [Seen::Gone, Seen::Unknown] {
        let (command, reason) = next_seeing(&events, &|_| seen);
        assert_eq!(command, "phasegate apply --phase 1", "{seen:?}");
        assert!(!reason.contains("running"), "{seen:?}: {reason}");
        assert!(
            !reason.contains("(pid 4242) still runs"),
            "{seen:?}: {reason}"
        );
    }
}

#[test]
fn after_an_interrupted_apply_status_names_what_the_re_verification_names() {
    use crate::journal::Seen;
    let gone = |_: &crate::journal::EngineProcess| Seen::Gone;
    let mut events = apply_in_flight();
    let released = |t| {
        ev(
            "dev",
            Step::Lock,
            Some("d1"),
            1,
            t,
            EventKind::LockReleased {
                environment: "dev".into(),
            },
        )
    };
    // Stopped by a signal: re-verify with a plain apply.
    events.push(ev(
        "dev",
        Step::Apply,
        Some("d1"),
        1,
        5,
        EventKind::Interrupted {
            signal: "SIGINT".into(),
            engine: crate::journal::EngineExit::Exited,
            exit_code: Some(1),
            results: vec![],
        },
    ));
    events.push(released(6));
    let (command, reason) = next_seeing(&events, &gone);
    assert_eq!(command, "phasegate apply --phase 1");
    assert!(reason.contains("stopped by SIGINT"), "{reason}");
    assert!(reason.contains("exit code 1"), "{reason}");
    // Re-verified: the refusal's command is the next step, whichever it is.
    for next in [
        "phasegate plan --phase 1",
        "phasegate apply --phase 1 --retry",
    ] {
        let mut decided = events.clone();
        decided.push(ev(
            "dev",
            Step::Apply,
            Some("d1"),
            1,
            7,
            EventKind::Refusal {
                what: "interrupted".into(),
                why: "the apply of plan d1 was interrupted".into(),
                command: Some(next.into()),
            },
        ));
        assert_eq!(next_seeing(&decided, &gone).0, next);
        // A later attempt's refusal counts, not an earlier attempt's.
        decided.push(ev(
            "dev",
            Step::Apply,
            Some("d1"),
            1,
            8,
            EventKind::ApplyStarted,
        ));
        assert_eq!(next_seeing(&decided, &gone).0, "phasegate apply --phase 1");
    }
    // An abort ends the apply in flight: plan again.
    events.push(ev(
        "dev",
        Step::Apply,
        Some("d1"),
        1,
        9,
        EventKind::StepFailed {
            error: "aborted".into(),
            class: crate::journal::ErrorClass::Other,
        },
    ));
    let p = fold("CHG-1", &phases(), &events);
    assert_eq!(p.next.unwrap().command, "phasegate plan --phase 1");
    assert!(p.phases[0].projects[0].in_flight.is_none());
}

fn gate_event(phase: &str, digest: Option<&str>, gate: &str, blocking: bool, t: u32) -> Event {
    ev(
        phase,
        Step::Gate,
        digest,
        1,
        t,
        EventKind::GateEvaluated {
            gate: gate.into(),
            verdict: if blocking { "block" } else { "pass" }.into(),
            blocking,
        },
    )
}

#[test]
fn a_plan_journaled_without_its_gates_is_never_applied() {
    // The journal an apply's re-plan used to leave: a plan, no gate verdict.
    let events = vec![planned("dev", "d1", 1, 1)];
    let progress = fold("CHG-1", &phases(), &events);
    let req = Request {
        action: Action::Apply,
        phase: "dev",
        project: "app",
    };
    let m = missing(decide(&progress, &req));
    assert_eq!(m.what, "gate");
    assert!(m.why.contains("never gated"), "{}", m.why);
    assert!(m.why.contains("security, cost, blast"), "{}", m.why);
    assert_eq!(m.command, "phasegate plan --phase 1");
    // Status names the same step.
    assert_eq!(progress.next.map(|n| n.command), Some(m.command));
}

#[test]
fn gate_verdicts_count_only_for_the_digest_they_name() {
    // Verdicts of an earlier digest, or of none, never gate a later plan.
    let mut events = vec![planned("dev", "d1", 1, 1)];
    for g in REQUIRED_GATES {
        events.push(gate_event("dev", Some("d0"), g, false, 2));
        events.push(gate_event("dev", None, g, false, 3));
    }
    let progress = fold("CHG-1", &phases(), &events);
    let req = Request {
        action: Action::Apply,
        phase: "dev",
        project: "app",
    };
    assert_eq!(missing(decide(&progress, &req)).what, "gate");
    // With one required gate missing, it is still refused, naming it.
    let mut events = vec![planned("dev", "d1", 1, 1)];
    events.push(gate_event("dev", Some("d1"), "security", false, 2));
    events.push(gate_event("dev", Some("d1"), "cost", false, 3));
    let m = missing(decide(&fold("CHG-1", &phases(), &events), &req));
    assert!(m.why.contains("the blast gate"), "{}", m.why);
}

mod no_ungated_apply {
    //! The property: whatever the journal holds, the step machine lets an
    //! apply (or a revert's apply) through only for a digest whose latest
    //! plan was followed by a verdict of every required gate for that same
    //! digest, none of them blocking at the end.
    use super::*;
    use proptest::prelude::*;

    const DIGESTS: [&str; 3] = ["d1", "d2", "d3"];
    const GATES: [&str; 4] = ["security", "cost", "blast", "policy"];

    fn event() -> impl Strategy<Value = Event> {
        let phase = prop::sample::select(vec!["dev", "prod"]);
        let digest = prop::option::weighted(0.9, prop::sample::select(DIGESTS.to_vec()));
        let step = prop::sample::select(vec![Step::Plan, Step::Gate, Step::Rollback, Step::Apply]);
        (
            phase,
            digest,
            step,
            0u8..8,
            any::<bool>(),
            0usize..4,
            0u32..60,
        )
            .prop_map(|(phase, digest, step, kind, flag, gate, t)| {
                let kind = match kind {
                    0 | 1 => EventKind::StepSucceeded {
                        plan: Some(PlanRecord {
                            has_changes: flag || kind == 0,
                            plan_file: None,
                            plan_sha256: None,
                            destroys: false,
                            base: None,
                            inputs: vec![],
                        }),
                    },
                    2..=4 => EventKind::GateEvaluated {
                        gate: GATES[gate].into(),
                        verdict: if flag { "block" } else { "pass" }.into(),
                        blocking: flag,
                    },
                    5 => EventKind::ApprovalRecorded {
                        environment: phase.into(),
                        approver: "alice".into(),
                        source: ApprovalSource::Comment,
                        at: format!("2026-12-01T10:00:{:02}Z", t),
                        conditions: vec![],
                    },
                    6 => EventKind::ApplyFinished {
                        results: vec![],
                        error: None,
                        class: None,
                    },
                    _ => EventKind::Reviewed {
                        verdict: ReviewVerdict::Pass,
                        reasons: vec![],
                        report: None,
                    },
                };
                ev(phase, step, digest, 1, t, kind)
            })
    }

    /// Independent of the fold: is `digest` the latest plan of `phase` (in
    /// the revert's steps when `revert`), with every required gate's last
    /// verdict since that plan, for that digest, not blocking?
    fn gated(events: &[Event], phase: &str, digest: &str, revert: bool) -> bool {
        let is_plan = |e: &Event| {
            e.phase == phase
                && matches!(e.kind, EventKind::StepSucceeded { plan: Some(_) })
                && ((e.step == Step::Rollback) == revert)
                && (revert || e.step == Step::Plan)
        };
        let Some(last) = events.iter().rposition(is_plan) else {
            return false;
        };
        if events[last].digest.as_deref() != Some(digest) {
            return false;
        }
        REQUIRED_GATES.iter().all(|gate| {
            let verdicts: Vec<bool> = events[last + 1..]
                .iter()
                .filter(|e| e.phase == phase && e.digest.as_deref() == Some(digest))
                .filter(|e| (e.step == Step::Rollback) == revert)
                .filter_map(|e| match &e.kind {
                    EventKind::GateEvaluated {
                        gate: g, blocking, ..
                    } if g == gate => Some(*blocking),
                    _ => None,
                })
                .collect();
            verdicts.last() == Some(&false)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn no_digest_is_applied_without_allowing_gate_verdicts(
            events in prop::collection::vec(event(), 0..24)
        ) {
            let progress = fold("CHG-1", &phases(), &events);
            for phase in ["dev", "prod"] {
                for (action, revert) in [(Action::Apply, false), (Action::RollbackApply, true)] {
                    let req = Request { action, phase, project: "app" };
                    if let Decision::Proceed(a) = decide(&progress, &req) {
                        let digest = a.digest.clone().unwrap_or_default();
                        prop_assert!(
                            gated(&events, phase, &digest, revert),
                            "{action:?} of {digest} in {phase} proceeded without allowing gates"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn only_a_first_transient_failure_that_changed_nothing_is_retried() {
    use crate::journal::ErrorClass;
    assert!(retries_apply(false, true, ErrorClass::Transient));
    assert!(
        !retries_apply(true, true, ErrorClass::Transient),
        "never twice"
    );
    assert!(
        !retries_apply(false, false, ErrorClass::Transient),
        "something changed"
    );
    for class in [
        ErrorClass::Validation,
        ErrorClass::Permission,
        ErrorClass::StateConflict,
        ErrorClass::Other,
    ] {
        assert!(!retries_apply(false, true, class), "{class:?}");
    }
}

#[test]
fn only_the_saved_plan_the_journal_recorded_is_applied() {
    let approved = Approved {
        digest: Some("d1".into()),
        plan_file: Some("/tmp/app-dev.tfplan".into()),
        plan_sha256: Some("aa".repeat(32)),
        destroys: false,
        inputs: vec![],
    };
    assert_eq!(
        saved_plan(&approved, Some(&"aa".repeat(32))),
        SavedPlan::Apply
    );
    assert_eq!(saved_plan(&approved, None), SavedPlan::Replan);
    assert_eq!(
        saved_plan(&approved, Some(&"bb".repeat(32))),
        SavedPlan::Tampered
    );
    // A plan recorded without a hash (from a plan JSON) has no file to trust.
    let unhashed = Approved {
        plan_sha256: None,
        ..approved
    };
    assert_eq!(
        saved_plan(&unhashed, Some(&"aa".repeat(32))),
        SavedPlan::Tampered
    );
}

fn waiting(phase: &str, t: u32) -> Event {
    ev(
        phase,
        Step::Plan,
        Some("w1"),
        1,
        t,
        EventKind::PlanWaiting {
            waiting_on: vec!["network.outputs.vpc_id".into()],
        },
    )
}

fn stale_inputs(phase: &str, digest: &str, t: u32) -> Event {
    ev(
        phase,
        Step::Apply,
        Some(digest),
        1,
        t,
        EventKind::PlanStale {
            environment: phase.into(),
            by_change: "CHG-1".into(),
            link: None,
            inputs: vec!["vpc_id (network.outputs.vpc_id)".into()],
        },
    )
}

#[test]
fn a_project_waiting_for_its_upstream_has_nothing_to_apply_and_is_in_the_change() {
    let events = [waiting("dev", 1)];
    let progress = fold("CHG-1", &phases(), &with_gates(&events));
    let dev = progress.phase("dev").unwrap();
    assert_eq!(
        dev.projects.len(),
        1,
        "a waiting project is part of the change"
    );
    assert_eq!(dev.digest.as_deref(), Some("w1"));
    assert!(!dev.complete());
    match apply(&events, "dev") {
        Decision::NothingToDo(why) => {
            assert!(why.contains("waits for network.outputs.vpc_id"), "{why}")
        }
        other => panic!("expected nothing to do, got {other:?}"),
    }
}

#[test]
fn a_plan_made_stale_by_an_upstream_is_refused_even_with_nothing_to_apply() {
    let mut no_changes = planned("dev", "d1", 1, 1);
    if let EventKind::StepSucceeded { plan: Some(r) } = &mut no_changes.kind {
        r.has_changes = false;
    }
    let events = [no_changes, stale_inputs("dev", "d1", 2)];
    let m = missing(apply(&events, "dev"));
    assert_eq!(m.what, "stale");
    assert!(
        m.why
            .contains("changed what it read: vpc_id (network.outputs.vpc_id)"),
        "{}",
        m.why
    );
    assert_eq!(m.command, "phasegate plan --phase 1");
    let progress = fold("CHG-1", &phases(), &with_gates(&events));
    assert!(
        !progress.phase("dev").unwrap().complete(),
        "a stale plan is not done"
    );
    // A new plan clears it.
    let events = [
        events[0].clone(),
        events[1].clone(),
        planned("dev", "d2", 2, 3),
    ];
    assert!(matches!(apply(&events, "dev"), Decision::Proceed(_)));
}
