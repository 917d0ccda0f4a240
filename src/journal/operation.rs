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
