//! `phasegate apply`: apply exactly the reviewed plan of one phase. For each
//! project: the step machine decides from the journal; the lock on the
//! environment and project is taken; a checkpoint (`state pull`) is saved
//! and journaled; only the saved plan whose sha256 the journal recorded is
//! applied (or, when it is gone, a re-plan whose digest equals the approved
//! one); per-resource results and a convergence re-plan are journaled.

pub(super) use crate::journal::short_digest as short;
pub mod downstream;
pub mod resume;

use std::path::{Path, PathBuf};

use crate::ci::ActionsContext;
use crate::cli::{ApplyArgs, GlobalArgs, OutputFormat};
use crate::config::{Project, ResolvedPhase};
use crate::error::{Error, ExitCode, Result};
use crate::iac::{
    apply_stream, ApplyRun, CliEngine, IacEngine, IacError, Interruption, PlanOutcome, PlanRequest,
};
use crate::journal::{fold, ErrorClass, EventKind, ResourceOutcome, ResourceResult, Step};
use crate::phase::{decide, Action, Approved, Decision, Request};
use crate::runner::checkpoint;
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Writer};
use crate::runner::workspace::Workspace;
use crate::store::lock::RunLiveness;
use crate::store::Store;
use resume::Mode;

/// How long to wait before the one retry of a transient failure.
pub(super) const TRANSIENT_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

pub fn run(global: &GlobalArgs, args: ApplyArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("apply needs a config".into()))?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let runner = runner::Runner::open(&ws, actions.as_ref(), args.token.clone())?;
    let ctx = ApplyContext {
        ws: &ws,
        phase: &phase,
        writer: runner.writer(&ws, actions.as_ref()),
        out_dir: runner::absolute(&ws.out_dir(args.out.as_deref()))?,
        engine: &engine,
        mode: Mode::from_flags(args.retry, args.abort),
        held: HeldEvents::default(),
    };
    let mut applying = None;
    if let Some(actions) = &actions {
        crate::runner::approvals::record_approvals(
            &runner,
            &ws,
            &phase,
            actions,
            &ctx.writer,
            |view| view.digest.clone().into_iter().collect(),
        )?;
        applying = check_run_applying(&runner, &ctx, actions)?;
    }
    let liveness = runner.liveness(&ctx.writer);
    let result = runner
        .rt
        .block_on(apply_phase(&runner.store, &liveness, &ctx));
    // The comment and check run follow the journal even when the apply
    // ended in an error; that error is the one reported.
    let outcomes = match &actions {
        Some(actions) => {
            let posted = post(&runner, &ctx, actions, applying);
            // The phase's follow-up issue follows the journal too; a failure
            // to post it is only logged.
            crate::runner::followup::sync(&runner, &ws, actions, &ctx.writer.change, &phase);
            let outcomes = result?;
            posted?;
            outcomes
        }
        None => {
            let mut outcomes = result?;
            for o in &mut outcomes {
                if let Some(c) = &o.command {
                    o.command = Some(crate::runner::approvals::local::local_command(
                        c,
                        &ctx.writer.actor,
                    ));
                }
            }
            outcomes
        }
    };
    // Other open PRs that planned what was just applied now hold plans
    // against an older state.
    if let Some(actions) = &actions {
        let applied: Vec<String> = outcomes
            .iter()
            .filter(|o| o.code == ExitCode::Success && o.result == "applied")
            .map(|o| o.project.clone())
            .collect();
        crate::runner::stale::mark_other_prs(&runner, &ws, actions, &ctx.writer, &phase, &applied);
    }
    report(&outcomes, args.format);
    if let Some(file) = actions.as_ref().and_then(|a| a.summary_file.as_deref()) {
        let md = summary(&phase, &outcomes);
        crate::ci::summary::append_summary(file, &md)
            .map_err(|e| Error::External(format!("job summary: {e}")))?;
    }
    Ok(ExitCode::worst(outcomes.iter().map(|o| o.code)))
}

