//! What a repository holds, read from its files alone: Terraform directories
//! and Terragrunt units, which of them are projects, the local modules each
//! one calls, and the environments each project's directory, tfvars, backend
//! config files and workspaces suggest. Used by
//! `init` (what to configure) and `matrix` (what a change touches).

mod affected;
mod declared;
mod envs;
mod modules;

pub use affected::{affected_projects, ProjectDir};
pub use declared::declared;
pub use envs::{
    detect_layout, environment_of_dir, promotion_rank, DetectedEnv, DetectedProject, EnvSettings,
    EnvSource, Layout, ProjectReason,
};
pub use modules::{
    join_relative, normalize, relative_to, scan_module_calls, scan_repo, ScanError, TfDir,
};

/// The git repository root above `dir` (a `.git` entry), else `dir` itself.
pub fn repo_root(dir: &std::path::Path) -> std::path::PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.ancestors()
        .find(|d| d.join(".git").exists())
        .map(std::path::Path::to_path_buf)
        .unwrap_or(abs)
}
