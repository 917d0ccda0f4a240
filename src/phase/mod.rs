//! The step machine: given the journal's progress and a request ("apply
//! phase N, project P"), decide whether the step may run and, when not,
//! which prerequisite is missing and which command supplies it. Pure: the
//! commands gather evidence (approvals, files) and journal it first; this
//! module never imports `github` or `iac`.
//!
//! The order it enforces: plan → gates → approval → apply → verify → review
//! (`pass` or `warn` for the phase's current digest) → the next environment.
//! A rollback needs an apply that started; applying its revert plan needs
//! the same gates and approval as any apply, bound to the revert digest.

pub mod auto_approval;
pub mod operation;

use crate::journal::short_digest as short;
use crate::journal::{
    ApprovalSource, ErrorClass, PhaseProgress, Progress, ProjectProgress, RunRef, StepState,
};

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
    /// Verify a project's applied plan.
    Verify,
    /// Review the whole phase (the request's project is ignored).
    Review,
    /// Plan a revert (or restore the state) of a project's apply.
    Rollback,
    /// Apply a project's revert plan.
    RollbackApply,
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
    /// The upstream outputs the plan read, compared again before its apply.
    pub inputs: Vec<crate::journal::PlannedInput>,
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
        Action::Verify => decide_verify(phase, req.project),
        Action::Review => decide_review(phase),
        Action::Rollback => decide_rollback(phase, req.project),
        Action::RollbackApply => decide_rollback_apply(phase, req.project),
    }
}

fn decide_verify(phase: &PhaseProgress, project: &str) -> Decision {
    let n = phase.index;
    let Some(p) = phase.project(project) else {
        return refuse(
            "plan",
            format!("project {project} has no plan in phase {}", phase.name),
            format!("phasegate plan --phase {n}"),
        );
    };
    match p.apply {
        StepState::Succeeded => Decision::Proceed(Approved {
            digest: p.applied_digest.clone(),
            ..Approved::default()
        }),
        StepState::Skipped => Decision::NothingToDo(format!(
            "{project} had nothing to apply in phase {}",
            phase.name
        )),
        _ => refuse(
            "apply",
            format!(
                "{project} has no succeeded apply in phase {} (apply {}); verification proves an apply",
                phase.name,
                p.apply.word()
            ),
            format!("phasegate apply --phase {n}"),
        ),
    }
}

/// A review needs every project applied (or skipped, or rolled back, which
/// the review reports) and every applied project verified.
fn decide_review(phase: &PhaseProgress) -> Decision {
    if phase.projects.is_empty() {
        return refuse(
            "plan",
            format!("phase {} has no projects planned", phase.name),
            format!("phasegate plan --phase {}", phase.index),
        );
    }
    for p in &phase.projects {
        if let Some(m) = unreviewable(phase, p) {
            return Decision::Refuse(m);
        }
    }
    if let Some(m) = steps_open(phase) {
        return Decision::Refuse(m);
    }
    Decision::Proceed(Approved {
        digest: phase.digest.clone(),
        ..Approved::default()
    })
}

/// For a review asked for from one project's job (`review --project P`, as
/// the generated workflows run it, once per changed project after that
/// project's verify): why the phase cannot be reviewed *yet*, when the only
/// obstacle is another project whose plan, apply or verification has not
/// finished. That project's own job reviews the phase once it is verified:
/// the journal is written in order, so the job verified last sees every
/// verification and no job has to wait. `None` when `project` itself is
/// not ready, or another project failed: then the review refuses as usual.
pub fn review_waits_for(progress: &Progress, phase: &str, project: &str) -> Option<String> {
    let phase = progress.phase(phase)?;
    let own = phase.project(project)?;
    if unreviewable(phase, own).is_some() {
        return None;
    }
    let failed = |p: &ProjectProgress| p.plan == StepState::Failed || p.apply == StepState::Failed;
    if phase.projects.iter().any(failed) {
        return None;
    }
    phase
        .projects
        .iter()
        .filter(|p| p.project != project)
        .find_map(|p| unreviewable(phase, p).map(|m| m.why))
}

