//! Journal lines in and out: one JSON object per line, appended, never
//! rewritten. A line that does not parse is an error naming its number,
//! because a silently skipped event could hide an apply. Which lines may
//! follow which is the chain's business (`super::chain`).

use super::event::Event;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal line {line}: {message}")]
    BadLine { line: usize, message: String },
    /// A link of the hash chain does not hold: the journal was edited.
    #[error("{0}")]
    Broken(#[from] super::chain::Break),
    /// The redactor masked part of a line's link, so the line could not be
    /// stored without breaking the chain.
    #[error("journal line {line}: the redactor masked part of its chain link `prev`; a registered secret occurs in a sha256")]
    MaskedLink { line: usize },
}

impl From<JournalError> for crate::Error {
    fn from(e: JournalError) -> Self {
        match e {
            // A journal that is not what phasegate wrote is a check that
            // said no: nothing is decided from it.
            JournalError::BadLine { .. } | JournalError::Broken(_) => {
                crate::Error::Refused(e.to_string())
            }
            JournalError::MaskedLink { .. } => crate::Error::External(e.to_string()),
        }
    }
}

/// Every event of a journal, in order, without checking the chain (tools
/// and fuzzing; commands read through [`super::chain::read`]). Blank lines
/// are allowed (a trailing newline is).
pub fn parse_lines(bytes: &[u8]) -> Result<Vec<Event>, JournalError> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| JournalError::BadLine {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// One event as one line, without its newline.
pub fn encode(event: &Event) -> String {
    serde_json::to_string(event).expect("journal events serialize")
}

/// The journal with `events` appended by the chain rules (see
/// [`super::chain::append`]), without masking and without a config digest:
/// for tools and tests that write a journal the way phasegate does.
pub fn append_line(
    current: Option<&[u8]>,
    change: &str,
    events: &[Event],
) -> Result<Vec<u8>, JournalError> {
    let opening = super::chain::Opening::default();
    super::chain::append(current, change, &opening, events, |l| l).map(|a| a.bytes)
}
