//! What the phase runner asks GitHub about the past: workflow runs (is the
//! run that holds a lock still going?) and merged pull requests (which PR did
//! a push to the default branch come from?).

use std::collections::BTreeMap;

/// A workflow run as far as its status goes.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowRun {
    /// `queued`, `in_progress`, `waiting`, `completed`, ...
    pub status: String,
    /// Set once completed: `success`, `failure`, `cancelled`, ...
    pub conclusion: Option<String>,
    pub created: u64,
}

/// How a pull request was merged.
#[derive(Debug, Clone)]
pub(crate) struct Merge {
    pub merge_commit_sha: String,
    pub base: String,
    pub at: u64,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    pub runs: BTreeMap<(String, String, u64), WorkflowRun>,
    pub merges: BTreeMap<(String, String, u64), Merge>,
}
