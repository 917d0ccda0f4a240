//! What GitHub's surfaces hold, shared by `render` (which fills them) and
//! `github` (which posts them): the size limits of a comment and a job
//! summary, and the marker that splits a phase block of the sticky comment
//! into its essentials and its details.

/// GitHub's limit on an issue or PR comment body, in characters.
pub const COMMENT_BUDGET: usize = 65_536;
/// GitHub's limit on one step's job summary, in bytes.
pub const SUMMARY_BUDGET: usize = 1_048_576;

/// The line that separates the essentials of a phase block from its details.
pub const DETAILS_MARKER: &str = "<!-- phasegate:details -->";

/// Splits a phase block at [`DETAILS_MARKER`] into its essentials and its
/// details (both without the marker line); `None` when `block` has no marker.
pub fn split_block(block: &str) -> Option<(&str, &str)> {
    let at = block
        .match_indices(DETAILS_MARKER)
        .find(|(at, _)| *at == 0 || block[..*at].ends_with('\n'))?
        .0;
    let details = &block[at + DETAILS_MARKER.len()..];
    Some((&block[..at], details.strip_prefix('\n').unwrap_or(details)))
}
