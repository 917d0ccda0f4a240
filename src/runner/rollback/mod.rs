//! `phasegate rollback --phase N`: undo a phase's apply.
//! - default, the revert plan: the change's base commit (`--base REV`, else
//!   the pull request's base sha) planned against the current state, gated,
//!   rendered and journaled like any plan (step `rollback`, its own digest);
//! - `--apply`: that revert plan applied, only through its gates and an
//!   approval of the revert digest where the environment needs one, under
//!   the lock, after a checkpoint; journaled `rolled_back`;
//! - `--restore-state --confirm-restore`: the checkpoint taken before the
//!   phase's apply pushed back as the state, only when the lineage matches
//!   and the serial moved only through this phase's applies.

pub mod tree;

use crate::journal::short_digest as short;
use std::path::{Path, PathBuf};

use crate::ci::ActionsContext;
use crate::cli::{GateInputs, GlobalArgs, OutputFormat, RollbackArgs};
use crate::config::{Project, ResolvedPhase};
use crate::error::{Error, ExitCode, Result};
use crate::iac::{apply_stream, CliEngine, IacEngine, PlanRequest};
use crate::journal::{fold, ErrorClass, Event, EventKind, Progress, ResourceOutcome, Step};
use crate::phase::{decide, Action, Approved, Decision, Request};
use crate::runner::checkpoint;
use crate::runner::output::{print_stdout, OutputSet};
use crate::runner::session::{self as runner, Runner, Writer};
use crate::runner::workspace::Workspace;
use crate::store::lock::Held;
use crate::store::Store;

