//! `phasegate steps`: runs a phase's operation steps in order, each after
//! the steps (and the Terraform apply) it requires, under the approval of
//! the phase digest that bound their commands and previews. A step changed
//! since that plan is refused. Each step runs under its own lock, and every
//! record is journaled before the next action, so a job that dies anywhere
//! resumes from the journal: `phasegate steps` again polls or verifies a
//! step that was executing, never runs it blindly a second time.

use std::time::Instant;

use serde::Serialize;

use super::command::StepCommands;
use super::execute::{drive, JobClock, Recorder, Settled};
use super::preview::digest_of;
use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat, StepsArgs};
use crate::config::steps::{parse_poll_duration, run_order, Step, StepKind};
use crate::config::ResolvedPhase;
use crate::error::{Error, ExitCode, Result};
use crate::journal::operation::{CommandRun, OperationRecord};
use crate::journal::{fold, EventKind, PhaseProgress, Progress, Step as JournalStep, Writer};
use crate::phase::operation::{Mode, Offer};
use crate::phase::{decide_steps, Decision};
use crate::render::operations::{state_words, StepView};
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Runner};
use crate::runner::workspace::Workspace;
use crate::store::lock::RunLiveness;
use crate::store::Store;

/// One step's outcome, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub step: String,
    pub irreversible: bool,
    /// `succeeded`, `refused`, `waiting`, `pending`, `rolled back`, `aborted`.
    pub result: String,
    pub message: String,
    /// What to run next about this step, when it needs a person.
    pub next: Vec<String>,
    /// The step's log files, relative to the output directory.
    pub logs: Vec<String>,
    #[serde(skip)]
    pub code: ExitCode,
}

pub fn run(global: &GlobalArgs, args: StepsArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("steps needs a config".into()))?;
    let job_time = parse_poll_duration(&args.job_time)
        .map_err(|e| Error::Input(format!("--job-time: {e}")))?;
    let (mode, only) = match (&args.retry, &args.rollback, &args.abort) {
        (Some(id), _, _) => (Mode::Retry, Some(id.clone())),
        (_, Some(id), _) => (Mode::Rollback, Some(id.clone())),
        (_, _, Some(id)) => (Mode::Abort, Some(id.clone())),
        _ => (Mode::Run, None),
    };
    if let Some(id) = &only {
        let known = phase
            .steps
            .iter()
            .any(|s| &s.id == id && s.kind == StepKind::Operation);
        if !known {
            return Err(Error::Input(format!(
                "phase {} has no operation step `{id}`; its steps: {}",
                phase.name,
                operation_ids(&phase)
            )));
        }
    }
    if phase.steps.iter().all(|s| s.kind != StepKind::Operation) {
        print_stdout(&format!(
            "phase {} has no operation steps: nothing to run",
            phase.name
        ));
        return Ok(ExitCode::Success);
    }
    let runner = Runner::open(&ws, actions.as_ref(), args.token.clone())?;
    let writer = runner.writer(&ws, actions.as_ref());
    if let Some(actions) = &actions {
        crate::runner::approvals::record_approvals(
            &runner,
            &ws,
            &phase,
            actions,
            &writer,
            |view| view.digest.clone().into_iter().collect(),
        )?;
    }
    let out_dir = runner::absolute(&ws.out_dir(args.out.as_deref()))?;
    let logs_dir = out_dir.join("steps");
    let ctx = StepsContext {
        ws: &ws,
        phase: &phase,
        writer: &writer,
        commands: StepCommands {
            base_dir: &ws.base_dir,
            logs_dir: &logs_dir,
        },
        clock: JobClock {
            deadline: Instant::now() + job_time,
            sleep: std::thread::sleep,
        },
    };
    let liveness = runner.liveness(&writer);
    let outcomes = runner.rt.block_on(run_steps(
        &runner.store,
        &liveness,
        &ctx,
        mode,
        only.as_deref(),
        args.waiting,
    ))?;
    let progress = runner
        .rt
        .block_on(runner::progress(&runner.store, &ws, &writer.change))?;
    let waiting = outcomes.iter().any(|o| o.result == "waiting");
    if let Some(actions) = &actions {
        crate::runner::post::publish_progress(
            &runner,
            &ws,
            actions,
            &writer.change,
            &phase,
            crate::runner::post::CheckRunPost::None,
        )?;
        let summary = summary(&phase, &progress);
        crate::runner::actions::publish_step(
            actions,
            &[
                ("waiting", waiting.to_string()),
                ("continued", (!outcomes.is_empty()).to_string()),
            ],
            &summary,
        )?;
    }
    let mut outcomes = outcomes;
    let mut progress = progress;
    if actions.is_none() {
        // Outside GitHub an approval is given with `approve --local`.
        let local = |c: &str| crate::runner::approvals::local::local_command(c, &writer.actor);
        for o in &mut outcomes {
            o.next = o.next.iter().map(|c| local(c)).collect();
        }
        if let Some(next) = &mut progress.next {
            next.command = local(&next.command);
        }
    }
    report(&outcomes, &progress, &out_dir, args.format);
    Ok(ExitCode::worst(outcomes.iter().map(|o| o.code)))
}

