//! The change's base configuration on disk, for a revert plan: the base
//! commit's tree checked out into a directory of its own through a private
//! index (`read-tree` + `checkout-index`), so the repository's index and
//! work tree are never touched. A project on the local backend keeps its
//! state: the state files of the project directory are linked in, so the
//! revert is planned against the CURRENT state.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The state files of Terraform's local backend, relative to the project.
const LOCAL_STATE: &[&str] = &["terraform.tfstate", "terraform.tfstate.d"];

fn git(dir: &Path, args: &[&str], index: Option<&Path>) -> Result<String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    if let Some(index) = index {
        cmd.env("GIT_INDEX_FILE", index);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::External(format!("cannot run git in {}: {e}", dir.display())))?;
    if !out.status.success() {
        return Err(Error::External(format!(
            "`git {}` in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The repository holding `dir`.
pub fn repo_root(dir: &Path) -> Result<PathBuf> {
    git(dir, &["rev-parse", "--show-toplevel"], None)
        .map(PathBuf::from)
        .map_err(|e| {
            Error::Input(format!(
                "a revert plan needs the project in a git repository: {e}"
            ))
        })
}

/// `rev` as a full commit sha; an unknown revision is bad input.
pub fn resolve(root: &Path, rev: &str) -> Result<String> {
    if rev.starts_with('-') {
        return Err(Error::Input(format!("--base {rev}: not a revision")));
    }
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
        None,
    )
    .map_err(|_| {
        Error::Input(format!(
            "--base {rev}: not a commit in {} (fetch it first, e.g. with fetch-depth: 0)",
            root.display()
        ))
    })
}

/// The commit the change in `dir` started from, recorded with each plan so
/// a rollback knows where to go back to without being told: the event's
/// base (a pull request's base, a push's `before`), else the merge-base of
/// `HEAD` with the default branch. `None` outside a git repository.
pub fn change_base(dir: &Path, default_branch: &str) -> Option<String> {
    let root = repo_root(dir).ok()?;
    let from_event = crate::ci::event_refs()
        .0
        .filter(|b| b.chars().any(|c| c != '0'));
    if let Some(base) = from_event {
        return resolve(&root, &base).ok();
    }
    // On a branch of its own, where it left the default branch; on the
    // default branch (or with none), the commit the work tree sits on.
    merge_base(&root, "HEAD", default_branch)
        .ok()
        .flatten()
        .or_else(|| resolve(&root, "HEAD").ok())
}

/// The pull request's base sha from the Actions event payload.
pub fn base_from_event() -> Option<String> {
    let path = std::env::var_os("GITHUB_EVENT_PATH")?;
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["pull_request"]["base"]["sha"]
        .as_str()
        .map(str::to_string)
}

/// Checks commit `sha` of the repository at `root` out into `dest`
/// (emptied first) and returns `dest`.
pub fn materialize(root: &Path, sha: &str, dest: &Path) -> Result<PathBuf> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    }
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    // A private index beside the tree: the repository's own is never used.
    let index = dest.with_extension("index");
    git(root, &["read-tree", sha], Some(&index))?;
    let work_tree = format!("--work-tree={}", dest.display());
    let checked_out = git(
        root,
        &[&work_tree, "checkout-index", "--all", "--force"],
        Some(&index),
    );
    let _ = std::fs::remove_file(&index);
    checked_out?;
    Ok(dest.to_path_buf())
}

/// Links the local backend's state files of `project_dir` into `into`, so
/// a plan there reads and writes the same state. Returns what was linked.
pub fn link_local_state(project_dir: &Path, into: &Path) -> Result<Vec<PathBuf>> {
    let mut linked = vec![];
    std::fs::create_dir_all(into).map_err(|e| Error::io(into, e))?;
    for name in LOCAL_STATE {
        let source = project_dir.join(name);
        if !source.exists() {
            continue;
        }
        let target = into.join(name);
        if target.exists() {
            let remove = if target.is_dir() {
                std::fs::remove_dir_all(&target)
            } else {
                std::fs::remove_file(&target)
            };
            remove.map_err(|e| Error::io(&target, e))?;
        }
        let source = std::fs::canonicalize(&source).map_err(|e| Error::io(&source, e))?;
        symlink(&source, &target)?;
        linked.push(target);
    }
    Ok(linked)
}

#[cfg(unix)]
fn symlink(from: &Path, to: &Path) -> Result<()> {
    std::os::unix::fs::symlink(from, to).map_err(|e| Error::io(to, e))
}

#[cfg(not(unix))]
fn symlink(_from: &Path, to: &Path) -> Result<()> {
    Err(Error::Input(format!(
        "{}: linking the local state needs a unix system",
        to.display()
    )))
}

/// `project_dir` relative to the repository root.
pub fn relative_to(root: &Path, project_dir: &Path) -> Result<PathBuf> {
    let root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let dir = std::fs::canonicalize(project_dir).map_err(|e| Error::io(project_dir, e))?;
    dir.strip_prefix(&root).map(Path::to_path_buf).map_err(|_| {
        Error::Input(format!(
            "project directory {} is outside the repository {}",
            dir.display(),
            root.display()
        ))
    })
}
/// Where `head` left the default branch, for a run outside Actions:
/// `git merge-base` with `origin/<branch>`, else the local `<branch>`.
/// None when neither exists or shares history with `head`.
pub fn merge_base(root: &Path, head: &str, branch: &str) -> Result<Option<String>> {
    if head.starts_with('-') {
        return Err(Error::Input(format!("`{head}` is not a commit reference")));
    }
    for candidate in [format!("origin/{branch}"), branch.to_string()] {
        if candidate.starts_with('-') {
            continue;
        }
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["merge-base", head, &candidate])
            .output()
            .map_err(|e| {
                Error::External(format!("could not run git in {}: {e}", root.display()))
            })?;
        // Exit 1: no common ancestor; 128: no such ref. Either way, try the next.
        if out.status.success() {
            let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !sha.is_empty() {
                return Ok(Some(sha));
            }
        }
    }
    Ok(None)
}