pub fn run(global: &GlobalArgs, args: RollbackArgs) -> Result<ExitCode> {
    if args.restore_state && !args.confirm_restore {
        return Err(Error::Input(
            "--restore-state replaces the state with the checkpoint; resources created since stay in the cloud but leave the state. Add --confirm-restore to do it".into(),
        ));
    }
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("rollback needs a config".into()))?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let runner = Runner::open(&ws, actions.as_ref(), args.token.clone())?;
    let writer = runner.writer(&ws, actions.as_ref());
    let ctx = Ctx {
        ws: &ws,
        phase: &phase,
        liveness: runner.liveness(&writer),
        writer,
        out_dir: runner::absolute(&ws.out_dir(args.out.as_deref()))?,
        engine: &engine,
        base: args.base.clone().or_else(tree::base_from_event),
    };
    let store = &runner.store;
    if let (true, Some(actions)) = (args.apply, &actions) {
        crate::runner::approvals::record_approvals(
            &runner,
            &ws,
            &phase,
            actions,
            &ctx.writer,
            |view| {
                view.projects
                    .iter()
                    .filter_map(|p| p.revert.as_ref().and_then(|r| r.digest.clone()))
                    .collect()
            },
        )?;
    }
    let mut outcomes = vec![];
    for project in &phase.projects {
        let o = runner.rt.block_on(async {
            if args.restore_state {
                restore_state(store, &ctx, project).await
            } else if args.apply {
                apply_revert(store, &ctx, project).await
            } else {
                plan_revert(store, &ctx, project).await
            }
        })?;
        let stop = o.code != ExitCode::Success;
        outcomes.push(o);
        if stop {
            break;
        }
    }
    // An applied revert or a restored state closes the phase's follow-up
    // issue (a failure to post it is only logged).
    if let (true, Some(actions)) = (args.apply || args.restore_state, &actions) {
        crate::runner::followup::sync(&runner, &ws, actions, &ctx.writer.change, &phase);
    }
    if actions.is_none() {
        for o in &mut outcomes {
            if let Some(c) = &o.command {
                o.command = Some(crate::runner::approvals::local::local_command(
                    c,
                    &ctx.writer.actor,
                ));
            }
        }
    }
    for o in &outcomes {
        if let (Some(view), Some(digest)) = (&o.view, &o.digest) {
            post_revert(&runner, &ws, view, digest)?;
        }
    }
    match args.format {
        OutputFormat::Json => print_stdout(
            &serde_json::to_string_pretty(&serde_json::json!({
                "phase": phase.name,
                "projects": outcomes,
            }))
            .unwrap_or_default(),
        ),
        _ => print_stdout(
            &outcomes
                .iter()
                .map(Outcome::text)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
    Ok(ExitCode::worst(outcomes.iter().map(|o| o.code)))
}

/// The revert plan's block in the change's sticky comment (key
/// `<env>-rollback`, after the environment's own blocks), in a pull-request
/// run that reports to a PR.
fn post_revert(
    runner: &Runner,
    ws: &Workspace,
    view: &crate::render::PhaseView,
    digest: &str,
) -> Result<()> {
    let (Some(client), Some(target)) = (runner.forge(), &runner.pr) else {
        return Ok(());
    };
    let order = crate::runner::review::comment_order(ws);
    let key = format!("{}-rollback", view.environment);
    runner.rt.block_on(crate::runner::forge::post_phase(
        client, target, view, &key, &order, digest,
    ))?;
    Ok(())
}

struct Ctx<'a> {
    ws: &'a Workspace,
    phase: &'a ResolvedPhase,
    /// Whether a lock's owner is gone: in Actions, through its run's status.
    liveness: runner::Liveness<'a>,
    writer: Writer,
    out_dir: PathBuf,
    engine: &'a dyn IacEngine,
    /// `--base`, else the pull request's base sha: the commit a revert
    /// plan goes back to when given; else the base the phase's plan
    /// recorded.
    base: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
struct Outcome {
    project: String,
    #[serde(skip)]
    code: ExitCode,
    result: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    /// The revert plan as the comment shows it.
    #[serde(skip)]
    view: Option<crate::render::PhaseView>,
}

impl Outcome {
    fn new(project: &str, code: ExitCode, result: &str, message: String) -> Outcome {
        Outcome {
            project: project.into(),
            code,
            result: result.into(),
            message,
            digest: None,
            lines: vec![],
            command: None,
            view: None,
        }
    }

    fn text(&self) -> String {
        let mut out = vec![format!(
            "{}: {}: {}",
            self.project, self.result, self.message
        )];
        out.extend(self.lines.iter().map(|l| format!("  {l}")));
        if let Some(c) = &self.command {
            out.push(format!("  next: {c}"));
        }
        out.join("\n")
    }
}

async fn progress<S: Store>(store: &S, ctx: &Ctx<'_>) -> Result<(Vec<Event>, Progress)> {
    let events = runner::read_journal(store, &ctx.writer.change).await?;
    let refs = runner::phase_refs(&runner::all_phases(ctx.ws));
    let progress = fold(&ctx.writer.change, &refs, &events);
    Ok((events, progress))
}

async fn journal<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &str,
    digest: Option<&str>,
    kinds: Vec<EventKind>,
) -> Result<()> {
    let events: Vec<Event> = kinds
        .into_iter()
        .map(|k| {
            ctx.writer
                .event(&ctx.phase.name, Some(project), Step::Rollback, digest, k)
        })
        .collect();
    runner::append(store, &ctx.writer.change, &events).await
}

async fn refuse<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &str,
    what: &str,
    why: String,
    command: String,
) -> Result<Outcome> {
    refuse_naming(store, ctx, project, what, why, Some(command)).await
}

/// A journaled refusal; `command` is the next step, run as printed, or
/// `None` when only a person can supply what is missing (the reason says what).
async fn refuse_naming<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &str,
    what: &str,
    why: String,
    command: Option<String>,
) -> Result<Outcome> {
    let kind = EventKind::Refusal {
        what: what.into(),
        why: why.clone(),
        command: command.clone(),
    };
    journal(store, ctx, project, None, vec![kind]).await?;
    let mut o = Outcome::new(project, ExitCode::Refused, "refused", why);
    o.command = command;
    Ok(o)
}

