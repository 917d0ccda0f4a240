//! The phase report, `reports/phase-N.json`: the review's verdict and every
//! concern, and per project the plan digest, gate verdicts,
//! acknowledgements, checkpoint, resources applied, verification evidence,
//! rollbacks, approvers, cost and durations from the journal's event times.
//! Its schema is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::review::{Concern, Judgement};
use crate::journal::{
    ApprovalSource, CheckResult, CheckStatus, Event, EventKind, PhaseProgress, ResourceResult,
    ReviewVerdict, Step,
};

/// The committed schema's file name under `schemas/`.
pub const SCHEMA_FILE: &str = "phase-report.schema.json";

/// The version of the report's shape.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    pub version: u32,
    pub change: String,
    pub phase: PhaseId,
    /// The phase digest the review judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub verdict: ReviewVerdict,
    pub reasons: Vec<String>,
    pub concerns: Vec<Concern>,
    pub approvals: Vec<ApprovalEntry>,
    pub projects: Vec<ProjectEntry>,
    pub rollbacks: Vec<RollbackEntry>,
    /// The phase's operation steps, in the order they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepEntry>,
    pub cost: CostFigure,
    pub timing: Timing,
    /// When the review ran (RFC 3339).
    pub reviewed_at: String,
}

/// One operation step of the phase: how it ended, how long it took, where its logs are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepEntry {
    pub id: String,
    pub irreversible: bool,
    /// `succeeded`, `failed`, `rolled back`, `aborted`, `waiting`, `running` or `not run`.
    pub verdict: String,
    /// Why it failed, or a note on its success ("target already existed; execute skipped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Executions (the first run and retries).
    pub attempts: u32,
    /// From the step's first record after its preview to its last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// Its commands' log files, relative to the output directory's `steps/`.
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseId {
    /// 1-based position in the change.
    pub index: usize,
    pub name: String,
    pub environment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalEntry {
    pub approver: String,
    pub source: ApprovalSource,
    /// When the approver approved (RFC 3339).
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `succeeded`, `skipped`, `failed`, `rolled_back`, `in_progress` or `pending`.
    pub apply: String,
    pub gates: BTreeMap<String, String>,
    pub acknowledgements: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointEntry>,
    pub resources: Vec<ResourceResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointEntry {
    pub file: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationEntry {
    pub status: CheckStatus,
    pub checks: Vec<CheckResult>,
}

/// A rollback journaled for the phase: a revert plan applied, or a state
/// restored from a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub reason: String,
    pub at: String,
    pub actor: String,
}

/// The phase's monthly cost, as the cost gate computed it for the plan the
/// review judged; `amount` absent means unknown, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CostFigure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_delta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_after: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Something was unpriced: the amounts are a lower bound.
    pub lower_bound: bool,
    /// Where the figure came from, or why it is unknown.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// The first event of the phase (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The last event of the phase before the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// From the first to the last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seconds: Option<i64>,
    /// Per step: from its first to its last event (plan, apply, verify, ...).
    pub steps: BTreeMap<String, i64>,
}

/// Builds the report of `phase` from its folded view, its raw events (for
/// times and rollbacks), the review's judgement and the cost figure.
pub fn build_phase_report(
    change: &str,
    phase: &PhaseProgress,
    events: &[Event],
    judgement: &Judgement,
    cost: CostFigure,
    reviewed_at: &str,
) -> PhaseReport {
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.change == change && e.phase == phase.name)
        .collect();
    PhaseReport {
        version: REPORT_VERSION,
        change: change.to_string(),
        phase: PhaseId {
            index: phase.index,
            name: phase.name.clone(),
            environment: phase.environment.clone(),
        },
        digest: phase.digest.clone(),
        verdict: judgement.verdict,
        reasons: judgement.reasons.clone(),
        concerns: judgement.concerns.clone(),
        approvals: phase
            .approvals_of_current()
            .into_iter()
            .map(|a| ApprovalEntry {
                approver: a.approver.clone(),
                source: a.source,
                at: a.at.clone(),
            })
            .collect(),
        projects: phase
            .projects
            .iter()
            .map(|p| ProjectEntry {
                name: p.project.clone(),
                digest: p.digest.clone(),
                apply: serde_json::to_value(p.apply)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                gates: p.gates.clone(),
                acknowledgements: p.acknowledgements.clone(),
                checkpoint: p.checkpoint.as_ref().map(|c| CheckpointEntry {
                    file: c.file.clone(),
                    sha256: c.sha256.clone(),
                    serial: c.serial,
                    lineage: c.lineage.clone(),
                }),
                resources: p.results.clone(),
                verification: p.verification.as_ref().map(|v| VerificationEntry {
                    status: v.status,
                    checks: v.checks.clone(),
                }),
            })
            .collect(),
        rollbacks: mine
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::RolledBack { reason } => Some(RollbackEntry {
                    project: e.project.clone(),
                    reason: reason.clone(),
                    at: e.time.clone(),
                    actor: e.actor.clone(),
                }),
                _ => None,
            })
            .collect(),
        steps: phase
            .operations
            .iter()
            .map(|o| step_entry(o, &mine))
            .collect(),
        cost,
        timing: timing(&mine),
        reviewed_at: reviewed_at.to_string(),
    }
}

