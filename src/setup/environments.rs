//! `phasegate environments check|sync`: the GitHub environments that gate
//! applies, compared with (or made to match) the config.

use crate::cli::{EnvironmentsAction, EnvironmentsArgs, GlobalArgs};
use crate::error::{Error, ExitCode, Result};
use crate::github::environments::{
    check_environments, sync_environments, EnvRequirement, EnvironmentSpec, ReviewerSpec,
};
use crate::github::{BranchPolicy, RepoRef};
use crate::runner::forge;
use crate::runner::output::print_stdout;
use crate::runner::workspace::Workspace;

pub fn run(global: &GlobalArgs, args: EnvironmentsArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let repo = repository()?;
    let (rt, client) = forge::connect(args.token.clone())?;
    match args.action {
        EnvironmentsAction::Check => {
            let reqs = requirements(cfg);
            let reports = rt.block_on(check_environments(&client, &repo, &reqs))?;
            let mut lines = vec![];
            for r in &reports {
                let state = match &r.found {
                    None => "missing".to_string(),
                    Some(env) => format!(
                        "{} reviewer(s){}, prevent_self_review {}, wait timer {} min, branch policy {}",
                        env.reviewers.len(),
                        if env.reviewers.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " ({})",
                                env.reviewers
                                    .iter()
                                    .map(|r| r.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                        env.prevent_self_review,
                        env.wait_timer,
                        match env.branch_policy {
                            None => "none",
                            Some(p) if p.protected_branches => "protected branches",
                            Some(_) => "custom",
                        }
                    ),
                };
                lines.push(format!(
                    "{} ({}): {} {state}",
                    r.name,
                    r.github_environment,
                    if r.ok() { "ok" } else { "REFUSED" }
                ));
                lines.extend(r.problems.iter().map(|p| format!("  problem: {p}")));
                lines.extend(r.warnings.iter().map(|w| format!("  warning: {w}")));
            }
            print_stdout(&lines.join("\n"));
            Ok(if reports.iter().all(|r| r.ok()) {
                ExitCode::Success
            } else {
                ExitCode::Refused
            })
        }
        EnvironmentsAction::Sync => {
            let specs: Vec<EnvironmentSpec> = cfg
                .environments
                .iter()
                .map(|e| EnvironmentSpec {
                    github_environment: e.github_environment().to_string(),
                    reviewers: e.reviewers.iter().map(|r| reviewer(r)).collect(),
                    prevent_self_review: e.prevent_self_review,
                    wait_timer: e.wait_timer_minutes,
                    branch_policy: e.protected_branches_only.then_some(BranchPolicy {
                        protected_branches: true,
                        custom_branch_policies: false,
                    }),
                })
                .collect();
            let done = rt.block_on(sync_environments(&client, &repo, &specs))?;
            let lines: Vec<String> = done
                .iter()
                .map(|(name, action)| format!("{name}: {action:?}"))
                .collect();
            print_stdout(&lines.join("\n"));
            Ok(ExitCode::Success)
        }
    }
}

/// `org/team` names a team; anything else a user.
fn reviewer(s: &str) -> ReviewerSpec {
    match s.trim_start_matches('@').split_once('/') {
        Some((org, slug)) => ReviewerSpec::Team {
            org: org.to_string(),
            slug: slug.to_string(),
        },
        None => ReviewerSpec::User(s.trim_start_matches('@').to_string()),
    }
}

/// The repository, from `GITHUB_REPOSITORY` (set in every Actions run).
pub fn repository() -> Result<RepoRef> {
    let value = std::env::var("GITHUB_REPOSITORY").unwrap_or_default();
    RepoRef::parse(&value).ok_or_else(|| {
        Error::Input(format!(
            "GITHUB_REPOSITORY is `{value}`; set it to owner/name (Actions sets it for you)"
        ))
    })
}

/// What the config requires of each environment's protection.
pub fn requirements(cfg: &crate::config::Config) -> Vec<EnvRequirement> {
    cfg.environments
        .iter()
        .map(|e| EnvRequirement {
            name: e.name.clone(),
            github_environment: e.github_environment().to_string(),
            reviewers_required: e.reviewers_required,
            prevent_self_review: e.prevent_self_review,
        })
        .collect()
}