/// No commit to go back to: neither `--base`, nor a pull request's base,
/// nor a base recorded with the phase's plan. Journaled, before any lock.
async fn no_base<S: Store>(store: &S, ctx: &Ctx<'_>, project: &str) -> Result<Outcome> {
    refuse_naming(
        store,
        ctx,
        project,
        "rollback-base",
        format!(
            "which commit does the revert of {project} go back to? The plan of phase {} recorded no base commit (it was not planned in a git repository), and no --base was given: name it, `phasegate rollback --phase {} --base <commit>`",
            ctx.phase.name, ctx.phase.index
        ),
        None,
    )
    .await
}

async fn decided<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &str,
    action: Action,
) -> Result<std::result::Result<Approved, Outcome>> {
    let (_, progress) = progress(store, ctx).await?;
    let req = Request {
        action,
        phase: &ctx.phase.name,
        project,
    };
    Ok(match decide(&progress, &req) {
        Decision::Proceed(a) => Ok(a),
        Decision::NothingToDo(why) => Err(Outcome::new(
            project,
            ExitCode::Success,
            "nothing to do",
            why,
        )),
        Decision::Refuse(m) => Err(refuse(store, ctx, project, m.what, m.why, m.command).await?),
    })
}

/// The base commit's tree for `project`, with the local state linked in,
/// and the request that plans there.
fn revert_request(
    ctx: &Ctx<'_>,
    project: &Project,
    rev: &str,
    plan_file: PathBuf,
) -> Result<PlanRequest> {
    let mut req = runner::plan_request(ctx.ws, ctx.phase, project, plan_file)?;
    let project_dir = runner::absolute(&req.dir)?;
    let root = tree::repo_root(&project_dir)?;
    let sha = tree::resolve(&root, rev)?;
    let relative = tree::relative_to(&root, &project_dir)?;
    let dest = ctx
        .out_dir
        .join("rollback")
        .join(format!("{}-{}", project.name, ctx.phase.environment.name));
    tree::materialize(&root, &sha, &dest)?;
    let dir = dest.join(relative);
    tree::link_local_state(&project_dir, &dir)?;
    req.dir = dir;
    Ok(req)
}

fn revert_plan_file(ctx: &Ctx<'_>, project: &str) -> Result<PathBuf> {
    let dir = ctx.out_dir.join("plans");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir.join(format!(
        "{project}-{}.revert.tfplan",
        ctx.phase.environment.name
    )))
}

