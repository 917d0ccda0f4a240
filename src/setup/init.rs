//! `phasegate init`: scans the repository for Terraform root modules (or
//! Terragrunt units) and the environments each one is deployed to, from its
//! directory (`envs/dev`), tfvars, backend config files or workspaces;
//! writes `phasegate.yml` (with a `$schema` reference) and the GitHub
//! workflows, and prints what it found and what to check. Asks nothing
//! unless stdin is a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::{GlobalArgs, InitArgs, InitMode, ResultFormat};
use crate::config::{self, Config, EngineKind};
use crate::error::{Error, ExitCode, Result};
use crate::runner::output::{print_json, print_stdout, OutputSet};
use crate::scan::{self, DetectedProject, Layout, TfDir};
use crate::setup::workflows::with_action;
use crate::workflows::{self, generate::WORKFLOW_DIR};

/// Environments written when the repository names none.
const DEFAULT_ENVS: [&str; 3] = ["dev", "staging", "prod"];

pub fn run(global: &GlobalArgs, args: InitArgs) -> Result<ExitCode> {
    let root = args.dir.clone();
    let dirs = scan::scan_repo(&root)?;
    let layout = scan::detect_layout(&dirs);
    if layout.projects.is_empty() {
        return Err(Error::Input(format!(
            "no Terraform root module under {}: no directory declares a backend, providers, required_providers or resources outside a called module, and none holds a terragrunt.hcl",
            root.display()
        )));
    }
    let config_path = global
        .config
        .clone()
        .unwrap_or_else(|| root.join("phasegate.yml"));
    let names = project_names(&layout.projects);
    let action = pinned_action(args.action.as_deref())?;
    let config_text = config_yaml(&layout, &names, &action, args.mode);
    let config_name = config_path.display().to_string();
    // What we write must load and validate exactly as users will load it.
    let config: Config = config::load_config_str(&config_text, &config_name)
        .and_then(|c| {
            let sources = config::Sources {
                config_name: &config_name,
                config_text: &config_text,
                ..config::Sources::unnamed()
            };
            config::validate(&c, None, &sources).map(|()| c)
        })
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

    let report = report(&dirs, &layout, &names, &config, &targets);
    if args.format == ResultFormat::Json {
        // Nothing to confirm in JSON mode: it is for scripts.
        if !args.dry_run {
            write(&config_path, &out, &workflow_dir, generated)?;
        }
        print_json(&serde_json::json!({
            "dry_run": args.dry_run,
            "engine": config.engine.kind,
            "projects": config.projects.iter().map(|p| serde_json::json!({
                "name": p.name,
                "dir": p.dir,
                "environments": config
                    .environments
                    .iter()
                    .filter(|e| p.in_environment(&e.name))
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "environments": layout.environments.iter().map(|e| serde_json::json!({
                "name": e.name,
                "source": sources(e),
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

/// Project names: the directory's last component, or the whole path
/// (`/` → `-`) where two directories share a last component.
fn project_names(projects: &[DetectedProject]) -> BTreeMap<String, String> {
    let last = |d: &str| d.rsplit('/').next().unwrap_or(d).to_string();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for p in projects {
        *count.entry(last(&p.dir)).or_default() += 1;
    }
    projects
        .iter()
        .map(|p| {
            let name = if p.dir == "." {
                "root".to_string()
            } else if count[&last(&p.dir)] > 1 {
                p.dir.replace('/', "-")
            } else {
                last(&p.dir)
            };
            (p.dir.clone(), name)
        })
        .collect()
}

/// The action the workflows will run: `--action`, else the release this
/// binary was built from. Always `owner/repo@<40-hex commit>`, never the
/// all-zero placeholder: a tag or branch can be moved after review.
fn pinned_action(given: Option<&str>) -> Result<String> {
    let action = given
        .or(workflows::generate::RELEASED_ACTION)
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
    if let Some(problem) = workflows::generate::pin_problem(action) {
        return Err(Error::Input(format!("--action: {problem}")));
    }
    Ok(action.to_string())
}

/// The committed schema at the pinned commit, for editor completion.
fn schema_url(action: &str) -> String {
    let (repo, reference) = action.split_once('@').unwrap_or((action, "main"));
    format!("https://raw.githubusercontent.com/{repo}/{reference}/schemas/phasegate.schema.json")
}

/// The environment names written: the layout's, else a usual start.
fn environment_names(layout: &Layout) -> Vec<String> {
    if layout.environments.is_empty() {
        DEFAULT_ENVS.iter().map(|s| s.to_string()).collect()
    } else {
        layout.environments.iter().map(|e| e.name.clone()).collect()
    }
}

/// The config, written by hand rather than serialized so it carries comments.
/// Every user-derived string is JSON-quoted (a JSON string is valid YAML).
fn config_yaml(
    layout: &Layout,
    names: &BTreeMap<String, String>,
    action: &str,
    mode: InitMode,
) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let list = |items: &[String]| {
        format!(
            "[{}]",
            items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", ")
        )
    };
    let mut y = String::new();
    y.push_str("# phasegate config, written by `phasegate init`. Reference: docs/config.md.\n");
    y.push_str(&format!("$schema: {}\n", q(&schema_url(action))));
    y.push_str(&format!(
        "version: 1\nengine:\n  kind: {}\n",
        match layout.engine {
            EngineKind::Terraform => "terraform",
            EngineKind::Tofu => "tofu",
            EngineKind::Terragrunt => "terragrunt",
        }
    ));
    y.push_str("# In promotion order: each environment is applied only after the previous one.\nenvironments:\n");
    let env_names = environment_names(layout);
    let last = env_names.len() - 1;
    for (i, name) in env_names.iter().enumerate() {
        y.push_str(&format!("  - name: {}\n", q(name)));
        if i > 0 {
            y.push_str("    reviewers_required: true\n");
        }
        if i == last && env_names.len() > 1 {
            y.push_str("    protected: true\n");
        }
        let mut per_project: Vec<String> = Vec::new();
        for p in &layout.projects {
            let Some(settings) = p.environments.get(name).filter(|s| !s.is_empty()) else {
                continue;
            };
            let mut lines = String::new();
            if !settings.var_files.is_empty() {
                lines.push_str(&format!(
                    "        var_files: {}\n",
                    list(&settings.var_files)
                ));
            }
            if !settings.backend_config.is_empty() {
                lines.push_str(&format!(
                    "        backend_config: {}\n",
                    list(&settings.backend_config)
                ));
            }
            if settings.workspace {
                lines.push_str(&format!("        workspace: {}\n", q(name)));
            }
            per_project.push(format!("      {}:\n{lines}", q(&names[&p.dir])));
        }
        if !per_project.is_empty() {
            y.push_str("    projects:\n");
            y.push_str(&per_project.concat());
        }
    }
    y.push_str("projects:\n");
    for p in &layout.projects {
        y.push_str(&format!(
            "  - name: {}\n    dir: {}\n",
            q(&names[&p.dir]),
            q(&p.dir)
        ));
        // Only where the project is not in every environment: absent means all.
        let own: Vec<String> = env_names
            .iter()
            .filter(|e| p.environments.contains_key(*e))
            .cloned()
            .collect();
        if !own.is_empty() && own.len() < env_names.len() {
            y.push_str(&format!("    environments: {}\n", list(&own)));
        }
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

/// How an environment was found: `tfvars files and workspaces`.
fn sources(env: &scan::DetectedEnv) -> String {
    env.sources
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn report(
    dirs: &[TfDir],
    layout: &Layout,
    names: &BTreeMap<String, String>,
    config: &Config,
    targets: &[PathBuf],
) -> String {
    let mut r = vec!["Found:".to_string()];
    for p in &layout.projects {
        let mut line = format!(
            "  project {} in {} ({})",
            names[&p.dir],
            p.dir,
            p.reason.describe()
        );
        if !p.environments.is_empty() {
            let own: Vec<&str> = config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .filter(|e| p.environments.contains_key(*e))
                .collect();
            line.push_str(&format!(", deployed to {}", own.join(", ")));
        }
        r.push(line);
    }
    let is_project = |d: &TfDir| layout.projects.iter().any(|p| p.dir == d.dir);
    // Directories above units hold the configuration the units include.
    for d in dirs.iter().filter(|d| !is_project(d) && !d.terragrunt) {
        let users: Vec<&str> = dirs
            .iter()
            .filter(|u| u.modules.contains(&d.dir))
            .map(|u| u.dir.as_str())
            .collect();
        if !users.is_empty() {
            r.push(format!("  module {} (used by {})", d.dir, users.join(", ")));
        } else if layout.engine == EngineKind::Terragrunt {
            r.push(format!(
                "  skipped {}: the repository is planned through Terragrunt units, and none uses it",
                d.dir
            ));
        } else {
            r.push(format!(
                "  skipped {}: no backend, providers or resources outside modules/, and no module calls it",
                d.dir
            ));
        }
    }
    if layout.environments.is_empty() {
        r.push(format!(
            "  no environment named by directories, tfvars, backend config files or workspaces: wrote {} as a start",
            DEFAULT_ENVS.join(" -> ")
        ));
    } else {
        let mut all: Vec<_> = layout
            .environments
            .iter()
            .flat_map(|e| e.sources.iter().copied())
            .collect();
        all.sort();
        all.dedup();
        r.push(format!(
            "  environments from {}: {}",
            all.iter()
                .map(|s| s.describe())
                .collect::<Vec<_>>()
                .join(" and "),
            layout
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        ));
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
    r.push("  - the promotion order of `environments:`, each project's `environments:` and its per-environment settings (var_files, backend_config, workspace)".into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_is_pinned_by_a_full_commit_sha_and_nothing_else() {
        let sha = "4d2c7a9e1b3f5a6c8e0d2b4f6a8c0e1d3b5f7a9c";
        let pinned = format!("phasegate/phasegate@{sha}");
        assert_eq!(pinned_action(Some(&pinned)).unwrap(), pinned);
        for bad in [
            "phasegate/phasegate@v1.2.0".to_string(),
            "phasegate/phasegate@main".to_string(),
            format!("phasegate/phasegate@{}", "0".repeat(40)),
            format!("phasegate@{sha}"),
            format!("a/b/c@{sha}"),
            sha.to_string(),
        ] {
            let err = pinned_action(Some(&bad)).unwrap_err();
            assert!(err.to_string().contains("--action"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_schema_url_names_the_pinned_commit() {
        assert_eq!(
            schema_url("o/r@4d2c7a9e1b3f5a6c8e0d2b4f6a8c0e1d3b5f7a9c"),
            "https://raw.githubusercontent.com/o/r/4d2c7a9e1b3f5a6c8e0d2b4f6a8c0e1d3b5f7a9c/schemas/phasegate.schema.json"
        );
    }
}
