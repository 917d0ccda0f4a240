//! The PR comment and the check run `phasegate / <env>` follow the journal.
//! Concurrent jobs converge: after each comment write the journal is read
//! again, and when it moved since the block was rendered, the block is
//! rendered and written again, so the last write shows the whole journal.
//! The comment is read back too: another job's write made from an older
//! copy of the comment can put back an older block, and then it is written
//! again. After the merge the PR a push came from gets the block; a run that
//! belongs to no PR reports to the job summary alone.

use crate::ci::ActionsContext;
use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::github::comment::{change_marker, is_ours};
use crate::github::{upsert_phase, CheckRunRequest, Forge, PrTarget};
use crate::journal::Progress;
use crate::render::progress::{phase_headline, phase_markdown};
use crate::runner::session::{self as runner, Runner};
use crate::runner::workspace::Workspace;
use crate::store::Store;

/// At most this many render-and-write rounds; each round is caused by a
/// concurrent writer, so it ends as soon as the writers do.
const MAX_ROUNDS: usize = 8;

/// The comment key of a phase's journal block, right after its approval block.
pub fn progress_key(env: &str) -> String {
    format!("{env}-progress")
}

/// Every block key in promotion order: plan, approval, progress per phase.
pub fn block_order(ws: &Workspace) -> Vec<String> {
    crate::runner::forge::phase_order(&runner::all_phases(ws))
        .into_iter()
        .flat_map(|k| [k.clone(), format!("{k}-approval"), progress_key(&k)])
        .collect()
}

/// Writes `phase`'s journal block until it shows the journal as it stands;
/// returns the progress that was last written.
pub async fn post_progress<S: Store, F: Forge>(
    store: &S,
    forge: &F,
    target: &PrTarget,
    ws: &Workspace,
    change: &str,
    phase: &ResolvedPhase,
) -> Result<Progress> {
    let order = block_order(ws);
    let key = progress_key(&phase.environment.name);
    let approvers = phase.environment.reviewers.clone();
    let mut progress = runner::progress(store, ws, change).await?;
    for _ in 0..MAX_ROUNDS {
        let Some(view) = progress.phase(&phase.name) else {
            break;
        };
        let block = phase_markdown(&progress, view, &approvers);
        upsert_phase(
            forge,
            target,
            change,
            &key,
            &order,
            |budget| block.chars().take(budget).collect(),
            |_| {},
        )
        .await?;
        if forge.budget().low() {
            // Coalesce: one write, no convergence rounds; a later job's
            // write (or the final job's) shows what came after.
            tracing::warn!(
                "API budget low ({}): the journal block was written once, without re-reading",
                forge.budget().describe()
            );
            break;
        }
        let now = runner::progress(store, ws, change).await?;
        if now.events == progress.events && shows(forge, target, change, &block).await? {
            break;
        }
        progress = now;
    }
    Ok(progress)
}

/// Whether our comment on `target` holds `block` as written.
async fn shows<F: Forge>(forge: &F, target: &PrTarget, change: &str, block: &str) -> Result<bool> {
    let me = forge.identity().await?;
    let marker = change_marker(change);
    let comments = forge.list_comments(target).await?;
    Ok(comments
        .iter()
        .filter(|c| is_ours(c, &me, &marker))
        .min_by_key(|c| c.id)
        .is_some_and(|c| c.body.contains(block.trim())))
}

/// After a step: the phase's journal block goes to the PR this run reports
/// to (with the check run `phasegate / <env>` when `with_check_run`); a run
/// that reports to no PR, or has no token, appends the block to the job
/// summary instead.
pub fn publish_progress(
    runner: &Runner,
    ws: &Workspace,
    ctx: &ActionsContext,
    change: &str,
    phase: &ResolvedPhase,
    check: CheckRunPost,
) -> Result<()> {
    if let (Some(forge), Some(target)) = (runner.forge(), &runner.pr) {
        let budget = forge.budget();
        let progress = if budget.low() {
            // The journal is written; the comment waits for a job with
            // budget to spare, and the job summary says so and shows the
            // block. The check run is still reported: it gates the merge.
            let progress = runner
                .rt
                .block_on(runner::progress(&runner.store, ws, change))?;
            let note = deferred_note(&budget);
            tracing::warn!("{note}");
            if let Some(file) = &ctx.summary_file {
                let block = progress
                    .phase(&phase.name)
                    .map(|view| phase_markdown(&progress, view, &phase.environment.reviewers))
                    .unwrap_or_default();
                crate::ci::summary::append_summary(file, &format!("{note}\n\n{block}"))?;
            }
            progress
        } else {
            runner.rt.block_on(post_progress(
                &runner.store,
                forge,
                target,
                ws,
                change,
                phase,
            ))?
        };
        if let (CheckRunPost::Complete(applying), Some(sha)) = (check, ctx.head_sha()) {
            if let Some(run) = check_run(&progress, phase, sha, ctx.run_url()) {
                match applying {
                    Some(id) => {
                        runner
                            .rt
                            .block_on(forge.update_check_run(&target.repo, id, &run))?
                    }
                    None => {
                        runner
                            .rt
                            .block_on(forge.create_check_run(&target.repo, &run))?;
                    }
                }
            }
        }
        return Ok(());
    }
    let progress = runner
        .rt
        .block_on(runner::progress(&runner.store, ws, change))?;
    if let (Some(view), Some(file)) = (progress.phase(&phase.name), &ctx.summary_file) {
        let block = phase_markdown(&progress, view, &phase.environment.reviewers);
        crate::ci::summary::append_summary(file, &block)?;
    }
    Ok(())
}

/// The job summary's line when the comment update is deferred.
pub fn deferred_note(budget: &crate::github::budget::BudgetState) -> String {
    format!(
        "> [!NOTE]\n> The PR comment was not updated by this job: GitHub's API budget is low \
         ({}). The journal is written in full; the next job with budget to spare shows it in the \
         comment.",
        crate::render::escape::plain(&budget.describe())
    )
}

/// Whether [`publish_progress`] also reports the phase's check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckRunPost {
    /// Only the comment (or the job summary).
    None,
    /// The check run too: the one already `applying` when its id is given,
    /// else a new one.
    Complete(Option<u64>),
}

/// The check run `phasegate / <env>` in the state the journal shows.
pub fn check_run(
    progress: &Progress,
    phase: &ResolvedPhase,
    head_sha: &str,
    details_url: Option<String>,
) -> Option<CheckRunRequest> {
    let view = progress.phase(&phase.name)?;
    let headline = phase_headline(view);
    let (status, conclusion) = match headline.as_str() {
        "applying" => ("in_progress", None),
        "applied" => ("completed", Some("success")),
        "failed" => ("completed", Some("failure")),
        // Someone decides: retry, roll back or abort; never left "in progress".
        "awaiting approval" | "interrupted" if details_url.is_some() => {
            ("completed", Some("action_required"))
        }
        _ => ("completed", Some("neutral")),
    };
    Some(CheckRunRequest {
        name: format!("phasegate / {}", phase.environment.name),
        head_sha: head_sha.to_string(),
        status: Some(status.into()),
        conclusion: conclusion.map(str::to_string),
        details_url,
        title: format!("{}: {headline}", phase.environment.name),
        summary: phase_markdown(progress, view, &phase.environment.reviewers),
        text: None,
        annotations: vec![],
    })
}