/// Plans the base configuration against the current state, runs the gates
/// over it, writes its comment, and journals it as the project's revert plan.
async fn plan_revert<S: Store>(store: &S, ctx: &Ctx<'_>, project: &Project) -> Result<Outcome> {
    let name = project.name.as_str();
    if let Err(o) = decided(store, ctx, name, Action::Rollback).await? {
        return Ok(o);
    }
    let (_, progress) = progress(store, ctx).await?;
    let recorded = progress
        .phase(&ctx.phase.name)
        .and_then(|p| p.project(name))
        .and_then(|p| p.planned.as_ref())
        .and_then(|r| r.base.clone());
    let Some(base) = ctx.base.clone().or(recorded) else {
        return no_base(store, ctx, name).await;
    };
    journal(store, ctx, name, None, vec![EventKind::StepStarted]).await?;
    let planned = (|| {
        let req = revert_request(ctx, project, &base, revert_plan_file(ctx, name)?)?;
        let plan = crate::runner::gated::engine_plan(ctx.engine, &req, name, "revert plan")?;
        Ok::<_, Error>((req, plan))
    })();
    let (req, plan) = match planned {
        Ok(p) => p,
        Err(e) => {
            let failed = EventKind::StepFailed {
                error: e.to_string(),
                class: ErrorClass::Other,
            };
            journal(store, ctx, name, None, vec![failed]).await?;
            return Err(e);
        }
    };
    let plans = vec![plan];
    let gates = crate::runner::gated::gate(
        ctx.ws,
        ctx.phase,
        &plans,
        &GateInputs::default(),
        &ctx.out_dir,
    )?;
    let changes = &plans[0].changes;
    let digest = changes.digest.clone();
    let view = crate::render::PhaseView {
        change_id: ctx.writer.change.clone(),
        change_title: Some(format!(
            "Revert plan of phase {} (base {})",
            ctx.phase.name,
            short(&base)
        )),
        phase_name: format!("{} (rollback)", ctx.phase.name),
        phase_index: ctx.phase.index.saturating_sub(1),
        environment: ctx.phase.environment.name.clone(),
        projects: vec![crate::render::ProjectView {
            name: name.to_string(),
            changes: changes.clone(),
        }],
        sections: gates.sections(),
        run_url: None,
    };
    let mut files = OutputSet::new();
    let comment = format!("rollback/{name}-{}.comment.md", ctx.phase.environment.name);
    files.add(&comment, crate::render::comment(&view));
    files.write_all(&ctx.out_dir)?;

    let mut record = runner::plan_record(changes, Some(&req.plan_file))?;
    record.base = Some(base.clone());
    let mut events = vec![ctx.writer.event(
        &ctx.phase.name,
        Some(name),
        Step::Rollback,
        Some(&digest),
        EventKind::StepSucceeded { plan: Some(record) },
    )];
    events.extend(crate::runner::gated::gate_events(
        &ctx.writer,
        ctx.ws,
        ctx.phase,
        &plans[0],
        &gates,
        Step::Rollback,
    ));
    runner::append(store, &ctx.writer.change, &events).await?;

    let n = ctx.phase.index;
    let env = &ctx.phase.environment;
    let stops = gates.verdict().stops();
    let mut o = Outcome::new(
        name,
        if stops {
            ExitCode::Refused
        } else {
            ExitCode::Success
        },
        "revert planned",
        format!(
            "{}; digest {}",
            crate::render::counts_line(&changes.counts()),
            digest
        ),
    );
    o.digest = Some(digest.clone());
    o.view = Some(view);
    o.lines.push(gates.text_line());
    o.lines
        .push(format!("comment: {}", ctx.out_dir.join(&comment).display()));
    o.command = Some(if stops {
        "fix what the gates found in the revert plan, then plan it again".to_string()
    } else if env.reviewers_required || env.protected {
        format!(
            "/phasegate approve {} {}, then phasegate rollback --phase {n} --apply",
            env.name,
            short(&digest)
        )
    } else {
        format!("phasegate rollback --phase {n} --apply")
    });
    Ok(o)
}

/// Takes the project's lock; when a job holds it, refuses naming `again`
/// (the refused command) as the next step.
async fn take_lock<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &str,
    again: String,
) -> Result<std::result::Result<Held, Outcome>> {
    match crate::runner::lock::take(store, &ctx.liveness, &ctx.writer, ctx.phase, project, None)
        .await?
    {
        Ok(held) => Ok(Ok(held)),
        Err(busy) => Ok(Err(
            refuse(store, ctx, project, "lock", busy.why, again).await?
        )),
    }
}

async fn release<S: Store>(store: &S, ctx: &Ctx<'_>, project: &str, held: &Held) -> Result<()> {
    crate::runner::lock::release(store, &ctx.writer, ctx.phase, project, None, held).await
}

/// Applies the journaled revert plan under the lock, after a checkpoint.
async fn apply_revert<S: Store>(store: &S, ctx: &Ctx<'_>, project: &Project) -> Result<Outcome> {
    let name = project.name.as_str();
    let approved = match decided(store, ctx, name, Action::RollbackApply).await? {
        Ok(a) => a,
        Err(o) => return Ok(o),
    };
    // The tree the revert was planned from, so the reviewed plan applies
    // in the same configuration.
    let (_, progress) = progress(store, ctx).await?;
    let recorded = progress
        .phase(&ctx.phase.name)
        .and_then(|p| p.project(name))
        .and_then(|p| p.revert.as_ref())
        .and_then(|r| r.planned.base.clone());
    let Some(base) = recorded.or_else(|| ctx.base.clone()) else {
        return no_base(store, ctx, name).await;
    };
    let again = format!("phasegate rollback --phase {} --apply", ctx.phase.index);
    let held = match take_lock(store, ctx, name, again).await? {
        Ok(h) => h,
        Err(o) => return Ok(o),
    };
    let result = locked_revert(store, ctx, project, &approved, &base).await;
    release(store, ctx, name, &held).await?;
    result
}

