//! `phasegate validate`: the config and change plan are loaded and checked,
//! and every problem is reported located (exit 2).

use serde_json::json;

use crate::cli::{GlobalArgs, ResultFormat, ValidateArgs};
use crate::error::{ExitCode, Result};
use crate::runner::output::{print_json, print_stdout};
use crate::runner::workspace::Workspace;

pub fn run(global: &GlobalArgs, args: ValidateArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let phases = crate::config::resolve_phases(cfg, ws.change.as_ref());
    if args.format == ResultFormat::Json {
        print_json(&json!({
            "ok": true,
            "config": ws.config_path.as_deref().map(|p| p.display().to_string()),
            "environments": cfg.environments.len(),
            "projects": cfg.projects.len(),
            // Every project with the environments it is deployed to, in promotion order.
            "project_environments": cfg.projects.iter().map(|p| (
                p.name.clone(),
                json!(cfg.environments.iter()
                    .filter(|e| p.in_environment(&e.name))
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()),
            )).collect::<serde_json::Map<_, _>>(),
            "change": ws.change.as_ref().map(|c| c.id.clone()),
            "notes": notes(cfg),
            "phases": phases.iter().map(|p| json!({
                "index": p.index,
                "name": p.name,
                "environment": p.environment.name,
                "projects": p.projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::Success);
    }
    let mut lines = vec![format!(
        "{}: ok ({} environments, {} projects)",
        ws.config_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        cfg.environments.len(),
        cfg.projects.len()
    )];
    if let Some(change) = &ws.change {
        let path = global
            .change
            .clone()
            .or_else(|| cfg.change_plan.clone())
            .unwrap_or_default();
        lines.push(format!("{}: ok (change {})", path.display(), change.id));
    }
    for p in &phases {
        lines.push(format!(
            "  phase {} {} -> {} [{}]",
            p.index,
            p.name,
            p.environment.name,
            p.projects
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for note in notes(cfg) {
        lines.push(format!("note: {note}"));
    }
    print_stdout(&lines.join("\n"));
    Ok(ExitCode::Success)
}

/// What is valid but may not do what it seems to.
fn notes(cfg: &crate::config::Config) -> Vec<String> {
    cfg.environments
        .iter()
        .filter(|e| e.approvals.auto.is_some())
        .filter(|e| crate::config::AutoApproval::overridden_by_reviewers(e))
        .map(|e| {
            format!(
                "environment `{}`: approvals.auto never overrides GitHub's required reviewers; its apply job still waits for them, and the rule approves nothing there",
                e.name
            )
        })
        .collect()
}
