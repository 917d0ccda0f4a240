//! `phasegate init`: scans the repository for Terraform root modules and the
//! environments its tfvars, workspaces or directory names suggest, writes
//! `phasegate.yml` (with a `$schema` reference) and the GitHub workflows, and
//! prints what it found and what to check. Asks nothing unless stdin is a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::output::{print_json, print_stdout, OutputSet};
use super::workflows::with_action;
use crate::cli::{GlobalArgs, InitArgs, InitMode, ResultFormat};
use crate::config::{self, Config};
use crate::error::{Error, ExitCode, Result};
use crate::scan::{self, DetectedEnv, TfDir};
use crate::workflows::{self, generate::WORKFLOW_DIR};

/// Environments written when the repository names none.
const DEFAULT_ENVS: [&str; 3] = ["dev", "staging", "prod"];

pub fn run(global: &GlobalArgs, args: InitArgs) -> Result<ExitCode> {
    let root = args.dir.clone();
    let dirs = scan::scan_repo(&root)?;
    let roots: Vec<&TfDir> = dirs.iter().filter(|d| d.is_root()).collect();
    if roots.is_empty() {
        return Err(Error::Input(format!(
            "no Terraform root module under {}: no directory declares a backend, providers or required_providers outside a called module",
            root.display()
        )));
    }
    let envs = scan::detect_environments(&roots);
    let config_path = global
        .config
        .clone()
        .unwrap_or_else(|| root.join("phasegate.yml"));
    let names = project_names(&roots);
    let action = args
        .action
        .clone()
        .or(workflows::generate::RELEASED_ACTION.map(str::to_string))
        .ok_or_else(|| {
            Error::Input(
                "this phasegate is a local build with no release to pin the workflows to: pass --action owner/phasegate@<40-hex commit>".into(),
            )
        })?;
    let repo = action.split_once('@').map_or("", |(r, _)| r);
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(Error::Input(format!(
            "--action: `{action}` is not `owner/repo@<40-hex commit>`"
        )));
    }
    if let Some(problem) = workflows::generate::pin_problem(&action) {
        return Err(Error::Input(format!("--action: {problem}")));
    }
    let config_text = config_yaml(&roots, &names, &envs, &action, args.mode);
    let config_name = config_path.display().to_string();
    // What we write must load and validate exactly as users will load it.
    let config: Config = config::load_config_str(&config_text, &config_name)
        .map_err(|e| Error::External(format!("generated config does not load (a bug): {e}")))?;

    let workflow_dir = root.join(WORKFLOW_DIR);
    let opts = with_action(&root, &config_path, &action)?;
    let generated = workflows::generate(&config, &opts);
    let mut out = OutputSet::new();
    out.add(
        config_path.file_name().unwrap_or_default(),
        config_text.clone(),
    );
    let mut targets: Vec<PathBuf> = vec![config_path.clone()];
    for w in &generated {
        targets.push(workflow_dir.join(w.file));
    }
    let existing: Vec<String> = targets
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force && !args.dry_run {
        return Err(Error::Input(format!(
            "would overwrite {}; pass --force to replace them",
            existing.join(", ")
        )));
    }

    let report = report(&dirs, &roots, &names, &envs, &config, &targets);
    if args.format == ResultFormat::Json {
        // Nothing to confirm in JSON mode: it is for scripts.
        if !args.dry_run {
            write(&config_path, &out, &workflow_dir, generated)?;
        }
        print_json(&serde_json::json!({
            "dry_run": args.dry_run,
            "projects": roots.iter().map(|r| serde_json::json!({
                "name": names.get(&r.dir),
                "dir": r.dir,
            })).collect::<Vec<_>>(),
            "environments": envs.iter().map(|e| serde_json::json!({
                "name": e.name,
                "source": e.source.describe(),
            })).collect::<Vec<_>>(),
            "unparsed": dirs.iter().flat_map(|d| d.unparsed.iter()).collect::<Vec<_>>(),
            "files": targets.iter().map(|t| t.display().to_string()).collect::<Vec<_>>(),
            "written": !args.dry_run,
            "config": args.dry_run.then_some(&config_text),
            "report": report,
        }));
        return Ok(ExitCode::Success);
    }
    print_stdout(&report);
    if args.dry_run {
        print_stdout(&format!(
            "--- {config_name} (dry run, nothing written)\n{config_text}"
        ));
        return Ok(ExitCode::Success);
    }
    if std::io::stdin().is_terminal() && !confirm()? {
        print_stdout("nothing written");
        return Ok(ExitCode::Success);
    }
    write(&config_path, &out, &workflow_dir, generated)?;
    print_stdout(&format!(
        "wrote {}",
        targets
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(ExitCode::Success)
}

fn confirm() -> Result<bool> {
    use std::io::Write;
    print!("Write these files? [Y/n] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::io("<stdin>", e))?;
    Ok(!line.trim().to_ascii_lowercase().starts_with('n'))
}

/// Project names: the directory's last component, or the whole path
/// (`/` → `-`) where two directories share a last component.
/// Writes the config, then the workflows.
fn write(
    config_path: &Path,
    config: &OutputSet,
    workflow_dir: &Path,
    generated: Vec<workflows::GeneratedWorkflow>,
) -> Result<()> {
    let config_dir = config_path.parent().unwrap_or(Path::new("."));
    config.write_all(config_dir)?;
    let mut wf = OutputSet::new();
    for w in generated {
        wf.add(w.file, w.text);
    }
    wf.write_all(workflow_dir)?;
    Ok(())
}

fn project_names(roots: &[&TfDir]) -> BTreeMap<String, String> {
    let last = |d: &str| d.rsplit('/').next().unwrap_or(d).to_string();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for r in roots {
        *count.entry(last(&r.dir)).or_default() += 1;
    }
    roots
        .iter()
        .map(|r| {
            let name = if r.dir == "." {
                "root".to_string()
            } else if count[&last(&r.dir)] > 1 {
                r.dir.replace('/', "-")
            } else {
                last(&r.dir)
            };
            (r.dir.clone(), name)
        })
        .collect()
}

fn schema_url(action: &str) -> String {
    let (repo, reference) = action.split_once('@').unwrap_or((action, "main"));
    format!("https://raw.githubusercontent.com/{repo}/{reference}/schemas/phasegate.schema.json")
}

/// The config, written by hand rather than serialized so it carries comments.
/// Every user-derived string is JSON-quoted (a JSON string is valid YAML).
fn config_yaml(
    roots: &[&TfDir],
    names: &BTreeMap<String, String>,
    envs: &[DetectedEnv],
    action: &str,
    mode: InitMode,
) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut y = String::new();
    y.push_str("# phasegate config, written by `phasegate init`. Reference: docs/config.md.\n");
    y.push_str(&format!("$schema: {}\n", q(&schema_url(action))));
    y.push_str("version: 1\nengine:\n  kind: terraform\n");
    y.push_str("# In promotion order: each environment is applied only after the previous one.\nenvironments:\n");
    let env_names: Vec<String> = if envs.is_empty() {
        DEFAULT_ENVS.iter().map(|s| s.to_string()).collect()
    } else {
        envs.iter().map(|e| e.name.clone()).collect()
    };
    let last = env_names.len() - 1;
    for (i, name) in env_names.iter().enumerate() {
        y.push_str(&format!("  - name: {}\n", q(name)));
        if i > 0 {
            y.push_str("    reviewers_required: true\n");
        }
        if i == last && env_names.len() > 1 {
            y.push_str("    protected: true\n");
        }
        let Some(env) = envs.iter().find(|e| &e.name == name) else {
            continue;
        };
        let mut per_project: Vec<String> = Vec::new();
        for r in roots {
            let mut lines = String::new();
            if let Some(files) = env.var_files.get(&r.dir) {
                lines.push_str(&format!(
                    "        var_files: [{}]\n",
                    files.iter().map(|f| q(f)).collect::<Vec<_>>().join(", ")
                ));
            }
            if env.workspaces.contains(&r.dir) {
                lines.push_str(&format!("        workspace: {}\n", q(name)));
            }
            if !lines.is_empty() {
                per_project.push(format!("      {}:\n{lines}", q(&names[&r.dir])));
            }
        }
        if !per_project.is_empty() {
            y.push_str("    projects:\n");
            y.push_str(&per_project.concat());
        }
    }
    y.push_str("projects:\n");
    for r in roots {
        y.push_str(&format!(
            "  - name: {}\n    dir: {}\n",
            q(&names[&r.dir]),
            q(&r.dir)
        ));
    }
    y.push_str("workflows:\n");
    y.push_str(&format!(
        "  mode: {}\n",
        match mode {
            InitMode::ApplyAfterMerge => "apply-after-merge",
            InitMode::ApplyBeforeMerge => "apply-before-merge",
        }
    ));
    y.push_str(&format!("  action: {}\n", q(action)));
    y
}

fn report(
    dirs: &[TfDir],
    roots: &[&TfDir],
    names: &BTreeMap<String, String>,
    envs: &[DetectedEnv],
    config: &Config,
    targets: &[PathBuf],
) -> String {
    let mut r = vec!["Found:".to_string()];
    for d in roots {
        let why = match (d.backend, d.providers) {
            (true, _) => "declares a backend",
            _ => "declares providers and no module calls it",
        };
        r.push(format!("  project {} in {} ({why})", names[&d.dir], d.dir));
    }
    for d in dirs.iter().filter(|d| !d.is_root()) {
        let users: Vec<&str> = dirs
            .iter()
            .filter(|u| u.modules.contains(&d.dir))
            .map(|u| u.dir.as_str())
            .collect();
        if users.is_empty() {
            r.push(format!(
                "  skipped {}: no backend or providers, and no module calls it",
                d.dir
            ));
        } else {
            r.push(format!("  module {} (used by {})", d.dir, users.join(", ")));
        }
    }
    match envs.first() {
        Some(e) => r.push(format!(
            "  environments from {}: {}",
            e.source.describe(),
            envs.iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        )),
        None => r.push(format!(
            "  no environment named by tfvars, workspaces or directories: wrote {} as a start",
            DEFAULT_ENVS.join(" -> ")
        )),
    }
    for d in dirs {
        for f in &d.unparsed {
            r.push(format!(
                "  could not parse {f}: its declarations were not read"
            ));
        }
    }
    r.push("Will write:".into());
    r.extend(targets.iter().map(|t| format!("  {}", t.display())));
    r.push("Check:".into());
    r.push("  - the promotion order of `environments:` and each project's var_files".into());
    let gated: Vec<&str> = config
        .environments
        .iter()
        .skip(1)
        .map(|e| e.github_environment())
        .collect();
    if !gated.is_empty() {
        r.push(format!(
            "  - add required reviewers to the GitHub environments {} (`reviewers:` in phasegate.yml, then `phasegate environments sync --token <admin token>`)",
            gated.join(", ")
        ));
    }
    r.push(
        "  - add cloud credentials to the plan, apply and review jobs (comments mark the place)"
            .into(),
    );
    if config.workflows.mode == config::PromotionMode::ApplyBeforeMerge {
        r.push("  - make the check `phasegate promoted` required on the default branch".into());
    }
    r.push("  - then commit, open a PR, and run `phasegate doctor`".into());
    r.join("\n")
}
