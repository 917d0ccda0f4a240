//! The GitHub workflows phasegate generates for a repository (`generate`), and
//! the check that the workflows on disk still enforce the promotion chain
//! (`check`).

pub mod check;
pub mod generate;
pub mod matrix;
pub mod permissions;
mod templates;

pub use check::{check_workflows, Finding, FindingCode};
pub use generate::{generate, generate_reusable, GenerateOptions, GeneratedWorkflow, Pins};
