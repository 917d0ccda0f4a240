//! What happened to one operation step of a phase (a restore, a replication,
//! a DNS swap), as the journal keeps it: each record is the payload of one
//! `operation` event naming the step's id. Output is kept as redacted tails;
//! the whole output is in the step's log files, named here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollOutcome {
    /// It reported one of the step's `terminal` states.
    Succeeded,
    /// It reported one of the step's `failure` states.
    Failed,
    /// The step's `timeout` passed first.
    TimedOut,
}

/// One command's run: its exit and the tails of its output (redacted).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRun {
    /// Absent when the command could not be started or was ended by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout_tail: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr_tail: String,
    /// The log file holding the whole output, relative to the run's artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Why it could not run or did not finish (not found, timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CommandRun {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && self.error.is_none()
    }
}

/// What happened to an operation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "what", rename_all = "snake_case", deny_unknown_fields)]
pub enum OperationRecord {
    /// The preview ran at plan time; `step_digest` binds its output and every argv.
    Previewed {
        step_digest: String,
        run: CommandRun,
    },
    /// Written before `execute` starts: a job that dies after it is re-verified, never
    /// executed again blindly.
    Executing {
        attempt: u32,
    },
    Executed {
        attempt: u32,
        run: CommandRun,
    },
    /// One poll's answer: the state it reported (the last non-empty line of its output).
    PollTick {
        tick: u32,
        state: String,
    },
    PollEnded {
        state: String,
        outcome: PollOutcome,
    },
    /// The job's time ran out while the poll goes on: the next run continues it.
    Waiting {
        ticks: u32,
    },
    /// The step's verify ran; `before_execute` when it ran first, to skip a done step.
    Verified {
        passed: bool,
        before_execute: bool,
        detail: String,
    },
    Succeeded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Failed {
        reason: String,
    },
    /// Its rollback is about to run; `irreversible` when the step said it cannot be undone.
    RollbackStarted {
        irreversible: bool,
    },
    RolledBack {
        run: CommandRun,
    },
    /// Given up by a person: the phase goes on without it only through a new plan.
    Aborted {
        by: String,
    },
}

/// How many times a failed step may be run again.
pub const MAX_RETRIES: u32 = 3;

/// How an operation step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Ended {
    Succeeded { note: Option<String> },
    Failed { reason: String },
    RolledBack { ok: bool },
    Aborted { by: String },
}

/// One operation step, folded from its records.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct OperationState {
    /// The step digest its preview journaled.
    pub preview_digest: Option<String>,
    /// Executions started (`executing` records).
    pub attempts: u32,
    /// An execution started and not recorded as finished: its job died.
    pub executing: bool,
    /// The latest execution finished with exit 0.
    pub executed_ok: bool,
    /// Whether verify ran before the first execution, and how it went.
    pub verified_first: Option<bool>,
    /// Poll answers since the latest execution.
    pub ticks: u32,
    pub poll_ended: Option<PollOutcome>,
    /// A job ran out of time while polling; the next run continues.
    pub waiting: bool,
    /// The verify after the latest execution.
    pub verified: Option<bool>,
    pub ended: Option<Ended>,
    /// A rollback started and not recorded as finished.
    pub rolling_back: bool,
}

/// Folds a step's records, oldest first.
pub fn fold<'a>(records: impl IntoIterator<Item = &'a OperationRecord>) -> OperationState {
    let mut s = OperationState::default();
    for r in records {
        match r {
            OperationRecord::Previewed { step_digest, .. } => {
                // A step rolled back or aborted waits for a new plan: a new
                // preview starts it over.
                if matches!(
                    s.ended,
                    Some(Ended::RolledBack { .. } | Ended::Aborted { .. })
                ) {
                    s = OperationState::default();
                }
                s.preview_digest = Some(step_digest.clone())
            }
            OperationRecord::Executing { attempt } => {
                s.attempts = s.attempts.max(*attempt);
                s.executing = true;
                s.executed_ok = false;
                s.ticks = 0;
                s.poll_ended = None;
                s.waiting = false;
                s.verified = None;
                s.ended = None;
            }
            OperationRecord::Executed { run, .. } => {
                s.executing = false;
                s.executed_ok = run.ok();
            }
            OperationRecord::PollTick { tick, .. } => {
                // A poll after a dead job proves the execution happened.
                s.executing = false;
                s.executed_ok = true;
                s.ticks = s.ticks.max(*tick);
                s.waiting = false;
            }
            OperationRecord::PollEnded { outcome, .. } => {
                s.executing = false;
                s.poll_ended = Some(*outcome);
            }
            OperationRecord::Waiting { ticks } => {
                // The count includes answers not journaled one by one.
                s.ticks = s.ticks.max(*ticks);
                s.waiting = true
            }
            OperationRecord::Verified {
                passed,
                before_execute,
                ..
            } => {
                if *before_execute {
                    s.verified_first = Some(*passed);
                } else {
                    s.executing = false;
                    s.verified = Some(*passed);
                }
            }
            OperationRecord::Succeeded { note } => {
                s.ended = Some(Ended::Succeeded { note: note.clone() })
            }
            OperationRecord::Failed { reason } => {
                s.executing = false;
                s.ended = Some(Ended::Failed {
                    reason: reason.clone(),
                })
            }
            OperationRecord::RollbackStarted { .. } => s.rolling_back = true,
            OperationRecord::RolledBack { run } => {
                s.rolling_back = false;
                s.ended = Some(Ended::RolledBack { ok: run.ok() });
            }
            OperationRecord::Aborted { by } => {
                s.executing = false;
                s.ended = Some(Ended::Aborted { by: by.clone() })
            }
        }
    }
    s
}
