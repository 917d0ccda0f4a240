//! The change report, written when the last phase is reviewed
//! (`reports/change.json` and `reports/change.md`): every phase with its
//! verdict, the resources it changed, its monthly cost, approvers and
//! duration, and the totals over the change.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::phase::{CostFigure, PhaseId, PhaseReport, RollbackEntry, StepEntry, REPORT_VERSION};
use crate::journal::{ResourceOutcome, ResourceResult, ReviewVerdict};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeReport {
    pub version: u32,
    pub change: String,
    pub phases: Vec<ChangePhase>,
    /// Phase name → verdict.
    pub verdicts: BTreeMap<String, ReviewVerdict>,
    /// Everyone who approved a phase, sorted, once each.
    pub approvers: Vec<String>,
    /// How many resources the change applied across every phase.
    pub resources_changed: usize,
    /// The sum of the phases' monthly deltas.
    pub total_monthly_cost: CostFigure,
    /// From the first phase's first event to the last phase's last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    pub generated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePhase {
    pub phase: PhaseId,
    pub verdict: ReviewVerdict,
    pub reasons: Vec<String>,
    /// Resources applied in the phase (every project).
    pub resources: Vec<ResourceResult>,
    pub cost: CostFigure,
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    pub rollbacks: Vec<RollbackEntry>,
    /// The phase's operation steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepEntry>,
}

/// The change report over every phase's report, in phase order.
pub fn build_change_report(
    change: &str,
    phases: &[PhaseReport],
    generated_at: &str,
) -> ChangeReport {
    let rows: Vec<ChangePhase> = phases
        .iter()
        .map(|r| ChangePhase {
            phase: r.phase.clone(),
            verdict: r.verdict,
            reasons: r.reasons.clone(),
            resources: r
                .projects
                .iter()
                .flat_map(|p| p.resources.iter())
                .filter(|x| x.outcome == ResourceOutcome::Applied)
                .cloned()
                .collect(),
            cost: r.cost.clone(),
            approvers: r.approvals.iter().map(|a| a.approver.clone()).collect(),
            duration_seconds: r.timing.total_seconds,
            rollbacks: r.rollbacks.clone(),
            steps: r.steps.clone(),
        })
        .collect();
    let mut approvers: Vec<String> = rows.iter().flat_map(|p| p.approvers.clone()).collect();
    approvers.sort();
    approvers.dedup();
    let started = phases
        .iter()
        .filter_map(|r| r.timing.started_at.clone())
        .min();
    let finished = phases
        .iter()
        .filter_map(|r| r.timing.finished_at.clone())
        .max();
    ChangeReport {
        version: REPORT_VERSION,
        change: change.to_string(),
        verdicts: rows
            .iter()
            .map(|p| (p.phase.name.clone(), p.verdict))
            .collect(),
        approvers,
        resources_changed: rows.iter().map(|p| p.resources.len()).sum(),
        total_monthly_cost: total_cost(&rows),
        duration_seconds: match (started, finished) {
            (Some(a), Some(b)) => super::seconds_between(&a, &b),
            _ => None,
        },
        phases: rows,
        generated_at: generated_at.to_string(),
    }
}

/// Known deltas add up; a phase with an unknown cost makes the total a
/// lower bound and is named, never guessed.
fn total_cost(rows: &[ChangePhase]) -> CostFigure {
    let known: Vec<&ChangePhase> = rows
        .iter()
        .filter(|p| p.cost.monthly_delta.is_some())
        .collect();
    let unknown: Vec<&str> = rows
        .iter()
        .filter(|p| p.cost.monthly_delta.is_none())
        .map(|p| p.phase.name.as_str())
        .collect();
    if known.is_empty() {
        return CostFigure {
            source: "unknown: no phase has a cost figure".into(),
            ..CostFigure::default()
        };
    }
    let sum: f64 = known.iter().filter_map(|p| p.cost.monthly_delta).sum();
    let currency = known.iter().find_map(|p| p.cost.currency.clone());
    let source = if unknown.is_empty() {
        "the sum of every phase's cost gate delta".to_string()
    } else {
        format!(
            "the sum of the known phases' cost gate deltas; unknown for {}",
            unknown.join(", ")
        )
    };
    CostFigure {
        monthly_delta: Some((sum * 100.0).round() / 100.0),
        monthly_after: None,
        currency,
        lower_bound: !unknown.is_empty() || known.iter().any(|p| p.cost.lower_bound),
        source,
    }
}
