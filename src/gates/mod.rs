//! The gates that decide whether a phase may go on: security, cost and blast
//! radius. Each is a pure function from a normalized plan plus policy to a
//! typed result; every output format is a view of that result.

pub mod blast;
pub mod cost;
pub mod policy;
pub mod security;

use serde::{Deserialize, Serialize};

/// A gate's decision, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    /// Goes on only with a recorded acknowledgement in the change plan.
    AckRequired,
    /// Cannot go on; no acknowledgement helps.
    Block,
}

impl Verdict {
    /// True when the phase may not proceed as things stand.
    pub fn stops(self) -> bool {
        matches!(self, Verdict::AckRequired | Verdict::Block)
    }
}

/// Finding severity, ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// The reason of the acknowledgement with `id` that applies now: to this
/// phase (or to every phase) and not expired. An unreadable expiry counts as
/// expired.
pub fn live_acknowledgement(
    acks: &[crate::config::Acknowledgement],
    id: &str,
    phase: Option<&str>,
    today: chrono::NaiveDate,
) -> Option<String> {
    acks.iter()
        .find(|a| {
            a.id == id
                && a.phase.as_deref().is_none_or(|p| Some(p) == phase)
                && a.expires.as_deref().is_none_or(|e| {
                    chrono::NaiveDate::parse_from_str(e, "%Y-%m-%d").is_ok_and(|d| d >= today)
                })
        })
        .map(|a| a.reason.clone())
}
