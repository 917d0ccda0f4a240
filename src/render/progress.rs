//! Views of the folded journal: a plain-text status for terminals and CI
//! logs, and the markdown phase block that follows the journal in the PR
//! comment. Every name and message from the journal passes the one escaper
//! before it reaches markdown.

use crate::journal::short_digest as short;
use crate::journal::{CheckResult, PhaseProgress, Progress, ProjectProgress, StepState};
use crate::render::escape::{code_inline, inline, link_target};

/// Where one project of a phase stands, in words.
pub fn project_line(p: &ProjectProgress) -> String {
    let mut parts = vec![format!("plan {}, apply {}", p.plan.word(), p.apply.word())];
    if !p.waiting_on.is_empty() {
        parts.push(format!(
            "waiting for {} (planned once its upstream is applied)",
            p.waiting_on.join(", ")
        ));
    }
    if let Some(s) = &p.stale {
        parts.push(if s.inputs.is_empty() {
            format!("stale: change {} applied it since", s.by_change)
        } else {
            format!("stale: an upstream apply changed {}", s.inputs.join(", "))
        });
    }
    if !p.results.is_empty() {
        let (a, f, u) = p.result_counts();
        parts.push(format!("{a} applied, {f} failed, {u} untouched"));
    }
    match p.converged {
        Some(true) if p.apply == StepState::Succeeded => parts.push("converged".into()),
        Some(false) => parts.push("not converged".into()),
        _ => {}
    }
    if let Some(v) = &p.verification {
        parts.push(format!(
            "verification {} ({})",
            crate::verify::status_word(v.status),
            crate::render::verify::count(v.checks.len())
        ));
    }
    if !p.blocking_gates.is_empty() {
        parts.push(format!("blocked by {}", p.blocking_gates.join(", ")));
    }
    if let Some(d) = &p.digest {
        parts.push(format!("digest {}", short(d)));
    }
    parts.join("; ")
}

/// The whole change as text: one line per phase and project, the last
/// refusal, and the next step.
pub fn text(progress: &Progress) -> String {
    let mut out = vec![format!(
        "change {}: {}",
        progress.change,
        serde_json::to_value(progress.overall)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )];
    for phase in &progress.phases {
        out.push(format!(
            "  phase {} {} ({}): {}",
            phase.index,
            phase.name,
            phase.environment,
            phase.state.word()
        ));
        for p in &phase.projects {
            out.push(format!("    {}: {}", p.project, project_line(p)));
            for r in p.results.iter().filter(|r| r.error.is_some()) {
                out.push(format!(
                    "      failed {}: {}",
                    r.address,
                    r.error.as_deref().unwrap_or_default()
                ));
            }
            if let Some(r) = &p.last_refusal {
                out.push(format!("      last refusal ({}): {}", r.what, r.why));
            }
            let rechecked = p.applied_gate_checks();
            let pending = p.unknown_at_plan().len();
            if !rechecked.is_empty() {
                for c in rechecked {
                    out.push(format!(
                        "      after apply {} {} ({}): {}",
                        crate::verify::status_word(c.status),
                        c.name,
                        c.kind,
                        c.evidence
                    ));
                }
            } else if pending > 0 && !p.verified() {
                out.push(format!(
                    "      could not be checked until apply: {pending} (checked again after apply by verify)"
                ));
            }
        }
    }
    match &progress.next {
        Some(next) => {
            out.push(format!("next: {}", next.command));
            out.push(format!("  ({})", next.reason));
        }
        None => out.push("next: nothing, the change is done".into()),
    }
    out.join("\n")
}

