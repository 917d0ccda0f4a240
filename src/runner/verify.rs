//! `phasegate verify`: after a succeeded apply, run the phase's checks and
//! journal what they saw. For each project: StepStarted, the convergence
//! re-plans (ConvergenceChecked), VerificationFinished with every check's
//! evidence, then StepSucceeded (pass or warn) or StepFailed. Exit 0 when
//! every check passed or warned, 1 when one failed or the apply is missing,
//! 3 when the engine itself failed.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat, VerifyArgs};
use crate::config::ResolvedPhase;
use crate::error::{Error, ExitCode, Result};
use crate::iac::{CliEngine, IacEngine, PlanOutcome};
use crate::journal::{CheckResult, CheckStatus, ErrorClass, EventKind, Step, StepState};
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Writer};
use crate::runner::workspace::Workspace;
use crate::store::Store;
use crate::verify::{self, ProjectIac};

pub fn run(global: &GlobalArgs, args: VerifyArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let phase = ws
        .select(&args.select)?
        .ok_or_else(|| Error::Input("verify needs a config".into()))?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let out_dir = runner::absolute(&ws.out_dir(args.out.as_deref()))?;
    let runner = runner::Runner::open(&ws, actions.as_ref(), args.token.clone())?;
    let iac = EngineIac {
        base: ProjectEngine::new(&ws, &phase, &engine),
        out_dir,
        seen: Mutex::new(vec![]),
    };
    let ctx = VerifyContext {
        ws: &ws,
        phase: &phase,
        writer: runner.writer(&ws, actions.as_ref()),
        iac: &iac,
    };
    let report = runner.rt.block_on(verify_phase(&runner.store, &ctx))?;
    if let Some(actions) = &actions {
        // The comment's journal block (or the job summary) shows the checks.
        crate::runner::post::publish_progress(
            &runner,
            &ws,
            actions,
            &ctx.writer.change,
            &phase,
            crate::runner::post::CheckRunPost::None,
        )?;
    }
    print_report(&report, args.format);
    Ok(report.code)
}

/// What one invocation works with.
pub struct VerifyContext<'a> {
    pub ws: &'a Workspace,
    pub phase: &'a ResolvedPhase,
    pub writer: Writer,
    /// The engine seam of the output and convergence checks.
    pub iac: &'a (dyn ProjectIacJournal + Sync),
}

/// A [`ProjectIac`] that also tells which convergence re-plans it ran and
/// whether the engine itself failed, for the journal.
pub trait ProjectIacJournal: ProjectIac {
    /// (project, converged) per re-plan, drained.
    fn take_convergence(&self) -> Vec<(String, bool)>;
    /// The engine errors met, drained.
    fn take_failures(&self) -> Vec<String>;
    /// `show -json` of the project's state, for the gates on the applied
    /// state; an engine error is also recorded as a failure.
    fn state_json(&self, project: &str) -> std::result::Result<String, String>;
}

/// The result of the command, printed and mapped to the exit code.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub phase: String,
    pub environment: String,
    /// `pass`, `warn`, `fail` or `refused`.
    pub result: String,
    pub projects: Vec<ProjectReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip)]
    pub code: ExitCode,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProjectReport {
    pub project: String,
    pub status: CheckStatus,
    pub digest: Option<String>,
    pub checks: Vec<CheckResult>,
}