/// An operation step of the phase that has not succeeded: the phase is not
/// reviewed before its steps ran. A review waiting for them refuses (it does
/// not wait as for another project's job): the steps may be waiting for a
/// later run, and the chain must not move on meanwhile.
fn steps_open(phase: &PhaseProgress) -> Option<Missing> {
    let op = phase.open_step(false)?;
    Some(Missing {
        what: "steps",
        why: format!(
            "step {} of phase {} has not succeeded ({})",
            op.id,
            phase.name,
            op_word(op)
        ),
        command: format!("phasegate steps --phase {}", phase.index),
    })
}

fn op_word(op: &crate::journal::OperationProgress) -> &'static str {
    match &op.state.ended {
        Some(operation::Ended::Failed { .. }) => "failed",
        Some(operation::Ended::RolledBack { .. }) => "rolled back",
        Some(operation::Ended::Aborted { .. }) => "aborted",
        Some(operation::Ended::Succeeded { .. }) => "succeeded",
        None if op.state.waiting => "its poll goes on",
        None if op.state.attempts > 0 => "running",
        None => "not run yet",
    }
}

/// May the phase's operation steps run? The phase is planned and gated, the
/// previous environment is complete, and where the phase needs an approval
/// (its environment does, or a step is irreversible) its current digest,
/// which binds every step's commands and preview, is approved.
pub fn decide_steps(progress: &Progress, phase_name: &str) -> Decision {
    let Some(phase) = progress.phase(phase_name) else {
        return refuse(
            "phase",
            format!("phase {phase_name} is not in this change"),
            "phasegate status".into(),
        );
    };
    let n = phase.index;
    let plan_cmd = format!("phasegate plan --phase {n}");
    let (Some(digest), Some(first)) = (phase.digest.clone(), phase.projects.first()) else {
        return refuse(
            "plan",
            format!("phase {} has no plan", phase.name),
            plan_cmd,
        );
    };
    for p in &phase.projects {
        let d = p.digest.clone().unwrap_or_default();
        if p.apply == StepState::Pending {
            if let Some(m) = ungated(&p.gates, &d, &p.project, &plan_cmd, "plan") {
                return Decision::Refuse(m);
            }
        }
        if !p.blocking_gates.is_empty() {
            return refuse(
                "gate",
                format!(
                    "the {} gate blocks plan {} of {}",
                    p.blocking_gates.join(", "),
                    short(&d),
                    p.project
                ),
                plan_cmd,
            );
        }
    }
    for op in &phase.operations {
        if !phase.step_digests.contains_key(&op.id) {
            return refuse(
                "plan",
                format!(
                    "step {} has no preview in the plan of phase {}",
                    op.id, phase.name
                ),
                plan_cmd,
            );
        }
    }
    if let Some(refusal) = entry_refusal(progress, phase, first) {
        return Decision::Refuse(refusal);
    }
    Decision::Proceed(Approved {
        digest: Some(digest),
        ..Approved::default()
    })
}

fn unreviewable(phase: &PhaseProgress, p: &ProjectProgress) -> Option<Missing> {
    let n = phase.index;
    let name = &p.project;
    if p.plan != StepState::Succeeded {
        return Some(Missing {
            what: "plan",
            why: format!("{name} has no succeeded plan in phase {}", phase.name),
            command: format!("phasegate plan --phase {n}"),
        });
    }
    match p.apply {
        StepState::Skipped | StepState::RolledBack => None,
        StepState::Succeeded if p.verified() => None,
        StepState::Succeeded => Some(Missing {
            what: "verify",
            why: format!(
                "{name} is applied in phase {} but not verified; a review weighs the verification",
                phase.name
            ),
            command: format!("phasegate verify --phase {n}"),
        }),
        other => Some(Missing {
            what: "apply",
            why: format!(
                "{name} is not applied in phase {} (apply {})",
                phase.name,
                other.word()
            ),
            command: format!("phasegate apply --phase {n}"),
        }),
    }
}