async fn locked_revert<S: Store>(
    store: &S,
    ctx: &Ctx<'_>,
    project: &Project,
    approved: &Approved,
    base: &str,
) -> Result<Outcome> {
    let name = project.name.as_str();
    let digest = approved.digest.clone().unwrap_or_default();
    let saved = approved
        .plan_file
        .as_deref()
        .map(Path::new)
        .filter(|f| f.is_file());
    let on_disk = saved.map(runner::file_sha256).transpose()?;
    let usable =
        crate::phase::saved_plan(approved, on_disk.as_deref()) == crate::phase::SavedPlan::Apply;
    let Some(saved) = saved.filter(|_| usable) else {
        return refuse(
            store,
            ctx,
            name,
            "rollback-plan",
            format!(
                "the saved revert plan {} is gone or changed; only the reviewed file is applied",
                short(&digest)
            ),
            format!("phasegate rollback --phase {}", ctx.phase.index),
        )
        .await;
    };
    let req = revert_request(ctx, project, base, saved.to_path_buf())?;
    let cp = checkpointed(ctx, &req, name)?;
    journal(store, ctx, name, Some(&digest), vec![cp.event()]).await?;
    let json = ctx.engine.show_json(&req)?;
    let changes =
        crate::runner::projects::parse_requested(&json, &req, &format!("{name} (revert plan)"))?;
    let planned: Vec<(String, String)> = changes
        .resources
        .iter()
        .filter(|r| r.action != crate::plan::Action::NoOp && r.action != crate::plan::Action::Read)
        .map(|r| {
            (
                r.address.clone(),
                crate::runner::apply::action_word(&r.action),
            )
        })
        .collect();
    let started = vec![EventKind::ApplyStarted];
    journal(store, ctx, name, Some(&digest), started).await?;
    // The same apply as `phasegate apply`: the saved plan only, one retry
    // of a transient failure that changed nothing.
    let apply_ctx = crate::runner::apply::ApplyContext {
        ws: ctx.ws,
        phase: ctx.phase,
        writer: ctx.writer.clone(),
        out_dir: ctx.out_dir.clone(),
        engine: ctx.engine,
        mode: crate::runner::apply::resume::Mode::Apply,
        held: Default::default(),
    };
    let (results, error) = crate::runner::apply::run_apply(
        &apply_ctx,
        &req,
        &planned,
        crate::runner::apply::TRANSIENT_BACKOFF,
    )?;
    let class = error.as_deref().map(apply_stream::classify);
    let mut kinds = vec![EventKind::ApplyFinished {
        results: results.clone(),
        error: error.clone(),
        class,
    }];
    let applied = results
        .iter()
        .filter(|r| r.outcome == ResourceOutcome::Applied)
        .count();
    let lines: Vec<String> = results
        .iter()
        .map(|r| format!("{:?} {} ({})", r.outcome, r.address, r.action).to_lowercase())
        .collect();
    if let Some(error) = &error {
        kinds.push(EventKind::StepFailed {
            error: error.clone(),
            class: class.unwrap_or(ErrorClass::Other),
        });
        journal(store, ctx, name, Some(&digest), kinds).await?;
        let mut o = Outcome::new(
            name,
            ExitCode::External,
            "revert failed",
            format!("the revert plan {} failed: {error}", short(&digest)),
        );
        o.lines = lines;
        o.command = Some(format!("phasegate rollback --phase {}", ctx.phase.index));
        return Ok(o);
    }
    kinds.push(EventKind::RolledBack {
        reason: format!(
            "revert plan {} (base {}) applied: {applied} resources changed",
            short(&digest),
            short(base)
        ),
    });
    kinds.push(EventKind::StepSucceeded { plan: None });
    journal(store, ctx, name, Some(&digest), kinds).await?;
    let mut o = Outcome::new(
        name,
        ExitCode::Success,
        "rolled back",
        format!(
            "revert plan {} applied to {}",
            short(&digest),
            ctx.phase.environment.name
        ),
    );
    o.digest = Some(digest);
    o.lines = lines;
    o.command = Some(format!("phasegate plan --phase {}", ctx.phase.index));
    Ok(o)
}

