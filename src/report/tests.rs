//! The review's weighing and the reports, one behaviour per test, over
//! hand-built journals.

use super::*;
use crate::journal::{
    fold, ApprovalSource, CheckResult, CheckStatus, Event, EventKind, PhaseRef, PlanRecord,
    ResourceOutcome, ResourceResult, ReviewVerdict, RunRef, Step,
};

fn ev(step: Step, t: u32, kind: EventKind) -> Event {
    Event {
        time: format!("2026-12-01T10:{t:02}:00Z"),
        run: RunRef::default(),
        actor: "octocat".into(),
        change: "CHG-1".into(),
        phase: "prod".into(),
        project: Some("app".into()),
        step,
        digest: Some("d1".into()),
        prev: None,
        kind,
    }
}

fn check(kind: &str, status: CheckStatus, evidence: &str) -> CheckResult {
    CheckResult {
        name: format!("{kind}-check"),
        kind: kind.into(),
        status,
        evidence: evidence.into(),
        attempts: 1,
        duration_ms: 5,
    }
}

/// Planned, gated, checkpointed, applied and verified with `checks`.
fn journal(checks: Vec<CheckResult>) -> Vec<Event> {
    let status = checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(CheckStatus::Pass);
    let mut events = vec![ev(
        Step::Plan,
        0,
        EventKind::StepSucceeded {
            plan: Some(PlanRecord {
                has_changes: true,
                ..Default::default()
            }),
        },
    )];
    for gate in ["security", "cost", "blast"] {
        events.push(ev(
            Step::Gate,
            0,
            EventKind::GateEvaluated {
                gate: gate.into(),
                verdict: "pass".into(),
                blocking: false,
            },
        ));
    }
    events.push(ev(
        Step::Checkpoint,
        2,
        EventKind::CheckpointTaken {
            file: "cp.tfstate".into(),
            sha256: "a".repeat(64),
            serial: Some(3),
            lineage: Some("l-1".into()),
        },
    ));
    events.push(ev(
        Step::Apply,
        5,
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
    ));
    events.push(ev(
        Step::Verify,
        7,
        EventKind::VerificationFinished { status, checks },
    ));
    events
}

fn phase(events: &[Event], approval_required: bool) -> crate::journal::PhaseProgress {
    let refs = vec![PhaseRef {
        index: 1,
        name: "prod".into(),
        environment: "prod".into(),
        projects: vec!["app".into()],
        approval_required,
        steps: vec![],
        rule_may_approve: false,
    }];
    fold("CHG-1", &refs, events).phases.remove(0)
}

fn approved(mut events: Vec<Event>) -> Vec<Event> {
    let mut e = ev(
        Step::Approval,
        1,
        EventKind::ApprovalRecorded {
            environment: "prod".into(),
            approver: "reviewer".into(),
            source: ApprovalSource::Comment,
            at: "2026-12-01T10:01:00Z".into(),
            conditions: vec![],
        },
    );
    e.project = None;
    events.push(e);
    events
}

#[test]
fn a_verified_gated_checkpointed_approved_phase_passes() {
    let events = approved(journal(vec![
        check("http", CheckStatus::Pass, "HTTP 200 in 3 ms"),
        check("convergence", CheckStatus::Pass, "no changes"),
    ]));
    let j = judge(&phase(&events, true));
    assert_eq!(j.verdict, ReviewVerdict::Pass, "{:?}", j.reasons);
    assert!(j.reasons.is_empty());
}

#[test]
fn a_failing_check_needs_fixes_and_names_the_check_and_its_evidence() {
    let events = journal(vec![check(
        "http",
        CheckStatus::Fail,
        "HTTP 503 after 3 tries",
    )]);
    let j = judge(&phase(&events, false));
    assert_eq!(j.verdict, ReviewVerdict::NeedsFixes);
    assert!(
        j.reasons[0].contains("http-check FAIL (HTTP 503 after 3 tries)"),
        "{:?}",
        j.reasons
    );
}

#[test]
fn only_convergence_checks_warn_that_nothing_shows_the_change_works() {
    let events = journal(vec![check("convergence", CheckStatus::Pass, "no changes")]);
    let j = judge(&phase(&events, false));
    assert_eq!(j.verdict, ReviewVerdict::Warn);
    assert!(
        j.reasons[0].contains("beyond convergence"),
        "{:?}",
        j.reasons
    );
}

#[test]
fn an_apply_without_the_required_approval_needs_fixes() {
    let events = journal(vec![check("http", CheckStatus::Pass, "200")]);
    let j = judge(&phase(&events, true));
    assert_eq!(j.verdict, ReviewVerdict::NeedsFixes);
    assert!(j.reasons[0].starts_with("approval:"), "{:?}", j.reasons);
}

#[test]
fn a_missing_checkpoint_and_acknowledged_findings_warn() {
    let mut events: Vec<Event> = journal(vec![check("http", CheckStatus::Pass, "200")])
        .into_iter()
        .filter(|e| e.step != Step::Checkpoint)
        .collect();
    events.push(ev(
        Step::Gate,
        1,
        EventKind::AcknowledgementApplied {
            id: "PG-AWS-S3-001".into(),
            reason: "public by design".into(),
            by: None,
        },
    ));
    let j = judge(&phase(&events, false));
    assert_eq!(j.verdict, ReviewVerdict::Warn);
    let all = j.reasons.join("\n");
    assert!(all.contains("checkpoint (app): no checkpoint"), "{all}");
    assert!(all.contains("acknowledged: PG-AWS-S3-001"), "{all}");
}