/// Verifies every project of the phase; refuses (journaled, exit 1) unless
/// each has a succeeded apply.
pub async fn verify_phase<S: Store>(store: &S, ctx: &VerifyContext<'_>) -> Result<Report> {
    let w = &ctx.writer;
    let phase = &ctx.phase.name;
    let n = ctx.phase.index;
    let progress = runner::progress(store, ctx.ws, &w.change).await?;
    let view = progress.phase(phase);
    let mut report = Report {
        phase: phase.clone(),
        environment: ctx.phase.environment.name.clone(),
        result: "refused".into(),
        projects: vec![],
        refusal: None,
        command: None,
        code: ExitCode::Refused,
    };

    // The prerequisite: a succeeded apply (or nothing to apply) per project.
    let mut digests = vec![];
    let mut refusals = vec![];
    for project in &ctx.phase.projects {
        let p = view.and_then(|v| v.projects.iter().find(|p| p.project == project.name));
        match p.map(|p| (p.apply, p.applied_digest.clone().or(p.digest.clone()))) {
            Some((StepState::Succeeded | StepState::Skipped, digest)) => digests.push(digest),
            other => {
                let state = other.map_or("not planned", |(s, _)| state_words(s));
                refusals.push((project.name.clone(), state));
            }
        }
    }
    if !refusals.is_empty() {
        let command = format!("phasegate apply --phase {n}");
        let why = format!(
            "verification needs a succeeded apply of phase {n} ({}): {}",
            ctx.phase.environment.name,
            refusals
                .iter()
                .map(|(p, s)| format!("{p} is {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let events: Vec<_> = refusals
            .iter()
            .map(|(p, _)| {
                w.event(
                    phase,
                    Some(p),
                    Step::Verify,
                    None,
                    EventKind::Refusal {
                        what: "apply".into(),
                        why: why.clone(),
                        command: Some(command.clone()),
                    },
                )
            })
            .collect();
        runner::append(store, &w.change, &events).await?;
        report.refusal = Some(why);
        report.command = Some(command);
        return Ok(report);
    }

    // One event per project, each with its applied digest.
    let each = |kind: EventKind| -> Vec<_> {
        ctx.phase
            .projects
            .iter()
            .zip(&digests)
            .map(|(p, d)| {
                w.event(
                    phase,
                    Some(&p.name),
                    Step::Verify,
                    d.as_deref(),
                    kind.clone(),
                )
            })
            .collect()
    };
    runner::append(store, &w.change, &each(EventKind::StepStarted)).await?;

    let env_results =
        match verify::run_environment_checks(&ctx.phase.checks, &ctx.ws.base_dir).await {
            Ok(r) => r,
            Err(e) => {
                let error = crate::redact::global().apply(&e.to_string());
                let failed = each(EventKind::StepFailed {
                    error: error.clone(),
                    class: ErrorClass::Validation,
                });
                runner::append(store, &w.change, &failed).await?;
                return Err(Error::Input(error));
            }
        };

    let mut worst = CheckStatus::Pass;
    let mut engine_failed = false;
    for (project, digest) in ctx.phase.projects.iter().zip(digests) {
        let mut checks = env_results.clone();
        checks.extend(verify::run_project_checks(&ctx.phase.checks, &project.name, ctx.iac).await);
        // The gates again on what was applied.
        let applied = view.and_then(|v| v.project(&project.name));
        let state = || ctx.iac.state_json(&project.name);
        match crate::runner::applied_gate::verify_checks(ctx.ws, ctx.phase, applied, state) {
            Ok(found) => checks.extend(found),
            Err(e) => {
                let error = crate::redact::global().apply(&e.to_string());
                let kind = EventKind::StepFailed {
                    error,
                    class: ErrorClass::Validation,
                };
                let failed = w.event(
                    phase,
                    Some(&project.name),
                    Step::Verify,
                    digest.as_deref(),
                    kind,
                );
                runner::append(store, &w.change, &[failed]).await?;
                return Err(e);
            }
        }
        let status = verify::overall(&checks);
        worst = worst.max(status);
        let d = digest.as_deref();
        let mut events: Vec<_> = ctx
            .iac
            .take_convergence()
            .into_iter()
            .map(|(p, converged)| {
                w.event(
                    phase,
                    Some(&p),
                    Step::Verify,
                    d,
                    EventKind::ConvergenceChecked { converged },
                )
            })
            .collect();
        events.push(w.event(
            phase,
            Some(&project.name),
            Step::Verify,
            d,
            EventKind::VerificationFinished {
                status,
                checks: checks.clone(),
            },
        ));
        let failures = ctx.iac.take_failures();
        engine_failed |= !failures.is_empty();
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.name.as_str())
            .collect();
        events.push(w.event(
            phase,
            Some(&project.name),
            Step::Verify,
            d,
            match (status, failures.is_empty()) {
                (_, false) => EventKind::StepFailed {
                    error: crate::redact::global().apply(&failures.join("; ")),
                    class: ErrorClass::Other,
                },
                (CheckStatus::Fail, true) => EventKind::StepFailed {
                    error: format!(
                        "{} of {} checks failed: {}",
                        failed.len(),
                        checks.len(),
                        failed.join(", ")
                    ),
                    class: ErrorClass::Other,
                },
                _ => EventKind::StepSucceeded { plan: None },
            },
        ));
        runner::append(store, &w.change, &events).await?;
        report.projects.push(ProjectReport {
            project: project.name.clone(),
            status,
            digest,
            checks,
        });
    }
    report.result = verify::status_word(worst).to_ascii_lowercase();
    report.code = match worst {
        _ if engine_failed => ExitCode::External,
        CheckStatus::Fail => ExitCode::Refused,
        _ => ExitCode::Success,
    };
    Ok(report)
}

fn state_words(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "not applied",
        StepState::InProgress => "still applying (or its apply was interrupted)",
        StepState::Succeeded => "applied",
        StepState::Failed => "failed to apply",
        StepState::Skipped => "unchanged",
        StepState::RolledBack => "rolled back",
    }
}

fn print_report(report: &Report, format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            print_stdout(&serde_json::to_string_pretty(report).unwrap_or_default())
        }
        _ => {
            let mut lines = vec![format!(
                "phase {} ({}): verification {}",
                report.phase, report.environment, report.result
            )];
            if let Some(why) = &report.refusal {
                lines.push(format!("refused: {why}"));
            }
            for p in &report.projects {
                lines.push(crate::render::verify::table_text(
                    &p.project, p.status, &p.checks,
                ));
            }
            if let Some(c) = &report.command {
                lines.push(format!("next: {c}"));
            }
            print_stdout(&lines.join("\n"));
        }
    }
}