/// In a run that reports to a PR, the check run `phasegate / <env>` shows
/// `applying` (in progress) before anything is applied; [`post`] completes
/// that same run with where the journal ends up. Its id.
fn check_run_applying(
    runner: &runner::Runner,
    ctx: &ApplyContext<'_>,
    actions: &ActionsContext,
) -> Result<Option<u64>> {
    let (Some(forge), Some(target), Some(sha)) = (runner.forge(), &runner.pr, actions.head_sha())
    else {
        return Ok(None);
    };
    let env = &ctx.phase.environment.name;
    let run = crate::github::CheckRunRequest {
        name: crate::render::escape::plain(&format!("phasegate / {env}")),
        head_sha: sha.to_string(),
        status: Some("in_progress".into()),
        conclusion: None,
        details_url: actions.run_url(),
        title: crate::render::escape::plain(&format!("{env}: applying")),
        summary: format!(
            "phasegate is applying phase {} ({}).",
            crate::render::escape::inline(&ctx.phase.name),
            crate::render::escape::inline(env)
        ),
        text: None,
        annotations: vec![],
    };
    Ok(Some(runner.rt.block_on(
        crate::github::Forge::create_check_run(forge, &target.repo, &run),
    )?))
}

/// The comment's journal block and the check run follow the journal (the
/// job summary when the run reports to no PR); a failure to post fails the
/// command. The `applying` run, when there is one, is completed rather than
/// a new one made.
fn post(
    runner: &runner::Runner,
    ctx: &ApplyContext<'_>,
    actions: &ActionsContext,
    applying: Option<u64>,
) -> Result<()> {
    crate::runner::post::publish_progress(
        runner,
        ctx.ws,
        actions,
        &ctx.writer.change,
        ctx.phase,
        crate::runner::post::CheckRunPost::Complete(applying),
    )
}

/// What one invocation works with.
pub struct ApplyContext<'a> {
    pub ws: &'a Workspace,
    pub phase: &'a ResolvedPhase,
    pub writer: Writer,
    pub out_dir: PathBuf,
    pub engine: &'a dyn IacEngine,
    /// A plain apply, or a decision after an interrupted one.
    pub mode: Mode,
    /// Events journaled with the next append (see [`ApplyContext::hold`]).
    pub held: HeldEvents,
}

/// Events that need not be durable on their own and wait for the next
/// append of the command: the lock taken and the checkpoint are journaled
/// with `apply_started`, before the engine runs (one Git Data write where
/// they were three).
#[derive(Debug, Default)]
pub struct HeldEvents(std::sync::Mutex<Vec<crate::journal::Event>>);

impl HeldEvents {
    pub(super) fn take(&self) -> Vec<crate::journal::Event> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ApplyContext<'_> {
    /// Holds `events` for the next [`ApplyContext::journal`]: only for
    /// events whose loss in a crash loses nothing (the lock is its own
    /// record in the store; a checkpoint before an apply that never started
    /// is not needed).
    pub(super) fn hold(&self, events: Vec<crate::journal::Event>) {
        self.held
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(events);
    }

    /// Appends the held events and `events` in one write.
    pub(super) async fn journal<S: Store>(
        &self,
        store: &S,
        events: &[crate::journal::Event],
    ) -> Result<()> {
        let mut all = self.held.take();
        all.extend_from_slice(events);
        runner::append(store, &self.writer.change, &all).await
    }
}

/// One project's outcome, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub project: String,
    #[serde(skip)]
    pub code: ExitCode,
    pub result: String,
    pub message: String,
    pub command: Option<String>,
    pub resources: Vec<ResourceResult>,
}

/// The job summary: every project's result and resource tables.
fn summary(phase: &ResolvedPhase, outcomes: &[Outcome]) -> String {
    let projects: Vec<crate::render::applied::ProjectApply<'_>> = outcomes
        .iter()
        .map(|o| crate::render::applied::ProjectApply {
            project: &o.project,
            result: &o.result,
            message: &o.message,
            next: o.command.as_deref(),
            resources: &o.resources,
        })
        .collect();
    crate::render::applied::summary(&phase.name, &phase.environment.name, &projects)
}