fn operation_ids(phase: &ResolvedPhase) -> String {
    let ids: Vec<String> = phase
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Operation)
        .map(|s| format!("`{}`", s.id))
        .collect();
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

struct StepsContext<'a> {
    ws: &'a Workspace,
    phase: &'a ResolvedPhase,
    writer: &'a Writer,
    commands: StepCommands<'a>,
    clock: JobClock,
}

impl StepsContext<'_> {
    async fn progress<S: Store>(&self, store: &S) -> Result<Progress> {
        let events = runner::read_journal(store, &self.writer.change).await?;
        Ok(fold(
            &self.writer.change,
            &runner::phase_refs(&runner::all_phases(self.ws)),
            &events,
        ))
    }

    fn command(&self, flag: &str) -> String {
        format!("phasegate steps --phase {}{flag}", self.phase.index)
    }
}

/// Runs the phase's steps (or the one a flag names) until one needs a
/// person, waits, or cannot start yet.
async fn run_steps<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    ctx: &StepsContext<'_>,
    mode: Mode,
    only: Option<&str>,
    waiting_only: bool,
) -> Result<Vec<StepOutcome>> {
    let progress = ctx.progress(store).await?;
    // The continuation: only a step a job left behind, else nothing.
    let left_behind = |p: &Progress| {
        p.phase(&ctx.phase.name).and_then(|ph| {
            ph.operations
                .iter()
                .find(|o| o.state.ended.is_none() && (o.state.waiting || o.state.attempts > 0))
                .map(|o| o.id.clone())
        })
    };
    let only: Option<String> = match (waiting_only, only) {
        (true, _) => match left_behind(&progress) {
            Some(id) => Some(id),
            None => return Ok(vec![]),
        },
        (false, only) => only.map(str::to_string),
    };
    let only = only.as_deref();
    if let Decision::Refuse(m) = decide_steps(&progress, &ctx.phase.name) {
        return Ok(vec![StepOutcome {
            step: only.unwrap_or("*").to_string(),
            irreversible: false,
            result: "refused".into(),
            message: m.why,
            next: vec![m.command],
            logs: vec![],
            code: ExitCode::Refused,
        }]);
    }
    let order = run_order(&ctx.phase.steps).unwrap_or_default();
    let mut outcomes = vec![];
    // A continued step runs on into the steps after it; a flag's step alone.
    let from = if waiting_only { only } else { None };
    let only = if waiting_only { None } else { only };
    let mut reached = from.is_none();
    for step in order
        .into_iter()
        .filter(|s| s.kind == StepKind::Operation)
        .filter(|s| only.is_none_or(|id| id == s.id))
    {
        reached = reached || from == Some(step.id.as_str());
        if !reached {
            continue;
        }
        // Fresh for each step: the one before may have just succeeded.
        let progress = ctx.progress(store).await?;
        let o = run_one(store, liveness, ctx, &progress, step, mode).await?;
        let stop = o.result != "succeeded";
        outcomes.push(o);
        if stop {
            break;
        }
    }
    Ok(outcomes)
}

