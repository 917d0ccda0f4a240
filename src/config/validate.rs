//! Semantic checks that types alone cannot express: unique names, references
//! that resolve, no dependency cycles, well-formed dates and globs. Every
//! problem is reported, each located in its file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::checks::check_problems;
use super::load::{locate, ConfigError, Problem};
use super::model::{ChangePlan, Check, Config, Project};

/// Where the two documents came from, for locating problems.
pub struct Sources<'a> {
    pub config_name: &'a str,
    pub config_text: &'a str,
    pub change_name: &'a str,
    pub change_text: &'a str,
}

impl Sources<'_> {
    /// Sources with no text: problems are reported by file and path only.
    pub fn unnamed() -> Sources<'static> {
        Sources {
            config_name: "phasegate.yml",
            config_text: "",
            change_name: "change plan",
            change_text: "",
        }
    }
}

/// Checks the config and, when given, the change plan against it.
pub fn validate(
    config: &Config,
    change: Option<&ChangePlan>,
    src: &Sources<'_>,
) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    // One set of names for every reference check: a scan of the project list
    // per reference made 2,000 projects × 3 environments quadratic.
    let by_name: HashMap<&str, &Project> = config
        .projects
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut cfg = |path: String, message: String| {
        let (line, column) = locate(src.config_text, &path).unzip();
        problems.push(Problem {
            file: src.config_name.to_string(),
            line,
            column,
            path,
            message,
        });
    };

    if config.engine.timeout_seconds == Some(0) {
        cfg(
            "engine.timeout_seconds".into(),
            "must be at least 1: a limit of 0 seconds stops every engine command before it starts (leave it out for the default)".into(),
        );
    }
    if config.environments.is_empty() {
        cfg(
            "environments".into(),
            "declare at least one environment".into(),
        );
    }
    if let Some(login) = &config.github.bot_login {
        if !super::is_valid_login(login) {
            cfg(
                "github.bot_login".into(),
                format!("{login:?} is not a GitHub login: letters, digits and inner hyphens, with `[bot]` for an app (e.g. `github-actions[bot]`)"),
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (i, env) in config.environments.iter().enumerate() {
        if env.name.trim().is_empty() {
            cfg(
                format!("environments[{i}].name"),
                "must not be empty".into(),
            );
        } else if !seen.insert(env.name.as_str()) {
            cfg(
                format!("environments[{i}].name"),
                format!("environment `{}` is declared twice", env.name),
            );
        }
        if let Some(b) = env.monthly_budget {
            if !(b.is_finite() && b >= 0.0) {
                cfg(
                    format!("environments[{i}].monthly_budget"),
                    "must be a non-negative number".into(),
                );
            }
        }
        if let Some(rule) = &env.approvals.auto {
            if rule.states_nothing() {
                cfg(
                    format!("environments[{i}].approvals.auto"),
                    "states no condition, so it would approve every plan: state at least one (no_destroys, no_replaces, security, max_cost_delta, max_blast_radius, resource_types)".into(),
                );
            }
            if let Some(max) = rule.max_cost_delta {
                if !(max.is_finite() && max >= 0.0) {
                    cfg(
                        format!("environments[{i}].approvals.auto.max_cost_delta"),
                        "must be a non-negative number".into(),
                    );
                }
            }
        }
        for name in env.projects.keys() {
            match by_name.get(name.as_str()) {
                None => cfg(
                    format!("environments[{i}].projects.{name}"),
                    format!("no project named `{name}`; projects are {}", names(config)),
                ),
                Some(p) if !p.in_environment(&env.name) => cfg(
                    format!("environments[{i}].projects.{name}"),
                    not_deployed(p, &env.name),
                ),
                Some(_) => {}
            }
        }
        if !config.projects.is_empty()
            && !env.name.trim().is_empty()
            && !config.projects.iter().any(|p| p.in_environment(&env.name))
        {
            cfg(
                format!("environments[{i}].name"),
                format!(
                    "no project is deployed to `{}`: add it to a project's `environments`, or remove the environment",
                    env.name
                ),
            );
        }
        for (path, message) in check_problems(&env.checks, &format!("environments[{i}].checks")) {
            cfg(path, message);
        }
        for (path, message) in check_projects(
            config,
            &env.checks,
            &env.name,
            &format!("environments[{i}].checks"),
        ) {
            cfg(path, message);
        }
    }
    let mut seen = BTreeSet::new();
    for (i, p) in config.projects.iter().enumerate() {
        if p.name.trim().is_empty() {
            cfg(format!("projects[{i}].name"), "must not be empty".into());
        } else if !seen.insert(p.name.as_str()) {
            cfg(
                format!("projects[{i}].name"),
                format!("project `{}` is declared twice", p.name),
            );
        }
        if p.dir.is_absolute() {
            cfg(
                format!("projects[{i}].dir"),
                "must be relative to the config file".into(),
            );
        }
        if let Some(envs) = &p.environments {
            if envs.is_empty() {
                cfg(
                    format!("projects[{i}].environments"),
                    "list at least one environment, or leave the field out to deploy to every environment".into(),
                );
            }
            let mut listed = BTreeSet::new();
            for (j, e) in envs.iter().enumerate() {
                if !config.environments.iter().any(|env| &env.name == e) {
                    cfg(
                        format!("projects[{i}].environments[{j}]"),
                        format!(
                            "no environment named `{e}`; environments are {}",
                            env_names(config)
                        ),
                    );
                } else if !listed.insert(e.as_str()) {
                    cfg(
                        format!("projects[{i}].environments[{j}]"),
                        format!("environment `{e}` is listed twice"),
                    );
                }
            }
        }
        for (j, dep) in p.depends_on.iter().enumerate() {
            if !by_name.contains_key(dep.as_str()) {
                cfg(
                    format!("projects[{i}].depends_on[{j}]"),
                    format!("no project named `{dep}`; projects are {}", names(config)),
                );
            }
        }
    }
    for (path, message) in super::inputs::problems(config) {
        cfg(path, message);
    }
    if let Some(cycle) = find_cycle(config) {
        let first = config
            .projects
            .iter()
            .position(|p| p.name == cycle[0])
            .unwrap_or(0);
        // The field that makes the first step of the cycle: its
        // `depends_on`, or the input that reads the next project.
        let p = &config.projects[first];
        let next = cycle.get(1).map(String::as_str).unwrap_or_default();
        let field = match p.inputs.iter().find(|(_, source)| {
            super::inputs::InputRef::parse(source).is_ok_and(|r| r.project == next)
        }) {
            Some((var, _)) if !p.depends_on.iter().any(|d| d == next) => {
                format!("projects[{first}].inputs.{var}")
            }
            _ => format!("projects[{first}].depends_on"),
        };
        cfg(field, format!("dependency cycle: {}", cycle.join(" -> ")));
    }

    if let Some(plan) = change {
        let mut chg = |path: String, message: String| {
            let (line, column) = locate(src.change_text, &path).unzip();
            problems.push(Problem {
                file: src.change_name.to_string(),
                line,
                column,
                path,
                message,
            });
        };
        if plan.id.trim().is_empty() {
            chg("id".into(), "must not be empty".into());
        }
        let mut seen = BTreeSet::new();
        for (i, ph) in plan.phases.iter().enumerate() {
            if !seen.insert(ph.name.as_str()) {
                chg(
                    format!("phases[{i}].name"),
                    format!("phase `{}` is declared twice", ph.name),
                );
            }
            let env_known = config.environments.iter().any(|e| e.name == ph.environment);
            if !env_known {
                chg(
                    format!("phases[{i}].environment"),
                    format!(
                        "no environment named `{}`; environments are {}",
                        ph.environment,
                        env_names(config)
                    ),
                );
            }
            for (j, name) in ph.projects.iter().enumerate() {
                match by_name.get(name.as_str()) {
                    None => chg(
                        format!("phases[{i}].projects[{j}]"),
                        format!("no project named `{name}`; projects are {}", names(config)),
                    ),
                    Some(p) if env_known && !p.in_environment(&ph.environment) => chg(
                        format!("phases[{i}].projects[{j}]"),
                        not_deployed(p, &ph.environment),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(b) = ph.monthly_budget {
                if !(b.is_finite() && b >= 0.0) {
                    chg(
                        format!("phases[{i}].monthly_budget"),
                        "must be a non-negative number".into(),
                    );
                }
            }
            for (path, message) in check_problems(&ph.checks, &format!("phases[{i}].checks")) {
                chg(path, message);
            }
            for (path, message) in check_projects(
                config,
                &ph.checks,
                &ph.environment,
                &format!("phases[{i}].checks"),
            ) {
                chg(path, message);
            }
        }
        for (path, message) in super::steps::step_problems(plan) {
            chg(path, message);
        }
        let phase_known = |name: &Option<String>| {
            name.as_ref()
                .is_none_or(|n| plan.phases.iter().any(|p| &p.name == n))
        };
        for (i, ack) in plan.acknowledgements.iter().enumerate() {
            if ack.reason.trim().is_empty() {
                chg(
                    format!("acknowledgements[{i}].reason"),
                    "say why this is acceptable".into(),
                );
            }
            if let Some(exp) = &ack.expires {
                if chrono::NaiveDate::parse_from_str(exp, "%Y-%m-%d").is_err() {
                    chg(
                        format!("acknowledgements[{i}].expires"),
                        format!("`{exp}` is not a date; write YYYY-MM-DD"),
                    );
                }
            }
            if let Some(glob) = &ack.address {
                if let Err(e) = globset::Glob::new(glob) {
                    chg(
                        format!("acknowledgements[{i}].address"),
                        format!("bad glob: {e}"),
                    );
                }
            }
            if !phase_known(&ack.phase) {
                chg(
                    format!("acknowledgements[{i}].phase"),
                    "no phase of that name in this change plan".into(),
                );
            }
        }
        for (i, allow) in plan.allow_destroy.iter().enumerate() {
            if let Err(e) = globset::Glob::new(&allow.address) {
                chg(
                    format!("allow_destroy[{i}].address"),
                    format!("bad glob: {e}"),
                );
            }
            if allow.reason.trim().is_empty() {
                chg(
                    format!("allow_destroy[{i}].reason"),
                    "say why destroying this is intended".into(),
                );
            }
            if !phase_known(&allow.phase) {
                chg(
                    format!("allow_destroy[{i}].phase"),
                    "no phase of that name in this change plan".into(),
                );
            }
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Output and convergence checks name configured projects deployed to the
/// checks' environment (an unknown environment is reported on its own).
fn check_projects(
    config: &Config,
    checks: &[Check],
    environment: &str,
    prefix: &str,
) -> Vec<(String, String)> {
    let env_known = config.environments.iter().any(|e| e.name == environment);
    checks
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let name = c.project()?;
            let message = match config.projects.iter().find(|q| q.name == name) {
                None => format!("no project named `{name}`; projects are {}", names(config)),
                Some(p) if env_known && !p.in_environment(environment) => {
                    not_deployed(p, environment)
                }
                Some(_) => return None,
            };
            Some((format!("{prefix}[{i}].project"), message))
        })
        .collect()
}

/// Why a project cannot be used in an environment it is not deployed to.
fn not_deployed(project: &Project, environment: &str) -> String {
    let envs = project.environments.as_deref().unwrap_or_default();
    format!(
        "project `{}` is not deployed to `{environment}`; its environments are {}",
        project.name,
        if envs.is_empty() {
            "none".to_string()
        } else {
            envs.iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    )
}

fn env_names(config: &Config) -> String {
    let list: Vec<String> = config
        .environments
        .iter()
        .map(|e| format!("`{}`", e.name))
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// The config's project names, quoted, for messages.
pub(super) fn names(config: &Config) -> String {
    let list: Vec<String> = config
        .projects
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// A dependency cycle among projects, as the names along it, first repeated last.
pub fn find_cycle(config: &Config) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = config
        .projects
        .iter()
        .map(|p| (p.name.as_str(), p.upstreams()))
        .collect();
    cycle_in(&deps)
}

/// A cycle in a dependency map, as the names along it, first repeated last.
/// Names a map entry does not declare are ignored (reported elsewhere).
pub(super) fn cycle_in(deps: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n).copied().unwrap_or(0) {
            1 => {
                let start = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            2 => return None,
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if deps.contains_key(d) {
                if let Some(c) = visit(d, deps, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    for n in deps.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, deps, &mut state, &mut stack) {
            return Some(c);
        }
    }
    None
}
