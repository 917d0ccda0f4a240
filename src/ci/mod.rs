//! The GitHub Actions runtime: the run's environment and event, step outputs,
//! the job summary, and workflow commands. Everything reads from an explicit
//! environment snapshot, so tests never touch the process environment.

pub mod commands;
pub mod context;
pub mod outputs;
pub mod summary;

pub use context::{ActionsContext, CiError, Event, EventKind};