fn report(outcomes: &[Outcome], format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            print_stdout(&serde_json::to_string_pretty(outcomes).unwrap_or_default())
        }
        _ => {
            let mut lines = vec![];
            for o in outcomes {
                lines.push(format!("{}: {}: {}", o.project, o.result, o.message));
                for r in &o.resources {
                    let outcome = match r.outcome {
                        ResourceOutcome::Applied => "applied",
                        ResourceOutcome::Failed => "failed",
                        ResourceOutcome::Untouched => "untouched",
                    };
                    let why = r
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default();
                    lines.push(format!("  {outcome:9} {} ({}){why}", r.address, r.action));
                }
                if let Some(c) = &o.command {
                    lines.push(format!("  next: {c}"));
                }
            }
            print_stdout(&lines.join("\n"));
        }
    }
}

/// Applies every project of the phase, in dependency order; stops at the
/// first project that does not succeed.
pub async fn apply_phase<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    ctx: &ApplyContext<'_>,
) -> Result<Vec<Outcome>> {
    let mut outcomes = vec![];
    for project in &ctx.phase.projects {
        let o = apply_project(store, liveness, ctx, project).await?;
        let stop = o.code != ExitCode::Success;
        outcomes.push(o);
        if stop {
            break;
        }
    }
    Ok(outcomes)
}

pub(super) fn outcome(project: &str, code: ExitCode, result: &str, message: String) -> Outcome {
    Outcome {
        project: project.to_string(),
        code,
        result: result.to_string(),
        message,
        command: None,
        resources: vec![],
    }
}

async fn apply_project<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    ctx: &ApplyContext<'_>,
    project: &Project,
) -> Result<Outcome> {
    let w = &ctx.writer;
    let phase = &ctx.phase.name;
    let name = project.name.as_str();
    let events = runner::read_journal(store, &w.change).await?;
    let progress = fold(
        &w.change,
        &runner::phase_refs(&runner::all_phases(ctx.ws)),
        &events,
    );
    let current = progress.phase(phase).and_then(|p| p.project(name)).cloned();
    let interrupted = resume::interrupted(current.as_ref());
    if ctx.mode != Mode::Apply && !interrupted {
        return Err(Error::Input(format!(
            "apply {}: no interrupted apply of {name} in phase {phase} to decide on; run `phasegate status`",
            ctx.mode.flag()
        )));
    }
    let req = Request {
        action: Action::Apply,
        phase,
        project: name,
    };
    // An interrupted apply is re-verified before anything else; only a retry,
    // which may apply, needs the step machine's full approval.
    let approved = if interrupted && ctx.mode != Mode::Retry {
        Approved {
            digest: current.as_ref().and_then(|p| p.digest.clone()),
            ..Default::default()
        }
    } else {
        match decide(&progress, &req) {
            Decision::Refuse(m) => {
                return refuse(store, ctx, name, None, m.what, m.why, m.command).await;
            }
            Decision::NothingToDo(why) => {
                return Ok(outcome(name, ExitCode::Success, "nothing to do", why));
            }
            Decision::Proceed(a) => a,
        }
    };
    let digest = approved.digest.clone();
    let held = match crate::runner::lock::take_unjournaled(
        store,
        liveness,
        w,
        ctx.phase,
        name,
        digest.as_deref(),
    )
    .await?
    {
        Ok((held, taken)) => {
            ctx.hold(taken);
            held
        }
        Err(busy) => {
            let digest = digest.as_deref();
            // The next step is this apply again, once the holder ends.
            let again = format!("phasegate apply --phase {}", ctx.phase.index);
            return refuse(store, ctx, name, digest, "lock", busy.why, again).await;
        }
    };
    let result = match current.filter(|_| interrupted) {
        Some(p) => resume::resume(store, ctx, project, &p, &approved).await,
        None => locked_apply(store, ctx, project, &approved).await,
    };
    // Its outputs may have changed: read them again when next asked, and
    // a plan of this change that read an older value is stale.
    crate::runner::inputs::forget(&ctx.phase.environment.name, name);
    let stale = match &result {
        Ok(o) if o.code == ExitCode::Success => downstream::mark_stale(store, ctx, name).await,
        _ => Ok(vec![]),
    };
    let unjournaled = ctx.held.take();
    crate::runner::lock::release_after(
        store,
        w,
        ctx.phase,
        name,
        digest.as_deref(),
        &held,
        unjournaled,
    )
    .await?;
    stale?;
    result
}

