//! One journal event: who did what to which phase, project and step, for
//! which plan digest. Every field a reader needs to explain a run later.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The workflow run (or local invocation) that wrote an event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRef {
    /// `GITHUB_RUN_ID`; absent outside Actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// `GITHUB_RUN_ATTEMPT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u64>,
    /// `GITHUB_JOB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// The steps of a phase, in the order they run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Plan,
    Gate,
    Approval,
    Checkpoint,
    Apply,
    Verify,
    Review,
    Rollback,
    Lock,
    /// The journal itself (opened, a torn line set aside): in no phase.
    Journal,
    /// An operation step of the phase (see `config::steps`).
    Operation,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Gate => "gate",
            Step::Approval => "approval",
            Step::Checkpoint => "checkpoint",
            Step::Apply => "apply",
            Step::Verify => "verify",
            Step::Review => "review",
            Step::Rollback => "rollback",
            Step::Lock => "lock",
            Step::Journal => "journal",
            Step::Operation => "operation",
        }
    }
}

/// Where an approval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalSource {
    /// A GitHub environment deployment review of the run that applies.
    EnvironmentReview,
    /// A `/phasegate approve <env> <digest>` comment on the PR.
    Comment,
    /// `phasegate approve --local` with a local store, outside GitHub: the
    /// approver's name is theirs to give, as everything on that machine is.
    Local,
    /// The environment's `approvals.auto` rule: every condition it states held
    /// for the plan (journaled by `plan`, with the conditions).
    Rule,
}

/// What a successful plan left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRecord {
    pub has_changes: bool,
    /// The saved binary plan, as the job that planned saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    /// sha256 of the saved plan file: only this file is ever applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// The plan destroys (or replaces) something.
    #[serde(default)]
    pub destroys: bool,
    /// The commit the change started from (a pull request's base, a push's
    /// `before`, else the merge-base with the default branch): where a
    /// rollback goes back to. For a revert plan, the commit it was planned
    /// from, so its apply checks out the same tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The upstream outputs the plan read (`projects[].inputs`); its digest
    /// binds them, and its apply is refused once one has changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<PlannedInput>,
}

/// One upstream output a plan was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct PlannedInput {
    /// The variable it was passed as (`TF_VAR_<var>`).
    pub var: String,
    /// `<project>.outputs.<name>`.
    pub source: String,
    /// sha256 of the value's JSON text.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// The value's JSON text, when it is not sensitive and short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The class of an engine error, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Timeouts, throttling, 5xx: retried once when nothing changed.
    Transient,
    Validation,
    Permission,
    /// The state is locked or changed under us.
    StateConflict,
    Other,
}

/// What happened to one planned resource during an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceOutcome {
    Applied,
    Failed,
    Untouched,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceResult {
    pub address: String,
    /// The planned action (`create`, `update`, `delete`, `replace`).
    pub action: String,
    pub outcome: ResourceOutcome,
    /// The engine's error summary for a failed resource (already redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A verification check's result, and a phase review's weight.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One verification check as the journal keeps it: never a pass without the
/// evidence that shows it (status seen, latency, values, expiry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    /// The check's name in the config.
    pub name: String,
    /// `http`, `tls`, `dns`, `output`, `convergence` or `command`; `security`
    /// and `policy` for a gate's rule checked again on the applied state.
    pub kind: String,
    pub status: CheckStatus,
    /// What was seen, in words (already redacted).
    pub evidence: String,
    /// How many attempts the check took.
    pub attempts: u32,
    pub duration_ms: u64,
}

/// The check kinds of a gate run again on the applied state.
pub const APPLIED_GATE_KINDS: [&str; 2] = ["security", "policy"];

impl CheckResult {
    /// A gate's rule checked again on the applied state, rather than a
    /// configured check of the running system.
    pub fn is_applied_gate(&self) -> bool {
        APPLIED_GATE_KINDS.contains(&self.kind.as_str())
    }
}

/// One finding of a gate on a plan, as much as a later step needs: which
/// rule, where, and whether the plan failed it or could not tell until apply.
/// `verify` checks the unknown ones again on the applied state, and tells a
/// finding new after apply from one the plan already had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateFinding {
    /// The finding's stable id (`PG-AWS-035`, `POL-<namespace>-<rule>-<hash>`).
    pub id: String,
    /// The resource it is about; absent when a policy message names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Set when the rule could not be checked until apply: the attribute it
    /// needs, known only after apply. Absent: the plan failed the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// A phase review's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewVerdict {
    Pass,
    Warn,
    NeedsFixes,
}

