//! A phase's operation steps at plan time: each step's preview runs (it is
//! read-only by contract), and each step's digest binds its commands and
//! the preview output the PR comment shows, so approving the phase approves
//! exactly those operations.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::command::StepCommands;
use crate::config::steps::{run_order, step_digest, Step, StepKind};
use crate::journal::operation::{CommandRun, OperationRecord};

/// The longest a preview may run.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(300);

/// One operation step as the plan saw it.
#[derive(Debug, Clone)]
pub struct StepPreview {
    pub step: Step,
    /// Its preview's run; `None` when it declares no preview.
    pub run: Option<CommandRun>,
    /// `config::steps::step_digest` over the step and the output shown.
    pub digest: String,
}

impl StepPreview {
    /// The record the plan journals for the step.
    pub fn record(&self) -> OperationRecord {
        OperationRecord::Previewed {
            step_digest: self.digest.clone(),
            run: self.run.clone().unwrap_or_default(),
        }
    }

    /// The preview ran and failed: the phase cannot be approved as planned.
    pub fn failed(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.ok())
    }
}

/// The digest of `step` as a plan journaled it with `run`: what `steps`
/// compares with the config it runs under.
pub fn digest_of(step: &Step, run: Option<&CommandRun>) -> String {
    step_digest(step, run.map(|r| r.stdout_tail.as_str()))
}

/// Runs the preview of every operation step of `steps`, in run order.
pub fn preview_steps(steps: &[Step], base_dir: &Path, logs_dir: &Path) -> Vec<StepPreview> {
    let commands = StepCommands { base_dir, logs_dir };
    run_order(steps)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.kind == StepKind::Operation)
        .map(|step| {
            let run = step
                .preview
                .as_ref()
                .map(|argv| commands.run(step, "preview", 1, argv, PREVIEW_TIMEOUT));
            let digest = digest_of(step, run.as_ref());
            StepPreview {
                step: step.clone(),
                run,
                digest,
            }
        })
        .collect()
}

/// The step digests as the journal's fold keys them.
pub fn digests(previews: &[StepPreview]) -> BTreeMap<String, String> {
    previews
        .iter()
        .map(|p| (p.step.id.clone(), p.digest.clone()))
        .collect()
}
