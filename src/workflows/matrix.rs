//! The matrices the generated jobs read from `phasegate matrix`: all changed
//! projects (`matrix`), each environment's (`by_env`), and each
//! environment's split by dependency level (`by_level`), so the promotion
//! chain plans and applies one level at a time. Pure: config and changed
//! names in, JSON out.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::config::{project_levels, Config, Project};

/// A GitHub Actions matrix over `projects`: `{"include":[{"project":..}]}`.
pub fn matrix(projects: &[String]) -> Value {
    json!({
        "include": projects.iter().map(|n| json!({"project": n})).collect::<Vec<_>>()
    })
}

/// Per environment, the matrix of the changed projects deployed to it, in
/// the order of `changed`.
pub fn by_env(config: &Config, changed: &[String]) -> Map<String, Value> {
    by_level_parts(config, changed, |_| 0, 1)
        .into_iter()
        .map(|(env, mut levels)| (env, levels.swap_remove(0)))
        .collect()
}

/// Per environment, a list of matrices, one per dependency level of the
/// config (so every environment's list has the same length and a job can
/// index it): level `n` holds the changed projects at level `n` deployed to
/// the environment, empty when there are none.
pub fn by_level(config: &Config, changed: &[String]) -> Map<String, Value> {
    let levels = project_levels(&config.projects);
    let of: HashMap<&str, usize> = config
        .projects
        .iter()
        .zip(&levels)
        .map(|(p, l)| (p.name.as_str(), *l))
        .collect();
    let count = levels.iter().max().map_or(1, |deepest| deepest + 1);
    by_level_parts(
        config,
        changed,
        |name| of.get(name).copied().unwrap_or(0),
        count,
    )
    .into_iter()
    .map(|(env, levels)| (env, Value::Array(levels)))
    .collect()
}

fn by_level_parts(
    config: &Config,
    changed: &[String],
    level_of: impl Fn(&str) -> usize,
    count: usize,
) -> Vec<(String, Vec<Value>)> {
    let by_name: HashMap<&str, &Project> = config
        .projects
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    config
        .environments
        .iter()
        .map(|env| {
            let mut levels: Vec<Vec<String>> = vec![Vec::new(); count];
            for name in changed {
                if by_name
                    .get(name.as_str())
                    .is_some_and(|p| p.in_environment(&env.name))
                {
                    levels[level_of(name).min(count - 1)].push(name.clone());
                }
            }
            (
                env.name.clone(),
                levels.iter().map(|names| matrix(names)).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_config_str;

    fn config(projects: &str) -> Config {
        load_config_str(
            &format!(
                "version: 1\nenvironments:\n  - name: dev\n  - name: prod\nprojects:\n{projects}"
            ),
            "phasegate.yml",
        )
        .unwrap()
    }

    fn names(ns: &[&str]) -> Vec<String> {
        ns.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_level_holds_only_its_changed_projects_deployed_to_the_environment() {
        let cfg = config(concat!(
            "  - name: app\n    dir: app\n    depends_on: [network]\n",
            "  - name: network\n    dir: network\n",
            "  - name: dns\n    dir: dns\n    environments: [prod]\n",
            "  - name: edge\n    dir: edge\n    depends_on: [app]\n",
        ));
        let got = Value::Object(by_level(&cfg, &names(&["app", "network", "dns"])));
        assert_eq!(
            got.to_string(),
            concat!(
                r#"{"dev":[{"include":[{"project":"network"}]},{"include":[{"project":"app"}]},{"include":[]}],"#,
                r#""prod":[{"include":[{"project":"network"},{"project":"dns"}]},{"include":[{"project":"app"}]},{"include":[]}]}"#
            )
        );
    }

    #[test]
    fn without_dependencies_one_level_is_the_environment_matrix() {
        let cfg =
            config("  - name: a\n    dir: a\n  - name: b\n    dir: b\n    environments: [prod]\n");
        let changed = names(&["a", "b"]);
        let env = by_env(&cfg, &changed);
        assert_eq!(
            Value::Object(env.clone()).to_string(),
            r#"{"dev":{"include":[{"project":"a"}]},"prod":{"include":[{"project":"a"},{"project":"b"}]}}"#
        );
        let level = by_level(&cfg, &changed);
        for (name, list) in &level {
            assert_eq!(list, &json!([env[name]]), "{name}");
        }
    }
}
