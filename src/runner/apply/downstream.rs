//! What an apply means for the projects that read its outputs
//! (`projects[].inputs`): before a downstream project's apply, the
//! upstream outputs its plan read are compared with those its upstreams'
//! states hold now, and after an upstream's apply, every plan of this
//! change that read a changed output is journaled stale. A stale plan is
//! never applied: it is planned, gated and approved again.

use crate::config::Project;
use crate::error::Result;
use crate::journal::progress::stale_why;
use crate::journal::{fold, EventKind, PlannedInput, Step};
use crate::runner::apply::{refuse, short, ApplyContext, Outcome};
use crate::runner::inputs;
use crate::runner::session as runner;
use crate::store::Store;

/// The inputs `project`'s reviewed plan read that differ now, as
/// `<var> (<source>)`; empty when nothing changed (or it reads none).
pub fn changed_inputs(
    ctx: &ApplyContext<'_>,
    project: &Project,
    planned: &[PlannedInput],
) -> Result<Vec<String>> {
    if planned.is_empty() && project.inputs.is_empty() {
        return Ok(vec![]);
    }
    let now = inputs::resolve_all(ctx.ws, ctx.phase, project)?;
    let mut changed = inputs::changed_since(planned, &now);
    // An input the config gained since the plan was made was never bound.
    for v in &now.values {
        if !planned.iter().any(|p| p.var == v.var) {
            changed.push(format!("{} ({}), not read by the plan", v.var, v.source));
        }
    }
    Ok(changed)
}

/// Journals `digest` of `name` stale for `changed` inputs and refuses it.
pub async fn refuse_stale<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    name: &str,
    digest: Option<&str>,
    changed: Vec<String>,
) -> Result<Outcome> {
    let w = &ctx.writer;
    let event = w.event(
        &ctx.phase.name,
        Some(name),
        Step::Apply,
        digest,
        EventKind::PlanStale {
            environment: ctx.phase.environment.name.clone(),
            by_change: w.change.clone(),
            link: None,
            inputs: changed.clone(),
        },
    );
    ctx.journal(store, &[event]).await?;
    let why = format!(
        "plan {} of {name} is stale: {}; it is never applied: plan again and approve the new plan",
        short(digest.unwrap_or_default()),
        stale_why(&w.change, &changed, name, &ctx.phase.environment.name)
    );
    let command = format!("phasegate plan --phase {}", ctx.phase.index);
    refuse(store, ctx, name, digest, "stale", why, command).await
}

/// After `upstream` was applied: every other project of the phase whose
/// current plan (not applied yet) read one of its outputs, and reads a
/// different value now, is journaled stale. Returns their names.
pub async fn mark_stale<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    upstream: &str,
) -> Result<Vec<String>> {
    let w = &ctx.writer;
    // Every reader deployed here, not only those this command applies: an
    // apply job of one project (`--project network`) marks the plans other
    // jobs made.
    let env = &ctx.phase.environment.name;
    let prefix = format!("{upstream}.outputs.");
    let readers: Vec<&Project> = ctx
        .ws
        .config
        .iter()
        .flat_map(|c| &c.projects)
        .filter(|p| p.name != upstream && p.in_environment(env))
        .filter(|p| p.inputs.values().any(|s| s.starts_with(&prefix)))
        .collect();
    if readers.is_empty() {
        return Ok(vec![]);
    }
    let progress = fold(
        &w.change,
        &runner::phase_refs(&runner::all_phases(ctx.ws)),
        &runner::read_journal(store, &w.change).await?,
    );
    let Some(phase) = progress.phase(&ctx.phase.name) else {
        return Ok(vec![]);
    };
    let mut events = vec![];
    let mut stale = vec![];
    for project in readers {
        let Some(p) = phase.project(&project.name) else {
            continue;
        };
        let Some(planned) = p.planned.as_ref().filter(|r| !r.inputs.is_empty()) else {
            continue;
        };
        // Its plan not applied, and made reading this upstream.
        let reads = planned.inputs.iter().any(|i| i.source.starts_with(&prefix));
        if !p.plan_unapplied() || p.stale.is_some() || !reads {
            continue;
        }
        let changed = changed_inputs(ctx, project, &planned.inputs)?;
        if changed.is_empty() {
            continue;
        }
        tracing::warn!(
            "the plan of {} read {} before {upstream} was applied: it is stale and must be planned and approved again",
            project.name,
            changed.join(", ")
        );
        events.push(w.event(
            &ctx.phase.name,
            Some(&project.name),
            Step::Apply,
            p.digest.as_deref(),
            EventKind::PlanStale {
                environment: ctx.phase.environment.name.clone(),
                by_change: w.change.clone(),
                link: None,
                inputs: changed,
            },
        ));
        stale.push(project.name.clone());
    }
    if !events.is_empty() {
        ctx.journal(store, &events).await?;
    }
    Ok(stale)
}
