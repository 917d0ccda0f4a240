//! The job summary: markdown appended to `GITHUB_STEP_SUMMARY`, which GitHub
//! caps at 1 MiB per step; content past the cap is cut with a note.

use std::path::Path;

use super::CiError;

/// GitHub's limit on one step's summary, in bytes.
pub const STEP_SUMMARY_LIMIT: usize = 1_048_576;

const CUT_NOTE: &str = "\n\n_…cut: the job summary reached GitHub's 1 MiB limit._\n";

/// Appends `markdown`, cut so that the file stays within the limit.
pub fn append_summary(file: &Path, markdown: &str) -> Result<(), CiError> {
    let existing = std::fs::metadata(file)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let text = crate::redact::global().apply(markdown);
    let room = STEP_SUMMARY_LIMIT.saturating_sub(existing);
    let text = fit(&text, room);
    if text.is_empty() {
        return Ok(());
    }
    super::append(file, &text)
}

/// `text` if it fits in `room` bytes, else its longest prefix (on a char
/// boundary) that fits together with the cut note.
fn fit(text: &str, room: usize) -> String {
    if text.len() <= room {
        return text.to_string();
    }
    if room < CUT_NOTE.len() {
        return String::new();
    }
    let mut end = room - CUT_NOTE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_NOTE}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_never_grows_past_one_mebibyte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("summary.md");
        append_summary(&file, &"é".repeat(400_000)).unwrap();
        append_summary(&file, &"ü".repeat(400_000)).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.len() <= STEP_SUMMARY_LIMIT, "{}", text.len());
        assert!(text.ends_with(CUT_NOTE));
    }

    #[test]
    fn small_summaries_are_appended_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("summary.md");
        append_summary(&file, "# one\n").unwrap();
        append_summary(&file, "# two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# one\n# two\n");
    }
}
