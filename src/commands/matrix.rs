//! `phasegate matrix`: the projects a change touches, from one
//! `git diff --name-only base head`, as a GitHub Actions matrix
//! (`{"include":[{"project":"net"}, ...]}`) on stdout and in `GITHUB_OUTPUT`,
//! per environment (`by_env`: each environment's own matrix of the changed
//! projects deployed to it), so a job per environment can run only its own
//! projects, and per environment and dependency level (`by_level`), so the
//! promotion chain applies an upstream before planning what reads it.

use std::path::Path;

use crate::ci::event_refs;
use crate::cli::{GlobalArgs, MatrixArgs, MatrixFormat};
use crate::error::{Error, ExitCode, Result};
use crate::runner::output::print_stdout;
use crate::runner::rollback::tree::merge_base;
use crate::runner::workspace::Workspace;
use crate::scan::repo_root;
use crate::scan::{self, ProjectDir};
use crate::workflows::matrix::{by_env, by_level, matrix};

/// A push's `before` when the branch is new: nothing to diff against.
const NULL_SHA: &str = "0000000000000000000000000000000000000000";

pub fn run(global: &GlobalArgs, args: MatrixArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let config = ws.config.as_ref().expect("required config is loaded");
    let root = repo_root(&ws.base_dir);
    let (event_base, event_head) = event_refs();
    let head = args.head.or(event_head).unwrap_or_else(|| "HEAD".into());
    let default_branch = config.workflows.default_branch.as_deref().unwrap_or("main");
    let base = match args.base.or(event_base) {
        Some(b) => b,
        None => merge_base(&root, &head, default_branch)?.ok_or_else(|| {
            Error::Input(format!(
                "no base commit: no --base, no pull_request or push event, and `{head}` shares no history with origin/{default_branch} or {default_branch} (the default branch, `workflows.default_branch`); pass --base REF"
            ))
        })?,
    };
    let config_rel = scan::relative_to(
        &root,
        ws.config_path
            .as_deref()
            .unwrap_or(Path::new("phasegate.yml")),
    );
    let base_rel = scan::relative_to(&root, &ws.base_dir);
    let projects: Vec<ProjectDir> = config
        .projects
        .iter()
        .map(|p| ProjectDir {
            name: p.name.clone(),
            dir: scan::join_relative(&base_rel, &p.dir.to_string_lossy()),
            depends_on: p.upstreams().into_iter().map(str::to_string).collect(),
        })
        .collect();
    let names = if base == NULL_SHA {
        // A new branch: every project is new to it.
        projects.iter().map(|p| p.name.clone()).collect()
    } else {
        let changed = git_diff(&root, &base, &head)?;
        let dirs = scan::scan_module_calls(&root)?;
        scan::affected_projects(&projects, &dirs, &changed, &[config_rel])
    };
    let matrix_text = serde_json::to_string(&matrix(&names)).expect("json serializes");
    let by_env_text = serde_json::to_string(&by_env(config, &names)).expect("json serializes");
    let by_level_text = serde_json::to_string(&by_level(config, &names)).expect("json serializes");
    if let Some(file) = std::env::var_os("GITHUB_OUTPUT") {
        crate::ci::outputs::write_outputs(
            Path::new(&file),
            &[
                ("matrix", matrix_text.clone()),
                ("count", names.len().to_string()),
                ("by_env", by_env_text.clone()),
                ("by_level", by_level_text.clone()),
            ],
        )?;
    }
    match args.format {
        MatrixFormat::Json => print_stdout(&matrix_text),
        MatrixFormat::ByEnvJson => print_stdout(&by_env_text),
        MatrixFormat::ByLevelJson => print_stdout(&by_level_text),
        MatrixFormat::Text if names.is_empty() => print_stdout("no project changed"),
        MatrixFormat::Text => print_stdout(&names.join("\n")),
    }
    Ok(ExitCode::Success)
}

/// One `git diff --name-only` for the whole repository: no per-project calls.
fn git_diff(root: &Path, base: &str, head: &str) -> Result<Vec<String>> {
    for r in [base, head] {
        if r.starts_with('-') {
            return Err(Error::Input(format!("`{r}` is not a commit reference")));
        }
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            base,
            head,
            "--",
        ])
        .output()
        .map_err(|e| Error::External(format!("could not run git in {}: {e}", root.display())))?;
    if !out.status.success() {
        return Err(Error::External(format!(
            "`git diff --name-only {base} {head}` in {} failed: {}; is the base commit fetched (actions/checkout with fetch-depth: 0)?",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}