pub(super) async fn refuse<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    project: &str,
    digest: Option<&str>,
    what: &str,
    why: String,
    command: String,
) -> Result<Outcome> {
    let e = ctx.writer.event(
        &ctx.phase.name,
        Some(project),
        Step::Apply,
        digest,
        EventKind::Refusal {
            what: what.to_string(),
            why: why.clone(),
            command: Some(command.clone()),
        },
    );
    ctx.journal(store, &[e]).await?;
    let mut o = outcome(project, ExitCode::Refused, "refused", why);
    o.command = Some(command);
    Ok(o)
}

pub(super) fn plan_file(ctx: &ApplyContext<'_>, project: &str, suffix: &str) -> Result<PathBuf> {
    let dir = ctx.out_dir.join("plans");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir.join(format!(
        "{project}-{}{suffix}.tfplan",
        ctx.phase.environment.name
    )))
}

/// Everything done under the lock: checkpoint, plan file check, apply,
/// results, convergence.
async fn locked_apply<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    project: &Project,
    approved: &Approved,
) -> Result<Outcome> {
    let name = project.name.as_str();
    let digest = approved.digest.as_deref();
    let mut req = prepare(ctx, project)?;
    let changed = downstream::changed_inputs(ctx, project, &approved.inputs)?;
    if !changed.is_empty() {
        return downstream::refuse_stale(store, ctx, name, digest, changed).await;
    }
    checkpoint(ctx, &req, name, digest)?;

    // Only the reviewed plan: the saved file whose hash the journal holds,
    // else a fresh plan whose normalized digest equals the approved one. A
    // saved file that is there but not the one planned is never re-planned
    // around: someone replaced it.
    let saved = approved
        .plan_file
        .as_deref()
        .map(Path::new)
        .filter(|f| f.is_file());
    let on_disk = saved.map(runner::file_sha256).transpose()?;
    let changes = match (
        crate::phase::saved_plan(approved, on_disk.as_deref()),
        saved,
    ) {
        (crate::phase::SavedPlan::Tampered, Some(file)) => {
            let why = format!(
                "the saved plan {} is not the file planned for {}: its sha256 differs from the one the journal recorded when it was planned; it was replaced (tampered with, or overwritten by another plan) and is never applied",
                file.file_name().unwrap_or_default().to_string_lossy(),
                short(digest.unwrap_or_default()),
            );
            let command = format!("phasegate plan --phase {}", ctx.phase.index);
            return refuse(store, ctx, name, digest, "tampered", why, command).await;
        }
        (crate::phase::SavedPlan::Apply, Some(file)) => {
            req.plan_file = file.to_path_buf();
            let json = ctx.engine.show_json(&req)?;
            crate::runner::projects::parse_requested(&json, &req, &format!("{name} (saved plan)"))?
        }
        // Gone: a fresh plan, applied only when its digest is the allowed one.
        _ => {
            req.plan_file = plan_file(ctx, name, ".replan")?;
            let mut fresh =
                crate::runner::gated::initialized_plan(ctx.engine, &req, name, "re-plan")?;
            fresh.inputs =
                crate::runner::inputs::resolve_all(ctx.ws, ctx.phase, project)?.records();
            if Some(fresh.changes.digest.as_str()) != digest {
                return replanned(store, ctx, &req, fresh, digest).await;
            }
            std::sync::Arc::unwrap_or_clone(fresh.changes)
        }
    };
    apply_changes(store, ctx, name, digest, req, &changes).await
}

