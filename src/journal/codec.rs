//! Journal lines in and out: one JSON object per line, appended, never
//! rewritten. A line that does not parse is an error naming its number,
//! because a silently skipped event could hide an apply.

use super::event::Event;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal line {line}: {message}")]
    BadLine { line: usize, message: String },
}

impl From<JournalError> for crate::Error {
    fn from(e: JournalError) -> Self {
        crate::Error::External(e.to_string())
    }
}

/// Every event of a journal, in order. Blank lines are allowed (a trailing
/// newline is).
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

/// The journal with `events` appended; existing bytes are kept as they are.
pub fn append_line(current: Option<&[u8]>, events: &[Event]) -> Vec<u8> {
    append_with(current, events, |line| line)
}

/// Like [`append_line`], passing each line through `mask` (the face hands in
/// the redactor, so no secret reaches the store).
pub fn append_with(
    current: Option<&[u8]>,
    events: &[Event],
    mask: impl Fn(String) -> String,
) -> Vec<u8> {
    let mut out = current.unwrap_or_default().to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    for e in events {
        let line = serde_json::to_string(e).expect("journal events serialize");
        out.extend_from_slice(mask(line).as_bytes());
        out.push(b'\n');
    }
    out
}
