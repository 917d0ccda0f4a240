//! The IaC engine adapters: Terraform, OpenTofu and Terragrunt run as child
//! processes behind the narrow [`IacEngine`] trait. Its scripted test double
//! lives with the tests (`tests/it/iac_fake.rs`), not in the library.
//! The engine outlives a killed phasegate and is stopped gently on a signal
//! (`process.rs`, `interrupt.rs`); `orphan.rs` tells whether a recorded
//! engine still runs.

pub mod apply_stream;
pub mod engines;
pub mod interrupt;
pub mod orphan;
mod process;
mod terraform;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use process::{CommandSpec, Finished, Interruption, ProcessOutput, Running, STOP_WAIT};
pub use terraform::CliEngine;

/// What went wrong running the engine. Every variant names the command and
/// the directory so the user can rerun it by hand.
#[derive(Debug, thiserror::Error)]
pub enum IacError {
    #[error("could not start `{command}` in {dir}: {source}. Is the engine installed? Set engine.binary in phasegate.yml or put it on PATH")]
    Spawn {
        command: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` in {dir} exited with code {code}:\n{stderr_tail}")]
    Failed {
        command: String,
        dir: PathBuf,
        code: i32,
        stderr_tail: String,
    },
    #[error("`{command}` in {dir} was killed by a signal:\n{stderr_tail}")]
    Killed {
        command: String,
        dir: PathBuf,
        stderr_tail: String,
    },
    #[error("`{command}` in {dir} did not finish within {limit:?} and was stopped. Raise engine.timeout_seconds if the engine is just slow")]
    Timeout {
        command: String,
        dir: PathBuf,
        limit: Duration,
    },
    #[error("`{command}` in {dir} was stopped: phasegate received {}; {engine}", signal.name())]
    Interrupted {
        command: String,
        dir: PathBuf,
        signal: interrupt::Signal,
        /// How the engine ended, in words.
        engine: String,
    },
    #[error("`{command}` in {dir} printed output phasegate cannot read: {message}")]
    BadOutput {
        command: String,
        dir: PathBuf,
        message: String,
    },
}

impl From<IacError> for crate::Error {
    fn from(e: IacError) -> Self {
        crate::Error::External(e.to_string())
    }
}

/// The engine's own report of itself (`version -json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    pub version: String,
    pub platform: Option<String>,
}

/// How one project is planned in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanRequest {
    /// The root module directory.
    pub dir: PathBuf,
    pub var_files: Vec<PathBuf>,
    pub backend_config: Vec<String>,
    pub workspace: Option<String>,
    /// Extra environment for the engine process.
    pub env: Vec<(String, String)>,
    /// Where `plan -out` writes the binary plan.
    pub plan_file: PathBuf,
    /// Values the plan depends on besides its files, as (name, sha256):
    /// the upstream outputs passed through `env` (`input:<var>`). The
    /// runner binds them into the plan's digest; the engine ignores them.
    pub binds: Vec<(String, String)>,
}

/// `plan -detailed-exitcode`: 0 means no changes, 2 means changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutcome {
    NoChanges,
    Changes,
}

/// One `apply -json` run as the engine ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRun {
    /// The exit code; `None` only when an interruption left it unknown.
    pub code: Option<i32>,
    /// JSON Lines (see [`apply_stream::parse`]).
    pub stdout: String,
    pub stderr_tail: String,
    /// phasegate received a signal while the engine applied.
    pub interrupted: Option<Interruption>,
}

/// An `apply -json` started: the engine (when it runs as a process of its
/// own) to journal before waiting for the end.
#[derive(Debug)]
pub enum StartedApply {
    Running(Running),
    /// Engines that apply in one call: already done.
    Done(ApplyRun),
}

impl StartedApply {
    pub fn process(&self) -> Option<&crate::journal::EngineProcess> {
        match self {
            StartedApply::Running(r) => Some(r.process()),
            StartedApply::Done(_) => None,
        }
    }