/// A re-plan whose digest is not the approved one: gated and journaled like
/// any plan (so its verdicts stand beside its digest and the comment shows
/// them), and never applied now. The refusal names the next step the
/// journal now gives.
async fn replanned<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    req: &PlanRequest,
    fresh: crate::runner::projects::ProjectPlan,
    approved: Option<&str>,
) -> Result<Outcome> {
    use crate::runner::gated;
    let w = &ctx.writer;
    let name = fresh.name.clone();
    let projects = [fresh];
    let gates = gated::gate(
        ctx.ws,
        ctx.phase,
        &projects,
        &crate::cli::GateInputs::default(),
        &ctx.out_dir,
    )?;
    let [fresh] = projects;
    let base = gated::change_base(ctx.ws);
    let events = gated::plan_events(
        w,
        ctx.ws,
        ctx.phase,
        &fresh,
        &gates,
        Some(&req.plan_file),
        base.as_deref(),
    )?;
    ctx.journal(store, &events).await?;
    let progress = fold(
        &w.change,
        &runner::phase_refs(&runner::all_phases(ctx.ws)),
        &runner::read_journal(store, &w.change).await?,
    );
    let command = progress
        .next
        .map(|n| n.command)
        .unwrap_or_else(|| "phasegate status".into());
    let fate = if gates.verdict().stops() {
        "a gate blocks it, so it cannot be applied until the change is fixed"
    } else {
        "it is applied only once it is allowed in its own right (its approval, where the environment needs one)"
    };
    let why = format!(
        "plan changed since it was reviewed: the saved plan is gone and a new plan has digest {}, not the reviewed {}; the new plan was gated ({}) and journaled: {fate}",
        short(&fresh.changes.digest),
        short(approved.unwrap_or_default()),
        gates.text_line().trim_start_matches("gates: "),
    );
    refuse(
        store,
        ctx,
        &name,
        Some(&fresh.changes.digest),
        "plan-changed",
        why,
        command,
    )
    .await
}

/// init and workspace selection: what every engine call of an apply needs.
pub(super) fn prepare(ctx: &ApplyContext<'_>, project: &Project) -> Result<PlanRequest> {
    let req = runner::plan_request(ctx.ws, ctx.phase, project, PathBuf::new())?;
    ctx.engine.init(&req)?;
    if let Some(ws) = req.workspace.clone() {
        ctx.engine.select_workspace(&req, &ws)?;
    }
    Ok(req)
}

/// `state pull` saved before an apply, its event held for the append
/// that journals `apply_started`.
pub(super) fn checkpoint(
    ctx: &ApplyContext<'_>,
    req: &PlanRequest,
    name: &str,
    digest: Option<&str>,
) -> Result<()> {
    let cp = checkpoint::take(
        ctx.engine,
        req,
        &ctx.out_dir,
        name,
        &ctx.phase.environment.name,
    )?;
    let taken = ctx.writer.event(
        &ctx.phase.name,
        Some(name),
        Step::Checkpoint,
        digest,
        cp.event(),
    );
    ctx.hold(vec![taken]);
    Ok(())
}

/// The resources a plan changes, with their action words.
pub(super) fn planned(changes: &crate::plan::ChangeSet) -> Vec<(String, String)> {
    changes
        .resources
        .iter()
        .filter(|r| r.action != crate::plan::Action::NoOp && r.action != crate::plan::Action::Read)
        .map(|r| (r.address.clone(), action_word(&r.action)))
        .collect()
}