/// Where a phase stands, as the comment's heading word.
pub fn phase_headline(phase: &PhaseProgress) -> String {
    let applying = phase
        .projects
        .iter()
        .any(|p| p.apply == StepState::InProgress);
    // Stopped by a signal, or re-verified after its job died: no longer
    // running, and waiting for a decision.
    let interrupted = phase.projects.iter().any(|p| {
        p.apply == StepState::InProgress
            && p.in_flight
                .as_ref()
                .is_some_and(|f| f.stopped.is_some() || f.decision.is_some())
    });
    let failed = phase.projects.iter().any(|p| p.apply == StepState::Failed);
    let awaiting = phase.approval_required
        && phase.approvals_of_current().is_empty()
        && phase.projects.iter().any(|p| p.apply == StepState::Pending);
    if failed {
        "failed".into()
    } else if interrupted {
        "interrupted".into()
    } else if applying {
        "applying".into()
    } else if phase.done() {
        "applied".into()
    } else if awaiting && phase.digest.is_some() {
        "awaiting approval".into()
    } else if phase
        .projects
        .iter()
        .all(|p| p.plan == StepState::Succeeded)
    {
        "planned".into()
    } else {
        phase.state.word().into()
    }
}

/// At most this many findings are listed as waiting for apply.
const PENDING_LISTED: usize = 20;

/// The security findings the plan could not check until apply: listed as
/// waiting until `verify` journals them, then replaced by their results
/// (and any finding new after apply) in a table of their own.
fn applied_gate_markdown(p: &ProjectProgress) -> Vec<String> {
    let mut out = vec![];
    let rechecked: Vec<CheckResult> = p.applied_gate_checks().into_iter().cloned().collect();
    if let Some(worst) = rechecked.iter().map(|c| c.status).max() {
        out.push(String::new());
        out.push(format!(
            "Gates checked again after apply, {}: {}",
            inline(&p.project),
            crate::verify::status_word(worst)
        ));
        out.push(String::new());
        out.push(crate::render::verify::table_markdown(&rechecked));
        return out;
    }
    let pending = p.unknown_at_plan();
    if pending.is_empty() || p.verified() {
        return out;
    }
    out.push(String::new());
    out.push(format!(
        "Could not be checked until apply, {}: {} (checked again after apply by `verify`)",
        inline(&p.project),
        pending.len()
    ));
    out.push(String::new());
    for f in pending.iter().take(PENDING_LISTED) {
        out.push(format!(
            "- {} {}: {} is known only after apply",
            code_inline(&f.id),
            code_inline(f.address.as_deref().unwrap_or_default()),
            code_inline(f.unknown.as_deref().unwrap_or_default())
        ));
    }
    if pending.len() > PENDING_LISTED {
        out.push(format!("- …and {} more", pending.len() - PENDING_LISTED));
    }
    out
}

