//! phasegate: runs infrastructure changes through GitHub Actions in gated, journaled phases.
//!
//! The library holds everything; `src/main.rs` only maps errors to exit codes.
//! Pure domain code (plan model, gates, phase rules) lives apart from adapters
//! (the IaC process, GitHub, the Actions runtime) that sit behind narrow traits.

pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod drift;
pub mod error;
pub mod gates;
pub mod github;
pub mod iac;
pub mod journal;
pub mod phase;
pub mod plan;
pub mod redact;
pub mod render;
pub mod report;
pub mod runner;
pub mod scan;
pub mod setup;
pub mod store;
pub mod surface;
pub mod term;
pub mod verify;
pub mod workflows;

pub use error::{Error, ExitCode};