/// Applies `changes` (the plan in `req.plan_file`, already shown to be the
/// approved one): the destroy guard again, then the apply, its per-resource
/// results, and a convergence re-plan.
pub(super) async fn apply_changes<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    name: &str,
    digest: Option<&str>,
    mut req: PlanRequest,
    changes: &crate::plan::ChangeSet,
) -> Result<Outcome> {
    let w = &ctx.writer;
    let phase = &ctx.phase.name;
    if let Some(why) = crate::runner::approve::unallowed_destroys(ctx.ws, ctx.phase, name, changes)
    {
        let command = format!(
            "add an `allow_destroy` entry to the change plan, then phasegate plan --phase {}",
            ctx.phase.index
        );
        return refuse(store, ctx, name, digest, "destroy", why, command).await;
    }
    let planned = planned(changes);
    let started = w.event(
        phase,
        Some(name),
        Step::Apply,
        digest,
        EventKind::ApplyStarted,
    );
    ctx.journal(store, &[started]).await?;
    let applied = run_apply_journaled(store, ctx, name, digest, &req, &planned).await?;
    if let Some(stop) = applied.interrupted {
        return interrupted(store, ctx, name, digest, stop, applied.results).await;
    }
    let (results, error) = (applied.results, applied.error);
    let class = error.as_ref().map(|e| apply_stream::classify(e));
    let finished = w.event(
        phase,
        Some(name),
        Step::Apply,
        digest,
        EventKind::ApplyFinished {
            results: results.clone(),
            error: error.clone(),
            class,
        },
    );
    ctx.journal(store, &[finished]).await?;
    if let Some(err) = error {
        let class = class.unwrap_or(ErrorClass::Other);
        let fix = apply_stream::recommended_fix(class, ctx.phase.index);
        let mut o = outcome(
            name,
            ExitCode::External,
            "failed",
            format!("{} error: {err}", class_word(class)),
        );
        o.command = Some(fix);
        o.resources = results;
        return Ok(o);
    }
    // No completion claim without fresh evidence: a re-plan shows no changes.
    req.plan_file = plan_file(ctx, name, ".verify")?;
    let converged = ctx.engine.plan(&req)? == PlanOutcome::NoChanges;
    let checked = w.event(
        phase,
        Some(name),
        Step::Verify,
        digest,
        EventKind::ConvergenceChecked { converged },
    );
    ctx.journal(store, &[checked]).await?;
    let mut o = outcome(
        name,
        ExitCode::Success,
        "applied",
        format!(
            "plan {} applied to {}; {}",
            short(digest.unwrap_or_default()),
            ctx.phase.environment.name,
            if converged {
                "converged"
            } else {
                "a re-plan still shows changes"
            }
        ),
    );
    o.resources = results;
    Ok(o)
}

/// What an `apply -json` (and its one retry) ended with.
pub(super) struct Applied {
    pub results: Vec<ResourceResult>,
    /// The error text when the apply failed.
    pub error: Option<String>,
    /// phasegate received a signal and stopped the engine.
    pub interrupted: Option<Interruption>,
}

/// Runs `apply -json`, journaling its engine process as soon as it runs
/// (so a later command can tell whether it outlived this one); a transient
/// failure where nothing was applied is retried once after a back-off.
async fn run_apply_journaled<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    name: &str,
    digest: Option<&str>,
    req: &PlanRequest,
    planned: &[(String, String)],
) -> Result<Applied> {
    let mut retried = false;
    loop {
        let started = match ctx.engine.start_apply_json(req) {
            Err(IacError::Interrupted { signal, .. }) => {
                return Ok(not_started(planned, signal));
            }
            other => other?,
        };
        let journaled = match started.process() {
            Some(engine) => {
                let e = ctx.writer.event(
                    &ctx.phase.name,
                    Some(name),
                    Step::Apply,
                    digest,
                    EventKind::EngineStarted {
                        engine: engine.clone(),
                    },
                );
                ctx.journal(store, &[e]).await
            }
            None => Ok(()),
        };
        // The engine runs whether or not the journal took the line: follow
        // it to its end first.
        let run = started.wait();
        journaled?;
        match judge(run?, planned, retried) {
            Some(applied) => return Ok(applied),
            None => {
                tracing::warn!("transient apply failure, nothing changed: retrying once");
                std::thread::sleep(TRANSIENT_BACKOFF);
                retried = true;
            }
        }
    }
}

