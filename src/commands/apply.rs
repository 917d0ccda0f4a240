//! `phasegate apply`: apply exactly the reviewed plan of one phase. For each
//! project: the step machine decides from the journal; the lock on the
//! environment and project is taken; a checkpoint (`state pull`) is saved
//! and journaled; only the saved plan whose sha256 the journal recorded is
//! applied (or, when it is gone, a re-plan whose digest equals the approved
//! one); per-resource results and a convergence re-plan are journaled.

use std::path::{Path, PathBuf};

use super::checkpoint;
use super::output::print_stdout;
use super::runner::{self, StoreChoice, Writer};
use super::workspace::Workspace;
use crate::ci::ActionsContext;
use crate::cli::{ApplyArgs, GlobalArgs, OutputFormat};
use crate::config::{Project, ResolvedPhase};
use crate::error::{Error, ExitCode, Result};
use crate::iac::{apply_stream, CliEngine, IacEngine, PlanOutcome, PlanRequest};
use crate::journal::{fold, ErrorClass, EventKind, ResourceOutcome, ResourceResult, Step};
use crate::phase::{decide, Action, Approved, Decision, Request};
use crate::store::lock::{self, Holder, LocalLiveness, LockError, RunLiveness};
use crate::store::{local::LocalStore, Store};

/// How long to wait before the one retry of a transient failure.
const TRANSIENT_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

pub fn run(global: &GlobalArgs, args: ApplyArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("apply needs a config".into()))?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let ctx = ApplyContext {
        ws: &ws,
        phase: &phase,
        writer: Writer::new(&ws, actions.as_ref()),
        out_dir: runner::absolute(&ws.out_dir(args.out.as_deref()))?,
        engine: &engine,
    };
    let rt = super::forge::runtime()?;
    let outcomes = match runner::store_choice(&ws, actions.as_ref())? {
        StoreChoice::Local(dir) => {
            let store = LocalStore::new(dir);
            if let Some(actions) = &actions {
                record_approvals(&rt, &store, &ctx, actions, args.token.clone())?;
            }
            let outcomes = rt.block_on(apply_phase(&store, &LocalLiveness, &ctx))?;
            if let Some(actions) = &actions {
                post(&store, &ctx, actions, args.token.clone())?;
            }
            outcomes
        }
    };
    report(&outcomes, args.format);
    Ok(outcomes
        .iter()
        .map(|o| o.code)
        .max_by_key(|c| *c as i32)
        .unwrap_or(ExitCode::Success))
}

/// In Actions, journals the approvals GitHub holds for the phase's current
/// digest, so the step machine can see them. The forge client brings its
/// own runtime, so this runs outside `rt`.
fn record_approvals<S: Store>(
    rt: &tokio::runtime::Runtime,
    store: &S,
    ctx: &ApplyContext<'_>,
    actions: &ActionsContext,
    token: Option<String>,
) -> Result<()> {
    let token = token.filter(|t| !t.trim().is_empty());
    let env = &ctx.phase.environment;
    if token.is_none() || !(env.reviewers_required || env.protected) {
        return Ok(());
    }
    let progress = rt.block_on(runner::progress(store, ctx.ws, &ctx.writer.change))?;
    let Some(phase) = progress.phase(&ctx.phase.name) else {
        return Ok(());
    };
    let Some(digest) = phase.digest.clone() else {
        return Ok(());
    };
    let events = super::runner_approval::approval_events(
        ctx.ws,
        ctx.phase,
        phase,
        actions,
        token,
        &ctx.writer,
        &digest,
    )?;
    rt.block_on(runner::append(store, &ctx.writer.change, &events))
}