async fn run_one<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    ctx: &StepsContext<'_>,
    progress: &Progress,
    step: &Step,
    mode: Mode,
) -> Result<StepOutcome> {
    let phase = progress
        .phase(&ctx.phase.name)
        .ok_or_else(|| Error::Input(format!("phase {} is not in the change", ctx.phase.name)))?;
    let op = phase
        .operations
        .iter()
        .find(|o| o.id == step.id)
        .ok_or_else(|| Error::Input(format!("step {} is not in phase {}", step.id, phase.name)))?;
    let outcome = |result: &str, message: String, next: Vec<String>, code: ExitCode| StepOutcome {
        step: step.id.clone(),
        irreversible: step.irreversible,
        result: result.to_string(),
        message,
        next,
        logs: vec![],
        code,
    };
    if mode == Mode::Run && op.succeeded() {
        return Ok(outcome(
            "succeeded",
            state_words(step, &op.state),
            vec![],
            ExitCode::Success,
        ));
    }
    if mode == Mode::Run {
        if let Some(why) = unmet_requirement(&runner::all_phases(ctx.ws), progress, phase, step) {
            return Ok(outcome("pending", why, vec![], ExitCode::Success));
        }
    }
    // The step must be the one the approved plan previewed.
    let preview = op.records.iter().rev().find_map(|r| match r {
        OperationRecord::Previewed { step_digest, run } => Some((step_digest, run)),
        _ => None,
    });
    let Some((planned, run)) = preview else {
        return Ok(outcome(
            "refused",
            format!(
                "step {} has no preview in the plan of phase {}",
                step.id, phase.name
            ),
            vec![format!("phasegate plan --phase {}", ctx.phase.index)],
            ExitCode::Refused,
        ));
    };
    let shown = step.preview.as_ref().map(|_| run);
    let now = digest_of(step, shown);
    if &now != planned {
        return Ok(outcome(
            "refused",
            format!(
                "step {} changed since the plan that previewed it (digest {} then, {} now): its commands are not the ones approved; plan again, and approve the new digest",
                step.id,
                crate::journal::short_digest(planned),
                crate::journal::short_digest(&now)
            ),
            vec![format!("phasegate plan --phase {}", ctx.phase.index)],
            ExitCode::Refused,
        ));
    }
    if shown.is_some_and(|r| !r.ok()) && op.state.attempts == 0 {
        return Ok(outcome(
            "refused",
            format!(
                "the preview of step {} failed at plan time: fix it and plan again",
                step.id
            ),
            vec![format!("phasegate plan --phase {}", ctx.phase.index)],
            ExitCode::Refused,
        ));
    }
    if mode == Mode::Rollback && step.irreversible {
        tracing::warn!(
            "step {} is irreversible: its rollback is a best effort and cannot undo it",
            step.id
        );
        print_stdout(&format!(
            "WARNING: step {} is IRREVERSIBLE: its rollback runs as a best effort and cannot undo what it did",
            step.id
        ));
    }
    let lock_name = format!("step-{}", step.id);
    let digest = phase.digest.clone();
    let held = match crate::runner::lock::take(
        store,
        liveness,
        ctx.writer,
        ctx.phase,
        &lock_name,
        digest.as_deref(),
    )
    .await?
    {
        Ok(held) => held,
        Err(busy) => {
            return Ok(outcome(
                "refused",
                busy.why,
                vec![ctx.command("")],
                ExitCode::Refused,
            ))
        }
    };
    let mut recorder = JournalRecorder {
        store,
        writer: ctx.writer,
        phase: &ctx.phase.name,
        step: &step.id,
        digest: digest.as_deref(),
    };
    let settled = drive(
        step,
        op.records.clone(),
        mode,
        &ctx.writer.actor,
        &ctx.commands,
        &ctx.clock,
        &mut recorder,
    )
    .await;
    crate::runner::lock::release(
        store,
        ctx.writer,
        ctx.phase,
        &lock_name,
        digest.as_deref(),
        &held,
    )
    .await?;
    let settled = settled?;
    let after = ctx.progress(store).await?;
    let state = after
        .phase(&ctx.phase.name)
        .and_then(|p| p.operations.iter().find(|o| o.id == step.id))
        .map(|o| (o.state.clone(), logs_of(&o.records)))
        .unwrap_or_default();
    let words = state_words(step, &state.0);
    let mut o = match settled {
        Settled::Done => {
            let result = match &state.0.ended {
                Some(crate::journal::operation::Ended::RolledBack { .. }) => "rolled back",
                Some(crate::journal::operation::Ended::Aborted { .. }) => "aborted",
                _ => "succeeded",
            };
            let next = if result == "succeeded" {
                vec![]
            } else {
                vec![format!("phasegate plan --phase {}", ctx.phase.index)]
            };
            outcome(result, words, next, ExitCode::Success)
        }
        Settled::Refused { why, offers } => {
            let next = offers
                .iter()
                .map(|offer| match offer {
                    Offer::Retry => ctx.command(&format!(" --retry {}", step.id)),
                    Offer::Rollback => ctx.command(&format!(" --rollback {}", step.id)),
                    Offer::Abort => ctx.command(&format!(" --abort {}", step.id)),
                })
                .collect();
            outcome("refused", why, next, ExitCode::Refused)
        }
        Settled::Waiting { ticks } => outcome(
            "waiting",
            format!(
                "the poll goes on after {ticks} answer(s); this job's time is up, and the next run continues it"
            ),
            vec![ctx.command("")],
            ExitCode::Success,
        ),
    };
    o.logs = state.1;
    Ok(o)
}

