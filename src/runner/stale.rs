//! Stale plans in other PRs: once a change applies a project in an
//! environment, every other open PR whose plan of that project there is not
//! applied was made against an older state. Each such plan is journaled
//! stale in its own change (it is then never applied, and an approval of it
//! no longer counts), its comment block says so with a link to the apply,
//! its check run `phasegate / <env>` asks for action, and the workflow run
//! that planned it is re-run, so a fresh plan follows.

use crate::ci::ActionsContext;
use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::github::{CheckRunRequest, Forge, PrTarget};
use crate::journal::{fold, EventKind, Step, StepState, Writer};
use crate::render::escape::{inline, plain};
use crate::runner::session::{self as runner, Runner};
use crate::runner::workspace::Workspace;

/// One other PR's plan made stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub pr: u64,
    pub project: String,
    pub digest: String,
    /// The run that planned it was queued again.
    pub rerun: bool,
}

/// Marks the plans of `projects` in `phase`'s environment stale in every
/// other open PR. Only in Actions with a forge; a failure here is logged and
/// never changes the outcome of the apply that called it.
pub fn mark_other_prs(
    runner: &Runner,
    ws: &Workspace,
    actions: &ActionsContext,
    writer: &Writer,
    phase: &ResolvedPhase,
    projects: &[String],
) -> Vec<Marked> {
    match try_mark(runner, ws, actions, writer, phase, projects) {
        Ok(marked) => marked,
        Err(e) => {
            tracing::warn!("the plans of other open PRs were not checked for staleness: {e}");
            vec![]
        }
    }
}

fn try_mark(
    runner: &Runner,
    ws: &Workspace,
    actions: &ActionsContext,
    writer: &Writer,
    phase: &ResolvedPhase,
    projects: &[String],
) -> Result<Vec<Marked>> {
    let (Some(forge), Some(repo)) = (runner.forge(), runner.repo.clone()) else {
        return Ok(vec![]);
    };
    if projects.is_empty() {
        return Ok(vec![]);
    }
    let own = runner.pr.as_ref().map(|t| t.number);
    let env = &phase.environment.name;
    let link = actions.run_url();
    let pulls = runner.rt.block_on(forge.open_pulls(&repo))?;
    let refs = runner::phase_refs(&runner::all_phases(ws));
    let mut marked = vec![];
    for pull in pulls.iter().filter(|p| Some(p.number) != own) {
        let change = format!("PR-{}", pull.number);
        let events = runner
            .rt
            .block_on(runner::read_journal(&runner.store, &change))?;
        if events.is_empty() {
            continue;
        }
        let progress = fold(&change, &refs, &events);
        let mut stale_events = vec![];
        let mut hits = vec![];
        for view in progress.phases.iter().filter(|p| &p.environment == env) {
            for p in view
                .projects
                .iter()
                .filter(|p| projects.contains(&p.project))
            {
                let open = p.plan == StepState::Succeeded
                    && p.apply == StepState::Pending
                    && p.stale.is_none();
                let Some(digest) = p.digest.clone().filter(|_| open) else {
                    continue;
                };
                let mut w = writer.clone();
                w.change = change.clone();
                stale_events.push(w.event(
                    &view.name,
                    Some(&p.project),
                    Step::Plan,
                    Some(&digest),
                    EventKind::PlanStale {
                        inputs: vec![],
                        environment: env.clone(),
                        by_change: writer.change.clone(),
                        link: link.clone(),
                    },
                ));
                hits.push((p.project.clone(), digest, p.plan_run.clone()));
            }
        }
        if stale_events.is_empty() {
            continue;
        }
        runner
            .rt
            .block_on(runner::append(&runner.store, &change, &stale_events))?;
        let target = PrTarget {
            repo: repo.clone(),
            number: pull.number,
        };
        runner.rt.block_on(crate::runner::post::post_progress(
            &runner.store,
            forge,
            &target,
            ws,
            &change,
            phase,
        ))?;
        let names: Vec<&str> = hits.iter().map(|(p, _, _)| p.as_str()).collect();
        let check = CheckRunRequest {
            name: plain(&format!("phasegate / {env}")),
            head_sha: pull.head_sha.clone(),
            status: Some("completed".into()),
            conclusion: Some("action_required".into()),
            details_url: link.clone(),
            title: plain(&format!("{env}: plan stale")),
            summary: format!(
                "Change {} applied {} in `{}` after this PR's plan was made. The plan is against an older state: it is never applied, and an approval of it no longer counts. Plan again.",
                inline(&writer.change),
                inline(&names.join(", ")),
                inline(env)
            ),
            text: None,
            annotations: vec![],
        };
        runner.rt.block_on(forge.create_check_run(&repo, &check))?;
        // The run that planned it, queued again: its plan job plans afresh.
        let runs: std::collections::BTreeSet<u64> =
            hits.iter().filter_map(|(_, _, r)| r.as_ref()?.id).collect();
        let mut rerun = false;
        for id in runs {
            match runner.rt.block_on(forge.rerun_workflow_run(&repo, id)) {
                Ok(()) => rerun = true,
                Err(e) => tracing::warn!(
                    "PR #{}: its plan run {id} was not re-run ({e}); plan it again by hand",
                    pull.number
                ),
            }
        }
        for (project, digest, _) in hits {
            tracing::info!(
                "PR #{}: the plan {} of {project} in {env} is stale",
                pull.number,
                crate::journal::short_digest(&digest)
            );
            marked.push(Marked {
                pr: pull.number,
                project,
                digest,
                rerun,
            });
        }
    }
    Ok(marked)
}