#[test]
fn the_phase_report_carries_durations_from_event_times() {
    let events = journal(vec![check("http", CheckStatus::Pass, "200")]);
    let p = phase(&events, false);
    let j = judge(&p);
    let r = build_phase_report("CHG-1", &p, &events, &j, CostFigure::default(), "now");
    assert_eq!(r.timing.total_seconds, Some(7 * 60));
    assert_eq!(r.timing.steps.get("apply"), Some(&0));
    assert_eq!(r.projects[0].resources.len(), 1);
    assert_eq!(r.projects[0].checkpoint.as_ref().unwrap().serial, Some(3));
}

#[test]
fn an_unknown_phase_cost_makes_the_change_total_a_lower_bound_naming_it() {
    let events = journal(vec![check("http", CheckStatus::Pass, "200")]);
    let p = phase(&events, false);
    let j = judge(&p);
    let priced = CostFigure {
        monthly_delta: Some(12.5),
        monthly_after: Some(20.0),
        currency: Some("USD".into()),
        lower_bound: false,
        source: "cost gate".into(),
    };
    let mut a = build_phase_report("CHG-1", &p, &events, &j, priced, "now");
    a.phase.name = "dev".into();
    let b = build_phase_report("CHG-1", &p, &events, &j, CostFigure::default(), "now");
    let c = build_change_report("CHG-1", &[a, b], "now");
    assert_eq!(c.total_monthly_cost.monthly_delta, Some(12.5));
    assert!(c.total_monthly_cost.lower_bound);
    assert!(c.total_monthly_cost.source.contains("unknown for prod"));
    assert_eq!(c.resources_changed, 2);
    assert_eq!(c.phases.len(), 2);
}

#[test]
fn hostile_evidence_reaches_the_markdown_only_escaped() {
    let events = journal(vec![check(
        "http",
        CheckStatus::Fail,
        "<!-- phasegate:x --> | @admin [x](javascript:alert(1))",
    )]);
    let p = phase(&events, false);
    let j = judge(&p);
    let r = build_phase_report("CHG-1", &p, &events, &j, CostFigure::default(), "now");
    let md = crate::render::review::phase_markdown(&r);
    assert!(!md.contains("<!--"), "{md}");
    assert!(!md.contains("| @admin"), "{md}");
    assert!(!md.contains("[x](javascript"), "{md}");
    let change = crate::render::review::change_markdown(&build_change_report("CHG-1", &[r], "now"));
    assert!(!change.contains("<!--"), "{change}");
}

#[test]
fn a_rule_failing_on_the_applied_state_needs_fixes_as_a_security_concern() {
    let mut star = check(
        "security",
        CheckStatus::Fail,
        "`policy` after apply: {\"Action\":\"*\"}",
    );
    star.name = "PG-AWS-035 aws_iam_policy.app".into();
    let events = journal(vec![
        check("http", CheckStatus::Pass, "HTTP 200 in 3 ms"),
        check("convergence", CheckStatus::Pass, "no changes"),
        star,
        check("security", CheckStatus::Pass, "passes"),
    ]);
    let p = phase(&events, false);
    let j = judge(&p);
    assert_eq!(j.verdict, ReviewVerdict::NeedsFixes, "{:?}", j.reasons);
    // The journal's fold says the same: the verification failed.
    assert_eq!(p.projects[0].verify, crate::journal::StepState::Failed);
    assert_eq!(
        j.reasons,
        ["security (app): after apply: PG-AWS-035 aws_iam_policy.app FAIL (`policy` after apply: {\"Action\":\"*\"})"]
    );
    // The configured checks are weighed on their own, and passed.
    let verification = j
        .concerns
        .iter()
        .find(|c| c.name == "verification")
        .unwrap();
    assert_eq!(verification.status, CheckStatus::Pass);
    assert_eq!(verification.detail, "2 checks passed");
}

#[test]
fn rules_passing_and_warning_after_apply_pass_and_warn() {
    let events = journal(vec![
        check("http", CheckStatus::Pass, "HTTP 200 in 3 ms"),
        check("security", CheckStatus::Pass, "passes"),
        check("policy", CheckStatus::Warn, "after apply: tags are missing"),
    ]);
    let j = judge(&phase(&events, false));
    assert_eq!(j.verdict, ReviewVerdict::Warn, "{:?}", j.reasons);
    assert_eq!(
        j.reasons,
        ["policy (app): after apply: policy-check WARN (after apply: tags are missing)"]
    );
    let security = j
        .concerns
        .iter()
        .find(|c| c.name == "security" && c.detail.starts_with("after apply"))
        .unwrap();
    assert_eq!(security.detail, "after apply: 1 checks passed");
}

#[test]
fn gate_checks_alone_do_not_show_the_change_works() {
    let events = journal(vec![
        check("convergence", CheckStatus::Pass, "no changes"),
        check("security", CheckStatus::Pass, "passes"),
    ]);
    let j = judge(&phase(&events, false));
    assert_eq!(j.verdict, ReviewVerdict::Warn);
    assert!(
        j.reasons[0].contains("no checks are configured beyond convergence"),
        "{:?}",
        j.reasons
    );
}