fn decide_rollback(phase: &PhaseProgress, project: &str) -> Decision {
    let started = phase.project(project).is_some_and(|p| {
        p.checkpoint.is_some()
            || matches!(
                p.apply,
                StepState::InProgress
                    | StepState::Succeeded
                    | StepState::Failed
                    | StepState::RolledBack
            )
    });
    if !started {
        return refuse(
            "apply",
            format!(
                "no apply of {project} started in phase {}: there is nothing to roll back",
                phase.name
            ),
            "phasegate status".into(),
        );
    }
    Decision::Proceed(Approved::default())
}

/// The revert plan goes through the same checks as any plan: its gates and,
/// where the environment needs one, an approval of the revert digest.
fn decide_rollback_apply(phase: &PhaseProgress, project: &str) -> Decision {
    let n = phase.index;
    let plan_cmd = format!("phasegate rollback --phase {n}");
    let Some(r) = phase.project(project).and_then(|p| p.revert.as_ref()) else {
        return refuse(
            "rollback-plan",
            format!(
                "{project} has no revert plan in phase {}: plan the revert first",
                phase.name
            ),
            plan_cmd,
        );
    };
    let digest = r.digest.clone().unwrap_or_default();
    if !r.planned.has_changes {
        return Decision::NothingToDo(format!(
            "the revert plan {} of {project} has no changes",
            short(&digest)
        ));
    }
    if r.applied_digest.as_deref() == Some(digest.as_str()) {
        return Decision::NothingToDo(format!(
            "the revert plan {} of {project} is already applied",
            short(&digest)
        ));
    }
    if let Some(m) = ungated(&r.gates, &digest, project, &plan_cmd, "the revert plan") {
        return Decision::Refuse(m);
    }
    if !r.blocking_gates.is_empty() {
        return refuse(
            "gate",
            format!(
                "the {} gate blocks the revert plan {} of {project}",
                r.blocking_gates.join(", "),
                short(&digest)
            ),
            plan_cmd,
        );
    }
    if phase.approval_required {
        let bound = Bound {
            digest: &digest,
            plan_run: Some(&r.plan_run),
            plan_time: Some(&r.plan_time),
            after_review: None,
        };
        if let Some(m) = approval_missing(phase, &bound, "the revert plan") {
            return Decision::Refuse(m);
        }
    }
    Decision::Proceed(Approved {
        digest: Some(digest),
        plan_file: r.planned.plan_file.clone(),
        plan_sha256: r.planned.plan_sha256.clone(),
        destroys: r.planned.destroys,
        inputs: vec![],
    })
}

pub use crate::journal::progress::REQUIRED_GATES;

/// A plan whose digest lacks a verdict of a required gate was never gated
/// (the journal holds only verdicts given for the current digest): it is
/// never applied, however it got into the journal.
fn ungated(
    gates: &std::collections::BTreeMap<String, String>,
    digest: &str,
    project: &str,
    plan_cmd: &str,
    what: &str,
) -> Option<Missing> {
    let missing: Vec<&str> = REQUIRED_GATES
        .into_iter()
        .filter(|g| !gates.contains_key(*g))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(Missing {
        what: "gate",
        why: format!(
            "{what} {} of {project} has no verdict of the {} gate{}: it was never gated, and an ungated plan is never applied",
            short(digest),
            missing.join(", "),
            if missing.len() == 1 { "" } else { "s" },
        ),
        command: plan_cmd.to_string(),
    })
}

fn refuse(what: &'static str, why: String, command: String) -> Decision {
    Decision::Refuse(Missing { what, why, command })
}

