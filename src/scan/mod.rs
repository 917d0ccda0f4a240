//! What a repository holds, read from its files alone: Terraform directories,
//! which of them are root modules, the local modules each one calls, and the
//! environments its tfvars, workspaces and directory names suggest. Used by
//! `init` (what to configure) and `matrix` (what a change touches).

mod affected;
mod envs;
mod modules;

pub use affected::{affected_projects, ProjectDir};
pub use envs::{detect_environments, promotion_rank, DetectedEnv, EnvSource};
pub use modules::{
    join_relative, normalize, relative_to, scan_module_calls, scan_repo, ScanError, TfDir,
};