impl ReviewVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Pass => "pass",
            ReviewVerdict::Warn => "warn",
            ReviewVerdict::NeedsFixes => "needs-fixes",
        }
    }

    /// Whether the next environment may be entered.
    pub fn lets_through(self) -> bool {
        !matches!(self, ReviewVerdict::NeedsFixes)
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockOwner {
    pub run: RunRef,
    pub actor: String,
    /// Outside Actions: the process and host, so a dead holder can be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One engine process: its pid, its start time and the host it runs on.
/// A pid alone is reused; with the start time it names one process.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineProcess {
    pub pid: u32,
    /// When the process started, in clock ticks since boot (`/proc/<pid>/stat`
    /// field 22); absent where it cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// How the engine ended after phasegate passed a signal on to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineExit {
    /// The signal came before the engine was started; nothing ran.
    NotStarted,
    /// It exited by itself (see `exit_code`).
    Exited,
    /// It was ended by a signal.
    Killed,
    /// It still ran when phasegate stopped waiting; it ends on its own.
    StillRunning,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    StepStarted,
    StepSucceeded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<PlanRecord>,
    },
    StepFailed {
        error: String,
        class: ErrorClass,
    },
    StepSkipped {
        reason: String,
    },
    RolledBack {
        reason: String,
    },
    GateEvaluated {
        gate: String,
        /// `pass`, `warn`, `ack_required` or `block`.
        verdict: String,
        blocking: bool,
    },
    /// A gate's findings on the plan (after its `gate_evaluated`, only when
    /// it found any), for `verify` to compare the applied state with.
    GateFindings {
        gate: String,
        findings: Vec<GateFinding>,
    },
    AcknowledgementApplied {
        id: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    ApprovalRecorded {
        environment: String,
        approver: String,
        source: ApprovalSource,
        /// When the approver approved (RFC 3339), as GitHub reports it.
        at: String,
        /// For an approval by rule: the conditions that held.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conditions: Vec<String>,
    },
    CheckpointTaken {
        file: String,
        sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lineage: Option<String>,
    },
    ApplyStarted,
    /// The engine of the apply just started (journaled after it was
    /// spawned): enough to tell later, on the same host, whether that very
    /// process still runs after phasegate died (`iac/orphan.rs`).
    EngineStarted {
        engine: EngineProcess,
    },
    /// phasegate received SIGINT or SIGTERM during the apply, passed one
    /// SIGINT on to the engine so it stopped gracefully and saved its state,
    /// and waited (bounded) for it. The apply stays in progress: the next
    /// `apply` re-verifies it against the state.
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: String,
        engine: EngineExit,
        /// The engine's exit code, when it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// What the engine's stream reported before it stopped.
        results: Vec<ResourceResult>,
    },
    ApplyFinished {
        results: Vec<ResourceResult>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<ErrorClass>,
    },
    /// A re-plan after the apply: no changes means converged.
    ConvergenceChecked {
        converged: bool,
    },
    /// A project's verification finished: every check with its evidence.
    VerificationFinished {
        status: CheckStatus,
        checks: Vec<CheckResult>,
    },
    /// A phase review (project absent: the whole phase).
    Reviewed {
        verdict: ReviewVerdict,
        /// Why, one line per weighed concern that was not a plain pass.
        reasons: Vec<String>,
        /// Where the phase report was written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<String>,
    },
    LockTaken {
        environment: String,
        owner: LockOwner,
    },
    LockReleased {
        environment: String,
    },
    LockBroken {
        environment: String,
        owner: LockOwner,
        reason: String,
    },
    Refusal {
        what: String,
        why: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
    },
    /// A drift run over one project (journaled under the pseudo-change
    /// `drift-<environment>`): how many resources changed outside Terraform,
    /// how many changes an apply would make, and what became of the issue.
    DriftChecked {
        drifted: usize,
        pending: usize,
        /// `opened`, `updated`, `reopened`, `closed` or `nothing`; absent
        /// when no issue was synced (outside Actions, or issues turned off).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue_action: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<u64>,
    },
    /// The first line of every journal (phase empty, step `journal`): its
    /// `prev` is the change's genesis value (see `journal::chain`).
    JournalOpened {
        /// sha256 of the config file the journal was opened under; absent
        /// when the writer had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config_digest: Option<String>,
    },
    /// Another change applied this project in this environment after this
    /// plan (the event's digest) was made, or an upstream's apply changed
    /// an output this plan read (`inputs`): the plan is against an older
    /// state, so it is never applied or approved; a new plan clears it.
    PlanStale {
        environment: String,
        /// The change whose apply made it stale.
        by_change: String,
        /// Where that apply ran (its workflow run), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// The inputs whose upstream outputs changed, as `<var> (<source>)`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        inputs: Vec<String>,
    },
    /// The project's plan waits for outputs its upstreams' states do not
    /// hold yet (`<project>.outputs.<name>`): it is planned once they are
    /// applied. The event's digest stands for it in the phase's digest.
    PlanWaiting {
        waiting_on: Vec<String>,
    },
    /// Something happened to an operation step of the phase (its id).
    Operation {
        step_id: String,
        record: super::operation::OperationRecord,
    },
    /// A torn last line (no newline, not JSON: a write cut off) was set
    /// aside; the chain continues from the line before it. The torn bytes
    /// are not kept, only their size and hash.
    TornLineSetAside {
        /// The torn line's number in the journal as it was read.
        line: usize,
        /// Its length in bytes.
        length: usize,
        /// sha256 of its bytes.
        sha256: String,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// RFC 3339, UTC, from the writer's clock.
    pub time: String,
    pub run: RunRef,
    pub actor: String,
    pub change: String,
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub step: Step,
    /// The plan digest the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The hash chain: sha256 (hex) of the line before this one exactly as
    /// stored; on the first line, the change's genesis value. Set when the
    /// line is appended (`journal::chain::append`), never by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}
