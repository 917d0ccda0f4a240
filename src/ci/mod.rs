//! The GitHub Actions runtime: the run's environment and event, step outputs,
//! the job summary, and workflow commands. Everything reads from an explicit
//! environment snapshot, so tests never touch the process environment.

pub mod commands;
pub mod context;
pub mod outputs;
pub mod summary;

pub use context::{ActionsContext, CiError, Event, EventKind};

/// Appends `text` to a runner file (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`)
/// in one write, through the redactor.
pub(crate) fn append(file: &std::path::Path, text: &str) -> Result<(), CiError> {
    use std::io::Write;
    let write = || -> std::io::Result<()> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)?
            .write_all(crate::redact::global().apply(text).as_bytes())
    };
    write().map_err(|source| CiError::Write {
        path: file.to_path_buf(),
        source,
    })
}

/// Base and head from the event payload: a PR's base and head, or a push's
/// `before` and `after`.
pub fn event_refs() -> (Option<String>, Option<String>) {
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH") else {
        return (None, None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return (None, None);
    };
    let Ok(payload) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (None, None);
    };
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let pr = &payload["pull_request"];
    if !pr.is_null() {
        return (s(&pr["base"]["sha"]), s(&pr["head"]["sha"]));
    }
    (s(&payload["before"]), s(&payload["after"]))
}
