//! `phasegate workflows check`: reads `.github/workflows/` and exits 1 when a
//! workflow no longer enforces the promotion chain; drift from what the
//! config generates is reported (and fails with `--strict`); `workflows
//! generate` writes them again from the config as it stands.

use crate::scan::repo_root;
use std::path::{Path, PathBuf};

use crate::cli::{GlobalArgs, ResultFormat, WorkflowsAction, WorkflowsArgs};
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};
use crate::runner::output::{print_json, print_stdout};
use crate::runner::workspace::Workspace;
use crate::workflows::{self, generate::WORKFLOW_DIR, Finding};

pub fn run(global: &GlobalArgs, args: WorkflowsArgs) -> Result<ExitCode> {
    let (dir, strict, format) = match args.action {
        WorkflowsAction::Check {
            dir,
            strict,
            format,
        } => (dir, strict, format),
        WorkflowsAction::Generate { dir } => return write_generated(global, dir),
    };
    let ws = Workspace::load(global, true)?;
    let (config, config_path) = ws.required_config();
    let root = repo_root(&ws.base_dir);
    let dir = dir.unwrap_or_else(|| root.join(WORKFLOW_DIR));
    let findings = check_dir(config, config_path, &root, &dir)?;
    let broken = findings.iter().filter(|f| f.code.breaks_chain()).count();
    let drift = findings.len() - broken;
    let code = if broken > 0 || (strict && drift > 0) {
        ExitCode::Refused
    } else {
        ExitCode::Success
    };
    if format == ResultFormat::Json {
        print_json(&serde_json::json!({
            "ok": code == ExitCode::Success,
            "dir": dir.display().to_string(),
            "breaking": broken,
            "drifted": drift,
            "findings": findings.iter().map(|f| serde_json::json!({
                "code": f.code.id(),
                "breaks_chain": f.code.breaks_chain(),
                "file": f.file,
                "line": f.line,
                "job": f.job,
                "message": f.message,
            })).collect::<Vec<_>>(),
        }));
        return Ok(code);
    }
    let mut lines: Vec<String> = findings.iter().map(Finding::to_string).collect();
    lines.push(format!(
        "{}: {broken} problem(s) breaking the promotion chain, {drift} file(s) drifted from the config",
        dir.display()
    ));
    print_stdout(&lines.join("\n"));
    Ok(code)
}

/// `workflows generate`: writes what the config generates into `dir`,
/// replacing the files of the same names; the config is left as it is.
fn write_generated(global: &GlobalArgs, dir: Option<PathBuf>) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let (config, config_path) = ws.required_config();
    let root = repo_root(&ws.base_dir);
    let dir = dir.unwrap_or_else(|| root.join(WORKFLOW_DIR));
    let generated = workflows::generate(config, &generate_options(&root, config_path, config)?);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut lines = Vec::new();
    for w in generated {
        let path = dir.join(w.file);
        std::fs::write(&path, w.text).map_err(|e| Error::io(&path, e))?;
        lines.push(format!("wrote {}", path.display()));
    }
    print_stdout(&lines.join("\n"));
    Ok(ExitCode::Success)
}

/// Every finding for the workflows in `dir`.
pub(crate) fn check_dir(
    config: &Config,
    config_path: &Path,
    root: &Path,
    dir: &Path,
) -> Result<Vec<Finding>> {
    let files = read_workflows(dir)?;
    let expected: Vec<(String, String)> =
        workflows::generate(config, &generate_options(root, config_path, config)?)
            .into_iter()
            .map(|w| (w.file.to_string(), w.text))
            .collect();
    Ok(workflows::check_workflows(config, &files, &expected))
}

/// The generation options for `config` at `config_path` in the repository at
/// `root`: the action is the config's `workflows.action`, else the release
/// this binary was built from; a local build with neither is bad input.
pub(crate) fn generate_options(
    root: &Path,
    config_path: &Path,
    config: &Config,
) -> Result<workflows::GenerateOptions> {
    let action = workflows::generate::action_ref(config).ok_or_else(|| {
        Error::Input(format!(
            "{}: workflows.action is not set, and this phasegate is a local build with no release to pin; set `workflows.action: owner/phasegate@<40-hex commit>`",
            config_path.display()
        ))
    })?;
    with_action(root, config_path, action)
}

/// The generation options for a config at `config_path` in the repository
/// at `root`, with the phasegate action `action`.
pub(crate) fn with_action(
    root: &Path,
    config_path: &Path,
    action: &str,
) -> Result<workflows::GenerateOptions> {
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| Error::io(p, e));
    let (root, cfg) = (abs(root)?, abs(config_path)?);
    let rel = cfg
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .map_err(|_| {
            Error::Input(format!(
                "{} is outside the repository {}; the workflows can only name a config inside it",
                cfg.display(),
                root.display()
            ))
        })?;
    Ok(workflows::GenerateOptions {
        config_path: rel,
        action: action.to_string(),
    })
}

/// `(file name, text)` of every `.yml`/`.yaml` file in `dir`, by name.
fn read_workflows(dir: &Path) -> Result<Vec<(String, String)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Input(format!(
                "{}: no workflow directory; `phasegate init` writes the workflows",
                dir.display()
            )))
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((name, text))
        })
        .collect()
}