/// In a pull-request run with a token, the comment's journal block and the
/// check run follow the journal; a failure to post fails the command.
fn post<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    actions: &ActionsContext,
    token: Option<String>,
) -> Result<()> {
    let token = token.filter(|t| !t.trim().is_empty());
    let (Some(number), Some(_)) = (actions.pull_request(), &token) else {
        return Ok(());
    };
    let (rt, client) = super::forge::connect(token)?;
    let repo = super::forge::repo_of(actions);
    let target = crate::github::PrTarget {
        repo: repo.clone(),
        number,
    };
    let progress = rt.block_on(super::runner_post::post_progress(
        store,
        &client,
        &target,
        ctx.ws,
        &ctx.writer.change,
        ctx.phase,
    ))?;
    if let Some(sha) = actions.head_sha() {
        if let Some(run) =
            super::runner_post::check_run(&progress, ctx.phase, sha, actions.run_url())
        {
            rt.block_on(crate::github::Forge::create_check_run(&client, &repo, &run))?;
        }
    }
    Ok(())
}

/// What one invocation works with.
pub struct ApplyContext<'a> {
    pub ws: &'a Workspace,
    pub phase: &'a ResolvedPhase,
    pub writer: Writer,
    pub out_dir: PathBuf,
    pub engine: &'a dyn IacEngine,
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

fn outcome(project: &str, code: ExitCode, result: &str, message: String) -> Outcome {
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
    let req = Request {
        action: Action::Apply,
        phase,
        project: name,
    };
    let approved = match decide(&progress, &req) {
        Decision::Refuse(m) => {
            return refuse(store, ctx, name, None, m.what, m.why, m.command).await;
        }
        Decision::NothingToDo(why) => {
            return Ok(outcome(name, ExitCode::Success, "nothing to do", why));
        }
        Decision::Proceed(a) => a,
    };
    let digest = approved.digest.clone();
    let env = ctx.phase.environment.name.clone();
    let holder = Holder {
        owner: w.owner(),
        change: w.change.clone(),
        since: runner::now(),
    };
    let held = match lock::acquire(store, liveness, &env, name, holder).await {
        Ok(h) => h,
        Err(LockError::Held { holder, .. }) => {
            let why = format!(
                "{env}/{name} is locked by {} since {}; it is applied by one job at a time",
                lock::describe(&holder.owner),
                holder.since
            );
            let command = format!(
                "phasegate unlock --env {env} --project {name} --reason \"...\" (only once that job is surely gone)"
            );
            return refuse(store, ctx, name, digest.as_deref(), "lock", why, command).await;
        }
        Err(e) => return Err(Error::External(e.to_string())),
    };
    let mut taken = vec![];
    if let Some(broken) = &held.broken {
        taken.push(w.event(
            phase,
            Some(name),
            Step::Lock,
            digest.as_deref(),
            EventKind::LockBroken {
                environment: env.clone(),
                owner: broken.owner.clone(),
                reason: format!(
                    "stale: {} is no longer running",
                    lock::describe(&broken.owner)
                ),
            },
        ));
    }
    taken.push(w.event(
        phase,
        Some(name),
        Step::Lock,
        digest.as_deref(),
        EventKind::LockTaken {
            environment: env.clone(),
            owner: w.owner(),
        },
    ));
    runner::append(store, &w.change, &taken).await?;
    let result = locked_apply(store, ctx, project, &approved).await;
    let _ = lock::release(store, &held).await;
    let released = w.event(
        phase,
        Some(name),
        Step::Lock,
        digest.as_deref(),
        EventKind::LockReleased { environment: env },
    );
    runner::append(store, &w.change, &[released]).await?;
    result
}

async fn refuse<S: Store>(
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
    runner::append(store, &ctx.writer.change, &[e]).await?;
    let mut o = outcome(project, ExitCode::Refused, "refused", why);
    o.command = Some(command);
    Ok(o)
}