fn decide_apply(progress: &Progress, phase: &PhaseProgress, project: &str) -> Decision {
    let n = phase.index;
    let plan_cmd = format!("phasegate plan --phase {n}");
    // Waiting for an upstream's outputs is no failure of this apply: the
    // upstream is applied first, then this project is planned.
    if let Some(p) = phase.project(project).filter(|p| !p.waiting_on.is_empty()) {
        return Decision::NothingToDo(format!(
            "{project} waits for {} to plan with: it is planned once its upstream is applied in {}",
            p.waiting_on.join(", "),
            phase.environment
        ));
    }
    let planned = phase
        .project(project)
        .filter(|p| p.plan == StepState::Succeeded && p.digest.is_some());
    let Some(p) = planned else {
        return refuse(
            "plan",
            format!(
                "no succeeded plan for {project} in phase {} ({})",
                phase.name, phase.environment
            ),
            plan_cmd,
        );
    };
    let digest = p.digest.clone().unwrap_or_default();
    let planned = p.planned.clone().unwrap_or_default();
    if let Some(stale) = &p.stale {
        return refuse(
            "stale",
            format!(
                "plan {} of {project} is stale: {}; it is never applied: plan again and approve the new plan",
                short(&digest),
                stale.why(project, &phase.environment)
            ),
            plan_cmd,
        );
    }
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
    if let Some(m) = ungated(&p.gates, &digest, project, &plan_cmd, "plan") {
        return Decision::Refuse(m);
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
    if let Some(refusal) = entry_refusal(progress, phase, p) {
        return Decision::Refuse(refusal);
    }
    if let Some(op) = phase.open_step(true) {
        return refuse(
            "steps",
            format!(
                "the apply of phase {} requires step {}, which has not succeeded",
                phase.name, op.id
            ),
            format!("phasegate steps --phase {n}"),
        );
    }
    Decision::Proceed(Approved {
        digest: Some(digest),
        plan_file: planned.plan_file,
        plan_sha256: planned.plan_sha256,
        destroys: planned.destroys,
        inputs: planned.inputs,
    })
}

/// What keeps `phase` from acting on its plan (as `project` planned it): the
/// nearest earlier phase the change touches is not complete (one it does not
/// touch, another environment's own root module, has nothing to wait for),
/// or the phase needs an approval it lacks.
fn entry_refusal(
    progress: &Progress,
    phase: &PhaseProgress,
    project: &ProjectProgress,
) -> Option<Missing> {
    let prev = progress
        .phases
        .iter()
        .rev()
        .find(|q| q.index < phase.index && q.in_change())
        .filter(|prev| prev.environment != phase.environment);
    if let Some(prev) = prev.filter(|p| !p.complete()) {
        return Some(previous_phase(prev, &phase.environment));
    }
    if phase.approval_required {
        return approval_refusal(phase, project, prev);
    }
    None
}

/// Why the previous environment's phase does not let `entering` in yet, and
/// the command that moves it on: its apply, its verification, or its review
/// (`pass` or `warn` for its current digest).
fn previous_phase(prev: &PhaseProgress, entering: &str) -> Missing {
    let n = prev.index;
    let intro = format!(
        "phase {} ({}) must be applied, verified and reviewed pass or warn before {entering} is entered",
        prev.name, prev.environment
    );
    let missing = |why: String, command: String| Missing {
        what: "previous-phase",
        why: format!("{intro}: {why}"),
        command,
    };
    if prev.projects.is_empty() {
        return missing(
            "it has no plan".into(),
            format!("phasegate plan --phase {n}"),
        );
    }
    for p in &prev.projects {
        if let Some(m) = unreviewable(prev, p) {
            return missing(m.why, m.command);
        }
        if !p.applied() {
            return missing(
                format!("{} was rolled back", p.project),
                format!("phasegate plan --phase {n}"),
            );
        }
    }
    let review = format!("phasegate review --phase {n}");
    match &prev.review {
        None => missing("it has not been reviewed".into(), review),
        Some(r) if r.digest != prev.digest => missing(
            "its review judged an older plan; review the current one".into(),
            review,
        ),
        // A needs-fixes verdict of the current plan stands until the change
        // is fixed and planned again (or rolled back): reviewing again would
        // only repeat it.
        Some(r) => missing(
            format!(
                "its review said {}: {}",
                r.verdict.as_str(),
                if r.reasons.is_empty() {
                    "no reason given".into()
                } else {
                    r.reasons.join("; ")
                }
            ),
            if r.verdict.lets_through() {
                review
            } else {
                format!("phasegate plan --phase {n}")
            },
        ),
    }
}

/// The plan an approval must name: its digest and, for environment reviews,
/// the run and time of the plan that recorded it.
struct Bound<'a> {
    digest: &'a str,
    plan_run: Option<&'a RunRef>,
    plan_time: Option<&'a str>,
    /// The previous environment's phase (name, environment) and the time of
    /// its review: an approval given before it does not count, as nobody
    /// approving then could know how that environment went.
    after_review: Option<(&'a str, &'a str, &'a str)>,
}

/// Approval evidence bound to the phase digest. An environment review counts
/// only in the run whose plan recorded the digest, and only when the review
/// came after that plan.
fn approval_refusal(
    phase: &PhaseProgress,
    project: &ProjectProgress,
    prev: Option<&PhaseProgress>,
) -> Option<Missing> {
    let digest = phase.digest.clone().unwrap_or_default();
    let bound = Bound {
        digest: &digest,
        plan_run: project.plan_run.as_ref(),
        plan_time: project.plan_time.as_deref(),
        after_review: prev.and_then(|p| {
            p.review
                .as_ref()
                .map(|r| (p.name.as_str(), p.environment.as_str(), r.time.as_str()))
        }),
    };
    approval_missing(phase, &bound, "plan")
}

fn approval_missing(phase: &PhaseProgress, bound: &Bound<'_>, what: &str) -> Option<Missing> {
    let digest = bound.digest.to_string();
    let command = format!(
        "/phasegate approve {} {}",
        phase.environment,
        short(&digest)
    );
    let mut reasons = vec![];
    for a in &phase.approvals {
        let by = format!("@{}", a.approver);
        let Some(approved) = a.digest.as_deref() else {
            continue;
        };
        if approved != bound.digest {
            reasons.push(format!(
                "{by} approved plan {}, an older plan, which does not count",
                short(approved)
            ));
            continue;
        }
        if a.source == ApprovalSource::EnvironmentReview {
            let same_run = a.run.id.is_some() && bound.plan_run.and_then(|r| r.id) == a.run.id;
            if !same_run {
                reasons.push(format!(
                    "{by}'s environment review belongs to another run than the one that planned it"
                ));
                continue;
            }
            if bound.plan_time.is_none_or(|t| later(t, &a.at)) {
                reasons.push(format!("{by} reviewed before the plan was made"));
                continue;
            }
        }
        if let Some((prev, env, reviewed)) = bound.after_review {
            if later(reviewed, &a.at) {
                reasons.push(format!(
                    "{by} approved at {} before phase {prev} ({env}) was reviewed at {reviewed}, which does not count",
                    a.at
                ));
                continue;
            }
        }
        return None;
    }
    let head = format!(
        "{what} {} of phase {} ({}) has no approval",
        short(&digest),
        phase.name,
        phase.environment
    );
    let why = if reasons.is_empty() {
        head
    } else {
        format!("{head}; {}", reasons.join("; "))
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

/// Whether a failed apply is tried again: once, only for a transient error,
/// and only when the engine reports that nothing changed.
pub fn retries_apply(already_retried: bool, nothing_changed: bool, class: ErrorClass) -> bool {
    !already_retried && nothing_changed && class == ErrorClass::Transient
}

/// What may be done with the saved plan an apply was allowed: the file the
/// journal recorded, seen on disk with sha256 `on_disk` (`None`: gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedPlan {
    /// It is the file that was planned and reviewed: apply it.
    Apply,
    /// It is gone: only a fresh plan with the same digest may be applied.
    Replan,
    /// A different file stands where it was: never applied, never planned
    /// around; the refusal names the tampering.
    Tampered,
}

pub fn saved_plan(approved: &Approved, on_disk: Option<&str>) -> SavedPlan {
    match on_disk {
        None => SavedPlan::Replan,
        Some(sha) if approved.plan_sha256.as_deref() == Some(sha) => SavedPlan::Apply,
        Some(_) => SavedPlan::Tampered,
    }
}

#[cfg(test)]
mod tests;
