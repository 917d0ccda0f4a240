//! Which phases a change runs, in promotion order, and which one a command
//! was asked for. Pure: config and change plan in, phases out.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::load::{ConfigError, Problem};
use super::model::{BlastRadius, ChangePlan, Check, Config, Environment, Project};

/// One phase, with its environment and projects resolved from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPhase {
    /// 1-based position in the change.
    pub index: usize,
    pub name: String,
    pub environment: Environment,
    /// In dependency order: a project comes after everything it depends on.
    pub projects: Vec<Project>,
    /// Declared in the change plan; None for the default phases.
    pub blast_radius: Option<BlastRadius>,
    pub monthly_budget: Option<f64>,
    /// The environment's checks, then the phase's own.
    pub checks: Vec<Check>,
    /// The change plan's steps for the phase; empty: one Terraform apply.
    pub steps: Vec<super::steps::Step>,
}

/// The phases of a change. Without a change plan: one phase per environment,
/// in promotion order, over the projects deployed to it. A change plan's
/// phase holds the projects it names (every one when it names none) that
/// are deployed to its environment. Expects a validated config.
pub fn resolve_phases(config: &Config, change: Option<&ChangePlan>) -> Vec<ResolvedPhase> {
    let ordered = dependency_order(&config.projects);
    match change.filter(|c| !c.phases.is_empty()) {
        None => config
            .environments
            .iter()
            .enumerate()
            .map(|(i, env)| ResolvedPhase {
                index: i + 1,
                name: env.name.clone(),
                environment: env.clone(),
                projects: ordered
                    .iter()
                    .filter(|p| p.in_environment(&env.name))
                    .cloned()
                    .collect(),
                blast_radius: None,
                monthly_budget: None,
                checks: env.checks.clone(),
                steps: vec![],
            })
            .collect(),
        Some(plan) => plan
            .phases
            .iter()
            .enumerate()
            .filter_map(|(i, ph)| {
                let env = config
                    .environments
                    .iter()
                    .find(|e| e.name == ph.environment)?;
                let projects = ordered
                    .iter()
                    .filter(|p| p.in_environment(&env.name))
                    .filter(|p| ph.projects.is_empty() || ph.projects.contains(&p.name))
                    .cloned()
                    .collect();
                Some(ResolvedPhase {
                    index: i + 1,
                    name: ph.name.clone(),
                    environment: env.clone(),
                    projects,
                    blast_radius: Some(ph.blast_radius),
                    monthly_budget: ph.monthly_budget,
                    checks: env.checks.iter().chain(&ph.checks).cloned().collect(),
                    steps: ph.steps.clone(),
                })
            })
            .collect(),
    }
}