fn init(ctx: &Ctx<'_>, req: &PlanRequest) -> Result<()> {
    ctx.engine.init(req)?;
    if let Some(ws) = &req.workspace {
        ctx.engine.select_workspace(req, ws)?;
    }
    Ok(())
}

/// Initializes `req`'s directory and saves the state as it is now.
fn checkpointed(ctx: &Ctx<'_>, req: &PlanRequest, project: &str) -> Result<checkpoint::Checkpoint> {
    init(ctx, req)?;
    checkpoint::take(
        ctx.engine,
        req,
        &ctx.out_dir,
        project,
        &ctx.phase.environment.name,
    )
}

/// Pushes the checkpoint taken before the phase's apply back as the state.
async fn restore_state<S: Store>(store: &S, ctx: &Ctx<'_>, project: &Project) -> Result<Outcome> {
    let name = project.name.as_str();
    if let Err(o) = decided(store, ctx, name, Action::Rollback).await? {
        return Ok(o);
    }
    let again = format!(
        "phasegate rollback --phase {} --restore-state --confirm-restore",
        ctx.phase.index
    );
    let held = match take_lock(store, ctx, name, again).await? {
        Ok(h) => h,
        Err(o) => return Ok(o),
    };
    let result = locked_restore(store, ctx, project).await;
    release(store, ctx, name, &held).await?;
    result
}

async fn locked_restore<S: Store>(store: &S, ctx: &Ctx<'_>, project: &Project) -> Result<Outcome> {
    let name = project.name.as_str();
    let n = ctx.phase.index;
    let (events, progress) = progress(store, ctx).await?;
    let cp = progress
        .phase(&ctx.phase.name)
        .and_then(|p| p.project(name))
        .and_then(|p| p.checkpoint.clone());
    let Some(cp) = cp else {
        return refuse(
            store,
            ctx,
            name,
            "checkpoint",
            format!(
                "no checkpoint of {name} is journaled in phase {}; a revert plan undoes the change without one",
                ctx.phase.name
            ),
            format!("phasegate rollback --phase {n}"),
        )
        .await;
    };
    let file = PathBuf::from(&cp.file);
    if runner::file_sha256(&file).ok().as_deref() != Some(cp.sha256.as_str()) {
        return refuse(
            store,
            ctx,
            name,
            "checkpoint",
            format!(
                "the checkpoint {} is missing or not the journaled one (sha256 {}): download the checkpoint artifact to {}, then run this again",
                cp.file,
                short(&cp.sha256),
                cp.file
            ),
            format!("phasegate rollback --phase {n} --restore-state --confirm-restore"),
        )
        .await;
    }
    let req = runner::plan_request(ctx.ws, ctx.phase, project, PathBuf::new())?;
    init(ctx, &req)?;
    let current: serde_json::Value =
        serde_json::from_str(&ctx.engine.state_pull(&req)?).unwrap_or_default();
    let lineage = current["lineage"].as_str().map(str::to_string);
    let serial = current["serial"].as_u64();
    if lineage.is_none() || lineage != cp.lineage {
        return refuse(
            store,
            ctx,
            name,
            "lineage",
            format!(
                "the state's lineage {} is not the checkpoint's {}: it is another state, which a restore would overwrite; a revert plan works from the state as it is",
                lineage.as_deref().unwrap_or("(none)"),
                cp.lineage.as_deref().unwrap_or("(none)")
            ),
            format!("phasegate rollback --phase {n}"),
        )
        .await;
    }
    if let Some(why) = serial_moved_elsewhere(&events, ctx, name, &cp.file, cp.serial, serial) {
        return refuse(
            store,
            ctx,
            name,
            "serial",
            format!("{why}; a revert plan works from the state as it is"),
            format!("phasegate rollback --phase {n}"),
        )
        .await;
    }
    // The state now is itself checkpointed first, so the restore can be undone.
    let before = checkpointed(ctx, &req, name)?;
    journal(store, ctx, name, None, vec![before.event()]).await?;
    let mut restored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?)
            .map_err(|e| Error::Input(format!("{}: not a state file: {e}", file.display())))?;
    // Terraform takes a state whose serial is above the current one without
    // -force, and still checks the lineage itself.
    restored["serial"] = serde_json::json!(serial.unwrap_or(0) + 1);
    let push = ctx.out_dir.join("rollback").join(format!(
        "{name}-{}-restore.tfstate",
        ctx.phase.environment.name
    ));
    std::fs::create_dir_all(push.parent().expect("has a parent"))
        .map_err(|e| Error::io(&push, e))?;
    std::fs::write(
        &push,
        serde_json::to_string_pretty(&restored).unwrap_or_default(),
    )
    .map_err(|e| Error::io(&push, e))?;
    let pushed = ctx.engine.state_push(&req, &push);
    let _ = std::fs::remove_file(&push);
    if let Err(e) = pushed {
        let failed = EventKind::StepFailed {
            error: e.to_string(),
            class: ErrorClass::StateConflict,
        };
        journal(store, ctx, name, None, vec![failed]).await?;
        return Err(e.into());
    }
    let reason = format!(
        "state restored from checkpoint {} (serial {}, lineage {}); resources created since remain in the cloud, outside the state",
        cp.file,
        cp.serial.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
        cp.lineage.as_deref().unwrap_or("?")
    );
    journal(
        store,
        ctx,
        name,
        None,
        vec![
            EventKind::RolledBack {
                reason: reason.clone(),
            },
            EventKind::StepSucceeded { plan: None },
        ],
    )
    .await?;
    let mut o = Outcome::new(name, ExitCode::Success, "state restored", reason);
    o.lines.push(format!(
        "the state before the restore is checkpointed at {}",
        before.file.display()
    ));
    o.command = Some(format!("phasegate plan --phase {n}"));
    Ok(o)
}