/// The journal-driven block of one phase in the PR comment.
pub fn phase_markdown(progress: &Progress, phase: &PhaseProgress, approvers: &[String]) -> String {
    let mut out = vec![format!(
        "**Phase {} {} ({}): {}**",
        phase.index,
        inline(&phase.name),
        inline(&phase.environment),
        phase_headline(phase)
    )];
    out.push(String::new());
    for p in &phase.projects {
        out.push(format!(
            "- {}: {}",
            inline(&p.project),
            inline(&project_line(p))
        ));
        for r in p.results.iter().filter(|r| r.error.is_some()) {
            out.push(format!(
                "  - failed {}: {}",
                code_inline(&r.address),
                inline(r.error.as_deref().unwrap_or_default())
            ));
        }
        if let Some(r) = &p.last_refusal {
            out.push(format!(
                "  - refused ({}): {}",
                inline(&r.what),
                inline(&r.why)
            ));
        }
        if let Some(s) = &p.stale {
            let link = s
                .link
                .as_deref()
                .and_then(link_target)
                .map(|u| format!(" ([its apply]({u}))"))
                .unwrap_or_default();
            let why = if s.inputs.is_empty() {
                format!(
                    "change {} applied {} in {} after this plan{link}",
                    inline(&s.by_change),
                    inline(&p.project),
                    inline(&phase.environment)
                )
            } else {
                let changed: Vec<String> = s.inputs.iter().map(|i| inline(i)).collect();
                format!(
                    "an upstream apply in {} changed what this plan read: {}",
                    inline(&phase.environment),
                    changed.join(", ")
                )
            };
            out.push(format!(
                "  - **stale**: {why}; plan again, and approve the new plan (an approval of this one no longer counts)"
            ));
        }
        if !p.waiting_on.is_empty() {
            let sources: Vec<String> = p.waiting_on.iter().map(|s| code_inline(s)).collect();
            out.push(format!(
                "  - **waiting** for {}: planned once its upstream is applied in {}",
                sources.join(", "),
                inline(&phase.environment)
            ));
        }
    }
    for p in &phase.projects {
        if let Some(v) = &p.verification {
            let checks: Vec<CheckResult> = v
                .checks
                .iter()
                .filter(|c| !c.is_applied_gate())
                .cloned()
                .collect();
            out.push(String::new());
            out.push(format!(
                "Verification of {}: {}",
                inline(&p.project),
                crate::verify::status_word(v.status)
            ));
            out.push(String::new());
            out.push(crate::render::verify::table_markdown(&checks));
        }
        out.extend(applied_gate_markdown(p));
    }
    if phase_headline(phase) == "awaiting approval" {
        let who = if approvers.is_empty() {
            "the environment's required reviewers".to_string()
        } else {
            approvers
                .iter()
                .map(|a| inline(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(String::new());
        out.push(format!(
            "Awaiting approval of plan {} by {who}.",
            code_inline(phase.digest.as_deref().unwrap_or_default())
        ));
    }
    if let Some(next) = &progress.next {
        out.push(String::new());
        out.push(format!(
            "Next: {} ({})",
            code_inline(&next.command),
            inline(&next.reason)
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{
        fold, CheckStatus, Event, EventKind, GateFinding, PhaseRef, PlanRecord, ResourceOutcome,
        ResourceResult, RunRef, Step,
    };

    fn ev(step: Step, kind: EventKind) -> Event {
        Event {
            time: "2026-12-01T10:00:00Z".into(),
            run: RunRef::default(),
            actor: "octocat".into(),
            change: "CHG-1".into(),
            phase: "dev".into(),
            project: Some("app".into()),
            step,
            digest: Some("d1".into()),
            kind,
            prev: None,
        }
    }

    fn planned() -> Vec<Event> {
        vec![
            ev(
                Step::Plan,
                EventKind::StepSucceeded {
                    plan: Some(PlanRecord {
                        has_changes: true,
                        ..Default::default()
                    }),
                },
            ),
            ev(
                Step::Gate,
                EventKind::GateFindings {
                    gate: "security".into(),
                    findings: vec![
                        GateFinding {
                            id: "PG-AWS-035".into(),
                            address: Some("aws_iam_policy.a_b".into()),
                            unknown: Some("policy".into()),
                        },
                        GateFinding {
                            id: "PG-AWS-011".into(),
                            address: Some("aws_s3_bucket.logs".into()),
                            unknown: None,
                        },
                    ],
                },
            ),
        ]
    }

    fn block(events: &[Event]) -> String {
        let refs = [PhaseRef {
            index: 1,
            name: "dev".into(),
            environment: "dev".into(),
            projects: vec!["app".into()],
            approval_required: false,
            steps: vec![],
            rule_may_approve: false,
        }];
        let progress = fold("CHG-1", &refs, events);
        phase_markdown(&progress, &progress.phases[0], &[])
    }

    #[test]
    fn an_apply_re_verified_after_its_job_died_reads_interrupted_not_applying() {
        let refs = [PhaseRef {
            index: 1,
            name: "dev".into(),
            environment: "dev".into(),
            projects: vec!["app".into()],
            approval_required: false,
            steps: vec![],
            rule_may_approve: false,
        }];
        let mut events = planned();
        events.push(ev(Step::Apply, EventKind::ApplyStarted));
        let progress = fold("CHG-1", &refs, &events);
        assert_eq!(phase_headline(&progress.phases[0]), "applying");
        events.push(ev(
            Step::Apply,
            EventKind::Refusal {
                what: "interrupted".into(),
                why: "the apply of plan d1 was interrupted".into(),
                command: Some("phasegate apply --phase 1 --retry".into()),
            },
        ));
        let progress = fold("CHG-1", &refs, &events);
        assert_eq!(phase_headline(&progress.phases[0]), "interrupted");
    }

    #[test]
    fn unknowns_wait_for_apply_then_give_way_to_their_results() {
        let mut events = planned();
        let before = block(&events);
        assert!(
            before.contains("Could not be checked until apply, app: 1"),
            "{before}"
        );
        assert!(
            before.contains("<code>PG-AWS-035</code> <code>aws&#95;iam&#95;policy.a&#95;b</code>"),
            "{before}"
        );
        assert!(
            !before.contains("PG-AWS-011"),
            "failures are the gate's own: {before}"
        );

        events.push(ev(
            Step::Apply,
            EventKind::ApplyFinished {
                results: vec![ResourceResult {
                    address: "aws_iam_policy.a_b".into(),
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
            EventKind::VerificationFinished {
                status: CheckStatus::Fail,
                checks: vec![
                    CheckResult {
                        name: "convergence".into(),
                        kind: "convergence".into(),
                        status: CheckStatus::Pass,
                        evidence: "no changes".into(),
                        attempts: 1,
                        duration_ms: 9,
                    },
                    CheckResult {
                        name: "PG-AWS-035 aws_iam_policy.a_b".into(),
                        kind: "security".into(),
                        status: CheckStatus::Fail,
                        evidence: "`policy` after apply: {\"Action\":\"*\"} | <b>".into(),
                        attempts: 1,
                        duration_ms: 0,
                    },
                ],
            },
        ));
        let after = block(&events);
        assert!(
            !after.contains("Could not be checked until apply"),
            "{after}"
        );
        assert!(
            after.contains("Gates checked again after apply, app: FAIL"),
            "{after}"
        );
        let row = after
            .lines()
            .find(|l| l.contains("PG-AWS-035"))
            .expect("the result row");
        assert!(
            row.starts_with("| FAIL | PG-AWS-035 aws&#95;iam&#95;policy.a&#95;b (security) |"),
            "{row}"
        );
        assert!(
            !row.contains("<b>") && !row.contains(" | <"),
            "escaped: {row}"
        );
        // The verification table holds the configured checks only.
        let verification = after
            .split("Gates checked again after apply")
            .next()
            .unwrap();
        assert!(
            verification.contains("| PASS | convergence (convergence)"),
            "{after}"
        );
        assert!(!verification.contains("PG-AWS-035 aws"), "{after}");
        let text = text(&fold(
            "CHG-1",
            &[PhaseRef {
                index: 1,
                name: "dev".into(),
                environment: "dev".into(),
                projects: vec!["app".into()],
                approval_required: false,
                steps: vec![],
                rule_may_approve: false,
            }],
            &events,
        ));
        assert!(
            text.contains("after apply FAIL PG-AWS-035 aws_iam_policy.a_b (security)"),
            "{text}"
        );
    }

    #[test]
    fn a_long_list_of_unknowns_is_cut() {
        let mut events = planned();
        if let EventKind::GateFindings { findings, .. } = &mut events[1].kind {
            *findings = (0..25)
                .map(|i| GateFinding {
                    id: "PG-AWS-035".into(),
                    address: Some(format!("aws_iam_policy.p{i}")),
                    unknown: Some("policy".into()),
                })
                .collect();
        }
        let shown = block(&events);
        assert!(
            shown.contains("Could not be checked until apply, app: 25"),
            "{shown}"
        );
        assert_eq!(
            shown.matches("is known only after apply").count(),
            PENDING_LISTED
        );
        assert!(shown.contains("- …and 5 more"), "{shown}");
    }
}
