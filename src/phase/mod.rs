//! The step machine: given the journal's progress and a request ("apply
//! phase N, project P"), decide whether the step may run and, when not,
//! which prerequisite is missing and which command supplies it. Pure: the
//! commands gather evidence (approvals, files) and journal it first; this
//! module never imports `github` or `iac`.

use crate::journal::{ApprovalSource, PhaseProgress, Progress, StepState};

/// What a job asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub action: Action,
    pub phase: &'a str,
    pub project: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Plan,
    Apply,
}

/// The machine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on. For an apply: the digest and the saved plan that may be applied.
    Proceed(Approved),
    /// Nothing to do (the plan has no changes, or the digest is applied).
    NothingToDo(String),
    /// Refused: exit 1 naming what is missing and how to supply it.
    Refuse(Missing),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Approved {
    pub digest: Option<String>,
    pub plan_file: Option<String>,
    pub plan_sha256: Option<String>,
    pub destroys: bool,
}

/// A missing prerequisite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Short and stable: `plan`, `gate`, `approval`, `previous-phase`, …
    pub what: &'static str,
    pub why: String,
    /// The command that would supply it.
    pub command: String,
}

/// Decides `req` against the folded journal.
pub fn decide(progress: &Progress, req: &Request<'_>) -> Decision {
    let Some(phase) = progress.phase(req.phase) else {
        return refuse(
            "phase",
            format!("phase {} is not in this change", req.phase),
            "phasegate status".into(),
        );
    };
    match req.action {
        // Planning has no prerequisite in the journal: a PR plans every
        // environment so reviewers see them all.
        Action::Plan => Decision::Proceed(Approved::default()),
        Action::Apply => decide_apply(progress, phase, req.project),
    }
}

fn refuse(what: &'static str, why: String, command: String) -> Decision {
    Decision::Refuse(Missing { what, why, command })
}

fn decide_apply(progress: &Progress, phase: &PhaseProgress, project: &str) -> Decision {
    let n = phase.index;
    let plan_cmd = format!("phasegate plan --phase {n}");
    let Some(p) = phase.project(project) else {
        return refuse(
            "plan",
            format!("project {project} has no plan in phase {}", phase.name),
            plan_cmd,
        );
    };
    if p.plan != StepState::Succeeded || p.digest.is_none() {
        return refuse(
            "plan",
            format!(
                "no succeeded plan for {project} in phase {} ({})",
                phase.name, phase.environment
            ),
            plan_cmd,
        );
    }
    let digest = p.digest.clone().unwrap_or_default();
    let planned = p.planned.clone().unwrap_or_default();
    if !planned.has_changes {
        return Decision::NothingToDo(format!(
            "the plan {} of {project} has no changes",
            short(&digest)
        ));
    }
    if p.apply == StepState::Succeeded && p.applied_digest.as_deref() == Some(digest.as_str()) {
        return Decision::NothingToDo(format!(
            "plan {} of {project} is already applied",
            short(&digest)
        ));
    }
    if !p.blocking_gates.is_empty() {
        return refuse(
            "gate",
            format!(
                "the {} gate blocks plan {} of {project}; fix the change or acknowledge it in the change plan",
                p.blocking_gates.join(", "),
                short(&digest)
            ),
            plan_cmd,
        );
    }
    if let Some(prev) = progress.phases.iter().rev().find(|q| q.index < n) {
        if prev.environment != phase.environment && !prev.done() {
            return refuse(
                "previous-phase",
                format!(
                    "phase {} ({}) must be applied and converged before {} is entered",
                    prev.name, prev.environment, phase.environment
                ),
                progress
                    .next
                    .as_ref()
                    .map(|s| s.command.clone())
                    .unwrap_or_else(|| format!("phasegate apply --phase {}", prev.index)),
            );
        }
    }
    if phase.approval_required {
        if let Some(refusal) = approval_refusal(phase, p) {
            return Decision::Refuse(refusal);
        }
    }
    Decision::Proceed(Approved {
        digest: Some(digest),
        plan_file: planned.plan_file,
        plan_sha256: planned.plan_sha256,
        destroys: planned.destroys,
    })
}

/// Approval evidence bound to the phase digest. An environment review counts
/// only in the run whose plan recorded the digest, and only when the review
/// came after that plan.
fn approval_refusal(
    phase: &PhaseProgress,
    project: &crate::journal::ProjectProgress,
) -> Option<Missing> {
    let digest = phase.digest.clone().unwrap_or_default();
    let command = format!(
        "/phasegate approve {} {}",
        phase.environment,
        short(&digest)
    );
    let valid = phase
        .approvals_of_current()
        .into_iter()
        .any(|a| match a.source {
            ApprovalSource::Comment => true,
            ApprovalSource::EnvironmentReview => {
                let same_run =
                    a.run.id.is_some() && project.plan_run.as_ref().and_then(|r| r.id) == a.run.id;
                let after_plan = project
                    .plan_time
                    .as_deref()
                    .is_some_and(|t| !later(t, &a.at));
                same_run && after_plan
            }
        });
    if valid {
        return None;
    }
    let stale: Vec<String> = phase
        .approvals
        .iter()
        .filter(|a| a.digest.is_some() && a.digest != phase.digest)
        .map(|a| {
            format!(
                "@{} approved plan {}",
                a.approver,
                short(a.digest.as_deref().unwrap_or_default())
            )
        })
        .collect();
    let why = if stale.is_empty() {
        format!(
            "plan {} of phase {} ({}) has no approval",
            short(&digest),
            phase.name,
            phase.environment
        )
    } else {
        format!(
            "plan {} of phase {} ({}) has no approval; {} — an older plan, which does not count",
            short(&digest),
            phase.name,
            phase.environment,
            stale.join(", ")
        )
    };
    Some(Missing {
        what: "approval",
        why,
        command,
    })
}

/// Whether RFC 3339 time `a` is after `b`; unreadable times never are.
fn later(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => true,
    }
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[cfg(test)]
mod tests;
