//! Phase reviews and the reports built from the journal: the verdict
//! (`review.rs`), the phase report `reports/phase-N.json` (`phase.rs`) and
//! the whole change's report (`change.rs`). Pure: the commands read the
//! journal, the gates' results and the clock, and write the files.

pub mod change;
pub mod phase;
pub mod review;

pub use change::{build_change_report, ChangeReport};
pub use phase::{build_phase_report, CostFigure, PhaseReport, StepEntry, SCHEMA_FILE};
pub use review::{judge, Concern, Judgement};

/// The JSON Schema of a phase report, committed as
/// `schemas/phase-report.schema.json`.
pub fn phase_report_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PhaseReport)).expect("a schema serializes")
}

/// Seconds between two RFC 3339 times; `None` when either is unreadable.
pub(crate) fn seconds_between(from: &str, to: &str) -> Option<i64> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some((b - a).num_seconds())
}

#[cfg(test)]
mod tests;
