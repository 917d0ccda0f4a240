//! The follow-up issue of a failed apply: after an `apply` or a rollback's
//! apply in Actions, one issue per change and phase is brought in line with
//! the journal. A failed apply opens it (or updates it, on a later failed
//! attempt), assigned to the pull request's author; the phase applied or
//! rolled back closes it with a comment. Found again by its hidden marker,
//! label and our identity through `github::issues`, as drift issues are.
//!
//! Nothing of the issue is journaled: the journal already says whether a
//! phase ever failed to apply, and a phase that never did costs no API call;
//! the marker finds the issue even when its create had an unknown outcome,
//! which a journaled number could not. A failure to post is a warning, never
//! the command's error: the apply's own outcome stays the one reported.

use crate::ci::ActionsContext;
use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::github::comment::escape_id;
use crate::github::issues::{self, Desired, IssueKind, IssueOutcome, MarkedTarget};
use crate::github::Forge;
use crate::journal::{fold, Event, EventKind, ResourceOutcome, Step, StepState};
use crate::render::followup::{self as render, FollowUp};
use crate::runner::session::{self as runner, Runner};
use crate::runner::workspace::Workspace;

/// The label every follow-up issue carries.
pub const LABEL: &str = "phasegate-apply-failed";

/// The follow-up issue's kind.
pub const FOLLOW_UP: IssueKind = IssueKind {
    tracks: "this failed apply",
    label_color: "b60205",
    label_description: "An apply failed part-way (phasegate follow-up)",
    closed_marker: "<!-- phasegate:apply-failed-closed -->",
    noun: "follow-up issue",
};

/// The hidden line naming the change and phase an issue is about; both
/// percent-encoded, so neither can close the comment or forge a marker.
pub fn marker(change: &str, phase: &str) -> String {
    format!(
        "<!-- phasegate:apply-failed change={} phase={} -->",
        escape_id(change),
        escape_id(phase)
    )
}

/// Brings the phase's follow-up issue in line with the journal. Only in
/// Actions with a forge; any failure is logged as a warning and dropped.
pub fn sync(
    runner: &Runner,
    ws: &Workspace,
    actions: &ActionsContext,
    change: &str,
    phase: &ResolvedPhase,
) {
    if runner.forge().is_none() {
        return;
    }
    match runner.rt.block_on(sync_phase(runner, ws, actions, change, phase)) {
        Ok(Some(o)) => tracing::info!(
            phase = %phase.name,
            action = ?o.action,
            number = ?o.number,
            "follow-up issue of the failed apply"
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(
            "the follow-up issue of phase {} was not brought up to date (the command's own result stands): {e}",
            phase.name
        ),
    }
}

/// What the journal asks of the issue.
enum Want {
    /// Some project's apply failed.
    Open,
    /// Every project is applied (or has nothing to apply) or rolled back.
    Close { rolled_back: bool },
}

async fn sync_phase(
    runner: &Runner,
    ws: &Workspace,
    actions: &ActionsContext,
    change: &str,
    phase: &ResolvedPhase,
) -> Result<Option<IssueOutcome>> {
    let (Some(forge), Some(repo)) = (runner.forge(), runner.repo.clone()) else {
        return Ok(None);
    };
    let events = runner::read_journal(&runner.store, change).await?;
    let attempts = failed_applies(&events, &phase.name);
    // A phase that never failed to apply never had an issue.
    if attempts == 0 {
        return Ok(None);
    }
    let progress = fold(
        change,
        &runner::phase_refs(&runner::all_phases(ws)),
        &events,
    );
    let Some(pp) = progress.phase(&phase.name) else {
        return Ok(None);
    };
    let failed: Vec<_> = pp
        .projects
        .iter()
        .filter(|p| p.apply == StepState::Failed)
        .collect();
    let done = |s: StepState| {
        matches!(
            s,
            StepState::Succeeded | StepState::Skipped | StepState::RolledBack
        )
    };
    let want = if !failed.is_empty() {
        Want::Open
    } else if !pp.projects.is_empty() && pp.projects.iter().all(|p| done(p.apply)) {
        Want::Close {
            rolled_back: pp.projects.iter().any(|p| p.apply == StepState::RolledBack),
        }
    } else {
        // Re-planned, refused, or in flight: the issue stays as it is.
        return Ok(None);
    };
    let target = MarkedTarget {
        repo,
        label: LABEL.to_string(),
        marker: marker(change, &phase.name),
        kind: &FOLLOW_UP,
    };
    let run_url = actions.run_url();
    let outcome = match want {
        Want::Close { rolled_back } => {
            let comment = render::closed_comment(
                &phase.name,
                &phase.environment.name,
                rolled_back,
                run_url.as_deref(),
            );
            issues::sync_marked(forge, &target, &Desired::Clean { comment }).await?
        }
        Want::Open => {
            let at = runner::now();
            let f = FollowUp {
                change,
                change_title: ws.change.as_ref().and_then(|c| c.title.as_deref()),
                pr: runner.pr.as_ref().map(|p| p.number),
                phase: &phase.name,
                phase_index: phase.index,
                environment: &phase.environment.name,
                attempts,
                failed: &failed,
                next: progress.next.as_ref(),
                run_url: run_url.as_deref(),
                at: &at,
            };
            let body = |budget: usize| {
                let room = budget.saturating_sub(target.marker.chars().count() + 1);
                format!("{}\n{}", target.marker, render::body(&f, room))
            };
            let desired = Desired::Drifted {
                title: render::title(&f),
                body: &body,
            };
            let outcome = issues::sync_marked(forge, &target, &desired).await?;
            if let (Some(number), Some(pr)) = (outcome.number, runner.pr.as_ref()) {
                let author = forge.get_pull(pr).await?.author;
                forge.add_assignees(&target.repo, number, &[author]).await?;
            }
            outcome
        }
    };
    Ok(Some(outcome))
}

/// How many applies of the phase failed (a revert's apply is not one).
fn failed_applies(events: &[Event], phase: &str) -> usize {
    events
        .iter()
        .filter(|e| e.phase == phase && e.step == Step::Apply)
        .filter(|e| match &e.kind {
            EventKind::ApplyFinished { results, error, .. } => {
                error.is_some() || results.iter().any(|r| r.outcome == ResourceOutcome::Failed)
            }
            _ => false,
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_change_or_phase_name_cannot_close_or_forge_the_marker() {
        let m = marker("CHG --> <!-- phasegate:drift", "dev phase=prod");
        assert_eq!(m.matches("-->").count(), 1, "{m}");
        assert_eq!(m.matches("<!--").count(), 1, "{m}");
        assert!(m.contains("phase=dev%20phase%3Dprod"), "{m}");
        assert_ne!(marker("CHG-1", "dev"), marker("CHG-1", "prod"));
        assert_ne!(marker("CHG-1", "dev"), marker("CHG-2", "dev"));
    }
}