/// Why `step` cannot start yet: a step it requires (in this phase or an
/// earlier one) has not succeeded, or it requires the phase's Terraform
/// apply and a project is not applied.
fn unmet_requirement(
    all: &[ResolvedPhase],
    progress: &Progress,
    phase: &PhaseProgress,
    step: &Step,
) -> Option<String> {
    for r in &step.requires {
        if let Some(op) = progress
            .phases
            .iter()
            .filter(|p| p.index <= phase.index)
            .flat_map(|p| &p.operations)
            .find(|o| &o.id == r)
        {
            if !op.succeeded() {
                return Some(format!("it requires step {r}, which has not succeeded"));
            }
            continue;
        }
        // Not an operation: the Terraform step of this phase or an earlier one.
        let terraform_of = all.iter().filter(|p| p.index <= phase.index).find(|p| {
            p.steps
                .iter()
                .any(|s| &s.id == r && s.kind == StepKind::Terraform)
        });
        if let Some(p) = terraform_of.and_then(|t| progress.phase(&t.name)) {
            if let Some(open) = p.projects.iter().find(|x| !x.applied()) {
                return Some(format!(
                    "it requires the Terraform apply of phase {}, and {} is not applied (apply {})",
                    p.name,
                    open.project,
                    open.apply.word()
                ));
            }
        }
    }
    None
}

/// The log files a step's records name, oldest first.
fn logs_of(records: &[OperationRecord]) -> Vec<String> {
    let runs = records.iter().filter_map(|r| match r {
        OperationRecord::Previewed { run, .. }
        | OperationRecord::Executed { run, .. }
        | OperationRecord::RolledBack { run } => Some(run),
        _ => None,
    });
    runs.filter_map(|r: &CommandRun| r.log.clone()).collect()
}

/// Journals each record of a step as an `operation` event, before the next
/// action runs.
struct JournalRecorder<'a, S> {
    store: &'a S,
    writer: &'a Writer,
    phase: &'a str,
    step: &'a str,
    digest: Option<&'a str>,
}

impl<S: Store> Recorder for JournalRecorder<'_, S> {
    type Error = Error;
    async fn record(&mut self, record: &OperationRecord) -> Result<()> {
        let event = self.writer.event(
            self.phase,
            None,
            JournalStep::Operation,
            self.digest,
            EventKind::Operation {
                step_id: self.step.to_string(),
                record: record.clone(),
            },
        );
        runner::append(self.store, &self.writer.change, &[event]).await
    }
}

fn summary(phase: &ResolvedPhase, progress: &Progress) -> String {
    let Some(p) = progress.phase(&phase.name) else {
        return String::new();
    };
    let fresh = Default::default();
    let views: Vec<StepView<'_>> = run_order(&phase.steps)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.kind == StepKind::Operation)
        .map(|s| {
            let op = p.operations.iter().find(|o| o.id == s.id);
            StepView {
                step: s,
                preview: None,
                state: op.map(|o| &o.state).unwrap_or(&fresh),
            }
        })
        .collect();
    crate::render::operations::steps_markdown(&phase.name, &views)
}

fn report(
    outcomes: &[StepOutcome],
    progress: &Progress,
    out_dir: &std::path::Path,
    format: OutputFormat,
) {
    if format == OutputFormat::Json {
        print_stdout(&serde_json::to_string_pretty(outcomes).unwrap_or_default());
        return;
    }
    let mut lines = vec![];
    for o in outcomes {
        lines.push(format!(
            "step {}{}: {}: {}",
            o.step,
            if o.irreversible {
                " (IRREVERSIBLE)"
            } else {
                ""
            },
            o.result,
            o.message.replace(['\n', '\r'], " ")
        ));
        for log in &o.logs {
            lines.push(format!(
                "  log: {}",
                out_dir.join("steps").join(log).display()
            ));
        }
        for (i, n) in o.next.iter().enumerate() {
            lines.push(format!("  {}: {n}", if i == 0 { "next" } else { "or" }));
        }
    }
    if outcomes.is_empty() {
        lines.push("no step was left waiting or cut off: nothing to continue".into());
    }
    let settled = outcomes
        .iter()
        .all(|o| o.result == "succeeded" || o.result == "pending");
    if settled {
        if let Some(next) = &progress.next {
            lines.push(format!("next: {}", next.command));
        }
    }
    print_stdout(&lines.join("\n"));
}