    /// Follows the apply to its end. A signal that ended the engine is an
    /// error unless phasegate sent it (an interruption).
    pub fn wait(self) -> Result<ApplyRun, IacError> {
        let running = match self {
            StartedApply::Done(run) => return Ok(run),
            StartedApply::Running(r) => r,
        };
        let (command, dir) = running.describe();
        let f = running.wait()?;
        if f.code.is_none() && f.interrupted.is_none() {
            return Err(IacError::Killed {
                command,
                dir,
                stderr_tail: f.stderr_tail,
            });
        }
        Ok(ApplyRun {
            code: f.code,
            stdout: f.stdout,
            stderr_tail: f.stderr_tail,
            interrupted: f.interrupted,
        })
    }
}

/// The narrow seam between phasegate and an IaC engine.
pub trait IacEngine {
    fn version(&self, dir: &Path) -> Result<EngineVersion, IacError>;
    fn init(&self, req: &PlanRequest) -> Result<(), IacError>;
    /// Selects the workspace, creating it when it does not exist yet.
    fn select_workspace(&self, req: &PlanRequest, name: &str) -> Result<(), IacError>;
    fn plan(&self, req: &PlanRequest) -> Result<PlanOutcome, IacError>;
    /// `show -json <planfile>`: the machine-readable plan. Holds sensitive
    /// values in clear, so it is never logged.
    fn show_json(&self, req: &PlanRequest) -> Result<String, IacError>;
    /// `show -json` without a plan file: the current state, each resource's
    /// values beside its `sensitive_values` marks. Holds sensitive values in
    /// clear, so it is never logged. Engines that cannot show it say so.
    fn show_state_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        Err(IacError::BadOutput {
            command: "show -json".into(),
            dir: req.dir.clone(),
            message: "this engine cannot show its state as JSON".into(),
        })
    }
    fn apply(&self, req: &PlanRequest) -> Result<(), IacError>;
    /// `apply -json <planfile>`: the exit code and the machine-readable
    /// stream, whatever the outcome, so a partial apply can be reported.
    /// Engines without a stream apply and report nothing per resource.
    fn apply_json(&self, req: &PlanRequest) -> Result<ApplyRun, IacError> {
        self.apply(req)?;
        Ok(ApplyRun {
            code: Some(0),
            stdout: String::new(),
            stderr_tail: String::new(),
            interrupted: None,
        })
    }
    /// [`IacEngine::apply_json`] in two halves: started, so the caller can
    /// journal the engine process, then waited for.
    fn start_apply_json(&self, req: &PlanRequest) -> Result<StartedApply, IacError> {
        Ok(StartedApply::Done(self.apply_json(req)?))
    }
    /// `state pull`: the raw state. Holds sensitive values; never logged.
    fn state_pull(&self, req: &PlanRequest) -> Result<String, IacError>;
    /// `output -json`. Holds sensitive values; never logged.
    fn output_json(&self, req: &PlanRequest) -> Result<String, IacError>;
    /// `state push <file>`: replaces the state (the rollback's state
    /// restore). Never forced: the engine's own lineage and serial checks
    /// stay a second guard. Engines without it refuse.
    fn state_push(&self, req: &PlanRequest, file: &Path) -> Result<(), IacError> {
        Err(IacError::BadOutput {
            command: format!("state push {}", file.display()),
            dir: req.dir.clone(),
            message: "this engine cannot push a state".into(),
        })
    }
    /// `plan -refresh-only -out`: a plan that only compares the state with
    /// the real objects, so its `resource_drift` is exactly what changed
    /// outside Terraform. Engines that cannot make one say so.
    fn plan_refresh_only(&self, req: &PlanRequest) -> Result<PlanOutcome, IacError> {
        Err(IacError::BadOutput {
            command: "plan -refresh-only".into(),
            dir: req.dir.clone(),
            message: "this engine cannot make a refresh-only plan".into(),
        })
    }
}

/// Init, select the workspace, plan and show: the whole plan step for one project.
pub fn plan_project(
    engine: &dyn IacEngine,
    req: &PlanRequest,
) -> Result<(PlanOutcome, String), IacError> {
    // A spinner on a terminal, a start and an end line when piped or in CI.
    let progress = crate::term::Progress::start(format!("plan in {}", req.dir.display()));
    let run = || {
        engine.init(req)?;
        if let Some(ws) = &req.workspace {
            engine.select_workspace(req, ws)?;
        }
        let outcome = engine.plan(req)?;
        let json = engine.show_json(req)?;
        Ok((outcome, json))
    };
    let result = run();
    progress.finish(result.is_ok());
    result
}