/// The output and convergence checks over the real engine: init (and the
/// workspace) once per project, then `output -json` or a fresh plan.
struct EngineIac<'a> {
    base: ProjectEngine<'a>,
    out_dir: PathBuf,
    seen: Mutex<Vec<(String, bool)>>,
}

/// The engine as a phase's checks reach it: a project's initialized
/// request, its outputs, and the failures met on the way (redacted).
/// Shared by `verify` and the scheduled health run.
pub(crate) struct ProjectEngine<'a> {
    pub ws: &'a Workspace,
    pub phase: &'a ResolvedPhase,
    pub engine: &'a (dyn IacEngine + Sync),
    pub failures: Mutex<Vec<String>>,
}

impl<'a> ProjectEngine<'a> {
    pub fn new(
        ws: &'a Workspace,
        phase: &'a ResolvedPhase,
        engine: &'a (dyn IacEngine + Sync),
    ) -> Self {
        ProjectEngine {
            ws,
            phase,
            engine,
            failures: Mutex::new(vec![]),
        }
    }

    /// `project`'s request, initialized again (another project may share
    /// the directory with other backend settings or another workspace).
    pub fn request(
        &self,
        project: &str,
        plan_file: PathBuf,
    ) -> std::result::Result<crate::iac::PlanRequest, String> {
        let p = self
            .phase
            .projects
            .iter()
            .find(|p| p.name == project)
            .ok_or_else(|| format!("project {project} is not in this phase"))?;
        let req =
            runner::plan_request(self.ws, self.phase, p, plan_file).map_err(|e| self.failed(e))?;
        self.engine.init(&req).map_err(|e| self.failed(e))?;
        if let Some(name) = req.workspace.clone() {
            self.engine
                .select_workspace(&req, &name)
                .map_err(|e| self.failed(e))?;
        }
        Ok(req)
    }

    /// `terraform output -json` of `project`.
    pub fn outputs(&self, project: &str) -> std::result::Result<serde_json::Value, String> {
        let req = self.request(project, PathBuf::new())?;
        let json = self.engine.output_json(&req).map_err(|e| self.failed(e))?;
        serde_json::from_str(&json).map_err(|e| self.failed(format!("terraform output -json: {e}")))
    }

    pub fn failed(&self, e: impl std::fmt::Display) -> String {
        let text = crate::redact::global().apply(&e.to_string());
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text.clone());
        text
    }
}

impl ProjectIac for EngineIac<'_> {
    fn outputs(&self, project: &str) -> std::result::Result<serde_json::Value, String> {
        self.base.outputs(project)
    }

    fn converged(&self, project: &str) -> std::result::Result<bool, String> {
        let base = &self.base;
        let dir = self.out_dir.join("plans");
        std::fs::create_dir_all(&dir)
            .map_err(|e| base.failed(format!("{}: {e}", dir.display())))?;
        let file = dir.join(format!(
            "{project}-{}.verify.tfplan",
            base.phase.environment.name
        ));
        let req = base.request(project, file)?;
        let converged =
            base.engine.plan(&req).map_err(|e| base.failed(e))? == PlanOutcome::NoChanges;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((project.to_string(), converged));
        Ok(converged)
    }
}

impl ProjectIacJournal for EngineIac<'_> {
    fn state_json(&self, project: &str) -> std::result::Result<String, String> {
        let req = self.base.request(project, PathBuf::new())?;
        self.base
            .engine
            .show_state_json(&req)
            .map_err(|e| self.base.failed(e))
    }

    fn take_convergence(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_failures(&self) -> Vec<String> {
        std::mem::take(&mut *self.base.failures.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