/// Picks the phase named by `--phase` (number or name) or `--env`, narrowed
/// to one project by `--project`.
pub fn select_phase(
    phases: &[ResolvedPhase],
    phase: Option<&str>,
    env: Option<&str>,
    project: Option<&str>,
) -> Result<ResolvedPhase, ConfigError> {
    let known = || {
        phases
            .iter()
            .map(|p| format!("{} ({}, env {})", p.index, p.name, p.environment.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let usage = |path: &str, message: String| {
        ConfigError::Invalid(vec![Problem {
            file: "command line".into(),
            line: None,
            column: None,
            path: path.into(),
            message,
        }])
    };
    let mut chosen = match (phase, env) {
        (Some(p), _) => {
            let hit = match p.parse::<usize>() {
                Ok(n) => phases.iter().find(|ph| ph.index == n),
                Err(_) => phases.iter().find(|ph| ph.name == p),
            };
            let hit = hit.ok_or_else(|| {
                usage("--phase", format!("no phase `{p}`; phases are {}", known()))
            })?;
            if let Some(e) = env {
                if hit.environment.name != e {
                    return Err(usage(
                        "--env",
                        format!("phase `{p}` targets `{}`, not `{e}`", hit.environment.name),
                    ));
                }
            }
            hit.clone()
        }
        (None, Some(e)) => {
            let mut hits = phases.iter().filter(|ph| ph.environment.name == e);
            let first = hits.next().ok_or_else(|| {
                usage(
                    "--env",
                    format!("no phase targets `{e}`; phases are {}", known()),
                )
            })?;
            if hits.next().is_some() {
                return Err(usage(
                    "--env",
                    format!("several phases target `{e}`; pass --phase to pick one"),
                ));
            }
            first.clone()
        }
        (None, None) => {
            return Err(usage(
                "--phase",
                format!("pass --phase N or --env E; phases are {}", known()),
            ))
        }
    };
    if let Some(name) = project {
        if !chosen.projects.iter().any(|p| p.name == name) {
            return Err(usage(
                "--project",
                format!(
                    "phase `{}` has no project `{name}`; it has {}",
                    chosen.name,
                    chosen
                        .projects
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        chosen.projects.retain(|p| p.name == name);
    }
    Ok(chosen)
}

/// Projects in dependency order, stable otherwise (config order). Cycles are
/// rejected by validation; any left over keep their config order.
pub fn dependency_order(projects: &[Project]) -> Vec<Project> {
    // Name sets, not scans of `done` and `projects` per dependency: those made
    // 2,000 projects quadratic (or worse, one pass per level of the chain).
    let known: HashSet<&str> = projects.iter().map(|p| p.name.as_str()).collect();
    let mut placed: HashSet<&str> = HashSet::with_capacity(projects.len());
    let mut done: Vec<Project> = Vec::with_capacity(projects.len());
    let mut left: Vec<&Project> = projects.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|p| {
            let p: &Project = p;
            let ready = p
                .upstreams()
                .into_iter()
                .all(|d| placed.contains(d) || !known.contains(d));
            if ready {
                done.push(p.clone());
                placed.insert(p.name.as_str());
            }
            !ready
        });
        if left.len() == before {
            done.extend(left.drain(..).cloned());
        }
    }
    done
}

/// `phasegate.yml` (or `.yaml`) in `cwd`, else at the git root above it.
pub fn discover_config(cwd: &Path) -> Option<PathBuf> {
    let in_dir = |dir: &Path| {
        ["phasegate.yml", "phasegate.yaml"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    };
    if let Some(p) = in_dir(cwd) {
        return Some(p);
    }
    let root = cwd.ancestors().find(|d| d.join(".git").exists())?;
    in_dir(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_config_str;

    fn config() -> Config {
        load_config_str(
            "version: 1\nenvironments:\n  - name: dev\n  - name: staging\n  - name: prod\nprojects:\n  - name: app\n    dir: app\n    depends_on: [net]\n  - name: net\n    dir: net\n",
            "phasegate.yml",
        )
        .unwrap()
    }

    #[test]
    fn without_a_change_plan_each_environment_is_a_phase_in_promotion_order() {
        let phases = resolve_phases(&config(), None);
        let names: Vec<_> = phases.iter().map(|p| (p.index, p.name.as_str())).collect();
        assert_eq!(names, [(1, "dev"), (2, "staging"), (3, "prod")]);
    }

    #[test]
    fn projects_come_after_their_dependencies() {
        let phases = resolve_phases(&config(), None);
        let order: Vec<_> = phases[0].projects.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["net", "app"]);
    }

    #[test]
    fn phase_is_selected_by_number_name_or_environment() {
        let phases = resolve_phases(&config(), None);
        assert_eq!(
            select_phase(&phases, Some("2"), None, None).unwrap().name,
            "staging"
        );
        assert_eq!(
            select_phase(&phases, Some("prod"), None, None)
                .unwrap()
                .index,
            3
        );
        assert_eq!(
            select_phase(&phases, None, Some("dev"), None)
                .unwrap()
                .index,
            1
        );
        let one = select_phase(&phases, None, Some("dev"), Some("app")).unwrap();
        assert_eq!(one.projects.len(), 1);
    }

    #[test]
    fn a_project_is_only_in_the_phases_of_its_environments() {
        let cfg = load_config_str(
            "version: 1\nenvironments:\n  - name: dev\n  - name: prod\nprojects:\n  - name: dev-app\n    dir: envs/dev\n    environments: [dev]\n  - name: prod-app\n    dir: envs/prod\n    environments: [prod]\n  - name: dns\n    dir: dns\n",
            "phasegate.yml",
        )
        .unwrap();
        let by_phase: Vec<(String, Vec<String>)> = resolve_phases(&cfg, None)
            .into_iter()
            .map(|p| (p.name, p.projects.into_iter().map(|p| p.name).collect()))
            .collect();
        assert_eq!(
            by_phase,
            [
                ("dev".to_string(), vec!["dev-app".to_string(), "dns".into()]),
                (
                    "prod".to_string(),
                    vec!["prod-app".to_string(), "dns".into()]
                ),
            ]
        );
        let change = crate::config::load_change_plan_str(
            "version: 1\nid: CHG-1\nphases:\n  - name: prod\n    environment: prod\n",
            "change.yml",
        )
        .unwrap();
        let phases = resolve_phases(&cfg, Some(&change));
        let names: Vec<_> = phases[0].projects.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["prod-app", "dns"]);
    }

    #[test]
    fn unknown_phase_lists_the_known_ones() {
        let phases = resolve_phases(&config(), None);
        let err = select_phase(&phases, Some("9"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no phase `9`") && err.contains("3 (prod, env prod)"),
            "{err}"
        );
    }
}
