//! Approval evidence into the journal: before an apply in GitHub Actions,
//! the approvals GitHub holds for the plan digest the journal recorded
//! (environment reviews of this run, `/phasegate approve` comments) are
//! checked by `github::approvals` and journaled, so the step machine decides
//! from the journal alone.

pub mod local;

use crate::ci::ActionsContext;
use crate::config::ResolvedPhase;
use crate::error::{Error, Result};
use crate::github::approvals::{check_approval, ApprovalCheck};
use crate::github::comment::ApprovalSource as CommentSource;
use crate::github::{CommentState, Forge, PrTarget};
use crate::journal::{ApprovalSource, Event, EventKind, PhaseProgress, Step};
use crate::runner::approve::{comment_state, fallback};
use crate::runner::session::{self as runner, Runner, Writer};
use crate::runner::workspace::Workspace;

/// In Actions, journals the approvals GitHub holds for each digest
/// `digests` picks from the phase's progress (the plan's for `apply`, each
/// revert plan's for `rollback --apply`), so the step machine can see them.
/// Nothing to do without a client or where the environment needs no approval.
pub fn record_approvals(
    runner: &Runner,
    ws: &Workspace,
    phase: &ResolvedPhase,
    actions: &ActionsContext,
    writer: &Writer,
    digests: impl Fn(&PhaseProgress) -> Vec<String>,
) -> Result<()> {
    let env = &phase.environment;
    let Some(forge) = runner.forge() else {
        return Ok(());
    };
    if !(env.reviewers_required || env.protected) {
        return Ok(());
    }
    let progress = runner
        .rt
        .block_on(runner::progress(&runner.store, ws, &writer.change))?;
    let Some(view) = progress.phase(&phase.name) else {
        return Ok(());
    };
    for digest in digests(view) {
        let events = runner.rt.block_on(approval_events(
            forge,
            runner.pr.as_ref(),
            ws,
            phase,
            view,
            actions,
            writer,
            &digest,
        ))?;
        runner
            .rt
            .block_on(runner::append(&runner.store, &writer.change, &events))?;
    }
    Ok(())
}

/// The approvals of `digest` that GitHub shows and the journal does not
/// have yet, as events. `pr` is the PR the run reports to (after the merge,
/// the PR the push came from): its comment's `/phasegate approve` records
/// count beside this run's environment reviews.
#[allow(clippy::too_many_arguments)]
pub async fn approval_events<F: Forge>(
    forge: &F,
    pr: Option<&PrTarget>,
    ws: &Workspace,
    phase: &ResolvedPhase,
    progress: &PhaseProgress,
    ctx: &ActionsContext,
    writer: &Writer,
    digest: &str,
) -> Result<Vec<Event>> {
    let cfg = ws
        .config
        .as_ref()
        .ok_or_else(|| Error::Input("approvals need a config".into()))?;
    let repo = crate::runner::forge::repo_of(ctx);
    let (state, author) = match pr {
        Some(target) => {
            let state = comment_state(forge, target, &writer.change).await?;
            let author = match &ctx.event.pr_author {
                Some(a) => a.clone(),
                None => forge.get_pull(target).await?.author,
            };
            (state, author)
        }
        // No PR: only this run's reviews count.
        None => (CommentState::default(), String::new()),
    };
    let env = &phase.environment;
    let policy = fallback(cfg);
    let decision = check_approval(
        forge,
        ApprovalCheck {
            repo: &repo,
            run_id: ctx.run_id,
            pr_author: &author,
            env_name: &env.name,
            github_environment: env.github_environment(),
            reviewers_required: env.reviewers_required,
            prevent_self_review: env.prevent_self_review,
            digest,
            fallback: &policy,
            state: &state,
        },
    )
    .await?;
    for why in &decision.refusals {
        tracing::info!("approval: {why}");
    }
    Ok(decision
        .evidence
        .into_iter()
        .map(|e| {
            let source = match e.source {
                CommentSource::Environment => ApprovalSource::EnvironmentReview,
                CommentSource::Comment => ApprovalSource::Comment,
            };
            (e, source)
        })
        .filter(|(e, source)| {
            !progress.approvals.iter().any(|a| {
                a.approver == e.approver
                    && a.source == *source
                    && a.at == e.at
                    && a.digest.as_deref() == Some(digest)
            })
        })
        .map(|(e, source)| {
            writer.event(
                &phase.name,
                None,
                Step::Approval,
                Some(digest),
                EventKind::ApprovalRecorded {
                    environment: env.name.clone(),
                    approver: e.approver,
                    source,
                    at: e.at,
                    conditions: vec![],
                },
            )
        })
        .collect())
}