fn step_entry(o: &crate::journal::OperationProgress, events: &[&Event]) -> StepEntry {
    use crate::journal::operation::{Ended, OperationRecord};
    let (verdict, detail) = match &o.state.ended {
        Some(Ended::Succeeded { note }) => ("succeeded", note.clone()),
        Some(Ended::Failed { reason }) => ("failed", Some(reason.clone())),
        Some(Ended::RolledBack { ok }) => (
            "rolled back",
            (!ok).then(|| "its rollback command failed".to_string()),
        ),
        Some(Ended::Aborted { by }) => ("aborted", Some(format!("by {by}"))),
        None if o.state.waiting => ("waiting", None),
        None if o.state.attempts > 0 => ("running", None),
        None => ("not run", None),
    };
    let times: Vec<&str> = events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Operation { step_id, record } => {
                step_id == &o.id && !matches!(record, OperationRecord::Previewed { .. })
            }
            _ => false,
        })
        .map(|e| e.time.as_str())
        .collect();
    let duration_seconds = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => super::seconds_between(a, b),
        _ => None,
    };
    let logs = o
        .records
        .iter()
        .filter_map(|r| match r {
            OperationRecord::Previewed { run, .. }
            | OperationRecord::Executed { run, .. }
            | OperationRecord::RolledBack { run } => run.log.clone(),
            _ => None,
        })
        .collect();
    StepEntry {
        id: o.id.clone(),
        irreversible: o.irreversible,
        verdict: verdict.into(),
        detail,
        attempts: o.state.attempts,
        duration_seconds,
        logs,
    }
}

/// Durations from event times: the phase from its first to its last event
/// (reviews excluded, so re-reviewing does not stretch it), and each step.
fn timing(events: &[&Event]) -> Timing {
    let work: Vec<&&Event> = events.iter().filter(|e| e.step != Step::Review).collect();
    let started_at = work.iter().map(|e| e.time.clone()).min();
    let finished_at = work.iter().map(|e| e.time.clone()).max();
    let total_seconds = match (&started_at, &finished_at) {
        (Some(a), Some(b)) => super::seconds_between(a, b),
        _ => None,
    };
    let mut spans: BTreeMap<String, (String, String)> = BTreeMap::new();
    for e in &work {
        let span = spans
            .entry(e.step.as_str().to_string())
            .or_insert_with(|| (e.time.clone(), e.time.clone()));
        if e.time < span.0 {
            span.0 = e.time.clone();
        }
        if e.time > span.1 {
            span.1 = e.time.clone();
        }
    }
    Timing {
        started_at,
        finished_at,
        total_seconds,
        steps: spans
            .into_iter()
            .filter_map(|(k, (a, b))| super::seconds_between(&a, &b).map(|s| (k, s)))
            .collect(),
    }
}
