//! The journal: every step of a change as an append-only stream of events
//! (JSON Lines) held together by a hash chain, and the progress view folded
//! from it. Pure: no clock, no I/O; callers supply the time and decide where
//! the lines are kept (`crate::store`).

pub mod chain;
pub mod codec;
pub mod event;
pub mod operation;
pub mod progress;
pub mod schema;
pub mod writer;

pub use chain::{Break, Journal, Opening, Torn};
pub use codec::{append_line, parse_lines, JournalError};
pub use event::{
    ApprovalSource, CheckResult, CheckStatus, EngineExit, EngineProcess, ErrorClass, Event,
    EventKind, GateFinding, LockOwner, PlanRecord, PlannedInput, ResourceOutcome, ResourceResult,
    ReviewVerdict, RunRef, Step,
};
pub use progress::{
    fold, fold_seeing, InFlight, NextStep, OperationProgress, Overall, PhaseProgress, PhaseRef,
    Progress, ProjectProgress, Revert, Review, Seen, StepRef, StepState, Stopped, Verification,
};
pub use writer::Writer;

/// The first 12 characters of a digest, as every view shows it.
pub fn short_digest(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// The store key of a change's journal.
pub fn journal_key(change: &str) -> String {
    format!("changes/{}/journal.jsonl", key_part(change))
}

/// A change id, environment or project name made safe as one key segment:
/// anything but `[A-Za-z0-9._-]` becomes `_`, and `.`/`..` cannot result.
pub fn key_part(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_their_key_segment() {
        assert_eq!(key_part("CHG-1"), "CHG-1");
        assert_eq!(key_part("../x"), ".._x");
        assert_eq!(key_part(".."), "_..");
        assert_eq!(key_part(""), "_");
        crate::store::check_key(&journal_key("a/../../b")).unwrap();
    }
}