fn plan_file(ctx: &ApplyContext<'_>, project: &str, suffix: &str) -> Result<PathBuf> {
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
    let w = &ctx.writer;
    let phase = &ctx.phase.name;
    let name = project.name.as_str();
    let digest = approved.digest.as_deref();
    let mut req = runner::plan_request(ctx.ws, ctx.phase, project, PathBuf::new())?;
    ctx.engine.init(&req)?;
    if let Some(ws) = req.workspace.clone() {
        ctx.engine.select_workspace(&req, &ws)?;
    }
    let cp = checkpoint::take(
        ctx.engine,
        &req,
        &ctx.out_dir,
        name,
        &ctx.phase.environment.name,
    )?;
    let taken = w.event(phase, Some(name), Step::Checkpoint, digest, cp.event());
    runner::append(store, &w.change, &[taken]).await?;

    // Only the reviewed plan: the saved file whose hash the journal holds,
    // else a fresh plan whose normalized digest equals the approved one.
    let recorded = approved.plan_file.as_deref().map(Path::new).filter(|f| {
        f.is_file() && approved.plan_sha256.as_deref() == runner::file_sha256(f).ok().as_deref()
    });
    let changes = match recorded {
        Some(file) => {
            req.plan_file = file.to_path_buf();
            let json = ctx.engine.show_json(&req)?;
            super::projects::parse_plan(&json, &format!("{name} (saved plan)"))?
        }
        None => {
            req.plan_file = plan_file(ctx, name, ".replan")?;
            ctx.engine.plan(&req)?;
            let json = ctx.engine.show_json(&req)?;
            let fresh = super::projects::parse_plan(&json, &format!("{name} (re-plan)"))?;
            if Some(fresh.digest.as_str()) != digest {
                // The new plan goes to the journal (and so to the comment)
                // for a new approval; it is never applied now.
                let record = runner::plan_record(&fresh, Some(&req.plan_file))?;
                let e = w.event(
                    phase,
                    Some(name),
                    Step::Plan,
                    Some(&fresh.digest),
                    EventKind::StepSucceeded { plan: Some(record) },
                );
                runner::append(store, &w.change, &[e]).await?;
                let why = format!(
                    "plan changed since approval: the saved plan is gone and a new plan has digest {}, not the approved {}",
                    short(&fresh.digest),
                    short(digest.unwrap_or_default())
                );
                let command = format!(
                    "phasegate status (then approve plan {})",
                    short(&fresh.digest)
                );
                return refuse(
                    store,
                    ctx,
                    name,
                    Some(&fresh.digest),
                    "plan-changed",
                    why,
                    command,
                )
                .await;
            }
            fresh
        }
    };
    let planned: Vec<(String, String)> = changes
        .resources
        .iter()
        .filter(|r| r.action != crate::plan::Action::NoOp && r.action != crate::plan::Action::Read)
        .map(|r| (r.address.clone(), action_word(&r.action)))
        .collect();

    let started = w.event(
        phase,
        Some(name),
        Step::Apply,
        digest,
        EventKind::ApplyStarted,
    );
    runner::append(store, &w.change, &[started]).await?;
    let (results, error) = run_apply(ctx, &req, &planned)?;
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
    runner::append(store, &w.change, &[finished]).await?;
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
    runner::append(store, &w.change, &[checked]).await?;
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

/// Runs `apply -json`; a transient failure where nothing was applied is
/// retried once after a back-off. Returns the per-resource results and the
/// error text when the apply failed.
fn run_apply(
    ctx: &ApplyContext<'_>,
    req: &PlanRequest,
    planned: &[(String, String)],
) -> Result<(Vec<ResourceResult>, Option<String>)> {
    let mut retried = false;
    loop {
        let run = ctx.engine.apply_json(req)?;
        let stream = apply_stream::parse(&run.stdout);
        let results = apply_stream::results(planned, &stream);
        if run.code == 0 {
            return Ok((results, None));
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
        if !retried && nothing_changed && apply_stream::classify(&text) == ErrorClass::Transient {
            tracing::warn!("transient apply failure, nothing changed: retrying once");
            std::thread::sleep(TRANSIENT_BACKOFF);
            retried = true;
            continue;
        }
        return Ok((results, Some(text)));
    }
}

fn action_word(a: &crate::plan::Action) -> String {
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

fn short(d: &str) -> &str {
    &d[..d.len().min(12)]
}
