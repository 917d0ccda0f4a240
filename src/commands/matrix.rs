//! `phasegate matrix`: the projects a change touches, from one
//! `git diff --name-only base head`, as a GitHub Actions matrix
//! (`{"include":[{"project":"net"}, ...]}`) on stdout and in `GITHUB_OUTPUT`.

use std::path::Path;

use serde_json::{json, Value};

use super::output::print_stdout;
use super::workflows::repo_root;
use super::workspace::Workspace;
use crate::cli::{GlobalArgs, MatrixArgs, MatrixFormat};
use crate::error::{Error, ExitCode, Result};
use crate::scan::{self, ProjectDir};

/// A push's `before` when the branch is new: nothing to diff against.
const NULL_SHA: &str = "0000000000000000000000000000000000000000";

pub fn run(global: &GlobalArgs, args: MatrixArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let config = ws.config.as_ref().expect("required config is loaded");
    let root = repo_root(&ws.base_dir);
    let (event_base, event_head) = event_refs();
    let base = args.base.or(event_base).ok_or_else(|| {
        Error::Input("no base commit: pass --base REF (in a pull_request or push workflow it comes from the event)".into())
    })?;
    let head = args.head.or(event_head).unwrap_or_else(|| "HEAD".into());
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
            depends_on: p.depends_on.clone(),
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
    let matrix = json!({
        "include": names.iter().map(|n| json!({"project": n})).collect::<Vec<_>>()
    });
    let matrix_text = serde_json::to_string(&matrix).expect("json serializes");
    if let Some(file) = std::env::var_os("GITHUB_OUTPUT") {
        crate::ci::outputs::write_outputs(
            Path::new(&file),
            &[
                ("matrix", matrix_text.clone()),
                ("count", names.len().to_string()),
            ],
        )?;
    }
    match args.format {
        MatrixFormat::Json => print_stdout(&matrix_text),
        MatrixFormat::Text if names.is_empty() => print_stdout("no project changed"),
        MatrixFormat::Text => print_stdout(&names.join("\n")),
    }
    Ok(ExitCode::Success)
}

/// Base and head from the event payload: a PR's base and head, or a push's
/// `before` and `after`.
fn event_refs() -> (Option<String>, Option<String>) {
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH") else {
        return (None, None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return (None, None);
    };
    let Ok(payload) = serde_json::from_str::<Value>(&text) else {
        return (None, None);
    };
    let s = |v: &Value| v.as_str().map(str::to_string);
    let pr = &payload["pull_request"];
    if !pr.is_null() {
        return (s(&pr["base"]["sha"]), s(&pr["head"]["sha"]));
    }
    (s(&payload["before"]), s(&payload["after"]))
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