/// Runs `apply -json` as [`run_apply_journaled`] does, without journaling
/// its engine (the rollback's revert apply). Returns the per-resource
/// results and the error text when the apply failed; an interrupted apply
/// failed, saying so.
pub(super) fn run_apply(
    ctx: &ApplyContext<'_>,
    req: &PlanRequest,
    planned: &[(String, String)],
    backoff: std::time::Duration,
) -> Result<(Vec<ResourceResult>, Option<String>)> {
    let mut retried = false;
    loop {
        let applied = match ctx.engine.start_apply_json(req) {
            Err(IacError::Interrupted { signal, .. }) => not_started(planned, signal),
            started => match judge(started?.wait()?, planned, retried) {
                Some(applied) => applied,
                None => {
                    tracing::warn!("transient apply failure, nothing changed: retrying once");
                    std::thread::sleep(backoff);
                    retried = true;
                    continue;
                }
            },
        };
        let error = match &applied.interrupted {
            Some(stop) => Some(format!(
                "interrupted: phasegate received {}; {}",
                stop.signal.name(),
                stop.engine_words()
            )),
            None => applied.error,
        };
        return Ok((applied.results, error));
    }
}

/// Nothing ran: a signal came before the engine started.
fn not_started(planned: &[(String, String)], signal: crate::iac::interrupt::Signal) -> Applied {
    Applied {
        results: apply_stream::results(planned, &Default::default()),
        error: None,
        interrupted: Some(Interruption {
            signal,
            engine: crate::journal::EngineExit::NotStarted,
            exit_code: None,
            process: None,
        }),
    }
}

/// One run's outcome, or `None` when it is retried (a first transient
/// failure that changed nothing).
fn judge(run: ApplyRun, planned: &[(String, String)], retried: bool) -> Option<Applied> {
    let stream = apply_stream::parse(&run.stdout);
    let results = apply_stream::results(planned, &stream);
    if run.interrupted.is_some() || run.code == Some(0) {
        return Some(Applied {
            results,
            error: None,
            interrupted: run.interrupted,
        });
    }
    let text = stream
        .errors
        .iter()
        .map(|(_, t)| t.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let text = if text.is_empty() {
        run.stderr_tail.clone()
    } else {
        text
    };
    let text = crate::redact::global().apply(&text);
    let nothing_changed = stream.completed.is_empty();
    if crate::phase::retries_apply(retried, nothing_changed, apply_stream::classify(&text)) {
        return None;
    }
    Some(Applied {
        results,
        error: Some(text),
        interrupted: None,
    })
}

/// The apply was interrupted by a signal: journaled with how the engine
/// ended and what it reported; the apply stays in progress, for the next
/// `apply` to re-verify against the state the engine saved.
async fn interrupted<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    name: &str,
    digest: Option<&str>,
    stop: Interruption,
    results: Vec<ResourceResult>,
) -> Result<Outcome> {
    let e = ctx.writer.event(
        &ctx.phase.name,
        Some(name),
        Step::Apply,
        digest,
        EventKind::Interrupted {
            signal: stop.signal.name().to_string(),
            engine: stop.engine,
            exit_code: stop.exit_code,
            results: results.clone(),
        },
    );
    ctx.journal(store, &[e]).await?;
    let mut o = outcome(
        name,
        ExitCode::External,
        "interrupted",
        format!(
            "phasegate received {} during the apply of plan {}: {}; the next apply re-verifies what was done against the state the engine saved",
            stop.signal.name(),
            short(digest.unwrap_or_default()),
            stop.engine_words()
        ),
    );
    o.command = Some(format!("phasegate apply --phase {}", ctx.phase.index));
    o.resources = results;
    Ok(o)
}

pub(super) fn action_word(a: &crate::plan::Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}").to_lowercase())
}

fn class_word(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Transient => "transient",
        ErrorClass::Validation => "validation",
        ErrorClass::Permission => "permission",
        ErrorClass::StateConflict => "state conflict",
        ErrorClass::Other => "engine",
    }
}