/// Why the state's serial did not move only through this phase's applies
/// of `project` since the checkpoint, or `None` when it did.
fn serial_moved_elsewhere(
    events: &[Event],
    ctx: &Ctx<'_>,
    project: &str,
    checkpoint_file: &str,
    at_checkpoint: Option<u64>,
    now: Option<u64>,
) -> Option<String> {
    let (Some(then), Some(now)) = (at_checkpoint, now) else {
        return Some("the checkpoint or the state has no serial".into());
    };
    if now < then {
        return Some(format!(
            "the state's serial {now} is below the checkpoint's {then}"
        ));
    }
    if now == then {
        return None;
    }
    let env = &ctx.phase.environment.name;
    let phases = runner::all_phases(ctx.ws);
    let same_env = |phase: &str| {
        phases
            .iter()
            .any(|p| p.name == phase && &p.environment.name == env)
    };
    let since = events.iter().position(|e| {
        e.phase == ctx.phase.name
            && e.project.as_deref() == Some(project)
            && matches!(&e.kind, EventKind::CheckpointTaken { file, .. } if file == checkpoint_file)
    })?;
    let applies = &events[since..];
    let ours = applies.iter().any(|e| {
        e.phase == ctx.phase.name
            && e.project.as_deref() == Some(project)
            && e.kind == EventKind::ApplyStarted
    });
    let others: Vec<&str> = applies
        .iter()
        .filter(|e| {
            e.phase != ctx.phase.name
                && e.project.as_deref() == Some(project)
                && e.kind == EventKind::ApplyStarted
                && same_env(&e.phase)
        })
        .map(|e| e.phase.as_str())
        .collect();
    if !others.is_empty() {
        return Some(format!(
            "phase {} applied {project} in {env} after the checkpoint",
            others.join(", ")
        ));
    }
    if !ours {
        return Some(format!(
            "the state's serial moved from {then} to {now} with no apply of phase {} journaled: someone else wrote it",
            ctx.phase.name
        ));
    }
    None
}
